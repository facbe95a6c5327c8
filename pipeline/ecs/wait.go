package ecs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go/middleware"
	"go.opentelemetry.io/otel/attribute"

	"dagger/fargate/pipeline/awsconf"
	"dagger/fargate/pipeline/taskdef"
)

// waitSpec is one deployment to follow.
type waitSpec struct {
	cluster, service string
	taskDef          string // the task definition the deployment runs
	deploymentID     string // "" until known (then adopted from DescribeServices)
	deadline         time.Time
	start            time.Time
	seen             map[string]bool // service event IDs already shown
	breakerRollback  bool            // ECS rolls back by itself when the deployment fails
	// before are the deployment IDs the service had before our update and previousTaskDef
	// the PRIMARY one's task definition. With them set (the wait that follows our own
	// update), a deployment that is neither ours nor one of these, nor ECS rolling ours
	// back, is a concurrent deploy.
	before          map[string]bool
	previousTaskDef string
	// drainHint is how long, in the service's history, the end came after the old tasks
	// began draining (0: unknown).
	drainHint time.Duration
}

type waitKind int

const (
	waitCompleted  waitKind = iota
	waitFailed              // our deployment FAILED and ECS did not roll back
	waitReplaced            // ECS rolled our deployment back (circuit breaker, alarms)
	waitGone                // our deployment disappeared
	waitSuperseded          // our deployment COMPLETED, then another one replaced it
	waitConcurrent          // another client's deployment appeared alongside ours
	waitUnseen              // the deadline passed and our deployment was never visible
	waitTimedOut
	waitCancelled
	waitAWSError
)

type waitResult struct {
	kind   waitKind
	reason string
	last   *types.Service    // the last service state read
	ours   *types.Deployment // the last state of our deployment
	other  *types.Deployment // the deployment that superseded ours or runs alongside it
	err    error
}

// pollStats accumulates over all the waits of one deploy.
type pollStats struct {
	polls, throttled int
	maxInterval      time.Duration
	events           []string
}

func (s *pollStats) lastEvents(n int) []string {
	if len(s.events) > n {
		return append([]string(nil), s.events[len(s.events)-n:]...)
	}
	return append([]string(nil), s.events...)
}

// pollAttempts is how many attempts the SDK makes for one poll.
const pollAttempts = 3

// maxConsecutiveErrors is how many polls in a row may fail (after the SDK's own retries)
// before the engine gives up following the deployment.
const maxConsecutiveErrors = 5

// ecsRollbackGrace is how long a FAILED deployment may stay PRIMARY before the engine stops
// expecting ECS's circuit breaker to roll it back.
const ecsRollbackGrace = 30 * time.Second

// freeReads is how many reads of a wait do not count against Polling.PerMinute, so that the
// update is confirmed at once.
const freeReads = 3

// idleAfter is how long nothing must change while tasks start before the engine reads at
// Polling.Idle.
const idleAfter = 3 * time.Minute

// drainMargin is how long before the end predicted from a drain the engine polls tightly.
const drainMargin = 5 * time.Second

// follow polls the service until the deployment in w completes, fails, is replaced, or the
// deadline passes, in a span named name with one child span per rollout phase. It never
// sleeps past the deadline.
func (e *Engine) follow(ctx context.Context, name string, w *waitSpec, st *pollStats) waitResult {
	ctx, end := e.spans.Span(ctx, name, attribute.String("ecs.task_definition", taskdef.ShortName(w.taskDef)),
		attribute.String("ecs.deployment", w.deploymentID), attribute.String("timeout", w.deadline.Sub(w.start).String()))
	pl := e.newPoller(st, w.deadline, averageBudget(w.start, w.deadline, e.poll.PerMinute, freeReads))
	// The update was just made: the first read comes after a short pause and confirms it.
	pl.first, pl.maxInterval = e.poll.Confirm, e.poll.Max
	pl.phases = &phases{spans: e.spans, ctx: ctx}
	pl.phases.enter("confirm the update")
	o := &rollingObserver{e: e, w: w, st: st, lastLineAt: e.clock.Now()}
	pl.run(ctx, o)
	err := o.result.spanErr()
	pl.phases.close(err)
	end(err)
	return o.result
}

