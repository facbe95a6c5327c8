package report_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/report"
)

func fixedClock() func() time.Time {
	t := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Second); return t }
}

func TestRecorderLogsToUserAndTimeline(t *testing.T) {
	var out bytes.Buffer
	r := report.NewRecorder("preprod", &out, fixedClock())
	r.Logf("build: %s built", "app")
	_, err := r.Write([]byte("event: 12:00:05 (service app) has started 1 tasks\n\nprogress: running 1/2\n"))
	require.NoError(t, err)
	assert.Equal(t, "build: app built\nevent: 12:00:05 (service app) has started 1 tasks\nprogress: running 1/2\n", out.String())
	require.Len(t, r.Timeline, 3)
	assert.Equal(t, "progress: running 1/2", r.Timeline[2].Message)
	assert.True(t, r.Timeline[0].At.Before(r.Timeline[2].At))
}

func TestRecorderGate(t *testing.T) {
	failure := errors.New("scan gate failed: CVE-2026-1234 openssl 3.0.1 (fixed in 3.0.2)")
	tests := []struct {
		name       string
		failure    error
		bg         report.BreakGlassRequest
		wantErr    bool
		wantBypass []report.BreakGlass
	}{
		{"passed", nil, report.BreakGlassRequest{}, false, nil},
		{"passed with break glass asked", nil, report.BreakGlassRequest{Reason: "incident 42: hotfix", By: "alice"}, false, nil},
		{"failed", failure, report.BreakGlassRequest{}, true, nil},
		{"failed, blank reason is no bypass", failure, report.BreakGlassRequest{Reason: "   ", By: "alice"}, true, nil},
		{"bypassed", failure, report.BreakGlassRequest{Reason: "incident 42: hotfix", By: "alice"},
			false, []report.BreakGlass{{Gate: "scan", By: "alice", Reason: "incident 42: hotfix"}}},
		{"bypassed by nobody named", failure, report.BreakGlassRequest{Reason: "incident 42: hotfix"},
			false, []report.BreakGlass{{Gate: "scan", By: "unnamed (pass --approved-by)", Reason: "incident 42: hotfix"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			r := report.NewRecorder("prod", &out, fixedClock())
			err := r.Gate(context.Background(), "scan", tt.failure, tt.bg)
			if tt.wantErr {
				assert.Equal(t, tt.failure, err)
			} else {
				assert.NoError(t, err)
			}
			require.Len(t, r.BreakGlass, len(tt.wantBypass))
			for i, w := range tt.wantBypass {
				got := r.BreakGlass[i]
				assert.Equal(t, w.Gate, got.Gate)
				assert.Equal(t, w.By, got.By)
				assert.Equal(t, w.Reason, got.Reason)
				assert.False(t, got.At.IsZero())
			}
			if len(tt.wantBypass) > 0 {
				// Never silent: logged, and in the rendered report.
				assert.Contains(t, out.String(), "BREAK-GLASS: the scan gate failed and was bypassed by")
				md, err := r.Finish(report.Deployed, "deployed app:7", nil)
				require.NoError(t, err)
				assert.Contains(t, md, "incident 42: hotfix")
			} else {
				assert.NotContains(t, out.String(), "BREAK-GLASS")
			}
		})
	}
}

func TestRecorderFinish(t *testing.T) {
	r := report.NewRecorder("preprod", nil, fixedClock())
	r.Service = "c/s"
	md, err := r.Finish(report.Deployed, "deployed app:7", nil)
	require.NoError(t, err)
	assert.Contains(t, md, "deployed app:7")
	assert.False(t, r.Finished.IsZero())

	cause := errors.New("deploy to c/s: rolled-back: rolled back to app:6")
	r = report.NewRecorder("preprod", nil, fixedClock())
	md, err = r.Finish(report.RolledBack, "rolled back to app:6: tasks failed to start", cause)
	assert.Empty(t, md)
	require.Error(t, err)
	var failure *report.Failure
	require.ErrorAs(t, err, &failure)
	assert.Equal(t, report.RolledBack, failure.Outcome)
	assert.Equal(t, cause.Error(), failure.Cause)
	assert.Contains(t, err.Error(), "rolled back to app:6: tasks failed to start")
	assert.True(t, strings.Index(err.Error(), "rolled back to app:6") < strings.Index(err.Error(), "\n\n"), "the cause comes first, then the report")

	r = report.NewRecorder("prod", nil, fixedClock())
	_, err = r.Refuse(errors.New("promotion refused: source service is mid-deployment"))
	require.Error(t, err)
	assert.Equal(t, report.Refused, r.Outcome)
	assert.Contains(t, err.Error(), "REFUSED")
}

// engineError stands for *dagger.ExecError and *gqlerror.Error: Dagger's generated dispatcher
// looks for them with errors.As and, when found, returns their message alone.
type engineError struct{ msg string }

func (e *engineError) Error() string { return e.msg }

func TestFailureKeepsTheReportWhenTheCauseIsAnEngineError(t *testing.T) {
	tests := []struct {
		name    string
		outcome report.Outcome
		cause   error
		badge   string
	}{
		{"a failed build", report.FailedToBuild, fmt.Errorf("build sample-app: %w", &engineError{"lstat /e2e-leaked-key.pem: no such file or directory"}), "**FAILED TO BUILD: nothing was deployed**"},
		{"a failed push", report.FailedBeforeDeploy, fmt.Errorf("push: %w", &engineError{"unauthorized"}), "**FAILED BEFORE DEPLOY: nothing was deployed**"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := report.NewRecorder("preprod", nil, fixedClock())
			_, err := r.Finish(tt.outcome, tt.cause.Error(), tt.cause)
			require.Error(t, err)
			var engine *engineError
			assert.False(t, errors.As(err, &engine), "the engine's error must not be reachable: Dagger would print it instead of the report")
			assert.Contains(t, err.Error(), tt.cause.Error())
			assert.Contains(t, err.Error(), tt.badge)
			assert.Contains(t, err.Error(), "| Outcome | "+string(tt.outcome)+" |")
		})
	}
}
