package infra

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/policy"
	"dagger/fargate/pipeline/scan"
)

var testRequiredTags = []string{"env", "owner", "cost-center"}

func readServiceTemplate(t testing.TB) string {
	t.Helper()
	body, err := os.ReadFile(serviceTemplate)
	require.NoError(t, err)
	return string(body)
}

// checkBody runs CheckTemplateInput the way precheck does for the sample app.
func checkBody(t testing.TB, body, env string, params map[string]string) []policy.Finding {
	t.Helper()
	fs, err := CheckTemplateInput(TemplateInput{Path: "infra/service.yaml", Body: []byte(body), Params: params, Env: env,
		Production: env == "prod", HealthPath: "/healthz", RequiredTags: testRequiredTags}) // the sample's prod is production: true
	require.NoError(t, err)
	return fs
}

func ruleIDs(fs []policy.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}

func messagesOf(fs []policy.Finding, rule string) string {
	var out []string
	for _, f := range fs {
		if f.Rule == rule {
			out = append(out, f.Message)
		}
	}
	return strings.Join(out, "\n")
}

// templateFixture weakens the real template in one place (old → new, old unique) for env;
// the failing side must report the rule with want in a message, the unmodified template for
// the same environment must not report it.
type templateFixture struct {
	env, old, new, want string
	dropParam           string            // remove this parameter from the environment's values instead
	params              map[string]string // extra parameter values (both sides)
}

