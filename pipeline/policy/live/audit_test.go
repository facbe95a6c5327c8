package live

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/ec2fake"
	"dagger/fargate/pipeline/internal/fakeaws"
	"dagger/fargate/pipeline/internal/iamfake"
	"dagger/fargate/pipeline/internal/sarif"
	"dagger/fargate/pipeline/policy"

	"dagger/fargate/pipeline/findings"
)

const (
	account    = "123456789012"
	clusterArn = "arn:aws:ecs:eu-west-1:" + account + ":cluster/prod"
	tdArn      = "arn:aws:ecs:eu-west-1:" + account + ":task-definition/web:7"
)

// world is the live account the audit reads: canned ECS and ECR answers (mutable per test)
// plus the stateful EC2 and IAM fakes.
type world struct {
	srv       *fakeaws.Server
	ec2       *ec2fake.Fake
	iam       *iamfake.Fake
	cluster   map[string]any
	service   map[string]any
	taskDef   map[string]any
	tdTags    []any
	repo      map[string]any
	lifecycle bool
	scanning  map[string]any
}

func obj(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &m))
	return m
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func taskDefFromFile(t *testing.T, w *world, path string) {
	m := obj(t, string(readFile(t, path)))
	tags, _ := m["tags"].([]any)
	delete(m, "tags")
	m["taskDefinitionArn"] = tdArn
	m["revision"] = 7
	m["status"] = "ACTIVE"
	w.taskDef, w.tdTags = m, tags
}

