package chain_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"dagger/fargate/pipeline/chain"
	"dagger/fargate/pipeline/internal/ecsfake"
	"dagger/fargate/pipeline/report"
)

// traced records every span of the world's runs: the chain's phases (they take the provider
// of the context's span) and the deploy engine's steps. It returns the context of a root
// span standing for the module function's call, and the function that ends it.
func (w *world) traced() (context.Context, *tracetest.SpanRecorder, func()) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	w.s.ECS.Tracer = tp
	ctx, root := tp.Tracer("test").Start(context.Background(), "deploy call")
	return ctx, rec, func() { root.End() }
}

// phaseTree renders the root's children, in start order, a failed span marked "!", and the
// path to each span named in nested ("ECS deploy > deploy sample-app > run pre-deploy
// task!"), which must be unique.
func phaseTree(t *testing.T, spans []sdktrace.ReadOnlySpan, nested ...string) string {
	t.Helper()
	byID := map[string]sdktrace.ReadOnlySpan{}
	var root sdktrace.ReadOnlySpan
	for _, s := range spans {
		byID[s.SpanContext().SpanID().String()] = s
		if !s.Parent().IsValid() {
			require.Nil(t, root, "one root span")
			root = s
		}
	}
	require.NotNil(t, root)
	mark := func(s sdktrace.ReadOnlySpan) string {
		if s.Status().Code == codes.Error {
			return s.Name() + "!"
		}
		return s.Name()
	}
	var children []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Parent().SpanID() == root.SpanContext().SpanID() {
			children = append(children, s)
		}
	}
	sortByStart(children)
	var b strings.Builder
	for _, s := range children {
		fmt.Fprintf(&b, "%s\n", mark(s))
	}
	for _, name := range nested {
		var path []string
		found := 0
		for _, s := range spans {
			if s.Name() != name {
				continue
			}
			found++
			path = nil
			for p := s; p.SpanContext().SpanID() != root.SpanContext().SpanID(); {
				path = append([]string{mark(p)}, path...)
				parent, ok := byID[p.Parent().SpanID().String()]
				require.True(t, ok, "%s: an ancestor is not among the recorded spans", name)
				p = parent
			}
		}
		require.Equal(t, 1, found, "spans named %q", name)
		fmt.Fprintf(&b, "%s\n", strings.Join(path, " > "))
	}
	return b.String()
}

