package infra

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation/ecs"
	"github.com/awslabs/goformation/v7/cloudformation/iam"
	"github.com/awslabs/goformation/v7/cloudformation/logs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/policy"
)

const serviceTemplate = "../../sample-app/infra/service.yaml"

func envParams(env string, extra map[string]string) map[string]string {
	p := map[string]string{
		"Environment":    env,
		"CertificateArn": "arn:aws:acm:eu-west-1:111122223333:certificate/0b1c2d3e",
		"ContainerImage": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/sample-app@sha256:" + strings.Repeat("a", 64),
		"DesiredCount":   "2",
		"GitHubOrg":      "example",
		"GitHubRepo":     "fargate",
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// loadService resolves the real template for params, as CheckTemplateInput does.
func loadService(t *testing.T, params map[string]string) *parsed {
	t.Helper()
	body, err := os.ReadFile(serviceTemplate)
	require.NoError(t, err)
	values, placeholders, err := resolveParameters(body, params)
	require.NoError(t, err)
	require.Empty(t, placeholders)
	p, err := parseTemplate(body, values)
	require.NoError(t, err)
	return p
}

func TestServiceTemplatePassesEveryCheck(t *testing.T) {
	body := readServiceTemplate(t)
	for _, tc := range []struct {
		name, env string
		params    map[string]string
	}{
		{"prod", "prod", envParams("prod", nil)},
		// ECS Exec requested in prod is ignored: the SSM wildcard must not appear.
		{"prod with exec requested", "prod", envParams("prod", map[string]string{"EnableExecuteCommand": "true"})},
		{"preprod", "preprod", envParams("preprod", nil)},
		{"prod canary", "prod", envParams("prod", map[string]string{"DeploymentStrategy": "CANARY"})},
		{"prod blue/green", "prod", envParams("prod", map[string]string{"DeploymentStrategy": "BLUE_GREEN"})},
		{"preprod with ECS Exec", "preprod", envParams("preprod", map[string]string{"EnableExecuteCommand": "true"})},
		{"existing OIDC provider", "preprod", envParams("preprod", map[string]string{
			"GitHubOidcProviderArn": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com",
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Empty(t, checkBody(t, body, tc.env, tc.params))
		})
	}
}

func TestServiceTemplateEnvironmentDifferences(t *testing.T) {
	prod := loadService(t, envParams("prod", map[string]string{"EnableExecuteCommand": "true"}))
	pre := loadService(t, envParams("preprod", map[string]string{"EnableExecuteCommand": "true"}))

	assert.Contains(t, prod.active(), "NatGatewayB", "a NAT gateway per AZ in prod")
	assert.NotContains(t, pre.active(), "NatGatewayB")

	svc := func(p *parsed) *ecs.Service { return p.Resources["Service"].(*ecs.Service) }
	require.NotNil(t, svc(prod).EnableExecuteCommand)
	assert.False(t, *svc(prod).EnableExecuteCommand, "ECS Exec stays off in prod")
	assert.True(t, *svc(pre).EnableExecuteCommand)
	assert.Empty(t, prod.Resources["TaskRole"].(*iam.Role).Policies)
	assert.NotEmpty(t, pre.Resources["TaskRole"].(*iam.Role).Policies)
	// The exec statement is a wildcard the default allowance rejects (proving it is absent in
	// prod, which passes FG-CFN-005); outside prod with ECS Exec on it is allowed.
	c := newChecker(pre, false, "", nil)
	for _, pol := range pre.Resources["TaskRole"].(*iam.Role).Policies {
		c.checkPolicyDoc("TaskRole", "TaskRole/"+pol.PolicyName, pol.PolicyDocument, policy.LeastPrivilegeOptions{})
	}
	assert.NotEmpty(t, c.hits)
	assert.Equal(t, policy.LeastPrivilegeOptions{ExecChannels: true}, newChecker(pre, false, "", nil).leastPrivilege())
	assert.Equal(t, policy.LeastPrivilegeOptions{}, newChecker(prod, true, "", nil).leastPrivilege())

	// Without an existing provider the template creates one; with one it trusts it.
	assert.Contains(t, pre.active(), "GitHubOidcProvider")
	existing := loadService(t, envParams("preprod", map[string]string{"GitHubOidcProviderArn": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}))
	assert.NotContains(t, existing.active(), "GitHubOidcProvider")
	trust := statements(existing.Resources["DeployRole"].(*iam.Role).AssumeRolePolicyDocument)[0]
	assert.Equal(t, "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com", trust["Principal"].(map[string]any)["Federated"])
}

func TestServiceTemplateMatchesPipelineNames(t *testing.T) {
	p := loadService(t, envParams("prod", nil))
	// Names the task definition JSON, the environments file and the signing config refer to.
	td := p.Resources["TaskDefinition"].(*ecs.TaskDefinition)
	assert.Equal(t, "sample-app-prod", *td.Family)
	c := td.ContainerDefinitions[0]
	assert.Equal(t, "app", c.Name)
	assert.Equal(t, "65532:65532", *c.User)
	assert.True(t, *c.ReadonlyRootFilesystem)
	assert.Equal(t, []string{"ALL"}, c.LinuxParameters.Capabilities.Drop)
	assert.Equal(t, "ref:AppLogGroup", c.LogConfiguration.Options["awslogs-group"])
	assert.Equal(t, "sample-app-prod", *p.Resources["Cluster"].(*ecs.Cluster).ClusterName)
	assert.Equal(t, "sample-app", *p.Resources["Service"].(*ecs.Service).ServiceName)
	assert.Equal(t, "sample-app-prod-task", *p.Resources["TaskRole"].(*iam.Role).RoleName)
	assert.Equal(t, "sample-app-prod-execution", *p.Resources["ExecutionRole"].(*iam.Role).RoleName)

	trust := statements(p.Resources["DeployRole"].(*iam.Role).AssumeRolePolicyDocument)[0]
	eq := trust["Condition"].(map[string]any)["StringEquals"].(map[string]any)
	assert.Equal(t, "repo:example/fargate:environment:prod", eq["token.actions.githubusercontent.com:sub"])

	gh := loadService(t, envParams("prod", map[string]string{"GitHubEnvironment": "production"}))
	trust = statements(gh.Resources["DeployRole"].(*iam.Role).AssumeRolePolicyDocument)[0]
	eq = trust["Condition"].(map[string]any)["StringEquals"].(map[string]any)
	assert.Equal(t, "repo:example/fargate:environment:production", eq["token.actions.githubusercontent.com:sub"])
}

func TestServiceTemplateFitsInline(t *testing.T) {
	body, err := os.ReadFile(serviceTemplate)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(body), MaxTemplateBody, "Apply sends the template inline")
}

func TestTemplatesDirectoryParses(t *testing.T) {
	// Every template under sample-app/infra parses with goformation (unknown properties are
	// errors there, so a typo in a property name fails here).
	files, err := filepath.Glob(filepath.Join(filepath.Dir(serviceTemplate), "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = CheckTemplateInput(TemplateInput{Path: f, Body: body, Params: envParams("preprod", nil), Env: "preprod"})
		assert.NoError(t, err, f)
	}
}

// More mutations of the real template than the one fixture per rule: each weakens one
// property and the rule must notice, which shows the checks see the real resources.
func TestChecksCatchMutatedServiceTemplate(t *testing.T) {
	body := readServiceTemplate(t)
	for _, tc := range []struct {
		rule, env, old, new, want string
	}{
		{RuleTemplateIAM, "prod", "Action: ecs:DescribeClusters\n                Resource: !GetAtt Cluster.Arn", "Action: ecs:DescribeClusters\n                Resource: \"*\"", "Resource \"*\" for ecs:DescribeClusters"},
		{RuleTemplateOIDC, "prod", "!Sub \"repo:${GitHubOrg}/${GitHubRepo}:environment:${Environment}\"", "!Sub \"repo:${GitHubOrg}/*\"", "is not one repository's environment"},
		{RuleTemplateSpot, "preprod", "          - {CapacityProvider: FARGATE_SPOT, Weight: 1}\n", "", "no Fargate Spot outside prod"},
		{RuleTemplateExec, "preprod", "EnableExecuteCommand: !If [ExecEnabled, true, false]", "EnableExecuteCommand: true", ""},
	} {
		t.Run(tc.rule+"/"+tc.env+"/"+tc.want, func(t *testing.T) {
			require.Equal(t, 1, strings.Count(body, tc.old), "mutation anchor must be unique: %q", tc.old)
			fs := checkBody(t, strings.Replace(body, tc.old, tc.new, 1), tc.env, envParams(tc.env, nil))
			if tc.want == "" {
				assert.NotContains(t, ruleIDs(fs), tc.rule, "ECS Exec is allowed outside prod")
				return
			}
			assert.Contains(t, messagesOf(fs, tc.rule), tc.want)
		})
	}
}

// The bootstrap task definition and the roles agree with the task definitions the pipeline
// registers (sample-app/ecs/<env>.taskdef.json): names, hardening, log group, and the
// execution role may read every secret they reference.
func TestServiceTemplateAgreesWithTaskDefinitionJSON(t *testing.T) {
	for _, env := range []string{"preprod", "prod"} {
		t.Run(env, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("../../sample-app/ecs", env+".taskdef.json"))
			if os.IsNotExist(err) {
				t.Skip("task definition JSON not written yet")
			}
			require.NoError(t, err)
			var td struct {
				Family, TaskRoleArn, ExecutionRoleArn, NetworkMode string
				ContainerDefinitions                               []struct {
					Name                   string
					User                   string
					ReadonlyRootFilesystem bool
					PortMappings           []struct {
						Name          string
						ContainerPort int
					}
					LinuxParameters  struct{ Capabilities struct{ Drop []string } }
					Secrets          []struct{ Name, ValueFrom string }
					LogConfiguration struct {
						LogDriver string
						Options   map[string]string
					}
				}
			}
			require.NoError(t, json.Unmarshal(raw, &td))
			p := loadService(t, envParams(env, nil))
			cfn := p.Resources["TaskDefinition"].(*ecs.TaskDefinition)
			assert.Equal(t, td.Family, *cfn.Family)
			assert.Equal(t, td.NetworkMode, *cfn.NetworkMode)
			roleName := func(arn string) string { _, n, _ := strings.Cut(arn, ":role/"); return n }
			assert.Equal(t, roleName(td.TaskRoleArn), *p.Resources["TaskRole"].(*iam.Role).RoleName)
			assert.Equal(t, roleName(td.ExecutionRoleArn), *p.Resources["ExecutionRole"].(*iam.Role).RoleName)

			require.Len(t, td.ContainerDefinitions, 1)
			j, c := td.ContainerDefinitions[0], cfn.ContainerDefinitions[0]
			assert.Equal(t, j.Name, c.Name)
			assert.Equal(t, j.User, *c.User)
			assert.Equal(t, j.ReadonlyRootFilesystem, *c.ReadonlyRootFilesystem)
			assert.Equal(t, j.LinuxParameters.Capabilities.Drop, c.LinuxParameters.Capabilities.Drop)
			require.Len(t, c.PortMappings, len(j.PortMappings))
			assert.Equal(t, j.PortMappings[0].Name, *c.PortMappings[0].Name, "Service Connect uses the port name")
			assert.Equal(t, j.PortMappings[0].ContainerPort, *c.PortMappings[0].ContainerPort)
			logGroup := p.Resources["AppLogGroup"].(*logs.LogGroup)
			assert.Equal(t, j.LogConfiguration.Options["awslogs-group"], *logGroup.LogGroupName)
			assert.Equal(t, "ref:AppLogGroup", c.LogConfiguration.Options["awslogs-group"])

			// Every secret the JSON references is readable by the execution role and within
			// the boundary; the account ID is the template's placeholder.
			exec := p.Resources["ExecutionRole"].(*iam.Role)
			boundary := p.Resources["TaskPermissionsBoundary"].(*iam.ManagedPolicy)
			for _, s := range j.Secrets {
				arn := accountRE.ReplaceAllString(s.ValueFrom, ":111122223333:")
				action := "secretsmanager:GetSecretValue"
				if strings.Contains(arn, ":ssm:") {
					action = "ssm:GetParameters"
				}
				assert.True(t, policy.GrantsActionOn(policyStatements(exec.Policies[0].PolicyDocument), action, arn), "execution role: %s on %s", action, arn)
				assert.True(t, policy.GrantsActionOn(policyStatements(boundary.PolicyDocument), action, arn), "boundary: %s on %s", action, arn)
			}
		})
	}
}

var accountRE = regexp.MustCompile(`:[0-9]{12}:`)

func TestServiceTemplateDeliveryWiring(t *testing.T) {
	canary := loadService(t, envParams("prod", map[string]string{"DeploymentStrategy": "CANARY"}))
	d := canary.delivery["Service"]
	assert.Equal(t, "CANARY", d.Strategy)
	require.Len(t, d.Advanced, 1)
	assert.Equal(t, map[string]any{
		"AlternateTargetGroupArn": "ref:GreenTargetGroup", "ProductionListenerRule": "ref:ProductionListenerRule",
		"TestListenerRule": "ref:TestListenerRule", "RoleArn": "getatt:EcsInfrastructureRole.Arn",
	}, d.Advanced[0])
	// The properties goformation does not know are gone from the typed parse, the rest stays.
	svc := canary.Resources["Service"].(*ecs.Service)
	require.NotNil(t, svc.DeploymentConfiguration.Alarms)
	assert.Equal(t, []string{"ref:ErrorRateAlarm", "ref:LatencyAlarm"}, svc.DeploymentConfiguration.Alarms.AlarmNames)
	assert.True(t, svc.DeploymentConfiguration.Alarms.Rollback)
	assert.Equal(t, "ref:TargetGroup", str(svc.LoadBalancers[0].TargetGroupArn))

	rolling := loadService(t, envParams("prod", nil))
	assert.Equal(t, "ROLLING", rolling.delivery["Service"].Strategy)
	assert.Nil(t, rolling.delivery["Service"].Advanced[0], "no advanced configuration on a rolling service")

	// The alarm names the environments file lists are the template's.
	body := readServiceTemplate(t)
	for _, name := range []string{`AlarmName: !Sub "${AppName}-${Environment}-5xx-rate"`, `AlarmName: !Sub "${AppName}-${Environment}-target-latency"`} {
		assert.Contains(t, body, name)
	}
	for _, out := range []string{"GreenTargetGroupArn:", "ProductionListenerRuleArn:", "TestListenerRuleArn:", "ECSInfrastructureRoleArn:"} {
		assert.Contains(t, body, "\n  "+out+"\n", "output %s", out)
	}
}

func TestStripNewerServiceProperties(t *testing.T) {
	body := []byte("Resources:\n  S:\n    Type: AWS::ECS::Service\n    Properties:\n      DeploymentConfiguration:\n        Strategy: !Ref X\n        BakeTimeInMinutes: 5\n        MaximumPercent: 200\n      LoadBalancers:\n        - {TargetGroupArn: !Ref Tg, AdvancedConfiguration: {RoleArn: r}}\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {Strategy: kept}\n")
	out, err := stripNewerServiceProperties(body)
	require.NoError(t, err)
	assert.NotContains(t, string(out), "BakeTimeInMinutes")
	assert.NotContains(t, string(out), "AdvancedConfiguration")
	assert.Contains(t, string(out), "MaximumPercent: 200")
	assert.Contains(t, string(out), "!Ref Tg")
	assert.Contains(t, string(out), "Strategy: kept", "only ECS services are touched")
	same, err := stripNewerServiceProperties([]byte("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n"))
	require.NoError(t, err)
	assert.Equal(t, "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n", string(same))
}