func newWorld(t *testing.T) *world {
	srv := fakeaws.New(t)
	w := &world{srv: srv, ec2: ec2fake.New(srv), iam: iamfake.New(srv), lifecycle: true}
	w.cluster = obj(t, `{"clusterName":"prod","clusterArn":"`+clusterArn+`","status":"ACTIVE",
		"settings":[{"name":"containerInsights","value":"enhanced"}],"tags":[{"key":"env","value":"prod"},{"key":"owner","value":"platform"}]}`)
	w.service = obj(t, `{"serviceName":"web","serviceArn":"arn:aws:ecs:eu-west-1:`+account+`:service/prod/web","clusterArn":"`+clusterArn+`",
		"status":"ACTIVE","launchType":"FARGATE","platformVersion":"LATEST","taskDefinition":"`+tdArn+`","desiredCount":2,
		"networkConfiguration":{"awsvpcConfiguration":{"subnets":["subnet-a","subnet-b"],"securityGroups":["sg-task"],"assignPublicIp":"DISABLED"}},
		"deploymentConfiguration":{"deploymentCircuitBreaker":{"enable":true,"rollback":true},"alarms":{"alarmNames":["web-5xx"],"enable":true,"rollback":true},"maximumPercent":200,"minimumHealthyPercent":100},
		"deploymentController":{"type":"ECS"},
		"loadBalancers":[{"targetGroupArn":"arn:aws:elasticloadbalancing:eu-west-1:`+account+`:targetgroup/web/1","containerName":"web","containerPort":8080}],
		"propagateTags":"SERVICE","enableExecuteCommand":false,
		"tags":[{"key":"env","value":"prod"},{"key":"owner","value":"platform"}]}`)
	taskDefFromFile(t, w, "../testdata/hardened.taskdef.json")
	w.repo = obj(t, `{"repositoryName":"web","repositoryArn":"arn:aws:ecr:eu-west-1:`+account+`:repository/web","registryId":"`+account+`",
		"imageTagMutability":"IMMUTABLE","imageScanningConfiguration":{"scanOnPush":true},
		"encryptionConfiguration":{"encryptionType":"KMS","kmsKey":"arn:aws:kms:eu-west-1:`+account+`:key/k1"}}`)
	w.scanning = obj(t, `{"scanType":"BASIC","rules":[]}`)

	srv.HandleJSON("ecs", "DescribeClusters", func([]byte) (any, error) {
		return map[string]any{"clusters": []any{w.cluster}, "failures": []any{}}, nil
	})
	srv.HandleJSON("ecs", "DescribeServices", func(body []byte) (any, error) {
		var in struct {
			Cluster  string
			Services []string
			Include  []string
		}
		_ = json.Unmarshal(body, &in)
		if len(in.Services) != 1 || in.Services[0] != "web" || in.Cluster != "prod" {
			return map[string]any{"services": []any{}, "failures": []any{map[string]any{"arn": strings.Join(in.Services, ","), "reason": "MISSING"}}}, nil
		}
		if len(in.Include) != 1 || in.Include[0] != "TAGS" {
			return nil, fakeaws.Errorf("InvalidParameterException", "test expects include=TAGS")
		}
		return map[string]any{"services": []any{w.service}, "failures": []any{}}, nil
	})
	srv.HandleJSON("ecs", "DescribeTaskDefinition", func(body []byte) (any, error) {
		var in struct{ TaskDefinition string }
		_ = json.Unmarshal(body, &in)
		if in.TaskDefinition != tdArn {
			return nil, fakeaws.Errorf("ClientException", "Unable to describe task definition.")
		}
		return map[string]any{"taskDefinition": w.taskDef, "tags": w.tdTags}, nil
	})
	srv.HandleJSON("ecr", "DescribeRepositories", func(body []byte) (any, error) {
		var in struct{ RepositoryNames []string }
		_ = json.Unmarshal(body, &in)
		if len(in.RepositoryNames) != 1 || in.RepositoryNames[0] != w.repo["repositoryName"] {
			return nil, fakeaws.Errorf("RepositoryNotFoundException", "The repository with name '%s' does not exist", strings.Join(in.RepositoryNames, ","))
		}
		return map[string]any{"repositories": []any{w.repo}}, nil
	})
	srv.HandleJSON("ecr", "GetLifecyclePolicy", func([]byte) (any, error) {
		if !w.lifecycle {
			return nil, fakeaws.Errorf("LifecyclePolicyNotFoundException", "Lifecycle policy does not exist")
		}
		return map[string]any{"repositoryName": "web", "registryId": account, "lifecyclePolicyText": `{"rules":[]}`}, nil
	})
	srv.HandleJSON("ecr", "GetRegistryScanningConfiguration", func([]byte) (any, error) {
		return map[string]any{"registryId": account, "scanningConfiguration": w.scanning}, nil
	})

	// Two private subnets: one with its own route table, one on the VPC's main table.
	w.ec2.AddSubnet(ec2fake.Subnet{ID: "subnet-a", VpcID: "vpc-1", CIDR: "10.0.1.0/24"})
	w.ec2.AddSubnet(ec2fake.Subnet{ID: "subnet-b", VpcID: "vpc-1", CIDR: "10.0.2.0/24"})
	w.ec2.AddRouteTable(ec2fake.RouteTable{ID: "rtb-private", VpcID: "vpc-1", Subnets: []string{"subnet-a"},
		Routes: []ec2fake.Route{{Destination: "10.0.0.0/16", Target: "local"}, {Destination: "0.0.0.0/0", Target: "nat-1"}}})
	w.ec2.AddRouteTable(ec2fake.RouteTable{ID: "rtb-main", VpcID: "vpc-1", Main: true,
		Routes: []ec2fake.Route{{Destination: "10.0.0.0/16", Target: "local"}, {Destination: "0.0.0.0/0", Target: "nat-2"}}})
	w.ec2.AddRouteTable(ec2fake.RouteTable{ID: "rtb-other-vpc", VpcID: "vpc-2", Main: true,
		Routes: []ec2fake.Route{{Destination: "0.0.0.0/0", Target: "igw-other"}}})
	w.ec2.AddSecurityGroup(ec2fake.SecurityGroup{ID: "sg-task", Name: "web-task", VpcID: "vpc-1", Ingress: []ec2fake.Permission{
		{Protocol: "tcp", FromPort: 8080, ToPort: 8080, Groups: []string{"sg-lb"}}}})

	w.iam.AddRole(iamfake.Role{Name: "web-execution", Inline: map[string]string{"pull-logs-secrets": string(readFile(t, "../testdata/execution-role.json"))}})
	w.iam.AddRole(iamfake.Role{Name: "web-task", Attached: []string{"arn:aws:iam::" + account + ":policy/web-data"}})
	w.iam.AddPolicy(iamfake.ManagedPolicy{Arn: "arn:aws:iam::" + account + ":policy/web-data", DefaultVersion: "v2",
		Document: `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": "arn:aws:dynamodb:eu-west-1:` + account + `:table/web"}]}`,
		Versions: map[string]string{"v1": `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}`}})
	return w
}

