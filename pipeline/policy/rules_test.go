package policy

import (
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/require"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return b
}

// goodTaskDef returns the hardened fixture, parsed fresh for each mutation.
func goodTaskDef(t testing.TB) (*ecstypes.TaskDefinition, []ecstypes.Tag) {
	t.Helper()
	td, tags, err := ParseTaskDefinition(readTestdata(t, "hardened.taskdef.json"))
	require.NoError(t, err)
	return td, tags
}

var testRequiredTags = []string{"env", "owner"}

func tdFindings(t testing.TB, mutate func(td *ecstypes.TaskDefinition, tags *[]ecstypes.Tag)) []Finding {
	td, tags := goodTaskDef(t)
	if mutate != nil {
		mutate(td, &tags)
	}
	return TaskDefinitionFindings(td, tags, testRequiredTags, Location{})
}

func goodService() ecstypes.Service {
	return ecstypes.Service{
		ServiceName:     aws.String("web"),
		ClusterArn:      aws.String("arn:aws:ecs:eu-west-1:123456789012:cluster/prod"),
		LaunchType:      ecstypes.LaunchTypeFargate,
		PlatformVersion: aws.String("LATEST"),
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{
			Subnets: []string{"subnet-a"}, SecurityGroups: []string{"sg-task"}, AssignPublicIp: ecstypes.AssignPublicIpDisabled}},
		DeploymentConfiguration: &ecstypes.DeploymentConfiguration{DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: true, Rollback: true},
			Alarms: &ecstypes.DeploymentAlarms{AlarmNames: []string{"web-5xx"}, Enable: true, Rollback: true}},
		LoadBalancers:     []ecstypes.LoadBalancer{{TargetGroupArn: aws.String("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/abc"), ContainerName: aws.String("web"), ContainerPort: aws.Int32(8080)}},
		ServiceRegistries: []ecstypes.ServiceRegistry{{RegistryArn: aws.String("arn:aws:servicediscovery:eu-west-1:123456789012:service/srv-1")}},
		PropagateTags:     ecstypes.PropagateTagsService,
		Tags:              []ecstypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("owner"), Value: aws.String("platform")}},
	}
}

func goodNetwork() *NetworkFacts {
	return &NetworkFacts{
		Subnets: []SubnetFacts{{ID: "subnet-a", RouteTableID: "rtb-private"}},
		SecurityGroups: []SecurityGroupFacts{{ID: "sg-task", Ingress: []IngressFacts{
			{Protocol: "tcp", FromPort: 8080, ToPort: 8080, SourceGroups: []string{"sg-lb"}},
		}}},
		LoadBalancerSecurityGroups: []string{"sg-lb"},
	}
}

func svcFindings(env string, mutate func(s *ecstypes.Service, n *NetworkFacts)) []Finding {
	s, n := goodService(), goodNetwork()
	if mutate != nil {
		mutate(&s, n)
	}
	// The fixtures' "prod" is marked production, as the environments file would say;
	// any other name is not.
	return ServiceFindings(s, n, ServiceOptions{Env: env, Production: env == "prod", RequiredTags: testRequiredTags, ExpectServiceDiscovery: true})
}

func goodCluster() ecstypes.Cluster {
	return ecstypes.Cluster{ClusterName: aws.String("prod"), ClusterArn: aws.String("arn:aws:ecs:eu-west-1:123456789012:cluster/prod"),
		Settings: []ecstypes.ClusterSetting{{Name: ecstypes.ClusterSettingNameContainerInsights, Value: aws.String("enhanced")}},
		Tags:     []ecstypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("owner"), Value: aws.String("x")}}}
}

func clFindings(mutate func(c *ecstypes.Cluster)) []Finding {
	c := goodCluster()
	if mutate != nil {
		mutate(&c)
	}
	return ClusterFindings(c, testRequiredTags)
}

func goodRepo() RepositoryFacts {
	return RepositoryFacts{
		Repository: ecrtypes.Repository{RepositoryName: aws.String("web"), RepositoryArn: aws.String("arn:aws:ecr:eu-west-1:123456789012:repository/web"),
			ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: true},
			ImageTagMutability:         ecrtypes.ImageTagMutabilityImmutable,
			EncryptionConfiguration:    &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeKms, KmsKey: aws.String("arn:aws:kms:eu-west-1:123456789012:key/1234")}},
		HasLifecyclePolicy: true,
	}
}

func repoFindings(mutate func(r *RepositoryFacts)) []Finding {
	r := goodRepo()
	if mutate != nil {
		mutate(&r)
	}
	return RepositoryFindings(r)
}

func dfFindings(t testing.TB, content string) []Finding {
	t.Helper()
	fs, err := DockerfileFindings("Dockerfile", []byte(content))
	require.NoError(t, err)
	return fs
}

const goodDockerfile = `ARG BASE=gcr.io/distroless/static:nonroot@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
FROM golang:1.26@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa AS build
RUN go build -o /out/app .
FROM ${BASE}
COPY --from=build /out/app /app
USER 10001
`

func iamFindings(t testing.TB, kind RoleKind, doc string, secrets ...string) []Finding {
	t.Helper()
	d, err := ParsePolicyDocument([]byte(doc))
	require.NoError(t, err)
	return PolicyFindings(d, kind, "iam/test", secrets, Location{})
}

const execRolePolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"},
 {"Effect":"Allow","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"],"Resource":"arn:aws:ecr:eu-west-1:123456789012:repository/web"},
 {"Effect":"Allow","Action":["logs:CreateLogStream","logs:PutLogEvents"],"Resource":"arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/web:*"},
 {"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:web/db-AbCdEf"},
 {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`

// passRolePolicy is a pipeline-like policy granting iam:PassRole on resource (JSON) with extra
// statement fields (e.g. a Condition).
func passRolePolicy(resource, extra string) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"Pass","Effect":"Allow","Action":"iam:PassRole","Resource":` + resource + extra + `}]}`
}

