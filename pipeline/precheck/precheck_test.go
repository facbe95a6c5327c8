package precheck_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/infra"
	"dagger/fargate/pipeline/internal/sarif"
	"dagger/fargate/pipeline/policy"
	"dagger/fargate/pipeline/precheck"
	"dagger/fargate/pipeline/scan"
)

const sampleDir = "../../sample-app"

func diskReader(dir string) precheck.ReadFunc {
	return func(rel string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, rel)) }
}

// memReader serves the sample app's files, with some replaced.
func memReader(t *testing.T, overrides map[string]string) precheck.ReadFunc {
	t.Helper()
	return func(rel string) ([]byte, error) {
		if c, ok := overrides[rel]; ok {
			return []byte(c), nil
		}
		return os.ReadFile(filepath.Join(sampleDir, rel))
	}
}

func loadSample(t *testing.T, extra string) *config.File {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sampleDir, "fargate.yaml"))
	require.NoError(t, err)
	f, err := config.Parse("fargate.yaml", []byte(string(data)+extra))
	require.NoError(t, err)
	return f
}

func rules(r policy.Report, suppressed bool) []string {
	var ids []string
	for _, f := range r.Findings {
		if f.Suppressed == suppressed {
			ids = append(ids, f.Rule)
		}
	}
	return ids
}

func TestSampleAppPassesItsOwnCheck(t *testing.T) {
	f := loadSample(t, "")
	rep, err := precheck.Run(context.Background(), f, diskReader(sampleDir))
	require.NoError(t, err)
	threshold, err := policy.ParseSeverity(f.Policy.Threshold)
	require.NoError(t, err)
	assert.False(t, rep.Failed(threshold), "sample app findings: %v", rep.Findings)
}

const unhardened = `{
  "family": "legacy",
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "cpu": "256", "memory": "512",
  "executionRoleArn": "arn:aws:iam::111122223333:role/exec",
  "taskRoleArn": "arn:aws:iam::111122223333:role/task",
  "containerDefinitions": [{
    "name": "app", "image": "nginx:latest", "essential": true, "memory": 512,
    "environment": [{"name": "DB_PASSWORD", "value": "hunter2hunter2"}],
    "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "app"}}
  }]
}`

func TestUnhardenedTaskDefinitionFails(t *testing.T) {
	f := loadSample(t, "")
	rep, err := precheck.Run(context.Background(), f, memReader(t, map[string]string{
		"ecs/preprod.taskdef.json": unhardened,
		"Dockerfile":               "FROM nginx:latest\nCMD [\"nginx\"]\n",
	}))
	require.NoError(t, err)
	ids := strings.Join(rules(rep, false), " ")
	for _, want := range []string{"FG-TD-", "FG-DF-"} {
		assert.Contains(t, ids, want)
	}
	threshold, _ := policy.ParseSeverity("high")
	assert.True(t, rep.Failed(threshold))
	// The secret's value is never echoed.
	for _, fd := range rep.Findings {
		assert.NotContains(t, fd.Message, "hunter2hunter2")
	}
}

func TestServiceSettingsFromTheEnvironmentsFile(t *testing.T) {
	f := loadSample(t, "")
	pre := f.Environments["preprod"]
	off := false
	pre.CircuitBreaker = &off
	pre.Network = &config.Network{AssignPublicIP: true}
	f.Environments["preprod"] = pre
	rep, err := precheck.Run(context.Background(), f, diskReader(sampleDir))
	require.NoError(t, err)
	var resources []string
	for _, fd := range rep.Findings {
		if strings.HasPrefix(fd.Rule, "FG-SVC-") {
			resources = append(resources, fd.Rule+" "+fd.Resource)
		}
	}
	require.NotEmpty(t, resources)
	assert.Contains(t, strings.Join(resources, "\n"), "sample-app-preprod/sample-app")
	assert.NotContains(t, strings.Join(resources, "\n"), "sample-app-prod/sample-app")
}

func TestSuppressionsAreApplied(t *testing.T) {
	f := loadSample(t, "")
	read := memReader(t, map[string]string{"Dockerfile": "FROM nginx:latest\nCMD [\"nginx\"]\n"})
	before, err := precheck.Run(context.Background(), f, read)
	require.NoError(t, err)
	var target policy.Finding
	for _, fd := range before.Findings {
		if strings.HasPrefix(fd.Rule, "FG-DF-") && !fd.Suppressed {
			target = fd
			break
		}
	}
	require.NotEmpty(t, target.Rule)
	f.Policy.Suppressions = []config.Suppression{{Rule: target.Rule, Resource: "*", Reason: "legacy base, migrating", Expires: config.Date{Time: mustDate(t, "2999-01-01")}}}
	after, err := precheck.Run(context.Background(), f, read)
	require.NoError(t, err)
	assert.Contains(t, rules(after, true), target.Rule)
	assert.NotContains(t, rules(after, false), target.Rule)
}

