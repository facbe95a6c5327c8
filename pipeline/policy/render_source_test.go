package policy

import (
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/findings"
	"dagger/fargate/pipeline/internal/sarif"
)

// renderedSources renders a report as JSON and as SARIF and returns, in finding order, each
// finding's "source" and each SARIF result's "fargate/source" property.
func renderedSources(t *testing.T, r Report) (fromJSON, fromSARIF []any) {
	t.Helper()
	var j struct {
		Findings []map[string]any `json:"findings"`
	}
	require.NoError(t, json.Unmarshal([]byte(renderString(t, r, FormatJSON)), &j))
	for _, f := range j.Findings {
		fromJSON = append(fromJSON, f["source"])
	}
	var s sarif.Log
	require.NoError(t, json.Unmarshal([]byte(renderString(t, r, FormatSARIF)), &s))
	for _, res := range s.Runs[0].Results {
		fromSARIF = append(fromSARIF, res.Properties[sarif.SourceProperty])
	}
	return fromJSON, fromSARIF
}

// Every finding of the JSON and SARIF outputs names the check that found it: the policy
// engine's own, and the IaC and audit findings the same renderer writes.
func TestRenderNamesTheSource(t *testing.T) {
	engine := mustCheck(t, CheckInput{Dockerfile: &FileInput{Path: "app/Dockerfile", Content: readTestdata(t, "unhardened.Dockerfile")}})
	require.NotEmpty(t, engine.Findings)
	other := func(rule string, source findings.Source) Report {
		return NewReport([]Finding{{Rule: rule, Severity: High, Source: source, Resource: "r", Message: "m", Remediation: "fix"}}, nil, time.Time{})
	}
	tests := []struct {
		name   string
		report Report
		want   string
	}{
		{"the policy engine", Report{Findings: engine.Findings[:1]}, "policy"},
		{"an IaC template check", other("FG-CFN-002", findings.SourceIaC), "iac"},
		{"the live audit", other("FG-ACCT-001", findings.SourceAudit), "audit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fromJSON, fromSARIF := renderedSources(t, tt.report)
			assert.Equal(t, []any{tt.want}, fromJSON, "json findings[0].source")
			assert.Equal(t, []any{tt.want}, fromSARIF, `sarif runs[0].results[0].properties["fargate/source"]`)
		})
	}

	t.Run("merged, each its own", func(t *testing.T) {
		r := Merge(engine, other("FG-CFN-002", findings.SourceIaC), other("FG-ACCT-001", findings.SourceAudit))
		var want []any
		for _, f := range r.Findings {
			want = append(want, string(f.Source))
		}
		require.Contains(t, want, "policy")
		fromJSON, fromSARIF := renderedSources(t, r)
		assert.Equal(t, want, fromJSON)
		assert.Equal(t, want, fromSARIF)
	})
}

// A finding that does not say where it came from is a bug of its producer, not an output
// without a source.
func TestRenderRefusesAFindingWithoutSource(t *testing.T) {
	r := NewReport([]Finding{{Rule: "FG-TD-004", Severity: High, Resource: "task-definition/web", Message: "m"}}, nil, time.Time{})
	for _, tt := range []struct {
		format Format
		err    string
	}{
		{FormatJSON, "render policy json: finding FG-TD-004 on task-definition/web has no source"},
		{FormatSARIF, `render policy sarif: sarif result for rule "FG-TD-004": no source`},
	} {
		t.Run(string(tt.format), func(t *testing.T) {
			require.EqualError(t, Render(io.Discard, r, tt.format), tt.err)
		})
	}
}
