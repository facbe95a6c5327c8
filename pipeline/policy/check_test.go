package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/require"
)

func TestUnhardenedTaskDefinitionFailsWithExpectedRules(t *testing.T) {
	r, err := Check(t.Context(), CheckInput{
		Dockerfile:      &FileInput{Path: "Dockerfile", Content: readTestdata(t, "unhardened.Dockerfile")},
		TaskDefinitions: []TaskDefinitionInput{{Path: "ecs/legacy.json", Content: readTestdata(t, "unhardened.taskdef.json")}},
	})
	require.NoError(t, err)
	got := map[string]bool{}
	for _, f := range r.Findings {
		got[f.Rule] = true
	}
	require.Equal(t, map[string]bool{
		"FG-TD-003": true, // no user
		"FG-TD-004": true, // no read-only root filesystem
		"FG-TD-006": true, // capabilities not dropped
		"FG-TD-011": true, // no container memory
		"FG-TD-014": true, // plaintext DB_PASSWORD
		"FG-TD-016": true, // no task role
		"FG-TD-018": true, // no health check
		"FG-DF-001": true, // root in the image
		"FG-DF-002": true, // node:20 not pinned
		"FG-DF-003": true, // single stage
	}, got)
	require.True(t, r.Failed(High))
	require.False(t, r.Failed(Critical))
	require.Equal(t, Summary{High: 4, Medium: 5, Low: 1}, r.Summary)

	// The DB_PASSWORD finding points at the container in the file and never shows the value.
	for _, f := range r.Findings {
		if f.Rule == "FG-TD-014" {
			require.Equal(t, "task-definition/legacy/container/legacy", f.Resource)
			require.Equal(t, Location{Path: "ecs/legacy.json", Line: 10}, f.Location)
			require.Contains(t, f.Message, "DB_PASSWORD")
		}
		if f.Rule == "FG-DF-001" {
			require.Equal(t, Location{Path: "Dockerfile", Line: 1}, f.Location)
		}
	}
	for _, format := range []Format{FormatText, FormatJSON, FormatSARIF} {
		var buf bytes.Buffer
		require.NoError(t, Render(&buf, r, format))
		require.NotContains(t, buf.String(), "hunter2", "format %s leaks the secret", format)
		require.Contains(t, buf.String(), "FG-TD-014")
	}
}

