package iamfake

import (
	"errors"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/fakeaws"
)

const doc = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/a+b c"}]}`

func TestRoundTripWithTheRealClient(t *testing.T) {
	srv := fakeaws.New(t)
	f := New(srv)
	f.PageSize = 1
	f.AddRole(Role{Name: "web-task", Inline: map[string]string{"a": doc, "b": doc}, Attached: []string{"arn:aws:iam::123456789012:policy/p1", "arn:aws:iam::aws:policy/p2"}})
	f.AddPolicy(ManagedPolicy{Arn: "arn:aws:iam::123456789012:policy/p1", Document: doc, DefaultVersion: "v3", Versions: map[string]string{"v1": "{}"}})
	c := iam.NewFromConfig(srv.Config(t))
	ctx := t.Context()

	role, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("web-task")})
	require.NoError(t, err)
	require.Equal(t, f.RoleArn("web-task"), aws.ToString(role.Role.Arn))

	var names []string
	p := iam.NewListRolePoliciesPaginator(c, &iam.ListRolePoliciesInput{RoleName: aws.String("web-task")})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		require.NoError(t, err)
		names = append(names, out.PolicyNames...)
	}
	require.Equal(t, []string{"a", "b"}, names)
	require.Equal(t, 2, srv.Calls("iam", "ListRolePolicies"))

	rp, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("web-task"), PolicyName: aws.String("a")})
	require.NoError(t, err)
	require.NotEqual(t, doc, aws.ToString(rp.PolicyDocument), "IAM returns documents URL-encoded")
	decoded, err := url.QueryUnescape(aws.ToString(rp.PolicyDocument))
	require.NoError(t, err)
	require.Equal(t, doc, decoded)

	var attached []types.AttachedPolicy
	ap := iam.NewListAttachedRolePoliciesPaginator(c, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("web-task")})
	for ap.HasMorePages() {
		out, err := ap.NextPage(ctx)
		require.NoError(t, err)
		attached = append(attached, out.AttachedPolicies...)
	}
	require.Len(t, attached, 2)
	require.Equal(t, "p1", aws.ToString(attached[0].PolicyName))

	pol, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: attached[0].PolicyArn})
	require.NoError(t, err)
	require.Equal(t, "v3", aws.ToString(pol.Policy.DefaultVersionId))
	ver, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: attached[0].PolicyArn, VersionId: pol.Policy.DefaultVersionId})
	require.NoError(t, err)
	decoded, err = url.QueryUnescape(aws.ToString(ver.PolicyVersion.Document))
	require.NoError(t, err)
	require.Equal(t, doc, decoded)
	require.True(t, ver.PolicyVersion.IsDefaultVersion)

	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("nope")})
	var nse *types.NoSuchEntityException
	require.True(t, errors.As(err, &nse), "%v", err)
	_, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::aws:policy/p2")})
	require.True(t, errors.As(err, &nse))
}
