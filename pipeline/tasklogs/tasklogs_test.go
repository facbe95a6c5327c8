package tasklogs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/fakeaws"
	"dagger/fargate/pipeline/internal/logsfake"
	"dagger/fargate/pipeline/tasklogs"
)

const taskArn = "arn:aws:ecs:eu-west-1:111122223333:task/sample-app-preprod/0123456789abcdef0123456789abcdef"

func container(opts map[string]string, driver types.LogDriver) *types.ContainerDefinition {
	return &types.ContainerDefinition{Name: aws.String("app"), LogConfiguration: &types.LogConfiguration{LogDriver: driver, Options: opts}}
}

func TestSourceOf(t *testing.T) {
	tests := []struct {
		name string
		c    *types.ContainerDefinition
		want tasklogs.Source
		err  string
	}{
		{"awslogs", container(map[string]string{"awslogs-group": "/ecs/app", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "app"}, types.LogDriverAwslogs),
			tasklogs.Source{Group: "/ecs/app", Stream: "app/app/0123456789abcdef0123456789abcdef", Region: "eu-west-1"}, ""},
		{"firelens", container(nil, types.LogDriverAwsfirelens), tasklogs.Source{}, "does not log with the awslogs driver"},
		{"no log configuration", &types.ContainerDefinition{Name: aws.String("app")}, tasklogs.Source{}, "does not log with the awslogs driver"},
		{"no group", container(map[string]string{"awslogs-stream-prefix": "app"}, types.LogDriverAwslogs), tasklogs.Source{}, "no awslogs-group"},
		{"no prefix", container(map[string]string{"awslogs-group": "/ecs/app"}, types.LogDriverAwslogs), tasklogs.Source{}, "no awslogs-stream-prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tasklogs.SourceOf(tt.c, taskArn)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestReadTheLastLines(t *testing.T) {
	srv := fakeaws.New(t)
	logs := logsfake.New(srv, "111122223333", "eu-west-1")
	var lines []string
	for i := range 30 {
		lines = append(lines, "line "+string(rune('a'+i%26)))
	}
	lines = append(lines, "migrate: relation \"users\" already exists\n")
	logs.Append("/ecs/app", "app/app/task1", time.Unix(1767225600, 0), lines...)
	logs.AddGroup("/ecs/empty")
	logs.Append("/ecs/app", "app/app/empty", time.Unix(1767225600, 0))
	api := cloudwatchlogs.NewFromConfig(srv.Config(t))

	tests := []struct {
		name  string
		src   tasklogs.Source
		n     int
		lines int
		last  string
		note  string
	}{
		{"last 20 by default", tasklogs.Source{Group: "/ecs/app", Stream: "app/app/task1"}, 0, 20, `migrate: relation "users" already exists`, ""},
		{"last 5", tasklogs.Source{Group: "/ecs/app", Stream: "app/app/task1"}, 5, 5, `migrate: relation "users" already exists`, ""},
		{"capped", tasklogs.Source{Group: "/ecs/app", Stream: "app/app/task1"}, 1000, 31, `migrate: relation "users" already exists`, ""},
		{"no stream", tasklogs.Source{Group: "/ecs/empty", Stream: "app/app/gone"}, 0, 0, "", "no log stream app/app/gone in group /ecs/empty"},
		{"no group", tasklogs.Source{Group: "/ecs/none", Stream: "app/app/gone"}, 0, 0, "", "no log group /ecs/none (stream app/app/gone)"},
		{"empty stream", tasklogs.Source{Group: "/ecs/app", Stream: "app/app/empty"}, 0, 0, "", "log stream app/app/empty in group /ecs/app is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tail, err := tasklogs.Read(context.Background(), api, tt.src, tt.n)
			require.NoError(t, err)
			assert.Len(t, tail.Lines, tt.lines)
			if tt.last != "" {
				assert.Equal(t, tt.last, tail.Lines[len(tail.Lines)-1])
			}
			assert.Equal(t, tt.note, tail.Note)
		})
	}

	var got *fakeaws.Call
	for _, c := range srv.CallLog() {
		if c.Operation == "GetLogEvents" {
			got = &c
		}
	}
	require.NotNil(t, got)
	assert.Contains(t, string(got.Body), `"startFromHead":false`)

	srv.FailNext("logs", "GetLogEvents", &fakeaws.APIError{Status: 400, Code: "AccessDeniedException", Message: "not authorized to perform logs:GetLogEvents"})
	_, err := tasklogs.Read(context.Background(), api, tasklogs.Source{Group: "/ecs/app", Stream: "app/app/task1"}, 5)
	assert.ErrorContains(t, err, "read the last 5 log lines of stream app/app/task1 in group /ecs/app")
}

func TestCleanMasksAndTruncates(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "applying migration 0003_add_users", "applying migration 0003_add_users"},
		{"access key", "using key AKIAIOSFODNN7EXAMPLE now", "using key *** now"},
		{"password pair", "connect user=app password=hunter2 host=db", "connect user=app password=*** host=db"},
		{"json token", `{"level":"error","token":"abc"}`, `{"level":"error",token=***`},
		{"token after colon", "token: s3cr3t-value", "token: ***"},
		{"random blob", "secret is wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY0aZ9", "secret is ***"},
		{"newline", "done\n", "done"},
		{"GitHub token", "cloning with ghp_abcdefghijklmnopqrstuvwxyz0123456789", "cloning with ***"},
		{"digits-only password", "password=123456", "password=***"},
		{"a path is no secret", "reading token_file=/run/secrets/t", "reading token_file=/run/secrets/t"},
		{"a flag is no secret", "auth password: false", "auth password: false"},
		{"URL with a password", "connecting to postgres://admin:hunter2@db/app", "connecting to postgres://***@db/app"},
		{"spaced pair", "password = hunter2 ok", "password = *** ok"},
		{"pair with an open value", "password= hunter2", "password= ***"},
		{"private key", "-----BEGIN RSA PRIVATE KEY-----", "*** (a private key)"},
		{"spaced pair, no secret", "retries = 3", "retries = 3"},
		{"flag and value", "exec migrate --db-password hunter2 --verbose", "exec migrate --db-password *** --verbose"},
		{"flag and a flag value", "exec --use-token true", "exec --use-token true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tasklogs.Clean(tt.in))
		})
	}
	long := tasklogs.Clean(strings.Repeat("é", 400))
	assert.LessOrEqual(t, len(long), tasklogs.MaxLineLength+len(" …(truncated)"))
	assert.True(t, strings.HasSuffix(long, " …(truncated)"))
}
