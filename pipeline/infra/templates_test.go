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
)

const serviceTemplate = "../../sample-app/infra/service.yaml"

func envParams(env string, extra map[string]any) map[string]any {
	p := map[string]any{
		"Environment":    env,
		"CertificateArn": "arn:aws:acm:eu-west-1:111122223333:certificate/0b1c2d3e",
		"ContainerImage": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/sample-app@sha256:" + strings.Repeat("a", 64),
		"DesiredCount":   2,
		"GitHubOrg":      "example",
		"GitHubRepo":     "fargate",
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

func loadService(t *testing.T, params map[string]any) *parsed {
	t.Helper()
	body, err := os.ReadFile(serviceTemplate)
	require.NoError(t, err)
	p, err := parseTemplate(body, params)
	require.NoError(t, err)
	return p
}

// allChecks runs every check with the expectations of one environment.
func allChecks(prod bool, allowed map[string]bool) map[string]func(*parsed) problems {
	return map[string]func(*parsed) problems{
		"no public IP":              checkNoPublicIP,
		"ingress only from the ALB": checkServiceIngressOnlyFromALB,
		"ALB egress only to tasks":  checkALBEgress,
		"IAM least privilege":       func(p *parsed) problems { return checkIAM(p, allowed) },
		"permissions boundary":      checkPermissionsBoundary,
		"KMS key policies":          checkKMSKeyPolicies,
		"log groups":                checkLogGroups,
		"ECR repository":            checkECR,
		"stateful retained":         checkRetained,
		"service deployment":        func(p *parsed) problems { return checkServiceDeployment(p, prod) },
		"container insights":        checkContainerInsights,
		"listeners":                 checkListeners,
		"target groups":             func(p *parsed) problems { return checkTargetGroups(p, "/healthz") },
		"load balancer attributes":  checkLoadBalancerAttributes,
		"private subnets":           checkPrivateSubnets,
		"flow logs":                 checkFlowLogs,
		"VPC endpoints":             checkEndpoints,
		"required tags":             checkTags,
		"OIDC trust":                checkOIDCTrust,
	}
}

func TestServiceTemplatePassesEveryCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		params  map[string]any
		prod    bool
		allowed map[string]bool
	}{
		{"prod", envParams("prod", nil), true, wildcardAllowedDefault},
		// ECS Exec requested in prod is ignored: the SSM wildcard must not appear.
		{"prod with exec requested", envParams("prod", map[string]any{"EnableExecuteCommand": "true"}), true, wildcardAllowedDefault},
		{"preprod", envParams("preprod", nil), false, wildcardAllowedDefault},
		{"preprod with ECS Exec", envParams("preprod", map[string]any{"EnableExecuteCommand": "true"}), false, wildcardAllowedExec},
		{"existing OIDC provider", envParams("preprod", map[string]any{
			"GitHubOidcProviderArn": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com",
		}), false, wildcardAllowedDefault},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := loadService(t, tc.params)
			for name, check := range allChecks(tc.prod, tc.allowed) {
				assert.Empty(t, check(p), name)
			}
		})
	}
}

func TestServiceTemplateEnvironmentDifferences(t *testing.T) {
	prod := loadService(t, envParams("prod", map[string]any{"EnableExecuteCommand": "true"}))
	pre := loadService(t, envParams("preprod", map[string]any{"EnableExecuteCommand": "true"}))

	assert.Contains(t, prod.active(), "NatGatewayB", "a NAT gateway per AZ in prod")
	assert.NotContains(t, pre.active(), "NatGatewayB")

	svc := func(p *parsed) *ecs.Service { return p.Resources["Service"].(*ecs.Service) }
	require.NotNil(t, svc(prod).EnableExecuteCommand)
	assert.False(t, *svc(prod).EnableExecuteCommand, "ECS Exec stays off in prod")
	assert.True(t, *svc(pre).EnableExecuteCommand)
	assert.Empty(t, prod.Resources["TaskRole"].(*iam.Role).Policies)
	assert.NotEmpty(t, pre.Resources["TaskRole"].(*iam.Role).Policies)
	// The exec statement is a wildcard the default allowance rejects: proves it is absent in prod.
	assert.NotEmpty(t, checkIAM(pre, wildcardAllowedDefault))

	// Without an existing provider the template creates one; with one it trusts it.
	assert.Contains(t, pre.active(), "GitHubOidcProvider")
	existing := loadService(t, envParams("preprod", map[string]any{"GitHubOidcProviderArn": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}))
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

	gh := loadService(t, envParams("prod", map[string]any{"GitHubEnvironment": "production"}))
	trust = statements(gh.Resources["DeployRole"].(*iam.Role).AssumeRolePolicyDocument)[0]
	eq = trust["Condition"].(map[string]any)["StringEquals"].(map[string]any)
	assert.Equal(t, "repo:example/fargate:environment:production", eq["token.actions.githubusercontent.com:sub"])
}

