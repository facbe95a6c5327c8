package awsconf_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/awsconf"
	"dagger/fargate/pipeline/internal/fakeaws"
	"dagger/fargate/pipeline/internal/stsfake"
)

const (
	role          = "arn:aws:iam::444455556666:role/sample-app-deploy"
	plantedSecret = "planted-secret-access-key-XYZ"
	plantedToken  = "eyJplanted.oidc.token"
)

func world(t *testing.T) (*fakeaws.Server, *stsfake.Fake) {
	t.Helper()
	srv := fakeaws.New(t)
	f := stsfake.New(srv)
	srv.HandleQuery("sts", "GetCallerIdentity", func(url.Values) (string, error) {
		return `<Arn>arn:aws:sts::444455556666:assumed-role/sample-app-deploy/x</Arn><UserId>AROAFAKE:x</UserId><Account>444455556666</Account>`, nil
	})
	return srv, f
}

// Issue #20 item 3: the credential chain beyond static keys — a role assumed with the keys
// (with an external ID) or with an OIDC token — answered by STS at the wire level.
func TestAssumedRoles(t *testing.T) {
	tests := []struct {
		name   string
		opts   awsconf.Options
		setup  func(*stsfake.Fake)
		action string
		err    string
	}{
		{name: "assume role with keys", opts: awsconf.Options{AccessKeyID: "AKIABASE", SecretAccessKey: plantedSecret, RoleARN: role, ExternalID: "ext-1", RoleSessionName: "ci-42"},
			setup: func(f *stsfake.Fake) { f.AddRole(role, "ext-1") }, action: "AssumeRole"},
		{name: "web identity", opts: awsconf.Options{RoleARN: role, WebIdentityToken: plantedToken, RoleSessionName: "ci-42"},
			setup: func(f *stsfake.Fake) { f.AddRole(role, ""); f.TrustToken(plantedToken) }, action: "AssumeRoleWithWebIdentity"},
		{name: "wrong external ID", opts: awsconf.Options{AccessKeyID: "AKIABASE", SecretAccessKey: plantedSecret, RoleARN: role, ExternalID: "ext-2", RoleSessionName: "ci-42"},
			setup: func(f *stsfake.Fake) { f.AddRole(role, "ext-1") }, err: "AccessDenied"},
		{name: "untrusted token", opts: awsconf.Options{RoleARN: role, WebIdentityToken: plantedToken, RoleSessionName: "ci-42"},
			setup: func(f *stsfake.Fake) { f.AddRole(role, "") }, err: "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, f := world(t)
			tt.setup(f)
			tt.opts.Region, tt.opts.Endpoint = "eu-west-1", srv.URL()
			tt.opts.MaxBackoff = time.Millisecond
			cfg, err := awsconf.Load(t.Context(), tt.opts)
			require.NoError(t, err)
			out, err := sts.NewFromConfig(cfg).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.Contains(t, err.Error(), "assume role "+role, "the error names the role")
				assert.NotContains(t, err.Error(), plantedSecret)
				assert.NotContains(t, err.Error(), plantedToken)
				assert.NotContains(t, err.Error(), "ext-")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "444455556666", *out.Account)
			issued := f.Issued()
			require.Len(t, issued, 1)
			assert.Equal(t, tt.action, issued[0].Action)
			assert.Equal(t, "ci-42", issued[0].SessionName)
		})
	}
}

// Assumed credentials are renewed before they expire: a wait longer than their lifetime
// keeps signing with valid ones.
func TestAssumedCredentialsRefreshDuringALongWait(t *testing.T) {
	srv, f := world(t)
	f.AddRole(role, "")
	f.SetLifetime(150 * time.Millisecond)
	cfg, err := awsconf.Load(t.Context(), awsconf.Options{Region: "eu-west-1", Endpoint: srv.URL(), AccessKeyID: "AKIABASE", SecretAccessKey: plantedSecret,
		RoleARN: role, RoleSessionName: "long-wait", RefreshBefore: 50 * time.Millisecond})
	require.NoError(t, err)
	client := sts.NewFromConfig(cfg)
	deadline := time.Now().Add(700 * time.Millisecond)
	polls := 0
	for time.Now().Before(deadline) {
		creds, err := cfg.Credentials.Retrieve(t.Context())
		require.NoError(t, err)
		require.True(t, creds.Expires.After(time.Now()), "never signs with expired credentials")
		_, err = client.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
		require.NoError(t, err)
		polls++
		time.Sleep(20 * time.Millisecond)
	}
	issued := f.Issued()
	assert.GreaterOrEqual(t, len(issued), 4, "renewed about every 100ms over 700ms")
	assert.Less(t, len(issued), polls, "cached between renewals, not assumed on every call")
	for i := 1; i < len(issued); i++ {
		assert.NotEqual(t, issued[i-1].AccessKeyID, issued[i].AccessKeyID)
	}
}

func TestRoleInputsAreChecked(t *testing.T) {
	for _, tt := range []struct {
		opts awsconf.Options
		want string
	}{
		{awsconf.Options{Region: "eu-west-1", RoleARN: "sample-app-deploy", AccessKeyID: "A", SecretAccessKey: "S"}, `--aws-role-arn "sample-app-deploy": expected an IAM role ARN`},
		{awsconf.Options{Region: "eu-west-1", WebIdentityToken: plantedToken}, "a web identity token needs the role to assume (--aws-role-arn)"},
		{awsconf.Options{Region: "eu-west-1", RoleARN: role, RoleSessionName: "ci run 42", AccessKeyID: "A", SecretAccessKey: "S"}, `--aws-role-session-name "ci run 42": expected 2 to 64 letters`},
	} {
		_, err := awsconf.Load(t.Context(), tt.opts)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.want)
		assert.False(t, strings.Contains(err.Error(), plantedToken))
	}
}
