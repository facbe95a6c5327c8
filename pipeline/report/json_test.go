package report_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/report"
)

// The JSON report is a contract (docs/ci.md): every field is present whatever the outcome.
var jsonFields = []string{
	"schemaVersion", "action", "outcome", "succeeded", "exitCode", "headline", "reason", "environment",
	"service", "revision", "image", "digest", "taskDefinition", "phases", "warnings", "breakGlass",
	"startedAt", "finishedAt", "durationSeconds", "markdown",
}

func TestJSONReportOnEveryOutcome(t *testing.T) {
	const leakedKeyID = "AKIAIOSFODNN7EXAMPLE"
	tests := []struct {
		name      string
		outcome   report.Outcome
		reason    string
		succeeded bool
		exit      int
		headline  string
	}{
		{"deployed", report.Deployed, "deployment completed", true, 0, "DEPLOYED: sample-app-preprod:42"},
		{"rolled back", report.RolledBack, "tasks failed to start", false, 1, "FAILED: rolled back to sample-app-preprod:41"},
		{"failed to build", report.FailedToBuild, "build sample-app: lstat /key.pem (signed by " + leakedKeyID + ")", false, 1, "FAILED TO BUILD: nothing was deployed"},
		{"refused", report.Refused, "scan gate failed", false, 1, "REFUSED: nothing was deployed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := base()
			rep.Outcome, rep.Reason = tt.outcome, tt.reason
			rep.Finished = rep.Started.Add(90 * time.Second)
			rep.Phases = []report.Phase{{Name: "build", Started: rep.Started, Duration: 3 * time.Second}, {Name: "ECS deploy", Started: rep.Started.Add(5 * time.Second), Duration: 80 * time.Second}}
			rep.Warnings = []string{"alarm sample-app-preprod-5xx is in ALARM before the deploy"}
			out, err := rep.JSON()
			require.NoError(t, err)
			assert.NotContains(t, out, leakedKeyID, "access key IDs are masked")

			var fields map[string]json.RawMessage
			require.NoError(t, json.Unmarshal([]byte(out), &fields))
			for _, f := range jsonFields {
				assert.Contains(t, fields, f)
			}
			var got report.JSONReport
			require.NoError(t, json.Unmarshal([]byte(out), &got))
			assert.Equal(t, report.JSONSchemaVersion, got.SchemaVersion)
			assert.Equal(t, "deploy", got.Action)
			assert.Equal(t, string(tt.outcome), got.Outcome)
			assert.Equal(t, tt.succeeded, got.Succeeded)
			assert.Equal(t, tt.exit, got.ExitCode)
			assert.Equal(t, tt.headline, got.Headline)
			assert.Equal(t, "preprod", got.Environment)
			assert.Equal(t, "sample-app-preprod/sample-app", got.Service)
			assert.Equal(t, rev, got.Revision)
			assert.Equal(t, image, got.Image)
			assert.Equal(t, "sha256:"+image[len(image)-64:], got.Digest)
			assert.Equal(t, report.JSONTaskDefinition{Registered: "sample-app-preprod:42", Previous: "sample-app-preprod:41"}, got.TaskDefinition)
			require.Len(t, got.Phases, 2)
			assert.Equal(t, report.JSONPhase{Name: "ECS deploy", StartedAt: rep.Started.Add(5 * time.Second), Seconds: 80}, got.Phases[1])
			assert.Equal(t, rep.Warnings, got.Warnings)
			assert.InDelta(t, 90, got.DurationSeconds, 0.001)
			assert.Contains(t, got.Markdown, "**"+tt.headline+"**")
			assert.Contains(t, got.Markdown, "| Phases | build 3s · ECS deploy 1m20s |")
			assert.Contains(t, got.Markdown, "> [!WARNING]\n> alarm sample-app-preprod-5xx is in ALARM before the deploy")
		})
	}
}

func TestJSONReportOfAnEmptyReportHasEveryField(t *testing.T) {
	out, err := report.Report{}.JSON()
	require.NoError(t, err)
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(out), &fields))
	for _, f := range jsonFields {
		assert.Contains(t, fields, f)
	}
	assert.JSONEq(t, `[]`, string(fields["phases"]), "lists are [] rather than null")
	assert.JSONEq(t, `false`, string(fields["succeeded"]))
	assert.JSONEq(t, `1`, string(fields["exitCode"]))
}

func TestRecorderPhases(t *testing.T) {
	r := report.NewRecorder("local", nil, fixedClock())
	ctx := context.Background()
	_, endBuild := r.Phase(ctx, "build")
	_, endScan := r.Phase(ctx, "scan")
	endScan(nil)
	endBuild(nil)
	require.Len(t, r.Phases, 2)
	assert.Equal(t, "build", r.Phases[0].Name)
	assert.Equal(t, 3*time.Second, r.Phases[0].Duration)
	assert.Equal(t, time.Second, r.Phases[1].Duration)
	r.Warnf("alarm %s is firing", "a")
	assert.Equal(t, []string{"alarm a is firing"}, r.Warnings)
	assert.Equal(t, "WARNING: alarm a is firing", r.Timeline[len(r.Timeline)-1].Message)
}