func TestServiceTemplateFitsInline(t *testing.T) {
	body, err := os.ReadFile(serviceTemplate)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(body), MaxTemplateBody, "Apply sends the template inline")
}

// The broken template violates every property; each check must report it.
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
        DeploymentCircuitBreaker: {Enable: true, Rollback: false}
`

func TestChecksCatchBrokenTemplate(t *testing.T) {
	p, err := parseTemplate([]byte(brokenTemplate), map[string]any{"Environment": "prod"})
	require.NoError(t, err)
	want := map[string][]string{
		"no public IP":              {"Service: AssignPublicIp must be DISABLED"},
		"ingress only from the ALB": {"admits an address range", "opens ports 0-65535", `ExtraIngress admits "sg-0123456789abcdef0"`},
		"ALB egress only to tasks":  {"AlbSg: no SecurityGroupEgress"},
		"IAM least privilege":       {`wildcard action "s3:*"`, `Resource "*" for logs:PutLogEvents`, "NotAction/NotResource"},
		"permissions boundary":      {"TaskRole: task role without a permissions boundary"},
		"KMS key policies":          {"wildcard action \"kms:*\" for a principal other than the account root", "open principal", "symmetric key without rotation"},
		"log groups":                {"Logs: no retention period", "Logs: not encrypted"},
		"ECR repository":            {"tags are mutable", "no scan on push", "not KMS-encrypted", "no valid lifecycle policy", "EmptyOnDelete"},
		"stateful retained":         {"Repo (AWS::ECR::Repository)", "Logs (AWS::Logs::LogGroup)", "Key (AWS::KMS::Key)"},
		"service deployment":        {"circuit breaker with rollback is off", `PlatformVersion "1.3.0"`, "PropagateTags", "ECS Exec enabled in prod", "Fargate Spot in prod", "neither Service Connect"},
		"container insights":        {"Container Insights is off"},
		"listeners":                 {"allows less than TLS 1.2", "no certificate", "HTTP listener does not redirect"},
		"target groups":             {`health check path "/"`, "target type \"instance\"", "deregistration delay 300s"},
		"load balancer attributes":  {"invalid header fields are not dropped"},
		"private subnets":           {"Subnet: task subnet maps public IPs", "routes to the internet gateway", "fewer than two availability zones", "Lb: subnet OtherSubnet has no internet route"},
		"flow logs":                 {"Vpc: no VPC flow log"},
		"VPC endpoints":             {"without private DNS", "no Interface endpoint for logs", "no Gateway endpoint for s3"},
		"required tags":             {"Repo (AWS::ECR::Repository): missing tag owner", "Key (AWS::KMS::Key): missing tag env", "Service (AWS::ECS::Service): missing tag cost-center"},
		"OIDC trust":                {"aud is not limited", `sub "repo:example/*"`},
	}
	checks := allChecks(true, wildcardAllowedDefault)
	require.Len(t, want, len(checks), "every check has expectations")
	for name, check := range checks {
		t.Run(name, func(t *testing.T) {
			got := strings.Join(check(p), "\n")
			for _, w := range want[name] {
				assert.Contains(t, got, w)
			}
		})
	}
	// The non-prod expectation fires on the opposite Spot mistake.
	noSpot := strings.Replace(brokenTemplate, "FARGATE_SPOT", "FARGATE", 1)
	p, err = parseTemplate([]byte(noSpot), map[string]any{"Environment": "preprod"})
	require.NoError(t, err)
	assert.Contains(t, strings.Join(checkServiceDeployment(p, false), "\n"), "no Fargate Spot outside prod")
	// A template without the resources the checks look for is a failure, not a pass.
	empty, err := parseTemplate([]byte("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n"), nil)
	require.NoError(t, err)
	for _, name := range []string{"no public IP", "log groups", "ECR repository", "container insights", "listeners", "OIDC trust"} {
		assert.NotEmpty(t, checks[name](empty), name)
	}
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
		_, err = parseTemplate(body, envParams("preprod", nil))
		assert.NoError(t, err, f)
	}
}

// Mutations of the real template: each weakens one property and the matching check must
// notice, which shows the checks see the real resources (not an empty match).
func TestChecksCatchMutatedServiceTemplate(t *testing.T) {
	body, err := os.ReadFile(serviceTemplate)
	require.NoError(t, err)
	checks := allChecks(true, wildcardAllowedDefault)
	for _, tc := range []struct {
		check, old, new, want string
	}{
		{"no public IP", "AssignPublicIp: DISABLED", "AssignPublicIp: ENABLED", "AssignPublicIp"},
		{"ingress only from the ALB", "ToPort: !Ref AppPort, SourceSecurityGroupId: !GetAtt AlbSecurityGroup.GroupId", "ToPort: !Ref AppPort, CidrIp: 10.0.0.0/8", "address range"},
		{"ALB egress only to tasks", "      DestinationSecurityGroupId: !GetAtt ServiceSecurityGroup.GroupId\n", "      CidrIp: 0.0.0.0/0\n", "AlbToService: egress goes elsewhere"},
		{"IAM least privilege", "Action: ecs:DescribeTasks", "Action: ecs:*", `wildcard action "ecs:*"`},
		{"IAM least privilege", "Action: ecs:DescribeClusters\n                Resource: !GetAtt Cluster.Arn", "Action: ecs:DescribeClusters\n                Resource: \"*\"", "Resource \"*\" for ecs:DescribeClusters"},
		{"permissions boundary", "      RoleName: !Sub \"${AppName}-${Environment}-task\"\n      PermissionsBoundary: !Ref TaskPermissionsBoundary\n", "      RoleName: !Sub \"${AppName}-${Environment}-task\"\n", "TaskRole: task role without a permissions boundary"},
		{"log groups", "/flow-logs\"\n      RetentionInDays: !Ref LogRetentionDays\n", "/flow-logs\"\n", "FlowLogGroup: no retention period"},
		{"log groups", "/ecs/${AppName}-${Environment}\"\n      RetentionInDays: !Ref LogRetentionDays\n      KmsKeyId: !GetAtt LogsKey.Arn\n", "/ecs/${AppName}-${Environment}\"\n      RetentionInDays: !Ref LogRetentionDays\n", "AppLogGroup: not encrypted"},
		{"ECR repository", "ScanOnPush: true", "ScanOnPush: false", "no scan on push"},
		{"ECR repository", "ImageTagMutability: IMMUTABLE", "ImageTagMutability: MUTABLE", "tags are mutable"},
		{"stateful retained", "  Repository:\n    Type: AWS::ECR::Repository\n    DeletionPolicy: Retain\n", "  Repository:\n    Type: AWS::ECR::Repository\n    DeletionPolicy: Delete\n", "Repository (AWS::ECR::Repository)"},
		{"service deployment", "DeploymentCircuitBreaker: {Enable: true, Rollback: true}", "DeploymentCircuitBreaker: {Enable: true, Rollback: false}", "circuit breaker"},
		{"service deployment", "EnableExecuteCommand: !If [ExecEnabled, true, false]", "EnableExecuteCommand: true", "ECS Exec enabled in prod"},
		{"container insights", "{Name: containerInsights, Value: enhanced}", "{Name: containerInsights, Value: disabled}", "Container Insights is off"},
		{"listeners", "SslPolicy: ELBSecurityPolicy-TLS13-1-2-2021-06", "SslPolicy: ELBSecurityPolicy-2016-08", "less than TLS 1.2"},
		{"listeners", "        - Type: redirect\n", "        - Type: fixed-response\n", "does not redirect"},
		{"target groups", "HealthCheckPath: /healthz", "HealthCheckPath: /", "health check path"},
		{"load balancer attributes", "{Key: routing.http.drop_invalid_header_fields.enabled, Value: \"true\"}", "{Key: routing.http.drop_invalid_header_fields.enabled, Value: \"false\"}", "not dropped"},
		{"private subnets", "NatGatewayId: !Ref NatGatewayA\n", "GatewayId: !Ref InternetGateway\n", "PrivateSubnetA: task subnet routes to the internet gateway"},
		{"flow logs", "      ResourceId: !Ref Vpc\n", "      ResourceId: !Ref PublicSubnetA\n", "Vpc: no VPC flow log"},
		{"VPC endpoints", "ServiceName: !Sub \"com.amazonaws.${AWS::Region}.logs\"", "ServiceName: !Sub \"com.amazonaws.${AWS::Region}.monitoring\"", "no Interface endpoint for logs"},
		{"OIDC trust", "\"token.actions.githubusercontent.com:aud\": sts.amazonaws.com", "\"token.actions.githubusercontent.com:aud\": sigstore", "aud is not limited"},
		{"OIDC trust", "!Sub \"repo:${GitHubOrg}/${GitHubRepo}:environment:${Environment}\"", "!Sub \"repo:${GitHubOrg}/*\"", "is not one repository's environment"},
	} {
		t.Run(tc.check+"/"+tc.want, func(t *testing.T) {
			require.Equal(t, 1, strings.Count(string(body), tc.old), "mutation anchor must be unique: %q", tc.old)
			p, err := parseTemplate([]byte(strings.Replace(string(body), tc.old, tc.new, 1)), envParams("prod", nil))
			require.NoError(t, err)
			assert.Contains(t, strings.Join(checks[tc.check](p), "\n"), tc.want)
		})
	}
	t.Run("required tags", func(t *testing.T) {
		old := "  AppLogGroup:\n    Type: AWS::Logs::LogGroup\n    DeletionPolicy: Retain\n    UpdateReplacePolicy: Retain\n    Properties:\n      LogGroupName: !Sub \"/ecs/${AppName}-${Environment}\"\n      RetentionInDays: !Ref LogRetentionDays\n      KmsKeyId: !GetAtt LogsKey.Arn\n      Tags:\n        - {Key: env, Value: !Ref Environment}\n        - {Key: owner, Value: !Ref Owner}\n"
		require.Equal(t, 1, strings.Count(string(body), old))
		mutated := strings.Replace(string(body), old, strings.TrimSuffix(old, "        - {Key: owner, Value: !Ref Owner}\n"), 1)
		p, err := parseTemplate([]byte(mutated), envParams("prod", nil))
		require.NoError(t, err)
		assert.Contains(t, strings.Join(checkTags(p), "\n"), "AppLogGroup (AWS::Logs::LogGroup): missing tag owner")
	})
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
				assert.True(t, allows(exec.Policies[0].PolicyDocument, action, arn), "execution role: %s on %s", action, arn)
				assert.True(t, allows(boundary.PolicyDocument, action, arn), "boundary: %s on %s", action, arn)
			}
		})
	}
}

var accountRE = regexp.MustCompile(`:[0-9]{12}:`)

// allows reports whether an Allow statement of doc grants action on resource (IAM * and ?
// wildcards in the resource).
func allows(doc any, action, resource string) bool {
	for _, st := range statements(doc) {
		if st["Effect"] != "Allow" || !contains(list(st["Action"]), action) {
			continue
		}
		for _, r := range list(st["Resource"]) {
			pattern := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(r)) + "$"
			if regexp.MustCompile(pattern).MatchString(resource) {
				return true
			}
		}
	}
	return false
}

func TestAllows(t *testing.T) {
	doc := map[string]any{"Statement": []any{
		map[string]any{"Effect": "Allow", "Action": "s:Get", "Resource": "arn:x:secret:a/b-??????"},
		map[string]any{"Effect": "Deny", "Action": "s:Put", "Resource": "*"},
	}}
	assert.True(t, allows(doc, "s:Get", "arn:x:secret:a/b-AbCdEf"))
	assert.False(t, allows(doc, "s:Get", "arn:x:secret:a/b-AbCdEfG"))
	assert.False(t, allows(doc, "s:Get", "arn:x:secret:a/c-AbCdEf"))
	assert.False(t, allows(doc, "s:Put", "anything"))
}
