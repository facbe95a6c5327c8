package ecs

// Progressive delivery: ECS-native blue/green, canary and linear deployments (and rolling
// ones guarded by CloudWatch alarms). The engine sets the strategy on UpdateService, then
// follows *its* service deployment with DescribeServiceDeployments: each lifecycle stage
// with the time it was seen, the traffic split as it moves, and the truth at the end —
// completed, rolled back by an alarm (which, when, at what traffic share), by the circuit
// breaker, by the pipeline (failed test probe, timeout), or stopped. Where the service
// deployment API is not available it falls back to the DescribeServices wait.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"go.opentelemetry.io/otel/attribute"

	"dagger/fargate/pipeline/awsconf"
	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/taskdef"
)

// Delivery is how a deploy moves traffic to the new revision.
type Delivery struct {
	// Strategy is ROLLING, BLUE_GREEN, CANARY or LINEAR.
	Strategy types.DeploymentStrategy
	// BakeTime is how long both revisions stay up after all production traffic moved
	// (whole minutes; traffic-shifting strategies).
	BakeTime time.Duration
	// CanaryPercent and CanaryBakeTime configure CANARY.
	CanaryPercent  float64
	CanaryBakeTime time.Duration
	// LinearPercent and LinearInterval configure LINEAR.
	LinearPercent  float64
	LinearInterval time.Duration
	// Alarms fail the deployment when any is in ALARM; AlarmRollback makes ECS roll back then.
	Alarms        []string
	AlarmRollback bool
	// LoadBalancer is the blue/green wiring (required for every strategy but ROLLING).
	LoadBalancer *BlueGreen
	// TestProbe, for BLUE_GREEN, checks the new revision through the test listener while the
	// deployment holds (a PAUSE lifecycle hook at POST_TEST_TRAFFIC_SHIFT); an error stops
	// the service deployment with rollback before any production traffic moves.
	TestProbe func(ctx context.Context) error
	// TestProbeHold is how long ECS holds the test-traffic stage for the probe before it
	// rolls back by itself (whole minutes, default 10m).
	TestProbeHold time.Duration
}

// BlueGreen is the load balancer's advanced configuration for traffic-shifting strategies.
type BlueGreen struct {
	// TargetGroupArn picks the service's load balancer entry; empty takes the only one.
	TargetGroupArn          string
	AlternateTargetGroupArn string
	ProductionListenerRule  string
	TestListenerRule        string
	RoleArn                 string
}

// DeliveryAPI is the part of the ECS client that follows service deployments. *ecs.Client
// satisfies it; an API that does not falls back to the DescribeServices wait.
type DeliveryAPI interface {
	ListServiceDeployments(ctx context.Context, in *awsecs.ListServiceDeploymentsInput, optFns ...func(*awsecs.Options)) (*awsecs.ListServiceDeploymentsOutput, error)
	DescribeServiceDeployments(ctx context.Context, in *awsecs.DescribeServiceDeploymentsInput, optFns ...func(*awsecs.Options)) (*awsecs.DescribeServiceDeploymentsOutput, error)
	StopServiceDeployment(ctx context.Context, in *awsecs.StopServiceDeploymentInput, optFns ...func(*awsecs.Options)) (*awsecs.StopServiceDeploymentOutput, error)
	ContinueServiceDeployment(ctx context.Context, in *awsecs.ContinueServiceDeploymentInput, optFns ...func(*awsecs.Options)) (*awsecs.ContinueServiceDeploymentOutput, error)
}

// DeliveryReport is what the deploy saw of its service deployment.
type DeliveryReport struct {
	Strategy string
	// Plan says what the strategy does, e.g. "10% for 5m, then 100%; bake 5m; alarms a, b (rollback)".
	Plan                 string
	ServiceDeploymentArn string
	// Status is the service deployment's last status (SUCCESSFUL, ROLLBACK_SUCCESSFUL, ...).
	Status string
	// Stages are the lifecycle stages and traffic splits in the order seen.
	Stages []Stage
	// ProductionPercent is the share of production traffic the new revision had last.
	ProductionPercent float64
	// RollbackAlarms are the alarms that triggered a rollback (or a stop); RollbackAt is when
	// the rollback was seen to start and RollbackPercent the new revision's production share
	// just before it.
	RollbackAlarms  []string
	RollbackAt      time.Time
	RollbackPercent float64
	// RolledBackBy is alarm, circuit-breaker, test-probe, timeout, ecs, or "".
	RolledBackBy string
	// Probe is the test probe's result ("" when none ran).
	Probe string
	// FellBack is set when the service deployment API was unavailable and the engine
	// followed the deployment through DescribeServices only.
	FellBack string
}

// Stage is one lifecycle stage (or traffic step) as seen.
type Stage struct {
	Name              string
	At                time.Time
	ProductionPercent float64
	TestPercent       float64
}

