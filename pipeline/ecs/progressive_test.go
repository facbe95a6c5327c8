package ecs

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/internal/ecsfake"
)

const (
	blueTG    = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/sample-app-blue/0a1b2c3d4e5f6a7b"
	greenTG   = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/sample-app-green/1a1b2c3d4e5f6a7b"
	prodRule  = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/sample-app/1a2b3c4d5e6f7a8b/2b3c4d5e6f7a8b9c/3c4d5e6f7a8b9c0d"
	testRule  = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/sample-app/1a2b3c4d5e6f7a8b/4d5e6f7a8b9c0d1e/5e6f7a8b9c0d1e2f"
	infraRole = "arn:aws:iam::123456789012:role/sample-app-ecs-infrastructure"
	alarm5xx  = "sample-app-5xx"
)

// newDeliveryEnv is the usual test environment with the service behind a load balancer.
func newDeliveryEnv(t testing.TB) *env {
	e := newEnv(t, envOpts{})
	e.fake.SetLoadBalancers(cluster, service, types.LoadBalancer{TargetGroupArn: aws.String(blueTG), ContainerName: aws.String("app"), ContainerPort: aws.Int32(8080)})
	return e
}

func wiring() *BlueGreen {
	return &BlueGreen{AlternateTargetGroupArn: greenTG, ProductionListenerRule: prodRule, TestListenerRule: testRule, RoleArn: infraRole}
}

func canary() *Delivery {
	return &Delivery{Strategy: types.DeploymentStrategyCanary, CanaryPercent: 10, CanaryBakeTime: 5 * time.Minute, BakeTime: 5 * time.Minute,
		Alarms: []string{alarm5xx}, AlarmRollback: true, LoadBalancer: wiring()}
}

func (e *env) deliveryOpts(d *Delivery, timeout time.Duration) DeployOptions {
	o := e.deployOpts()
	o.Delivery, o.Timeout = d, timeout
	return o
}

func stageNames(r *DeliveryReport) []string {
	var out []string
	for _, s := range r.Stages {
		out = append(out, s.Name)
	}
	return out
}

func maxProduction(r *DeliveryReport) float64 {
	m := 0.0
	for _, s := range r.Stages {
		m = max(m, s.ProductionPercent)
	}
	return m
}

// assertReadBudget checks the follower's budget: deliveryPolls ECS reads a minute on average
// (a burst of deliveryPolls on top), so never more than twice that in any 60 s window.
func (e *env) assertReadBudget() {
	e.t.Helper()
	var ts []time.Time
	for _, c := range e.fake.Calls() {
		if c.Operation == "DescribeServiceDeployments" || c.Operation == "DescribeServices" {
			ts = append(ts, c.At)
		}
	}
	for i := range ts {
		j := i
		for j < len(ts) && ts[j].Sub(ts[i]) < time.Minute {
			j++
		}
		assert.LessOrEqual(e.t, j-i, 2*deliveryPolls+2, "ECS reads in the minute from %s", ts[i]) // +2: the describes around the update
	}
}

