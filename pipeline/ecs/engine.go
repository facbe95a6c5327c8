// Package ecs deploys a rendered task definition to an Amazon ECS service and tells the
// truth about the outcome: it follows the deployment its own UpdateService created (not the
// "services stable" waiter, which calls a circuit-breaker rollback a success) and judges it
// by deployment IDs and task definitions, never by absence (read-after-write lag, a deploy
// that completed and was then superseded, another client's deploy started at the same
// moment are each reported as what they are). It shows the service events and the failed
// tasks' reasons as they happen, polls by rollout phase within a budget of ECS reads and
// backs off under throttling, enforces its timeouts exactly, and rolls the service back when
// a deploy fails and ECS has not already done so, watching the rollback on its own timeout.
package ecs

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"go.opentelemetry.io/otel/trace"

	"dagger/fargate/pipeline/internal/clock"
	"dagger/fargate/pipeline/progress"
)

// API is the part of the ECS client the engine uses (*ecs.Client satisfies it).
type API interface {
	RegisterTaskDefinition(ctx context.Context, in *awsecs.RegisterTaskDefinitionInput, optFns ...func(*awsecs.Options)) (*awsecs.RegisterTaskDefinitionOutput, error)
	DescribeTaskDefinition(ctx context.Context, in *awsecs.DescribeTaskDefinitionInput, optFns ...func(*awsecs.Options)) (*awsecs.DescribeTaskDefinitionOutput, error)
	ListTaskDefinitions(ctx context.Context, in *awsecs.ListTaskDefinitionsInput, optFns ...func(*awsecs.Options)) (*awsecs.ListTaskDefinitionsOutput, error)
	DescribeServices(ctx context.Context, in *awsecs.DescribeServicesInput, optFns ...func(*awsecs.Options)) (*awsecs.DescribeServicesOutput, error)
	UpdateService(ctx context.Context, in *awsecs.UpdateServiceInput, optFns ...func(*awsecs.Options)) (*awsecs.UpdateServiceOutput, error)
	ListTasks(ctx context.Context, in *awsecs.ListTasksInput, optFns ...func(*awsecs.Options)) (*awsecs.ListTasksOutput, error)
	DescribeTasks(ctx context.Context, in *awsecs.DescribeTasksInput, optFns ...func(*awsecs.Options)) (*awsecs.DescribeTasksOutput, error)
}

// STSAPI is the part of the STS client the engine uses to check the account.
type STSAPI interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// Clock is the engine's notion of time. Tests pass a virtual clock (ecsfake.VirtualClock)
// so that a fifteen-minute wait runs instantly.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done (then it returns ctx.Err()).
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock = clock.Wall

// Options configure an Engine. All fields are optional.
type Options struct {
	// ECS and STS replace the clients built from the aws.Config.
	ECS API
	STS STSAPI
	// Clock defaults to the wall clock.
	Clock Clock
	// Log receives progress lines and service events while waiting (nil: discarded).
	Log io.Writer
	// Polling tunes the wait; zero values take the defaults.
	Polling Polling
	// Tracer receives a span for each step, wait phase and stage of a deploy (nil: the
	// global provider, otel.GetTracerProvider(), which a Dagger module's runtime installs).
	Tracer trace.TracerProvider
}

// Polling tunes how often the engine reads the service while waiting. The engine polls by
// phase, from the deployment's own fields: rarely while nothing can finish (tasks
// provisioning and starting, the old tasks draining for a known time), tightly only when
// the end is near, and never more than PerMinute reads per minute of waiting on average.
type Polling struct {
	// Fast is the interval when the end is near: every new task runs and the old tasks are
	// gone or about to be (1.8 s: the end is noticed within 2 s).
	Fast time.Duration
	// Confirm is the pause before the first read after the update, which also checks that
	// no other deployment started alongside ours (1.5 s, at most Normal).
	Confirm time.Duration
	// Normal is the interval while waiting for health checks, a known drain, ECS to roll
	// back, or the update to become visible (5 s).
	Normal time.Duration
	// Slow is the interval while the new tasks are provisioned and start (10 s).
	Slow time.Duration
	// Idle is the interval once nothing has changed for three minutes while tasks start
	// (15 s): a slow image pull or a hung rollout.
	Idle time.Duration
	// PerMinute is the most ECS read calls per minute of waiting, on average over the wait
	// (20, or more when Normal is set below its default: the budget scales with it); the
	// first few reads are free so that the update can be confirmed at once.
	PerMinute int
	// Max is the longest interval, reached when throttled (30 s).
	Max time.Duration
	// LagGrace is how long the engine waits silently for a deployment just created to
	// become visible (read-after-write lag) before it says so in the log (60 s). A
	// deployment never seen is not taken for gone: the engine keeps reading until the
	// timeout.
	LagGrace time.Duration
}

func (p Polling) withDefaults() Polling {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	const normal = 5 * time.Second
	def(&p.Fast, 1800*time.Millisecond)
	def(&p.Normal, normal)
	def(&p.Confirm, min(1500*time.Millisecond, p.Normal))
	def(&p.Slow, 10*time.Second)
	def(&p.Idle, 15*time.Second)
	def(&p.Max, 30*time.Second)
	def(&p.LagGrace, 60*time.Second)
	if p.PerMinute <= 0 {
		// 20 at the default intervals; intervals scaled down (tests on the wall clock)
		// scale the budget with them.
		p.PerMinute = int(20 * max(normal/p.Normal, 1))
	}
	return p
}

// Engine deploys to ECS. It holds no state between calls.
type Engine struct {
	ecs   API
	sts   STSAPI
	clock Clock
	log   io.Writer
	poll  Polling
	spans *progress.Tracer
}

// New returns an engine using cfg (built by awsconf.Load) for its clients.
func New(cfg aws.Config, opts Options) *Engine {
	e := &Engine{ecs: opts.ECS, sts: opts.STS, clock: opts.Clock, log: opts.Log, poll: opts.Polling.withDefaults(), spans: progress.New(opts.Tracer)}
	if e.ecs == nil {
		e.ecs = awsecs.NewFromConfig(cfg)
	}
	if e.sts == nil {
		e.sts = sts.NewFromConfig(cfg)
	}
	if e.clock == nil {
		e.clock = RealClock{}
	}
	if e.log == nil {
		e.log = io.Discard
	}
	return e
}

func (e *Engine) logf(format string, args ...any) {
	fmt.Fprintf(e.log, format+"\n", args...)
}
