package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/config"
)

const valid = `
app:
  name: checkout
registry:
  repository: team/checkout
environments:
  local:
    taskDefinition: ecs/preprod.json
    container: app
  preprod:
    region: eu-west-1
    accountId: "111122223333"
    cluster: c1
    service: s1
    taskDefinition: ecs/preprod.json
    container: app
  prod:
    region: eu-west-1
    cluster: c2
    service: s2
    taskDefinition: ecs/prod.json
    container: app
    production: true
    approval: true
    promoteFrom: preprod
    waitTimeout: 20m
`

func TestSampleAppFileLoads(t *testing.T) {
	f, err := config.Load("../../sample-app/fargate.yaml")
	require.NoError(t, err)
	assert.Equal(t, []string{"local", "preprod", "prod"}, f.EnvironmentNames())
	prod, err := f.Environment("prod")
	require.NoError(t, err)
	assert.True(t, prod.Approval)
	assert.True(t, prod.Production, "the sample's prod is production by its property")
	assert.Equal(t, "preprod", prod.PromoteFrom)
	assert.True(t, prod.CircuitBreakerEnabled())
	assert.Equal(t, "444455556666", prod.AccountID)
}

func TestDefaults(t *testing.T) {
	f, err := config.Parse("fargate.yaml", []byte(valid))
	require.NoError(t, err)
	assert.Equal(t, ".", f.App.Context)
	assert.Equal(t, "Dockerfile", f.App.Dockerfile)
	assert.Equal(t, []string{"linux/amd64"}, f.App.Platforms)
	assert.Equal(t, 8080, f.App.Port)
	assert.Equal(t, "/healthz", f.App.HealthPath)
	assert.Equal(t, 50, f.Registry.KeepImages)
	assert.Equal(t, config.SignKey, f.Signing.Mode)
	assert.Equal(t, []string{"CRITICAL", "HIGH"}, f.Scan.FailOn)
	assert.Equal(t, "high", f.Policy.Threshold)

	pre, err := f.Environment("preprod")
	require.NoError(t, err)
	assert.Equal(t, config.DefaultWaitTimeout, pre.Timeout())
	assert.True(t, pre.CircuitBreakerEnabled())
	assert.Equal(t, "preprod", pre.Name)
	prod, _ := f.Environment("prod")
	assert.Equal(t, 20*time.Minute, prod.Timeout())
	assert.Equal(t, config.DefaultWaitTimeout, pre.RollbackTimeout(), "the rollback wait defaults to the wait timeout")
	assert.Equal(t, 20*time.Minute, prod.RollbackTimeout())
	local, _ := f.Environment("local")
	assert.True(t, local.IsLocal())
	assert.False(t, pre.IsLocal())
}

func TestRollbackTimeout(t *testing.T) {
	f, err := config.Parse("fargate.yaml", []byte(strings.Replace(valid, "waitTimeout: 20m", "waitTimeout: 20m\n    rollbackTimeout: 45m", 1)))
	require.NoError(t, err)
	prod, err := f.Environment("prod")
	require.NoError(t, err)
	assert.Equal(t, 20*time.Minute, prod.Timeout())
	assert.Equal(t, 45*time.Minute, prod.RollbackTimeout())
}

func TestUnknownEnvironmentLookupListsDefined(t *testing.T) {
	f, err := config.Parse("fargate.yaml", []byte(valid))
	require.NoError(t, err)
	_, err = f.Environment("staging")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `fargate.yaml:6: environments: environment "staging" is not defined (expected one of: local, preprod, prod)`)
}

func TestEnvironmentScanOverride(t *testing.T) {
	src := strings.Replace(valid, "    waitTimeout: 20m\n", "    waitTimeout: 20m\n    scan:\n      failOn: [critical]\n", 1)
	f, err := config.Parse("fargate.yaml", []byte(src))
	require.NoError(t, err)
	prod, _ := f.Environment("prod")
	pre, _ := f.Environment("preprod")
	assert.Equal(t, []string{"CRITICAL"}, f.ScanGate(prod).FailOn)
	assert.Equal(t, []string{"CRITICAL", "HIGH"}, f.ScanGate(pre).FailOn)
}

// replace swaps one line of the valid file, so each case changes exactly one thing.
func replace(old, new string) string {
	if !strings.Contains(valid, old) {
		panic("fixture does not contain " + old)
	}
	return strings.Replace(valid, old, new, 1)
}

