package report

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
)

func TestTasksSection(t *testing.T) {
	tests := []struct {
		name    string
		r       Report
		want    []string
		notWant []string
	}{
		{"pre-deploy failure with logs",
			Report{Outcome: Refused, Tasks: []Task{{Role: "pre-deploy", ID: "0123abcd", TaskDefinition: "app:2", Container: "app", Command: []string{"/app", "migrate"},
				Outcome: "failed", ExitCode: aws.Int32(3), StoppedReason: "Essential container in task exited", LogSource: "stream app/app/0123abcd in group /ecs/app",
				LogLines: []string{"key AKIAIOSFODNN7EXAMPLE", "```", "<script>x</script>"}}}},
			[]string{"### Tasks", "- **pre-deploy** task `0123abcd` of `app:2`, container `app`: failed, exit code 3", "  - command: /app migrate",
				"  - stopped reason: Essential container in task exited", "last 3 log line(s) of stream app/app/0123abcd in group /ecs/app",
				"    ````text\n", "    <script>x</script>\n", "AKIA****************"},
			[]string{"AKIAIOSFODNN7EXAMPLE"}},
		{"missing stream", Report{Outcome: RolledBack, Tasks: []Task{{Role: "rollout", ID: "t1", Outcome: "stopped", LogNote: "no log stream app/app/t1 in group /ecs/app"}}},
			[]string{"  - logs: no log stream app/app/t1 in group /ecs/app"}, []string{"log line(s)"}},
		{"preflight refusal", Report{Outcome: Refused, Preflight: &Preflight{Verified: 4, Problems: []string{"arn:aws:secretsmanager:eu-west-1:1:secret:x: no such secret"}}},
			[]string{"### Preflight", "**1 missing** (nothing was registered)", "- arn:aws:secretsmanager:eu-west-1:1:secret:x: no such secret"}, []string{"### Tasks"}},
		{"nothing", Report{Outcome: Deployed}, nil, []string{"### Tasks", "### Preflight"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := tt.r.Markdown()
			for _, w := range tt.want {
				assert.Contains(t, md, w)
			}
			for _, w := range tt.notWant {
				assert.NotContains(t, md, w)
			}
		})
	}
}
