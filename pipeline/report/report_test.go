package report_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/ecs"
	"dagger/fargate/pipeline/report"

	"dagger/fargate/pipeline/findings"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

var t0 = time.Date(2026, 11, 25, 18, 30, 0, 0, time.UTC)

const (
	image = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/sample-app@sha256:4242424242424242424242424242424242424242424242424242424242424242"
	rev   = "9f1c2e7b5d0a4c3e8b7a6f5e4d3c2b1a09f8e7d6"
)

// base is a realistic report of a deploy that got as far as the rollout.
func base() report.Report {
	return report.Report{
		Env: "preprod", Service: "sample-app-preprod/sample-app", Revision: rev, Image: image,
		Platforms: []string{"linux/amd64", "linux/arm64"},
		Scan: &report.Scan{
			Counts: map[string]int{"CRITICAL": 0, "HIGH": 0, "MEDIUM": 3, "LOW": 7}, FailOn: []string{"CRITICAL", "HIGH"},
			Passed: true, Ignored: 1,
		},
		SBOM:           &report.SBOM{Produced: true, Format: "cyclonedx", Attached: true},
		Signature:      &report.Signature{Signed: true, Verified: true, Identity: "awskms:///alias/sample-app-signing"},
		Policy:         &report.Policy{Passed: 24, Failed: 0, Suppressed: 1, Threshold: "high"},
		TaskDefinition: "sample-app-preprod:42", PreviousTaskDefinition: "sample-app-preprod:41",
		Started: t0, Finished: t0.Add(4*time.Minute + 12*time.Second),
		Timeline: []report.Event{
			{At: t0.Add(10 * time.Second), Message: "registered task definition sample-app-preprod:42"},
			{At: t0.Add(12 * time.Second), Message: "updated service: deployment ecs-svc/8412 started (circuit breaker with rollback)"},
			{At: t0.Add(70 * time.Second), Message: "(service sample-app) has started 2 tasks: (task 1a2b) (task 3c4d)."},
			{At: t0.Add(4 * time.Minute), Message: "deployment ecs-svc/8412: 2/2 running, COMPLETED"},
		},
	}
}