// sortByStart orders spans by start time (the SDK's wall clock: the chain's phases start
// one after another), keeping the recorded order of spans that started at the same time.
func sortByStart(ss []sdktrace.ReadOnlySpan) {
	slices.SortStableFunc(ss, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
}

// Issue #20 item 4: every gate is a phase (a span in the Dagger TUI and traces, a timing in
// the report) under the function's call, and a refusing gate's span fails with the reason.
func TestDeploySpansTheGates(t *testing.T) {
	preDeploy := "    preDeploy: {command: [/app, migrate], timeout: 1m}\n"
	tests := []struct {
		name  string
		env   string
		setup func(w *world, req *chain.DeployRequest)
		// nested names spans below the phases whose path is checked.
		nested []string
		tree   string
		// events are the span events of the run, "span: event (attributes)".
		events []string
		// failed is the reason in the status of every failed span (none: all succeeded).
		failed  string
		outcome report.Outcome
	}{
		{name: "preprod deployed, with a migration", env: "preprod", outcome: report.Deployed,
			setup:  func(w *world, _ *chain.DeployRequest) { w.withPreDeploy(preDeploy) },
			nested: []string{"run pre-deploy task"}, tree: `
account
service
policy
preflight
build
scan + SBOM
publish
sign + verify
ECS deploy
ECS deploy > deploy sample-app > run pre-deploy task
`},
		{name: "prod promoted", env: "prod", outcome: report.Deployed,
			setup: func(w *world, req *chain.DeployRequest) {
				out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
				require.NoError(w.t, err, reportOf(out, err))
				w.caller, req.ApprovedBy, req.ApprovalReason = prodAccount, "alice", "release 1.4"
			}, tree: `
approval
account
service
policy
preflight
promotion
ECS deploy
`},
		{name: "local deployed", env: "local", outcome: report.Deployed, tree: `
policy
build
scan + SBOM
publish
sign + verify
run + probe
`},
		{name: "approval missing", env: "prod", outcome: report.Refused, failed: "approver", tree: `
approval!
`},
		{name: "wrong account", env: "preprod", outcome: report.Refused, failed: "999988887777",
			setup: func(w *world, _ *chain.DeployRequest) { w.caller = "999988887777" }, tree: `
account!
`},
		{name: "policy refusal", env: "preprod", outcome: report.Refused, failed: "policy check failed",
			setup: func(w *world, _ *chain.DeployRequest) {
				w.files["ecs/preprod.taskdef.json"] = strings.Replace(w.file("ecs/preprod.taskdef.json"), `"privileged": false`, `"privileged": true`, 1)
			}, tree: `
account
service
policy!
`},
		{name: "policy bypassed with break glass", env: "preprod", outcome: report.Deployed,
			setup: func(w *world, req *chain.DeployRequest) {
				w.files["ecs/preprod.taskdef.json"] = strings.Replace(w.file("ecs/preprod.taskdef.json"), `"privileged": false`, `"privileged": true`, 1)
				req.BreakGlass, req.ApprovedBy = "hotfix for INC-42, fix ships tomorrow", "alice"
			},
			events: []string{"policy: break glass: the policy gate was bypassed (fargate.gate=policy fargate.break_glass.by=alice fargate.break_glass.reason=hotfix for INC-42, fix ships tomorrow)"},
			tree: `
approval
account
service
policy
preflight
build
scan + SBOM
publish
sign + verify
ECS deploy
`},
		{name: "busy service", env: "preprod", outcome: report.Refused, failed: "deployment in progress",
			setup: func(w *world, _ *chain.DeployRequest) {
				require.NoError(w.t, w.ecs.StartDeployment("sample-app-preprod", "sample-app", w.arns["preprod"], ecsfake.Rollout{Kind: ecsfake.Hang}))
			}, tree: `
account
service!
`},
		{name: "given image by tag", env: "preprod", outcome: report.Refused, failed: "digest",
			setup: func(_ *world, req *chain.DeployRequest) {
				req.Image = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/sample-app:latest"
			}, tree: `
account
service
policy
preflight
verify!
`},
		{name: "preflight refusal", env: "preprod", outcome: report.Refused, failed: "no such secret",
			setup: func(w *world, _ *chain.DeployRequest) {
				w.files["ecs/preprod.taskdef.json"] = strings.Replace(w.file("ecs/preprod.taskdef.json"), "secret:sample-app/preprod/api-token-AbCdEf", "secret:sample-app/preprod/missing-ZyXwVu", 1)
			}, tree: `
account
service
policy
preflight!
`},
		{name: "promotion source runs a tag", env: "prod", outcome: report.Refused, failed: "not pinned by digest",
			setup: func(w *world, req *chain.DeployRequest) { req.ApprovedBy, w.caller = "alice", prodAccount }, tree: `
approval
account
service
policy
preflight
promotion!
`},
		{name: "migration fails", env: "preprod", outcome: report.Refused, failed: "exit code 3",
			setup: func(w *world, _ *chain.DeployRequest) {
				w.withPreDeploy(preDeploy)
				w.ecs.ScriptRunTask(ecsfake.TaskScript{Exit: 3})
			},
			nested: []string{"run pre-deploy task"}, tree: `
account
service
policy
preflight
build
scan + SBOM
publish
sign + verify
ECS deploy!
ECS deploy! > deploy sample-app! > run pre-deploy task!
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			req := chain.DeployRequest{Env: tt.env, ReportJSON: true}
			if tt.setup != nil {
				tt.setup(w, &req)
			}
			ctx, rec, endRoot := w.traced()
			out, err := w.s.Deploy(ctx, req)
			endRoot()
			require.NoError(t, err)
			var got report.JSONReport
			require.NoError(t, json.Unmarshal([]byte(out), &got), out)
			require.Equal(t, string(tt.outcome), got.Outcome, got.Markdown)

			assert.Len(t, rec.Ended(), len(rec.Started()), "every span ends")
			assert.Equal(t, strings.TrimPrefix(tt.tree, "\n"), phaseTree(t, rec.Ended(), tt.nested...))
			// The report times the same phases, in the same order.
			var phases []string
			for _, p := range got.Phases {
				phases = append(phases, p.Name)
			}
			var spans []string
			for _, line := range strings.Split(strings.TrimSpace(tt.tree), "\n") {
				if !strings.Contains(line, " > ") {
					spans = append(spans, strings.TrimSuffix(line, "!"))
				}
			}
			assert.Equal(t, spans, phases, "the report's phases")
			assert.Equal(t, spans, markdownPhases(t, got.Markdown), "the Markdown report's Phases row")
			for _, s := range rec.Ended() {
				if s.Status().Code == codes.Error {
					assert.Contains(t, s.Status().Description, tt.failed, "%s fails with the reason", s.Name())
				} else if s.Name() != "deploy call" {
					assert.Equal(t, codes.Ok, s.Status().Code, "%s", s.Name())
				}
			}
			assert.Equal(t, tt.failed == "", !strings.Contains(tt.tree, "!"), "a failed case has a failed span")
			var events []string
			for _, s := range rec.Ended() {
				for _, e := range s.Events() {
					if e.Name == "exception" { // RecordError's event on a failed span
						continue
					}
					var attrs []string
					for _, a := range e.Attributes {
						attrs = append(attrs, string(a.Key)+"="+a.Value.Emit())
					}
					events = append(events, fmt.Sprintf("%s: %s (%s)", s.Name(), e.Name, strings.Join(attrs, " ")))
				}
			}
			assert.Equal(t, tt.events, events, "span events: a break-glass bypass marks its gate's span")
		})
	}
}

// markdownPhases are the names in the Markdown report's Phases row ("account 0s · ...").
func markdownPhases(t *testing.T, md string) []string {
	t.Helper()
	for _, line := range strings.Split(md, "\n") {
		row, ok := strings.CutPrefix(line, "| Phases | ")
		if !ok {
			continue
		}
		var names []string
		for _, part := range strings.Split(strings.TrimSuffix(row, " |"), " · ") {
			i := strings.LastIndex(part, " ")
			require.Positive(t, i, "phase %q: a name and a duration", part)
			names = append(names, part[:i])
		}
		return names
	}
	require.Fail(t, "no Phases row", md)
	return nil
}
