package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The pipeline role can run what happens around the rollout (issue #19): the pre-deploy
// task, the preflight reads (metadata only, never a secret value) and the failed tasks' logs.
func TestPipelineRolePolicyGrantsThePreDeployAndPreflightCalls(t *testing.T) {
	actions := byAction(sampleDoc(t, "iam/pipeline-role-policy.json"))
	for _, a := range []string{
		"ecs:RunTask", "ecs:StopTask", "secretsmanager:DescribeSecret", "ssm:DescribeParameters",
		"iam:GetRole", "logs:DescribeLogGroups", "logs:GetLogEvents",
	} {
		assert.Contains(t, actions, a)
	}
	for _, a := range []string{"secretsmanager:GetSecretValue", "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"} {
		assert.NotContains(t, actions, a, "the pipeline never reads a secret value")
	}
	assert.NotEmpty(t, actions["ecs:RunTask"].Condition.Values("ecs:cluster"), "RunTask only in the service clusters")
}