func TestCanaryCompletes(t *testing.T) {
	e := newDeliveryEnv(t)
	res, err := e.eng.Deploy(context.Background(), e.deliveryOpts(canary(), 20*time.Minute))
	require.NoError(t, err, e.log.String())
	assert.Equal(t, Completed, res.Class)
	assert.Equal(t, "deployed sample-app-preprod:2", res.Outcome)
	require.NotNil(t, res.Delivery)
	d := res.Delivery
	assert.Equal(t, "CANARY", d.Strategy)
	assert.Equal(t, "SUCCESSFUL", d.Status)
	assert.Equal(t, 100.0, d.ProductionPercent)
	assert.Empty(t, d.RollbackAlarms)
	assert.Subset(t, stageNames(d), []string{"TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP"})
	// The traffic split as it moved: 10 % first, then all of it, in that order.
	var split []float64
	for _, s := range d.Stages {
		if s.Name == "PRODUCTION_TRAFFIC_SHIFT" {
			split = append(split, s.ProductionPercent)
		}
	}
	assert.Equal(t, []float64{10, 100}, split)
	for i := 1; i < len(d.Stages); i++ {
		assert.False(t, d.Stages[i].At.Before(d.Stages[i-1].At), "stages in time order")
	}

	// What UpdateService sent, as ECS stored it.
	svc, _ := e.fake.Service(cluster, service)
	assert.Equal(t, types.DeploymentStrategyCanary, svc.DeploymentConfiguration.Strategy)
	assert.Equal(t, 10.0, aws.ToFloat64(svc.DeploymentConfiguration.CanaryConfiguration.CanaryPercent))
	assert.Equal(t, int32(5), aws.ToInt32(svc.DeploymentConfiguration.BakeTimeInMinutes))
	assert.Equal(t, []string{alarm5xx}, svc.DeploymentConfiguration.Alarms.AlarmNames)
	assert.True(t, svc.DeploymentConfiguration.Alarms.Rollback)
	require.Len(t, svc.LoadBalancers, 1)
	adv := svc.LoadBalancers[0].AdvancedConfiguration
	require.NotNil(t, adv)
	assert.Equal(t, greenTG, aws.ToString(adv.AlternateTargetGroupArn))
	assert.Equal(t, infraRole, aws.ToString(adv.RoleArn))
	assert.Equal(t, "app", aws.ToString(svc.LoadBalancers[0].ContainerName), "the service's own load balancer entry is kept")
	assert.Equal(t, rev("2"), e.fake.PrimaryTaskDefinition(cluster, service))

	// The follower polls rarely while the bakes run.
	e.assertReadBudget()
	minutes := res.Elapsed.Minutes()
	assert.LessOrEqual(t, float64(res.Polls)/minutes, float64(deliveryPolls), "reads per minute of waiting")
	assert.Contains(t, e.log.String(), "PRODUCTION_TRAFFIC_SHIFT: 10% of production traffic")
	e.assertEventsOnce()
	assert.Contains(t, e.log.String(), "shifted 10% of production traffic to the new revision", "service events are shown")
	e.assertNoSecrets(res, err)
}

func TestAlarmDuringCanaryBakeRollsBack(t *testing.T) {
	e := newDeliveryEnv(t)
	e.fake.FireAlarm(alarm5xx, t0.Add(3*time.Minute)) // during the canary's 5-minute bake at 10 %
	res, err := e.eng.Deploy(context.Background(), e.deliveryOpts(canary(), 20*time.Minute))
	require.Error(t, err)
	assert.Equal(t, RolledBack, res.Class)
	assert.Equal(t, "ecs", res.RolledBackBy)
	assert.Equal(t, "rolled back to sample-app-preprod:1", res.Outcome)
	d := res.Delivery
	require.NotNil(t, d)
	assert.Equal(t, "alarm", d.RolledBackBy)
	assert.Equal(t, []string{alarm5xx}, d.RollbackAlarms)
	assert.Equal(t, 10.0, d.RollbackPercent, "the canary's share when the alarm fired")
	assert.Equal(t, t0.Add(3*time.Minute), d.RollbackAt)
	assert.Equal(t, "ROLLBACK_SUCCESSFUL", d.Status)
	assert.Less(t, maxProduction(d), 100.0, "production traffic never fully moved")
	assert.Contains(t, err.Error(), "alarm "+alarm5xx+" fired at 12:03:00 with 10% of production traffic on the new revision")
	assert.Equal(t, e.oldArn, e.fake.PrimaryTaskDefinition(cluster, service))
	assert.Equal(t, 0, e.calls("StopServiceDeployment"), "ECS rolled back by itself")
	assert.Contains(t, res.Summary(), "rolled back by alarm (alarm sample-app-5xx at 12:03:00, 10% of production traffic on the new revision)")
	e.assertReadBudget()
}

func TestAlarmWithoutRollbackIsReportedStopped(t *testing.T) {
	e := newDeliveryEnv(t)
	d := canary()
	d.AlarmRollback = false
	e.fake.FireAlarm(alarm5xx, t0.Add(3*time.Minute))
	res, err := e.eng.Deploy(context.Background(), e.deliveryOpts(d, 20*time.Minute))
	require.Error(t, err)
	assert.Contains(t, res.Outcome, "stopped without rollback")
	assert.Equal(t, "STOPPED", res.Delivery.Status)
	assert.Equal(t, []string{alarm5xx}, res.Delivery.RollbackAlarms)
	assert.NotEqual(t, Completed, res.Class)
}

