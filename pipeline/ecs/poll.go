package ecs

import (
	"context"
	"math"
	"time"

	"golang.org/x/time/rate"

	"dagger/fargate/pipeline/progress"
)

// The engine follows a deployment with one poller whatever the strategy: the poller owns the
// read schedule (the deadline, the pause between two reads, the backoff under throttling),
// the read budget, the count of failed reads in a row and the statistics of the reads; it
// hands each observation to an observer — the rolling one (DescribeServices, wait.go) or the
// progressive one (DescribeServiceDeployments, progressive.go) — that decides whether the
// wait is over and how soon the phase it saw needs the next read.

// readBudget is how many ECS reads a follow loop may make: a token bucket
// (golang.org/x/time/rate) driven by explicit times, the engine's clock (virtual in tests),
// never by Limiter.Wait, which sleeps on the wall clock. A read is always allowed to happen
// (the bucket may go into debt, e.g. for the service events read after a stage change);
// delay says how long the schedule must hold the next one.
type readBudget struct {
	lim *rate.Limiter
}

// averageBudget allows perMinute reads a minute on average over a whole wait, from start to
// deadline, with the first free reads at once: what a quiet phase saves is spent polling
// tightly near the end (the bucket can hold the whole wait's budget, so it never overflows
// before the deadline). The n-th read comes no sooner than (n - free) / perMinute minutes
// after start.
func averageBudget(start, deadline time.Time, perMinute, free int) *readBudget {
	capacity := free + 1 + int(math.Ceil(deadline.Sub(start).Minutes()*float64(perMinute)))
	lim := rate.NewLimiter(rate.Every(time.Minute/time.Duration(perMinute)), capacity)
	// A new limiter is full; keep only the free reads.
	lim.ReserveN(start, capacity-free)
	return &readBudget{lim: lim}
}

// bucketBudget allows perMinute reads a minute with a burst of burst, full at start: what a
// bake saves pays for tight polling at its end, never more than perMinute+burst in any
// minute.
func bucketBudget(start time.Time, perMinute, burst int) *readBudget {
	lim := rate.NewLimiter(rate.Every(time.Minute/time.Duration(perMinute)), burst)
	lim.AllowN(start, 0) // full at start
	return &readBudget{lim: lim}
}

// spend takes one read at now, into debt if need be.
func (b *readBudget) spend(now time.Time) {
	b.lim.ReserveN(now, 1)
}

// delay is how long after now the budget allows the next read.
func (b *readBudget) delay(now time.Time) time.Duration {
	tokens := b.lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(b.lim.Limit()) * float64(time.Second))
}

// verdict is what an observer decides from one observation.
type verdict int

const (
	// keepGoing: read again when the phase's interval and the budget allow.
	keepGoing verdict = iota
	// finished: the wait is over (the observer holds the outcome).
	finished
	// readNow: the observer acted on the deployment (continued or stopped it): read again
	// at once.
	readNow
)

// observer judges what one follow loop reads.
type observer interface {
	// observe makes one read through the poller (p.read) and judges it.
	observe(ctx context.Context, p *poller) verdict
	// interval is the pause before the next read for the phase the last read showed.
	interval(now time.Time) time.Duration
	// expired is called when the deadline has passed and the wait is not over: the
	// observer ends it (finished) or moves p.deadline (keepGoing: a rollback to follow).
	expired(ctx context.Context, p *poller, now time.Time) verdict
	// cancelled is called when ctx ends before or during a pause.
	cancelled(err error)
}

// poller runs one follow loop: a wait for a deployment, a service deployment, or a rollback.
type poller struct {
	clock Clock
	st    *pollStats
	// budget bounds the reads; deadline is when the loop stops reading (an observer may
	// move it); maxInterval caps the phase's interval times the backoff (0: no cap).
	budget      *readBudget
	deadline    time.Time
	maxInterval time.Duration
	// first is the pause before the first read (0: read at once).
	first time.Duration

	phases *phases // nil: no phase spans

	backoff     int // multiplies the interval while throttled (1, 2, 4, ... 32)
	errorsInRow int // failed reads in a row, throttling not counted
	lastRead    time.Time
}

// newPoller returns a poller that reads until deadline within budget.
func (e *Engine) newPoller(st *pollStats, deadline time.Time, budget *readBudget) *poller {
	return &poller{clock: e.clock, st: st, budget: budget, deadline: deadline, backoff: 1}
}