func (d *Delivery) validate() error {
	if d == nil {
		return nil
	}
	switch d.Strategy {
	case types.DeploymentStrategyRolling, types.DeploymentStrategyBlueGreen, types.DeploymentStrategyCanary, types.DeploymentStrategyLinear:
	default:
		return fmt.Errorf("delivery strategy %q: expected ROLLING, BLUE_GREEN, CANARY or LINEAR", d.Strategy)
	}
	for name, v := range map[string]time.Duration{"bake time": d.BakeTime, "canary bake time": d.CanaryBakeTime, "linear interval": d.LinearInterval, "test probe hold": d.TestProbeHold} {
		if v < 0 || v > 24*time.Hour || v%time.Minute != 0 {
			return fmt.Errorf("delivery %s %s: expected whole minutes between 0 and 24h", name, v)
		}
	}
	if d.Strategy == types.DeploymentStrategyCanary && (d.CanaryPercent < config.MinCanaryPercent || d.CanaryPercent > 100) {
		return fmt.Errorf("delivery canary percent %v: expected %v-100", d.CanaryPercent, config.MinCanaryPercent)
	}
	if d.Strategy == types.DeploymentStrategyLinear && (d.LinearPercent < config.MinLinearPercent || d.LinearPercent > 100) {
		return fmt.Errorf("delivery linear percent %v: expected %v-100", d.LinearPercent, config.MinLinearPercent)
	}
	if d.Strategy != types.DeploymentStrategyRolling {
		lb := d.LoadBalancer
		if lb == nil || lb.AlternateTargetGroupArn == "" || lb.ProductionListenerRule == "" || lb.RoleArn == "" {
			return fmt.Errorf("delivery strategy %s: a load balancer with an alternate target group, a production listener rule and a role is required", d.Strategy)
		}
	}
	if d.TestProbe != nil && (d.Strategy != types.DeploymentStrategyBlueGreen || d.LoadBalancer.TestListenerRule == "") {
		return errors.New("delivery test probe: only for BLUE_GREEN with a test listener rule")
	}
	return nil
}

