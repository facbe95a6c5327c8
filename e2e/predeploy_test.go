package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/config"
)

func TestPreDeployVariants(t *testing.T) {
	sample, err := os.ReadFile("../sample-app/fargate.yaml")
	require.NoError(t, err)
	files, err := Variants(sample)
	require.NoError(t, err)
	require.NoError(t, addPreDeployVariants("../sample-app", files))

	f, err := config.Parse(ConfigPreDeploy, []byte(files[ConfigPreDeploy]))
	require.NoError(t, err)
	pre, err := f.Environment("preprod")
	require.NoError(t, err)
	require.NotNil(t, pre.PreDeploy)
	assert.Equal(t, []string{"/app", "migrate"}, pre.PreDeploy.Command)
	assert.Equal(t, "key", f.Signing.Mode)

	f, err = config.Parse(ConfigMissingSecret, []byte(files[ConfigMissingSecret]))
	require.NoError(t, err)
	pre, _ = f.Environment("preprod")
	assert.Equal(t, MissingSecretTaskDef, pre.TaskDefinition)
	assert.Contains(t, files[MissingSecretTaskDef], MissingSecretARN)
	assert.NotContains(t, files[MissingSecretTaskDef], "api-token-AbCdEf")
}
