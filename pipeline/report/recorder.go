package report

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"dagger/fargate/pipeline/progress"
)

// Recorder builds a Report while a deploy runs: every log line goes to the user and into the
// timeline, gates are recorded as refusals or break-glass bypasses, and Finish renders the
// report. Logf, Write and Gate are safe for concurrent use; the Report's other fields are
// set by the goroutine that drives the deploy.
type Recorder struct {
	Report

	mu  sync.Mutex
	out io.Writer
	now func() time.Time
}

// BreakGlass request: bypass failing gates, with a reason and who asked. An empty Reason
// means no bypass.
type BreakGlassRequest struct {
	Reason string
	By     string
}

// NewRecorder starts the report of a deploy to env; log lines are also written to out.
func NewRecorder(env string, out io.Writer, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	if out == nil {
		out = io.Discard
	}
	r := &Recorder{out: out, now: now}
	r.Env = env
	r.Started = now().UTC()
	return r
}

// Logf records one timeline line and prints it.
func (r *Recorder) Logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Timeline = append(r.Timeline, Event{At: r.now().UTC(), Message: msg})
	fmt.Fprintln(r.out, msg)
}

// Phase starts one step of the run (build, scan, publish, sign, deploy, ...): it times it in
// the report's Phases, in the order the steps start, and opens a span of that name
// (pipeline/progress), which the Dagger TUI and traces show as a step; the progress lines
// stay as they are, for plain logs. The span comes from the provider of ctx's span when it
// records, else from the global one. Pass the returned context on, so that the step's own
// spans (the deploy engine's) nest under it, and call end once with the step's error (an
// error gives the span an error status). Safe for concurrent use.
func (r *Recorder) Phase(ctx context.Context, name string) (context.Context, func(err error)) {
	r.mu.Lock()
	i := len(r.Phases)
	r.Phases = append(r.Phases, Phase{Name: name, Started: r.now().UTC()})
	r.mu.Unlock()
	ctx, endSpan := progress.FromContext(ctx).Span(ctx, name)
	var once sync.Once
	return ctx, func(err error) {
		once.Do(func() {
			r.mu.Lock()
			r.Phases[i].Duration = r.now().UTC().Sub(r.Phases[i].Started)
			r.mu.Unlock()
			endSpan(err)
		})
	}
}

// Warnf records a warning: logged with a WARNING prefix, and listed in the report.
func (r *Recorder) Warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.Warnings = append(r.Warnings, msg)
	r.mu.Unlock()
	r.Logf("WARNING: %s", msg)
}

// Write takes progress lines (the deploy engine's log), one timeline event per line.
func (r *Recorder) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if strings.TrimSpace(line) != "" {
			r.Logf("%s", line)
		}
	}
	return len(p), nil
}

// Gate records the result of a gate. A passed gate (nil failure) returns nil. A failed gate
// returns the failure, unless break glass was requested: then the bypass is recorded in the
// report, logged loudly and marked as an event on ctx's span (the step's, in the TUI and
// traces), and Gate returns nil. A bypass is never silent.
func (r *Recorder) Gate(ctx context.Context, name string, failure error, bg BreakGlassRequest) error {
	if failure == nil {
		return nil
	}
	if strings.TrimSpace(bg.Reason) == "" {
		return failure
	}
	by := bg.By
	if by == "" {
		by = "unnamed (pass --approved-by)"
	}
	r.mu.Lock()
	r.BreakGlass = append(r.BreakGlass, BreakGlass{Gate: name, By: by, Reason: bg.Reason, At: r.now().UTC()})
	r.mu.Unlock()
	r.Logf("BREAK-GLASS: the %s gate failed and was bypassed by %s: %s (%v)", name, by, bg.Reason, failure)
	progress.Mark(ctx, "break glass: the "+name+" gate was bypassed", attribute.String("fargate.gate", name),
		attribute.String("fargate.break_glass.by", by), attribute.String("fargate.break_glass.reason", bg.Reason))
	return nil
}

// Finish renders the report. A run that succeeded (deployed, or rolled back on request)
// returns the Markdown; any other outcome returns a *Failure that carries err (or the reason)
// and the whole report, so that the caller exits non-zero and still shows what happened.
func (r *Recorder) Finish(outcome Outcome, reason string, err error) (string, error) {
	r.Outcome = outcome
	r.Reason = reason
	r.Finished = r.now().UTC()
	md := r.Markdown()
	if outcome.Succeeded() {
		return md, nil
	}
	cause := reason
	if err != nil {
		cause = err.Error()
	}
	return "", &Failure{Outcome: outcome, Markdown: md, Cause: cause}
}

// Failure is the error of a run that did not succeed: the cause first, then the whole
// report. It holds the cause as text and does not unwrap to it, on purpose: the function
// dispatcher Dagger's Go SDK generates (dagger.gen.go, v0.21.8) returns exec.Unwrap() for an
// error whose chain holds a *dagger.ExecError, and only the GraphQL error's message for one
// whose chain holds a *gqlerror.Error, so a failure that wrapped a failed build or push would
// reach the user as the engine's message alone, without the headline and the report.
type Failure struct {
	Outcome  Outcome
	Markdown string
	Cause    string
}

func (f *Failure) Error() string { return f.Cause + "\n\n" + f.Markdown }

// Refuse ends the deploy before anything changed in the environment.
func (r *Recorder) Refuse(err error) (string, error) {
	return r.Finish(Refused, err.Error(), err)
}