// applyDelivery sets the strategy, its settings and the alarms on cfg and returns the
// service's load balancers with the blue/green wiring (nil for ROLLING: left as they are).
func (d *Delivery) apply(cfg *types.DeploymentConfiguration, svc *types.Service) ([]types.LoadBalancer, error) {
	if d == nil {
		return nil, nil
	}
	cfg.Strategy = d.Strategy
	if len(d.Alarms) > 0 {
		cfg.Alarms = &types.DeploymentAlarms{AlarmNames: append([]string(nil), d.Alarms...), Enable: true, Rollback: d.AlarmRollback}
	}
	cfg.LifecycleHooks = d.hooks(cfg.LifecycleHooks)
	if d.Strategy == types.DeploymentStrategyRolling {
		return nil, nil
	}
	cfg.BakeTimeInMinutes = aws.Int32(int32(d.BakeTime / time.Minute))
	switch d.Strategy {
	case types.DeploymentStrategyCanary:
		cfg.CanaryConfiguration = &types.CanaryConfiguration{CanaryPercent: aws.Float64(d.CanaryPercent), CanaryBakeTimeInMinutes: aws.Int32(int32(d.CanaryBakeTime / time.Minute))}
	case types.DeploymentStrategyLinear:
		cfg.LinearConfiguration = &types.LinearConfiguration{StepPercent: aws.Float64(d.LinearPercent), StepBakeTimeInMinutes: aws.Int32(int32(d.LinearInterval / time.Minute))}
	}
	if len(svc.LoadBalancers) == 0 {
		return nil, fmt.Errorf("strategy %s needs a load balancer, and service %s has none", d.Strategy, aws.ToString(svc.ServiceName))
	}
	lbs := append([]types.LoadBalancer(nil), svc.LoadBalancers...)
	idx := -1
	for i, lb := range lbs {
		if d.LoadBalancer.TargetGroupArn == "" || aws.ToString(lb.TargetGroupArn) == d.LoadBalancer.TargetGroupArn {
			if idx >= 0 && d.LoadBalancer.TargetGroupArn == "" {
				return nil, fmt.Errorf("service %s has %d load balancers: name the production target group", aws.ToString(svc.ServiceName), len(lbs))
			}
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("service %s has no load balancer on target group %s", aws.ToString(svc.ServiceName), d.LoadBalancer.TargetGroupArn)
	}
	adv := &types.AdvancedConfiguration{
		AlternateTargetGroupArn: aws.String(d.LoadBalancer.AlternateTargetGroupArn),
		ProductionListenerRule:  aws.String(d.LoadBalancer.ProductionListenerRule),
		RoleArn:                 aws.String(d.LoadBalancer.RoleArn),
	}
	if d.LoadBalancer.TestListenerRule != "" {
		adv.TestListenerRule = aws.String(d.LoadBalancer.TestListenerRule)
	}
	lbs[idx].AdvancedConfiguration = adv
	return lbs, nil
}

// Plan describes the strategy in one line for people.
func (d *Delivery) Plan() string {
	var parts []string
	switch d.Strategy {
	case types.DeploymentStrategyCanary:
		parts = append(parts, fmt.Sprintf("%s%% for %s, then 100%%", pct(d.CanaryPercent), minutes(d.CanaryBakeTime)))
	case types.DeploymentStrategyLinear:
		parts = append(parts, fmt.Sprintf("steps of %s%% every %s", pct(d.LinearPercent), minutes(d.LinearInterval)))
	case types.DeploymentStrategyBlueGreen:
		if d.TestProbe != nil {
			parts = append(parts, "test traffic probed, then 100%")
		} else {
			parts = append(parts, "100% at once")
		}
	default:
		parts = append(parts, "rolling update")
	}
	if d.Strategy != types.DeploymentStrategyRolling {
		parts = append(parts, "bake "+minutes(d.BakeTime))
	}
	if len(d.Alarms) > 0 {
		rb := "no rollback"
		if d.AlarmRollback {
			rb = "rollback"
		}
		parts = append(parts, fmt.Sprintf("alarms %s (%s)", strings.Join(d.Alarms, ", "), rb))
	} else {
		parts = append(parts, "no alarms")
	}
	return strings.Join(parts, "; ")
}

func minutes(d time.Duration) string { return fmt.Sprintf("%dm", int(d/time.Minute)) }

// hooks returns the service's lifecycle hooks with the probe's PAUSE hook set or removed:
// a hook of that shape left from an earlier deploy with a probe would hold every later
// deployment until ECS rolls it back. Other hooks (Lambda functions) are kept.
func (d *Delivery) hooks(existing []types.DeploymentLifecycleHook) []types.DeploymentLifecycleHook {
	out := []types.DeploymentLifecycleHook{} // sent even when empty: an absent list leaves the hooks as they are
	for _, h := range existing {
		if !isProbeHook(h) {
			out = append(out, h)
		}
	}
	if d.TestProbe == nil {
		return out
	}
	hold := d.TestProbeHold
	if hold == 0 {
		hold = 10 * time.Minute
	}
	// A PAUSE hook holds the deployment once the new revision has all the test traffic, until
	// the pipeline continues it (probe passed) or stops it (probe failed); if the pipeline is
	// gone, ECS rolls back when the hook times out.
	return append(out, types.DeploymentLifecycleHook{
		TargetType: types.DeploymentLifecycleHookTargetTypePause, LifecycleStages: []types.DeploymentLifecycleHookStage{types.DeploymentLifecycleHookStagePostTestTrafficShift},
		TimeoutConfiguration: &types.DeploymentLifecycleHookTimeoutConfiguration{Action: types.DeploymentLifecycleHookActionRollback, TimeoutInMinutes: aws.Int32(int32(hold / time.Minute))},
	})
}

// isProbeHook recognises the PAUSE hook hooks adds.
func isProbeHook(h types.DeploymentLifecycleHook) bool {
	return h.TargetType == types.DeploymentLifecycleHookTargetTypePause && len(h.LifecycleStages) == 1 &&
		h.LifecycleStages[0] == types.DeploymentLifecycleHookStagePostTestTrafficShift &&
		h.TimeoutConfiguration != nil && h.TimeoutConfiguration.Action == types.DeploymentLifecycleHookActionRollback
}

// The follower's read intervals, its own (the rolling wait's Polling tunes that wait only).
const (
	// bakePoll is the interval while a bake of known length runs.
	bakePoll = 15 * time.Second
	// followStart is the interval while tasks start and stages of unknown length run.
	followStart = 3 * time.Second
	// followTight is the interval from just before a known bake ends, and while ECS cleans up
	// or rolls back (the end is near); followSettle once that has lasted 15 s.
	followTight  = 1500 * time.Millisecond
	followSettle = 2 * time.Second
)

// deliveryPolls is the follower's read budget: ECS reads per minute of waiting, on average.
const deliveryPolls = 20

// follower follows one service deployment.
type follower struct {
	e       *Engine
	api     DeliveryAPI
	rq      *run
	r       *Result
	st      *pollStats
	d       *Delivery
	arn     string
	rep     *DeliveryReport
	last    *types.ServiceDeployment
	stageAt time.Time // when the current stage was first seen
	start   time.Time
	events  *waitSpec // the service to read for its events, and those already shown
	probed  bool
	stopped string // why the pipeline stopped the deployment ("" when it did not)

	end     followEnd // how it ended, once the poller stops
	lastErr error
	phases  *phases // one span per lifecycle stage and traffic step
}

// followDelivery follows the service deployment an UpdateService created and fills r. It
// returns false, having changed nothing, when the service deployment API is not available
// (the caller then waits through DescribeServices).
func (e *Engine) followDelivery(ctx context.Context, rq *run, r *Result, st *pollStats, updated *types.Service, updatedAt time.Time, target string) bool {
	if rq.delivery == nil {
		return false
	}
	d := rq.delivery
	rep := &DeliveryReport{Strategy: string(d.Strategy), Plan: d.Plan()}
	r.Delivery = rep
	api, ok := e.ecs.(DeliveryAPI)
	if !ok {
		rep.FellBack = "service deployments unavailable (the ECS client has no service deployment API); followed through DescribeServices"
		return false
	}
	arn := ""
	if updated != nil {
		arn = aws.ToString(updated.CurrentServiceDeployment)
	}
	if arn == "" {
		out, err := api.ListServiceDeployments(ctx, &awsecs.ListServiceDeploymentsInput{Cluster: aws.String(rq.cluster), Service: aws.String(rq.service),
			CreatedAt: &types.CreatedAt{After: aws.Time(updatedAt.Add(-time.Minute))}})
		if err != nil || len(out.ServiceDeployments) == 0 {
			why := "no service deployment listed"
			if err != nil {
				why = err.Error()
			}
			rep.FellBack = "service deployments unavailable (" + why + "); followed through DescribeServices"
			e.logf("%s", rep.FellBack)
			return false
		}
		newest := out.ServiceDeployments[0]
		for _, b := range out.ServiceDeployments[1:] {
			if aws.ToTime(b.CreatedAt).After(aws.ToTime(newest.CreatedAt)) {
				newest = b
			}
		}
		arn = aws.ToString(newest.ServiceDeploymentArn)
	}
	rep.ServiceDeploymentArn = arn
	f := &follower{e: e, api: api, rq: rq, r: r, st: st, d: d, arn: arn, rep: rep, start: e.clock.Now(),
		events: &waitSpec{cluster: rq.cluster, service: rq.service, seen: map[string]bool{}}}
	if updated != nil {
		markSeen(f.events.seen, updated)
	}
	e.logf("following service deployment %s (%s)", taskdef.ShortName(arn), strings.ToLower(string(d.Strategy)))
	f.run(ctx, target)
	return true
}

type followEnd int

const (
	endSuccessful followEnd = iota
	endRolledBack
	endRollbackFailed
	endStopped
	endTimedOut
	endCancelled
	endAWSError
)

// run follows the service deployment with the poller until it ends, stopping it (with
// rollback) on a failed probe or at the deadline, then sets the Result. Its reads are a
// token bucket of deliveryPolls a minute (burst deliveryPolls), so that what it saves
// during a bake pays for the tight polling at the end.
func (f *follower) run(ctx context.Context, target string) {
	e := f.e
	sctx, end := e.spans.Span(ctx, "follow service deployment", attribute.String("ecs.strategy", string(f.d.Strategy)),
		attribute.String("ecs.service_deployment", taskdef.ShortName(f.arn)), attribute.String("plan", f.rep.Plan))
	p := e.newPoller(f.st, e.clock.Now().Add(f.rq.timeout), bucketBudget(f.start, deliveryPolls, deliveryPolls))
	// Throttling stretches the intervals up to Polling.Max, never below the follower's own.
	p.maxInterval = max(e.poll.Max, bakePoll)
	p.phases = &phases{spans: e.spans, ctx: sctx}
	f.phases = p.phases
	p.run(sctx, f)
	f.finish(sctx, target)
	var err error
	if f.end != endSuccessful {
		err = errors.New(f.r.Outcome)
		if f.r.Reason != "" {
			err = fmt.Errorf("%s: %s", f.r.Outcome, f.r.Reason)
		}
	}
	p.phases.close(err)
	end(err)
}

func (f *follower) cancelled(error) { f.end = endCancelled }

// observe reads the service deployment once and judges it.
func (f *follower) observe(ctx context.Context, p *poller) verdict {
	e := f.e
	sd, err := f.read(ctx, p)
	if err != nil {
		if ctx.Err() != nil {
			f.end = endCancelled
			return finished
		}
		f.lastErr = err
		if p.outcome(awsconf.IsThrottle(err), err) {
			f.end = endAWSError
			return finished
		}
		e.logf("%s  describe service deployment failed (will retry): %v", elapsed(e.clock.Now().Sub(f.start)), err)
		return keepGoing
	}
	p.outcome(false, nil)
	if f.record(sd) {
		f.showEvents(ctx, p)
	}
	if done, how := f.terminal(sd); done {
		f.end = how
		return finished
	}
	if f.d.TestProbe != nil && !f.probed && f.stopped == "" {
		if hook := awaitingHook(sd); hook != "" {
			f.probe(ctx, hook)
			return readNow
		}
	}
	return keepGoing
}

// expired stops the service deployment with rollback at the deadline (unless rollback is
// off) and follows the rollback on its own timeout; the rollback's own deadline ends it.
func (f *follower) expired(ctx context.Context, p *poller, now time.Time) verdict {
	e, r, rq := f.e, f.r, f.rq
	if f.stopped != "" {
		f.end = endTimedOut // the rollback itself did not finish in time
		return finished
	}
	f.stopped = "timeout"
	stage := "unknown stage"
	if f.last != nil {
		stage = string(f.last.LifecycleStage)
	}
	r.Reason = fmt.Sprintf("service deployment %s did not finish within %s (in %s, %s%% of production traffic on the new revision)",
		taskdef.ShortName(f.arn), rq.timeout, stage, pct(f.rep.ProductionPercent))
	if rq.noRollback {
		f.end = endTimedOut
		return finished
	}
	e.logf("%s  timed out in %s: stopping the service deployment with rollback", elapsed(now.Sub(f.start)), stage)
	if err := f.stop(ctx); err != nil {
		r.Reason += "; stop with rollback failed: " + err.Error()
		f.end = endTimedOut
		return finished
	}
	p.deadline = e.clock.Now().Add(rq.rbTimeout)
	return keepGoing
}

// read is one DescribeServiceDeployments, bounded like a DescribeServices poll.
func (f *follower) read(ctx context.Context, p *poller) (*types.ServiceDeployment, error) {
	now := f.e.clock.Now()
	p.read(now)
	cctx, cancel := context.WithTimeout(ctx, p.limit(now))
	defer cancel()
	out, err := f.api.DescribeServiceDeployments(cctx, &awsecs.DescribeServiceDeploymentsInput{ServiceDeploymentArns: []string{f.arn}},
		func(o *awsecs.Options) { o.RetryMaxAttempts = pollAttempts })
	if err != nil {
		return nil, fmt.Errorf("describe service deployment %s: %w", taskdef.ShortName(f.arn), err)
	}
	if len(out.ServiceDeployments) == 0 {
		reason := "MISSING"
		if len(out.Failures) > 0 {
			reason = aws.ToString(out.Failures[0].Reason)
		}
		return nil, fmt.Errorf("service deployment %s not found (%s)", taskdef.ShortName(f.arn), reason)
	}
	return &out.ServiceDeployments[0], nil
}

// showEvents reads the service once (within the read budget) and shows the events not shown
// yet: the tasks started and stopped, the circuit breaker, the alarms.
func (f *follower) showEvents(ctx context.Context, p *poller) {
	now := f.e.clock.Now()
	p.extra(now)
	svc, _, err := f.e.poll1(ctx, f.events, time.Minute)
	if err == nil {
		f.e.showEvents(svc, f.events, f.st)
	}
}

// record records a stage change or a traffic step and logs it; it reports whether the
// stage or status changed.
func (f *follower) record(sd *types.ServiceDeployment) bool {
	now := f.e.clock.Now()
	prod, test := weights(sd)
	prev := f.last
	f.last = sd
	changed := prev == nil || prev.LifecycleStage != sd.LifecycleStage || prev.Status != sd.Status
	if changed || prodOf(prev) != prod {
		if prev == nil || prev.LifecycleStage != sd.LifecycleStage {
			f.stageAt = now
		}
		f.rep.Stages = append(f.rep.Stages, Stage{Name: stageName(sd), At: now, ProductionPercent: prod, TestPercent: test})
		// The stage in which the deployment turned to a rollback or a stop is where it failed.
		var failed error
		if !goingForward(sd.Status) && (prev == nil || goingForward(prev.Status)) {
			failed = fmt.Errorf("%s: %s", strings.ToLower(string(sd.Status)), orUnknown(aws.ToString(sd.StatusReason)))
		}
		if done, _ := f.terminal(sd); done {
			f.phases.close(failed)
		} else {
			f.phases.enterAfter(stageSpan(sd, prod), failed)
		}
		f.e.logf("%s  %s %s: %s%% of production traffic, %s%% of test traffic on the new revision", elapsed(now.Sub(f.start)),
			strings.ToLower(string(sd.Status)), orUnknown(string(sd.LifecycleStage)), pct(prod), pct(test))
	}
	f.rep.Status = string(sd.Status)
	rollingBack := sd.Status == types.ServiceDeploymentStatusRollbackRequested || sd.Status == types.ServiceDeploymentStatusRollbackInProgress ||
		sd.Status == types.ServiceDeploymentStatusRollbackSuccessful || sd.Status == types.ServiceDeploymentStatusRollbackFailed
	if rollingBack && f.rep.RollbackAt.IsZero() {
		f.rep.RollbackAt = now
		if sd.Rollback != nil && sd.Rollback.StartedAt != nil {
			f.rep.RollbackAt = aws.ToTime(sd.Rollback.StartedAt)
		}
		f.rep.RollbackPercent = f.rep.ProductionPercent
		if sd.Alarms != nil {
			f.rep.RollbackAlarms = append([]string(nil), sd.Alarms.TriggeredAlarmNames...)
		}
		switch {
		case len(f.rep.RollbackAlarms) > 0:
			f.rep.RolledBackBy = "alarm"
		case sd.DeploymentCircuitBreaker != nil && sd.DeploymentCircuitBreaker.Status == types.ServiceDeploymentRollbackMonitorsStatusTriggered:
			f.rep.RolledBackBy = "circuit-breaker"
		case f.stopped != "":
			f.rep.RolledBackBy = f.stopped
		default:
			f.rep.RolledBackBy = "ecs"
		}
		f.e.logf("%s  rolling back (%s): %s", elapsed(now.Sub(f.start)), f.rep.RolledBackBy, aws.ToString(sd.StatusReason))
	}
	if !rollingBack {
		f.rep.ProductionPercent = prod
	}
	if sd.Status == types.ServiceDeploymentStatusStopped && sd.Alarms != nil && len(f.rep.RollbackAlarms) == 0 {
		f.rep.RollbackAlarms = append([]string(nil), sd.Alarms.TriggeredAlarmNames...)
		if len(f.rep.RollbackAlarms) > 0 {
			f.rep.RollbackAt, f.rep.RollbackPercent = now, f.rep.ProductionPercent
		}
	}
	return changed
}

func (f *follower) terminal(sd *types.ServiceDeployment) (bool, followEnd) {
	switch sd.Status {
	case types.ServiceDeploymentStatusSuccessful:
		return true, endSuccessful
	case types.ServiceDeploymentStatusRollbackSuccessful:
		return true, endRolledBack
	case types.ServiceDeploymentStatusRollbackFailed:
		return true, endRollbackFailed
	case types.ServiceDeploymentStatusStopped:
		return true, endStopped
	}
	return false, 0
}

// awaitingHook is the ID of a PAUSE hook waiting for the pipeline, or "".
func awaitingHook(sd *types.ServiceDeployment) string {
	if sd.Status != types.ServiceDeploymentStatusInProgress {
		return ""
	}
	for _, h := range sd.LifecycleHookDetails {
		if h.TargetType == types.DeploymentLifecycleHookTargetTypePause && h.Status == types.DeploymentLifecycleHookStatusAwaitingAction {
			return aws.ToString(h.HookId)
		}
	}
	return ""
}

// probe runs the test probe while the deployment holds at the hook, then continues the
// deployment or stops it with rollback.
func (f *follower) probe(ctx context.Context, hook string) {
	f.probed = true
	e := f.e
	e.logf("%s  probing the new revision through the test listener", elapsed(e.clock.Now().Sub(f.start)))
	pctx, end := e.spans.Span(f.phases.within(ctx), "test probe")
	err := f.d.TestProbe(pctx)
	end(err)
	if err == nil {
		f.rep.Probe = "passed"
		e.logf("%s  test probe passed: continuing to production traffic", elapsed(e.clock.Now().Sub(f.start)))
		_, cerr := f.api.ContinueServiceDeployment(ctx, &awsecs.ContinueServiceDeploymentInput{ServiceDeploymentArn: aws.String(f.arn), HookId: aws.String(hook),
			Action: types.DeploymentLifecycleHookActionContinue})
		if cerr != nil {
			e.logf("continue service deployment failed: %v (ECS rolls back when the hook times out)", cerr)
		}
		return
	}
	f.rep.Probe = "failed: " + err.Error()
	f.stopped = "test-probe"
	f.r.Reason = "test probe failed before any production traffic moved: " + err.Error()
	e.logf("%s  test probe failed: %v; stopping the service deployment with rollback", elapsed(e.clock.Now().Sub(f.start)), err)
	if serr := f.stop(ctx); serr != nil {
		f.r.Reason += "; stop with rollback failed: " + serr.Error()
	}
}

// stop asks ECS to stop the service deployment and roll back. A conflict (it has just
// ended) is not an error: the next read says how it ended.
func (f *follower) stop(ctx context.Context) (rerr error) {
	ctx, end := f.e.spans.Span(f.phases.within(ctx), "stop service deployment with rollback", attribute.String("reason", f.stopped))
	defer func() { end(rerr) }()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	_, err := f.api.StopServiceDeployment(sctx, &awsecs.StopServiceDeploymentInput{ServiceDeploymentArn: aws.String(f.arn), StopType: types.StopServiceDeploymentStopTypeRollback})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "ConflictException" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop service deployment %s: %w", taskdef.ShortName(f.arn), err)
	}
	return nil
}

