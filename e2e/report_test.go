package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/report"
)

// steps is a fake clock that returns the given times in order (the last one repeats).
func steps(times ...time.Time) func() time.Time {
	i := 0
	return func() time.Time {
		t := times[min(i, len(times)-1)]
		i++
		return t
	}
}

func at(hms string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", "2026-12-03 "+hms)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// renderedDeploy is a report as the module renders it (pipeline/report), so the parser is
// checked against the real Markdown, not a copy of it.
func renderedDeploy(t *testing.T, times []time.Time, outcome report.Outcome, lines ...string) (string, error) {
	t.Helper()
	r := report.NewRecorder("preprod", nil, steps(times...))
	r.Service = "sample-app-preprod/sample-app"
	r.TaskDefinition = "sample-app-preprod:2"
	r.PreviousTaskDefinition = "sample-app-preprod:1"
	r.Image = "172.17.0.1:5001/sample-app@sha256:" + strings.Repeat("ab", 32)
	for _, l := range lines {
		r.Logf("%s", l)
	}
	var err error
	if outcome != report.Deployed {
		err = errors.New("deployment failed")
	}
	return r.Finish(outcome, "why it ended", err)
}

func TestHeadlineAndFields(t *testing.T) {
	times := []time.Time{at("10:00:00"), at("10:00:05"), at("10:01:00")}
	md, err := renderedDeploy(t, times, report.Deployed, "build: sample-app built")
	require.NoError(t, err)
	_, failure := renderedDeploy(t, times, report.RolledBack, "build: sample-app built")
	require.Error(t, failure)

	tests := []struct {
		name, out, headline string
	}{
		{"result on stdout", md, "DEPLOYED: sample-app-preprod:2"},
		{"error on stderr, lines prefixed by the CLI", "Error: call deploy: " + strings.ReplaceAll(failure.Error(), "\n", "\n! "), "FAILED: rolled back to sample-app-preprod:1"},
		{"the last report wins", md + "\n" + failure.Error(), "FAILED: rolled back to sample-app-preprod:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Headline(tt.out)
			require.True(t, ok)
			assert.Equal(t, tt.headline, got)
		})
	}
	_, ok := Headline("no report here, only **bold text**")
	assert.False(t, ok)

	img, ok := Field(md, "Image")
	require.True(t, ok)
	assert.Equal(t, "172.17.0.1:5001/sample-app@sha256:"+strings.Repeat("ab", 32), img)
	_, ok = Field(md, "No such row")
	assert.False(t, ok)
}

func TestPhasesFromTheTimeline(t *testing.T) {
	times := []time.Time{
		at("10:00:00"), // started
		at("10:00:01"), // account check (no phase)
		at("10:01:00"), // build
		at("10:02:30"), // scan
		at("10:02:40"), // ecr
		at("10:02:50"), // ecr
		at("10:03:00"), // sign
		at("10:03:10"), // verify
		at("10:03:11"), // policy
		at("10:03:12"), // deploy
		at("10:04:00"), // an engine line, no prefix: still the deploy phase
		at("10:04:30"), // finished
	}
	md, err := renderedDeploy(t, times, report.Deployed,
		"account check skipped: AWS calls go to http://172.17.0.1:4566",
		"build: sample-app built for linux/amd64, runs as a non-root user",
		"scan: 0 critical, 0 high; gate passed",
		"ecr: created repository sample-app",
		"ecr: pushed 172.17.0.1:5001/sample-app:e2e as sha256:ab",
		"sign: signed the image and attached the SBOM and scan attestations",
		"verify: signature verified (cosign key pair)",
		"policy: 0 finding(s) at or above high, 3 suppressed",
		"deploy: registering sample-app-preprod and updating sample-app-preprod/sample-app (timeout 15m0s)",
		"10:04:00 (service sample-app) has reached a steady state.",
	)
	require.NoError(t, err)

	started, events, err := Timeline(md)
	require.NoError(t, err)
	assert.Equal(t, at("10:00:00"), started)
	require.Len(t, events, 10)
	assert.Equal(t, at("10:01:00"), events[1].At)
	assert.Equal(t, "account check skipped: AWS calls go to http://172.17.0.1:4566", events[0].Message, "Markdown escapes are undone")

	phases, err := Phases(md)
	require.NoError(t, err)
	assert.Equal(t, []Phase{
		{"build", 60 * time.Second},
		{"scan", 90 * time.Second},
		{"push", 20 * time.Second},
		{"sign", 10 * time.Second},
		{"verify", 10 * time.Second},
		{"policy", time.Second},
		{"UpdateService and wait", 79 * time.Second},
	}, phases)
	assert.Regexp(t, `(?m)^  UpdateService and wait +1m19s$`, FormatPhases("deploy --env preprod", phases))
}

