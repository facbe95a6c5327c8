package fakeaccount

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"

	"dagger/fargate/pipeline/awsconf"
)

// seedTaskDefinition is the hardened revision an environment runs before any deploy: the
// sample's family, roles, user, limits and logging, with the seed image.
func seedTaskDefinition(e Environment, image string) string {
	td := map[string]any{
		"family":                  e.Family,
		"taskRoleArn":             fmt.Sprintf("arn:aws:iam::%s:role/%s-task", e.Account, e.Family),
		"executionRoleArn":        fmt.Sprintf("arn:aws:iam::%s:role/%s-execution", e.Account, e.Family),
		"networkMode":             "awsvpc",
		"requiresCompatibilities": []string{"FARGATE"},
		"cpu":                     "256",
		"memory":                  "512",
		"runtimePlatform":         map[string]string{"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
		"containerDefinitions": []any{map[string]any{
			"name": e.Container, "image": image, "essential": true, "cpu": 256, "memory": 512,
			"portMappings":           []any{map[string]any{"containerPort": 8080, "protocol": "tcp"}},
			"user":                   "65532:65532",
			"readonlyRootFilesystem": true,
			"privileged":             false,
			"linuxParameters":        map[string]any{"capabilities": map[string]any{"drop": []string{"ALL"}}},
			"environment":            []any{map[string]string{"name": "APP_ENV", "value": e.Name}},
			"logConfiguration": map[string]any{"logDriver": "awslogs", "options": map[string]string{
				"awslogs-group": "/ecs/" + e.Family, "awslogs-region": Region, "awslogs-stream-prefix": "app"}},
		}},
	}
	data, _ := json.Marshal(td)
	return string(data)
}

// taskRolePolicy is the sample's task role policy: the app calls no AWS API.
const taskRolePolicy = `{"Version": "2012-10-17", "Statement": [{"Sid": "NoAwsApi", "Effect": "Deny", "Action": "*", "Resource": "*"}]}`

// executionRolePolicy is the sample's execution role policy for an environment: pull the
// image, write the log group, read the API token.
func executionRolePolicy(e Environment) string {
	return fmt.Sprintf(`{"Version": "2012-10-17", "Statement": [
  {"Sid": "EcrAuthToken", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
  {"Sid": "Pull", "Effect": "Allow", "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": "arn:aws:ecr:%[1]s:%[2]s:repository/%[3]s"},
  {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "arn:aws:logs:%[1]s:%[4]s:log-group:/ecs/%[5]s:*"},
  {"Sid": "Token", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:%[1]s:%[4]s:secret:sample-app/%[6]s/api-token-AbCdEf"}
]}`, Region, AccountID, Repository, e.Account, e.Family, e.Name)
}

// awsconfLoad is the SDK configuration of the in-process client.
func awsconfLoad(accessKeyID string) (aws.Config, error) {
	return awsconf.Load(context.Background(), awsconf.Options{
		Region: Region, AccessKeyID: accessKeyID, SecretAccessKey: "fakeaccount-self",
		Endpoint: "http://fakeaccount.invalid",
	})
}

// handlerTransport sends HTTP requests to a handler in process.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}