func TestBlueGreenProbeFailureNeverShiftsProductionTraffic(t *testing.T) {
	var hits atomic.Int32
	green := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer green.Close()
	e := newDeliveryEnv(t)
	d := &Delivery{Strategy: types.DeploymentStrategyBlueGreen, BakeTime: 5 * time.Minute, LoadBalancer: wiring(),
		TestProbe: HTTPProbe(green.Client(), green.URL+"/healthz", 200, 3, time.Millisecond)}
	res, err := e.eng.Deploy(context.Background(), e.deliveryOpts(d, 20*time.Minute))
	require.Error(t, err)
	assert.Equal(t, RolledBack, res.Class)
	assert.Equal(t, "pipeline", res.RolledBackBy)
	assert.Equal(t, "rolled back to sample-app-preprod:1", res.Outcome)
	rep := res.Delivery
	assert.Equal(t, "test-probe", rep.RolledBackBy)
	assert.Contains(t, rep.Probe, "failed: test probe attempt 1/3")
	assert.Contains(t, rep.Probe, "status 503, expected 200")
	assert.Zero(t, maxProduction(rep), "production traffic never shifted")
	assert.NotContains(t, stageNames(rep), "PRODUCTION_TRAFFIC_SHIFT")
	assert.Contains(t, err.Error(), "test probe failed before any production traffic moved")
	assert.Equal(t, int32(1), hits.Load(), "the probe stops at the first bad answer")
	assert.Equal(t, 1, e.calls("StopServiceDeployment"))
	assert.Equal(t, 0, e.calls("ContinueServiceDeployment"))
	assert.Equal(t, e.oldArn, e.fake.PrimaryTaskDefinition(cluster, service))

	// The PAUSE hook that held the deployment for the probe went on the wire.
	svc, _ := e.fake.Service(cluster, service)
	require.Len(t, svc.DeploymentConfiguration.LifecycleHooks, 1)
	h := svc.DeploymentConfiguration.LifecycleHooks[0]
	assert.Equal(t, types.DeploymentLifecycleHookTargetTypePause, h.TargetType)
	assert.Equal(t, []types.DeploymentLifecycleHookStage{types.DeploymentLifecycleHookStagePostTestTrafficShift}, h.LifecycleStages)
	assert.Equal(t, types.DeploymentLifecycleHookActionRollback, h.TimeoutConfiguration.Action)
	assert.Equal(t, testRule, aws.ToString(svc.LoadBalancers[0].AdvancedConfiguration.TestListenerRule))
}

func TestBlueGreenProbePassesAndCompletes(t *testing.T) {
	var hits atomic.Int32
	green := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer green.Close()
	e := newDeliveryEnv(t)
	d := &Delivery{Strategy: types.DeploymentStrategyBlueGreen, BakeTime: 2 * time.Minute, LoadBalancer: wiring(),
		TestProbe: HTTPProbe(green.Client(), green.URL+"/healthz", 200, 2, time.Millisecond)}
	res, err := e.eng.Deploy(context.Background(), e.deliveryOpts(d, 20*time.Minute))
	require.NoError(t, err, e.log.String())
	assert.Equal(t, "passed", res.Delivery.Probe)
	assert.Equal(t, int32(2), hits.Load())
	assert.Equal(t, 1, e.calls("ContinueServiceDeployment"))
	assert.Equal(t, 100.0, res.Delivery.ProductionPercent)
}