func TestReadErrorsNameTheFile(t *testing.T) {
	f := loadSample(t, "")
	_, err := precheck.Run(context.Background(), f, func(rel string) ([]byte, error) {
		if rel == "ecs/prod.taskdef.json" {
			return nil, errors.New("no such file")
		}
		return os.ReadFile(filepath.Join(sampleDir, rel))
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "task definition of prod")
}

func TestMalformedTaskDefinitionIsAnErrorNotAPass(t *testing.T) {
	f := loadSample(t, "")
	_, err := precheck.Run(context.Background(), f, memReader(t, map[string]string{"ecs/prod.taskdef.json": `{"family": 42`}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ecs/prod.taskdef.json")
}

func mustDate(t *testing.T, s string) time.Time {
	t.Helper()
	parsed, err := time.Parse(time.DateOnly, s)
	require.NoError(t, err)
	return parsed
}

func findingsOf(r policy.Report, prefix string) []policy.Finding {
	var out []policy.Finding
	for _, f := range r.Findings {
		if strings.HasPrefix(f.Rule, prefix) {
			out = append(out, f)
		}
	}
	return out
}

// The sample app's landing-zone template passes every FG-CFN rule for both environments; the
// only template finding allowed is FG-CFN-001, which names the parameters checked with
// placeholders because they are only known at deploy time (e.g. ContainerImage).
func TestSampleAppTemplatePassesItsOwnRules(t *testing.T) {
	f := loadSample(t, "")
	rep, err := precheck.Run(context.Background(), f, diskReader(sampleDir))
	require.NoError(t, err)
	for _, fd := range findingsOf(rep, "FG-CFN-") {
		assert.Equal(t, "FG-CFN-001", fd.Rule, "%s %s: %s", fd.Rule, fd.Resource, fd.Message)
		assert.Equal(t, policy.Low, fd.Severity)
		assert.Equal(t, "template/infra/service.yaml#Parameters", fd.Resource)
		assert.Contains(t, fd.Message, "ContainerImage")
	}
}

const publicIPAnchor = "AssignPublicIp: DISABLED"

func sampleTemplate(t *testing.T, old, new string) string {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(sampleDir, "infra/service.yaml"))
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(body), old), "anchor %q", old)
	return strings.Replace(string(body), old, new, 1)
}

func TestBrokenTemplateFailsTheCheck(t *testing.T) {
	f := loadSample(t, "")
	reads := map[string]int{}
	broken := sampleTemplate(t, publicIPAnchor, "AssignPublicIp: ENABLED")
	rep, err := precheck.Run(context.Background(), f, func(rel string) ([]byte, error) {
		reads[rel]++
		if rel == "infra/service.yaml" {
			return []byte(broken), nil
		}
		return os.ReadFile(filepath.Join(sampleDir, rel))
	})
	require.NoError(t, err)
	assert.Equal(t, 1, reads["infra/service.yaml"], "a template shared by environments is read once")
	var msgs []string
	for _, fd := range findingsOf(rep, "FG-CFN-002") {
		assert.Equal(t, "template/infra/service.yaml#Service", fd.Resource)
		assert.Equal(t, policy.High, fd.Severity)
		assert.Equal(t, []string{"ECS.2"}, fd.Controls)
		assert.Equal(t, "infra/service.yaml", fd.Location.Path)
		assert.Positive(t, fd.Location.Line)
		msgs = append(msgs, fd.Message)
	}
	assert.ElementsMatch(t, []string{
		"Service: AssignPublicIp must be DISABLED (environment preprod)",
		"Service: AssignPublicIp must be DISABLED (environment prod)",
	}, msgs)
	threshold, err := policy.ParseSeverity(f.Policy.Threshold)
	require.NoError(t, err)
	assert.True(t, rep.Failed(threshold))
}

