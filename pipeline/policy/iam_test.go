package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/config"
)

// The sample service's IAM policy files, as its environments file lists them.
const sampleDir = "../../sample-app"

var sampleIAMFiles = []struct {
	file string
	role RoleKind
}{
	{"iam/task-role-policy.json", RoleTask},
	{"iam/execution-role-policy.json", RoleExecution},
	{"iam/pipeline-role-policy.json", RoleOther},
	{"iam/github-oidc-trust-policy.json", RoleTrust},
}

var sampleTaskDefinitions = []string{"ecs/preprod.taskdef.json", "ecs/prod.taskdef.json"}

func readSample(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sampleDir, rel))
	require.NoError(t, err)
	return b
}

func sampleDoc(t testing.TB, rel string) *PolicyDocument {
	t.Helper()
	doc, err := ParsePolicyDocument(readSample(t, rel))
	require.NoError(t, err, rel)
	return doc
}

func sampleTaskDef(t testing.TB, rel string) *ecstypes.TaskDefinition {
	t.Helper()
	td, _, err := ParseTaskDefinition(readSample(t, rel))
	require.NoError(t, err, rel)
	return td
}

// byAction maps each action an Allow statement grants to the first statement granting it.
func byAction(doc *PolicyDocument) map[string]Statement {
	out := map[string]Statement{}
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range s.Action {
			if _, ok := out[a]; !ok {
				out[a] = s
			}
		}
	}
	return out
}