func TestTimeoutDuringBakeRollsBackTruthfully(t *testing.T) {
	e := newDeliveryEnv(t)
	d := canary()
	d.CanaryBakeTime = 10 * time.Minute
	res, err := e.eng.Deploy(context.Background(), e.deliveryOpts(d, 8*time.Minute))
	require.Error(t, err)
	assert.Equal(t, TimedOut, res.Class)
	assert.Equal(t, "pipeline", res.RolledBackBy)
	assert.Equal(t, "rolled back to sample-app-preprod:1", res.Outcome)
	assert.Equal(t, "timeout", res.Delivery.RolledBackBy)
	assert.Equal(t, "ROLLBACK_SUCCESSFUL", res.Delivery.Status)
	assert.Contains(t, res.Reason, "did not finish within 8m0s (in PRODUCTION_TRAFFIC_SHIFT, 10% of production traffic on the new revision)")
	assert.Equal(t, 1, e.calls("StopServiceDeployment"))
	assert.Equal(t, e.oldArn, e.fake.PrimaryTaskDefinition(cluster, service))
	// The wait ended at the deadline, not at the next slow poll.
	stops := e.timesOf("StopServiceDeployment")
	require.Len(t, stops, 1)
	assert.False(t, stops[0].After(t0.Add(8*time.Minute+time.Second)), "stopped at %s", stops[0])
}

func TestCircuitBreakerDuringCanaryIsReported(t *testing.T) {
	e := newDeliveryEnv(t)
	e.fake.ScriptNext(ecsfake.Rollout{Kind: ecsfake.FailTasks, ExitCode: 3})
	res, err := e.eng.Deploy(context.Background(), e.deliveryOpts(canary(), 20*time.Minute))
	require.Error(t, err)
	assert.Equal(t, RolledBack, res.Class)
	assert.Equal(t, "circuit-breaker", res.Delivery.RolledBackBy)
	assert.Contains(t, err.Error(), "circuit breaker")
	assert.Contains(t, err.Error(), "exit code 3")
	assert.Zero(t, maxProduction(res.Delivery))
	assert.Equal(t, e.oldArn, e.fake.PrimaryTaskDefinition(cluster, service))
}

func TestRollingWithAlarmsFollowsTheServiceDeployment(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.fake.SetDeliveryTimings(ecsfake.DeliveryTimings{RollingAlarmBake: 4 * time.Minute})
	e.fake.FireAlarm(alarm5xx, t0.Add(2*time.Minute))
	d := &Delivery{Strategy: types.DeploymentStrategyRolling, Alarms: []string{alarm5xx}, AlarmRollback: true}
	res, err := e.eng.Deploy(context.Background(), e.deliveryOpts(d, 15*time.Minute))
	require.Error(t, err)
	assert.Equal(t, RolledBack, res.Class)
	assert.Equal(t, []string{alarm5xx}, res.Delivery.RollbackAlarms)
	assert.Equal(t, 100.0, res.Delivery.RollbackPercent, "a rolling update had moved all traffic")
	svc, _ := e.fake.Service(cluster, service)
	assert.Empty(t, svc.LoadBalancers, "rolling leaves the load balancers alone")
}

// deliveryless is an ECS client without the service deployment API.
type deliveryless struct{ API }

func TestFallsBackWithoutServiceDeployments(t *testing.T) {
	e := newDeliveryEnv(t)
	eng := New(e.srv.Config(t), Options{Clock: e.clock, Log: e.log})
	eng.ecs = deliveryless{eng.ecs}
	res, err := eng.Deploy(context.Background(), e.deliveryOpts(canary(), 30*time.Minute))
	require.NoError(t, err, e.log.String())
	assert.Contains(t, res.Delivery.FellBack, "followed through DescribeServices")
	assert.Equal(t, 0, e.calls("DescribeServiceDeployments"))
	assert.Equal(t, rev("2"), e.fake.PrimaryTaskDefinition(cluster, service))
}

