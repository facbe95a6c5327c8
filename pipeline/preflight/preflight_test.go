package preflight_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/fakeaws"
	"dagger/fargate/pipeline/internal/iamfake"
	"dagger/fargate/pipeline/internal/logsfake"
	"dagger/fargate/pipeline/internal/secretsfake"
	"dagger/fargate/pipeline/internal/ssmfake"
	"dagger/fargate/pipeline/preflight"
)

const (
	account   = "111122223333"
	region    = "eu-west-1"
	secretARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/api-token-AbCdEf"
	paramARN  = "arn:aws:ssm:eu-west-1:111122223333:parameter/app/previous"
	execRole  = "arn:aws:iam::111122223333:role/app-execution"
	taskRole  = "arn:aws:iam::111122223333:role/app-task"
)

type fixture struct {
	srv *fakeaws.Server
	c   preflight.Clients
	iam *iamfake.Fake
}

func setup(t *testing.T) *fixture {
	t.Helper()
	srv := fakeaws.New(t)
	secretsfake.New(srv).Add(secretARN, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/registry-QwErTy")
	ssmfake.New(srv, account, region).Add("/app/previous", "plain")
	logsfake.New(srv, account, region).AddGroup("/ecs/app")
	im := iamfake.New(srv)
	im.AddRole(iamfake.Role{Name: "app-execution"})
	im.AddRole(iamfake.Role{Name: "app-task"})
	cfg := srv.Config(t)
	logs := cloudwatchlogs.NewFromConfig(cfg)
	return &fixture{srv: srv, iam: im, c: preflight.Clients{
		Secrets: secretsmanager.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), IAM: iam.NewFromConfig(cfg),
		Logs: func(context.Context, string) (preflight.LogsAPI, error) { return logs, nil },
	}}
}

func definition(mut func(*awsecs.RegisterTaskDefinitionInput)) *awsecs.RegisterTaskDefinitionInput {
	def := &awsecs.RegisterTaskDefinitionInput{
		Family: aws.String("app"), ExecutionRoleArn: aws.String(execRole), TaskRoleArn: aws.String(taskRole),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String("111122223333.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:aa"),
			Secrets: []types.Secret{
				{Name: aws.String("API_TOKEN"), ValueFrom: aws.String(secretARN + ":token::")},
				{Name: aws.String("PREVIOUS"), ValueFrom: aws.String(paramARN)},
				{Name: aws.String("PLAIN"), ValueFrom: aws.String("plain")},
			},
			RepositoryCredentials: &types.RepositoryCredentials{CredentialsParameter: aws.String("arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/registry-QwErTy")},
			LogConfiguration: &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{
				"awslogs-group": "/ecs/app", "awslogs-region": region, "awslogs-stream-prefix": "app",
			}},
		}},
	}
	if mut != nil {
		mut(def)
	}
	return def
}

func TestSecretARN(t *testing.T) {
	tests := []struct{ in, want string }{
		{secretARN, secretARN},
		{secretARN + ":token::", secretARN},
		{secretARN + ":token:AWSCURRENT:", secretARN},
		{secretARN + "::AWSPREVIOUS:0123", secretARN},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, preflight.SecretARN(tt.in), tt.in)
	}
}

func TestCheckPassesWhenEverythingExists(t *testing.T) {
	f := setup(t)
	res := preflight.Check(context.Background(), f.c, preflight.Input{Region: region, Account: account, Definition: definition(nil)})
	require.NoError(t, res.Err())
	assert.Len(t, res.Verified, 7, res.Verified)
	// SSM is asked for metadata only: DescribeParameters, never GetParameter(s).
	for _, c := range f.srv.CallLog() {
		assert.NotContains(t, []string{"GetParameter", "GetParameters", "GetSecretValue", "BatchGetSecretValue"}, c.Operation)
		if c.Operation == "DescribeParameters" {
			var body map[string]any
			require.NoError(t, json.Unmarshal(c.Body, &body))
			assert.Contains(t, string(c.Body), `"Key":"Name"`)
		}
	}
}