func templateFixtures() map[string]templateFixture {
	return map[string]templateFixture{
		RuleTemplateParameters:   {env: "prod", dropParam: "GitHubOrg", want: "parameters GitHubOrg have no default and no value"},
		RuleTemplatePublicIP:     {env: "prod", old: "AssignPublicIp: DISABLED", new: "AssignPublicIp: ENABLED", want: "Service: AssignPublicIp must be DISABLED"},
		RuleTemplateIngress:      {env: "prod", old: "ToPort: !Ref AppPort, SourceSecurityGroupId: !GetAtt AlbSecurityGroup.GroupId", new: "ToPort: !Ref AppPort, CidrIp: 10.0.0.0/8", want: "address range"},
		RuleTemplateALBEgress:    {env: "prod", old: "      DestinationSecurityGroupId: !GetAtt ServiceSecurityGroup.GroupId\n", new: "      CidrIp: 0.0.0.0/0\n", want: "AlbToService: egress goes elsewhere"},
		RuleTemplateIAM:          {env: "prod", old: "Action: ecs:DescribeTasks", new: "Action: ecs:*", want: `wildcard action "ecs:*"`},
		RuleTemplateBoundary:     {env: "prod", old: "      RoleName: !Sub \"${AppName}-${Environment}-task\"\n      PermissionsBoundary: !Ref TaskPermissionsBoundary\n", new: "      RoleName: !Sub \"${AppName}-${Environment}-task\"\n", want: "TaskRole: task role without a permissions boundary"},
		RuleTemplateKMSPolicy:    {env: "prod", old: `Principal: {Service: !Sub "logs.${AWS::Region}.amazonaws.com"}`, new: `Principal: {AWS: "*"}`, want: "LogsKey statement 1: open principal"},
		RuleTemplateKMSRotation:  {env: "prod", old: "CloudWatch Logs encryption\"\n      EnableKeyRotation: true", new: "CloudWatch Logs encryption\"\n      EnableKeyRotation: false", want: "LogsKey: symmetric key without rotation"},
		RuleTemplateLogRetention: {env: "prod", old: "/flow-logs\"\n      RetentionInDays: !Ref LogRetentionDays\n", new: "/flow-logs\"\n", want: "FlowLogGroup: no retention period"},
		RuleTemplateLogKMS: {env: "prod", old: "/ecs/${AppName}-${Environment}\"\n      RetentionInDays: !Ref LogRetentionDays\n      KmsKeyId: !GetAtt LogsKey.Arn\n",
			new: "/ecs/${AppName}-${Environment}\"\n      RetentionInDays: !Ref LogRetentionDays\n", want: "AppLogGroup: not encrypted"},
		RuleTemplateECRScan:      {env: "prod", old: "ScanOnPush: true", new: "ScanOnPush: false", want: "Repository: no scan on push"},
		RuleTemplateECRImmutable: {env: "prod", old: "ImageTagMutability: IMMUTABLE", new: "ImageTagMutability: MUTABLE", want: "Repository: tags are mutable"},
		RuleTemplateECRLifecycle: {env: "prod", old: `{"rules": [`, new: `{"rules": [[`, want: "Repository: no valid lifecycle policy"},
		RuleTemplateECRKMS:       {env: "prod", old: "{EncryptionType: KMS, KmsKey: !GetAtt EcrKey.Arn}", new: "{EncryptionType: AES256}", want: "Repository: not KMS-encrypted"},
		RuleTemplateRetained: {env: "prod", old: "  Repository:\n    Type: AWS::ECR::Repository\n    DeletionPolicy: Retain\n", new: "  Repository:\n    Type: AWS::ECR::Repository\n    DeletionPolicy: Delete\n",
			want: "Repository (AWS::ECR::Repository): DeletionPolicy and UpdateReplacePolicy must be Retain"},
		RuleTemplateCircuit:   {env: "prod", old: "DeploymentCircuitBreaker: {Enable: true, Rollback: true}", new: "DeploymentCircuitBreaker: {Enable: true, Rollback: false}", want: "circuit breaker with rollback is off"},
		RuleTemplatePlatform:  {env: "prod", old: "PlatformVersion: LATEST", new: "PlatformVersion: 1.3.0", want: `PlatformVersion "1.3.0", want LATEST`},
		RuleTemplateExec:      {env: "prod", old: "EnableExecuteCommand: !If [ExecEnabled, true, false]", new: "EnableExecuteCommand: true", want: "ECS Exec enabled in prod"},
		RuleTemplateSpot:      {env: "prod", old: "- - {CapacityProvider: FARGATE, Weight: 1}", new: "- - {CapacityProvider: FARGATE_SPOT, Weight: 1}", want: "Fargate Spot in prod"},
		RuleTemplatePropagate: {env: "prod", old: "PropagateTags: SERVICE", new: "PropagateTags: NONE", want: `PropagateTags "NONE", want SERVICE`},
		RuleTemplateDiscovery: {env: "prod", old: "      ServiceConnectConfiguration:\n        Enabled: true\n        Namespace: !GetAtt Namespace.Arn\n        Services:\n          - PortName: http\n            DiscoveryName: !Ref AppName\n            ClientAliases: [{Port: !Ref AppPort, DnsName: !Ref AppName}]\n",
			new: "", want: "neither Service Connect nor Cloud Map"},
		RuleTemplateInsights: {env: "prod", old: "{Name: containerInsights, Value: enhanced}", new: "{Name: containerInsights, Value: disabled}", want: "Container Insights is off"},
		RuleTemplateHTTPS: {env: "prod", old: "Port: 443\n      Protocol: HTTPS\n      SslPolicy: ELBSecurityPolicy-TLS13-1-2-2021-06", new: "Port: 443\n      Protocol: HTTPS\n      SslPolicy: ELBSecurityPolicy-2016-08",
			want: "less than TLS 1.2"},
		RuleTemplateRedirect: {env: "prod", old: "        - Type: redirect\n", new: "        - Type: fixed-response\n", want: "does not redirect"},
		RuleTemplateTargetGroup: {env: "prod", old: "-green\"\n      VpcId: !Ref Vpc\n      TargetType: ip\n      Protocol: HTTP\n      Port: !Ref AppPort\n      HealthCheckEnabled: true\n      HealthCheckProtocol: HTTP\n      HealthCheckPath: /healthz",
			new: "-green\"\n      VpcId: !Ref Vpc\n      TargetType: ip\n      Protocol: HTTP\n      Port: !Ref AppPort\n      HealthCheckEnabled: true\n      HealthCheckProtocol: HTTP\n      HealthCheckPath: /", want: `GreenTargetGroup: health check path "/", want "/healthz"`},
		RuleTemplateHeaders: {env: "prod", old: "{Key: routing.http.drop_invalid_header_fields.enabled, Value: \"true\"}", new: "{Key: routing.http.drop_invalid_header_fields.enabled, Value: \"false\"}",
			want: "invalid header fields are not dropped"},
		RuleTemplateSubnets:   {env: "prod", old: "NatGatewayId: !Ref NatGatewayA\n", new: "GatewayId: !Ref InternetGateway\n", want: "PrivateSubnetA: task subnet routes to the internet gateway"},
		RuleTemplateFlowLogs:  {env: "prod", old: "      ResourceId: !Ref Vpc\n", new: "      ResourceId: !Ref PublicSubnetA\n", want: "Vpc: no VPC flow log"},
		RuleTemplateEndpoints: {env: "prod", old: "ServiceName: !Sub \"com.amazonaws.${AWS::Region}.logs\"", new: "ServiceName: !Sub \"com.amazonaws.${AWS::Region}.monitoring\"", want: "no Interface endpoint for logs"},
		RuleTemplateTags: {env: "prod", old: "/ecs/${AppName}-${Environment}\"\n      RetentionInDays: !Ref LogRetentionDays\n      KmsKeyId: !GetAtt LogsKey.Arn\n      Tags:\n        - {Key: env, Value: !Ref Environment}\n        - {Key: owner, Value: !Ref Owner}\n",
			new: "/ecs/${AppName}-${Environment}\"\n      RetentionInDays: !Ref LogRetentionDays\n      KmsKeyId: !GetAtt LogsKey.Arn\n      Tags:\n        - {Key: env, Value: !Ref Environment}\n", want: "AppLogGroup (AWS::Logs::LogGroup): missing tag owner"},
		RuleTemplateAlarms: {env: "prod", old: "          Enable: true\n          Rollback: true", new: "          Enable: true\n          Rollback: false", want: "Service: deployment alarms without rollback"},
		RuleTemplateBlueGreen: {env: "prod", old: "              TestListenerRule: !Ref TestListenerRule\n", new: "", want: "blue/green without a test listener rule",
			params: map[string]string{"DeploymentStrategy": "BLUE_GREEN"}},
		RuleTemplateOIDC: {env: "prod", old: "\"token.actions.githubusercontent.com:aud\": sts.amazonaws.com", new: "\"token.actions.githubusercontent.com:aud\": sigstore", want: "aud is not limited"},
	}
}