func TestPhasesThatComeBack(t *testing.T) {
	times := []time.Time{
		at("10:00:00"), // started
		at("10:00:02"), // policy, before the build
		at("10:00:30"), // build
		at("10:01:00"), // scan
		at("10:01:05"), // policy again, after the render
		at("10:01:10"), // deploy
		at("10:02:00"), // finished
	}
	md, err := renderedDeploy(t, times, report.Deployed, "policy: 0 finding(s)", "build: built", "scan: passed", "policy: 0 finding(s)", "deploy: registering")
	require.NoError(t, err)
	phases, err := Phases(md)
	require.NoError(t, err)
	assert.Equal(t, []Phase{
		{"policy", 7 * time.Second},
		{"build", 28 * time.Second},
		{"scan", 30 * time.Second},
		{"UpdateService and wait", 55 * time.Second},
	}, phases)
}

func TestTimelineAcrossMidnight(t *testing.T) {
	times := []time.Time{at("23:59:50"), at("23:59:58"), at("23:59:59").Add(20 * time.Second), at("23:59:59").Add(40 * time.Second)}
	md, err := renderedDeploy(t, times, report.Deployed, "build: built", "run: probed")
	require.NoError(t, err)
	_, events, err := Timeline(md)
	require.NoError(t, err)
	require.Len(t, events, 2)
	assert.Equal(t, at("23:59:59").Add(20*time.Second), events[1].At)
	phases, err := Phases(md)
	require.NoError(t, err)
	assert.Equal(t, []Phase{{"build", 8 * time.Second}, {"run", 41 * time.Second}}, phases)
}

func TestTimelineNeedsAReport(t *testing.T) {
	_, _, err := Timeline("no report")
	require.Error(t, err)
	_, err = Phases("| Started | yesterday |")
	require.Error(t, err)
}

func TestRecordedPhases(t *testing.T) {
	tests := []struct {
		name  string
		row   string
		want  []Phase
		found bool
		err   string
	}{
		{name: "no row", row: "| Duration | 12s |"},
		{name: "local", row: "| Phases | build 3.2s · scan + SBOM 1.9s · publish 400ms · sign + verify 2.1s · run + probe 1.3s |", found: true,
			want: []Phase{{"build", 3200 * time.Millisecond}, {"scan + SBOM", 1900 * time.Millisecond}, {"publish", 400 * time.Millisecond},
				{"sign + verify", 2100 * time.Millisecond}, {"run + probe", 1300 * time.Millisecond}}},
		{name: "preprod", row: "| Phases | build 1m2s · ECS deploy 1m19.5s |", found: true,
			want: []Phase{{"build", 62 * time.Second}, {"ECS deploy", 79500 * time.Millisecond}}},
		{name: "garbled", row: "| Phases | build soon |", found: true, err: "build soon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := RecordedPhases("## Deploy to local\n\n| | |\n|---|---|\n" + tt.row + "\n")
			assert.Equal(t, tt.found, found)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	out := FormatPhases("deploy --env local", []Phase{{"build", 3240 * time.Millisecond}, {"ECS deploy", 79500 * time.Millisecond}})
	assert.Contains(t, out, "  build                        3.2s\n")
	assert.Contains(t, out, "  ECS deploy                  1m20s\n")
}