// spanErr is the error a wait's span ends with: nil when our deployment completed.
func (r waitResult) spanErr() error {
	if r.kind == waitCompleted || r.kind == waitSuperseded {
		return nil
	}
	msg := r.kind.String()
	switch {
	case r.reason != "":
		msg += ": " + r.reason
	case r.err != nil:
		msg += ": " + r.err.Error()
	}
	return errors.New(msg)
}

func (k waitKind) String() string {
	switch k {
	case waitCompleted:
		return "completed"
	case waitFailed:
		return "failed"
	case waitReplaced:
		return "replaced"
	case waitGone:
		return "gone"
	case waitSuperseded:
		return "superseded"
	case waitConcurrent:
		return "concurrent deploy"
	case waitUnseen:
		return "never visible"
	case waitTimedOut:
		return "timed out"
	case waitCancelled:
		return "cancelled"
	case waitAWSError:
		return "AWS error"
	}
	return fmt.Sprintf("wait(%d)", int(k))
}

// phase names the rollout's phase for its span.
func (o *rollingObserver) phase() string {
	ours, svc := o.ours, o.last
	switch {
	case o.waitingForECS:
		return "waiting for ECS to roll back"
	case !o.seenOurs || svc == nil || ours == nil:
		return "waiting for the deployment to appear"
	case ours.RunningCount < ours.DesiredCount || ours.DesiredCount == 0:
		return "tasks starting"
	}
	var oldRunning, oldDesired int32
	for _, d := range svc.Deployments {
		if aws.ToString(d.Id) != aws.ToString(ours.Id) {
			oldRunning += d.RunningCount
			oldDesired += d.DesiredCount
		}
	}
	switch {
	case oldDesired > 0:
		return "health checks"
	case oldRunning > 0:
		return "old tasks draining"
	}
	return "completing"
}

// rollingObserver follows one deployment through DescribeServices: it shows the events and
// the progress, judges each read (judge) and picks the pause from the rollout's phase
// (interval).
type rollingObserver struct {
	e  *Engine
	w  *waitSpec
	st *pollStats

	last          *types.Service
	ours          *types.Deployment
	seenOurs      bool
	oursCompleted bool
	failedAt      time.Time
	waitingForECS bool
	lastLine      string
	lastLineAt    time.Time // when the progress last changed
	lastShown     time.Time
	lagLogged     bool

	result waitResult
}

func (o *rollingObserver) end(r waitResult) verdict {
	o.result = r
	return finished
}

func (o *rollingObserver) cancelled(err error) {
	o.result = waitResult{kind: waitCancelled, last: o.last, ours: o.ours, err: err}
}

func (o *rollingObserver) observe(ctx context.Context, p *poller) verdict {
	e, w := o.e, o.w
	now := e.clock.Now()
	p.read(now)
	svc, throttled, err := e.poll1(ctx, w, p.limit(now))
	giveUp := p.outcome(throttled, err)
	o.waitingForECS = false
	if err != nil {
		if ctx.Err() != nil {
			return o.end(waitResult{kind: waitCancelled, last: o.last, ours: o.ours, err: ctx.Err()})
		}
		if giveUp {
			return o.end(waitResult{kind: waitAWSError, last: o.last, ours: o.ours, err: err})
		}
		e.logf("%s  describe service failed (will retry): %v", elapsed(now.Sub(w.start)), err)
		return keepGoing
	}
	o.last = svc
	e.showEvents(svc, w, o.st)
	d := find(svc, w)
	if d != nil {
		o.seenOurs = true
		o.ours = d
		if w.deploymentID == "" {
			w.deploymentID = aws.ToString(d.Id)
		}
		if d.RolloutState == types.DeploymentRolloutStateCompleted {
			o.oursCompleted = true
		}
	}
	if line := progressLine(svc, d); line != o.lastLine {
		e.logf("%s  %s", elapsed(now.Sub(w.start)), line)
		o.lastLine, o.lastLineAt, o.lastShown = line, now, now
	} else if now.Sub(o.lastShown) >= 30*time.Second {
		e.logf("%s  %s", elapsed(now.Sub(w.start)), line)
		o.lastShown = now
	}
	if r, end := e.judge(svc, d, w, now, o.seenOurs, o.oursCompleted, &o.failedAt, &o.waitingForECS); end {
		r.last = svc
		if r.ours == nil {
			r.ours = o.ours
		}
		return o.end(r)
	}
	p.phases.enter(o.phase())
	if d == nil && !o.seenOurs && !o.lagLogged && now.Sub(w.start) >= e.poll.LagGrace {
		e.logf("%s  deployment %s of %s is still not visible (read-after-write lag); reading on until the timeout",
			elapsed(now.Sub(w.start)), orUnknown(w.deploymentID), taskdef.ShortName(w.taskDef))
		o.lagLogged = true
	}
	return keepGoing
}