func TestDeliveryBadInputChangesNothing(t *testing.T) {
	tests := []struct {
		name string
		d    *Delivery
		lbs  bool
		want string
	}{
		{"canary on a service without a load balancer", canary(), false, "needs a load balancer, and service sample-app has none"},
		{"canary without wiring", &Delivery{Strategy: types.DeploymentStrategyCanary, CanaryPercent: 5}, true, "a load balancer with an alternate target group"},
		{"percent out of range", func() *Delivery { d := canary(); d.CanaryPercent = 0; return d }(), true, "canary percent 0: expected 0.1-100"},
		{"linear step below 3", &Delivery{Strategy: types.DeploymentStrategyLinear, LinearPercent: 2, LinearInterval: time.Minute}, true, "linear percent 2: expected 3-100"},
		{"bake in seconds", func() *Delivery { d := canary(); d.BakeTime = 90 * time.Second; return d }(), true, "expected whole minutes"},
		{"probe on canary", func() *Delivery { d := canary(); d.TestProbe = func(context.Context) error { return nil }; return d }(), true, "test probe: only for BLUE_GREEN"},
		{"unknown strategy", &Delivery{Strategy: "BIG_BANG"}, true, `strategy "BIG_BANG"`},
		{"wrong target group", func() *Delivery { d := canary(); d.LoadBalancer.TargetGroupArn = greenTG; return d }(), true, "no load balancer on target group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			if tt.lbs {
				e.fake.SetLoadBalancers(cluster, service, types.LoadBalancer{TargetGroupArn: aws.String(blueTG), ContainerName: aws.String("app"), ContainerPort: aws.Int32(8080)})
			}
			res, err := e.eng.Deploy(context.Background(), e.deliveryOpts(tt.d, 20*time.Minute))
			require.Error(t, err)
			assert.Equal(t, BadInput, res.Class)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, 0, e.calls("RegisterTaskDefinition"))
			assert.Equal(t, 0, e.calls("UpdateService"))
		})
	}
}

func TestDeliveryFromConfig(t *testing.T) {
	f, err := config.Load("../../sample-app/fargate.yaml")
	require.NoError(t, err)
	prod, _ := f.Environment("prod")
	d := DeliveryFromConfig(prod, nil)
	require.NotNil(t, d)
	assert.Equal(t, types.DeploymentStrategyCanary, d.Strategy)
	assert.Equal(t, 10.0, d.CanaryPercent)
	assert.Equal(t, 5*time.Minute, d.CanaryBakeTime)
	assert.Equal(t, prod.Alarms.Names, d.Alarms)
	assert.True(t, d.AlarmRollback)
	require.NotNil(t, d.LoadBalancer)
	assert.Equal(t, prod.LoadBalancer.Role, d.LoadBalancer.RoleArn)
	require.NoError(t, d.validate())
	preprod, _ := f.Environment("preprod")
	assert.Nil(t, DeliveryFromConfig(preprod, nil), "rolling without alarms keeps the classic wait")
}

func TestHTTPProbe(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1) == 2 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	err := HTTPProbe(srv.Client(), srv.URL, 200, 3, time.Millisecond)(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "attempt 2/3")
	assert.Contains(t, err.Error(), "status 500, expected 200")
	n.Store(10)
	require.NoError(t, HTTPProbe(srv.Client(), srv.URL, 200, 2, time.Millisecond)(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = HTTPProbe(srv.Client(), srv.URL, 200, 2, time.Second)(ctx)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled))
}

func TestStatusShowsTheServiceDeploymentStage(t *testing.T) {
	e := newDeliveryEnv(t)
	ctx := context.Background()
	// Follow a canary until the middle of its bake, then stop following: status shows where it is.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.eng.clock = &ecsfake.TriggerClock{VirtualClock: e.clock, At: t0.Add(2 * time.Minute), Do: cancel}
	e.fake.FireAlarm("not-watched", t0.Add(time.Minute)) // an alarm the service does not watch changes nothing
	res, err := e.eng.Deploy(cctx, e.deliveryOpts(canary(), 20*time.Minute))
	require.Error(t, err)
	require.Equal(t, Cancelled, res.Class)
	st, err := e.eng.Status(ctx, cluster, service)
	require.NoError(t, err)
	require.NotNil(t, st.ServiceDeployment)
	assert.Equal(t, "IN_PROGRESS", st.ServiceDeployment.Status)
	assert.Equal(t, "PRODUCTION_TRAFFIC_SHIFT", st.ServiceDeployment.Stage)
	assert.Equal(t, 10.0, st.ServiceDeployment.ProductionPercent)
	assert.Empty(t, st.ServiceDeployment.TriggeredAlarms)
	assert.Contains(t, st.String(), "(CANARY): IN_PROGRESS, stage PRODUCTION_TRAFFIC_SHIFT, 10% production / 100% test traffic on the new revision")
}