// The sample app's own Dockerfile and task definitions pass every rule: we eat our own cooking.
func TestSampleAppPassesEveryRule(t *testing.T) {
	root := "../../sample-app"
	df, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if os.IsNotExist(err) {
		t.Skip("sample-app not present")
	}
	require.NoError(t, err)
	in := CheckInput{Dockerfile: &FileInput{Path: "sample-app/Dockerfile", Content: df}, RequiredTags: []string{"env", "owner", "cost-center"}, Env: "prod"}
	paths, err := filepath.Glob(filepath.Join(root, "ecs", "*.taskdef.json"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		in.TaskDefinitions = append(in.TaskDefinitions, TaskDefinitionInput{Path: p, Content: b})
	}
	// The service settings of sample-app/fargate.yaml (prod): circuit breaker on, tags set.
	on, off := true, false
	in.Service = &ServiceFacts{Name: "sample-app", CircuitBreaker: &on, AssignPublicIP: &off, EnableExecuteCommand: &off,
		Tags: map[string]string{"env": "prod", "owner": "platform", "cost-center": "cc-1234"}}
	r, err := Check(t.Context(), in)
	require.NoError(t, err)
	require.Empty(t, r.Findings, "sample app findings:\n%s", renderString(t, r, FormatText))
	require.False(t, r.Failed(Low))
}

func renderString(t testing.TB, r Report, f Format) string {
	var buf bytes.Buffer
	require.NoError(t, Render(&buf, r, f))
	return buf.String()
}

func TestParseTaskDefinitionShapes(t *testing.T) {
	t.Run("describe output, wrapped, with metadata and tags", func(t *testing.T) {
		td, tags, err := ParseTaskDefinition(readTestdata(t, "described.taskdef.json"))
		require.NoError(t, err)
		require.Equal(t, "web", aws.ToString(td.Family))
		require.Equal(t, int32(7), td.Revision)
		require.Equal(t, "root", aws.ToString(td.ContainerDefinitions[0].User))
		require.Len(t, tags, 1)
		fs := TaskDefinitionFindings(td, tags, nil, Location{})
		require.Equal(t, []string{"FG-TD-003"}, rulesOf(fs))
	})
	t.Run("bare definition", func(t *testing.T) {
		td, tags, err := ParseTaskDefinition(readTestdata(t, "hardened.taskdef.json"))
		require.NoError(t, err)
		require.Len(t, td.ContainerDefinitions, 2)
		require.Equal(t, ecstypes.EFSTransitEncryptionEnabled, td.Volumes[0].EfsVolumeConfiguration.TransitEncryption)
		require.Len(t, tags, 2)
	})
	t.Run("registration input via the SDK type", func(t *testing.T) {
		td, tags := goodTaskDef(t)
		in := &ecs.RegisterTaskDefinitionInput{Family: td.Family, ContainerDefinitions: td.ContainerDefinitions, Cpu: td.Cpu, Memory: td.Memory,
			NetworkMode: td.NetworkMode, RequiresCompatibilities: td.RequiresCompatibilities, TaskRoleArn: td.TaskRoleArn,
			ExecutionRoleArn: td.ExecutionRoleArn, Volumes: td.Volumes, Tags: tags, PidMode: ecstypes.PidModeHost}
		ti := FromRegisterInput(in)
		r, err := Check(t.Context(), CheckInput{TaskDefinitions: []TaskDefinitionInput{ti}, RequiredTags: testRequiredTags})
		require.NoError(t, err)
		require.Equal(t, []string{"FG-TD-008"}, rulesOf(r.Findings))
	})
}

func TestMalformedInputIsAnErrorNeverAPass(t *testing.T) {
	good := string(readTestdata(t, "hardened.taskdef.json"))
	tests := []struct {
		name    string
		in      CheckInput
		wantErr string
	}{
		{"invalid JSON", CheckInput{TaskDefinitions: []TaskDefinitionInput{{Path: "td.json", Content: []byte(`{"family": "x",`)}}}, "td.json"},
		{"wrong type", CheckInput{TaskDefinitions: []TaskDefinitionInput{{Path: "td.json", Content: []byte(strings.Replace(good, `"readonlyRootFilesystem": true`, `"readonlyRootFilesystem": "yes"`, 1))}}}, "readonlyRootFilesystem"},
		{"task cpu as number", CheckInput{TaskDefinitions: []TaskDefinitionInput{{Path: "td.json", Content: []byte(strings.Replace(good, `"cpu": "256"`, `"cpu": 256`, 1))}}}, "cpu"},
		{"unknown field", CheckInput{TaskDefinitions: []TaskDefinitionInput{{Path: "td.json", Content: []byte(strings.Replace(good, `"family"`, `"familly"`, 1))}}}, "familly"},
		{"no containers", CheckInput{TaskDefinitions: []TaskDefinitionInput{{Path: "td.json", Content: []byte(`{"family":"x"}`)}}}, "containerDefinitions"},
		{"JSON array", CheckInput{TaskDefinitions: []TaskDefinitionInput{{Path: "td.json", Content: []byte(`[]`)}}}, "td.json"},
		{"empty file", CheckInput{TaskDefinitions: []TaskDefinitionInput{{Path: "td.json", Content: []byte{}}}}, "td.json"},
		{"null", CheckInput{TaskDefinitions: []TaskDefinitionInput{{Path: "td.json", Content: []byte(`null`)}}}, "null"},
		{"bad tags", CheckInput{TaskDefinitions: []TaskDefinitionInput{{Path: "td.json", Content: []byte(strings.Replace(good, `"tags": [`, `"tags": {"env": "prod"}, "x": [`, 1))}}}, "tags"},
		{"wrapped plus junk", CheckInput{TaskDefinitions: []TaskDefinitionInput{{Path: "td.json", Content: []byte(`{"taskDefinition": ` + good + `, "extra": 1}`)}}}, "extra"},
		{"invalid policy", CheckInput{IAMPolicies: []PolicyInput{{Path: "exec.json", Content: []byte(`{"Statement": 3}`)}}}, "exec.json"},
		{"invalid Dockerfile", CheckInput{Dockerfile: &FileInput{Path: "Dockerfile", Content: []byte("RUN echo hi\n")}}, "before the first FROM"},
		{"unknown rule in suppression", CheckInput{Suppressions: []Suppression{{Rule: "FG-TD-999", Resource: "*", Reason: "x", Expires: "2030-01-01"}}}, "unknown rule ID \"FG-TD-999\""},
		{"no content", CheckInput{TaskDefinitions: []TaskDefinitionInput{{Path: "td.json"}}}, "neither content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Check(t.Context(), tt.in)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.wantErr)
			require.Empty(t, r.Findings)
		})
	}
}

