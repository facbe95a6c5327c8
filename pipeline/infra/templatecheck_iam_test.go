package infra

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/findings"
	"dagger/fargate/pipeline/policy"
	"dagger/fargate/pipeline/scan"
)

// IAM action names are case-insensitive, so FG-CFN-005 reads "ECR:GetAuthorizationToken" as
// ecr:GetAuthorizationToken (allowed on "*") and "SSMMessages:…" as the ECS Exec channels. The
// template linter's own, case-sensitive list reported the first two cases and missed nothing
// else; the policy engine's checker (policy.LeastPrivilege) gets all of them right.
func TestTemplateIAMActionsAreCaseInsensitive(t *testing.T) {
	exec := policy.LeastPrivilegeOptions{ExecChannels: true}
	tests := []struct {
		name string
		stmt map[string]any
		opts policy.LeastPrivilegeOptions
		want []string // hit messages; none when empty
	}{
		{"upper-case service prefix on *", map[string]any{"Effect": "Allow", "Action": "ECR:GetAuthorizationToken", "Resource": "*"}, policy.LeastPrivilegeOptions{}, nil},
		{"mixed-case exec channel with ECS Exec", map[string]any{"Effect": "Allow", "Action": []any{"SSMMessages:CreateControlChannel", "ssmmessages:OpenDataChannel"}, "Resource": "*"}, exec, nil},
		{"mixed-case exec channel without ECS Exec", map[string]any{"Effect": "Allow", "Action": "SSMMessages:CreateControlChannel", "Resource": "*"}, policy.LeastPrivilegeOptions{},
			[]string{`P statement 0: Resource "*" for SSMMessages:CreateControlChannel, which supports resource-level permissions`}},
		{"upper-case wildcard action", map[string]any{"Effect": "Allow", "Action": "ECR:*", "Resource": "arn:aws:ecr:eu-west-1:111122223333:repository/app"}, policy.LeastPrivilegeOptions{},
			[]string{`P statement 0: wildcard action "ECR:*"`}},
		{"mixed-case action with resource-level permissions on *", map[string]any{"Effect": "Allow", "Action": []any{"Ecr:GetAuthorizationToken", "ECR:BatchGetImage"}, "Resource": "*"}, policy.LeastPrivilegeOptions{},
			[]string{`P statement 0: Resource "*" for ECR:BatchGetImage, which supports resource-level permissions`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &checker{}
			c.checkPolicyDoc("Role", "P", map[string]any{"Statement": []any{tt.stmt}}, tt.opts)
			var got []string
			for _, h := range c.hits {
				got = append(got, h.msg)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// The GitHub deploy role's trust statement is found whatever the case of its action, so its
// sub and aud conditions are checked (the old exact match skipped "STS:AssumeRoleWithWebIdentity"
// and reported only that there was no deploy role).
func TestTemplateOIDCTrustActionIsCaseInsensitive(t *testing.T) {
	body := `
Resources:
  DeployRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Federated: arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com}
            Action: STS:AssumeRoleWithWebIdentity
            Condition:
              StringEquals: {"token.actions.githubusercontent.com:aud": sts.amazonaws.com}
`
	var msgs []string
	for _, f := range checkBody(t, body, "preprod", nil) {
		if f.Rule == RuleTemplateOIDC {
			msgs = append(msgs, f.Message)
		}
	}
	assert.Len(t, msgs, 1)
	assert.Contains(t, msgs[0], "sub is not restricted")
}

// Template and Trivy IaC findings are the one findings model's, from the IaC source.
func TestIaCFindingsSource(t *testing.T) {
	fs := checkBody(t, brokenTemplate, "prod", nil)
	fs = append(fs, IaCFindings(iacDecision(t, iacConfigReport, scan.Gate{FailOn: scan.AllSeverities}))...)
	assert.NotEmpty(t, fs)
	for _, f := range fs {
		assert.Equal(t, findings.SourceIaC, f.Source, f.Resource)
	}
}

// The sample service template passes every check with its IAM actions written in other cases:
// the old linter's case-sensitive list reported "ECR:GetAuthorizationToken" on "*", the ECS
// Exec channels and the load balancer Describe calls as needing resource-level permissions.
func TestServiceTemplateWithMixedCaseActionsPasses(t *testing.T) {
	body := readServiceTemplate(t)
	for _, r := range [][2]string{
		{"Action: ecr:GetAuthorizationToken", "Action: ECR:GetAuthorizationToken"},
		{"ssmmessages:CreateControlChannel", "SSMMessages:CreateControlChannel"},
		{"elasticloadbalancing:DescribeTargetHealth", "ElasticLoadBalancing:describeTargetHealth"},
	} {
		require.Contains(t, body, r[0])
		body = strings.ReplaceAll(body, r[0], r[1])
	}
	for _, env := range []string{"prod", "preprod"} {
		t.Run(env, func(t *testing.T) {
			assert.Empty(t, checkBody(t, body, env, envParams(env, map[string]string{"EnableExecuteCommand": "true"})))
		})
	}
}