func (o *rollingObserver) expired(_ context.Context, _ *poller, _ time.Time) verdict {
	w := o.w
	if !o.seenOurs {
		return o.end(waitResult{kind: waitUnseen, last: o.last,
			reason: fmt.Sprintf("deployment %s of %s was never visible in DescribeServices within %s", orUnknown(w.deploymentID), taskdef.ShortName(w.taskDef), w.deadline.Sub(w.start).Round(time.Second))})
	}
	return o.end(waitResult{kind: waitTimedOut, last: o.last, ours: o.ours,
		reason: fmt.Sprintf("deployment %s of %s did not complete within %s", orUnknown(w.deploymentID), taskdef.ShortName(w.taskDef), w.deadline.Sub(w.start).Round(time.Second))})
}

func (o *rollingObserver) interval(now time.Time) time.Duration {
	return o.e.interval(now, o.last, o.ours, o.w, o.seenOurs, o.waitingForECS, o.lastLineAt)
}

// judge decides from one read whether the wait is over. It decides from deployment IDs and
// task definitions, never from a deployment's mere absence.
func (e *Engine) judge(svc *types.Service, d *types.Deployment, w *waitSpec, now time.Time, seenOurs, oursCompleted bool, failedAt *time.Time, waitingForECS *bool) (waitResult, bool) {
	primary := primaryOf(svc)
	foreign := e.foreign(svc, w)
	switch {
	case d == nil && !seenOurs:
		// Not visible yet. While the service reads as it was before the update, that is
		// read-after-write lag; a PRIMARY deployment that is neither ours nor the one from
		// before the update is someone else's.
		if w.before != nil && w.deploymentID != "" && primary != nil && !w.before[idOf(primary)] && idOf(primary) != w.deploymentID {
			return waitResult{kind: waitConcurrent, other: primary,
				reason: fmt.Sprintf("deployment %s of %s became PRIMARY; ours (%s of %s) was never seen", idOf(primary), taskdef.ShortName(taskDefOf(primary)), w.deploymentID, taskdef.ShortName(w.taskDef))}, true
		}
		return waitResult{}, false
	case d == nil:
		// Ours was seen and is gone: it completed and was replaced, ECS rolled it back, or
		// someone else replaced it.
		if oursCompleted || completedEvent(svc, w.deploymentID) {
			return waitResult{kind: waitSuperseded, other: primary}, true
		}
		if rollingBackFrom(svc, w, primary) || (!failedAt.IsZero() && primary != nil && taskDefOf(primary) == w.previousTaskDef) {
			return waitResult{kind: waitReplaced, reason: fmt.Sprintf("deployment %s is gone and ECS rolled the service back to %s", orUnknown(w.deploymentID), taskdef.ShortName(taskDefOf(primary)))}, true
		}
		if primary != nil && foreign != nil {
			return waitResult{kind: waitConcurrent, other: primary,
				reason: fmt.Sprintf("deployment %s of %s replaced ours (%s of %s) while it rolled out", idOf(primary), taskdef.ShortName(taskDefOf(primary)), w.deploymentID, taskdef.ShortName(w.taskDef))}, true
		}
		if primary != nil && taskDefOf(primary) != w.taskDef {
			return waitResult{kind: waitReplaced, reason: fmt.Sprintf("deployment %s is gone and the service runs %s", orUnknown(w.deploymentID), taskdef.ShortName(taskDefOf(primary)))}, true
		}
		return waitResult{kind: waitGone, reason: fmt.Sprintf("deployment %s of %s disappeared from the service", orUnknown(w.deploymentID), taskdef.ShortName(w.taskDef))}, true
	case aws.ToString(d.Status) != "PRIMARY" && primary != nil:
		switch {
		case d.RolloutState == types.DeploymentRolloutStateCompleted || oursCompleted:
			return waitResult{kind: waitSuperseded, ours: d, other: primary}, true
		case d.RolloutState == types.DeploymentRolloutStateFailed || rollingBackFrom(svc, w, primary):
			return waitResult{kind: waitReplaced, ours: d,
				reason: fmt.Sprintf("deployment %s failed and ECS is rolling back: the PRIMARY deployment %s runs %s", idOf(d), idOf(primary), taskdef.ShortName(taskDefOf(primary)))}, true
		case foreign != nil:
			return waitResult{kind: waitConcurrent, ours: d, other: primary,
				reason: fmt.Sprintf("deployment %s of %s replaced ours (%s of %s) while it rolled out", idOf(primary), taskdef.ShortName(taskDefOf(primary)), idOf(d), taskdef.ShortName(w.taskDef))}, true
		}
		return waitResult{kind: waitReplaced, ours: d,
			reason: fmt.Sprintf("deployment %s was replaced: the PRIMARY deployment %s runs %s", idOf(d), idOf(primary), taskdef.ShortName(taskDefOf(primary)))}, true
	case foreign != nil:
		// Ours is PRIMARY, and another deployment that was not there before our update sits
		// behind it: another client updated the service in the same moment, before us.
		return waitResult{kind: waitConcurrent, ours: d, other: foreign,
			reason: fmt.Sprintf("deployment %s of %s was started alongside ours (%s of %s)", idOf(foreign), taskdef.ShortName(taskDefOf(foreign)), idOf(d), taskdef.ShortName(w.taskDef))}, true
	case d.RolloutState == types.DeploymentRolloutStateFailed:
		if failedAt.IsZero() {
			*failedAt = now
		}
		if !w.breakerRollback || now.Sub(*failedAt) >= ecsRollbackGrace {
			return waitResult{kind: waitFailed, ours: d, reason: aws.ToString(d.RolloutStateReason)}, true
		}
		*waitingForECS = true
	case done(svc, d):
		return waitResult{kind: waitCompleted, ours: d}, true
	}
	return waitResult{}, false
}

