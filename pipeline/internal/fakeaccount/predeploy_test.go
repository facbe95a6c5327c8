package fakeaccount_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/fakeaccount"
	"dagger/fargate/pipeline/preflight"
	"dagger/fargate/pipeline/runtask"
	"dagger/fargate/pipeline/tasklogs"
)

// The account holds what the sample's task definitions refer to, and the control API
// scripts one-off tasks and the logs they leave.
func TestAccountServesPreflightRunTaskAndLogs(t *testing.T) {
	_, running, cfg := standalone(t)
	ctx := context.Background()
	logs := cloudwatchlogs.NewFromConfig(cfg)
	clients := preflight.Clients{Secrets: secretsmanager.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), IAM: iam.NewFromConfig(cfg),
		Logs: func(context.Context, string) (preflight.LogsAPI, error) { return logs, nil }}
	image := fakeaccount.AccountID + ".dkr.ecr.eu-west-1.amazonaws.com/sample-app@sha256:" + strings.Repeat("ab", 32)
	for _, e := range fakeaccount.Environments() {
		in, err := renderSample(t, e.Name, image).RegisterInput()
		require.NoError(t, err)
		res := preflight.Check(ctx, clients, preflight.Input{Region: fakeaccount.Region, Account: e.Account, Definition: in})
		require.NoError(t, res.Err(), e.Name)
	}

	var out map[string]any
	require.Equal(t, http.StatusOK, control(t, running, http.MethodPost, "/_fake/ecs/next-run-task", map[string]any{"tasks": []map[string]any{{"exit": 3, "runForSeconds": 20}}}, &out))
	require.Equal(t, http.StatusOK, control(t, running, http.MethodPost, "/_fake/logs/append", map[string]any{"group": "/ecs/sample-app-preprod", "streamPrefix": "app/app/", "lines": []string{"migrate: failed"}}, &out))
	assert.Equal(t, http.StatusBadRequest, control(t, running, http.MethodPost, "/_fake/ecs/next-run-task", map[string]any{"tasks": []map[string]any{{"neverStops": true, "startFailure": "x"}}}, &out))
	assert.Equal(t, http.StatusBadRequest, control(t, running, http.MethodPost, "/_fake/logs/append", map[string]any{"group": "/ecs/x"}, &out))

	api := awsecs.NewFromConfig(cfg)
	runner := runtask.New(api, runtask.Options{Poll: 20 * time.Millisecond})
	nc, err := runner.ServiceNetwork(ctx, "sample-app-preprod", "sample-app")
	require.NoError(t, err)
	assert.Equal(t, []string{"subnet-private-1", "subnet-private-2"}, nc.AwsvpcConfiguration.Subnets)
	svc, err := api.DescribeServices(ctx, &awsecs.DescribeServicesInput{Cluster: aws.String("sample-app-preprod"), Services: []string{"sample-app"}})
	require.NoError(t, err)
	res, err := runner.Run(ctx, runtask.Spec{Cluster: "sample-app-preprod", TaskDefinition: aws.ToString(svc.Services[0].TaskDefinition), Container: "app",
		Command: []string{"/app", "migrate"}, Timeout: time.Minute, Network: nc})
	require.NoError(t, err)
	assert.Equal(t, runtask.Failed, res.Outcome)
	assert.Equal(t, aws.Int32(3), res.ExitCode)

	var ran struct {
		Tasks []map[string]any `json:"tasks"`
	}
	require.Equal(t, http.StatusOK, control(t, running, http.MethodGet, "/_fake/ecs/ran-tasks", nil, &ran))
	require.Len(t, ran.Tasks, 1)
	tail, err := tasklogs.Read(ctx, logs, tasklogs.Source{Group: "/ecs/sample-app-preprod", Stream: "app/app/" + res.TaskID()}, 5)
	require.NoError(t, err)
	assert.Equal(t, []string{"migrate: failed"}, tail.Lines)
}