// interval is the pause before the next read: rarely while a known bake runs (its end is
// known), tightly near its end and while the deployment finishes or rolls back.
func (f *follower) interval(now time.Time) time.Duration {
	interval := followStart
	fast := followTight
	if sd := f.last; sd != nil {
		inStage := now.Sub(f.stageAt)
		switch {
		case sd.Status != types.ServiceDeploymentStatusInProgress && sd.Status != types.ServiceDeploymentStatusPending,
			sd.LifecycleStage == types.ServiceDeploymentLifecycleStageCleanUp:
			// Rolling back, stopping or cleaning up: the end is near.
			interval = fast
			if inStage > 15*time.Second {
				interval = followSettle
			}
		default:
			if bake := f.stageBake(sd); bake > 0 {
				// The stage ends about bake after it was first seen (it may have started up to
				// one interval earlier): sleep until shortly before, in steps of at most 15 s
				// so that an alarm's rollback is noticed soon, then poll tightly.
				endAt := f.stageAt.Add(bake)
				switch left := endAt.Sub(now); {
				case left > 2*followStart:
					interval = min(left-followStart, bakePoll)
				case left > -10*time.Second:
					interval = fast
				}
			}
		}
	}
	return interval
}

// stageBake is how long the current stage lasts when the strategy says (0: unknown).
func (f *follower) stageBake(sd *types.ServiceDeployment) time.Duration {
	prod, _ := weights(sd)
	switch sd.LifecycleStage {
	case types.ServiceDeploymentLifecycleStageBakeTime:
		if f.d.Strategy == types.DeploymentStrategyRolling {
			return 0 // ECS computes a rolling deployment's bake from the alarms
		}
		return f.d.BakeTime
	case types.ServiceDeploymentLifecycleStageProductionTrafficShift:
		switch {
		case prod >= 100:
			return 0
		case f.d.Strategy == types.DeploymentStrategyCanary:
			return f.d.CanaryBakeTime
		case f.d.Strategy == types.DeploymentStrategyLinear:
			return f.d.LinearInterval
		}
	}
	return 0
}