func TestSampleIAMPoliciesPassEveryRule(t *testing.T) {
	in := CheckInput{RequiredTags: []string{"env", "owner", "cost-center"}}
	for _, td := range sampleTaskDefinitions {
		in.TaskDefinitions = append(in.TaskDefinitions, TaskDefinitionInput{Path: td, Content: readSample(t, td)})
	}
	for _, f := range sampleIAMFiles {
		in.IAMPolicies = append(in.IAMPolicies, PolicyInput{Path: f.file, Content: readSample(t, f.file), Role: f.role})
	}
	r, err := Check(t.Context(), in)
	require.NoError(t, err)
	var iamFindings []Finding
	for _, f := range r.Findings {
		if strings.HasPrefix(f.Rule, "FG-IAM-") {
			iamFindings = append(iamFindings, f)
		}
	}
	assert.Empty(t, iamFindings)

	// A finding on a file under iam/ is named iam/<file>, not iam/iam/<file>.
	in.IAMPolicies = []PolicyInput{{Path: "iam/task-role-policy.json", Role: RoleTask,
		Content: []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"Wide","Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/k"}]}`)}}
	r, err = Check(t.Context(), in)
	require.NoError(t, err)
	var names []string
	for _, f := range r.Findings {
		if f.Rule == "FG-IAM-001" {
			names = append(names, f.Resource)
		}
	}
	assert.Equal(t, []string{"iam/task-role-policy.json"}, names)

	// Each file also passes on its own, and every statement says what it is for.
	for _, f := range sampleIAMFiles {
		doc := sampleDoc(t, f.file)
		assert.Equal(t, PolicyVersion, doc.Version, f.file)
		assert.Empty(t, PolicyFindings(doc, f.role, f.file, nil, Location{Path: f.file}), f.file)
		for _, s := range doc.Statement {
			assert.NotEmpty(t, s.Sid, "%s: every statement has a Sid saying what it is for", f.file)
		}
	}
}

func TestSampleIAMPoliciesFailWhenWidened(t *testing.T) {
	// The zero-finding result above is not vacuous: widening each file trips its rules.
	tests := []struct {
		file     string
		role     RoleKind
		old, new string
		want     string
	}{
		{"iam/pipeline-role-policy.json", RoleOther, `"iam:PassedToService": "ecs-tasks.amazonaws.com"`, `"aws:RequestedRegion": "eu-west-1"`, "FG-IAM-005"},
		{"iam/pipeline-role-policy.json", RoleOther, `"arn:aws:iam::111122223333:role/sample-app-preprod-task"`, `"arn:aws:iam::111122223333:role/*"`, "FG-IAM-006"},
		{"iam/pipeline-role-policy.json", RoleOther, `"ArnEquals"`, `"ArnNotEquals"`, "FG-IAM-002"},
		{"iam/pipeline-role-policy.json", RoleOther, `"kms:ResourceAliases": "alias/sample-app-signing"`, `"aws:RequestedRegion": "eu-west-1"`, "FG-IAM-002"},
		{"iam/pipeline-role-policy.json", RoleOther, `"ecr:PutImage"`, `"ecr:*"`, "FG-IAM-001"},
		{"iam/execution-role-policy.json", RoleExecution, `"ssm:GetParameters"`, `"ssm:GetParameter*"`, "FG-IAM-001"},
		{"iam/execution-role-policy.json", RoleExecution, `api-token-AbCdEf"`, `other-token-AbCdEf"`, "FG-IAM-004"},
		{"iam/execution-role-policy.json", RoleExecution, `"logs:PutLogEvents"`, `"logs:PutLogEvents", "s3:GetObject"`, "FG-IAM-004"},
		{"iam/task-role-policy.json", RoleTask, `"Effect": "Deny"`, `"Effect": "Allow"`, "FG-IAM-001"},
		{"iam/github-oidc-trust-policy.json", RoleTrust, `"StringEquals"`, `"StringNotEquals"`, "FG-IAM-008"},
		{"iam/github-oidc-trust-policy.json", RoleTrust, `"repo:example/fargate:environment:preprod"`, `"repo:example/*"`, ""},
		{"iam/github-oidc-trust-policy.json", RoleTrust, `"2012-10-17"`, `"2008-10-17"`, "FG-IAM-011"},
	}
	secrets := SecretARNs(sampleTaskDef(t, "ecs/preprod.taskdef.json"))
	for _, tt := range tests {
		t.Run(tt.file+" "+tt.new, func(t *testing.T) {
			content := string(readSample(t, tt.file))
			require.Contains(t, content, tt.old)
			doc, err := ParsePolicyDocument([]byte(strings.Replace(content, tt.old, tt.new, 1)))
			require.NoError(t, err)
			got := rulesOf(PolicyFindings(doc, tt.role, tt.file, secrets, Location{}))
			if tt.want == "" {
				// Under StringEquals a "*" is literal: the policy no longer admits the preprod job,
				// but it admits nobody else either.
				assert.Empty(t, got)
				return
			}
			assert.Contains(t, got, tt.want)
		})
	}
}

func TestPipelineRolePolicyGrantsWhatThePipelineCallsAndNoMore(t *testing.T) {
	doc := sampleDoc(t, "iam/pipeline-role-policy.json")
	actions := byAction(doc)
	for _, s := range doc.Statement {
		assert.Equal(t, "Allow", s.Effect, s.Sid)
	}
	for _, a := range []string{
		"ecr:GetAuthorizationToken", "ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
		"ecr:BatchCheckLayerAvailability", "ecr:DescribeRepositories", "ecr:CreateRepository", "ecr:PutLifecyclePolicy",
		"ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:UpdateService", "ecs:DescribeServices",
		"ecs:ListTasks", "ecs:DescribeTasks", "ecs:StopServiceDeployment", "ecs:TagResource",
		"ecs:DescribeServiceDeployments", "ecs:ListServiceDeployments", "ecs:ContinueServiceDeployment",
		"iam:PassRole", "kms:Sign", "kms:GetPublicKey", "sts:GetCallerIdentity",
	} {
		assert.Contains(t, actions, a)
	}

	// PassRole: only to ECS tasks, compared exactly, and only the roles the task definitions name.
	pass := actions["iam:PassRole"]
	require.Len(t, pass.Condition.requires("iam:PassedToService"), 1)
	assert.Equal(t, condValue{value: "ecs-tasks.amazonaws.com"}, pass.Condition.requires("iam:PassedToService")[0])
	assert.Equal(t, []string{"ecs-tasks.amazonaws.com"}, pass.Condition.Values("iam:PassedToService"))
	var roles []string
	for _, rel := range sampleTaskDefinitions {
		td := sampleTaskDef(t, rel)
		roles = append(roles, aws.ToString(td.TaskRoleArn), aws.ToString(td.ExecutionRoleArn))

		// ECR writes go to the repository of each environment's image, and registrations to its family.
		repo := repositoryARN(t, aws.ToString(td.ContainerDefinitions[0].Image))
		assert.Contains(t, actions["ecr:PutImage"].Resource, repo, rel)
		family := strings.Replace(repo, ":ecr:", ":ecs:", 1)
		family = family[:strings.Index(family, ":repository/")] + ":task-definition/" + aws.ToString(td.Family) + ":*"
		assert.Contains(t, actions["ecs:RegisterTaskDefinition"].Resource, family, rel)
	}
	assert.ElementsMatch(t, roles, pass.Resource)

	// The one other PassRole: prod's ECS infrastructure role for load balancers (canary), to
	// ECS itself only — the role the environments file's loadBalancer.role names.
	var infra []Statement
	for _, st := range doc.Statement {
		if slices.Contains(st.Action, "iam:PassRole") && st.Sid != pass.Sid {
			infra = append(infra, st)
		}
	}
	require.Len(t, infra, 1)
	assert.Equal(t, []string{"ecs.amazonaws.com"}, infra[0].Condition.Values("iam:PassedToService"))
	cfg, err := config.Load("../../sample-app/fargate.yaml")
	require.NoError(t, err)
	assert.Equal(t, []string{cfg.Environments["prod"].LoadBalancer.Role}, infra[0].Resource)

	// Signing is limited to the signing key by alias; tagging only while registering; ListTasks,
	// granted on "*", is held to the two service clusters.
	assert.Equal(t, []string{"alias/sample-app-signing"}, actions["kms:Sign"].Condition.Values("kms:ResourceAliases"))
	assert.Equal(t, []string{"RegisterTaskDefinition"}, actions["ecs:TagResource"].Condition.Values("ecs:CreateAction"))
	assert.Len(t, actions["ecs:ListTasks"].Condition.Values("ecs:cluster"), 2)

	// Each Resource "*" statement holds actions without resource-level permissions, or is
	// scoped by a condition that names the resource.
	for _, s := range doc.Statement {
		if slices.Contains(s.Resource, "*") {
			exempt := true
			for _, a := range s.Action {
				exempt = exempt && slices.Contains(StarResourceExceptions(), strings.ToLower(a))
			}
			assert.True(t, exempt || scopedByCondition(s), s.Sid)
		}
	}
}

// repositoryARN turns ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME:TAG into the repository ARN.
func repositoryARN(t *testing.T, image string) string {
	t.Helper()
	host, path, ok := strings.Cut(image, "/")
	require.True(t, ok, image)
	account, rest, ok := strings.Cut(host, ".dkr.ecr.")
	require.True(t, ok, image)
	region := strings.TrimSuffix(rest, ".amazonaws.com")
	name, _, _ := strings.Cut(path, "@")
	name, _, _ = strings.Cut(name, ":")
	return fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", region, account, name)
}

func TestExecutionRolePolicyReadsExactlyTheTaskSecrets(t *testing.T) {
	doc := sampleDoc(t, "iam/execution-role-policy.json")
	td := sampleTaskDef(t, "ecs/preprod.taskdef.json")
	actions := byAction(doc)
	var reads []string
	for _, a := range []string{"secretsmanager:GetSecretValue", "ssm:GetParameters"} {
		reads = append(reads, actions[a].Resource...)
	}
	secrets := SecretARNs(td)
	require.NotEmpty(t, secrets)
	assert.ElementsMatch(t, secrets, reads)
	assert.NotContains(t, actions, "kms:Decrypt", "the secrets use the AWS managed keys")

	assert.Equal(t, []string{"arn:aws:ecr:eu-west-1:111122223333:repository/sample-app"}, actions["ecr:BatchGetImage"].Resource)
	group := td.ContainerDefinitions[0].LogConfiguration.Options["awslogs-group"]
	assert.Equal(t, []string{"arn:aws:logs:eu-west-1:111122223333:log-group:" + group + ":*"}, actions["logs:PutLogEvents"].Resource)
	assert.Equal(t, aws.ToString(td.ExecutionRoleArn), "arn:aws:iam::111122223333:role/sample-app-preprod-execution")

	// Every action is one the execution-role rule allows.
	for a := range actions {
		assert.True(t, executionActions[strings.ToLower(a)], a)
	}
}

func TestTaskRolePolicyAllowsNothing(t *testing.T) {
	doc := sampleDoc(t, "iam/task-role-policy.json")
	for _, s := range doc.Statement {
		assert.Equal(t, "Deny", s.Effect, "the sample app calls no AWS API")
	}
}

func TestGitHubOIDCTrustPolicyAdmitsOnlyTheDeployJobs(t *testing.T) {
	doc := sampleDoc(t, "iam/github-oidc-trust-policy.json")
	require.Len(t, doc.Statement, 1)
	s := doc.Statement[0]
	assert.Equal(t, "Allow", s.Effect)
	assert.Equal(t, []string{"sts:AssumeRoleWithWebIdentity"}, s.Action)
	assert.Equal(t, []string{"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}, s.Principal.Values("Federated"))
	prefix, ok := gitHubProvider(s)
	require.True(t, ok)
	assert.Equal(t, "token.actions.githubusercontent.com", prefix)
	assert.Equal(t, []condValue{{value: "sts.amazonaws.com"}}, s.Condition.requires(prefix+":aud"))

	// The subject is compared exactly (StringEquals), one value per GitHub environment.
	subs := s.Condition.requires(prefix + ":sub")
	var values []string
	for _, v := range subs {
		assert.False(t, v.like, v.value)
		assert.NotContains(t, v.value, "*", "no wildcard subjects: a fork or branch must not assume the role")
		values = append(values, v.value)
	}
	assert.ElementsMatch(t, []string{"repo:example/fargate:environment:preprod", "repo:example/fargate:environment:production"}, values)
}

func TestPassRoleAndResourceScopingDetails(t *testing.T) {
	stmt := func(body string) string {
		return `{"Version":"2012-10-17","Statement":[{"Sid":"S","Effect":"Allow",` + body + `}]}`
	}
	const role = `"Resource":"arn:aws:iam::1:role/web-task"`
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"passrole via iam wildcard", stmt(`"Action":"iam:Pass*",` + role), []string{"FG-IAM-001", "FG-IAM-005"}},
		{"passrole negated condition", stmt(`"Action":"iam:PassRole",` + role + `,"Condition":{"StringNotEquals":{"iam:PassedToService":"ec2.amazonaws.com"}}`), []string{"FG-IAM-005"}},
		{"passrole match-all condition", stmt(`"Action":"iam:PassRole",` + role + `,"Condition":{"StringLike":{"iam:PassedToService":"*"}}`), []string{"FG-IAM-005"}},
		{"passrole IfExists condition", stmt(`"Action":"iam:PassRole",` + role + `,"Condition":{"StringEqualsIfExists":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}`), []string{"FG-IAM-005"}},
		{"passrole condition key case", stmt(`"Action":"iam:passrole",` + role + `,"Condition":{"StringEquals":{"IAM:PassedToService":"ecs-tasks.amazonaws.com"}}`), nil},
		{"passrole on role/*", stmt(`"Action":"iam:PassRole","Resource":"arn:aws:iam::1:role/*","Condition":{"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}`), []string{"FG-IAM-002", "FG-IAM-006"}},
		{"passrole on a role prefix", stmt(`"Action":"iam:PassRole","Resource":"arn:aws:iam::1:role/web-*","Condition":{"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}`), nil},
		{"leading wildcard names no resource", stmt(`"Action":"s3:GetObject","Resource":"arn:aws:s3:::*-logs"`), []string{"FG-IAM-002"}},
		{"DescribeTaskDefinition has no resource-level permissions", stmt(`"Action":"ecs:DescribeTaskDefinition","Resource":"*"`), nil},
		{"ListTasks scoped by cluster", stmt(`"Action":"ecs:ListTasks","Resource":"*","Condition":{"ArnEquals":{"ecs:cluster":"arn:aws:ecs:eu-west-1:1:cluster/web"}}`), nil},
		{"ListTasks unscoped", stmt(`"Action":"ecs:ListTasks","Resource":"*"`), []string{"FG-IAM-002"}},
		{"ListTasks on every cluster", stmt(`"Action":"ecs:ListTasks","Resource":"*","Condition":{"ArnLike":{"ecs:cluster":"arn:aws:ecs:eu-west-1:1:cluster/*"}}`), []string{"FG-IAM-002"}},
		{"cluster condition does not scope another service", stmt(`"Action":["ecs:ListTasks","s3:GetObject"],"Resource":"*","Condition":{"ArnEquals":{"ecs:cluster":"arn:aws:ecs:eu-west-1:1:cluster/web"}}`), []string{"FG-IAM-002"}},
		{"kms key by alias", stmt(`"Action":"kms:Sign","Resource":"arn:aws:kms:eu-west-1:1:key/*","Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/signing"}}`), nil},
		{"kms key by ForAllValues alias", stmt(`"Action":"kms:Sign","Resource":"arn:aws:kms:eu-west-1:1:key/*","Condition":{"ForAllValues:StringEquals":{"kms:ResourceAliases":"alias/signing"}}`), []string{"FG-IAM-002"}},
		{"kms key by any alias", stmt(`"Action":"kms:Sign","Resource":"arn:aws:kms:eu-west-1:1:key/*","Condition":{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/*"}}`), []string{"FG-IAM-002"}},
		{"kms key with an unrelated condition", stmt(`"Action":"kms:Sign","Resource":"arn:aws:kms:eu-west-1:1:key/*","Condition":{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}`), []string{"FG-IAM-002"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ElementsMatch(t, tt.want, rulesOf(iamFindings(t, RoleOther, tt.doc)))
		})
	}
}