func outcomes() map[string]report.Report {
	deployed := base()
	deployed.Outcome = report.Deployed

	rolledBack := base()
	rolledBack.Outcome = report.RolledBack
	rolledBack.Reason = "ECS deployment circuit breaker: tasks failed to start."
	rolledBack.Timeline = append(rolledBack.Timeline[:3:3],
		report.Event{At: t0.Add(95 * time.Second), Message: "(service sample-app) (task 1a2b) stopped: Essential container in task exited | exit code 1 <panic: `nil map`>"},
		report.Event{At: t0.Add(3 * time.Minute), Message: "deployment ecs-svc/8412 FAILED; service back on sample-app-preprod:41 (ecs-svc/8413 COMPLETED)"},
	)

	rollbackFailed := base()
	rollbackFailed.Outcome = report.RollbackFailed
	rollbackFailed.Reason = "rollback deployment ecs-svc/8413 FAILED: tasks on sample-app-preprod:41 failed to start"

	refused := base()
	refused.Outcome = report.Refused
	refused.Reason = "vulnerability scan: 1 CRITICAL finding at or above the gate"
	refused.Scan = &report.Scan{
		Counts: map[string]int{"CRITICAL": 1, "HIGH": 2, "MEDIUM": 3}, FailOn: []string{"CRITICAL", "HIGH"},
		Blocking:       []string{"CVE-2026-0001 (openssl 3.0.1, fixed in 3.0.15)", "CVE-2026-0002 (zlib 1.2.11)", "GHSA-xxxx-yyyy (golang.org/x/net)"},
		ExpiredIgnores: []string{"CVE-2025-1234 (expired 2026-10-01: waiting for upstream)"},
	}
	refused.Policy = &report.Policy{Passed: 22, Failed: 2, Threshold: "high", Failures: []report.Finding{
		{Rule: "ECS.5", Severity: findings.High, Resource: "task-definition/sample-app-preprod container app", Message: "readonlyRootFilesystem is false"},
		{Rule: "ECS.8", Severity: findings.High, Resource: "container app", Message: "environment variable AWS_SECRET_ACCESS_KEY is set in plain text"},
	}}
	refused.TaskDefinition, refused.PreviousTaskDefinition, refused.Timeline = "", "", nil

	badInput := report.Report{
		Env: "staging", Outcome: report.BadInput, Started: t0, Finished: t0.Add(time.Second),
		Reason: `sample-app/fargate.yaml: environments.staging: unknown environment (known: local, preprod, prod)`,
	}

	timedOut := base()
	timedOut.Outcome = report.TimedOut
	timedOut.Reason = "deployment ecs-svc/8412 still IN_PROGRESS after 15m0s (1/2 running); rollback requested with StopServiceDeployment"

	promoted := base()
	promoted.Env, promoted.Service = "prod", "sample-app-prod/sample-app"
	promoted.Outcome = report.Deployed
	promoted.TaskDefinition, promoted.PreviousTaskDefinition = "sample-app-prod:17", "sample-app-prod:16"
	promoted.Promotion = &report.Promotion{SourceEnv: "preprod", SourceTaskDefinition: "sample-app-preprod:42",
		ApprovedBy: "octo-cat", ApprovedAt: t0.Add(-time.Hour), ApprovalReason: "CAB-1234"}

	breakGlass := base()
	breakGlass.Outcome = report.Deployed
	breakGlass.Scan.Passed = false
	breakGlass.Scan.Counts["CRITICAL"] = 1
	breakGlass.Scan.Blocking = []string{"CVE-2026-0001 (openssl 3.0.1)"}
	breakGlass.BreakGlass = []report.BreakGlass{{Gate: "scan", By: "octo-cat", At: t0, Reason: "INC-77: hotfix for outage; CVE not reachable"}}

	canaryAlarm := base()
	canaryAlarm.Env, canaryAlarm.Service = "prod", "sample-app-prod/sample-app"
	canaryAlarm.TaskDefinition, canaryAlarm.PreviousTaskDefinition = "sample-app-prod:18", "sample-app-prod:17"
	res := &ecs.Result{Class: ecs.RolledBack, Outcome: "rolled back to sample-app-prod:17", ServiceUpdated: true,
		Reason: "alarm sample-app-prod-5xx-rate fired at 18:34:10 with 10% of production traffic on the new revision",
		Delivery: &ecs.DeliveryReport{Strategy: "CANARY", Plan: "10% for 5m, then 100%; bake 5m; alarms sample-app-prod-5xx-rate, sample-app-prod-target-latency (rollback)",
			ServiceDeploymentArn: "arn:aws:ecs:eu-west-1:444455556666:service-deployment/sample-app-prod/sample-app/Nh5Kd0cQmVf3kZp1",
			Status:               "ROLLBACK_SUCCESSFUL", ProductionPercent: 10, RolledBackBy: "alarm", RollbackAlarms: []string{"sample-app-prod-5xx-rate"},
			RollbackAt: t0.Add(4*time.Minute + 10*time.Second), RollbackPercent: 10,
			Stages: []ecs.Stage{
				{Name: "SCALE_UP", At: t0.Add(12 * time.Second)},
				{Name: "TEST_TRAFFIC_SHIFT", At: t0.Add(52 * time.Second)},
				{Name: "POST_TEST_TRAFFIC_SHIFT", At: t0.Add(64 * time.Second), TestPercent: 100},
				{Name: "PRODUCTION_TRAFFIC_SHIFT", At: t0.Add(76 * time.Second), ProductionPercent: 10, TestPercent: 100},
				{Name: "ROLLBACK_IN_PROGRESS PRODUCTION_TRAFFIC_SHIFT", At: t0.Add(4*time.Minute + 22*time.Second)},
				{Name: "ROLLBACK_SUCCESSFUL CLEAN_UP", At: t0.Add(4*time.Minute + 40*time.Second)},
			}}}
	canaryAlarm.Outcome, canaryAlarm.Reason = report.OutcomeOf(res, res.Err())
	canaryAlarm.Delivery = report.DeliveryOf(res)
	canaryAlarm.Finished = t0.Add(4*time.Minute + 41*time.Second)
	canaryAlarm.Timeline = []report.Event{
		{At: t0.Add(10 * time.Second), Message: "registered sample-app-prod:18"},
		{At: t0.Add(4*time.Minute + 10*time.Second), Message: "(service sample-app) deployment ecs-svc/9121 failed: alarm sample-app-prod-5xx-rate is in ALARM state."},
	}

	return map[string]report.Report{
		"canary-alarm": canaryAlarm,
		"deployed":     deployed, "rolled-back": rolledBack, "rollback-failed": rollbackFailed, "refused": refused,
		"bad-input": badInput, "timed-out": timedOut, "promoted": promoted, "break-glass": breakGlass,
	}
}

