package chain_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/chain"
	"dagger/fargate/pipeline/internal/cfnfake"
)

// Dagger 1.0 takes --env for itself: the module's --environment says the same, and a
// function's --env and it must agree.
func TestChooseEnvironment(t *testing.T) {
	tests := []struct {
		env, environment string
		want, err        string
	}{
		{env: "preprod", want: "preprod"},
		{environment: "prod-eu", want: "prod-eu"},
		{env: "qa", environment: "qa", want: "qa"},
		{env: " qa ", environment: "qa", want: "qa"},
		{},
		{env: "prod-eu", environment: "prod-us", err: `--env "prod-eu" and --environment "prod-us" name different environments`},
	}
	for _, tt := range tests {
		got, err := chain.ChooseEnvironment(tt.env, tt.environment)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tt.want, got, "%q/%q", tt.env, tt.environment)
	}
}

// multiProd is the sample with its prod split in two production environments that promote
// from preprod: a fixture, so the sample stays small.
func multiProd(t *testing.T) string {
	t.Helper()
	s := sampleConfig(t)
	i := strings.Index(s, "  prod:\n")
	require.Positive(t, i)
	prod := s[i:]
	us := strings.ReplaceAll(strings.Replace(prod, "  prod:\n", "  prod-us:\n", 1), "eu-west-1", "us-east-1")
	return s[:i] + strings.Replace(prod, "  prod:\n", "  prod-eu:\n", 1) + "\n" + us
}

// Every function acts on the environments the file names, picked by --env or --environment;
// unknown or conflicting names are bad input before any AWS call.
func TestEnvironmentsAreTheFilesNames(t *testing.T) {
	tests := []struct {
		name        string
		env         string // the function's --env
		environment string // the module's --environment
		headline    string
		want        string
	}{
		{name: "--environment alone", environment: "prod-us", headline: "**REFUSED: nothing was deployed**", want: "approval"},
		{name: "both agree", env: "prod-eu", environment: "prod-eu", headline: "**REFUSED: nothing was deployed**", want: "approval"},
		{name: "both disagree", env: "prod-eu", environment: "prod-us", headline: "**BAD INPUT: nothing was deployed**",
			want: `--env "prod-eu" and --environment "prod-us" name different environments`},
		{name: "unknown name", env: "prod", headline: "**BAD INPUT: nothing was deployed**",
			want: `fargate.yaml:57: environments: environment "prod" is not defined (expected one of: local, preprod, prod-eu, prod-us)`},
		{name: "none", headline: "**BAD INPUT: nothing was deployed**",
			want: "fargate.yaml:57: environments: no environment given (expected one of: local, preprod, prod-eu, prod-us)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.files["fargate.yaml"] = multiProd(t)
			w.s.Environment = tt.environment
			out, err := w.s.Deploy(t.Context(), chain.DeployRequest{Env: tt.env})
			require.Error(t, err)
			rep := reportOf(out, err)
			assert.Equal(t, tt.headline, headline(t, rep))
			assert.Contains(t, rep, tt.want)
			assert.Empty(t, w.mutations(), "nothing changed in AWS")
			if tt.env == "" && tt.environment != "" {
				assert.Contains(t, rep, "## Deploy to "+tt.environment, "the report names the environment --environment chose")
			}
		})
	}

	w := newWorld(t)
	w.files["fargate.yaml"] = multiProd(t)
	summary, err := w.s.Environments(t.Context())
	require.NoError(t, err)
	var order []string
	for _, l := range strings.Split(summary, "\n")[1:] {
		if f := strings.Fields(l); len(f) > 0 {
			order = append(order, f[0])
		}
	}
	assert.Equal(t, []string{"local", "preprod", "prod-eu", "prod-us"}, order, "sources before targets, then by name")
	assert.Contains(t, summary, "production", "each prod says it is production")

	// Functions with a default environment take it from the file, not from a name.
	w.s.Environment = "prod-us"
	data, err := w.s.Render(t.Context(), "", "example.com/app@sha256:"+strings.Repeat("1", 64))
	require.NoError(t, err)
	assert.Contains(t, string(data), `"family": "sample-app-prod"`)
}

// A production environment's stack gets termination protection; a stack is not protected
// for being called prod.
func TestInfraTerminationProtectionFollowsProduction(t *testing.T) {
	for _, production := range []bool{true, false} {
		w := newWorld(t)
		cfn := cfnfake.New(w.srv)
		if !production {
			w.files["fargate.yaml"] = strings.Replace(sampleConfig(t), "    production: true", "    production: false", 1)
		}
		w.caller = prodAccount
		_, err := w.s.Infra(t.Context(), chain.InfraOptions{Env: "prod", Parameters: []string{
			"CertificateArn=arn:aws:acm:eu-west-1:444455556666:certificate/0b1c2d3e", "DesiredCount=0",
			"ContainerImage=444455556666.dkr.ecr.eu-west-1.amazonaws.com/sample-app@sha256:" + strings.Repeat("a", 64)}})
		require.NoError(t, err)
		assert.Equal(t, production, cfn.TerminationProtected("sample-app-prod"), "production: %v", production)
	}
}
