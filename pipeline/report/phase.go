package report

import (
	"context"

	"dagger/fargate/pipeline/progress"
)

// Phase starts a phase of the run (a gate, a step): it logs "<name>: started" as a timeline
// line, so that plain logs keep it (name it like the prefix of the phase's other lines —
// build, scan, publish, sign, verify, policy, deploy — so that the timeline's phases stay
// one run of lines), and opens a span named name (pipeline/progress), which
// the Dagger TUI and traces show as a step. The span comes from the provider of ctx's span
// when it records, else from the global one (progress.FromContext). Pass the returned
// context on, so that the phase's own spans (the deploy engine's) nest under it; call end
// with the phase's error when it ends: an error is logged ("<name>: failed: ...") and gives
// the span an error status. Phase is safe for concurrent use.
func (r *Recorder) Phase(ctx context.Context, name string) (context.Context, func(err error)) {
	r.Logf("%s: started", name)
	ctx, endSpan := progress.FromContext(ctx).Span(ctx, name)
	return ctx, func(err error) {
		if err != nil {
			r.Logf("%s: failed: %v", name, err)
		}
		endSpan(err)
	}
}