func TestTrustPolicyRuleDetails(t *testing.T) {
	aud := `"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"`
	withSub := func(op, sub string) string {
		return gitHubTrust(`"StringEquals":{` + aud + `},"` + op + `":{"token.actions.githubusercontent.com:sub":"` + sub + `"}`)
	}
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"named repository and environment", gitHubTrust(goodGitHubCondition), nil},
		{"no condition at all", gitHubTrust(``), []string{"FG-IAM-007", "FG-IAM-008"}},
		{"audience of another relying party", gitHubTrust(`"StringEquals":{"token.actions.githubusercontent.com:aud":["sts.amazonaws.com","https://github.com/example"],"token.actions.githubusercontent.com:sub":"repo:example/web:environment:prod"}`), []string{"FG-IAM-007"}},
		{"sub star", withSub("StringLike", "*"), []string{"FG-IAM-008"}},
		{"sub any repository", withSub("StringLike", "repo:*"), []string{"FG-IAM-008"}},
		{"sub any owner of the name", withSub("StringLike", "repo:*/web:*"), []string{"FG-IAM-008"}},
		{"sub owner prefix", withSub("StringLike", "repo:exam*/web:ref:refs/heads/main"), []string{"FG-IAM-008"}},
		{"sub single-character wildcard in owner", withSub("StringLike", "repo:exampl?/web:environment:prod"), []string{"FG-IAM-008"}},
		{"sub any repository of the owner", withSub("StringLike", "repo:example/*"), []string{"FG-IAM-009"}},
		{"sub repository name prefix", withSub("StringLike", "repo:example/web*:environment:prod"), []string{"FG-IAM-009"}},
		{"sub any ref of the repository", withSub("StringLike", "repo:example/web:*"), nil},
		{"sub star under StringEquals is literal", gitHubTrust(`"StringEquals":{` + aud + `,"token.actions.githubusercontent.com:sub":"repo:*"}`), nil},
		{"sub only in IfExists", withSub("StringLikeIfExists", "repo:example/web:*"), []string{"FG-IAM-008"}},
		{"sub only negated", withSub("StringNotLike", "repo:evil/*"), []string{"FG-IAM-008"}},
		{"GitHub Enterprise issuer", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com/acme"},"Action":"sts:AssumeRoleWithWebIdentity",
			"Condition":{"StringEquals":{"token.actions.githubusercontent.com/acme:aud":"sts.amazonaws.com"},"StringLike":{"token.actions.githubusercontent.com/acme:sub":"repo:acme/*"}}}]}`, []string{"FG-IAM-009"}},
		{"another OIDC provider is not GitHub", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/gitlab.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"gitlab.com:sub":"project_path:g/p:ref_type:branch:ref:main"}}}]}`, nil},
		{"anyone", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}`, []string{"FG-IAM-010"}},
		{"any AWS principal in a list", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","*"]},"Action":"sts:AssumeRole"}]}`, []string{"FG-IAM-010"}},
		{"everyone but", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::1:root"},"Action":"sts:AssumeRole"}]}`, []string{"FG-IAM-010"}},
		{"denying anyone is fine", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}]}`, nil},
		{"ECS tasks of this account", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"1"}}}]}`, nil},
		{"permissions rules do not apply", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:*","NotAction":"sts:TagSession"}]}`, nil},
		{"no version", `{"Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`, []string{"FG-IAM-011"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := iamFindings(t, RoleTrust, tt.doc)
			assert.ElementsMatch(t, tt.want, rulesOf(fs))
			for _, f := range fs {
				r, _ := LookupRule(f.Rule)
				if f.Rule != "FG-IAM-011" {
					assert.Equal(t, TargetTrustPolicy, r.Target, f.Rule)
				}
				assert.Equal(t, "iam/test", f.Resource)
			}
		})
	}
}