// TestEveryTemplateRuleHasFailingAndPassingFixture is the FG-CFN half of the policy
// package's fixture test: every rule policy registers as evaluated here fires on a mutation
// of the real template and not on the template itself, with the registry's metadata.
func TestEveryTemplateRuleHasFailingAndPassingFixture(t *testing.T) {
	body := readServiceTemplate(t)
	fixtures := templateFixtures()
	n := 0
	for _, r := range policy.Rules() {
		if r.CheckedIn != policy.CheckedInInfra || r.Target != policy.TargetCloudFormation {
			continue
		}
		n++
		t.Run(r.ID, func(t *testing.T) {
			fx, ok := fixtures[r.ID]
			require.True(t, ok, "rule %s has no fixture", r.ID)
			params := envParams(fx.env, fx.params)
			mutated := body
			if fx.dropParam != "" {
				delete(params, fx.dropParam)
			} else {
				require.Equal(t, 1, strings.Count(body, fx.old), "mutation anchor must be unique: %q", fx.old)
				mutated = strings.Replace(body, fx.old, fx.new, 1)
			}
			fail := checkBody(t, mutated, fx.env, params)
			require.Contains(t, ruleIDs(fail), r.ID)
			assert.Contains(t, messagesOf(fail, r.ID), fx.want)
			for _, f := range fail {
				if f.Rule != r.ID {
					continue
				}
				assert.Equal(t, r.Severity, f.Severity)
				assert.Equal(t, r.Controls, f.Controls)
				assert.Equal(t, r.Remediation, f.Remediation)
				assert.True(t, strings.HasPrefix(f.Resource, "template/infra/service.yaml"), f.Resource)
				assert.Equal(t, "infra/service.yaml", f.Location.Path)
				assert.Contains(t, f.Message, "(environment "+fx.env+")")
				if _, logical, ok := strings.Cut(f.Resource, "#"); ok {
					require.Positive(t, f.Location.Line, "%s has a line", f.Resource)
					line := strings.Split(mutated, "\n")[f.Location.Line-1]
					assert.True(t, strings.HasPrefix(strings.TrimSpace(line), logical+":"), "line %d of %s is %q", f.Location.Line, f.Resource, line)
				}
			}
			pass := checkBody(t, body, fx.env, envParams(fx.env, fx.params))
			assert.NotContains(t, ruleIDs(pass), r.ID)
		})
	}
	assert.Equal(t, len(fixtures), n, "a fixture for a rule that is not registered as a template rule")
}

