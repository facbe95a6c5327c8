package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/config"
)

// withPreprod adds lines (indented under environments.preprod) to the valid file.
func withPreprod(lines string) string {
	return strings.Replace(valid, "    container: app\n  prod:", "    container: app\n"+lines+"  prod:", 1)
}

func TestPreDeployLoadsWithDefaults(t *testing.T) {
	f, err := config.Parse("fargate.yaml", []byte(withPreprod("    preDeploy: {command: [/app, migrate]}\n")))
	require.NoError(t, err)
	e, err := f.Environment("preprod")
	require.NoError(t, err)
	require.NotNil(t, e.PreDeploy)
	assert.Equal(t, []string{"/app", "migrate"}, e.PreDeploy.Command)
	assert.Equal(t, "app", e.PreDeploy.Container, "defaults to the environment's container")
	assert.Equal(t, 10*time.Minute, e.PreDeploy.PreDeployTimeout())
	assert.Equal(t, config.DefaultLogLines, e.LogLinesOrDefault())
	prod, err := f.Environment("prod")
	require.NoError(t, err)
	assert.Nil(t, prod.PreDeploy)
}

func TestPreDeployRejectsBadInputNamingTheLine(t *testing.T) {
	tests := []struct {
		name, lines, want string
	}{
		{"empty command", "    preDeploy: {command: []}\n", "fargate.yaml:17: environments.preprod.preDeploy.command: required"},
		{"no command", "    preDeploy: {container: app}\n", "environments.preprod.preDeploy.command: required"},
		{"blank argument", "    preDeploy: {command: [/app, \" \"]}\n", "environments.preprod.preDeploy.command[1]: empty argument"},
		{"timeout too long", "    preDeploy: {command: [x], timeout: 2h}\n", "environments.preprod.preDeploy.timeout: 2h0m0s is out of range (expected between 10s and 1h0m0s"},
		{"timeout too short", "    preDeploy: {command: [x], timeout: 1s}\n", "preDeploy.timeout: 1s is out of range"},
		{"not a duration", "    preDeploy: {command: [x], timeout: soon}\n", `"soon" is not a duration`},
		{"bad container", "    preDeploy: {command: [x], container: \"a b\"}\n", `preDeploy.container: "a b" is not a valid container name`},
		{"unknown key", "    preDeploy: {command: [x], image: y}\n", "environments.preprod.preDeploy.image"},
		{"logLines too many", "    logLines: 500\n", "environments.preprod.logLines: 500 is out of range (expected 1-100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("fargate.yaml", []byte(withPreprod(tt.lines)))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestPreDeployRefusedOnLocal(t *testing.T) {
	doc := strings.Replace(valid, "    taskDefinition: ecs/preprod.json\n    container: app\n  preprod:", "    taskDefinition: ecs/preprod.json\n    container: app\n    preDeploy: {command: [x]}\n  preprod:", 1)
	_, err := config.Parse("fargate.yaml", []byte(doc))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "environments.local.preDeploy: not used by the local environment")
}

func TestPreDeployContainerMustBeInTheTaskDefinition(t *testing.T) {
	f, err := config.Parse("fargate.yaml", []byte(withPreprod("    preDeploy:\n      command: [x]\n      container: migrator\n")))
	require.NoError(t, err)
	e, _ := f.Environment("preprod")
	require.NoError(t, e.PreDeploy.CheckContainer("preprod", []string{"app", "migrator"}))
	err = e.PreDeploy.CheckContainer("preprod", []string{"app", "envoy"})
	require.Error(t, err)
	assert.Equal(t, `fargate.yaml:19: environments.preprod.preDeploy.container: the task definition has no container "migrator" (expected one of: app, envoy)`, err.Error())

	// A PreDeploy not read from a file has no location to name.
	loose := &config.PreDeploy{Command: []string{"x"}, Container: "migrator"}
	assert.Equal(t, `environments.preprod.preDeploy.container: the task definition has no container "migrator" (expected one of: app)`, loose.CheckContainer("preprod", []string{"app"}).Error())
}
