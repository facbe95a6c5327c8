package ecs

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go/middleware"
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
}

type waitKind int

const (
	waitCompleted waitKind = iota
	waitFailed             // our deployment FAILED and ECS did not roll back
	waitReplaced           // another task definition is PRIMARY: ECS rolled back
	waitGone               // our deployment disappeared
	waitTimedOut
	waitCancelled
	waitAWSError
)

type waitResult struct {
	kind   waitKind
	reason string
	last   *types.Service    // the last service state read
	ours   *types.Deployment // the last state of our deployment
	err    error
}

// pollStats accumulates over all the waits of one deploy.
type pollStats struct {
	polls, throttled int
	maxInterval      time.Duration
	events           []string
	times            []time.Time
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

// wait polls the service until the deployment in w completes, fails, is replaced, or the
// deadline passes. It never sleeps past the deadline.
func (e *Engine) wait(ctx context.Context, w *waitSpec, st *pollStats) waitResult {
	p := e.poll
	var (
		last        *types.Service
		ours        *types.Deployment
		seenOurs    bool
		failedAt    time.Time
		fastSince   time.Time
		backoff     = 1
		errorsInRow int
		lastPoll    time.Time
		lastLine    string
		lastLineAt  = e.clock.Now() // when the progress last changed
		lastShown   time.Time
	)
	// The update was just made: the first read comes after a short pause.
	if err := e.sleepUntilDeadline(ctx, w, p.Normal); err != nil {
		return waitResult{kind: waitCancelled, last: last, ours: ours, err: err}
	}
	for {
		now := e.clock.Now()
		if !lastPoll.IsZero() && now.Sub(lastPoll) > st.maxInterval {
			st.maxInterval = now.Sub(lastPoll)
		}
		lastPoll = now
		st.polls++
		st.times = append(st.times, now)
		svc, throttled, err := e.poll1(ctx, w)
		if throttled {
			st.throttled++
			if backoff < 32 {
				backoff *= 2
			}
		} else if backoff > 1 {
			backoff /= 4 // recover quickly once the throttling stops
			if backoff < 1 {
				backoff = 1
			}
		}
		waitingForECS := false
		if err != nil {
			if ctx.Err() != nil {
				return waitResult{kind: waitCancelled, last: last, ours: ours, err: ctx.Err()}
			}
			if !throttled {
				errorsInRow++
				if errorsInRow >= maxConsecutiveErrors {
					return waitResult{kind: waitAWSError, last: last, ours: ours, err: err}
				}
			}
			e.logf("%s  describe service failed (will retry): %v", elapsed(now.Sub(w.start)), err)
		} else {
			errorsInRow = 0
			last = svc
			e.showEvents(svc, w, st)
			d := find(svc, w)
			if d != nil {
				seenOurs = true
				ours = d
				if w.deploymentID == "" {
					w.deploymentID = aws.ToString(d.Id)
				}
			}
			if line := progress(svc, d); line != lastLine {
				e.logf("%s  %s", elapsed(now.Sub(w.start)), line)
				lastLine, lastLineAt, lastShown = line, now, now
			} else if now.Sub(lastShown) >= 30*time.Second {
				e.logf("%s  %s", elapsed(now.Sub(w.start)), line)
				lastShown = now
			}
			primary := primaryOf(svc)
			switch {
			case d == nil && !seenOurs && now.Sub(w.start) < p.LagGrace:
				// Read-after-write lag: the update is not visible yet.
			case d == nil && primary != nil && taskDefOf(primary) != w.taskDef:
				return waitResult{kind: waitReplaced, last: svc, ours: ours,
					reason: fmt.Sprintf("deployment %s is gone and the service runs %s", orUnknown(w.deploymentID), shortTaskDef(taskDefOf(primary)))}
			case d == nil:
				return waitResult{kind: waitGone, last: svc, ours: ours,
					reason: fmt.Sprintf("deployment %s of %s disappeared from the service", orUnknown(w.deploymentID), shortTaskDef(w.taskDef))}
			case aws.ToString(d.Status) != "PRIMARY" && primary != nil:
				return waitResult{kind: waitReplaced, last: svc, ours: d,
					reason: fmt.Sprintf("deployment %s was replaced: the PRIMARY deployment %s runs %s", idOf(d), idOf(primary), shortTaskDef(taskDefOf(primary)))}
			case d.RolloutState == types.DeploymentRolloutStateFailed:
				if failedAt.IsZero() {
					failedAt = now
				}
				if !w.breakerRollback || now.Sub(failedAt) >= ecsRollbackGrace {
					return waitResult{kind: waitFailed, last: svc, ours: d, reason: aws.ToString(d.RolloutStateReason)}
				}
				waitingForECS = true
			case done(svc, d):
				return waitResult{kind: waitCompleted, last: svc, ours: d}
			}
		}

		now = e.clock.Now()
		if !now.Before(w.deadline) {
			return waitResult{kind: waitTimedOut, last: last, ours: ours,
				reason: fmt.Sprintf("deployment %s of %s did not complete within %s", orUnknown(w.deploymentID), shortTaskDef(w.taskDef), w.deadline.Sub(w.start).Round(time.Second))}
		}
		// Choose the next interval: fast near the end, slower before, longer when throttled,
		// and never more than PerMinute polls in any minute.
		interval := p.Slow
		switch {
		case ours != nil && ours.DesiredCount > 0 && ours.RunningCount >= ours.DesiredCount:
			// Every new task runs: ECS completes the deployment once the old tasks have
			// drained, so the end is near.
			if fastSince.IsZero() {
				fastSince = now
			}
			interval = p.Fast
			if now.Sub(fastSince) >= p.FastFor {
				interval = p.Normal
			}
		case waitingForECS, !seenOurs:
			fastSince = time.Time{}
			interval = p.Normal
		default:
			fastSince = time.Time{}
			if now.Sub(lastLineAt) >= time.Minute {
				interval = p.Idle // nothing has changed for a minute: a hung rollout
			}
		}
		interval *= time.Duration(backoff)
		if interval > p.Max {
			interval = p.Max
		}
		if n := len(st.times); n >= p.PerMinute {
			if earliest := st.times[n-p.PerMinute].Add(time.Minute); earliest.Sub(now) > interval {
				interval = earliest.Sub(now)
			}
		}
		if err := e.sleepUntilDeadline(ctx, w, interval); err != nil {
			return waitResult{kind: waitCancelled, last: last, ours: ours, err: err}
		}
	}
}

// sleepUntilDeadline sleeps d, or less so as to wake exactly at the deadline.
func (e *Engine) sleepUntilDeadline(ctx context.Context, w *waitSpec, d time.Duration) error {
	if left := w.deadline.Sub(e.clock.Now()); left < d {
		d = left
	}
	if d <= 0 {
		return ctx.Err()
	}
	return e.clock.Sleep(ctx, d)
}

// poll1 is one DescribeServices, bounded so that it cannot run far past the deadline. It
// reports whether any attempt (the SDK retries) was throttled.
func (e *Engine) poll1(ctx context.Context, w *waitSpec) (*types.Service, bool, error) {
	limit := w.deadline.Sub(e.clock.Now())
	if limit < 5*time.Second {
		limit = 5 * time.Second
	}
	if limit > time.Minute {
		limit = time.Minute
	}
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	// The poll loop is itself a retry loop with its own backoff, so a poll gives up after a
	// few SDK attempts instead of hammering a throttled API.
	out, err := e.ecs.DescribeServices(cctx, &awsecs.DescribeServicesInput{Cluster: aws.String(w.cluster), Services: []string{w.service}},
		func(o *awsecs.Options) { o.RetryMaxAttempts = pollAttempts })
	if err != nil {
		return nil, isThrottle(err), fmt.Errorf("describe service %s: %w", w.service, err)
	}
	svc, err := serviceFrom(out, w.cluster, w.service)
	return svc, throttledAttempts(out.ResultMetadata), err
}

var throttleCheck = retry.IsErrorThrottles(retry.DefaultThrottles)

func isThrottle(err error) bool {
	return err != nil && throttleCheck.IsErrorThrottle(err) == aws.TrueTernary
}

func throttledAttempts(md middleware.Metadata) bool {
	res, ok := retry.GetAttemptResults(md)
	if !ok {
		return false
	}
	for _, a := range res.Results {
		if isThrottle(a.Err) {
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

func progress(svc *types.Service, ours *types.Deployment) string {
	if ours == nil {
		return fmt.Sprintf("waiting for the new deployment to appear (service running %d/%d)", svc.RunningCount, svc.DesiredCount)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: running %d/%d, pending %d", shortTaskDef(aws.ToString(ours.TaskDefinition)), orUnknown(string(ours.RolloutState)),
		ours.RunningCount, ours.DesiredCount, ours.PendingCount)
	if ours.FailedTasks > 0 {
		fmt.Fprintf(&b, ", failed %d", ours.FailedTasks)
	}
	for _, d := range svc.Deployments {
		if aws.ToString(d.Id) != aws.ToString(ours.Id) {
			fmt.Fprintf(&b, "; %s %s %s: running %d", strings.ToLower(aws.ToString(d.Status)), shortTaskDef(aws.ToString(d.TaskDefinition)), orUnknown(string(d.RolloutState)), d.RunningCount)
		}
	}
	return b.String()
}

func elapsed(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("[%dm%02ds]", int(d.Minutes()), int(d.Seconds())%60)
}

// explain gathers why a deployment failed: the rollout state reason, the stopped tasks of
// its task definition with their reasons and exit codes, and the last events.
func (e *Engine) explain(ctx context.Context, rq *run, wr waitResult, st *pollStats, target string) (string, []StoppedTask) {
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
	stopped, err := e.stoppedTasks(ctx, rq.cluster, rq.service, target)
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

// stoppedTasks lists the service's stopped tasks that ran taskDef, newest first (at most
// ten), with a fresh context so that it works after a cancellation too.
func (e *Engine) stoppedTasks(ctx context.Context, cluster, service, taskDef string) ([]StoppedTask, error) {
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
		if aws.ToString(t.TaskDefinitionArn) != taskDef {
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
