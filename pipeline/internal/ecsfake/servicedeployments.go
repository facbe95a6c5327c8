package ecsfake

// Progressive delivery in the fake: every deployment is also a *service deployment*
// (ListServiceDeployments, DescribeServiceDeployments, StopServiceDeployment,
// ContinueServiceDeployment) with a status and a lifecycle stage. Once its tasks run, a
// deployment under the BLUE_GREEN, CANARY or LINEAR strategy moves test traffic, then
// production traffic in steps (canary: percent, bake, rest; linear: equal steps an interval
// apart), bakes with both revisions up, cleans up, and completes; a PAUSE hook at
// POST_TEST_TRAFFIC_SHIFT holds it until ContinueServiceDeployment or the hook's timeout.
// CloudWatch alarms scripted with FireAlarm fail it (and roll it back when the service's
// alarms say rollback) at the fake time they fire.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/schemas"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"dagger/fargate/pipeline/internal/fakeaws"
)

// DeliveryTimings are how long the fake's traffic stages take. Zero values take the defaults.
type DeliveryTimings struct {
	// Shift is how long each traffic shift (test, production step) takes (10 s).
	Shift time.Duration
	// CleanUp is how long scaling the old revision in takes after the bake (20 s).
	CleanUp time.Duration
	// RollingAlarmBake is the bake a ROLLING deployment with alarms gets once its tasks run
	// (ECS computes it from the alarms). Zero: a rolling deployment completes as before.
	RollingAlarmBake time.Duration
	// Rollback is how long a rollback of a traffic-shifting deployment takes once started
	// (traffic back to the old revision, new tasks stopped) (15 s).
	Rollback time.Duration
}

func (t DeliveryTimings) withDefaults() DeliveryTimings {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Shift, 10*time.Second)
	def(&t.CleanUp, 20*time.Second)
	def(&t.Rollback, 15*time.Second)
	return t
}

// deliveryState is the fake's service-deployment bookkeeping.
type deliveryState struct {
	timings DeliveryTimings
	byDep   map[*deployment]*svcDeployment
	bySvc   map[*service][]*svcDeployment // newest first
	lbs     map[*service][]types.LoadBalancer
	extra   map[*service]*types.DeploymentConfiguration // canary, linear, lifecycle hooks
}

// svcDeployment is one service deployment.
type svcDeployment struct {
	s            *service
	d            *deployment
	arn          string
	revision     string
	source       string // the source service revision's ARN
	strategy     types.DeploymentStrategy
	cfg          types.DeploymentConfiguration
	stage        types.ServiceDeploymentLifecycleStage
	prodWeight   float64
	testWeight   float64
	created      time.Time
	updated      time.Time
	finished     time.Time
	status       types.ServiceDeploymentStatus // set when final or rolling back
	reason       string
	triggered    []string
	rollback     *types.Rollback
	hook         *types.DeploymentLifecycleHookDetail
	rollbackDone func() bool
	resume       func(at time.Time, action types.DeploymentLifecycleHookAction) // set while paused at a hook
	epoch        int                                                            // bumped when the script is interrupted (rollback, stop)
}

// SetDeliveryTimings changes how long the traffic stages take.
func (f *Fake) SetDeliveryTimings(t DeliveryTimings) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deliveryLocked().timings = t
}

// FireAlarm puts the CloudWatch alarm name in ALARM at the fake time at: every in-progress
// deployment whose service watches that alarm fails then (and rolls back when configured).
func (f *Fake) FireAlarm(name string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.at(at, func(t time.Time) {
		for _, list := range f.deliveryLocked().bySvc {
			for _, sd := range list {
				a := sd.cfg.Alarms
				if sd.active() && a != nil && a.Enable && slices.Contains(a.AlarmNames, name) {
					f.alarmFired(sd, name, t)
				}
			}
		}
	})
}