func TestBadFiles(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // every substring must appear in the error
	}{
		{"not yaml", "app: [unclosed", []string{"envs.yaml", "not valid YAML"}},
		{"empty", "", []string{"envs.yaml", "the file is empty"}},
		{"top level list", "- a\n- b\n", []string{"(top level)", "expected a mapping"}},
		{"unknown top-level key", valid + "extras: 1\n", []string{`envs.yaml:27: extras: unknown key "extras"`, "expected one of: app, registry, signing, scan, policy, environments"}},
		{"unknown environment key (typo)", replace("    region: eu-west-1\n    accountId", "    regoin: eu-west-1\n    accountId"),
			[]string{`envs.yaml:11: environments.preprod.regoin: unknown key "regoin"`, "region, accountId"}},
		{"environment name not a DNS label", replace("  prod:\n", "  Prod_EU:\n"),
			[]string{`environments.Prod_EU: "Prod_EU" is not an environment name (expected a DNS label`, config.EnvironmentNamePattern}},
		{"missing app name", replace("  name: checkout\n", ""), []string{"app.name: required"}},
		{"missing repository", replace("  repository: team/checkout\n", ""), []string{"registry.repository: required"}},
		{"bad repository", replace("team/checkout", "Team/Checkout"), []string{`registry.repository: "Team/Checkout" is not a valid ECR repository name`}},
		{"missing cluster", replace("    cluster: c1\n", ""), []string{"environments.preprod.cluster: required"}},
		{"missing container", replace("    taskDefinition: ecs/prod.json\n    container: app\n", "    taskDefinition: ecs/prod.json\n"), []string{"environments.prod.container: required"}},
		{"missing task definition", replace("    taskDefinition: ecs/prod.json\n", ""), []string{"environments.prod.taskDefinition: required"}},
		{"malformed region", replace("    region: eu-west-1\n    accountId", "    region: eu-west\n    accountId"),
			[]string{`envs.yaml:11: environments.preprod.region: "eu-west" is not an AWS region (expected e.g. eu-west-1)`}},
		{"malformed account", replace(`"111122223333"`, `"1111-2222-3333"`),
			[]string{`environments.preprod.accountId: "1111-2222-3333" is not an AWS account ID (expected 12 digits, quoted)`}},
		{"short account", replace(`"111122223333"`, `12345`), []string{`"12345" is not an AWS account ID`}},
		{"malformed duration", replace("waitTimeout: 20m", "waitTimeout: twenty minutes"),
			[]string{`environments.prod.waitTimeout`, `"twenty minutes" is not a duration (expected e.g. 90s, 15m, 1h)`}},
		{"duration out of range", replace("waitTimeout: 20m", "waitTimeout: 5s"), []string{"environments.prod.waitTimeout: 5s is out of range (expected between 30s and 3h)"}},
		{"malformed rollback timeout", replace("waitTimeout: 20m", "waitTimeout: 20m\n    rollbackTimeout: soon"),
			[]string{`envs.yaml:27: environments.prod.rollbackTimeout`, `"soon" is not a duration (expected e.g. 90s, 15m, 1h)`}},
		{"rollback timeout out of range", replace("waitTimeout: 20m", "waitTimeout: 20m\n    rollbackTimeout: 10s"),
			[]string{"envs.yaml:27: environments.prod.rollbackTimeout: 10s is out of range (expected between 30s and 3h)"}},
		{"wrong type", replace("    approval: true\n", "    approval: sometimes\n"), []string{"environments.prod.approval", "as true or false"}},
		{"list where map", replace("  name: checkout\n", "  name: [a, b]\n"), []string{"app.name: expected a single value, got a list"}},
		{"scalar where list", replace("  name: checkout\n", "  name: checkout\n  platforms: linux/amd64\n"), []string{"app.platforms: expected a list, got"}},
		{"scalar where section", valid + "policy: strict\n", []string{"policy: expected a mapping of keys to values, got"}},
		{"list where environments", replace("environments:\n", "environments: [preprod]\nx:\n"), []string{"environments: expected a mapping, got a list"}},
		{"promote from undefined", replace("promoteFrom: preprod", "promoteFrom: qa"), []string{`environments.prod.promoteFrom: environment "qa" is not defined`}},
		{"promote from self", replace("promoteFrom: preprod", "promoteFrom: prod"), []string{"cannot promote from itself"}},
		{"promote from local", replace("promoteFrom: preprod", "promoteFrom: local"), []string{"cannot promote from the local environment"}},
		{"bad platform", replace("  name: checkout\n", "  name: checkout\n  platforms: [linux/386]\n"), []string{`app.platforms[0]: unknown platform "linux/386"`}},
		{"bad severity", valid + "scan:\n  failOn: [CRITICAL, SEVERE]\n", []string{`scan.failOn[1]: unknown severity "SEVERE" (expected one of: CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN)`}},
		{"bad threshold", valid + "policy:\n  threshold: urgent\n", []string{`policy.threshold: unknown severity "urgent"`}},
		{"bad signing mode", valid + "signing:\n  mode: gpg\n", []string{`signing.mode: unknown signing mode "gpg" (expected one of: key, kms, keyless)`}},
		{"kms uri with two slashes", valid + "signing:\n  mode: kms\n  kmsKey: awskms://alias/x\n", []string{"signing.kmsKey", "awskms:///alias/NAME"}},
		{"keyless without identity", valid + "signing:\n  mode: keyless\n  certificateOidcIssuer: https://token.actions.githubusercontent.com\n", []string{"signing.certificateIdentity: required"}},
		{"suppression without reason or expiry", valid + "policy:\n  suppressions:\n    - rule: FG-TD-005\n      resource: app\n", []string{"policy.suppressions[0].reason: required", "policy.suppressions[0].expires: required"}},
		{"suppression bad date", valid + "policy:\n  suppressions:\n    - {rule: FG-TD-005, resource: app, reason: r, expires: next-week}\n", []string{`"next-week" is not a date (expected YYYY-MM-DD)`}},
		{"suppression bad rule", valid + "policy:\n  suppressions:\n    - {rule: td5, resource: app, reason: r, expires: 2027-01-01}\n", []string{`policy.suppressions[0].rule: "td5" is not a rule ID`}},
		{"absolute path", replace("taskDefinition: ecs/prod.json", "taskDefinition: /etc/prod.json"), []string{"environments.prod.taskDefinition", "must be a relative path"}},
		{"escaping path", replace("taskDefinition: ecs/prod.json", "taskDefinition: ../other/prod.json"), []string{"must be a relative path"}},
		{"exec in prod", replace("    approval: true\n", "    approval: true\n    execEnabled: true\n"), []string{"environments.prod.execEnabled: ECS Exec must stay off in a production environment"}},
		{"local production", replace("    container: app\n  preprod:", "    container: app\n    production: true\n  preprod:"), []string{"environments.local.production: the local environment runs without AWS"}},
		{"local with aws fields", replace("    taskDefinition: ecs/preprod.json\n    container: app\n  preprod", "    taskDefinition: ecs/preprod.json\n    container: app\n    cluster: c1\n  preprod"),
			[]string{"environments.local.cluster: not used by the local environment"}},
		{"bad tag key", replace("    approval: true\n", "    approval: true\n    tags: {\"aws:owner\": x}\n"), []string{"environments.prod.tags.aws:owner", "not a valid tag key"}},
		{"no environments", "app: {name: a}\nregistry: {repository: a1}\n", []string{"environments: required"}},
		{"bad subnet", replace("    approval: true\n", "    approval: true\n    network: {subnets: [subnet-x]}\n"), []string{`environments.prod.network.subnets[0]: "subnet-x" is not a subnet ID`}},
		{"bad stack name", replace("    approval: true\n", "    approval: true\n    infra: {template: infra/service.yaml, stackName: 1bad}\n"), []string{`environments.prod.infra.stackName: "1bad" is not a CloudFormation stack name`}},
		{"bad iam role", valid + "policy:\n  iamPolicies:\n    - {file: iam/x.json, role: admin}\n", []string{`policy.iamPolicies[0].role: unknown role "admin" (expected task, execution, trust or other)`}},
		{"iam policy without file", valid + "policy:\n  iamPolicies:\n    - {role: task}\n", []string{"policy.iamPolicies[0].file: required"}},
		{"duplicate key", replace("    cluster: c1\n", "    cluster: c1\n    cluster: c3\n"), []string{"environments.preprod.cluster"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := config.Parse("envs.yaml", []byte(tt.src))
			require.Error(t, err)
			assert.Nil(t, f)
			var cfgErr *config.Error
			require.True(t, errors.As(err, &cfgErr), "error type %T", err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestAllProblemsReportedInLineOrder(t *testing.T) {
	src := replace(`"111122223333"`, `"x"`)
	src = strings.Replace(src, "waitTimeout: 20m", "waitTimeout: 1s", 1)
	_, err := config.Parse("envs.yaml", []byte(src))
	var cfgErr *config.Error
	require.True(t, errors.As(err, &cfgErr))
	require.Len(t, cfgErr.Problems, 2)
	assert.Equal(t, "environments.preprod.accountId", cfgErr.Problems[0].Field)
	assert.Equal(t, "environments.prod.waitTimeout", cfgErr.Problems[1].Field)
	assert.Less(t, cfgErr.Problems[0].Line, cfgErr.Problems[1].Line)
}

func TestResolve(t *testing.T) {
	tests := []struct{ config, rel, want string }{
		{"fargate.yaml", "ecs/prod.json", "ecs/prod.json"},
		{"fargate.yaml", ".", "."},
		{"deploy/fargate.yaml", "ecs/prod.json", "deploy/ecs/prod.json"},
		{"deploy/fargate.yaml", ".", "deploy"},
		{"deploy/fargate.yaml", "./Dockerfile", "deploy/Dockerfile"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, config.Resolve(tt.config, tt.rel), tt.config+" + "+tt.rel)
	}
}
