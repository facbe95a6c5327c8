package report_test

import (
	"fmt"
	"testing"
	"time"

	"dagger/fargate/pipeline/report"
)

// BenchmarkMarkdown renders a long rollout: 2,000 timeline events with markup to escape.
func BenchmarkMarkdown(b *testing.B) {
	r := outcomes()["rolled-back"]
	r.Timeline = nil
	for i := range 2000 {
		r.Timeline = append(r.Timeline, report.Event{
			At:      t0.Add(time.Duration(i) * time.Second),
			Message: fmt.Sprintf("(service sample-app) (task %04x) stopped | exit code %d <panic: `nil map`> [retry]", i, i%3),
		})
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Markdown()
	}
}