// foreign returns a deployment that is neither ours, nor one the service had before our
// update, nor ECS rolling ours back (nil when w has no "before" set).
func (e *Engine) foreign(svc *types.Service, w *waitSpec) *types.Deployment {
	if w.before == nil {
		return nil
	}
	for i := range svc.Deployments {
		d := &svc.Deployments[i]
		id := aws.ToString(d.Id)
		if w.before[id] || id == w.deploymentID || (w.deploymentID == "" && aws.ToString(d.TaskDefinition) == w.taskDef) {
			continue
		}
		if rollingBackFrom(svc, w, d) {
			continue
		}
		return d
	}
	return nil
}

// rollingBackFrom: d is ECS rolling our deployment back, by its events ("rolling back to
// deployment <d>") or by our deployment having FAILED with d on the previous task
// definition.
func rollingBackFrom(svc *types.Service, w *waitSpec, d *types.Deployment) bool {
	if d == nil {
		return false
	}
	for _, ev := range svc.Events {
		if strings.Contains(aws.ToString(ev.Message), "rolling back to deployment "+idOf(d)) {
			return true
		}
	}
	if w.previousTaskDef == "" || taskDefOf(d) != w.previousTaskDef {
		return w.before == nil && taskDefOf(d) != w.taskDef
	}
	for _, o := range svc.Deployments {
		if aws.ToString(o.Id) == w.deploymentID && o.RolloutState == types.DeploymentRolloutStateFailed {
			return true
		}
	}
	return false
}