// finish sets the Result from how the service deployment ended (f.end).
func (f *follower) finish(ctx context.Context, target string) {
	e, r, rep, end := f.e, f.r, f.rep, f.end
	e.finalState(ctx, r, target)
	reason := ""
	if f.last != nil {
		reason = aws.ToString(f.last.StatusReason)
	}
	where := taskdef.ShortName(r.FinalTaskDefinition)
	switch end {
	case endSuccessful:
		r.Class = Completed
		r.Outcome = fmt.Sprintf("%s %s", f.rq.verb, taskdef.ShortName(target))
		return
	case endCancelled:
		r.Class = Cancelled
		r.Outcome = fmt.Sprintf("cancelled while following service deployment %s; service on %s (%s)", taskdef.ShortName(f.arn), where, orUnknown(r.FinalRolloutState))
		return
	case endAWSError:
		r.Class = AWSError
		r.Outcome = fmt.Sprintf("lost track of service deployment %s: %v; service on %s", taskdef.ShortName(f.arn), f.lastErr, where)
		return
	}
	var why []string
	if r.Reason != "" {
		why = append(why, r.Reason)
	}
	switch rep.RolledBackBy {
	case "alarm":
		why = append(why, fmt.Sprintf("alarm %s fired at %s with %s%% of production traffic on the new revision",
			strings.Join(rep.RollbackAlarms, ", "), rep.RollbackAt.UTC().Format("15:04:05"), pct(rep.RollbackPercent)))
	case "circuit-breaker":
		why = append(why, "the deployment circuit breaker stopped it: "+reason)
		stopped, serr := e.stoppedTasks(ctx, f.rq.cluster, f.rq.service, target, r.DeploymentID)
		if serr == nil {
			r.StoppedTasks = stopped
			for _, t := range stopped {
				why = append(why, t.String())
				break
			}
		}
	default:
		if reason != "" && f.stopped == "" {
			why = append(why, reason)
		}
	}
	r.Reason = strings.Join(why, "; ")
	switch end {
	case endRolledBack:
		r.Class = RolledBack
		r.RolledBackBy = "ecs"
		if f.stopped != "" {
			r.RolledBackBy = "pipeline"
		}
		if f.stopped == "timeout" {
			r.Class = TimedOut
		}
		r.Outcome = "rolled back to " + where
		if r.FinalTaskDefinition == "" {
			r.Outcome = "rolled back"
		}
	case endRollbackFailed:
		r.Class = RolledBack
		r.Outcome = fmt.Sprintf("rollback failed, service on %s (%s)", where, orUnknown(r.FinalRolloutState))
	case endStopped:
		// Stopped without rollback (alarm with rollback off, or stopped by someone): the
		// service may run either revision; say which.
		r.Class = RolledBack
		if r.FinalTaskDefinition != r.PreviousTaskDefinition {
			r.Class = AWSError
		}
		r.Outcome = fmt.Sprintf("service deployment stopped without rollback; service on %s (%s)", where, orUnknown(r.FinalRolloutState))
	case endTimedOut:
		r.Class = TimedOut
		r.Outcome = fmt.Sprintf("timed out; service deployment %s is %s, service on %s", taskdef.ShortName(f.arn), orUnknown(rep.Status), where)
	}
}

