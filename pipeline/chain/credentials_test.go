package chain_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/chain"
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