// completedEvent: the service events say deployment id completed.
func completedEvent(svc *types.Service, id string) bool {
	if id == "" {
		return false
	}
	for _, ev := range svc.Events {
		m := aws.ToString(ev.Message)
		if strings.Contains(m, id) && strings.Contains(m, "deployment completed") {
			return true
		}
	}
	return false
}

// interval chooses the pause before the next read from the rollout's phase.
func (e *Engine) interval(now time.Time, svc *types.Service, ours *types.Deployment, w *waitSpec, seenOurs, waitingForECS bool, lastLineAt time.Time) time.Duration {
	p := e.poll
	switch {
	case waitingForECS || !seenOurs || svc == nil || ours == nil:
		return p.Normal
	case ours.RunningCount < ours.DesiredCount || ours.DesiredCount == 0:
		// The new tasks are being provisioned and start: nothing can finish.
		if now.Sub(lastLineAt) >= idleAfter {
			return p.Idle
		}
		return p.Slow
	}
	// Every new task runs. The end comes once the old tasks are gone.
	var oldRunning, oldDesired int32
	var drainSince time.Time
	for _, d := range svc.Deployments {
		if aws.ToString(d.Id) == aws.ToString(ours.Id) {
			continue
		}
		oldRunning += d.RunningCount
		oldDesired += d.DesiredCount
		if d.DesiredCount == 0 && d.RunningCount > 0 {
			if t := aws.ToTime(d.UpdatedAt); t.After(drainSince) {
				drainSince = t
			}
		}
	}
	switch {
	case oldRunning == 0:
		return p.Fast
	case oldDesired > 0:
		// Health checks: the old tasks still serve. The end is at least their drain and stop
		// away: drainHint when the history says; behind a load balancer, at least a
		// deregistration delay, so a read at the budget's own pace (60 s / PerMinute) sees
		// the drain begin in time. Without one, old tasks only need to stop.
		switch {
		case w.drainHint > p.Normal+drainMargin:
			return p.Normal
		case len(svc.LoadBalancers) > 0:
			return max(time.Minute/time.Duration(p.PerMinute), p.Fast)
		}
		return p.Fast
	case w.drainHint <= 0:
		return p.Fast
	}
	// Draining: the end is expected drainHint after it began.
	if drainSince.IsZero() || drainSince.After(now) {
		drainSince = now
	}
	if until := drainSince.Add(w.drainHint - drainMargin).Sub(now); until > p.Fast {
		// Not sooner than that, but a drain may end early (no connections left to drain, or
		// a shorter deregistration delay than last time): look again at the normal interval.
		return min(until, p.Normal)
	}
	return p.Fast
}

// drainHint reads, in the service's events from before the update, how long the end of the
// last rollout came after its old tasks began draining ("has begun draining connections"
// to "deployment completed" or "has reached a steady state"); 0 when they do not say.
func drainHint(svc *types.Service) time.Duration {
	evs := svc.Events // newest first
	for i := range evs {
		if !strings.Contains(aws.ToString(evs[i].Message), "has begun draining connections") {
			continue
		}
		began := aws.ToTime(evs[i].CreatedAt)
		for j := i - 1; j >= 0; j-- {
			m := aws.ToString(evs[j].Message)
			if strings.Contains(m, "deployment completed") || strings.Contains(m, "has reached a steady state") {
				if at := aws.ToTime(evs[j].CreatedAt); !at.Before(began) {
					return at.Sub(began)
				}
			}
		}
		return 0
	}
	return 0
}