func TestCheckNamesWhatIsMissing(t *testing.T) {
	tests := []struct {
		name     string
		mut      func(*awsecs.RegisterTaskDefinitionInput)
		setup    func(*fixture)
		resource string
		what     string
	}{
		{"missing secret", func(d *awsecs.RegisterTaskDefinitionInput) {
			d.ContainerDefinitions[0].Secrets[0].ValueFrom = aws.String("arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/gone-ZzZzZz:key::")
		}, nil, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/gone-ZzZzZz", "container app secret API_TOKEN: no such secret in Secrets Manager (eu-west-1)"},
		{"secret in another region", func(d *awsecs.RegisterTaskDefinitionInput) {
			d.ContainerDefinitions[0].Secrets[0].ValueFrom = aws.String("arn:aws:secretsmanager:us-east-1:111122223333:secret:app/api-token-AbCdEf")
		}, nil, "arn:aws:secretsmanager:us-east-1:111122223333:secret:app/api-token-AbCdEf", "is in region us-east-1; the environment (and its execution role) is in eu-west-1"},
		{"secret in another account", func(d *awsecs.RegisterTaskDefinitionInput) {
			d.ContainerDefinitions[0].Secrets[0].ValueFrom = aws.String("arn:aws:secretsmanager:eu-west-1:999999999999:secret:app/api-token-AbCdEf")
		}, nil, "arn:aws:secretsmanager:eu-west-1:999999999999:secret:app/api-token-AbCdEf", "is in account 999999999999; the environment's account is 111122223333"},
		{"missing parameter", func(d *awsecs.RegisterTaskDefinitionInput) {
			d.ContainerDefinitions[0].Secrets[1].ValueFrom = aws.String("arn:aws:ssm:eu-west-1:111122223333:parameter/app/gone")
		}, nil, "arn:aws:ssm:eu-west-1:111122223333:parameter/app/gone", "container app secret PREVIOUS: no such parameter /app/gone in SSM Parameter Store"},
		{"missing registry credentials", func(d *awsecs.RegisterTaskDefinitionInput) {
			d.ContainerDefinitions[0].RepositoryCredentials.CredentialsParameter = aws.String("arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/none-AAAAAA")
		}, nil, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/none-AAAAAA", "container app repositoryCredentials: no such secret"},
		{"missing role", func(d *awsecs.RegisterTaskDefinitionInput) {
			d.TaskRoleArn = aws.String("arn:aws:iam::111122223333:role/gone")
		}, nil, "arn:aws:iam::111122223333:role/gone", "taskRoleArn: no such role"},
		{"role not trusted by ECS tasks", nil, func(f *fixture) {
			f.iam.AddRole(iamfake.Role{Name: "app-execution", Trust: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`})
		}, execRole, "executionRoleArn: the role's trust policy does not let ecs-tasks.amazonaws.com assume it"},
		{"missing log group", func(d *awsecs.RegisterTaskDefinitionInput) {
			d.ContainerDefinitions[0].LogConfiguration.Options["awslogs-group"] = "/ecs/ap"
		}, nil, "/ecs/ap", "no such log group in eu-west-1"},
		{"access denied fails closed", nil, func(f *fixture) {
			f.srv.FailNext("secretsmanager", "DescribeSecret", &fakeaws.APIError{Status: 400, Code: "AccessDeniedException", Message: "not authorized to perform secretsmanager:DescribeSecret"})
		}, secretARN, "could not verify the secret: AccessDeniedException: not authorized to perform secretsmanager:DescribeSecret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			res := preflight.Check(context.Background(), f.c, preflight.Input{Region: region, Account: account, Definition: definition(tt.mut)})
			require.Len(t, res.Problems, 1, res.Problems)
			assert.Equal(t, tt.resource, res.Problems[0].Resource)
			assert.Contains(t, res.Problems[0].What, tt.what)
			require.Error(t, res.Err())
			assert.Contains(t, res.Err().Error(), "nothing was registered")
			assert.Contains(t, res.Err().Error(), tt.resource)
		})
	}
}

func TestCheckSkipsALogGroupECSCreates(t *testing.T) {
	f := setup(t)
	def := definition(func(d *awsecs.RegisterTaskDefinitionInput) {
		d.ContainerDefinitions[0].LogConfiguration.Options["awslogs-group"] = "/ecs/new"
		d.ContainerDefinitions[0].LogConfiguration.Options["awslogs-create-group"] = "true"
	})
	res := preflight.Check(context.Background(), f.c, preflight.Input{Region: region, Account: account, Definition: def})
	require.NoError(t, res.Err())
	assert.Zero(t, f.srv.Calls("logs", "DescribeLogGroups"))
}

func TestImageRegions(t *testing.T) {
	def := definition(func(d *awsecs.RegisterTaskDefinitionInput) {
		d.ContainerDefinitions = append(d.ContainerDefinitions,
			types.ContainerDefinition{Name: aws.String("far"), Image: aws.String("111122223333.dkr.ecr.us-east-1.amazonaws.com/app@sha256:bb")},
			types.ContainerDefinition{Name: aws.String("hub"), Image: aws.String("public.ecr.aws/nginx/nginx:1")})
	})
	got := preflight.ImageRegions(def, region)
	require.Len(t, got, 1)
	assert.Equal(t, "111122223333.dkr.ecr.us-east-1.amazonaws.com/app@sha256:bb", got[0].Resource)
	assert.True(t, strings.Contains(got[0].What, "region us-east-1; the environment is in eu-west-1"))
}