func TestMarkdownGolden(t *testing.T) {
	for name, r := range outcomes() {
		t.Run(name, func(t *testing.T) {
			got := r.Markdown()
			path := filepath.Join("testdata", name+".md")
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./pipeline/report -update to create the golden files")
			assert.Equal(t, string(want), got)
		})
	}
}

func TestMarkdownStatusLine(t *testing.T) {
	cases := map[string]string{
		"deployed":        "**DEPLOYED: sample-app-preprod:42**",
		"rolled-back":     "**FAILED: rolled back to sample-app-preprod:41**",
		"rollback-failed": "**FAILED: rollback failed, the service needs attention**",
		"refused":         "**REFUSED: nothing was deployed**",
		"bad-input":       "**BAD INPUT: nothing was deployed**",
		"timed-out":       "**TIMED OUT: sample-app-preprod:42 did not finish deploying**",
		"promoted":        "**DEPLOYED: sample-app-prod:17**",
		"break-glass":     "**DEPLOYED (break-glass): sample-app-preprod:42**",
		"canary-alarm":    "**FAILED: rolled back to sample-app-prod:17**",
	}
	all := outcomes()
	for name, want := range cases {
		md := all[name].Markdown()
		lines := strings.Split(md, "\n")
		require.GreaterOrEqual(t, len(lines), 3, name)
		assert.True(t, strings.HasPrefix(lines[0], "## Deploy to "), name)
		assert.Equal(t, want, lines[2], name)
	}
	assert.Contains(t, report.Report{}.Markdown(), "**UNKNOWN: no outcome recorded**")
}

func TestMarkdownSections(t *testing.T) {
	all := outcomes()

	md := all["rolled-back"].Markdown()
	assert.Contains(t, md, "Reason: ECS deployment circuit breaker: tasks failed to start.")
	assert.Contains(t, md, "<details><summary>Rollout timeline (5 events)</summary>")
	assert.Contains(t, md, "| 18:31:35 |")
	assert.Contains(t, md, "| Vulnerability scan | passed | 0 critical, 0 high, 3 medium, 7 low, 0 unknown; fails on CRITICAL, HIGH; 1 ignored |")
	assert.Contains(t, md, "| Signature | signed and verified | `awskms:///alias/sample-app-signing` |")
	assert.Contains(t, md, "| Platforms | `linux/amd64`, `linux/arm64` |")
	assert.Contains(t, md, "| Duration | 4m12s |")

	md = all["refused"].Markdown()
	assert.Contains(t, md, "| Vulnerability scan | **FAILED** |")
	assert.Contains(t, md, "**1 expired ignore(s)**")
	assert.Contains(t, md, "- CVE-2025-1234 (expired 2026-10-01: waiting for upstream)")
	assert.Contains(t, md, "| Policy | **FAILED** | 22 passed, 2 failed, 0 suppressed; threshold high |")
	assert.Contains(t, md, "| ECS.5 | HIGH |")
	assert.NotContains(t, md, "<details>", "no rollout, no timeline")
	assert.NotContains(t, md, "Task definition")

	md = all["promoted"].Markdown()
	assert.Contains(t, md, "| Promotion | from preprod (`sample-app-preprod:42`) | approved by octo-cat at 2026-11-25 17:30:00Z: CAB-1234 |")

	md = all["break-glass"].Markdown()
	assert.Contains(t, md, "> [!WARNING]")
	assert.Contains(t, md, "### Break-glass")
	assert.Contains(t, md, "| scan | octo-cat | 2026-11-25 18:30:00Z | INC-77: hotfix for outage; CVE not reachable |")
	assert.NotContains(t, all["deployed"].Markdown(), "Break-glass")

	md = all["canary-alarm"].Markdown()
	assert.Contains(t, md, "### Progressive delivery")
	assert.Contains(t, md, "| Strategy | canary |")
	assert.Contains(t, md, "| Rolled back by | CloudWatch alarm |")
	assert.Contains(t, md, "| Alarm | `sample-app-prod-5xx-rate` |")
	assert.Contains(t, md, "| Rollback started | 2026-11-25 18:34:10Z, with 10 % of production traffic on the new revision |")
	assert.Contains(t, md, `| 18:31:16 | PRODUCTION\_TRAFFIC\_SHIFT | 10 % | 100 % |`)
	assert.NotContains(t, all["deployed"].Markdown(), "Progressive delivery")
	assert.Nil(t, report.DeliveryOf(&ecs.Result{}))
	assert.Nil(t, report.DeliveryOf(nil))

	md = all["bad-input"].Markdown()
	assert.NotContains(t, md, "### Gates")
	assert.Contains(t, md, "unknown environment")
}