func target() AuditTarget {
	return AuditTarget{Cluster: "prod", Service: "web", Env: "prod", Production: true, RequiredTags: []string{"env", "owner"}, LoadBalancerSecurityGroups: []string{"sg-lb"}}
}

func ruleIDs(r policy.Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Rule)
	}
	sort.Strings(out)
	return out
}

// assertReadOnly fails if the audit made any call other than Describe*/Get*/List*.
func assertReadOnly(t *testing.T, srv *fakeaws.Server) {
	t.Helper()
	calls := srv.CallLog()
	require.NotEmpty(t, calls)
	for _, c := range calls {
		ok := strings.HasPrefix(c.Operation, "Describe") || strings.HasPrefix(c.Operation, "Get") || strings.HasPrefix(c.Operation, "List")
		require.True(t, ok, "mutating or unexpected call %s:%s", c.Service, c.Operation)
	}
}

func TestAuditHardenedServicePasses(t *testing.T) {
	w := newWorld(t)
	r, err := Audit(t.Context(), w.srv.Config(t), target())
	require.NoError(t, err)
	require.Empty(t, r.Findings, "%+v", r.Findings)
	assertReadOnly(t, w.srv)
	for _, op := range [][2]string{
		{"ecs", "DescribeClusters"}, {"ecs", "DescribeServices"}, {"ecs", "DescribeTaskDefinition"},
		{"ec2", "DescribeSubnets"}, {"ec2", "DescribeSecurityGroups"},
		{"iam", "GetRole"}, {"iam", "ListRolePolicies"}, {"iam", "GetRolePolicy"}, {"iam", "ListAttachedRolePolicies"}, {"iam", "GetPolicy"}, {"iam", "GetPolicyVersion"},
		{"ecr", "DescribeRepositories"}, {"ecr", "GetLifecyclePolicy"}, {"ecr", "GetRegistryScanningConfiguration"},
	} {
		require.Positive(t, w.srv.Calls(op[0], op[1]), "%s:%s not called", op[0], op[1])
	}
	// subnet-b has no explicit association, so the main route table is looked up as well.
	require.Equal(t, 2, w.srv.Calls("ec2", "DescribeRouteTables"))
}