// Each environment is checked with its own parameters and production rules: ECS Exec forced
// on fails prod only.
func TestTemplateIsCheckedPerEnvironment(t *testing.T) {
	f := loadSample(t, "")
	rep, err := precheck.Run(context.Background(), f, memReader(t, map[string]string{
		"infra/service.yaml": sampleTemplate(t, "EnableExecuteCommand: !If [ExecEnabled, true, false]", "EnableExecuteCommand: true"),
	}))
	require.NoError(t, err)
	exec := findingsOf(rep, "FG-CFN-018")
	require.Len(t, exec, 1)
	assert.Contains(t, exec[0].Message, "(environment prod)")

	// A value the environment passes changes what is checked: a parameter the template does
	// not declare is an error naming the environment.
	pre := f.Environments["preprod"]
	pre.Infra = &config.Infra{Template: "infra/service.yaml", StackName: "sample-app-preprod", Parameters: map[string]string{"Environment": "preprod", "Enviroment": "x"}}
	f.Environments["preprod"] = pre
	_, err = precheck.Run(context.Background(), f, diskReader(sampleDir))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "environments.preprod.infra")
	assert.Contains(t, err.Error(), "Enviroment")
}

func TestTemplateErrorsAreNotAPass(t *testing.T) {
	f := loadSample(t, "")
	_, err := precheck.Run(context.Background(), f, memReader(t, map[string]string{"infra/service.yaml": "Resources: [\n"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "environments.preprod.infra")
	assert.Contains(t, err.Error(), "infra/service.yaml")

	_, err = precheck.Run(context.Background(), f, func(rel string) ([]byte, error) {
		if rel == "infra/service.yaml" {
			return nil, errors.New("no such file")
		}
		return os.ReadFile(filepath.Join(sampleDir, rel))
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "infra template of preprod")
}

func TestTemplateFindingsCanBeSuppressed(t *testing.T) {
	f := loadSample(t, "")
	f.Policy.Suppressions = []config.Suppression{{Rule: "FG-CFN-001", Resource: "template/infra/service.yaml#Parameters",
		Reason: "the image, certificate and repository are passed at deploy time", Expires: config.Date{Time: mustDate(t, "2999-01-01")}}}
	rep, err := precheck.Run(context.Background(), f, diskReader(sampleDir))
	require.NoError(t, err)
	cfn := findingsOf(rep, "FG-CFN-")
	require.Len(t, cfn, 2, "one per environment (ContainerImage has no value in the file)")
	for _, fd := range cfn {
		assert.True(t, fd.Suppressed)
		assert.Contains(t, fd.SuppressionNote, "passed at deploy time")
	}
}

const trivyConfigReport = `{"SchemaVersion": 2, "ArtifactName": "infra", "ArtifactType": "filesystem", "Results": [
 {"Target": "service.yaml", "Class": "config", "Type": "cloudformation", "Misconfigurations": [
  {"Type": "CloudFormation Security Check", "ID": "AVD-AWS-0107", "AVDID": "AVD-AWS-0107", "Title": "An ingress security group rule allows traffic from /0.",
   "Message": "Security group rule allows ingress from public internet.", "Severity": "CRITICAL", "Status": "FAIL"},
  {"Type": "CloudFormation Security Check", "ID": "AVD-AWS-0178", "AVDID": "AVD-AWS-0178", "Title": "VPC Flow Logs is a recommended best practice for VPC networks.",
   "Message": "VPC does not have VPC Flow Logs enabled.", "Severity": "MEDIUM", "Status": "FAIL"},
  {"Type": "CloudFormation Security Check", "ID": "AVD-AWS-0053", "AVDID": "AVD-AWS-0053", "Title": "Load balancer is exposed publicly.",
   "Severity": "HIGH", "Status": "PASS"}
 ]}]}`

func TestIaCReport(t *testing.T) {
	d, err := infra.EvaluateIaCReport(strings.NewReader(trivyConfigReport), scan.Gate{FailOn: scan.AllSeverities})
	require.NoError(t, err)
	f := loadSample(t, "")
	// The sample's environments file accepts only what real Trivy reports on its template
	// (AWS-0035, AWS-0053, AWS-0104), not AWS-0107.
	rep, err := precheck.IaC(f, d)
	require.NoError(t, err)
	assert.Equal(t, policy.Summary{Critical: 1, Medium: 1}, rep.Summary)

	f.Policy.Suppressions = nil
	rep, err = precheck.IaC(f, d)
	require.NoError(t, err)
	require.Equal(t, []string{"FG-IAC-001", "FG-IAC-001"}, rules(rep, false))
	assert.Equal(t, policy.Summary{Critical: 1, Medium: 1}, rep.Summary)
	assert.True(t, rep.Failed(policy.High))

	f.Policy.Suppressions = []config.Suppression{{Rule: "FG-IAC-001", Resource: "service.yaml#AVD-AWS-0107",
		Reason: "the ALB listens on 443 to the internet by design", Expires: config.Date{Time: mustDate(t, "2999-01-01")}}}
	rep, err = precheck.IaC(f, d)
	require.NoError(t, err)
	assert.Equal(t, policy.Summary{Medium: 1, Suppressed: 1}, rep.Summary)
	assert.False(t, rep.Failed(policy.High))

	f.Policy.Suppressions = []config.Suppression{{Rule: "FG-IAC-999", Resource: "*", Reason: "x", Expires: config.Date{Time: mustDate(t, "2999-01-01")}}}
	_, err = precheck.IaC(f, d)
	require.Error(t, err)
}

func TestDeliveryRulesFromTheEnvironmentsFile(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(e *config.Environment)
		want   []string
		absent []string
	}{
		{"sample prod: canary with alarms", func(*config.Environment) {}, nil, []string{"FG-SVC-011", "FG-SVC-012", "FG-SVC-013"}},
		{"prod rolling without alarms", func(e *config.Environment) {
			e.Strategy, e.Alarms, e.Canary, e.LoadBalancer, e.BakeTime = config.StrategyRolling, nil, nil, nil, config.Duration{}
		}, []string{"FG-SVC-011"}, nil},
		{"alarms without rollback", func(e *config.Environment) {
			off := false
			e.Alarms.Rollback = &off
		}, []string{"FG-SVC-012"}, []string{"FG-SVC-011"}},
		{"blue-green without a test listener", func(e *config.Environment) {
			e.Strategy, e.Canary = config.StrategyBlueGreen, nil
			lb := *e.LoadBalancer
			lb.TestListenerRule = ""
			e.LoadBalancer = &lb
		}, []string{"FG-SVC-013"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := loadSample(t, "")
			prod := f.Environments["prod"]
			tt.mutate(&prod)
			f.Environments["prod"] = prod
			rep, err := precheck.Run(context.Background(), f, diskReader(sampleDir))
			require.NoError(t, err)
			var got []string
			for _, fd := range rep.Findings {
				if strings.HasPrefix(fd.Rule, "FG-SVC-01") && fd.Rule != "FG-SVC-010" {
					got = append(got, fd.Rule+" "+fd.Resource)
				}
			}
			for _, w := range tt.want {
				assert.Contains(t, got, w+" service/sample-app-prod/sample-app")
			}
			for _, a := range tt.absent {
				assert.NotContains(t, strings.Join(got, "\n"), a)
			}
			for _, g := range got {
				assert.NotContains(t, g, "preprod", "preprod is rolling, not production: no delivery finding")
			}
		})
	}
}

// The check's JSON and SARIF name each finding's source: the policy engine's own rules and
// the template checks (IaC), rendered together.
func TestRenderedFindingsNameTheirSource(t *testing.T) {
	f := loadSample(t, "")
	rep, err := precheck.Run(context.Background(), f, memReader(t, map[string]string{
		"Dockerfile":         "FROM nginx:latest\nCMD [\"nginx\"]\n",
		"infra/service.yaml": sampleTemplate(t, publicIPAnchor, "AssignPublicIp: ENABLED"),
	}))
	require.NoError(t, err)
	require.NotEmpty(t, findingsOf(rep, "FG-DF-"))
	require.NotEmpty(t, findingsOf(rep, "FG-CFN-002"))
	want := func(rule string) string {
		if strings.HasPrefix(rule, "FG-CFN-") {
			return "iac"
		}
		return "policy"
	}

	var j struct {
		Findings []struct{ Rule, Source string } `json:"findings"`
	}
	var buf strings.Builder
	require.NoError(t, policy.Render(&buf, rep, policy.FormatJSON))
	require.NoError(t, json.Unmarshal([]byte(buf.String()), &j))
	require.Len(t, j.Findings, len(rep.Findings))
	for _, fd := range j.Findings {
		assert.Equal(t, want(fd.Rule), fd.Source, "json: %s", fd.Rule)
	}

	var s sarif.Log
	buf.Reset()
	require.NoError(t, policy.Render(&buf, rep, policy.FormatSARIF))
	require.NoError(t, json.Unmarshal([]byte(buf.String()), &s))
	require.Len(t, s.Runs[0].Results, len(rep.Findings))
	for _, res := range s.Runs[0].Results {
		assert.Equal(t, want(res.RuleID), res.Properties["fargate/source"], "sarif: %s", res.RuleID)
	}
}
