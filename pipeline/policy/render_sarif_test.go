package policy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/sarif"
	"dagger/fargate/pipeline/internal/sarif/sarifschema"

	"dagger/fargate/pipeline/findings"
)

// The policy SARIF validates against the official SARIF 2.1.0 schema: every rule, file and
// resource locations, suppressed findings, and an empty report.
func TestRenderSARIFIsValidSARIF(t *testing.T) {
	schema, err := sarifschema.New()
	require.NoError(t, err)
	suppressed := mustCheck(t, CheckInput{
		Dockerfile:   &FileInput{Path: "app/Dockerfile", Content: readTestdata(t, "unhardened.Dockerfile")},
		Suppressions: []Suppression{{Rule: "FG-DF-003", Resource: "*", Reason: "single stage on purpose", Expires: "2099-01-01"}},
	})
	reports := map[string]Report{
		"empty": {},
		"dockerfile, suppression and a live resource": Merge(
			suppressed,
			NewReport(ClusterFindings(ecstypes.Cluster{ClusterName: aws.String("prod"), ClusterArn: aws.String("arn:aws:ecs:eu-west-1:1:cluster/prod")}, nil), nil, time.Time{}),
		),
	}
	for name, r := range reports {
		t.Run(name, func(t *testing.T) {
			out := renderString(t, r, FormatSARIF)
			require.NoError(t, schema.Validate([]byte(out)))
		})
	}
	out := renderString(t, reports["dockerfile, suppression and a live resource"], FormatSARIF)
	require.True(t, strings.Contains(out, `"suppressions": [`) && strings.Contains(out, "single stage on purpose"), "the suppressed finding carries a SARIF suppression")
}

// The policy SARIF ranks rules with the one severity scale the scan SARIF uses: a low rule's
// security-severity is 2.0 (it was 3.0 here and 2.0 in the scan writer), medium 5.5, high 8.0,
// critical 9.5, and the level is SARIF's error, warning or note.
func TestRenderSARIFRanksRulesLikeTheScanWriter(t *testing.T) {
	var doc sarif.Log
	require.NoError(t, json.Unmarshal([]byte(renderString(t, Report{}, FormatSARIF)), &doc))
	want := map[Severity]struct{ score, level string }{
		Critical: {"9.5", "error"}, High: {"8.0", "error"}, Medium: {"5.5", "warning"}, Low: {"2.0", "note"},
	}
	seen := map[Severity]bool{}
	for i, rule := range doc.Runs[0].Tool.Driver.Rules {
		sev := Rules()[i].Severity
		seen[sev] = true
		require.Equal(t, want[sev].score, rule.Properties["security-severity"], rule.ID)
		require.Equal(t, want[sev].level, rule.DefaultConfiguration.Level, rule.ID)
	}
	require.True(t, seen[Low], "some rule is low, so the low score is checked")
}

// The engine's findings come from the policy source.
func TestCheckFindingsSource(t *testing.T) {
	r := mustCheck(t, CheckInput{Dockerfile: &FileInput{Path: "app/Dockerfile", Content: readTestdata(t, "unhardened.Dockerfile")}})
	require.NotEmpty(t, r.Findings)
	for _, f := range r.Findings {
		require.Equal(t, findings.SourcePolicy, f.Source, f.Rule)
	}
}