func TestTrustRulesDoNotApplyToPermissionsPolicies(t *testing.T) {
	// A permissions policy never meets the trust rules, a trust policy never the permissions rules.
	for _, r := range Rules() {
		d := lookup(r.ID)
		switch r.Target {
		case TargetTrustPolicy:
			assert.NotNil(t, d.trust, r.ID)
			assert.Nil(t, d.iam, r.ID)
		case TargetIAMPolicy:
			assert.NotNil(t, d.iam, r.ID)
		default:
			assert.Nil(t, d.iam, r.ID)
			assert.Nil(t, d.trust, r.ID)
		}
	}
	fs := iamFindings(t, RoleTrust, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:role/ci"},"Action":"*"}]}`)
	assert.Empty(t, fs)
}

func TestParseRoleKind(t *testing.T) {
	for in, want := range map[string]RoleKind{"": RoleOther, "other": RoleOther, " Other ": RoleOther, "task": RoleTask, "EXECUTION": RoleExecution, "trust": RoleTrust} {
		got, err := ParseRoleKind(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := ParseRoleKind("admin")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"admin"`)
	assert.Contains(t, err.Error(), "trust")
}

func TestCheckRejectsAPolicyOfTheWrongKind(t *testing.T) {
	trust := readSample(t, "iam/github-oidc-trust-policy.json")
	perms := readSample(t, "iam/execution-role-policy.json")
	tests := []struct {
		name    string
		in      PolicyInput
		wantErr string
	}{
		{"trust policy given as a permissions policy", PolicyInput{Path: "iam/trust.json", Content: trust, Role: RoleOther}, "iam/trust.json: role other: Statement[0] has a Principal"},
		{"trust policy given as the task role", PolicyInput{Path: "iam/trust.json", Content: trust, Role: RoleTask}, "use role: trust"},
		{"permissions policy given as a trust policy", PolicyInput{Path: "iam/exec.json", Content: perms, Role: RoleTrust}, "iam/exec.json: role trust: Statement[0] has no Principal"},
		{"trust statement with a Resource", PolicyInput{Path: "t.json", Role: RoleTrust,
			Content: []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}]}`)}, "Statement[0] has a Resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Check(t.Context(), CheckInput{IAMPolicies: []PolicyInput{tt.in}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestParsePolicyConditionsAndPrincipals(t *testing.T) {
	doc, err := ParsePolicyDocument([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","arn:aws:iam::2:root"],"Service":"ecs-tasks.amazonaws.com"},
	 "Action":"sts:AssumeRole","Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"aws:MultiFactorAuthAge":3600},"StringEquals":{"aws:SourceAccount":["1","2"]}}}]}`))
	require.NoError(t, err)
	s := doc.Statement[0]
	assert.Equal(t, []string{"arn:aws:iam::1:root", "arn:aws:iam::2:root"}, s.Principal.Values("aws"))
	assert.Equal(t, []string{"ecs-tasks.amazonaws.com"}, s.Principal.Values("Service"))
	assert.False(t, s.Principal.Everyone())
	assert.Equal(t, []string{"true"}, s.Condition.Values("aws:securetransport"))
	assert.Equal(t, []string{"3600"}, s.Condition.Values("aws:MultiFactorAuthAge"))
	assert.Equal(t, []string{"1", "2"}, s.Condition.Values("aws:SourceAccount"))
	assert.Empty(t, s.Condition.requires("aws:SecureTransport"), "Bool is not a naming operator")
	got := s.Condition.requires("aws:SourceAccount")
	sort.Slice(got, func(i, j int) bool { return got[i].value < got[j].value })
	assert.Equal(t, []condValue{{value: "1"}, {value: "2"}}, got)
}