func weights(sd *types.ServiceDeployment) (prod, test float64) {
	if t := sd.TargetServiceRevision; t != nil {
		return aws.ToFloat64(t.RequestedProductionTrafficWeight), aws.ToFloat64(t.RequestedTestTrafficWeight)
	}
	return 0, 0
}

// goingForward: the service deployment is not rolling back or stopping.
func goingForward(s types.ServiceDeploymentStatus) bool {
	return s == types.ServiceDeploymentStatusPending || s == types.ServiceDeploymentStatusInProgress || s == types.ServiceDeploymentStatusSuccessful
}

// stageSpan names a stage's span: "production traffic shift (10%)", "rollback in progress: bake time".
func stageSpan(sd *types.ServiceDeployment, prod float64) string {
	s := strings.ToLower(strings.ReplaceAll(orUnknown(string(sd.LifecycleStage)), "_", " "))
	if sd.LifecycleStage == types.ServiceDeploymentLifecycleStageProductionTrafficShift {
		s += " (" + pct(prod) + "%)"
	}
	if sd.Status != types.ServiceDeploymentStatusInProgress && sd.Status != types.ServiceDeploymentStatusPending {
		s = strings.ToLower(strings.ReplaceAll(string(sd.Status), "_", " ")) + ": " + s
	}
	return s
}