// poll1 is one DescribeServices of w's service, bounded by limit (poller.limit: it cannot
// run far past the deadline). It reports whether any attempt (the SDK retries) was
// throttled.
func (e *Engine) poll1(ctx context.Context, w *waitSpec, limit time.Duration) (*types.Service, bool, error) {
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	// The poll loop is itself a retry loop with its own backoff, so a poll gives up after a
	// few SDK attempts instead of hammering a throttled API.
	out, err := e.ecs.DescribeServices(cctx, &awsecs.DescribeServicesInput{Cluster: aws.String(w.cluster), Services: []string{w.service}},
		func(o *awsecs.Options) { o.RetryMaxAttempts = pollAttempts })
	if err != nil {
		return nil, awsconf.IsThrottle(err), fmt.Errorf("describe service %s: %w", w.service, err)
	}
	svc, err := serviceFrom(out, w.cluster, w.service)
	return svc, throttledAttempts(out.ResultMetadata), err
}

func throttledAttempts(md middleware.Metadata) bool {
	res, ok := retry.GetAttemptResults(md)
	if !ok {
		return false
	}
	for _, a := range res.Results {
		if awsconf.IsThrottle(a.Err) {
			return true
		}
	}
	return false
}

// find returns our deployment: by ID once known, else the PRIMARY one on our task definition.
func find(svc *types.Service, w *waitSpec) *types.Deployment {
	for i := range svc.Deployments {
		d := &svc.Deployments[i]
		if w.deploymentID != "" {
			if aws.ToString(d.Id) == w.deploymentID {
				return d
			}
			continue
		}
		if aws.ToString(d.TaskDefinition) == w.taskDef && aws.ToString(d.Status) == "PRIMARY" {
			return d
		}
	}
	return nil
}

// done: our deployment COMPLETED, alone, with every desired task running.
func done(svc *types.Service, d *types.Deployment) bool {
	if len(svc.Deployments) != 1 || aws.ToString(d.Status) != "PRIMARY" {
		return false
	}
	if d.RolloutState != "" && d.RolloutState != types.DeploymentRolloutStateCompleted {
		return false
	}
	return d.RunningCount == d.DesiredCount && svc.RunningCount == svc.DesiredCount && d.PendingCount == 0
}

// showEvents logs the service events not shown yet, oldest first.
func (e *Engine) showEvents(svc *types.Service, w *waitSpec, st *pollStats) {
	for i := len(svc.Events) - 1; i >= 0; i-- {
		ev := svc.Events[i]
		id := aws.ToString(ev.Id)
		if w.seen[id] {
			continue
		}
		w.seen[id] = true
		line := fmt.Sprintf("%s %s", aws.ToTime(ev.CreatedAt).UTC().Format("15:04:05"), aws.ToString(ev.Message))
		st.events = append(st.events, line)
		e.logf("event: %s", line)
	}
}

func progressLine(svc *types.Service, ours *types.Deployment) string {
	if ours == nil {
		return fmt.Sprintf("waiting for the new deployment to appear (service running %d/%d)", svc.RunningCount, svc.DesiredCount)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: running %d/%d, pending %d", taskdef.ShortName(aws.ToString(ours.TaskDefinition)), orUnknown(string(ours.RolloutState)),
		ours.RunningCount, ours.DesiredCount, ours.PendingCount)
	if ours.FailedTasks > 0 {
		fmt.Fprintf(&b, ", failed %d", ours.FailedTasks)
	}
	for _, d := range svc.Deployments {
		if aws.ToString(d.Id) != aws.ToString(ours.Id) {
			fmt.Fprintf(&b, "; %s %s %s: running %d", strings.ToLower(aws.ToString(d.Status)), taskdef.ShortName(aws.ToString(d.TaskDefinition)), orUnknown(string(d.RolloutState)), d.RunningCount)
		}
	}
	return b.String()
}