func TestCheckIAMFiles(t *testing.T) {
	in := CheckInput{
		TaskDefinitions: []TaskDefinitionInput{{Path: "td.json", Content: readTestdata(t, "hardened.taskdef.json")}},
		IAMPolicies: []PolicyInput{
			{Path: "iam/execution.json", Content: readTestdata(t, "execution-role.json"), Role: RoleExecution},
			{Path: "iam/task.json", Content: []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`), Role: RoleTask, Name: "web-task"},
		},
		RequiredTags: testRequiredTags,
	}
	r, err := Check(t.Context(), in)
	require.NoError(t, err)
	require.Equal(t, []string{"FG-IAM-001", "FG-IAM-002"}, rulesOf(r.Findings))
	for _, f := range r.Findings {
		require.Equal(t, "iam/web-task", f.Resource)
		require.Equal(t, Location{Path: "iam/task.json", Line: 1}, f.Location)
	}
}

func TestCheckHonoursContextCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Check(ctx, CheckInput{TaskDefinitions: []TaskDefinitionInput{{Content: readTestdata(t, "hardened.taskdef.json")}}})
	require.ErrorIs(t, err, context.Canceled)
}

func TestSuppressions(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	base := CheckInput{TaskDefinitions: []TaskDefinitionInput{{Path: "td.json", Content: readTestdata(t, "unhardened.taskdef.json")}}, Now: now}

	t.Run("active suppression by glob", func(t *testing.T) {
		in := base
		in.Suppressions = []Suppression{{Rule: "FG-TD-014", Resource: "task-definition/legacy/*", Reason: "rotating to Secrets Manager, JIRA-12", Expires: "2026-06-01"}}
		r, err := Check(t.Context(), in)
		require.NoError(t, err)
		var sup []Finding
		for _, f := range r.Findings {
			if f.Suppressed {
				sup = append(sup, f)
			}
		}
		require.Len(t, sup, 1)
		require.Equal(t, "FG-TD-014", sup[0].Rule)
		require.Contains(t, sup[0].SuppressionNote, "JIRA-12")
		require.Equal(t, 1, r.Summary.Suppressed)
		require.Equal(t, 2, r.Summary.High) // FG-TD-003, FG-TD-004 remain
	})
	t.Run("expired suppression stops suppressing and says so", func(t *testing.T) {
		in := base
		in.Suppressions = []Suppression{{Rule: "FG-TD-014", Resource: "task-definition/legacy/container/legacy", Reason: "waiver", Expires: "2026-05-31"}}
		r, err := Check(t.Context(), in)
		require.NoError(t, err)
		require.Equal(t, 0, r.Summary.Suppressed)
		for _, f := range r.Findings {
			if f.Rule == "FG-TD-014" {
				require.False(t, f.Suppressed)
				require.Contains(t, f.SuppressionNote, "expired on 2026-05-31")
			}
		}
		require.Contains(t, renderString(t, r, FormatText), "expired on 2026-05-31")
	})
	t.Run("suppressing every failing finding passes the threshold", func(t *testing.T) {
		in := base
		for _, id := range []string{"FG-TD-003", "FG-TD-004", "FG-TD-014"} {
			in.Suppressions = append(in.Suppressions, Suppression{Rule: id, Resource: "*", Reason: "legacy app", Expires: "2026-12-31T00:00:00Z"})
		}
		r, err := Check(t.Context(), in)
		require.NoError(t, err)
		require.False(t, r.Failed(High))
		require.True(t, r.Failed(Medium))
	})
	errs := map[string]Suppression{
		"unknown rule":   {Rule: "FG-NOPE-1", Resource: "*", Reason: "r", Expires: "2030-01-01"},
		"missing reason": {Rule: "FG-TD-001", Resource: "*", Reason: " ", Expires: "2030-01-01"},
		"missing expiry": {Rule: "FG-TD-001", Resource: "*", Reason: "r"},
		"bad expiry":     {Rule: "FG-TD-001", Resource: "*", Reason: "r", Expires: "next year"},
		"no resource":    {Rule: "FG-TD-001", Reason: "r", Expires: "2030-01-01"},
	}
	for name, s := range errs {
		t.Run(name, func(t *testing.T) {
			_, err := ParseSuppressions([]Suppression{s})
			require.Error(t, err)
			require.Contains(t, err.Error(), "suppression 0")
		})
	}
}

func TestParseSeverityAndThreshold(t *testing.T) {
	for in, want := range map[string]Severity{"critical": Critical, "HIGH": High, " medium ": Medium, "Low": Low} {
		got, err := ParseSeverity(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
		require.Equal(t, strings.ToLower(strings.TrimSpace(in)), got.String())
	}
	for _, bad := range []string{"", "severe", "info", "3"} {
		_, err := ParseSeverity(bad)
		require.ErrorContains(t, err, "expected one of critical, high, medium, low")
	}
	r := NewReport([]Finding{{Rule: "FG-TD-006", Severity: Medium}}, nil, time.Time{})
	require.False(t, r.Failed(DefaultThreshold))
	require.True(t, r.Failed(Medium))
	require.True(t, r.Failed(Low))
	require.False(t, NewReport(nil, nil, time.Time{}).Failed(Low))
}

func TestRenderJSONContract(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r, err := Check(t.Context(), CheckInput{
		TaskDefinitions: []TaskDefinitionInput{{Path: "td.json", Content: readTestdata(t, "unhardened.taskdef.json")}},
		Suppressions:    []Suppression{{Rule: "FG-TD-006", Resource: "*", Reason: "needs NET_RAW for ping", Expires: "2026-02-01"}},
		Now:             now,
	})
	require.NoError(t, err)
	out := renderString(t, r, FormatJSON)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	require.ElementsMatch(t, []string{"findings", "summary"}, keys(doc))
	require.Equal(t, map[string]any{"critical": 0.0, "high": 3.0, "medium": 3.0, "low": 0.0, "suppressed": 1.0}, doc["summary"])
	findings := doc["findings"].([]any)
	require.Len(t, findings, len(r.Findings))
	for _, f := range findings {
		m := f.(map[string]any)
		for _, k := range []string{"rule", "severity", "source", "controls", "resource", "message", "remediation", "suppressed"} {
			require.Contains(t, m, k)
		}
		require.IsType(t, []any{}, m["controls"])
		require.Contains(t, []string{"critical", "high", "medium", "low"}, m["severity"])
	}
	first := findings[0].(map[string]any)
	require.Equal(t, "FG-TD-003", first["rule"])
	require.Equal(t, []any{"ECS.20"}, first["controls"])
	var suppressed int
	for _, f := range findings {
		if f.(map[string]any)["suppressed"] == true {
			suppressed++
			require.Contains(t, f.(map[string]any)["suppressionNote"], "NET_RAW")
		}
	}
	require.Equal(t, 1, suppressed)

	// An empty report still has both keys and an empty list, not null.
	require.JSONEq(t, `{"findings":[],"summary":{"critical":0,"high":0,"medium":0,"low":0,"suppressed":0}}`, renderString(t, Report{}, FormatJSON))
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRenderText(t *testing.T) {
	r, err := Check(t.Context(), CheckInput{
		Dockerfile:      &FileInput{Path: "Dockerfile", Content: readTestdata(t, "unhardened.Dockerfile")},
		TaskDefinitions: []TaskDefinitionInput{{Path: "td.json", Content: readTestdata(t, "unhardened.taskdef.json")}},
	})
	require.NoError(t, err)
	out := renderString(t, r, FormatText)
	hi, med, low := strings.Index(out, "HIGH (4)"), strings.Index(out, "MEDIUM (5)"), strings.Index(out, "LOW (1)")
	require.True(t, hi >= 0 && med > hi && low > med, out)
	require.NotContains(t, out, "CRITICAL")
	require.Contains(t, out, "  FG-DF-001 Dockerfile: final stage sets no USER, so the image runs as root (fix: ")
	require.Contains(t, out, "[Dockerfile:1]")
	require.Contains(t, out, "Summary: 0 critical, 4 high, 5 medium, 1 low, 0 suppressed")
	require.Equal(t, "No findings.\nSummary: 0 critical, 0 high, 0 medium, 0 low, 0 suppressed\n", renderString(t, Report{}, FormatText))
}

func TestRenderSARIF(t *testing.T) {
	r := Merge(
		mustCheck(t, CheckInput{Dockerfile: &FileInput{Path: "app/Dockerfile", Content: readTestdata(t, "unhardened.Dockerfile")}}),
		NewReport(ClusterFindings(ecstypes.Cluster{ClusterName: aws.String("prod"), ClusterArn: aws.String("arn:aws:ecs:eu-west-1:1:cluster/prod")}, nil), nil, time.Time{}),
	)
	var doc struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID               string            `json:"id"`
						Name             string            `json:"name"`
						ShortDescription map[string]string `json:"shortDescription"`
						Help             map[string]string `json:"help"`
						Properties       struct {
							SecuritySeverity string   `json:"security-severity"`
							Tags             []string `json:"tags"`
						} `json:"properties"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string            `json:"ruleId"`
				RuleIndex int               `json:"ruleIndex"`
				Level     string            `json:"level"`
				Message   map[string]string `json:"message"`
				Locations []struct {
					PhysicalLocation *struct {
						ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
						Region           struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
					LogicalLocations []struct {
						Name, FullyQualifiedName, Kind string
					} `json:"logicalLocations"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	require.NoError(t, json.Unmarshal([]byte(renderString(t, r, FormatSARIF)), &doc))
	require.Equal(t, "2.1.0", doc.Version)
	run := doc.Runs[0]
	require.Len(t, run.Tool.Driver.Rules, len(Rules()))
	for i, rule := range run.Tool.Driver.Rules {
		require.Equal(t, Rules()[i].ID, rule.ID)
		require.NotEmpty(t, rule.Name)
		require.NotEmpty(t, rule.ShortDescription["text"])
		require.NotEmpty(t, rule.Help["text"])
		require.NotEmpty(t, rule.Properties.SecuritySeverity)
		require.Contains(t, rule.Properties.Tags, "security")
		for _, c := range Rules()[i].Controls {
			require.Contains(t, rule.Properties.Tags, c)
		}
	}
	require.Len(t, run.Results, len(r.Findings))
	byRule := map[string]int{}
	for i, res := range run.Results {
		byRule[res.RuleID] = i
		require.Equal(t, res.RuleID, run.Tool.Driver.Rules[res.RuleIndex].ID)
	}
	df := run.Results[byRule["FG-DF-001"]]
	require.Equal(t, "error", df.Level)
	require.Equal(t, "app/Dockerfile", df.Locations[0].PhysicalLocation.ArtifactLocation.URI)
	require.Equal(t, 1, df.Locations[0].PhysicalLocation.Region.StartLine)
	cl := run.Results[byRule["FG-CL-001"]]
	require.Equal(t, "warning", cl.Level)
	require.Nil(t, cl.Locations[0].PhysicalLocation)
	require.Equal(t, "arn:aws:ecs:eu-west-1:1:cluster/prod", cl.Locations[0].LogicalLocations[0].FullyQualifiedName)
	require.Equal(t, "cluster/prod", cl.Locations[0].LogicalLocations[0].Name)
}

func mustCheck(t testing.TB, in CheckInput) Report {
	t.Helper()
	r, err := Check(t.Context(), in)
	require.NoError(t, err)
	return r
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": FormatText, "TEXT": FormatText, "json": FormatJSON, "sarif": FormatSARIF} {
		got, err := ParseFormat(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := ParseFormat("xml")
	require.ErrorContains(t, err, "expected text, json or sarif")
	require.Error(t, Render(&bytes.Buffer{}, Report{}, Format("xml")))
}

func TestUnusedSuppressions(t *testing.T) {
	sup, err := ParseSuppressions([]Suppression{
		{Rule: "FG-IAC-001", Resource: "*#*AWS-0053", Reason: "public ALB by design", Expires: "2030-01-01"},
		{Rule: "FG-IAC-001", Resource: "*#*AWS-0107", Reason: "matches nothing", Expires: "2030-01-01"},
		{Rule: "FG-TD-004", Resource: "task-definition/*", Reason: "expired but still matching", Expires: "2020-01-01"},
	})
	require.NoError(t, err)
	findings := []Finding{
		{Rule: "FG-IAC-001", Resource: "template/infra/service.yaml#AWS-0053"},
		{Rule: "FG-TD-004", Resource: "task-definition/app/container/app"},
	}
	unused := sup.Unused(findings)
	require.Len(t, unused, 1)
	require.Equal(t, "*#*AWS-0107", unused[0].Resource)
	require.Empty(t, sup.Unused(append(findings, Finding{Rule: "FG-IAC-001", Resource: "t#AWS-0107"})))
}
