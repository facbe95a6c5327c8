package chain_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/awsconf"
	"dagger/fargate/pipeline/chain"
	"dagger/fargate/pipeline/internal/ecsfake"
	"dagger/fargate/pipeline/internal/stsfake"
)

const (
	deployRole = "arn:aws:iam::111122223333:role/sample-app-deploy"
	sourceRole = "arn:aws:iam::111122223333:role/sample-app-promotion-read"
	oidcToken  = "eyJplanted-oidc-token-never-shown"
)

// Issue #20 item 3: the chain deploys as a role assumed with the keys or with an OIDC token,
// and reads a promotion's source through a role, not a second set of keys.
func TestDeployWithAssumedRoles(t *testing.T) {
	tests := []struct {
		name    string
		creds   chain.Credentials
		trusted bool
		actions []string
		err     string
	}{
		{name: "keys assume the deploy role", creds: chain.Credentials{AccessKeyID: plantedKeyID, SecretAccessKey: plantedSecret, RoleARN: deployRole, ExternalID: "ext-7"},
			actions: []string{"AssumeRole"}},
		{name: "an OIDC token assumes the deploy role", creds: chain.Credentials{RoleARN: deployRole, WebIdentityToken: oidcToken, RoleSessionName: "gha-42"}, trusted: true,
			actions: []string{"AssumeRoleWithWebIdentity"}},
		{name: "a role the account does not trust", creds: chain.Credentials{RoleARN: deployRole, WebIdentityToken: oidcToken},
			err: "assume role " + deployRole},
		{name: "an external ID without a role", creds: chain.Credentials{AccessKeyID: plantedKeyID, SecretAccessKey: plantedSecret, ExternalID: "ext-7"},
			err: "--aws-external-id and --aws-web-identity-token need the role to assume: pass --aws-role-arn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			sts := stsfake.New(w.srv)
			sts.AddRole(deployRole, "ext-7")
			if tt.trusted {
				sts.AddRole(deployRole, "")
				sts.TrustToken(oidcToken)
			}
			w.s.Credentials = tt.creds
			out, err := w.s.Deploy(t.Context(), chain.DeployRequest{Env: "preprod"})
			for _, secret := range []string{oidcToken, plantedSecret, "ext-7"} {
				assert.NotContains(t, reportOf(out, err)+w.log.String(), secret)
			}
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, reportOf(out, err), tt.err)
				assert.Empty(t, w.mutations(), "nothing changed in AWS")
				return
			}
			require.NoError(t, err, reportOf(out, err))
			var actions []string
			for _, is := range sts.Issued() {
				actions = append(actions, is.Action)
				assert.Equal(t, deployRole, is.RoleARN)
			}
			assert.Equal(t, tt.actions, actions, "assumed once, then cached")
		})
	}
}

func TestPromotionReadsTheSourceThroughItsRole(t *testing.T) {
	w := newWorld(t)
	out, err := w.s.Deploy(t.Context(), chain.DeployRequest{Env: "preprod"})
	require.NoError(t, err, reportOf(out, err))

	sts := stsfake.New(w.srv)
	sts.AddRole(sourceRole, "")
	w.s.SourceRoleARN = sourceRole
	w.caller = prodAccount
	out, err = w.s.Deploy(t.Context(), chain.DeployRequest{Env: "prod", ApprovedBy: "alice", ApprovalReason: "release 1.4"})
	require.NoError(t, err, reportOf(out, err))
	w.assertNoSecrets(out, err)
	issued := sts.Issued()
	require.Len(t, issued, 1)
	assert.Equal(t, "AssumeRole", issued[0].Action)
	assert.Equal(t, sourceRole, issued[0].RoleARN, "the source is read as its role")
}

// slowClock is the virtual clock whose every sleep also takes a little wall-clock time, so a
// long rollout wait outlasts credentials that live for milliseconds.
type slowClock struct {
	*ecsfake.VirtualClock
	pause time.Duration
}

