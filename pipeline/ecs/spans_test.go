package ecs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/ecsfake"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestTimeoutSpans: a timed-out progressive deploy stops the service deployment in
// the stage it timed out in.
func TestTimeoutSpans(t *testing.T) {
	e := newDeliveryEnv(t)
	rec := e.traced()
	_, err := e.eng.Deploy(context.Background(), e.deliveryOpts(canary(), 7*time.Minute))
	require.Error(t, err)
	assert.Contains(t, spanTree(rec.Ended()), "    bake time!\n      stop service deployment with rollback\n    rollback in progress: bake time\n")
}

// traced rebuilds the env's engine with a tracer provider that records every span.
func (e *env) traced() *tracetest.SpanRecorder {
	rec := tracetest.NewSpanRecorder()
	e.eng = New(e.srv.Config(e.t), Options{Clock: e.clock, Log: e.log, Tracer: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))})
	return rec
}

// spanTree renders the ended spans as an indented tree, in start order, a failed span
// marked "!": "deploy sample-app!\n  check account\n ...".
func spanTree(spans []sdktrace.ReadOnlySpan) string {
	children := map[string][]sdktrace.ReadOnlySpan{}
	var roots []sdktrace.ReadOnlySpan
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanContext().SpanID().String()] = true
	}
	for _, s := range spans {
		p := s.Parent().SpanID().String()
		if !s.Parent().IsValid() || !ids[p] {
			roots = append(roots, s)
			continue
		}
		children[p] = append(children[p], s)
	}
	var b strings.Builder
	var walk func(ss []sdktrace.ReadOnlySpan, depth int)
	walk = func(ss []sdktrace.ReadOnlySpan, depth int) {
		sortByStart(ss)
		for _, s := range ss {
			mark := ""
			if s.Status().Code == codes.Error {
				mark = "!"
			}
			fmt.Fprintf(&b, "%s%s%s\n", strings.Repeat("  ", depth), s.Name(), mark)
			walk(children[s.SpanContext().SpanID().String()], depth+1)
		}
	}
	walk(roots, 0)
	return b.String()
}

func sortByStart(ss []sdktrace.ReadOnlySpan) {
	slices.SortStableFunc(ss, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
}

// TestSpans checks the spans a deploy shows in the Dagger TUI and traces: one per step
// under the deploy's own, one per rollout phase or service deployment stage under the wait,
// the step or phase where it failed (and the deploy) with an error status.
func TestSpans(t *testing.T) {
	failingProbe := func(context.Context) error { return errors.New("status 503, expected 200") }
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) (*env, DeployOptions)
		tree  string
	}{
		{name: "healthy rolling", setup: func(t *testing.T) (*env, DeployOptions) {
			e := newEnv(t, envOpts{})
			return e, e.deployOpts()
		}, tree: `
deploy sample-app
  check account
  inspect service
  register task definition
  update service
  wait for deployment
    confirm the update
    tasks starting
    old tasks draining
`},
		{name: "circuit breaker: ECS rolls back", setup: func(t *testing.T) (*env, DeployOptions) {
			e := newEnv(t, envOpts{})
			e.fake.ScriptNext(ecsfake.Rollout{Kind: ecsfake.FailTasks, StoppedReason: "Essential container in task exited", ExitCode: 137})
			return e, e.deployOpts()
		}, tree: `
deploy sample-app!
  check account
  inspect service
  register task definition
  update service
  wait for deployment!
    confirm the update
    tasks starting!
  ECS rollback to sample-app-preprod:1
    wait for rollback
      confirm the update
      tasks starting
      old tasks draining
`},
		{name: "failed without ECS rollback: the pipeline rolls back", setup: func(t *testing.T) (*env, DeployOptions) {
			e := newEnv(t, envOpts{config: &types.DeploymentConfiguration{DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: false}}})
			e.fake.ScriptNext(ecsfake.Rollout{Kind: ecsfake.FailTasks})
			o := e.deployOpts()
			o.DisableCircuitBreaker = true
			return e, o
		}, tree: `
deploy sample-app!
  check account
  inspect service
  register task definition
  update service
  wait for deployment!
    confirm the update
    tasks starting!
  roll back to sample-app-preprod:1
    wait for rollback
      confirm the update
      tasks starting
      old tasks draining
`},
		{name: "wrong account: nothing changes", setup: func(t *testing.T) (*env, DeployOptions) {
			e := newEnv(t, envOpts{})
			o := e.deployOpts()
			o.ExpectedAccount = "210987654321"
			return e, o
		}, tree: `
deploy sample-app!
  check account!
`},
		{name: "canary completes", setup: func(t *testing.T) (*env, DeployOptions) {
			e := newDeliveryEnv(t)
			return e, e.deliveryOpts(canary(), 20*time.Minute)
		}, tree: `
deploy sample-app
  check account
  inspect service
  register task definition
  update service
  follow service deployment
    scale up
    test traffic shift
    post test traffic shift
    production traffic shift (10%)
    production traffic shift (100%)
    post production traffic shift
    bake time
    clean up
`},
		{name: "alarm during the canary: ECS rolls back", setup: func(t *testing.T) (*env, DeployOptions) {
			e := newDeliveryEnv(t)
			e.fake.FireAlarm(alarm5xx, t0.Add(3*time.Minute))
			return e, e.deliveryOpts(canary(), 20*time.Minute)
		}, tree: `
deploy sample-app!
  check account
  inspect service
  register task definition
  update service
  follow service deployment!
    scale up
    test traffic shift
    post test traffic shift
    production traffic shift (10%)!
    rollback in progress: production traffic shift (0%)
`},
		{name: "blue/green probe fails: the pipeline stops with rollback", setup: func(t *testing.T) (*env, DeployOptions) {
			e := newDeliveryEnv(t)
			d := &Delivery{Strategy: types.DeploymentStrategyBlueGreen, BakeTime: 5 * time.Minute, LoadBalancer: wiring(), TestProbe: failingProbe}
			return e, e.deliveryOpts(d, 20*time.Minute)
		}, tree: `
deploy sample-app!
  check account
  inspect service
  register task definition
  update service
  follow service deployment!
    scale up
    test traffic shift
    post test traffic shift!
      test probe!
      stop service deployment with rollback
    rollback in progress: post test traffic shift
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, o := tc.setup(t)
			rec := e.traced()
			res, err := e.eng.Deploy(context.Background(), o)
			assert.Equal(t, res.Class == Completed, err == nil)
			assert.Equal(t, strings.TrimPrefix(tc.tree, "\n"), spanTree(rec.Ended()))
			for _, s := range rec.Ended() {
				if s.Status().Code == codes.Error {
					assert.NotEmpty(t, s.Status().Description, "a failed span says why: %s", s.Name())
				}
			}
			if err != nil {
				root := rec.Ended()[len(rec.Ended())-1]
				assert.Equal(t, err.Error(), root.Status().Description, "the deploy's span fails with the deploy's error")
			}
		})
	}
}