// The broken template violates every property; every FG-CFN rule must report it.
const brokenTemplate = `
Parameters:
  Environment: {Type: String}
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.0.0.0/16}
  Igw:
    Type: AWS::EC2::InternetGateway
  Subnet:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.0.0/24, AvailabilityZone: eu-west-1a, MapPublicIpOnLaunch: true}
  Rt:
    Type: AWS::EC2::RouteTable
    Properties: {VpcId: !Ref Vpc}
  Default:
    Type: AWS::EC2::Route
    Properties: {RouteTableId: !Ref Rt, DestinationCidrBlock: 0.0.0.0/0, GatewayId: !Ref Igw}
  Assoc:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {SubnetId: !Ref Subnet, RouteTableId: !Ref Rt}
  OtherSubnet:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.1.0/24, AvailabilityZone: eu-west-1a}
  InterfaceEndpoint:
    Type: AWS::EC2::VPCEndpoint
    Properties: {VpcId: !Ref Vpc, ServiceName: com.amazonaws.eu-west-1.ecr.api, VpcEndpointType: Interface, PrivateDnsEnabled: false}
  AlbSg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: alb
      VpcId: !Ref Vpc
  ServiceSg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: svc
      VpcId: !Ref Vpc
      SecurityGroupIngress:
        - {IpProtocol: tcp, FromPort: 0, ToPort: 65535, CidrIp: 0.0.0.0/0}
  ExtraIngress:
    Type: AWS::EC2::SecurityGroupIngress
    Properties: {GroupId: !GetAtt ServiceSg.GroupId, IpProtocol: tcp, FromPort: 8080, ToPort: 8080, SourceSecurityGroupId: sg-0123456789abcdef0}
  Lb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      Scheme: internet-facing
      Subnets: [!Ref OtherSubnet]
      SecurityGroups: [!GetAtt AlbSg.GroupId]
  Tg:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {TargetType: instance, HealthCheckPath: /, Port: 8080, Protocol: HTTP}
  Https:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Lb
      Port: 443
      Protocol: HTTPS
      SslPolicy: ELBSecurityPolicy-2016-08
      DefaultActions: [{Type: forward, TargetGroupArn: !Ref Tg}]
  Http:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Lb
      Port: 80
      Protocol: HTTP
      DefaultActions: [{Type: forward, TargetGroupArn: !Ref Tg}]
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Statement:
          - {Effect: Allow, Principal: {AWS: "*"}, Action: "kms:*", Resource: "*"}
  Logs:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: /ecs/x}
  Repo:
    Type: AWS::ECR::Repository
    Properties:
      ImageTagMutability: MUTABLE
      EmptyOnDelete: true
      Tags: [{Key: env, Value: !Ref Environment}]
  TaskRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - {Effect: Allow, Principal: {Service: ecs-tasks.amazonaws.com}, Action: sts:AssumeRole}
      Policies:
        - PolicyName: too-much
          PolicyDocument:
            Statement:
              - {Effect: Allow, Action: "s3:*", Resource: "*"}
              - {Effect: Allow, Action: ["logs:PutLogEvents"], Resource: "*"}
              - {Effect: Allow, NotAction: iam:*, Resource: arn:aws:s3:::bucket}
  DeployRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Federated: arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com}
            Action: sts:AssumeRoleWithWebIdentity
            Condition:
              StringLike: {"token.actions.githubusercontent.com:sub": "repo:example/*"}
  Cluster:
    Type: AWS::ECS::Cluster
    Properties:
      ClusterSettings: [{Name: containerInsights, Value: disabled}]
  Service:
    Type: AWS::ECS::Service
    Properties:
      Cluster: !Ref Cluster
      PlatformVersion: 1.3.0
      EnableExecuteCommand: true
      CapacityProviderStrategy: [{CapacityProvider: FARGATE_SPOT, Weight: 1}]
      NetworkConfiguration:
        AwsvpcConfiguration:
          AssignPublicIp: ENABLED
          Subnets: [!Ref Subnet]
          SecurityGroups: [!GetAtt ServiceSg.GroupId]
      LoadBalancers: [{ContainerName: app, ContainerPort: 8080, TargetGroupArn: !Ref Tg}]
      DeploymentConfiguration:
        Strategy: BLUE_GREEN
        DeploymentCircuitBreaker: {Enable: true, Rollback: false}
`