func TestMarkdownEscapesUserStrings(t *testing.T) {
	r := report.Report{
		Env: "prod", Outcome: report.RolledBack, PreviousTaskDefinition: "x:1",
		Reason: "boom | <img src=x onerror=alert(1)> `code` **bold** [link](http://evil) \n## heading",
		Timeline: []report.Event{
			{At: t0, Message: "col1 | col2 | <script>alert(1)</script>"},
			{At: t0, Message: "line one\nline two\r\n| injected | row |"},
			{At: t0, Message: "</details><details open>"},
			{At: t0, Message: "![img](http://x/y.png) ~~strike~~ _em_ \\ # h"},
		},
		Policy: &report.Policy{Failed: 1, Failures: []report.Finding{{Rule: "R|1", Resource: "res <b>", Message: "m`x`"}}},
	}
	md := r.Markdown()

	for _, bad := range []string{"<img", "<script>", "</script>", "</details><details open>", "`code`", "**bold**", "[link](", "![img]", "~~strike~~", "_em_"} {
		assert.NotContains(t, md, bad)
	}
	assert.Contains(t, md, `boom \| &lt;img src=x onerror=alert(1)> \`+"`code\\`"+` \*\*bold\*\* \[link\](http://evil)  \#\# heading`)
	assert.Contains(t, md, `| 18:30:00 | col1 \| col2 \| &lt;script>alert(1)&lt;/script> |`)
	assert.Contains(t, md, `| 18:30:00 | line one line two \| injected \| row \| |`)
	assert.Contains(t, md, `| R\|1 |  | res &lt;b> | m\`+"`x\\`"+` |`)

	// Text that only looks like punctuation stays readable in a terminal (issue #10 item 7).
	plain := report.Report{Env: "preprod", Outcome: report.RolledBack, Reason: "sample-app-preprod:42 -> sample-app-preprod:41; a < b; R&D work; x >= 1"}
	assert.Contains(t, plain.Markdown(), "Reason: sample-app-preprod:42 -> sample-app-preprod:41; a < b; R&D work; x >= 1\n")
	assert.Contains(t, report.Report{Reason: "&amp; &#60;"}.Markdown(), "&amp;amp; &\\#60;")

	// Each table row keeps its cell count: no user string adds or removes a column.
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| 18:30:00 |") {
			assert.Equal(t, 3, countUnescapedPipes(line), line)
		}
	}
	// The only raw HTML is the report's own details block.
	assert.Equal(t, 1, strings.Count(md, "<details>"))
	assert.Equal(t, 1, strings.Count(md, "</details>"))
}

func countUnescapedPipes(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == '|' {
			n++
		}
	}
	return n
}

var awsKeyID = regexp.MustCompile(`(AKIA|ASIA)[A-Z0-9]{16}`)

func TestMarkdownHasNoSecrets(t *testing.T) {
	// Realistic inputs: every outcome built from the values a pipeline run has.
	for name, r := range outcomes() {
		assert.False(t, awsKeyID.MatchString(r.Markdown()), name)
	}

	// An access key ID that leaked into an error text is masked wherever it appears.
	r := outcomes()["rolled-back"]
	r.Reason = "UpdateService: The security token included in the request is invalid (key AKIAIOSFODNN7EXAMPLE)"
	r.Timeline = append(r.Timeline, report.Event{At: t0, Message: "temporary credentials ASIAZZZZZZZZZZZZZZZZ expired"})
	md := r.Markdown()
	assert.False(t, awsKeyID.MatchString(md))
	assert.Contains(t, md, "AKIA****************")
	assert.Contains(t, md, "ASIA****************")
}

func TestRedact(t *testing.T) {
	const secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	const password = "hunter2-cosign"
	r := outcomes()["refused"]
	r.Reason = "cosign sign: bad password " + password
	r.Timeline = []report.Event{{At: t0, Message: "aws: secret " + secretKey + " rejected"}}
	r.Scan.Blocking = append(r.Scan.Blocking, "leak "+password)
	r.Promotion = &report.Promotion{ApprovalReason: "pw=" + password}

	r.Redact(secretKey, password, "")
	md := r.Markdown()
	assert.NotContains(t, md, secretKey)
	assert.NotContains(t, md, password)
	assert.Contains(t, md, "bad password \\*\\*\\*")
	assert.Contains(t, md, "aws: secret \\*\\*\\* rejected")
	assert.Equal(t, "pw=***", r.Promotion.ApprovalReason)

	var nilReport *report.Report
	nilReport.Redact("x") // no panic
}