func prodOf(sd *types.ServiceDeployment) float64 { p, _ := weights(sd); return p }

func stageName(sd *types.ServiceDeployment) string {
	s := string(sd.LifecycleStage)
	if sd.Status != types.ServiceDeploymentStatusInProgress {
		s = string(sd.Status) + " " + s
	}
	return strings.TrimSpace(s)
}

// pct formats a traffic share: 10, 12.5.
func pct(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
}

// ServiceDeploymentStatus is a service's current service deployment, for `status`.
type ServiceDeploymentStatus struct {
	Arn, Strategy, Status, Stage, Reason string
	ProductionPercent, TestPercent       float64
	UpdatedAt                            time.Time
	TriggeredAlarms                      []string
}

// currentServiceDeployment reads the service's current service deployment; nil when the
// service names none or the API is not available (status then shows deployments only).
func (e *Engine) currentServiceDeployment(ctx context.Context, svc *types.Service) *ServiceDeploymentStatus {
	api, ok := e.ecs.(DeliveryAPI)
	arn := aws.ToString(svc.CurrentServiceDeployment)
	if !ok || arn == "" {
		return nil
	}
	out, err := api.DescribeServiceDeployments(ctx, &awsecs.DescribeServiceDeploymentsInput{ServiceDeploymentArns: []string{arn}})
	if err != nil || len(out.ServiceDeployments) == 0 {
		return nil
	}
	sd := out.ServiceDeployments[0]
	prod, test := weights(&sd)
	st := &ServiceDeploymentStatus{Arn: arn, Status: string(sd.Status), Stage: string(sd.LifecycleStage), Reason: aws.ToString(sd.StatusReason),
		ProductionPercent: prod, TestPercent: test, UpdatedAt: aws.ToTime(sd.UpdatedAt)}
	if c := sd.DeploymentConfiguration; c != nil {
		st.Strategy = string(c.Strategy)
	}
	if sd.Alarms != nil {
		st.TriggeredAlarms = sd.Alarms.TriggeredAlarmNames
	}
	return st
}