// ServiceDeployment returns a service deployment as DescribeServiceDeployments shows it.
func (f *Fake) ServiceDeployment(arn string) (types.ServiceDeployment, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advanceLocked(f.clock.Now())
	sd := f.findServiceDeployment(arn)
	if sd == nil {
		return types.ServiceDeployment{}, false
	}
	return f.describeSD(sd), true
}

// ServiceDeploymentArns lists a service's service deployments, newest first.
func (f *Fake) ServiceDeploymentArns(clusterName, serviceName string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.serviceLocked(clusterName, serviceName)
	var out []string
	for _, sd := range f.deliveryLocked().bySvc[s] {
		out = append(out, sd.arn)
	}
	return out
}

func (f *Fake) deliveryLocked() *deliveryState {
	ds := &f.delivery
	if ds.byDep == nil {
		ds.byDep = map[*deployment]*svcDeployment{}
		ds.bySvc = map[*service][]*svcDeployment{}
		ds.lbs = map[*service][]types.LoadBalancer{}
		ds.extra = map[*service]*types.DeploymentConfiguration{}
	}
	return ds
}

// applyDeliveryRequest keeps what an UpdateService request sets beyond mergeConfig: the load
// balancers (with their advanced configuration) and the canary, linear and lifecycle hook
// settings. It validates what ECS validates for traffic-shifting strategies.
func (f *Fake) applyDeliveryRequest(s *service, body []byte) error {
	var req struct {
		LoadBalancers           []json.RawMessage `json:"loadBalancers"`
		DeploymentConfiguration json.RawMessage   `json:"deploymentConfiguration"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return invalid(err)
	}
	ds := f.deliveryLocked()
	if req.LoadBalancers != nil {
		var lbs []types.LoadBalancer
		for _, raw := range req.LoadBalancers {
			var lb types.LoadBalancer
			if err := decode(raw, schemas.LoadBalancer, &lb); err != nil {
				return invalid(err)
			}
			lbs = append(lbs, lb)
		}
		ds.lbs[s] = lbs
	}
	if len(req.DeploymentConfiguration) > 0 {
		var dc types.DeploymentConfiguration
		if err := decode(req.DeploymentConfiguration, schemas.DeploymentConfiguration, &dc); err != nil {
			return invalid(err)
		}
		x := ds.extra[s]
		if x == nil {
			x = &types.DeploymentConfiguration{}
			ds.extra[s] = x
		}
		if dc.CanaryConfiguration != nil {
			x.CanaryConfiguration = dc.CanaryConfiguration
		}
		if dc.LinearConfiguration != nil {
			x.LinearConfiguration = dc.LinearConfiguration
		}
		if dc.LifecycleHooks != nil {
			x.LifecycleHooks = dc.LifecycleHooks
		}
	}
	switch s.cfg.Strategy {
	case types.DeploymentStrategyBlueGreen, types.DeploymentStrategyCanary, types.DeploymentStrategyLinear:
		ok := false
		for _, lb := range ds.lbs[s] {
			if a := lb.AdvancedConfiguration; a != nil && aws.ToString(a.AlternateTargetGroupArn) != "" && aws.ToString(a.RoleArn) != "" &&
				aws.ToString(a.ProductionListenerRule) != "" {
				ok = true
			}
		}
		if !ok {
			return fakeaws.Errorf("InvalidParameterException", "The %s deployment strategy requires a load balancer with an advancedConfiguration (alternateTargetGroupArn, productionListenerRule, roleArn).", s.cfg.Strategy)
		}
	}
	return nil
}

// trackDeployment records a new deployment as a service deployment. A deployment that
// replaces a FAILED one is that one's rollback, not a service deployment of its own.
func (f *Fake) trackDeployment(s *service, d *deployment, at time.Time) {
	ds := f.deliveryLocked()
	if len(s.deps) > 1 && s.deps[1].d.RolloutState == types.DeploymentRolloutStateFailed {
		if prev := ds.byDep[s.deps[1]]; prev != nil && prev.rollbackDone == nil {
			rb := d
			prev.rollbackDone = func() bool { return rb.d.RolloutState == types.DeploymentRolloutStateCompleted }
			if prev.status == "" {
				prev.status, prev.reason = types.ServiceDeploymentStatusRollbackInProgress, aws.ToString(prev.d.d.RolloutStateReason)
			}
			prev.epoch++
			prev.prodWeight, prev.testWeight = 0, 0
			return
		}
	}
	cfg := s.cfg
	if x := ds.extra[s]; x != nil {
		cfg.CanaryConfiguration, cfg.LinearConfiguration, cfg.LifecycleHooks = x.CanaryConfiguration, x.LinearConfiguration, x.LifecycleHooks
	}
	strategy := cfg.Strategy
	if strategy == "" {
		strategy = types.DeploymentStrategyRolling
	}
	id := strings.TrimPrefix(aws.ToString(d.d.Id), "ecs-svc/")
	sd := &svcDeployment{s: s, d: d, strategy: strategy, cfg: cfg, created: at, updated: at,
		stage:    types.ServiceDeploymentLifecycleStageScaleUp,
		arn:      fmt.Sprintf("arn:aws:ecs:%s:%s:service-deployment/%s/%s/%s", f.opts.Region, f.opts.Account, s.cl.name, s.name, id),
		revision: fmt.Sprintf("arn:aws:ecs:%s:%s:service-revision/%s/%s/%s", f.opts.Region, f.opts.Account, s.cl.name, s.name, id),
	}
	if prev := ds.bySvc[s]; len(prev) > 0 {
		sd.source = prev[0].revision
		for _, p := range prev {
			if p.active() {
				p.status, p.reason, p.finished = types.ServiceDeploymentStatusStopped, "Superseded by a newer service deployment.", at
				p.epoch++
			}
		}
	}
	ds.byDep[d] = sd
	ds.bySvc[s] = append([]*svcDeployment{sd}, ds.bySvc[s]...)
}

// active: in progress, not rolling back, stopped or finished.
func (sd *svcDeployment) active() bool {
	return sd.status == "" && sd.d.d.RolloutState == types.DeploymentRolloutStateInProgress
}

func (sd *svcDeployment) setStage(stage types.ServiceDeploymentLifecycleStage, at time.Time) {
	sd.stage, sd.updated = stage, at
}

// progressiveRun takes over a deployment whose tasks just ran, when its strategy shifts
// traffic (or it is a rolling deployment with alarms and a scripted bake). It reports
// whether it did; otherwise the rolling script goes on.
func (f *Fake) progressiveRun(s *service, d *deployment, at time.Time) bool {
	ds := f.deliveryLocked()
	sd := ds.byDep[d]
	if sd == nil || !sd.active() {
		return false
	}
	tm := ds.timings.withDefaults()
	epoch := sd.epoch
	step := func(t time.Time, fn func(t time.Time)) {
		f.at(t, func(t time.Time) {
			if sd.epoch == epoch && sd.active() && !d.superseded {
				fn(t)
			}
		})
	}
	bake := time.Duration(aws.ToInt32(sd.cfg.BakeTimeInMinutes)) * time.Minute
	finish := func(t time.Time) {
		sd.setStage(types.ServiceDeploymentLifecycleStageBakeTime, t)
		step(t.Add(bake), func(t time.Time) {
			sd.setStage(types.ServiceDeploymentLifecycleStageCleanUp, t)
			step(t.Add(tm.CleanUp), func(t time.Time) {
				f.complete(s, d, t)
				sd.status, sd.finished, sd.updated = types.ServiceDeploymentStatusSuccessful, t, t
				sd.reason = "Service deployment completed."
			})
		})
	}
	switch sd.strategy {
	case types.DeploymentStrategyRolling:
		a := sd.cfg.Alarms
		if tm.RollingAlarmBake <= 0 || a == nil || !a.Enable {
			sd.setStage(types.ServiceDeploymentLifecycleStageCleanUp, at)
			return false
		}
		sd.prodWeight = 100
		bake = tm.RollingAlarmBake
		finish(at)
		return true
	}
	// Traffic-shifting strategies: the production steps.
	var weights []float64
	var pause time.Duration
	switch sd.strategy {
	case types.DeploymentStrategyCanary:
		pct, wait := 5.0, 10*time.Minute
		if c := sd.cfg.CanaryConfiguration; c != nil {
			if c.CanaryPercent != nil {
				pct = *c.CanaryPercent
			}
			if c.CanaryBakeTimeInMinutes != nil {
				wait = time.Duration(*c.CanaryBakeTimeInMinutes) * time.Minute
			}
		}
		weights, pause = []float64{pct, 100}, wait
	case types.DeploymentStrategyLinear:
		pct, wait := 10.0, 6*time.Minute
		if l := sd.cfg.LinearConfiguration; l != nil {
			if l.StepPercent != nil {
				pct = *l.StepPercent
			}
			if l.StepBakeTimeInMinutes != nil {
				wait = time.Duration(*l.StepBakeTimeInMinutes) * time.Minute
			}
		}
		for w := pct; w < 100; w += pct {
			weights = append(weights, w)
		}
		weights, pause = append(weights, 100), wait
	default:
		weights = []float64{100}
	}
	var production func(i int, t time.Time)
	production = func(i int, t time.Time) {
		sd.setStage(types.ServiceDeploymentLifecycleStageProductionTrafficShift, t)
		sd.prodWeight = weights[i]
		f.event(s, t, "(service %s) service deployment %s shifted %g%% of production traffic to the new revision.", s.name, sd.id(), weights[i])
		if i+1 < len(weights) {
			step(t.Add(tm.Shift+pause), func(t time.Time) { production(i+1, t) })
			return
		}
		step(t.Add(tm.Shift), func(t time.Time) {
			sd.setStage(types.ServiceDeploymentLifecycleStagePostProductionTrafficShift, t)
			step(t.Add(tm.Shift), finish)
		})
	}
	sd.setStage(types.ServiceDeploymentLifecycleStageTestTrafficShift, at)
	step(at.Add(tm.Shift), func(t time.Time) {
		sd.testWeight = 100
		sd.setStage(types.ServiceDeploymentLifecycleStagePostTestTrafficShift, t)
		hook := pauseHook(sd.cfg.LifecycleHooks, types.DeploymentLifecycleHookStagePostTestTrafficShift)
		if hook == nil {
			step(t.Add(tm.Shift), func(t time.Time) { production(0, t) })
			return
		}
		timeout, action := 24*time.Hour, types.DeploymentLifecycleHookActionRollback
		if tc := hook.TimeoutConfiguration; tc != nil {
			if tc.TimeoutInMinutes != nil {
				timeout = time.Duration(*tc.TimeoutInMinutes) * time.Minute
			}
			if tc.Action != "" {
				action = tc.Action
			}
		}
		sd.hook = &types.DeploymentLifecycleHookDetail{HookId: aws.String(f.id(12)), Status: types.DeploymentLifecycleHookStatusAwaitingAction,
			TargetType: types.DeploymentLifecycleHookTargetTypePause, TimeoutAction: action, ExpiresAt: aws.Time(t.Add(timeout))}
		hookEpoch := sd.epoch
		sd.resume = func(t time.Time, act types.DeploymentLifecycleHookAction) {
			if act == types.DeploymentLifecycleHookActionRollback {
				sd.hook.Status = types.DeploymentLifecycleHookStatusFailed
				f.rollBack(sd, t, "Service deployment rolled back by its lifecycle hook.")
				return
			}
			sd.hook.Status = types.DeploymentLifecycleHookStatusSucceeded
			step(t.Add(tm.Shift), func(t time.Time) { production(0, t) })
		}
		f.at(t.Add(timeout), func(t time.Time) {
			if sd.epoch == hookEpoch && sd.active() && sd.hook.Status == types.DeploymentLifecycleHookStatusAwaitingAction {
				sd.hook.Status = types.DeploymentLifecycleHookStatusTimedOut
				r := sd.resume
				sd.resume = nil
				if action == types.DeploymentLifecycleHookActionRollback {
					f.rollBack(sd, t, "Service deployment rolled back: its lifecycle hook timed out.")
					return
				}
				r(t, action)
			}
		})
	})
	return true
}

func pauseHook(hooks []types.DeploymentLifecycleHook, stage types.DeploymentLifecycleHookStage) *types.DeploymentLifecycleHook {
	for i, h := range hooks {
		if h.TargetType == types.DeploymentLifecycleHookTargetTypePause && slices.Contains(h.LifecycleStages, stage) {
			return &hooks[i]
		}
	}
	return nil
}

func (sd *svcDeployment) id() string { return sd.arn[strings.LastIndex(sd.arn, "/")+1:] }

// alarmFired fails the deployment for alarm name, and rolls it back when configured.
func (f *Fake) alarmFired(sd *svcDeployment, name string, at time.Time) {
	sd.triggered = append(sd.triggered, name)
	f.event(sd.s, at, "(service %s) deployment %s failed: alarm %s is in ALARM state.", sd.s.name, aws.ToString(sd.d.d.Id), name)
	reason := fmt.Sprintf("Service deployment rolled back because the CloudWatch alarm %s is in ALARM state.", name)
	if !sd.cfg.Alarms.Rollback {
		sd.epoch++
		sd.d.d.RolloutState = types.DeploymentRolloutStateFailed
		sd.d.d.RolloutStateReason = aws.String(fmt.Sprintf("ECS deployment failed: alarm %s is in ALARM state.", name))
		sd.status, sd.reason, sd.finished, sd.updated = types.ServiceDeploymentStatusStopped,
			fmt.Sprintf("Service deployment stopped because the CloudWatch alarm %s is in ALARM state; rollback is off.", name), at, at
		return
	}
	f.rollBack(sd, at, reason)
}

// rollBack returns the service to its last steady revision: traffic goes back to it and, once
// a rollback deployment of it completes, the service deployment is ROLLBACK_SUCCESSFUL.
func (f *Fake) rollBack(sd *svcDeployment, at time.Time, reason string) {
	s := sd.s
	sd.epoch++
	sd.resume = nil
	sd.d.d.RolloutState = types.DeploymentRolloutStateFailed
	sd.d.d.RolloutStateReason = aws.String(reason)
	sd.status, sd.reason, sd.updated = types.ServiceDeploymentStatusRollbackInProgress, reason, at
	sd.rollback = &types.Rollback{Reason: aws.String(reason), StartedAt: aws.Time(at), ServiceRevisionArn: aws.String(sd.source)}
	sd.prodWeight, sd.testWeight = 0, 0
	if s.stable == "" {
		sd.status, sd.finished = types.ServiceDeploymentStatusRollbackFailed, at
		return
	}
	tm := f.deliveryLocked().timings.withDefaults()
	rb := f.startDeployment(s, s.stable, Rollout{StartAfter: time.Second, RunAfter: tm.Rollback / 2, DrainAfter: tm.Rollback / 2}, at)
	f.event(s, at, "(service %s) rolling back to deployment %s.", s.name, aws.ToString(rb.d.Id))
	sd.rollbackDone = func() bool { return rb.d.RolloutState == types.DeploymentRolloutStateCompleted }
}

// currentServiceDeployment is the ARN DescribeServices shows as the service's current one.
func (f *Fake) currentServiceDeployment(s *service) *string {
	if list := f.deliveryLocked().bySvc[s]; len(list) > 0 {
		return aws.String(list[0].arn)
	}
	return nil
}

// deliveryView adds the service deployment and load balancers to a DescribeServices view.
func (f *Fake) deliveryView(s *service, out *types.Service) {
	ds := f.deliveryLocked()
	out.CurrentServiceDeployment = f.currentServiceDeployment(s)
	if lbs, ok := ds.lbs[s]; ok { // set by SetLoadBalancers or an UpdateService that named them
		out.LoadBalancers = append([]types.LoadBalancer(nil), lbs...)
	}
	if x := ds.extra[s]; x != nil && out.DeploymentConfiguration != nil {
		out.DeploymentConfiguration.CanaryConfiguration = x.CanaryConfiguration
		out.DeploymentConfiguration.LinearConfiguration = x.LinearConfiguration
		out.DeploymentConfiguration.LifecycleHooks = x.LifecycleHooks
	}
}

// SetLoadBalancers gives a service its load balancers (test setup, as CreateService would).
func (f *Fake) SetLoadBalancers(clusterName, serviceName string, lbs ...types.LoadBalancer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.serviceLocked(clusterName, serviceName); s != nil {
		f.deliveryLocked().lbs[s] = lbs
	}
}

// statusOf derives a service deployment's status now.
func (f *Fake) statusOf(sd *svcDeployment) (types.ServiceDeploymentStatus, time.Time) {
	switch {
	case sd.status == types.ServiceDeploymentStatusRollbackInProgress && sd.rollbackDone != nil && sd.rollbackDone():
		sd.status, sd.finished = types.ServiceDeploymentStatusRollbackSuccessful, f.clock.Now()
		sd.stage = types.ServiceDeploymentLifecycleStageCleanUp
	case sd.status == "" && sd.d.d.RolloutState == types.DeploymentRolloutStateCompleted:
		sd.status, sd.finished = types.ServiceDeploymentStatusSuccessful, aws.ToTime(sd.d.d.UpdatedAt)
	case sd.status == "" && sd.d.d.RolloutState == types.DeploymentRolloutStateFailed:
		// The circuit breaker failed it (ecsfake.go's fail): rolling back until trackDeployment
		// sees the rollback deployment, or stopped when the breaker does not roll back.
		cb := sd.s.cfg.DeploymentCircuitBreaker
		if cb != nil && cb.Rollback {
			sd.status = types.ServiceDeploymentStatusRollbackInProgress
			sd.reason = aws.ToString(sd.d.d.RolloutStateReason)
		} else {
			sd.status, sd.finished, sd.reason = types.ServiceDeploymentStatusStopped, f.clock.Now(), aws.ToString(sd.d.d.RolloutStateReason)
		}
	}
	return sd.status, sd.finished
}

func (f *Fake) describeSD(sd *svcDeployment) types.ServiceDeployment {
	status, finished := f.statusOf(sd)
	if status == "" {
		status = types.ServiceDeploymentStatusInProgress
	}
	out := types.ServiceDeployment{
		ServiceDeploymentArn: aws.String(sd.arn), ServiceArn: aws.String(sd.s.arn), ClusterArn: aws.String(sd.s.cl.arn),
		Status: status, LifecycleStage: sd.stage, CreatedAt: aws.Time(sd.created), StartedAt: aws.Time(sd.created), UpdatedAt: aws.Time(sd.updated),
		DeploymentConfiguration: &sd.cfg, Rollback: sd.rollback,
		TargetServiceRevision: &types.ServiceRevisionSummary{Arn: aws.String(sd.revision),
			RequestedProductionTrafficWeight: aws.Float64(sd.prodWeight), RequestedTestTrafficWeight: aws.Float64(sd.testWeight),
			RequestedTaskCount: sd.d.d.DesiredCount, RunningTaskCount: sd.d.d.RunningCount, PendingTaskCount: sd.d.d.PendingCount},
	}
	if sd.reason != "" {
		out.StatusReason = aws.String(sd.reason)
	} else {
		out.StatusReason = sd.d.d.RolloutStateReason
	}
	if sd.source != "" {
		out.SourceServiceRevisions = []types.ServiceRevisionSummary{{Arn: aws.String(sd.source),
			RequestedProductionTrafficWeight: aws.Float64(100 - sd.prodWeight), RequestedTestTrafficWeight: aws.Float64(100 - sd.testWeight)}}
	}
	if !finished.IsZero() {
		out.FinishedAt = aws.Time(finished)
		if status == types.ServiceDeploymentStatusStopped {
			out.StoppedAt = aws.Time(finished)
		}
	}
	if a := sd.cfg.Alarms; a != nil && a.Enable {
		st := types.ServiceDeploymentRollbackMonitorsStatusMonitoring
		switch {
		case len(sd.triggered) > 0:
			st = types.ServiceDeploymentRollbackMonitorsStatusTriggered
		case status != types.ServiceDeploymentStatusInProgress:
			st = types.ServiceDeploymentRollbackMonitorsStatusMonitoringComplete
		}
		out.Alarms = &types.ServiceDeploymentAlarms{AlarmNames: a.AlarmNames, Status: st, TriggeredAlarmNames: sd.triggered}
	}
	if cb := sd.s.cfg.DeploymentCircuitBreaker; cb != nil && cb.Enable {
		st := types.ServiceDeploymentRollbackMonitorsStatusMonitoring
		if sd.d.d.FailedTasks >= failureThreshold(sd.d.d.DesiredCount) {
			st = types.ServiceDeploymentRollbackMonitorsStatusTriggered
		}
		out.DeploymentCircuitBreaker = &types.ServiceDeploymentCircuitBreaker{FailureCount: sd.d.d.FailedTasks, Threshold: failureThreshold(sd.d.d.DesiredCount), Status: st}
	}
	if sd.hook != nil {
		h := *sd.hook
		out.LifecycleHookDetails = []types.DeploymentLifecycleHookDetail{h}
	}
	return out
}

func (f *Fake) findServiceDeployment(arn string) *svcDeployment {
	for _, list := range f.deliveryLocked().bySvc {
		for _, sd := range list {
			if sd.arn == arn {
				return sd
			}
		}
	}
	return nil
}

func (f *Fake) listServiceDeployments(now time.Time, body []byte) (any, error) {
	var req struct {
		Cluster   string   `json:"cluster"`
		Service   string   `json:"service"`
		Status    []string `json:"status"`
		CreatedAt *struct {
			After  *float64 `json:"after"`
			Before *float64 `json:"before"`
		} `json:"createdAt"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(err)
	}
	s := f.serviceLocked(req.Cluster, req.Service)
	if s == nil {
		return nil, fakeaws.Errorf("ServiceNotFoundException", "Service not found.")
	}
	out := &ecs.ListServiceDeploymentsOutput{}
	for _, sd := range f.deliveryLocked().bySvc[s] {
		d := f.describeSD(sd)
		if len(req.Status) > 0 && !slices.Contains(req.Status, string(d.Status)) {
			continue
		}
		if c := req.CreatedAt; c != nil {
			created := float64(sd.created.UnixNano()) / 1e9
			if (c.After != nil && created < *c.After) || (c.Before != nil && created > *c.Before) {
				continue
			}
		}
		out.ServiceDeployments = append(out.ServiceDeployments, types.ServiceDeploymentBrief{
			ServiceDeploymentArn: d.ServiceDeploymentArn, ServiceArn: d.ServiceArn, ClusterArn: d.ClusterArn, Status: d.Status,
			StatusReason: d.StatusReason, CreatedAt: d.CreatedAt, StartedAt: d.StartedAt, FinishedAt: d.FinishedAt,
			TargetServiceRevisionArn: d.TargetServiceRevision.Arn,
		})
	}
	return encode(out, schemas.ListServiceDeploymentsResponse)
}

