package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLeastPrivilege(t *testing.T) {
	allow := func(actions []string, resources ...string) Statement {
		return Statement{Effect: "Allow", Action: actions, Resource: resources}
	}
	tests := []struct {
		name string
		stmt Statement
		opts LeastPrivilegeOptions
		want []IAMIssue
	}{
		{"exempt action in any case", allow([]string{"ECR:GetAuthorizationToken", "sts:GetCallerIdentity"}, "*"), LeastPrivilegeOptions{}, nil},
		// ELB Describe calls have no resource-level permissions (Service Authorization
		// Reference); the template linter allowed them, the policy engine did not.
		{"load balancer describe calls", allow([]string{"elasticloadbalancing:DescribeTargetHealth"}, "*"), LeastPrivilegeOptions{}, nil},
		{"exec channels only with ECS Exec", allow([]string{"ssmmessages:OpenDataChannel"}, "*"), LeastPrivilegeOptions{ExecChannels: true}, nil},
		{"exec channels without ECS Exec", allow([]string{"ssmmessages:OpenDataChannel"}, "*"), LeastPrivilegeOptions{},
			[]IAMIssue{{Kind: IssueWildcardResource, Resource: "*", Actions: []string{"ssmmessages:OpenDataChannel"}}}},
		{"wildcard action in any case", allow([]string{"ECR:*"}, "arn:aws:ecr:eu-west-1:1:repository/app"), LeastPrivilegeOptions{},
			[]IAMIssue{{Kind: IssueWildcardAction, Action: "ECR:*"}}},
		{"typed wildcard resource, only the scoped actions listed", allow([]string{"ecr:GetAuthorizationToken", "s3:GetObject"}, "arn:aws:s3:::*"), LeastPrivilegeOptions{},
			[]IAMIssue{{Kind: IssueWildcardResource, Resource: "arn:aws:s3:::*", Actions: []string{"s3:GetObject"}}}},
		{"NotAction on *", Statement{Effect: "Allow", NotAction: []string{"iam:*"}, Resource: []string{"*"}}, LeastPrivilegeOptions{},
			[]IAMIssue{{Kind: IssueWildcardResource, Resource: "*"}, {Kind: IssueNotAction}}},
		{"deny is not a grant", Statement{Effect: "Deny", Action: []string{"*"}, Resource: []string{"*"}}, LeastPrivilegeOptions{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, LeastPrivilege([]Statement{tt.stmt}, tt.opts))
		})
	}
}

func TestGrantsAction(t *testing.T) {
	for _, tt := range []struct {
		actions []string
		action  string
		want    bool
	}{
		{[]string{"IAM:PassRole"}, "iam:passrole", true},
		{[]string{"iam:Pass*"}, "iam:PassRole", true},
		{[]string{"*"}, "sts:AssumeRoleWithWebIdentity", true},
		{[]string{"sts:AssumeRole"}, "sts:AssumeRoleWithWebIdentity", false},
		{[]string{"ssm:GetParameter?"}, "ssm:GetParameters", true},
		{[]string{"ssm:GetParameter?"}, "ssm:GetParameter", false},
	} {
		t.Run(tt.action, func(t *testing.T) {
			assert.Equal(t, tt.want, GrantsAction(Statement{Action: tt.actions}, tt.action))
		})
	}
}