func TestChecksCatchBrokenTemplate(t *testing.T) {
	// No value for Environment: FG-CFN-001 reports the placeholder; "prod" is the environment.
	fs := checkBody(t, brokenTemplate, "prod", nil)
	want := map[string][]string{
		RuleTemplateParameters:   {"parameters Environment have no default"},
		RuleTemplatePublicIP:     {"Service: AssignPublicIp must be DISABLED"},
		RuleTemplateIngress:      {"admits an address range", "opens ports 0-65535", `ExtraIngress admits "sg-0123456789abcdef0"`},
		RuleTemplateALBEgress:    {"AlbSg: no SecurityGroupEgress"},
		RuleTemplateIAM:          {`wildcard action "s3:*"`, `Resource "*" for logs:PutLogEvents`, "NotAction/NotResource"},
		RuleTemplateBoundary:     {"TaskRole: task role without a permissions boundary"},
		RuleTemplateKMSPolicy:    {"wildcard action \"kms:*\" for a principal other than the account root", "open principal"},
		RuleTemplateKMSRotation:  {"symmetric key without rotation"},
		RuleTemplateLogRetention: {"Logs: no retention period"},
		RuleTemplateLogKMS:       {"Logs: not encrypted"},
		RuleTemplateECRScan:      {"no scan on push"},
		RuleTemplateECRImmutable: {"tags are mutable"},
		RuleTemplateECRLifecycle: {"no valid lifecycle policy"},
		RuleTemplateECRKMS:       {"not KMS-encrypted"},
		RuleTemplateRetained:     {"Repo (AWS::ECR::Repository)", "Logs (AWS::Logs::LogGroup)", "Key (AWS::KMS::Key)", "EmptyOnDelete"},
		RuleTemplateCircuit:      {"circuit breaker with rollback is off"},
		RuleTemplatePlatform:     {`PlatformVersion "1.3.0"`},
		RuleTemplateExec:         {"ECS Exec enabled in prod"},
		RuleTemplateSpot:         {"Fargate Spot in prod"},
		RuleTemplatePropagate:    {"PropagateTags"},
		RuleTemplateDiscovery:    {"neither Service Connect"},
		RuleTemplateInsights:     {"Container Insights is off"},
		RuleTemplateHTTPS:        {"allows less than TLS 1.2", "no certificate"},
		RuleTemplateRedirect:     {"HTTP listener does not redirect"},
		RuleTemplateTargetGroup:  {`health check path "/"`, "target type \"instance\"", "deregistration delay 300s"},
		RuleTemplateHeaders:      {"invalid header fields are not dropped"},
		RuleTemplateSubnets:      {"Subnet: task subnet maps public IPs", "routes to the internet gateway", "fewer than two availability zones", "Lb: subnet OtherSubnet has no internet route"},
		RuleTemplateFlowLogs:     {"Vpc: no VPC flow log"},
		RuleTemplateEndpoints:    {"without private DNS", "no Interface endpoint for logs", "no Gateway endpoint for s3"},
		RuleTemplateTags:         {"Repo (AWS::ECR::Repository): missing tag owner", "Key (AWS::KMS::Key): missing tag env", "Service (AWS::ECS::Service): missing tag cost-center"},
		RuleTemplateOIDC:         {"aud is not limited", `sub "repo:example/*"`},
		RuleTemplateAlarms:       {"Service: no deployment alarms in prod"},
		RuleTemplateBlueGreen:    {"Service: strategy BLUE_GREEN without a load balancer advancedConfiguration"},
	}
	require.Len(t, want, len(templateFixtures()), "every rule has expectations")
	for rule, msgs := range want {
		t.Run(rule, func(t *testing.T) {
			got := messagesOf(fs, rule)
			for _, w := range msgs {
				assert.Contains(t, got, w)
			}
		})
	}
	// The non-prod expectation fires on the opposite Spot mistake.
	noSpot := strings.Replace(brokenTemplate, "FARGATE_SPOT", "FARGATE", 1)
	fs = checkBody(t, noSpot, "preprod", map[string]string{"Environment": "preprod"})
	assert.Contains(t, messagesOf(fs, RuleTemplateSpot), "no Fargate Spot outside prod")
	assert.NotContains(t, ruleIDs(fs), RuleTemplateExec, "ECS Exec is allowed outside prod")
	assert.NotContains(t, ruleIDs(fs), RuleTemplateParameters)
}

