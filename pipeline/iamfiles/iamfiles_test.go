package iamfiles_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/iamfiles"
)

var dir = filepath.Join("..", "..", "deploy", "iam")

func TestPipelineRolePolicyIsLeastPrivilege(t *testing.T) {
	doc, err := iamfiles.Load(filepath.Join(dir, "pipeline-role-policy.json"))
	require.NoError(t, err)
	assert.Empty(t, iamfiles.Check(doc))

	actions := map[string]iamfiles.Statement{}
	for _, s := range doc.Statement {
		assert.Equal(t, "Allow", s.Effect, s.Sid)
		assert.NotEmpty(t, s.Sid, "every statement says what it is for")
		for _, a := range s.Action {
			actions[a] = s
		}
	}
	// Everything the pipeline calls is granted.
	for _, a := range []string{
		"ecr:GetAuthorizationToken", "ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
		"ecr:BatchCheckLayerAvailability", "ecr:DescribeRepositories", "ecr:CreateRepository", "ecr:PutLifecyclePolicy",
		"ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:UpdateService", "ecs:DescribeServices",
		"ecs:ListTasks", "ecs:DescribeTasks", "ecs:StopServiceDeployment", "ecs:TagResource",
		"iam:PassRole", "kms:Sign", "kms:GetPublicKey", "kms:DescribeKey", "sts:GetCallerIdentity",
	} {
		assert.Contains(t, actions, a)
	}

	// ECR writes go to one repository.
	assert.Equal(t, iamfiles.StringList{"arn:aws:ecr:eu-west-1:111122223333:repository/sample-app"}, actions["ecr:PutImage"].Resource)
	// PassRole: two named roles, only to ECS tasks.
	pass := actions["iam:PassRole"]
	assert.Len(t, pass.Resource, 2)
	assert.Equal(t, []string{"ecs-tasks.amazonaws.com"}, iamfiles.ConditionValues(pass, "iam:PassedToService"))
	// Signing is limited to the signing key by alias.
	assert.Equal(t, []string{"alias/sample-app-signing"}, iamfiles.ConditionValues(actions["kms:Sign"], "kms:ResourceAliases"))
	// Tagging only as part of registering a task definition.
	assert.Equal(t, []string{"RegisterTaskDefinition"}, iamfiles.ConditionValues(actions["ecs:TagResource"], "ecs:CreateAction"))
	// ListTasks, granted on "*", is held to the service clusters.
	assert.Len(t, iamfiles.ConditionValues(actions["ecs:ListTasks"], "ecs:cluster"), 2)

	// Each Resource "*" statement holds allow-listed actions only.
	for _, s := range doc.Statement {
		if slices.Contains(s.Resource, "*") {
			for _, a := range s.Action {
				assert.Contains(t, iamfiles.StarActions, a, s.Sid)
			}
		}
	}
}

func TestGitHubOIDCTrustPolicy(t *testing.T) {
	doc, err := iamfiles.Load(filepath.Join(dir, "github-oidc-trust-policy.json"))
	require.NoError(t, err)
	require.Equal(t, iamfiles.Version, doc.Version)
	require.Len(t, doc.Statement, 1)
	s := doc.Statement[0]
	assert.Equal(t, "Allow", s.Effect)
	assert.Equal(t, iamfiles.StringList{"sts:AssumeRoleWithWebIdentity"}, s.Action)
	assert.JSONEq(t, `{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}`, string(s.Principal))
	assert.Equal(t, []string{"sts.amazonaws.com"}, iamfiles.ConditionValues(s, "token.actions.githubusercontent.com:aud"))

	subs := iamfiles.ConditionValues(s, "token.actions.githubusercontent.com:sub")
	assert.ElementsMatch(t, []string{"repo:example/fargate:environment:preprod", "repo:example/fargate:environment:production"}, subs)
	for _, sub := range subs {
		assert.True(t, strings.HasPrefix(sub, "repo:example/fargate:"), sub)
		assert.NotContains(t, sub, "*", "no wildcard subjects: a fork or branch must not assume the role")
	}
	// The subject is compared exactly.
	assert.Contains(t, s.Condition, "StringEquals")
	assert.Contains(t, s.Condition["StringEquals"], "token.actions.githubusercontent.com:sub")
}

func TestCheckFindsViolations(t *testing.T) {
	cases := []struct {
		name, policy, want string
	}{
		{"old version", `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*","Sid":"X"}]}`, "Version"},
		{"star action", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b"}]}`, `wildcard action "*"`},
		{"service star", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":["ecs:*"],"Resource":"arn:aws:ecs:eu-west-1:1:cluster/c"}]}`, `wildcard action "ecs:*"`},
		{"prefix star", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":["ecs:Describe*"],"Resource":"arn:aws:ecs:eu-west-1:1:cluster/c"}]}`, "wildcard action"},
		{"star resource on scoped action", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"ecs:UpdateService","Resource":"*"}]}`, `Resource "*" for ecs:UpdateService`},
		{"star resource without sid", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}`, "needs a Sid"},
		{"star mixed", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":["*","arn:aws:ecr:eu-west-1:1:repository/x"]}]}`, "mixed"},
		{"passrole unconditioned", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::1:role/r"}]}`, "iam:PassedToService"},
		{"passrole any role", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}}]}`, "every role"},
		{"unbounded pattern", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"kms:Sign","Resource":"arn:aws:kms:eu-west-1:1:key/*"}]}`, "unbounded"},
		{"not action", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","NotAction":"iam:*","Resource":"arn:aws:s3:::b"}]}`, "NotAction"},
		{"bad effect", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}`, "Effect"},
		{"duplicate sid", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"},{"Sid":"A","Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}`, "duplicate Sid"},
		{"empty", `{"Version":"2012-10-17","Statement":[]}`, "no statements"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := iamfiles.Parse([]byte(tc.policy))
			require.NoError(t, err)
			problems := iamfiles.Check(doc)
			require.NotEmpty(t, problems)
			assert.Contains(t, strings.Join(problems, "\n"), tc.want)
		})
	}

	// Bounded patterns and conditioned wildcards pass.
	ok := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"A","Effect":"Allow","Action":"ecs:RegisterTaskDefinition","Resource":"arn:aws:ecs:eu-west-1:1:task-definition/app-prod:*"},
	 {"Sid":"B","Effect":"Allow","Action":"kms:Sign","Resource":"arn:aws:kms:eu-west-1:1:key/*","Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/x"}}}]}`
	doc, err := iamfiles.Parse([]byte(ok))
	require.NoError(t, err)
	assert.Empty(t, iamfiles.Check(doc))
}

func TestParseIsStrict(t *testing.T) {
	_, err := iamfiles.Parse([]byte(`{"Version":"2012-10-17","Statment":[]}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Statment")

	_, err = iamfiles.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":7}]}`))
	require.Error(t, err)

	_, err = iamfiles.Load(filepath.Join(dir, "missing.json"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing.json")
}