// elapsed is the time since the update, as a progress line starts with it: "+2s", "+1m05s".
// (Not "[0m02s]": in a terminal that reads like a broken colour code.)
func elapsed(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("+%ds", int(d.Seconds()))
	}
	return fmt.Sprintf("+%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// explain gathers why a deployment failed: the rollout state reason, the stopped tasks of
// its task definition with their reasons and exit codes, and the last events.
func (e *Engine) explain(ctx context.Context, rq *run, wr waitResult, st *pollStats, target, deploymentID string) (string, []StoppedTask) {
	var parts []string
	if wr.ours != nil && wr.ours.RolloutState == types.DeploymentRolloutStateFailed && aws.ToString(wr.ours.RolloutStateReason) != "" {
		parts = append(parts, aws.ToString(wr.ours.RolloutStateReason))
	}
	switch wr.kind {
	case waitTimedOut:
		s := wr.reason
		if wr.ours != nil {
			s += fmt.Sprintf(" (%s: running %d/%d, pending %d, failed %d)", orUnknown(string(wr.ours.RolloutState)),
				wr.ours.RunningCount, wr.ours.DesiredCount, wr.ours.PendingCount, wr.ours.FailedTasks)
		}
		parts = append(parts, s)
	case waitReplaced, waitGone:
		parts = append(parts, wr.reason)
	}
	stopped, err := e.stoppedTasks(ctx, rq.cluster, rq.service, target, deploymentID)
	switch {
	case err != nil:
		parts = append(parts, "stopped tasks unknown: "+err.Error())
	case len(stopped) > 0:
		uniq := map[string]int{}
		var order []string
		for _, t := range stopped {
			s := t.String()
			key := s[strings.Index(s, " stopped:"):]
			if uniq[key] == 0 {
				order = append(order, s)
			}
			uniq[key]++
		}
		for _, s := range order {
			key := s[strings.Index(s, " stopped:"):]
			if n := uniq[key]; n > 1 {
				s += fmt.Sprintf(" (and %d more tasks alike)", n-1)
			}
			parts = append(parts, s)
		}
	}
	if evs := st.lastEvents(3); len(stopped) == 0 && len(evs) > 0 {
		parts = append(parts, "last events: "+strings.Join(evs, " | "))
	}
	return strings.Join(parts, "; "), stopped
}

// stoppedTasks lists the failed tasks of our deployment, newest first (at most ten): tasks
// it started (startedBy is its ID, when known) on taskDef, not those the scheduler stopped
// by scaling in, which is how an old deployment's tasks end in a normal rollout. It uses a
// fresh context so that it works after a cancellation too.
func (e *Engine) stoppedTasks(ctx context.Context, cluster, service, taskDef, deploymentID string) ([]StoppedTask, error) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	list, err := e.ecs.ListTasks(fctx, &awsecs.ListTasksInput{
		Cluster: aws.String(cluster), ServiceName: aws.String(service), DesiredStatus: types.DesiredStatusStopped,
	})
	if err != nil {
		return nil, fmt.Errorf("list stopped tasks: %w", err)
	}
	if len(list.TaskArns) == 0 {
		return nil, nil
	}
	arns := list.TaskArns
	if len(arns) > 100 {
		arns = arns[:100]
	}
	out, err := e.ecs.DescribeTasks(fctx, &awsecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: arns})
	if err != nil {
		return nil, fmt.Errorf("describe stopped tasks: %w", err)
	}
	tasks := out.Tasks
	sort.SliceStable(tasks, func(i, j int) bool { return aws.ToTime(tasks[i].StoppedAt).After(aws.ToTime(tasks[j].StoppedAt)) })
	var res []StoppedTask
	for _, t := range tasks {
		if aws.ToString(t.TaskDefinitionArn) != taskDef || (deploymentID != "" && aws.ToString(t.StartedBy) != deploymentID) ||
			strings.HasPrefix(aws.ToString(t.StoppedReason), "Scaling activity initiated by") {
			continue
		}
		st := StoppedTask{TaskArn: aws.ToString(t.TaskArn), TaskDefinition: aws.ToString(t.TaskDefinitionArn),
			StoppedReason: aws.ToString(t.StoppedReason), StopCode: string(t.StopCode)}
		for _, c := range t.Containers {
			if c.ExitCode == nil && aws.ToString(c.Reason) == "" {
				continue
			}
			st.Containers = append(st.Containers, ContainerExit{Name: aws.ToString(c.Name), ExitCode: c.ExitCode, Reason: aws.ToString(c.Reason)})
		}
		res = append(res, st)
		if len(res) == 10 {
			break
		}
	}
	return res, nil
}