// run reads until the observer says the wait is over, never sleeping past the deadline.
func (p *poller) run(ctx context.Context, o observer) {
	if p.first > 0 {
		if err := p.sleep(ctx, p.first); err != nil {
			o.cancelled(err)
			return
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			o.cancelled(err)
			return
		}
		switch o.observe(ctx, p) {
		case finished:
			return
		case readNow:
			continue
		}
		now := p.clock.Now()
		if !now.Before(p.deadline) {
			if o.expired(ctx, p, now) == finished {
				return
			}
			continue
		}
		d := o.interval(now) * time.Duration(p.backoff)
		if p.maxInterval > 0 && d > p.maxInterval {
			d = p.maxInterval
		}
		d = max(d, p.budget.delay(now))
		if err := p.sleep(ctx, d); err != nil {
			o.cancelled(err)
			return
		}
	}
}

// read records one observation read about to be made at now: its place in the budget and
// the statistics, and the pause since the previous one.
func (p *poller) read(now time.Time) {
	if !p.lastRead.IsZero() && now.Sub(p.lastRead) > p.st.maxInterval {
		p.st.maxInterval = now.Sub(p.lastRead)
	}
	p.lastRead = now
	p.extra(now)
}

// extra records a read that is not an observation (the service events a progressive
// deploy shows): it takes its share of the budget.
func (p *poller) extra(now time.Time) {
	p.st.polls++
	p.budget.spend(now)
}

// outcome takes how an observation read went: throttling (in any of the SDK's attempts)
// doubles the pause, up to 32 times, and its end shrinks it quickly; a failure that is not
// throttling counts toward maxConsecutiveErrors. It reports whether to give up.
func (p *poller) outcome(throttled bool, err error) (giveUp bool) {
	if throttled {
		p.st.throttled++
		if p.backoff < 32 {
			p.backoff *= 2
		}
	} else if p.backoff > 1 {
		p.backoff = max(p.backoff/4, 1) // recover quickly once the throttling stops
	}
	if err == nil {
		p.errorsInRow = 0
		return false
	}
	if !throttled {
		p.errorsInRow++
	}
	return p.errorsInRow >= maxConsecutiveErrors
}

// sleep waits d, or less so as to wake exactly at the deadline.
func (p *poller) sleep(ctx context.Context, d time.Duration) error {
	if left := p.deadline.Sub(p.clock.Now()); left < d {
		d = left
	}
	if d <= 0 {
		return ctx.Err()
	}
	return p.clock.Sleep(ctx, d)
}

// limit bounds one read so that it cannot run far past the deadline (5 s to 1 min).
func (p *poller) limit(now time.Time) time.Duration {
	return min(max(p.deadline.Sub(now), 5*time.Second), time.Minute)
}

// phases shows the phases a follow loop goes through as spans, one after the other under
// the loop's own span: the rollout's phase (tasks starting, health checks, draining) or the
// service deployment's lifecycle stage and traffic step.
type phases struct {
	spans *progress.Tracer
	ctx   context.Context // carries the loop's span
	name  string
	cur   context.Context // carries the current phase's span
	end   func(error)
}

// within is ctx for work done in the current phase (a probe, a stop), so that its span
// nests under the phase: the phase's context when there is one (it derives from the loop's
// context, so it is cancelled with it), else ctx.
func (ph *phases) within(ctx context.Context) context.Context {
	if ph == nil || ph.cur == nil {
		return ctx
	}
	return ph.cur
}

// enter ends the current phase (it went well: the rollout moved on) and opens name, unless
// name is the current phase.
func (ph *phases) enter(name string) { ph.enterAfter(name, nil) }

// enterAfter ends the current phase with err and opens name, unless name is the current
// phase.
func (ph *phases) enterAfter(name string, err error) {
	if ph == nil || name == ph.name {
		return
	}
	ph.close(err)
	ph.name = name
	ph.cur, ph.end = ph.spans.Span(ph.ctx, name)
}

// close ends the current phase with err (the loop's outcome).
func (ph *phases) close(err error) {
	if ph == nil || ph.end == nil {
		return
	}
	ph.end(err)
	ph.end, ph.name, ph.cur = nil, "", nil
}
