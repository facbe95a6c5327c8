package precheck_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/policy"
	"dagger/fargate/pipeline/precheck"
)

const sampleDir = "../../sample-app"

func diskReader(dir string) precheck.ReadFunc {
	return func(rel string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, rel)) }
}

// memReader serves the sample app's files, with some replaced.
func memReader(t *testing.T, overrides map[string]string) precheck.ReadFunc {
	t.Helper()
	return func(rel string) ([]byte, error) {
		if c, ok := overrides[rel]; ok {
			return []byte(c), nil
		}
		return os.ReadFile(filepath.Join(sampleDir, rel))
	}
}

func loadSample(t *testing.T, extra string) *config.File {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sampleDir, "fargate.yaml"))
	require.NoError(t, err)
	f, err := config.Parse("fargate.yaml", []byte(string(data)+extra))
	require.NoError(t, err)
	return f
}

func rules(r policy.Report, suppressed bool) []string {
	var ids []string
	for _, f := range r.Findings {
		if f.Suppressed == suppressed {
			ids = append(ids, f.Rule)
		}
	}
	return ids
}

func TestSampleAppPassesItsOwnCheck(t *testing.T) {
	f := loadSample(t, "")
	rep, err := precheck.Run(context.Background(), f, diskReader(sampleDir))
	require.NoError(t, err)
	threshold, err := policy.ParseSeverity(f.Policy.Threshold)
	require.NoError(t, err)
	assert.False(t, rep.Failed(threshold), "sample app findings: %v", rep.Findings)
}

const unhardened = `{
  "family": "legacy",
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "cpu": "256", "memory": "512",
  "executionRoleArn": "arn:aws:iam::111122223333:role/exec",
  "taskRoleArn": "arn:aws:iam::111122223333:role/task",
  "containerDefinitions": [{
    "name": "app", "image": "nginx:latest", "essential": true, "memory": 512,
    "environment": [{"name": "DB_PASSWORD", "value": "hunter2hunter2"}],
    "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "app"}}
  }]
}`

func TestUnhardenedTaskDefinitionFails(t *testing.T) {
	f := loadSample(t, "")
	rep, err := precheck.Run(context.Background(), f, memReader(t, map[string]string{
		"ecs/preprod.taskdef.json": unhardened,
		"Dockerfile":               "FROM nginx:latest\nCMD [\"nginx\"]\n",
	}))
	require.NoError(t, err)
	ids := strings.Join(rules(rep, false), " ")
	for _, want := range []string{"FG-TD-", "FG-DF-"} {
		assert.Contains(t, ids, want)
	}
	threshold, _ := policy.ParseSeverity("high")
	assert.True(t, rep.Failed(threshold))
	// The secret's value is never echoed.
	for _, fd := range rep.Findings {
		assert.NotContains(t, fd.Message, "hunter2hunter2")
	}
}

func TestServiceSettingsFromTheEnvironmentsFile(t *testing.T) {
	f := loadSample(t, "")
	pre := f.Environments["preprod"]
	off := false
	pre.CircuitBreaker = &off
	pre.Network = &config.Network{AssignPublicIP: true}
	f.Environments["preprod"] = pre
	rep, err := precheck.Run(context.Background(), f, diskReader(sampleDir))
	require.NoError(t, err)
	var resources []string
	for _, fd := range rep.Findings {
		if strings.HasPrefix(fd.Rule, "FG-SVC-") {
			resources = append(resources, fd.Rule+" "+fd.Resource)
		}
	}
	require.NotEmpty(t, resources)
	assert.Contains(t, strings.Join(resources, "\n"), "sample-app-preprod/sample-app")
	assert.NotContains(t, strings.Join(resources, "\n"), "sample-app-prod/sample-app")
}

func TestSuppressionsAreApplied(t *testing.T) {
	f := loadSample(t, "")
	read := memReader(t, map[string]string{"Dockerfile": "FROM nginx:latest\nCMD [\"nginx\"]\n"})
	before, err := precheck.Run(context.Background(), f, read)
	require.NoError(t, err)
	var target policy.Finding
	for _, fd := range before.Findings {
		if strings.HasPrefix(fd.Rule, "FG-DF-") && !fd.Suppressed {
			target = fd
			break
		}
	}
	require.NotEmpty(t, target.Rule)
	f.Policy.Suppressions = []config.Suppression{{Rule: target.Rule, Resource: "*", Reason: "legacy base, migrating", Expires: config.Date{Time: mustDate(t, "2999-01-01")}}}
	after, err := precheck.Run(context.Background(), f, read)
	require.NoError(t, err)
	assert.Contains(t, rules(after, true), target.Rule)
	assert.NotContains(t, rules(after, false), target.Rule)
}

func TestReadErrorsNameTheFile(t *testing.T) {
	f := loadSample(t, "")
	_, err := precheck.Run(context.Background(), f, func(rel string) ([]byte, error) {
		if rel == "ecs/prod.taskdef.json" {
			return nil, errors.New("no such file")
		}
		return os.ReadFile(filepath.Join(sampleDir, rel))
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "task definition of prod")
}

func TestMalformedTaskDefinitionIsAnErrorNotAPass(t *testing.T) {
	f := loadSample(t, "")
	_, err := precheck.Run(context.Background(), f, memReader(t, map[string]string{"ecs/prod.taskdef.json": `{"family": 42`}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ecs/prod.taskdef.json")
}

func mustDate(t *testing.T, s string) time.Time {
	t.Helper()
	parsed, err := time.Parse(time.DateOnly, s)
	require.NoError(t, err)
	return parsed
}