const goodGitHubCondition = `"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:sub":["repo:example/web:environment:prod","repo:example/web:ref:refs/heads/main"]}`

// gitHubTrust is a GitHub Actions OIDC trust policy with the given Condition operators.
func gitHubTrust(cond string) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"GitHub","Effect":"Allow",
 "Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},
 "Action":"sts:AssumeRoleWithWebIdentity","Condition":{` + cond + `}}]}`
}

// ruleFixture is a failing and a passing input for one rule.
type ruleFixture struct {
	fail, pass func(t *testing.T) []Finding
}

func ruleFixtures() map[string]ruleFixture {
	td := func(m func(*ecstypes.TaskDefinition, *[]ecstypes.Tag)) func(*testing.T) []Finding {
		return func(t *testing.T) []Finding { return tdFindings(t, m) }
	}
	c0 := func(f func(c *ecstypes.ContainerDefinition)) func(*testing.T) []Finding {
		return td(func(td *ecstypes.TaskDefinition, _ *[]ecstypes.Tag) { f(&td.ContainerDefinitions[0]) })
	}
	svc := func(env string, m func(*ecstypes.Service, *NetworkFacts)) func(*testing.T) []Finding {
		return func(*testing.T) []Finding { return svcFindings(env, m) }
	}
	cl := func(m func(*ecstypes.Cluster)) func(*testing.T) []Finding {
		return func(*testing.T) []Finding { return clFindings(m) }
	}
	repo := func(m func(*RepositoryFacts)) func(*testing.T) []Finding {
		return func(*testing.T) []Finding { return repoFindings(m) }
	}
	df := func(s string) func(*testing.T) []Finding {
		return func(t *testing.T) []Finding { return dfFindings(t, s) }
	}
	iam := func(kind RoleKind, doc string, secrets ...string) func(*testing.T) []Finding {
		return func(t *testing.T) []Finding { return iamFindings(t, kind, doc, secrets...) }
	}
	good := td(nil)
	return map[string]ruleFixture{
		"FG-TD-001": {fail: td(func(td *ecstypes.TaskDefinition, _ *[]ecstypes.Tag) { td.NetworkMode = ecstypes.NetworkModeHost }), pass: good},
		"FG-TD-002": {fail: td(func(td *ecstypes.TaskDefinition, _ *[]ecstypes.Tag) {
			td.RequiresCompatibilities = []ecstypes.Compatibility{ecstypes.CompatibilityEc2}
		}), pass: good},
		"FG-TD-003": {fail: c0(func(c *ecstypes.ContainerDefinition) { c.User = aws.String("0:0") }), pass: good},
		"FG-TD-004": {fail: c0(func(c *ecstypes.ContainerDefinition) { c.ReadonlyRootFilesystem = nil }), pass: good},
		"FG-TD-005": {fail: c0(func(c *ecstypes.ContainerDefinition) { c.Privileged = aws.Bool(true) }), pass: good},
		"FG-TD-006": {fail: c0(func(c *ecstypes.ContainerDefinition) { c.LinuxParameters.Capabilities.Drop = []string{"NET_RAW"} }), pass: good},
		"FG-TD-007": {fail: c0(func(c *ecstypes.ContainerDefinition) { c.LinuxParameters.Capabilities.Add = []string{"CAP_SYS_ADMIN"} }), pass: good},
		"FG-TD-008": {fail: td(func(td *ecstypes.TaskDefinition, _ *[]ecstypes.Tag) { td.PidMode = ecstypes.PidModeHost }), pass: good},
		"FG-TD-009": {fail: td(func(td *ecstypes.TaskDefinition, _ *[]ecstypes.Tag) { td.IpcMode = ecstypes.IpcModeHost }), pass: good},
		"FG-TD-010": {fail: td(func(td *ecstypes.TaskDefinition, _ *[]ecstypes.Tag) { td.Memory = nil }), pass: good},
		"FG-TD-011": {fail: c0(func(c *ecstypes.ContainerDefinition) { c.Memory = nil; c.MemoryReservation = aws.Int32(256) }), pass: good},
		"FG-TD-012": {fail: c0(func(c *ecstypes.ContainerDefinition) { c.LogConfiguration = &ecstypes.LogConfiguration{} }), pass: good},
		"FG-TD-013": {fail: c0(func(c *ecstypes.ContainerDefinition) {
			c.Environment = append(c.Environment, ecstypes.KeyValuePair{Name: aws.String("AWS_SECRET_ACCESS_KEY"), Value: aws.String("x")})
		}), pass: good},
		"FG-TD-014": {fail: c0(func(c *ecstypes.ContainerDefinition) {
			c.Environment = append(c.Environment, ecstypes.KeyValuePair{Name: aws.String("STRIPE_API_KEY"), Value: aws.String("sk_live_abc")})
		}), pass: good},
		"FG-TD-015": {fail: c0(func(c *ecstypes.ContainerDefinition) {
			c.Secrets = []ecstypes.Secret{{Name: aws.String("DB_PASSWORD"), ValueFrom: aws.String("hunter2 in plain text")}}
		}), pass: good},
		"FG-TD-016": {fail: td(func(td *ecstypes.TaskDefinition, _ *[]ecstypes.Tag) { td.TaskRoleArn = td.ExecutionRoleArn }), pass: good},
		"FG-TD-017": {fail: td(func(td *ecstypes.TaskDefinition, _ *[]ecstypes.Tag) {
			td.Volumes[0].EfsVolumeConfiguration.TransitEncryption = ecstypes.EFSTransitEncryptionDisabled
		}), pass: good},
		"FG-TD-018": {fail: c0(func(c *ecstypes.ContainerDefinition) { c.HealthCheck = nil }), pass: good},
		"FG-TD-019": {fail: td(func(_ *ecstypes.TaskDefinition, tags *[]ecstypes.Tag) { *tags = (*tags)[:1] }), pass: good},

		"FG-SVC-001": {fail: svc("prod", func(s *ecstypes.Service, _ *NetworkFacts) {
			s.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp = ecstypes.AssignPublicIpEnabled
		}), pass: svc("prod", nil)},
		"FG-SVC-002": {fail: svc("prod", func(_ *ecstypes.Service, n *NetworkFacts) { n.Subnets[0].InternetRoute = "igw-1" }), pass: svc("prod", nil)},
		"FG-SVC-003": {fail: svc("prod", func(_ *ecstypes.Service, n *NetworkFacts) {
			n.SecurityGroups[0].Ingress = append(n.SecurityGroups[0].Ingress, IngressFacts{Protocol: "tcp", FromPort: 8080, ToPort: 8080, CIDRs: []string{"0.0.0.0/0"}})
		}), pass: svc("prod", nil)},
		"FG-SVC-004": {fail: svc("prod", func(s *ecstypes.Service, _ *NetworkFacts) {
			s.DeploymentConfiguration.DeploymentCircuitBreaker.Rollback = false
		}), pass: svc("prod", nil)},
		"FG-SVC-005": {fail: svc("prod", func(s *ecstypes.Service, _ *NetworkFacts) { s.PlatformVersion = aws.String("1.3.0") }),
			pass: svc("prod", func(s *ecstypes.Service, _ *NetworkFacts) { s.PlatformVersion = aws.String("1.4.0") })},
		"FG-SVC-006": {fail: svc("prod", func(s *ecstypes.Service, _ *NetworkFacts) { s.EnableExecuteCommand = true }),
			pass: svc("preprod", func(s *ecstypes.Service, _ *NetworkFacts) { s.EnableExecuteCommand = true })},
		"FG-SVC-007": {fail: svc("prod", func(s *ecstypes.Service, _ *NetworkFacts) { s.LoadBalancers = nil }), pass: svc("prod", nil)},
		"FG-SVC-008": {fail: svc("prod", func(s *ecstypes.Service, _ *NetworkFacts) { s.ServiceRegistries = nil }), pass: svc("prod", nil)},
		"FG-SVC-009": {fail: svc("prod", func(s *ecstypes.Service, _ *NetworkFacts) { s.PropagateTags = ecstypes.PropagateTagsNone }), pass: svc("prod", nil)},
		"FG-SVC-010": {fail: svc("prod", func(s *ecstypes.Service, _ *NetworkFacts) { s.Tags = nil }), pass: svc("prod", nil)},
		"FG-SVC-011": {fail: svc("prod", func(s *ecstypes.Service, _ *NetworkFacts) { s.DeploymentConfiguration.Alarms = nil }),
			pass: svc("preprod", func(s *ecstypes.Service, _ *NetworkFacts) { s.DeploymentConfiguration.Alarms = nil })},
		"FG-SVC-012": {fail: svc("prod", func(s *ecstypes.Service, _ *NetworkFacts) { s.DeploymentConfiguration.Alarms.Rollback = false }), pass: svc("prod", nil)},
		"FG-SVC-013": {fail: svc("prod", func(s *ecstypes.Service, _ *NetworkFacts) {
			s.DeploymentConfiguration.Strategy = ecstypes.DeploymentStrategyBlueGreen
			s.LoadBalancers[0].AdvancedConfiguration = &ecstypes.AdvancedConfiguration{AlternateTargetGroupArn: aws.String("arn:tg/green")}
		}), pass: svc("prod", func(s *ecstypes.Service, _ *NetworkFacts) {
			s.DeploymentConfiguration.Strategy = ecstypes.DeploymentStrategyBlueGreen
			s.LoadBalancers[0].AdvancedConfiguration = &ecstypes.AdvancedConfiguration{AlternateTargetGroupArn: aws.String("arn:tg/green"), TestListenerRule: aws.String("arn:rule/test")}
		})},

		"FG-CL-001": {fail: cl(func(c *ecstypes.Cluster) { c.Settings[0].Value = aws.String("disabled") }), pass: cl(nil)},
		"FG-CL-002": {fail: cl(func(c *ecstypes.Cluster) { c.Tags = nil }), pass: cl(nil)},

		"FG-ECR-001": {fail: repo(func(r *RepositoryFacts) { r.Repository.ImageScanningConfiguration.ScanOnPush = false }),
			pass: repo(func(r *RepositoryFacts) {
				r.Repository.ImageScanningConfiguration.ScanOnPush = false
				r.RegistryScanning = &ecrtypes.RegistryScanningConfiguration{ScanType: ecrtypes.ScanTypeEnhanced, Rules: []ecrtypes.RegistryScanningRule{{
					ScanFrequency: ecrtypes.ScanFrequencyContinuousScan, RepositoryFilters: []ecrtypes.ScanningRepositoryFilter{{Filter: aws.String("w*"), FilterType: ecrtypes.ScanningRepositoryFilterTypeWildcard}}}}}
			})},
		"FG-ECR-002": {fail: repo(func(r *RepositoryFacts) { r.Repository.ImageTagMutability = ecrtypes.ImageTagMutabilityMutable }), pass: repo(nil)},
		"FG-ECR-003": {fail: repo(func(r *RepositoryFacts) { r.HasLifecyclePolicy = false }), pass: repo(nil)},
		"FG-ECR-004": {fail: repo(func(r *RepositoryFacts) {
			r.Repository.EncryptionConfiguration = &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeAes256}
		}), pass: repo(nil)},

		"FG-DF-001": {fail: df(strings.Replace(goodDockerfile, "USER 10001", "USER root:root", 1)), pass: df(goodDockerfile)},
		"FG-DF-002": {fail: df(strings.Replace(goodDockerfile, "@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "", 1)), pass: df(goodDockerfile)},
		"FG-DF-003": {fail: df("FROM scratch\nCOPY app /app\nUSER 1000\n"), pass: df(goodDockerfile)},
		"FG-DF-004": {fail: df(goodDockerfile + "ADD --chown=1000 https://example.com/tool.tgz /opt/\n"), pass: df(goodDockerfile + "ADD app.tgz /opt/\n")},
		"FG-DF-005": {fail: df(goodDockerfile + "ENV DB_PASSWORD=hunter2\n"), pass: df(goodDockerfile + "ARG NPM_TOKEN\nENV TOKEN_FILE=/run/secrets/t\n")},
		"FG-DF-006": {fail: df(strings.Replace(goodDockerfile, "RUN go build", "RUN apt-get update && sudo apt-get install -y git && go build", 1)), pass: df(goodDockerfile)},

		"FG-IAM-001": {fail: iam(RoleTask, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket/*"}}`),
			pass: iam(RoleTask, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::bucket/*"},{"Effect":"Deny","Action":"*","Resource":"*"}]}`)},
		"FG-IAM-002": {fail: iam(RoleTask, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorizationToken","ecr:BatchGetImage"],"Resource":"*"}]}`),
			pass: iam(RoleExecution, execRolePolicy)},
		"FG-IAM-003": {fail: iam(RoleTask, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"arn:aws:s3:::b"}]}`),
			pass: iam(RoleExecution, execRolePolicy)},
		"FG-IAM-004": {fail: iam(RoleExecution, strings.Replace(execRolePolicy, `"logs:PutLogEvents"]`, `"logs:PutLogEvents","s3:GetObject"]`, 1)),
			pass: iam(RoleExecution, execRolePolicy, "arn:aws:secretsmanager:eu-west-1:123456789012:secret:web/db-AbCdEf:password::")},

		"FG-IAM-005": {fail: iam(RoleOther, passRolePolicy(`"arn:aws:iam::123456789012:role/web-task"`, ``)),
			pass: iam(RoleOther, passRolePolicy(`"arn:aws:iam::123456789012:role/web-task"`, `,"Condition":{"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}`))},
		"FG-IAM-006": {fail: iam(RoleOther, passRolePolicy(`"*"`, `,"Condition":{"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}`)),
			pass: iam(RoleOther, passRolePolicy(`["arn:aws:iam::123456789012:role/web-task","arn:aws:iam::123456789012:role/web-execution"]`, `,"Condition":{"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}`))},
		"FG-IAM-007": {fail: iam(RoleTrust, gitHubTrust(`"StringEquals":{"token.actions.githubusercontent.com:sub":"repo:example/web:environment:prod"}`)),
			pass: iam(RoleTrust, gitHubTrust(goodGitHubCondition))},
		"FG-IAM-008": {fail: iam(RoleTrust, gitHubTrust(`"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}`)),
			pass: iam(RoleTrust, gitHubTrust(goodGitHubCondition))},
		"FG-IAM-009": {fail: iam(RoleTrust, gitHubTrust(`"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},"StringLike":{"token.actions.githubusercontent.com:sub":"repo:example/*"}`)),
			pass: iam(RoleTrust, gitHubTrust(`"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},"StringLike":{"token.actions.githubusercontent.com:sub":"repo:example/web:*"}`))},
		"FG-IAM-010": {fail: iam(RoleTrust, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`),
			pass: iam(RoleTrust, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}}]}`)},
		"FG-IAM-011": {fail: iam(RoleTask, `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/k"}]}`),
			pass: iam(RoleTask, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/k"}]}`)},

		RuleAuditReadFailed: {fail: func(*testing.T) []Finding {
			return []Finding{AuditReadFinding("cluster/prod", "ecs:DescribeClusters", nil)}
		}, pass: func(*testing.T) []Finding { return clFindings(nil) }},
	}
}

func rulesOf(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}

func TestEveryRuleHasFailingAndPassingFixture(t *testing.T) {
	fixtures := ruleFixtures()
	for _, r := range Rules() {
		if r.CheckedIn != "" {
			continue // fixtures live in the package that evaluates it (TestRulesCheckedElsewhere)
		}
		t.Run(r.ID, func(t *testing.T) {
			fx, ok := fixtures[r.ID]
			require.True(t, ok, "rule %s has no fixture pair", r.ID)
			fail := fx.fail(t)
			require.Contains(t, rulesOf(fail), r.ID, "failing fixture must trigger %s", r.ID)
			for _, f := range fail {
				if f.Rule == r.ID {
					require.Equal(t, r.Severity, f.Severity)
					require.Equal(t, r.Controls, f.Controls)
					require.NotEmpty(t, f.Message)
					require.Equal(t, r.Remediation, f.Remediation)
				}
			}
			require.NotContains(t, rulesOf(fx.pass(t)), r.ID, "passing fixture must not trigger %s", r.ID)
		})
	}
	for id := range fixtures {
		_, ok := LookupRule(id)
		require.True(t, ok, "fixture for unknown rule %s", id)
	}
}

func TestHardenedFixturesPassEveryRule(t *testing.T) {
	require.Empty(t, tdFindings(t, nil))
	require.Empty(t, svcFindings("prod", nil))
	require.Empty(t, clFindings(nil))
	require.Empty(t, repoFindings(nil))
	require.Empty(t, dfFindings(t, goodDockerfile))
	require.Empty(t, iamFindings(t, RoleExecution, execRolePolicy))
}

func TestRegistryIsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		require.False(t, seen[r.ID], "duplicate rule %s", r.ID)
		seen[r.ID] = true
		require.Regexp(t, `^FG-(TD|SVC|CL|ECR|DF|IAM|CFN|IAC|ACCT|AUDIT)-\d{3}$`, r.ID)
		require.NotEmpty(t, r.Title, r.ID)
		require.NotEmpty(t, r.Rationale, r.ID)
		require.NotEmpty(t, r.Remediation, r.ID)
		require.Contains(t, []Severity{Low, Medium, High, Critical}, r.Severity, r.ID)
	}
	// The controls the issue names are all anticipated by some rule.
	covered := map[string]bool{}
	for _, r := range Rules() {
		for _, c := range r.Controls {
			covered[c] = true
		}
	}
	for _, c := range []string{"ECS.2", "ECS.3", "ECS.4", "ECS.5", "ECS.8", "ECS.9", "ECS.10", "ECS.12", "ECS.13", "ECS.14", "ECS.15",
		"ECS.16", "ECS.17", "ECS.18", "ECS.20", "ECR.1", "ECR.2", "ECR.3", "ECR.5", "ecs-awsvpc-networking-enabled", "ecs-task-definition-memory-hard-limit"} {
		require.True(t, covered[c], "no rule maps to %s", c)
	}
}

// Rules evaluated in another package have no check here, and their fixtures are exercised
// there: pipeline/infra (TestEveryTemplateRuleHasFailingAndPassingFixture,
// TestIaCFindings) and pipeline/detectors (TestFindingsMatchTheRegistry).
func TestRulesCheckedElsewhere(t *testing.T) {
	want := map[string]string{"FG-CFN-": CheckedInInfra, "FG-IAC-": CheckedInInfra, "FG-ACCT-": CheckedInDetectors}
	counts := map[string]int{}
	for _, r := range Rules() {
		prefix := r.ID[:strings.LastIndex(r.ID, "-")+1]
		require.Equal(t, want[prefix], r.CheckedIn, "%s: CheckedIn", r.ID)
		require.NotEqual(t, r.Target == TargetCloudFormation || r.Target == TargetIaCScan || r.Target == TargetAccount, r.CheckedIn == "", r.ID)
		if r.CheckedIn == "" {
			continue
		}
		counts[prefix]++
		d := lookup(r.ID)
		require.True(t, d.td == nil && d.svc == nil && d.cl == nil && d.repo == nil && d.df == nil && d.iam == nil && d.trust == nil,
			"%s is evaluated in %s: it has no check function here", r.ID, r.CheckedIn)
	}
	require.Equal(t, map[string]int{"FG-CFN-": 33, "FG-IAC-": 1, "FG-ACCT-": 7}, counts)
	// Suppressions can name them.
	_, err := ParseSuppressions([]Suppression{
		{Rule: "FG-CFN-002", Resource: "template/infra/service.yaml#Service", Reason: "r", Expires: "2999-01-01"},
		{Rule: "FG-IAC-001", Resource: "service.yaml#AVD-AWS-0107", Reason: "r", Expires: "2999-01-01"},
		{Rule: "FG-ACCT-004", Resource: "*", Reason: "r", Expires: "2999-01-01"},
	})
	require.NoError(t, err)
}

func TestTaskDefinitionRuleDetails(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *ecstypes.ContainerDefinition)
		rule   string
		want   bool
	}{
		{"user root", func(c *ecstypes.ContainerDefinition) { c.User = aws.String("root") }, "FG-TD-003", true},
		{"user 0 with group", func(c *ecstypes.ContainerDefinition) { c.User = aws.String("0:1000") }, "FG-TD-003", true},
		{"user absent", func(c *ecstypes.ContainerDefinition) { c.User = nil }, "FG-TD-003", true},
		{"user non-root with root group", func(c *ecstypes.ContainerDefinition) { c.User = aws.String("1000:0") }, "FG-TD-003", false},
		{"user name", func(c *ecstypes.ContainerDefinition) { c.User = aws.String("app") }, "FG-TD-003", false},
		{"readonly false", func(c *ecstypes.ContainerDefinition) { c.ReadonlyRootFilesystem = aws.Bool(false) }, "FG-TD-004", true},
		{"no linuxParameters", func(c *ecstypes.ContainerDefinition) { c.LinuxParameters = nil }, "FG-TD-006", true},
		{"drop all lower case", func(c *ecstypes.ContainerDefinition) { c.LinuxParameters.Capabilities.Drop = []string{"all"} }, "FG-TD-006", false},
		{"add NET_ADMIN", func(c *ecstypes.ContainerDefinition) { c.LinuxParameters.Capabilities.Add = []string{"NET_ADMIN"} }, "FG-TD-007", true},
		{"add SYS_PTRACE", func(c *ecstypes.ContainerDefinition) { c.LinuxParameters.Capabilities.Add = []string{"SYS_PTRACE"} }, "FG-TD-007", true},
		{"add NET_BIND_SERVICE", func(c *ecstypes.ContainerDefinition) {
			c.LinuxParameters.Capabilities.Add = []string{"NET_BIND_SERVICE"}
		}, "FG-TD-007", false},
		{"no log config", func(c *ecstypes.ContainerDefinition) { c.LogConfiguration = nil }, "FG-TD-012", true},
		{"ECS_ENGINE_AUTH_DATA", func(c *ecstypes.ContainerDefinition) {
			c.Environment = []ecstypes.KeyValuePair{{Name: aws.String("ECS_ENGINE_AUTH_DATA"), Value: aws.String("{}")}}
		}, "FG-TD-013", true},
		{"access key value under innocent name", func(c *ecstypes.ContainerDefinition) {
			c.Environment = []ecstypes.KeyValuePair{{Name: aws.String("CONFIG"), Value: aws.String("AKIAABCDEFGHIJKLMNOP")}}
		}, "FG-TD-014", true},
		{"STS bearer token value under innocent name", func(c *ecstypes.ContainerDefinition) {
			c.Environment = []ecstypes.KeyValuePair{{Name: aws.String("CONFIG"), Value: aws.String("ABIAABCDEFGHIJKLMNOP")}}
		}, "FG-TD-014", true},
		{"PEM value", func(c *ecstypes.ContainerDefinition) {
			c.Environment = []ecstypes.KeyValuePair{{Name: aws.String("TLS"), Value: aws.String("-----BEGIN RSA PRIVATE KEY-----\nMIIE")}}
		}, "FG-TD-014", true},
		{"secret token name", func(c *ecstypes.ContainerDefinition) {
			c.Environment = []ecstypes.KeyValuePair{{Name: aws.String("GITHUB_TOKEN"), Value: aws.String("abc123")}}
		}, "FG-TD-014", true},
		{"client secret name", func(c *ecstypes.ContainerDefinition) {
			c.Environment = []ecstypes.KeyValuePair{{Name: aws.String("oauth_client_secret"), Value: aws.String("abc")}}
		}, "FG-TD-014", true},
		// One heuristic with the renderer (redact.SecretReason).
		{"digits-only password", func(c *ecstypes.ContainerDefinition) {
			c.Environment = []ecstypes.KeyValuePair{{Name: aws.String("DB_PASSWORD"), Value: aws.String("123456")}}
		}, "FG-TD-014", true},
		{"high-entropy value under innocent name", func(c *ecstypes.ContainerDefinition) {
			c.Environment = []ecstypes.KeyValuePair{{Name: aws.String("SIGNING"), Value: aws.String("q8Zr4Xw2LmN7vB1cK9sD3fG6hJ0pT5yU2iO8aE4rW7tY")}}
		}, "FG-TD-014", true},
		{"token value under a _FILE name", func(c *ecstypes.ContainerDefinition) {
			c.Environment = []ecstypes.KeyValuePair{{Name: aws.String("TOKEN_FILE"), Value: aws.String("ghp_abcdefghijklmnopqrstuvwxyz0123456789")}}
		}, "FG-TD-014", true},
		{"word under a _TTL name", func(c *ecstypes.ContainerDefinition) {
			c.Environment = []ecstypes.KeyValuePair{{Name: aws.String("TOKEN_TTL"), Value: aws.String("hunter2")}}
		}, "FG-TD-014", true},
		{"path under a _FILE name is fine", func(c *ecstypes.ContainerDefinition) {
			c.Environment = []ecstypes.KeyValuePair{{Name: aws.String("TOKEN_FILE"), Value: aws.String("/run/secrets/t")}}
		}, "FG-TD-014", false},
		{"session token is an AWS credential", func(c *ecstypes.ContainerDefinition) {
			c.Environment = []ecstypes.KeyValuePair{{Name: aws.String("AWS_SESSION_TOKEN"), Value: aws.String("FwoGZXIvYXdzEJr")}}
		}, "FG-TD-013", true},
		{"session token is not reported twice", func(c *ecstypes.ContainerDefinition) {
			c.Environment = []ecstypes.KeyValuePair{{Name: aws.String("AWS_SESSION_TOKEN"), Value: aws.String("FwoGZXIvYXdzEJr")}}
		}, "FG-TD-014", false},
		{"secret ARN reference is fine", func(c *ecstypes.ContainerDefinition) {
			c.Environment = []ecstypes.KeyValuePair{{Name: aws.String("DB_SECRET"), Value: aws.String("arn:aws:secretsmanager:eu-west-1:123456789012:secret:x")}}
		}, "FG-TD-014", false},
		{"ssm parameter ARN secret", func(c *ecstypes.ContainerDefinition) {
			c.Secrets = []ecstypes.Secret{{Name: aws.String("K"), ValueFrom: aws.String("arn:aws:ssm:eu-west-1:123456789012:parameter/app/k")}}
		}, "FG-TD-015", false},
		{"s3 ARN is not a secret store", func(c *ecstypes.ContainerDefinition) {
			c.Secrets = []ecstypes.Secret{{Name: aws.String("K"), ValueFrom: aws.String("arn:aws:s3:::bucket/key")}}
		}, "FG-TD-015", true},
		{"log secretOptions checked too", func(c *ecstypes.ContainerDefinition) {
			c.LogConfiguration.SecretOptions = []ecstypes.Secret{{Name: aws.String("apikey"), ValueFrom: aws.String("https://x")}}
		}, "FG-TD-015", true},
		{"non-essential without health check", func(c *ecstypes.ContainerDefinition) { c.Essential = aws.Bool(false); c.HealthCheck = nil }, "FG-TD-018", false},
		{"essential by default", func(c *ecstypes.ContainerDefinition) { c.Essential = nil; c.HealthCheck = nil }, "FG-TD-018", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := tdFindings(t, func(td *ecstypes.TaskDefinition, _ *[]ecstypes.Tag) { tt.mutate(&td.ContainerDefinitions[0]) })
			if tt.want {
				require.Contains(t, rulesOf(fs), tt.rule)
			} else {
				require.NotContains(t, rulesOf(fs), tt.rule)
			}
		})
	}
}

func TestTaskRoleRuleVariants(t *testing.T) {
	for name, m := range map[string]func(td *ecstypes.TaskDefinition){
		"no task role":      func(td *ecstypes.TaskDefinition) { td.TaskRoleArn = nil },
		"no execution role": func(td *ecstypes.TaskDefinition) { td.ExecutionRoleArn = nil },
		"neither":           func(td *ecstypes.TaskDefinition) { td.TaskRoleArn, td.ExecutionRoleArn = nil, nil },
	} {
		t.Run(name, func(t *testing.T) {
			fs := tdFindings(t, func(td *ecstypes.TaskDefinition, _ *[]ecstypes.Tag) { m(td) })
			require.Equal(t, []string{"FG-TD-016"}, rulesOf(fs))
		})
	}
}

func TestServiceRuleDetails(t *testing.T) {
	t.Run("security group source other than the load balancer", func(t *testing.T) {
		fs := svcFindings("prod", func(_ *ecstypes.Service, n *NetworkFacts) {
			n.SecurityGroups[0].Ingress[0].SourceGroups = []string{"sg-other"}
		})
		require.Equal(t, []string{"FG-SVC-003"}, rulesOf(fs))
	})
	t.Run("any security group source when the load balancer's is unknown", func(t *testing.T) {
		fs := svcFindings("prod", func(_ *ecstypes.Service, n *NetworkFacts) {
			n.LoadBalancerSecurityGroups = nil
			n.SecurityGroups[0].Ingress[0].SourceGroups = []string{"sg-other"}
		})
		require.Empty(t, fs)
	})
	t.Run("IPv6 and prefix lists", func(t *testing.T) {
		fs := svcFindings("prod", func(_ *ecstypes.Service, n *NetworkFacts) {
			n.SecurityGroups[0].Ingress = []IngressFacts{{Protocol: "-1", CIDRs: []string{"::/0"}, PrefixLists: []string{"pl-1"}}}
		})
		require.Equal(t, []string{"FG-SVC-003", "FG-SVC-003"}, rulesOf(fs))
		require.Contains(t, fs[0].Message+fs[1].Message, "all ports")
	})
	t.Run("circuit breaker off", func(t *testing.T) {
		fs := svcFindings("prod", func(s *ecstypes.Service, _ *NetworkFacts) { s.DeploymentConfiguration.DeploymentCircuitBreaker = nil })
		require.Equal(t, []string{"FG-SVC-004"}, rulesOf(fs))
	})
	t.Run("no deployment configuration at all", func(t *testing.T) {
		fs := svcFindings("prod", func(s *ecstypes.Service, _ *NetworkFacts) { s.DeploymentConfiguration = nil })
		require.Equal(t, []string{"FG-SVC-004", "FG-SVC-011"}, rulesOf(fs))
	})
	t.Run("CODE_DEPLOY controller has no circuit breaker", func(t *testing.T) {
		fs := svcFindings("prod", func(s *ecstypes.Service, _ *NetworkFacts) {
			s.DeploymentConfiguration = nil
			s.DeploymentController = &ecstypes.DeploymentController{Type: ecstypes.DeploymentControllerTypeCodeDeploy}
		})
		require.Empty(t, fs)
	})
	t.Run("task set with public IP", func(t *testing.T) {
		fs := svcFindings("prod", func(s *ecstypes.Service, _ *NetworkFacts) {
			s.TaskSets = []ecstypes.TaskSet{{NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{AssignPublicIp: ecstypes.AssignPublicIpEnabled}}}}
		})
		require.Equal(t, []string{"FG-SVC-001"}, rulesOf(fs))
	})
	t.Run("fargate via capacity provider, old platform", func(t *testing.T) {
		fs := svcFindings("prod", func(s *ecstypes.Service, _ *NetworkFacts) {
			s.LaunchType = ""
			s.CapacityProviderStrategy = []ecstypes.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE_SPOT")}}
			s.PlatformVersion = aws.String("1.3.0")
		})
		require.Equal(t, []string{"FG-SVC-005"}, rulesOf(fs))
	})
	t.Run("registry without ARN", func(t *testing.T) {
		fs := svcFindings("prod", func(s *ecstypes.Service, _ *NetworkFacts) { s.ServiceRegistries[0].RegistryArn = nil })
		require.Equal(t, []string{"FG-SVC-008"}, rulesOf(fs))
	})
	t.Run("production is the environment's property, not its name", func(t *testing.T) {
		s, n := goodService(), goodNetwork()
		s.EnableExecuteCommand = true
		s.DeploymentConfiguration.Alarms = nil
		for _, tt := range []struct {
			env        string
			production bool
			want       []string
		}{
			{"prod-eu", true, []string{"FG-SVC-006", "FG-SVC-011"}},
			{"live", true, []string{"FG-SVC-006", "FG-SVC-011"}},
			{"prod", false, nil},
			{"production", false, nil},
		} {
			fs := ServiceFindings(s, n, ServiceOptions{Env: tt.env, Production: tt.production, RequiredTags: testRequiredTags, ExpectServiceDiscovery: true})
			require.Equal(t, tt.want, rulesOf(fs), tt.env)
		}
	})
}

func TestServiceFactsSkipUnknown(t *testing.T) {
	// Only the facts the environments file knows are evaluated: nothing else may fail.
	r, err := Check(t.Context(), CheckInput{Service: &ServiceFacts{Name: "web"}, Env: "prod", Production: true, RequiredTags: []string{"env"}})
	require.NoError(t, err)
	require.Empty(t, r.Findings)

	f := false
	tr := true
	r, err = Check(t.Context(), CheckInput{Service: &ServiceFacts{Name: "web", AssignPublicIP: &tr, CircuitBreaker: &f, EnableExecuteCommand: &tr,
		LoadBalanced: &f, Tags: map[string]string{"owner": "x"}}, Env: "prod", Production: true, RequiredTags: []string{"env"}})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"FG-SVC-001", "FG-SVC-004", "FG-SVC-006", "FG-SVC-007", "FG-SVC-010"}, rulesOf(r.Findings))
	for _, f := range r.Findings {
		require.Equal(t, "service/web", f.Resource)
	}
}

func TestIAMRuleDetails(t *testing.T) {
	tests := []struct {
		name string
		kind RoleKind
		doc  string
		want []string
	}{
		{"star action and resource", RoleTask, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, []string{"FG-IAM-001", "FG-IAM-002", "FG-IAM-005", "FG-IAM-006"}},
		{"deny statements are ignored", RoleTask, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","NotResource":"*"}, {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/k"}]}`, nil},
		{"partial wildcard action", RoleTask, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::b/k"}]}`, []string{"FG-IAM-001"}},
		{"typed wildcard resource", RoleTask, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:*"}]}`, []string{"FG-IAM-002"}},
		{"log stream wildcard is scoped", RoleTask, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:PutLogEvents","Resource":"arn:aws:logs:eu-west-1:1:log-group:/ecs/web:*"}]}`, nil},
		{"exempt actions only", RoleTask, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorizationToken","xray:PutTraceSegments"],"Resource":"*"}]}`, nil},
		{"NotResource allow", RoleTask, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","NotResource":"arn:aws:s3:::b"}]}`, []string{"FG-IAM-003"}},
		{"execution role with AWS managed policy shape", RoleExecution, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorizationToken","ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer","ecr:BatchGetImage","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}`, []string{"FG-IAM-002"}},
		{"task role may do more", RoleTask, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:eu-west-1:1:table/t"}]}`, nil},
		{"execution role reading another secret", RoleExecution, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-AbCdEf"}]}`, []string{"FG-IAM-004"}},
		{"execution role reading its secret with ?????? suffix", RoleExecution, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:web/db-??????"}]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := iamFindings(t, tt.kind, tt.doc, "arn:aws:secretsmanager:eu-west-1:123456789012:secret:web/db-AbCdEf:password::")
			require.ElementsMatch(t, tt.want, rulesOf(fs))
		})
	}
}

func TestParsePolicyDocumentErrors(t *testing.T) {
	tests := map[string]string{
		"invalid JSON":                   `{"Statement": [`,
		"no statement":                   `{"Version":"2012-10-17"}`,
		"bad effect":                     `{"Statement":[{"Effect":"Permit","Action":"s3:GetObject","Resource":"*"}]}`,
		"action wrong type":              `{"Statement":[{"Effect":"Allow","Action":42,"Resource":"*"}]}`,
		"no action":                      `{"Statement":[{"Effect":"Allow","Resource":"*"}]}`,
		"unknown field":                  `{"Statement":[{"Effect":"Allow","Actions":"s3:GetObject","Resource":"*"}]}`,
		"statement string":               `{"Statement":"Allow everything"}`,
		"action not service:Action":      `{"Statement":[{"Effect":"Allow","Action":"GetObject","Resource":"*"}]}`,
		"action with two colons":         `{"Statement":[{"Effect":"Allow","Action":"s3:Get:Object","Resource":"*"}]}`,
		"neither resource nor principal": `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}`,
		"duplicate sid":                  `{"Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Sid":"A","Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}`,
		"principal string":               `{"Statement":[{"Effect":"Allow","Principal":"arn:aws:iam::1:root","Action":"sts:AssumeRole"}]}`,
		"principal wrong type":           `{"Statement":[{"Effect":"Allow","Principal":{"AWS":7},"Action":"sts:AssumeRole"}]}`,
		"condition not object":           `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":"yes"}]}`,
		"condition value object":         `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"k":{"a":1}}}}]}`,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParsePolicyDocument([]byte(doc))
			require.Error(t, err)
			require.Contains(t, err.Error(), "IAM policy document")
			if name == "action wrong type" {
				require.Contains(t, err.Error(), "Statement[0].Action: expected a string or a list of strings")
			}
			if name == "unknown field" {
				require.Contains(t, err.Error(), "Statement[0].Actions: unknown field")
			}
			wantParts := map[string]string{
				"action not service:Action":      `Statement[0]: action "GetObject" is not "service:Action"`,
				"neither resource nor principal": "Statement[0] has neither Resource nor Principal",
				"duplicate sid":                  `Statement[1].Sid "A" is also the Sid of Statement[0]`,
				"principal string":               "Statement[0].Principal: expected \"*\" or an object",
				"condition not object":           "Statement[0].Condition: expected an object of operators",
			}
			if want, ok := wantParts[name]; ok {
				require.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestPolicyStatementLines(t *testing.T) {
	content := readTestdata(t, "execution-role.json")
	doc, err := ParsePolicyDocument(content)
	require.NoError(t, err)
	require.Equal(t, []int{6, 12, 18, 24, 30, 36}, []int{doc.Statement[0].Line, doc.Statement[1].Line, doc.Statement[2].Line, doc.Statement[3].Line, doc.Statement[4].Line, doc.Statement[5].Line})
}