func (f *Fake) describeServiceDeployments(now time.Time, body []byte) (any, error) {
	var req struct {
		ServiceDeploymentArns []string `json:"serviceDeploymentArns"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(err)
	}
	if len(req.ServiceDeploymentArns) == 0 || len(req.ServiceDeploymentArns) > 20 {
		return nil, fakeaws.Errorf("InvalidParameterException", "serviceDeploymentArns must contain between 1 and 20 items.")
	}
	out := &ecs.DescribeServiceDeploymentsOutput{}
	for _, arn := range req.ServiceDeploymentArns {
		sd := f.findServiceDeployment(arn)
		if sd == nil {
			out.Failures = append(out.Failures, types.Failure{Arn: aws.String(arn), Reason: aws.String("MISSING")})
			continue
		}
		out.ServiceDeployments = append(out.ServiceDeployments, f.describeSD(sd))
	}
	return encode(out, schemas.DescribeServiceDeploymentsResponse)
}

func (f *Fake) stopServiceDeployment(now time.Time, body []byte) (any, error) {
	var req struct {
		ServiceDeploymentArn string `json:"serviceDeploymentArn"`
		StopType             string `json:"stopType"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(err)
	}
	sd := f.findServiceDeployment(req.ServiceDeploymentArn)
	if sd == nil {
		return nil, fakeaws.Errorf("ServiceDeploymentNotFoundException", "Service deployment not found.")
	}
	if !sd.active() || len(sd.s.deps) == 0 || sd.s.deps[0] != sd.d {
		return nil, fakeaws.Errorf("ConflictException", "The service deployment is not in progress.")
	}
	switch req.StopType {
	case "", "ROLLBACK":
		f.rollBack(sd, now, "Service deployment stopped with rollback requested.")
	case "ABORT":
		sd.epoch++
		sd.resume = nil
		sd.d.d.RolloutState = types.DeploymentRolloutStateFailed
		sd.d.d.RolloutStateReason = aws.String("Service deployment stopped.")
		sd.status, sd.reason, sd.finished, sd.updated = types.ServiceDeploymentStatusStopped, "Service deployment stopped (abort requested).", now, now
	default:
		return nil, fakeaws.Errorf("InvalidParameterException", "Unsupported stop type %s.", req.StopType)
	}
	return encode(&ecs.StopServiceDeploymentOutput{ServiceDeploymentArn: aws.String(req.ServiceDeploymentArn)}, schemas.StopServiceDeploymentResponse)
}