func TestTemplateWithoutTheResourcesIsNotAPass(t *testing.T) {
	fs := checkBody(t, "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n", "prod", nil)
	for _, rule := range []string{RuleTemplatePublicIP, RuleTemplateLogRetention, RuleTemplateECRScan, RuleTemplateInsights, RuleTemplateHTTPS, RuleTemplateOIDC} {
		assert.Contains(t, ruleIDs(fs), rule)
	}
	for _, f := range fs {
		if f.Rule == RuleTemplatePublicIP {
			assert.Equal(t, "template/infra/service.yaml", f.Resource, "a template-wide finding names the template")
			assert.Zero(t, f.Location.Line)
		}
	}
}

func TestCheckTemplateErrors(t *testing.T) {
	body := readServiceTemplate(t)
	for _, tc := range []struct {
		name, body string
		params     map[string]string
		want       string
	}{
		{"empty", "  \n", nil, "check template infra/service.yaml: the template is empty"},
		{"not YAML", "Resources: [\n", nil, "check template infra/service.yaml"},
		{"no resources", "Parameters:\n  A: {Type: String, Default: x}\n", nil, "no Resources"},
		{"unknown property", "Resources:\n  Q:\n    Type: AWS::ECR::Repository\n    Properties: {ImageTagMutabilty: IMMUTABLE}\n", nil, "check template infra/service.yaml"},
		{"undeclared parameter", body, map[string]string{"Environment": "prod", "Enviroment": "prod"}, "parameters Enviroment are given but not declared"},
		{"number parameter", body, map[string]string{"Environment": "prod", "AppPort": "eighty"}, `parameter AppPort: "eighty" is not a number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := CheckTemplateInput(TemplateInput{Path: "infra/service.yaml", Body: []byte(tc.body), Params: tc.params, Env: "prod"})
			require.Error(t, err)
			assert.Nil(t, fs)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// Parameters without a default and without a value do not crash the check: they take
// placeholders, and FG-CFN-001 names them (the sample app's environments file gives only
// Environment; the rest is set at deploy time).
func TestMissingParametersTakePlaceholders(t *testing.T) {
	body := readServiceTemplate(t)
	fs, err := CheckTemplate("infra/service.yaml", []byte(body), map[string]string{"Environment": "preprod"}, "preprod")
	require.NoError(t, err)
	require.Equal(t, []string{RuleTemplateParameters}, ruleIDs(fs), "%v", fs)
	assert.Equal(t, "parameters CertificateArn, ContainerImage, DesiredCount, GitHubOrg, GitHubRepo have no default and no value for environment \"preprod\": checked with placeholders (placeholder) (environment preprod)", fs[0].Message)
	assert.Equal(t, "template/infra/service.yaml#Parameters", fs[0].Resource)
	assert.Equal(t, 9, fs[0].Location.Line, "the Parameters section")
	assert.Equal(t, policy.Low, fs[0].Severity)

	// No parameters at all: Environment takes its first allowed value, still no crash.
	fs, err = CheckTemplate("infra/service.yaml", []byte(body), nil, "prod")
	require.NoError(t, err)
	assert.Contains(t, messagesOf(fs, RuleTemplateParameters), "parameters CertificateArn, ContainerImage, DesiredCount, Environment, GitHubOrg")

	// List and number parameters: values are converted, placeholders have the right shape.
	tmpl := `Parameters:
  Subnets: {Type: "List<AWS::EC2::Subnet::Id>"}
  Port: {Type: Number, MinValue: 1024}
Resources:
  Tg:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {TargetType: ip, Port: !Ref Port, Protocol: HTTP, HealthCheckPath: /healthz, TargetGroupAttributes: [{Key: deregistration_delay.timeout_seconds, Value: "30"}]}
  Lb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {Scheme: internal, Subnets: !Ref Subnets, LoadBalancerAttributes: [{Key: routing.http.drop_invalid_header_fields.enabled, Value: "true"}]}
`
	fs, err = CheckTemplate("t.yaml", []byte(tmpl), nil, "prod")
	require.NoError(t, err)
	assert.Contains(t, messagesOf(fs, RuleTemplateParameters), "parameters Port, Subnets have no default")
	fs, err = CheckTemplate("t.yaml", []byte(tmpl), map[string]string{"Subnets": "subnet-a, subnet-b", "Port": "8080"}, "prod")
	require.NoError(t, err)
	assert.NotContains(t, ruleIDs(fs), RuleTemplateParameters)
	assert.NotContains(t, ruleIDs(fs), RuleTemplateTargetGroup)
	assert.NotContains(t, ruleIDs(fs), RuleTemplateHeaders)
}

func TestResourceLines(t *testing.T) {
	yaml := "Parameters:\n  A: {Type: String}\nResources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      Tags: []\n  Queue:\n    Type: AWS::SQS::Queue\nOutputs:\n  Bucket:\n    Value: x\n"
	assert.Equal(t, map[string]int{"Parameters": 1, "Bucket": 4, "Queue": 8}, resourceLines([]byte(yaml)))
	json := "{\n  \"Resources\": {\n    \"Bucket\": {\n      \"Type\": \"AWS::S3::Bucket\"\n    },\n    \"Queue\": {\"Type\": \"AWS::SQS::Queue\"}\n  }\n}\n"
	assert.Equal(t, map[string]int{"Bucket": 3, "Queue": 6}, resourceLines([]byte(json)))
}

const iacConfigReport = `{"SchemaVersion": 2, "ArtifactName": "infra", "ArtifactType": "filesystem", "Results": [
 {"Target": "service.yaml", "Class": "config", "Type": "cloudformation", "MisconfSummary": {"Successes": 1, "Failures": 2},
  "Misconfigurations": [
  {"Type": "CloudFormation Security Check", "ID": "AVD-AWS-0107", "AVDID": "AVD-AWS-0107", "Title": "An ingress security group rule allows traffic from /0.",
   "Description": "Opening up ports to the public internet is generally to be avoided.", "Message": "Security group rule allows ingress from public internet.",
   "Namespace": "builtin.aws.ec2.aws0107", "Query": "data.builtin.aws.ec2.aws0107.deny", "Resolution": "Set a more restrictive cidr range",
   "Severity": "CRITICAL", "PrimaryURL": "https://avd.aquasec.com/misconfig/avd-aws-0107", "References": ["https://avd.aquasec.com/misconfig/avd-aws-0107"],
   "Status": "FAIL", "Layer": {}, "CauseMetadata": {"Resource": "ServiceSecurityGroup", "Provider": "AWS", "Service": "ec2", "StartLine": 120, "EndLine": 125, "Code": {"Lines": null}}},
  {"Type": "CloudFormation Security Check", "ID": "AVD-AWS-0053", "AVDID": "AVD-AWS-0053", "Title": "Load balancer is exposed publicly.",
   "Message": "Load balancer is exposed publicly.", "Severity": "HIGH", "Status": "PASS", "CauseMetadata": {"Provider": "AWS", "Service": "elb"}},
  {"Type": "CloudFormation Security Check", "ID": "AVD-AWS-0104", "AVDID": "AVD-AWS-0104", "Title": "An egress security group rule allows traffic to /0.",
   "Message": "Security group rule allows egress to multiple public internet addresses.", "Severity": "CRITICAL", "Status": "FAIL"},
  {"Type": "CloudFormation Security Check", "ID": "AVD-AWS-0178", "AVDID": "AVD-AWS-0178", "Title": "VPC Flow Logs is a recommended best practice for VPC networks.",
   "Message": "VPC does not have VPC Flow Logs enabled.", "Severity": "MEDIUM", "Status": "FAIL"}
 ]},
 {"Target": "network.yaml", "Class": "config", "Type": "cloudformation", "Misconfigurations": [
  {"Type": "CloudFormation Security Check", "ID": "AVD-AWS-0107", "AVDID": "AVD-AWS-0107", "Title": "An ingress security group rule allows traffic from /0.",
   "Message": "Security group rule allows ingress from public internet.", "Severity": "CRITICAL", "Status": "FAIL"}
 ]}]}`

func iacDecision(t *testing.T, report string, g scan.Gate) *scan.Decision {
	t.Helper()
	if g.Now.IsZero() {
		g.Now = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	}
	d, err := EvaluateIaCReport(strings.NewReader(report), g)
	require.NoError(t, err)
	return d
}

func TestIaCFindings(t *testing.T) {
	rule, ok := policy.LookupRule(RuleIaC)
	require.True(t, ok, "FG-IAC-001 is registered")
	assert.Equal(t, policy.CheckedInInfra, rule.CheckedIn)

	// Every failed misconfiguration, whatever its severity: the policy threshold decides.
	fs := IaCFindings(iacDecision(t, iacConfigReport, scan.Gate{FailOn: scan.AllSeverities}))
	require.Len(t, fs, 4, "%v", fs)
	byRes := map[string]policy.Finding{}
	for _, f := range fs {
		assert.Equal(t, RuleIaC, f.Rule)
		assert.Equal(t, rule.Remediation, f.Remediation)
		assert.False(t, f.Suppressed)
		byRes[f.Resource] = f
	}
	f := byRes["service.yaml#AVD-AWS-0107"]
	assert.Equal(t, policy.Critical, f.Severity, "Trivy's severity")
	assert.Equal(t, "AVD-AWS-0107: An ingress security group rule allows traffic from /0.: Security group rule allows ingress from public internet. (Trivy severity CRITICAL); see https://avd.aquasec.com/misconfig/avd-aws-0107", f.Message)
	assert.Equal(t, policy.Location{Path: "service.yaml"}, f.Location)
	assert.Equal(t, policy.Critical, byRes["network.yaml#AVD-AWS-0107"].Severity, "one finding per file")
	assert.Equal(t, policy.Medium, byRes["service.yaml#AVD-AWS-0178"].Severity)
	assert.NotContains(t, byRes, "service.yaml#AVD-AWS-0053", "PASS entries are not findings")

	// The default gate keeps CRITICAL and HIGH only.
	assert.Len(t, IaCFindings(iacDecision(t, iacConfigReport, scan.Gate{})), 3)

	// The passing side: a report with no failure has no finding.
	assert.Empty(t, IaCFindings(iacDecision(t, strings.ReplaceAll(iacConfigReport, `"Status": "FAIL"`, `"Status": "PASS"`), scan.Gate{FailOn: scan.AllSeverities})))
	assert.Empty(t, IaCFindings(nil))

	// An accepted risk in .trivyignore.yaml comes back suppressed, with its reason.
	ign, err := scan.ParseIgnoreYAML(".trivyignore.yaml", []byte("misconfigurations:\n  - id: AVD-AWS-0104\n    statement: egress to the internet through the NAT is intended\n    expired_at: 2026-12-31\n"))
	require.NoError(t, err)
	fs = IaCFindings(iacDecision(t, iacConfigReport, scan.Gate{FailOn: scan.AllSeverities, Ignores: ign}))
	var sup []policy.Finding
	for _, f := range fs {
		if f.Suppressed {
			sup = append(sup, f)
		}
	}
	require.Len(t, sup, 1)
	assert.Equal(t, "service.yaml#AVD-AWS-0104", sup[0].Resource)
	assert.Contains(t, sup[0].SuppressionNote, "until 2026-12-31: egress to the internet through the NAT is intended")

	// The findings flow through the policy engine: a suppression can name one check in one file.
	s, err := policy.ParseSuppressions([]policy.Suppression{{Rule: RuleIaC, Resource: "network.yaml#*", Reason: "legacy network stack", Expires: "2999-01-01"}})
	require.NoError(t, err)
	rep := policy.NewReport(IaCFindings(iacDecision(t, iacConfigReport, scan.Gate{})), s, time.Time{})
	assert.Equal(t, 2, rep.Summary.Critical)
	assert.Equal(t, 1, rep.Summary.Suppressed)
	assert.True(t, rep.Failed(policy.High))
}
