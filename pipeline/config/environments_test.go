package config_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/config"
)

// awsEnv is one AWS environment of a test file; extra lines are indented under it.
func awsEnv(name string, extra ...string) string {
	s := fmt.Sprintf("  %s:\n    region: eu-west-1\n    cluster: %s\n    service: app\n    taskDefinition: ecs/%s.json\n    container: app\n", name, name, name)
	for _, e := range extra {
		s += "    " + e + "\n"
	}
	return s
}

func envFile(envs ...string) string {
	return "app:\n  name: checkout\nregistry:\n  repository: checkout\nenvironments:\n" + strings.Join(envs, "")
}

// Issue #18: environments are the team's: any DNS-label name, several production
// environments promoting from one source, ordered by promotion then name.
func TestEnvironmentsAreTheUsers(t *testing.T) {
	tests := []struct {
		name        string
		src         string
		order       []string
		production  []string
		defaultEnv  string
		unknownName string
		unknownErr  string
	}{
		{
			name: "prod-eu and prod-us promote from staging",
			src: envFile(
				awsEnv("prod-us", "production: true", "approval: true", "promoteFrom: staging"),
				awsEnv("staging", "promoteFrom: dev"),
				awsEnv("prod-eu", "production: true", "approval: true", "promoteFrom: staging"),
				awsEnv("dev"),
				awsEnv("qa"),
			),
			order:       []string{"dev", "qa", "staging", "prod-eu", "prod-us"},
			production:  []string{"prod-eu", "prod-us"},
			defaultEnv:  "dev",
			unknownName: "prod",
			unknownErr:  `envs.yaml:5: environments: environment "prod" is not defined (expected one of: dev, qa, staging, prod-eu, prod-us)`,
		},
		{
			name: "production is a property, not a name",
			src: envFile(
				awsEnv("live", "production: true", "promoteFrom: prod"),
				awsEnv("prod"),
			),
			order:       []string{"prod", "live"},
			production:  []string{"live"},
			defaultEnv:  "prod",
			unknownName: "",
			unknownErr:  `envs.yaml:5: environments: no environment given (expected one of: prod, live)`,
		},
		{
			name:        "local is the no-AWS run and sorts by name",
			src:         envFile(awsEnv("a-first"), "  local:\n    taskDefinition: ecs/l.json\n    container: app\n"),
			order:       []string{"a-first", "local"},
			defaultEnv:  "a-first",
			unknownName: "Local",
			unknownErr:  `environment "Local" is not defined (expected one of: a-first, local)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := config.Parse("envs.yaml", []byte(tt.src))
			require.NoError(t, err)
			assert.Equal(t, tt.order, f.EnvironmentNames())
			var prod []string
			for _, n := range f.EnvironmentNames() {
				e, err := f.Environment(n)
				require.NoError(t, err)
				if e.Production {
					prod = append(prod, n)
				}
			}
			assert.Equal(t, tt.production, prod)
			assert.Equal(t, tt.defaultEnv, f.DefaultBuildEnvironment())
			_, err = f.Environment(tt.unknownName)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.unknownErr)
		})
	}
}

// A promotion that cannot start anywhere is bad input, whatever the length of the cycle.
func TestPromotionMustStartSomewhere(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"two-cycle", envFile(awsEnv("a", "promoteFrom: b"), awsEnv("b", "promoteFrom: a")),
			[]string{"envs.yaml:12: environments.a.promoteFrom: promotion cycle: a ← b ← a"}},
		{"three-cycle", envFile(awsEnv("qa", "promoteFrom: prod"), awsEnv("staging", "promoteFrom: qa"), awsEnv("prod", "promoteFrom: staging"), awsEnv("dev")),
			[]string{"environments.prod.promoteFrom: promotion cycle: prod ← staging ← qa ← prod"}},
		{"four-cycle with a tail", envFile(awsEnv("a", "promoteFrom: d"), awsEnv("b", "promoteFrom: a"), awsEnv("c", "promoteFrom: b"), awsEnv("d", "promoteFrom: c"), awsEnv("e", "promoteFrom: a")),
			[]string{"environments.a.promoteFrom: promotion cycle: a ← d ← c ← b ← a"}},
		{"from itself", envFile(awsEnv("dev", "promoteFrom: dev")), []string{"environments.dev.promoteFrom: an environment cannot promote from itself"}},
		{"from unknown", envFile(awsEnv("dev"), awsEnv("prod-eu", "promoteFrom: stagin")),
			[]string{`environments.prod-eu.promoteFrom: environment "stagin" is not defined (expected one of: dev, prod-eu)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("envs.yaml", []byte(tt.src))
			var cfgErr *config.Error
			require.True(t, errors.As(err, &cfgErr), "%v", err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Len(t, cfgErr.Problems, 1, "one problem per cycle: %v", err)
		})
	}
}

func TestEnvironmentNamesAreDNSLabels(t *testing.T) {
	for name, ok := range map[string]bool{"dev": true, "prod-eu": true, "qa2": true, "x": true, "Prod": false, "prod_eu": false, "-dev": false, "dev-": false, strings.Repeat("a", 64): false} {
		_, err := config.Parse("envs.yaml", []byte(envFile(awsEnv(name))))
		if ok {
			assert.NoError(t, err, name)
			continue
		}
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), fmt.Sprintf("environments.%s: %q is not an environment name (expected a DNS label", name, name))
	}
}

// ECS Exec is refused by the production property, whatever the name.
func TestExecEnabledFollowsProduction(t *testing.T) {
	_, err := config.Parse("envs.yaml", []byte(envFile(awsEnv("prod", "execEnabled: true"))))
	require.NoError(t, err, "a prod not marked production is not production")
	_, err = config.Parse("envs.yaml", []byte(envFile(awsEnv("live-eu", "execEnabled: true", "production: true"))))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "environments.live-eu.execEnabled: ECS Exec must stay off in a production environment")
}