func (f *Fake) continueServiceDeployment(now time.Time, body []byte) (any, error) {
	var req struct {
		ServiceDeploymentArn string `json:"serviceDeploymentArn"`
		HookID               string `json:"hookId"`
		Action               string `json:"action"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(err)
	}
	sd := f.findServiceDeployment(req.ServiceDeploymentArn)
	if sd == nil {
		return nil, fakeaws.Errorf("ServiceDeploymentNotFoundException", "Service deployment not found.")
	}
	if sd.hook == nil || aws.ToString(sd.hook.HookId) != req.HookID || sd.resume == nil || !sd.active() {
		return nil, fakeaws.Errorf("ConflictException", "The service deployment is not paused at lifecycle hook %s.", req.HookID)
	}
	act := types.DeploymentLifecycleHookAction(req.Action)
	switch act {
	case "":
		act = types.DeploymentLifecycleHookActionContinue
	case types.DeploymentLifecycleHookActionContinue, types.DeploymentLifecycleHookActionRollback:
	default:
		return nil, fakeaws.Errorf("InvalidParameterException", "Unsupported action %s.", req.Action)
	}
	r := sd.resume
	sd.resume = nil
	r(now, act)
	return encode(&ecs.ContinueServiceDeploymentOutput{ServiceDeploymentArn: aws.String(sd.arn)}, schemas.ContinueServiceDeploymentResponse)
}