func (c slowClock) Sleep(ctx context.Context, d time.Duration) error {
	time.Sleep(c.pause)
	return c.VirtualClock.Sleep(ctx, d)
}

// The deploy's wait outlives the role's credentials: the SDK renews them before they expire
// and no call is signed with expired ones (the fake refuses those as AWS does).
func TestLongWaitRenewsAssumedCredentials(t *testing.T) {
	w := newWorld(t)
	sts := stsfake.New(w.srv)
	sts.AddRole(deployRole, "")
	sts.SetLifetime(50 * time.Millisecond)
	w.srv.RequireAccessKey(plantedKeyID)
	w.s.Credentials.RoleARN = deployRole
	w.s.ECS.Clock = slowClock{VirtualClock: w.clock, pause: 15 * time.Millisecond}
	tune := w.s.TuneAWS
	w.s.TuneAWS = func(o *awsconf.Options) {
		tune(o)
		o.RefreshBefore = 15 * time.Millisecond
	}
	start := time.Now()
	out, err := w.s.Deploy(t.Context(), chain.DeployRequest{Env: "preprod"})
	require.NoError(t, err, reportOf(out, err))
	elapsed := time.Since(start)
	issued := sts.Issued()
	require.Greater(t, elapsed, 150*time.Millisecond, "the wait outlasts the credentials three times")
	assert.GreaterOrEqual(t, len(issued), 2, "renewed during the wait (%s, %d issued)", elapsed, len(issued))
}

// cosign signs through KMS with the credentials the pipeline acts with: the keys, or the
// role's current temporary credentials, never the keys the role was assumed with.
func TestKMSSigningGetsTheCredentialsInUse(t *testing.T) {
	tests := []struct {
		name      string
		role      bool
		keyPrefix string
		session   bool
	}{
		{name: "static keys", keyPrefix: plantedKeyID},
		{name: "assumed role", role: true, keyPrefix: "ASIAFAKE", session: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			delete(w.files, "fargate.yaml") // the sample's own file: signing mode kms
			if tt.role {
				stsfake.New(w.srv).AddRole(deployRole, "")
				w.s.Credentials.RoleARN = deployRole
			}
			out, err := w.s.Deploy(t.Context(), chain.DeployRequest{Env: "preprod"})
			require.NoError(t, err, reportOf(out, err))
			w.steps.mu.Lock()
			setups := w.steps.setups
			w.steps.mu.Unlock()
			require.NotEmpty(t, setups)
			for _, setup := range setups {
				assert.True(t, strings.HasPrefix(setup.AWSEnv["AWS_ACCESS_KEY_ID"].Reveal(), tt.keyPrefix), "cosign gets the key in use")
				_, hasSession := setup.AWSEnv["AWS_SESSION_TOKEN"]
				assert.Equal(t, tt.session, hasSession)
			}
		})
	}
}

// A container that logs to another region is checked there on the credentials the deploy
// already holds: the role is assumed once, not once more for CloudWatch Logs.
func TestLogsInAnotherRegionReuseTheAssumedRole(t *testing.T) {
	w := newWorld(t)
	sts := stsfake.New(w.srv)
	sts.AddRole(deployRole, "")
	w.s.Credentials = chain.Credentials{AccessKeyID: plantedKeyID, SecretAccessKey: plantedSecret, RoleARN: deployRole}
	w.files["ecs/preprod.taskdef.json"] = strings.Replace(w.file("ecs/preprod.taskdef.json"), `"awslogs-region": "eu-west-1"`, `"awslogs-region": "us-east-1"`, 1)
	out, err := w.s.Deploy(t.Context(), chain.DeployRequest{Env: "preprod"})
	require.NoError(t, err, reportOf(out, err))
	described := 0
	for _, c := range w.srv.CallLog() {
		if c.Service == "logs" && c.Operation == "DescribeLogGroups" {
			described++
		}
	}
	assert.Positive(t, described, "preflight read the log group")
	require.Len(t, sts.Issued(), 1, "the role is assumed once")
}