func TestProbeHookDoesNotOutliveTheProbe(t *testing.T) {
	green := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer green.Close()
	e := newDeliveryEnv(t)
	lambda := types.DeploymentLifecycleHook{TargetType: types.DeploymentLifecycleHookTargetTypeAwsLambda,
		HookTargetArn:   aws.String("arn:aws:lambda:eu-west-1:123456789012:function:smoke"),
		LifecycleStages: []types.DeploymentLifecycleHookStage{types.DeploymentLifecycleHookStagePostScaleUp}}
	bg := &Delivery{Strategy: types.DeploymentStrategyBlueGreen, LoadBalancer: wiring(),
		TestProbe: HTTPProbe(green.Client(), green.URL, 200, 1, time.Millisecond)}
	svc, _ := e.fake.Service(cluster, service)
	cfg := *svc.DeploymentConfiguration
	cfg.LifecycleHooks = []types.DeploymentLifecycleHook{lambda}
	lbs, err := bg.apply(&cfg, &svc)
	require.NoError(t, err)
	require.Len(t, lbs, 1)
	require.Len(t, cfg.LifecycleHooks, 2, "the Lambda hook is kept, the probe's PAUSE hook added")
	assert.Equal(t, lambda, cfg.LifecycleHooks[0])
	again, _ := bg.apply(&cfg, &svc)
	require.Len(t, again, 1)
	assert.Len(t, cfg.LifecycleHooks, 2, "applying twice does not add a second PAUSE hook")

	// Deploy with the probe, then a canary without: the second must not pause.
	_, err = e.eng.Deploy(context.Background(), e.deliveryOpts(bg, 20*time.Minute))
	require.NoError(t, err, e.log.String())
	o := e.deliveryOpts(canary(), 20*time.Minute)
	o.Definition = e.rendered()
	res, err := e.eng.Deploy(context.Background(), o)
	require.NoError(t, err, e.log.String())
	assert.Equal(t, "SUCCESSFUL", res.Delivery.Status)
	now, _ := e.fake.Service(cluster, service)
	assert.Empty(t, now.DeploymentConfiguration.LifecycleHooks, "the PAUSE hook was removed")
	assert.Equal(t, 1, e.calls("ContinueServiceDeployment"), "only the probed deployment paused")
}

// noCurrent is an ECS client whose UpdateService answers without the current service
// deployment (older API versions), optionally without ListServiceDeployments either.
type noCurrent struct {
	*awsecs.Client
	listFails bool
}

func (c noCurrent) UpdateService(ctx context.Context, in *awsecs.UpdateServiceInput, optFns ...func(*awsecs.Options)) (*awsecs.UpdateServiceOutput, error) {
	out, err := c.Client.UpdateService(ctx, in, optFns...)
	if out != nil && out.Service != nil {
		out.Service.CurrentServiceDeployment = nil
	}
	return out, err
}

func (c noCurrent) ListServiceDeployments(ctx context.Context, in *awsecs.ListServiceDeploymentsInput, optFns ...func(*awsecs.Options)) (*awsecs.ListServiceDeploymentsOutput, error) {
	if c.listFails {
		return nil, errors.New("UnknownOperationException: ListServiceDeployments")
	}
	return c.Client.ListServiceDeployments(ctx, in, optFns...)
}

func TestServiceDeploymentFoundByListing(t *testing.T) {
	for _, fails := range []bool{false, true} {
		e := newDeliveryEnv(t)
		eng := New(e.srv.Config(t), Options{Clock: e.clock, Log: e.log})
		eng.ecs = noCurrent{Client: awsecs.NewFromConfig(e.srv.Config(t)), listFails: fails}
		res, err := eng.Deploy(context.Background(), e.deliveryOpts(canary(), 30*time.Minute))
		require.NoError(t, err, e.log.String())
		assert.Equal(t, rev("2"), e.fake.PrimaryTaskDefinition(cluster, service))
		if fails {
			assert.Contains(t, res.Delivery.FellBack, "UnknownOperationException")
			assert.Equal(t, 0, e.calls("DescribeServiceDeployments"))
			continue
		}
		assert.Equal(t, 1, e.calls("ListServiceDeployments"))
		assert.Equal(t, e.fake.ServiceDeploymentArns(cluster, service)[0], res.Delivery.ServiceDeploymentArn, "the newest one, ours")
		assert.Equal(t, "SUCCESSFUL", res.Delivery.Status)
	}
}