// String is one line for `status`.
func (s *ServiceDeploymentStatus) String() string {
	line := fmt.Sprintf("service deployment %s (%s): %s, stage %s, %s%% production / %s%% test traffic on the new revision",
		taskdef.ShortName(s.Arn), orDash(s.Strategy), s.Status, orDash(s.Stage), pct(s.ProductionPercent), pct(s.TestPercent))
	if len(s.TriggeredAlarms) > 0 {
		line += "; alarms in ALARM: " + strings.Join(s.TriggeredAlarms, ", ")
	}
	if s.Reason != "" {
		line += "; " + s.Reason
	}
	return line
}

// summary is the delivery part of Result.Summary: strategy, plan, status, stages, rollback.
func (d *DeliveryReport) summary() string {
	if d == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "delivery: %s (%s), service deployment %s: %s\n", strings.ToLower(d.Strategy), d.Plan, orDash(taskdef.ShortName(d.ServiceDeploymentArn)), orDash(d.Status))
	for _, s := range d.Stages {
		fmt.Fprintf(&b, "  %s %s: %s%% production, %s%% test\n", s.At.UTC().Format("15:04:05"), s.Name, pct(s.ProductionPercent), pct(s.TestPercent))
	}
	if d.RolledBackBy != "" {
		fmt.Fprintf(&b, "rolled back by %s", d.RolledBackBy)
		if len(d.RollbackAlarms) > 0 {
			fmt.Fprintf(&b, " (alarm %s at %s, %s%% of production traffic on the new revision)", strings.Join(d.RollbackAlarms, ", "),
				d.RollbackAt.UTC().Format("15:04:05"), pct(d.RollbackPercent))
		}
		b.WriteString("\n")
	}
	if d.Probe != "" {
		fmt.Fprintf(&b, "test probe: %s\n", d.Probe)
	}
	if d.FellBack != "" {
		fmt.Fprintf(&b, "%s\n", d.FellBack)
	}
	return b.String()
}