func TestAuditUnhardenedService(t *testing.T) {
	w := newWorld(t)
	w.cluster["settings"] = []any{map[string]any{"name": "containerInsights", "value": "disabled"}}
	w.cluster["tags"] = []any{}
	w.service["networkConfiguration"] = obj(t, `{"awsvpcConfiguration":{"subnets":["subnet-a","subnet-b"],"securityGroups":["sg-task"],"assignPublicIp":"ENABLED"}}`)
	w.service["deploymentConfiguration"] = obj(t, `{"deploymentCircuitBreaker":{"enable":false,"rollback":false}}`)
	w.service["platformVersion"] = "1.3.0"
	w.service["enableExecuteCommand"] = true
	w.service["loadBalancers"] = []any{}
	w.service["propagateTags"] = "NONE"
	w.service["tags"] = []any{}
	taskDefFromFile(t, w, "../testdata/unhardened.taskdef.json")
	w.taskDef["containerDefinitions"].([]any)[0].(map[string]any)["image"] = account + ".dkr.ecr.eu-west-1.amazonaws.com/web:latest"
	w.repo["imageTagMutability"] = "MUTABLE"
	w.repo["imageScanningConfiguration"] = map[string]any{"scanOnPush": false}
	w.repo["encryptionConfiguration"] = map[string]any{"encryptionType": "AES256"}
	w.lifecycle = false
	// subnet-b becomes public through its own route table.
	w.ec2.AddRouteTable(ec2fake.RouteTable{ID: "rtb-public", VpcID: "vpc-1", Subnets: []string{"subnet-b"},
		Routes: []ec2fake.Route{{Destination: "0.0.0.0/0", Target: "igw-1"}}})
	w.ec2.AddSecurityGroup(ec2fake.SecurityGroup{ID: "sg-task", VpcID: "vpc-1", Ingress: []ec2fake.Permission{
		{Protocol: "tcp", FromPort: 80, ToPort: 80, CIDRs: []string{"0.0.0.0/0"}}}})
	// The execution role of the unhardened definition: the AWS managed policy plus an inline s3:*.
	w.iam.AddRole(iamfake.Role{Name: "ecsTaskExecutionRole", Inline: map[string]string{"extra": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`},
		Attached: []string{"arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"}})
	w.iam.AddPolicy(iamfake.ManagedPolicy{Arn: "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
		Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorizationToken","ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer","ecr:BatchGetImage","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}`})

	r, err := Audit(t.Context(), w.srv.Config(t), target())
	require.NoError(t, err)
	assertReadOnly(t, w.srv)
	for _, f := range r.Findings {
		require.Equal(t, findings.SourceAudit, f.Source, "%s: the live audit's findings say so", f.Rule)
	}
	want := []string{
		"FG-CL-001", "FG-CL-002",
		"FG-ECR-001", "FG-ECR-002", "FG-ECR-003", "FG-ECR-004",
		"FG-IAM-001",               // s3:*
		"FG-IAM-002", "FG-IAM-002", // s3:* on *, managed policy's pull actions on *
		"FG-IAM-004", // s3:* in the execution role
		"FG-SVC-001", "FG-SVC-002", "FG-SVC-003", "FG-SVC-004", "FG-SVC-005", "FG-SVC-006", "FG-SVC-007", "FG-SVC-009", "FG-SVC-010",
		"FG-SVC-011", // the unhardened service has no deployment alarms
		"FG-TD-003", "FG-TD-004", "FG-TD-006", "FG-TD-011", "FG-TD-014", "FG-TD-016", "FG-TD-018", "FG-TD-019",
	}
	require.Equal(t, want, ruleIDs(r))
	for _, f := range r.Findings {
		switch f.Rule {
		case "FG-SVC-002":
			require.Equal(t, "subnet subnet-b is public: route table rtb-public sends 0.0.0.0/0 to igw-1", f.Message)
			require.Equal(t, "service/prod/web", f.Resource)
		case "FG-SVC-003":
			require.Contains(t, f.Message, "0.0.0.0/0 on tcp/80")
		case "FG-IAM-004":
			require.Equal(t, "iam/role/ecsTaskExecutionRole/inline/extra", f.Resource)
		case "FG-TD-014":
			require.Equal(t, policy.Location{Logical: tdArn}, f.Location)
			require.NotContains(t, f.Message, "hunter2")
		case "FG-ECR-001":
			require.Equal(t, "arn:aws:ecr:eu-west-1:"+account+":repository/web", f.Location.Logical)
		}
	}
	require.True(t, r.Failed(policy.High))
}

func TestAuditRegistryScanningCoversRepository(t *testing.T) {
	w := newWorld(t)
	w.repo["imageScanningConfiguration"] = map[string]any{"scanOnPush": false}
	r, err := Audit(t.Context(), w.srv.Config(t), target())
	require.NoError(t, err)
	require.Equal(t, []string{"FG-ECR-001"}, ruleIDs(r))

	w.scanning = obj(t, `{"scanType":"ENHANCED","rules":[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"*","filterType":"WILDCARD"}]}]}`)
	r, err = Audit(t.Context(), w.srv.Config(t), target())
	require.NoError(t, err)
	require.Empty(t, r.Findings)
}

// The audit's findings, the engine's rules over live resources (FG-CL) and the audit's own
// (FG-ECR through pipeline/ecr), are rendered with source "audit" in JSON and SARIF.
func TestAuditRenderedSource(t *testing.T) {
	w := newWorld(t)
	w.cluster["settings"] = []any{map[string]any{"name": "containerInsights", "value": "disabled"}}
	w.repo["imageScanningConfiguration"] = map[string]any{"scanOnPush": false}
	r, err := Audit(t.Context(), w.srv.Config(t), target())
	require.NoError(t, err)
	require.Equal(t, []string{"FG-CL-001", "FG-ECR-001"}, ruleIDs(r))

	var j struct {
		Findings []struct{ Rule, Source string } `json:"findings"`
	}
	var buf strings.Builder
	require.NoError(t, policy.Render(&buf, r, policy.FormatJSON))
	require.NoError(t, json.Unmarshal([]byte(buf.String()), &j))
	require.Len(t, j.Findings, 2)
	for _, f := range j.Findings {
		require.Equal(t, "audit", f.Source, "json: %s", f.Rule)
	}

	var s sarif.Log
	buf.Reset()
	require.NoError(t, policy.Render(&buf, r, policy.FormatSARIF))
	require.NoError(t, json.Unmarshal([]byte(buf.String()), &s))
	require.Len(t, s.Runs[0].Results, 2)
	for _, res := range s.Runs[0].Results {
		require.Equal(t, "audit", res.Properties[sarif.SourceProperty], "sarif: %s", res.RuleID)
	}
}

func TestAuditAccessDeniedBecomesFindings(t *testing.T) {
	w := newWorld(t)
	w.srv.FailNext("iam", "ListAttachedRolePolicies", fakeaws.Errorf("AccessDenied", "User: arn:aws:sts::%s:assumed-role/ci/x is not authorized to perform: iam:ListAttachedRolePolicies", account))
	w.srv.FailNext("ec2", "DescribeSecurityGroups", fakeaws.Errorf("UnauthorizedOperation", "You are not authorized to perform this operation."))
	w.srv.FailNext("ecr", "GetRegistryScanningConfiguration", fakeaws.Errorf("AccessDeniedException", "not authorized"))
	w.srv.FailNext("ecs", "DescribeClusters", fakeaws.Errorf("AccessDeniedException", "not authorized"))
	r, err := Audit(t.Context(), w.srv.Config(t), target())
	require.NoError(t, err)
	require.Equal(t, []string{"FG-AUDIT-001", "FG-AUDIT-001", "FG-AUDIT-001", "FG-AUDIT-001"}, ruleIDs(r))
	var msgs []string
	for _, f := range r.Findings {
		msgs = append(msgs, f.Resource+": "+f.Message)
		require.Equal(t, policy.Medium, f.Severity)
	}
	joined := strings.Join(msgs, "\n")
	for _, perm := range []string{"iam:ListAttachedRolePolicies", "ec2:DescribeSecurityGroups", "ecr:GetRegistryScanningConfiguration", "ecs:DescribeClusters"} {
		require.Contains(t, joined, "missing permission "+perm)
	}
	require.Contains(t, joined, "cluster/prod: ")
	require.Contains(t, joined, "iam/role/web-execution: ")
	require.Contains(t, joined, "(AccessDenied: User: arn:aws:sts::123456789012:assumed-role/ci/x is not authorized to perform: iam:ListAttachedRolePolicies)")
	require.False(t, r.Failed(policy.High), "a warning by default")
	require.True(t, r.Failed(policy.Medium))
	assertReadOnly(t, w.srv)
}

func TestAuditErrors(t *testing.T) {
	t.Run("missing service", func(t *testing.T) {
		w := newWorld(t)
		tg := target()
		tg.Service = "nope"
		_, err := Audit(t.Context(), w.srv.Config(t), tg)
		require.ErrorContains(t, err, `service "nope" not found in cluster "prod"`)
	})
	t.Run("required fields", func(t *testing.T) {
		w := newWorld(t)
		_, err := Audit(t.Context(), w.srv.Config(t), AuditTarget{Service: "web"})
		require.ErrorContains(t, err, "cluster is required")
		_, err = Audit(t.Context(), w.srv.Config(t), AuditTarget{Cluster: "prod"})
		require.ErrorContains(t, err, "service is required")
	})
	t.Run("invalid suppression", func(t *testing.T) {
		w := newWorld(t)
		tg := target()
		tg.Suppressions = []policy.Suppression{{Rule: "FG-XX-001", Resource: "*", Reason: "r", Expires: "2030-01-01"}}
		_, err := Audit(t.Context(), w.srv.Config(t), tg)
		require.ErrorContains(t, err, "unknown rule ID")
		require.Empty(t, w.srv.CallLog(), "validated before any call")
	})
	t.Run("persistent throttling", func(t *testing.T) {
		w := newWorld(t)
		for i := 0; i < 20; i++ {
			w.srv.FailNext("ecs", "DescribeServices", fakeaws.Throttling())
		}
		r, err := Audit(t.Context(), w.srv.Config(t), target())
		require.NoError(t, err, "a read that keeps failing is a finding, not the end of the audit")
		require.Contains(t, readFailures(r), "could not read service/prod/web (ecs:DescribeServices): ThrottlingException")
	})
	t.Run("transient throttling is retried", func(t *testing.T) {
		w := newWorld(t)
		w.srv.FailNext("iam", "GetRolePolicy", fakeaws.Throttling(), fakeaws.Throttling())
		r, err := Audit(t.Context(), w.srv.Config(t), target())
		require.NoError(t, err)
		require.Empty(t, r.Findings)
	})
	t.Run("unparseable live policy document is an error", func(t *testing.T) {
		w := newWorld(t)
		w.iam.AddRole(iamfake.Role{Name: "web-execution", Inline: map[string]string{"broken": `{"Statement": 5}`}})
		_, err := Audit(t.Context(), w.srv.Config(t), target())
		require.ErrorContains(t, err, "iam/role/web-execution/inline/broken")
	})
	t.Run("missing role", func(t *testing.T) {
		w := newWorld(t)
		w.taskDef["taskRoleArn"] = "arn:aws:iam::" + account + ":role/gone"
		r, err := Audit(t.Context(), w.srv.Config(t), target())
		require.NoError(t, err)
		require.Contains(t, readFailures(r), "could not read iam/role/gone (iam:GetRole): NoSuchEntity")
		require.NotZero(t, w.srv.Calls("ecr", "DescribeRepositories"), "the rest of the audit still ran")
	})
	// Issue #10 item 3: a service that does not answer (EC2 failing with 5xx past the
	// retries) used to abort the whole audit at "describe subnets".
	t.Run("a service that does not answer", func(t *testing.T) {
		w := newWorld(t)
		for i := 0; i < 20; i++ {
			w.srv.FailNext("ec2", "DescribeSubnets", fakeaws.ServerError())
		}
		r, err := Audit(t.Context(), w.srv.Config(t), target())
		require.NoError(t, err)
		require.Contains(t, readFailures(r), "could not read service/prod/web (ec2:DescribeSubnets): ServerException")
		require.NotZero(t, w.srv.Calls("iam", "GetRole"), "the roles were still audited")
		require.NotZero(t, w.srv.Calls("ecr", "DescribeRepositories"), "the repository was still audited")
	})
}

// readFailures joins the messages of the audit's could-not-read findings.
func readFailures(r policy.Report) string {
	var out []string
	for _, f := range r.Findings {
		if f.Rule == policy.RuleAuditReadFailed {
			out = append(out, f.Message)
		}
	}
	return strings.Join(out, "\n")
}

func TestAuditSuppressionsAndExpiry(t *testing.T) {
	w := newWorld(t)
	w.service["enableExecuteCommand"] = true
	tg := target()
	tg.Now = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	tg.Suppressions = []policy.Suppression{{Rule: "FG-SVC-006", Resource: "service/prod/web", Reason: "incident INC-7 debugging", Expires: "2026-07-02"}}
	r, err := Audit(t.Context(), w.srv.Config(t), tg)
	require.NoError(t, err)
	require.Equal(t, 1, r.Summary.Suppressed)
	require.False(t, r.Failed(policy.Low))

	tg.Now = time.Date(2026, 7, 3, 0, 0, 0, 0, time.UTC)
	r, err = Audit(t.Context(), w.srv.Config(t), tg)
	require.NoError(t, err)
	require.Equal(t, 0, r.Summary.Suppressed)
	require.True(t, r.Failed(policy.High))
	require.Contains(t, r.Findings[0].SuppressionNote, "expired")
}

func TestRepositoryFromImages(t *testing.T) {
	w := newWorld(t)
	tg := target()
	tg.Container = "log-router" // public.ecr.aws image: no ECR repository of ours to audit
	_, err := Audit(t.Context(), w.srv.Config(t), tg)
	require.NoError(t, err)
	require.Zero(t, w.srv.Calls("ecr", "DescribeRepositories"))

	tg.Container = ""
	tg.Repository = "other"
	r, err := Audit(t.Context(), w.srv.Config(t), tg)
	require.NoError(t, err)
	require.Contains(t, readFailures(r), "could not read ecr/other (ecr:DescribeRepositories): RepositoryNotFoundException")
}
