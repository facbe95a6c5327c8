package ecs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/ecsfake"
	"dagger/fargate/pipeline/internal/fakeaws"
	"dagger/fargate/pipeline/taskdef"
)

const (
	cluster    = "preprod"
	service    = "sample-app"
	family     = "sample-app-preprod"
	account    = "123456789012"
	repo       = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sample-app"
	oldDigest  = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	newDigest  = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	fakeKeyID  = "AKIAFAKEFAKEFAKEFAKE"
	fakeSecret = "fake-secret-never-printed"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const taskDefJSON = `{
  "family": "sample-app-preprod",
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "cpu": "256",
  "memory": "512",
  "containerDefinitions": [{
    "name": "app",
    "image": "` + repo + `@` + oldDigest + `",
    "essential": true,
    "readonlyRootFilesystem": true,
    "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/sample-app"}}
  }]
}`

type env struct {
	t      testing.TB
	srv    *fakeaws.Server
	fake   *ecsfake.Fake
	clock  *ecsfake.VirtualClock
	eng    *Engine
	log    *bytes.Buffer
	oldArn string
}

type envOpts struct {
	readLag time.Duration
	config  *types.DeploymentConfiguration
	clock   Clock
	lb      bool // the service sits behind a load balancer (old tasks drain)
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	srv := fakeaws.New(t)
	clock := ecsfake.NewVirtualClock(t0)
	fake := ecsfake.New(srv, clock, ecsfake.Options{ReadLag: o.readLag})
	srv.HandleQuery("sts", "GetCallerIdentity", func(url.Values) (string, error) {
		return `<Arn>arn:aws:iam::` + account + `:user/deployer</Arn><UserId>AIDAFAKE</UserId><Account>` + account + `</Account>`, nil
	})
	oldArn, err := fake.RegisterJSON(taskDefJSON)
	require.NoError(t, err)
	cfg := types.DeploymentConfiguration{
		MinimumHealthyPercent: aws.Int32(100), MaximumPercent: aws.Int32(200),
		Alarms: &types.DeploymentAlarms{AlarmNames: []string{"sample-app-5xx"}, Enable: true, Rollback: true},
	}
	if o.config != nil {
		cfg = *o.config
	}
	var lbs []types.LoadBalancer
	if o.lb {
		lbs = []types.LoadBalancer{{ContainerName: aws.String("app"), ContainerPort: aws.Int32(8080),
			TargetGroupArn: aws.String("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/sample-app/0123456789abcdef")}}
	}
	require.NoError(t, fake.CreateService(ecsfake.ServiceSpec{Cluster: cluster, Name: service, TaskDefinition: oldArn, DesiredCount: 2, DeploymentConfiguration: cfg, LoadBalancers: lbs}))
	log := &bytes.Buffer{}
	var c Clock = clock
	if o.clock != nil {
		c = o.clock
	}
	eng := New(srv.Config(t), Options{Clock: c, Log: log})
	return &env{t: t, srv: srv, fake: fake, clock: clock, eng: eng, log: log, oldArn: oldArn}
}

func (e *env) rendered() *taskdef.Definition {
	e.t.Helper()
	d, err := taskdef.Parse("taskdef.json", []byte(taskDefJSON))
	require.NoError(e.t, err)
	r, err := d.Render(taskdef.RenderOptions{Containers: []string{"app"}, Image: repo + "@" + newDigest, Environment: map[string]string{"LOG_LEVEL": "info"}})
	require.NoError(e.t, err)
	return r.Definition
}

func (e *env) deployOpts() DeployOptions {
	tags, err := taskdef.Tags(taskdef.TagInput{Environment: "preprod", GitRevision: "9fceb02d", ImageDigest: newDigest})
	require.NoError(e.t, err)
	return DeployOptions{Cluster: cluster, Service: service, Definition: e.rendered(), Tags: tags, ExpectedAccount: account, Timeout: 15 * time.Minute}
}

func (e *env) calls(op string) int { return e.srv.Calls("ecs", op) }

// timesOf lists the fake-clock times of an operation's calls (retries share a time).
func (e *env) timesOf(op string) []time.Time {
	var out []time.Time
	for _, c := range e.fake.Calls() {
		if c.Operation == op {
			out = append(out, c.At)
		}
	}
	return out
}

func distinct(ts []time.Time) []time.Time {
	var out []time.Time
	for _, t := range ts {
		if len(out) == 0 || !out[len(out)-1].Equal(t) {
			out = append(out, t)
		}
	}
	return out
}

// assertNoSecrets checks that neither the credentials nor anything like them leaked.
func (e *env) assertNoSecrets(res *Result, err error) {
	e.t.Helper()
	all := e.log.String() + res.Summary() + res.Outcome + res.Reason
	if err != nil {
		all += err.Error()
	}
	assert.NotContains(e.t, all, fakeKeyID)
	assert.NotContains(e.t, all, fakeSecret)
}

// assertEventsOnce checks that each service event was printed once, oldest first.
func (e *env) assertEventsOnce() {
	e.t.Helper()
	seen := map[string]bool{}
	var prev string
	for _, line := range strings.Split(e.log.String(), "\n") {
		if !strings.HasPrefix(line, "event: ") {
			continue
		}
		assert.False(e.t, seen[line], "event printed twice: %s", line)
		seen[line] = true
		stamp := strings.Fields(line)[1]
		assert.GreaterOrEqual(e.t, stamp, prev, "events out of order")
		prev = stamp
	}
	assert.NotEmpty(e.t, seen, "no events printed")
}

func rev(n string) string {
	return "arn:aws:ecs:eu-west-1:123456789012:task-definition/sample-app-preprod:" + n
}

func TestDeployHealthy(t *testing.T) {
	e := newEnv(t, envOpts{})
	res, err := e.eng.Deploy(context.Background(), e.deployOpts())
	require.NoError(t, err)
	assert.Equal(t, Completed, res.Class)
	assert.Equal(t, "deployed sample-app-preprod:2", res.Outcome)
	assert.Equal(t, rev("2"), res.RegisteredTaskDefinition)
	assert.Equal(t, e.oldArn, res.PreviousTaskDefinition)
	assert.True(t, res.ServiceUpdated)
	assert.Equal(t, rev("2"), res.FinalTaskDefinition)
	assert.Equal(t, "COMPLETED", res.FinalRolloutState)
	assert.Equal(t, 1, res.FinalDeployments)

	// The fake ends on our revision, alone, with the circuit breaker on and the other
	// deployment settings kept.
	svc, ok := e.fake.Service(cluster, service)
	require.True(t, ok)
	require.Len(t, svc.Deployments, 1)
	assert.Equal(t, rev("2"), aws.ToString(svc.Deployments[0].TaskDefinition))
	assert.Equal(t, int32(2), svc.RunningCount)
	cfg := svc.DeploymentConfiguration
	require.NotNil(t, cfg.DeploymentCircuitBreaker)
	assert.True(t, cfg.DeploymentCircuitBreaker.Enable)
	assert.True(t, cfg.DeploymentCircuitBreaker.Rollback)
	assert.Equal(t, int32(100), aws.ToInt32(cfg.MinimumHealthyPercent))
	assert.Equal(t, int32(200), aws.ToInt32(cfg.MaximumPercent))
	assert.Equal(t, []string{"sample-app-5xx"}, cfg.Alarms.AlarmNames)

	// Registered with the image and the tags.
	td, tags, ok := e.fake.TaskDefinition(rev("2"))
	require.True(t, ok)
	assert.Equal(t, repo+"@"+newDigest, aws.ToString(td.ContainerDefinitions[0].Image))
	tagMap := map[string]string{}
	for _, tg := range tags {
		tagMap[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	assert.Equal(t, newDigest, tagMap[taskdef.TagImageDigest])
	assert.Equal(t, "preprod", tagMap[taskdef.TagEnvironment])

	// It returned soon after the steady state, within the call budget.
	steady, ok := e.fake.SteadyAt(cluster, service)
	require.True(t, ok)
	assert.LessOrEqual(t, t0.Add(res.Elapsed).Sub(steady), 2*time.Second)
	assertBudget(t, distinct(e.timesOf("DescribeServices")), 40)

	e.assertEventsOnce()
	assert.Contains(t, e.log.String(), "has reached a steady state.")
	assert.Contains(t, e.log.String(), "running 2/2")
	e.assertNoSecrets(res, err)
}

// assertBudget: at most n polls in any minute.
func assertBudget(t *testing.T, ts []time.Time, n int) {
	t.Helper()
	for i := range ts {
		j := i
		for j < len(ts) && ts[j].Sub(ts[i]) < time.Minute {
			j++
		}
		assert.LessOrEqual(t, j-i, n, "polls in the minute from %s", ts[i])
	}
}

func TestDeployCircuitBreakerRollbackIsAFailure(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.fake.ScriptNext(ecsfake.Rollout{Kind: ecsfake.FailTasks, StoppedReason: "Essential container in task exited", ExitCode: 137})
	res, err := e.eng.Deploy(context.Background(), e.deployOpts())
	require.Error(t, err)
	assert.Equal(t, RolledBack, res.Class)
	assert.Equal(t, "ecs", res.RolledBackBy)
	assert.Equal(t, "rolled back to sample-app-preprod:1", res.Outcome)
	assert.Contains(t, err.Error(), "rolled back to sample-app-preprod:1")
	assert.Contains(t, err.Error(), "ECS deployment circuit breaker: tasks failed to start.")
	assert.Contains(t, err.Error(), "Essential container in task exited")
	assert.Contains(t, err.Error(), "exit code 137")
	require.NotEmpty(t, res.StoppedTasks)
	assert.Equal(t, rev("2"), res.StoppedTasks[0].TaskDefinition)
	assert.Equal(t, rev("1"), res.FinalTaskDefinition)
	assert.Equal(t, "COMPLETED", res.FinalRolloutState)

	// The fake: PRIMARY is the old revision, alone; ECS did the rollback, we did not.
	svc, _ := e.fake.Service(cluster, service)
	require.Len(t, svc.Deployments, 1)
	assert.Equal(t, e.oldArn, aws.ToString(svc.Deployments[0].TaskDefinition))
	assert.Equal(t, 1, e.calls("UpdateService"))
	// A services-stable waiter would have said stable here: one deployment, running == desired.
	assert.Equal(t, svc.DesiredCount, svc.RunningCount)

	e.assertEventsOnce()
	assert.Contains(t, e.log.String(), "deployment failed: tasks failed to start.")
	assert.Contains(t, e.log.String(), "rolling back to deployment")
	e.assertNoSecrets(res, err)
}

func TestDeployFailedWithoutECSRollbackIsRolledBackByUs(t *testing.T) {
	e := newEnv(t, envOpts{config: &types.DeploymentConfiguration{
		DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: false},
	}})
	e.fake.ScriptNext(ecsfake.Rollout{Kind: ecsfake.FailTasks})
	o := e.deployOpts()
	o.DisableCircuitBreaker = true
	res, err := e.eng.Deploy(context.Background(), o)
	require.Error(t, err)
	assert.Equal(t, RolledBack, res.Class)
	assert.Equal(t, "pipeline", res.RolledBackBy)
	assert.Equal(t, "rolled back to sample-app-preprod:1", res.Outcome)
	assert.Contains(t, res.Reason, "tasks failed to start")
	assert.Equal(t, 2, e.calls("UpdateService"))
	assert.Equal(t, e.oldArn, e.fake.PrimaryTaskDefinition(cluster, service))
	svc, _ := e.fake.Service(cluster, service)
	assert.False(t, svc.DeploymentConfiguration.DeploymentCircuitBreaker.Rollback, "DisableCircuitBreaker must leave the service's breaker alone")
}

func TestDeployTimeoutRollsBack(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.fake.ScriptNext(ecsfake.Rollout{Kind: ecsfake.Hang})
	o := e.deployOpts()
	o.Timeout = 2 * time.Minute
	res, err := e.eng.Deploy(context.Background(), o)
	require.Error(t, err)
	assert.Equal(t, TimedOut, res.Class)
	assert.Equal(t, "pipeline", res.RolledBackBy)
	assert.Equal(t, "rolled back to sample-app-preprod:1", res.Outcome)
	assert.Contains(t, err.Error(), "did not complete within 2m0s")
	assert.Contains(t, err.Error(), "pending 2")
	assert.Equal(t, e.oldArn, e.fake.PrimaryTaskDefinition(cluster, service))

	// The deadline is exact: the rollback was issued exactly Timeout after the update, and
	// no poll of the first wait came after it.
	updates := e.timesOf("UpdateService")
	require.Len(t, updates, 2)
	assert.Equal(t, 2*time.Minute, updates[1].Sub(updates[0]))
	for _, at := range e.timesOf("DescribeServices") {
		if at.Before(updates[1]) {
			assert.False(t, at.After(updates[0].Add(2*time.Minute)))
		}
	}
}

func TestDeployNoRollbackOption(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.fake.ScriptNext(ecsfake.Rollout{Kind: ecsfake.Hang})
	o := e.deployOpts()
	o.Timeout = time.Minute
	o.NoRollback = true
	res, err := e.eng.Deploy(context.Background(), o)
	require.Error(t, err)
	assert.Equal(t, TimedOut, res.Class)
	assert.Equal(t, "not rolled back (rollback disabled), service on sample-app-preprod:2", res.Outcome)
	assert.Equal(t, 1, e.calls("UpdateService"))
}

func TestDeployThroughTransientFaults(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.srv.FailNext("ecs", "RegisterTaskDefinition", fakeaws.Throttling(), fakeaws.ServerError())
	e.srv.FailNext("ecs", "UpdateService", fakeaws.ServerError())
	e.srv.FailNext("ecs", "DescribeServices", fakeaws.ServerError(), fakeaws.ServerError())
	res, err := e.eng.Deploy(context.Background(), e.deployOpts())
	require.NoError(t, err)
	assert.Equal(t, "deployed sample-app-preprod:2", res.Outcome)
	assert.Len(t, e.fake.Revisions(family), 2, "a retried registration must not register twice")
}

func TestThrottlingBacksOff(t *testing.T) {
	// Baseline: the same rollout without throttling.
	base := newEnv(t, envOpts{})
	_, err := base.eng.Deploy(context.Background(), base.deployOpts())
	require.NoError(t, err)

	e := newEnv(t, envOpts{})
	from, to := t0.Add(10*time.Second), t0.Add(40*time.Second)
	e.fake.ThrottleDescribeServices(from, to)
	res, err := e.eng.Deploy(context.Background(), e.deployOpts())
	require.NoError(t, err)
	assert.Equal(t, Completed, res.Class)
	assert.Positive(t, res.Throttled)
	assert.GreaterOrEqual(t, res.MaxInterval, 8*time.Second, "the interval must grow under throttling")

	inWindow := func(ts []time.Time) int {
		n := 0
		for _, at := range distinct(ts) {
			if !at.Before(from) && at.Before(to) {
				n++
			}
		}
		return n
	}
	throttled, normal := inWindow(e.timesOf("DescribeServices")), inWindow(base.timesOf("DescribeServices"))
	assert.Less(t, throttled*2, normal+1, "polls during throttling (%d) should be at most half the normal rate (%d)", throttled, normal)
	// Intervals between polls inside the window never shrink while throttled.
	var prev time.Duration
	ts := distinct(e.timesOf("DescribeServices"))
	for i := 1; i < len(ts); i++ {
		if ts[i-1].Before(from) || !ts[i].Before(to) {
			continue
		}
		gap := ts[i].Sub(ts[i-1])
		assert.GreaterOrEqual(t, gap, prev)
		prev = gap
	}
}

func TestReadLagIsNotAFailure(t *testing.T) {
	e := newEnv(t, envOpts{readLag: 8 * time.Second})
	res, err := e.eng.Deploy(context.Background(), e.deployOpts())
	require.NoError(t, err)
	assert.Equal(t, "deployed sample-app-preprod:2", res.Outcome)
	// The engine did read during the lag (and saw the old state).
	updated := e.timesOf("UpdateService")[0]
	lagged := 0
	for _, at := range e.timesOf("DescribeServices") {
		if at.After(updated) && at.Before(updated.Add(8*time.Second)) {
			lagged++
		}
	}
	assert.Positive(t, lagged)
	assert.Contains(t, e.log.String(), "waiting for the new deployment to appear")
}

func TestDeploymentInProgress(t *testing.T) {
	t.Run("refused, nothing changed", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		other, err := e.fake.RegisterJSON(taskDefJSON)
		require.NoError(t, err)
		require.NoError(t, e.fake.StartDeployment(cluster, service, other, ecsfake.Rollout{}))
		res, err := e.eng.Deploy(context.Background(), e.deployOpts())
		require.Error(t, err)
		assert.Equal(t, Busy, res.Class)
		assert.Contains(t, err.Error(), "is in progress")
		assert.Zero(t, e.calls("RegisterTaskDefinition"))
		assert.Zero(t, e.calls("UpdateService"))
	})
	t.Run("wait first, then deploy", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		other, err := e.fake.RegisterJSON(taskDefJSON)
		require.NoError(t, err)
		require.NoError(t, e.fake.StartDeployment(cluster, service, other, ecsfake.Rollout{}))
		o := e.deployOpts()
		o.WaitForInProgress = true
		res, err := e.eng.Deploy(context.Background(), o)
		require.NoError(t, err)
		assert.Equal(t, "deployed sample-app-preprod:3", res.Outcome)
		assert.Equal(t, other, res.PreviousTaskDefinition)
		assert.Equal(t, rev("3"), e.fake.PrimaryTaskDefinition(cluster, service))
		// Registration came only after the other deployment finished.
		steadyBefore := e.timesOf("RegisterTaskDefinition")[0]
		assert.GreaterOrEqual(t, steadyBefore.Sub(t0), 45*time.Second)
	})
}

func TestBadInputChangesNothing(t *testing.T) {
	tests := []struct {
		name  string
		opts  func(e *env) (DeployOptions, error)
		class Class
		want  string
	}{
		{"malformed JSON", func(e *env) (DeployOptions, error) {
			_, err := taskdef.Parse("taskdef.json", []byte(`{"family": "x",`))
			return DeployOptions{}, err
		}, BadInput, "malformed JSON"},
		{"missing container", func(e *env) (DeployOptions, error) {
			d, _ := taskdef.Parse("taskdef.json", []byte(taskDefJSON))
			_, err := d.Render(taskdef.RenderOptions{Containers: []string{"web"}, Image: repo + "@" + newDigest})
			return DeployOptions{}, err
		}, BadInput, `container "web" not found`},
		{"no definition", func(e *env) (DeployOptions, error) {
			o := e.deployOpts()
			o.Definition = nil
			return o, nil
		}, BadInput, "task definition: required"},
		{"no cluster", func(e *env) (DeployOptions, error) {
			o := e.deployOpts()
			o.Cluster = ""
			return o, nil
		}, BadInput, "cluster: required"},
		{"bad account id", func(e *env) (DeployOptions, error) {
			o := e.deployOpts()
			o.ExpectedAccount = "12345"
			return o, nil
		}, BadInput, "12-digit"},
		{"bad tag", func(e *env) (DeployOptions, error) {
			o := e.deployOpts()
			o.Tags = append(o.Tags, types.Tag{Key: aws.String("aws:x"), Value: aws.String("y")})
			return o, nil
		}, BadInput, "aws: prefix"},
		{"credential in environment", func(e *env) (DeployOptions, error) {
			leaky := strings.Replace(taskDefJSON, `"essential": true,`, `"essential": true, "environment": [{"name": "DB_PASSWORD", "value": "hunter2hunter2"}],`, 1)
			d, err := taskdef.Parse("taskdef.json", []byte(leaky))
			require.NoError(e.t, err)
			o := e.deployOpts()
			o.Definition = d
			return o, nil
		}, BadInput, "environment variable DB_PASSWORD has a credential-like name"},
		{"wrong account", func(e *env) (DeployOptions, error) {
			o := e.deployOpts()
			o.ExpectedAccount = "999999999999"
			return o, nil
		}, WrongAccount, "belong to account 123456789012, expected 999999999999"},
		{"unknown service", func(e *env) (DeployOptions, error) {
			o := e.deployOpts()
			o.Service = "nope"
			return o, nil
		}, BadInput, "service nope not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			o, perr := tt.opts(e)
			if perr != nil {
				// The lead's flow stops at the taskdef error; nothing reaches AWS.
				assert.Contains(t, perr.Error(), tt.want)
			} else {
				res, err := e.eng.Deploy(context.Background(), o)
				require.Error(t, err)
				assert.Equal(t, tt.class, res.Class)
				assert.Contains(t, err.Error(), tt.want)
				assert.False(t, res.ServiceUpdated)
				e.assertNoSecrets(res, err)
				assert.NotContains(t, err.Error(), "hunter2")
			}
			for _, c := range e.srv.CallLog() {
				assert.NotEqual(t, "RegisterTaskDefinition", c.Operation)
				assert.NotEqual(t, "UpdateService", c.Operation)
			}
			assert.Len(t, e.fake.Revisions(family), 1)
		})
	}
}

func TestUpdateServiceFailureIsReported(t *testing.T) {
	e := newEnv(t, envOpts{})
	errs := make([]*fakeaws.APIError, 10)
	for i := range errs {
		errs[i] = fakeaws.ServerError()
	}
	e.srv.FailNext("ecs", "UpdateService", errs...)
	res, err := e.eng.Deploy(context.Background(), e.deployOpts())
	require.Error(t, err)
	assert.Equal(t, AWSError, res.Class)
	assert.False(t, res.ServiceUpdated)
	assert.Equal(t, rev("2"), res.RegisteredTaskDefinition)
	assert.Contains(t, res.Outcome, "service not updated")
	assert.Equal(t, e.oldArn, res.FinalTaskDefinition)
	e.assertNoSecrets(res, err)
}

func TestCancelMidWaitReportsState(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := &ecsfake.TriggerClock{At: t0.Add(20 * time.Second), Do: cancel}
	e := newEnv(t, envOpts{clock: clk})
	clk.VirtualClock = e.clock
	res, err := e.eng.Deploy(ctx, e.deployOpts())
	require.Error(t, err)
	assert.Equal(t, Cancelled, res.Class)
	assert.True(t, res.ServiceUpdated)
	assert.Equal(t, rev("2"), res.RegisteredTaskDefinition)
	assert.Equal(t, rev("2"), res.FinalTaskDefinition)
	assert.Equal(t, "IN_PROGRESS", res.FinalRolloutState)
	assert.Equal(t, "cancelled: service on sample-app-preprod:2 (IN_PROGRESS; updated to sample-app-preprod:2), ECS continues the rollout on its own", res.Outcome)
	assert.NotContains(t, res.Outcome+res.Reason, "rollback failed")
	assert.Contains(t, res.Summary(), "service updated: true")
	assert.Equal(t, 1, e.calls("UpdateService"), "a cancelled deploy is not rolled back behind the user's back")
	assert.Equal(t, rev("2"), e.fake.PrimaryTaskDefinition(cluster, service))
}

func TestRollbackCommand(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, err := e.eng.Deploy(context.Background(), e.deployOpts())
	require.NoError(t, err)

	res, err := e.eng.Rollback(context.Background(), RollbackOptions{Cluster: cluster, Service: service, ExpectedAccount: account})
	require.NoError(t, err)
	assert.Equal(t, Completed, res.Class)
	assert.Equal(t, "rolled back to sample-app-preprod:1", res.Outcome)
	assert.Equal(t, e.oldArn, e.fake.PrimaryTaskDefinition(cluster, service))

	res, err = e.eng.Rollback(context.Background(), RollbackOptions{Cluster: cluster, Service: service, To: "sample-app-preprod:2"})
	require.NoError(t, err)
	assert.Equal(t, "rolled back to sample-app-preprod:2", res.Outcome)

	for _, to := range []string{"sample-app-preprod", "sample-app-preprod:9", "sample-app-preprod:2"} {
		res, err = e.eng.Rollback(context.Background(), RollbackOptions{Cluster: cluster, Service: service, To: to})
		require.Error(t, err, to)
		assert.Equal(t, BadInput, res.Class, to)
	}
	assert.Equal(t, 3, e.calls("UpdateService"))
}

func TestStatusCurrentImageAndDiff(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()

	img, err := e.eng.CurrentImage(ctx, cluster, service, "app")
	require.NoError(t, err)
	assert.Equal(t, ServiceImage{TaskDefinitionArn: e.oldArn, Image: repo + "@" + oldDigest, Digest: oldDigest, RolloutState: "COMPLETED", Deployments: 1, Stable: true}, img)
	_, err = e.eng.CurrentImage(ctx, cluster, service, "web")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `container "web" not in sample-app-preprod:1 (containers: app)`)

	diff, err := e.eng.Diff(ctx, cluster, service, e.rendered())
	require.NoError(t, err)
	assert.Contains(t, diff, "--- sample-app-preprod:1 (running)")
	assert.Contains(t, diff, "-      \"image\": \""+repo+"@"+oldDigest+"\",")
	assert.Contains(t, diff, "+      \"image\": \""+repo+"@"+newDigest+"\",")
	assert.Contains(t, diff, `+          "name": "LOG_LEVEL",`)

	same, err := taskdef.Parse("taskdef.json", []byte(taskDefJSON))
	require.NoError(t, err)
	diff, err = e.eng.Diff(ctx, cluster, service, same)
	require.NoError(t, err)
	assert.Empty(t, diff)

	// Mid-rollout: not stable, two deployments.
	require.NoError(t, e.fake.StartDeployment(cluster, service, e.oldArn, ecsfake.Rollout{}))
	e.clock.Advance(10 * time.Second)
	st, err := e.eng.Status(ctx, cluster, service)
	require.NoError(t, err)
	assert.False(t, st.Stable)
	assert.Len(t, st.Deployments, 2)
	assert.Equal(t, "IN_PROGRESS", st.RolloutState)
	assert.Equal(t, []ContainerImage{{Container: "app", Image: repo + "@" + oldDigest, Digest: oldDigest}}, st.Images)
	require.NotEmpty(t, st.Events)
	assert.Contains(t, st.Events[len(st.Events)-1], "has started 2 tasks")
	img, err = e.eng.CurrentImage(ctx, cluster, service, "app")
	require.NoError(t, err)
	assert.False(t, img.Stable)
	assert.Equal(t, 2, img.Deployments)

	// The rendering users read from `dagger call status`.
	text := st.String()
	assert.Contains(t, text, cluster+"/"+service+": NOT STABLE on sample-app-preprod:1 (IN_PROGRESS)")
	assert.Contains(t, text, "  PRIMARY  ecs-svc/")
	assert.Contains(t, text, "  ACTIVE   ecs-svc/")
	assert.Contains(t, text, "rollout IN_PROGRESS, running 0/2, pending 2")
	assert.Contains(t, text, "app: "+repo+"@"+oldDigest+" (digest "+oldDigest+")")
	assert.Contains(t, text, "has started 2 tasks")
}

// The UpdateService request carries the breaker and the kept settings on the wire.
func TestUpdateServiceWire(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, err := e.eng.Deploy(context.Background(), e.deployOpts())
	require.NoError(t, err)
	var body map[string]any
	for _, c := range e.srv.CallLog() {
		if c.Operation == "UpdateService" {
			require.NoError(t, json.Unmarshal(c.Body, &body))
		}
	}
	dc := body["deploymentConfiguration"].(map[string]any)
	assert.Equal(t, map[string]any{"enable": true, "rollback": true}, dc["deploymentCircuitBreaker"])
	assert.EqualValues(t, 100, dc["minimumHealthyPercent"])
	assert.EqualValues(t, 200, dc["maximumPercent"])
	assert.Equal(t, rev("2"), body["taskDefinition"])
}

// Another client's deployment replacing ours mid-rollout is a concurrent deploy, not a
// rollback: we say whose it is and do not roll back over it.
func TestReplacedMidRolloutIsAConcurrentDeploy(t *testing.T) {
	clk := &ecsfake.TriggerClock{At: t0.Add(20 * time.Second)}
	e := newEnv(t, envOpts{clock: clk})
	clk.VirtualClock = e.clock
	other, err := e.fake.RegisterJSON(taskDefJSON) // revision 2: ours will be 3
	require.NoError(t, err)
	clk.Do = func() { require.NoError(t, e.fake.StartDeployment(cluster, service, other, ecsfake.Rollout{})) }
	res, err := e.eng.Deploy(context.Background(), e.deployOpts())
	require.Error(t, err)
	assert.Equal(t, ConcurrentDeploy, res.Class)
	assert.Empty(t, res.RolledBackBy)
	require.NotNil(t, res.Concurrent)
	assert.Equal(t, other, res.Concurrent.TaskDefinition)
	assert.Contains(t, res.Outcome, "concurrent deploy detected: deployment ecs-svc/")
	assert.Contains(t, res.Outcome, "service on sample-app-preprod:2")
	assert.Equal(t, other, e.fake.PrimaryTaskDefinition(cluster, service))
	assert.Equal(t, 1, e.calls("UpdateService"))
}

func TestDiffRedactsCredentialsOfRunningDefinition(t *testing.T) {
	e := newEnv(t, envOpts{})
	secret := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	leaky := strings.Replace(taskDefJSON, `"essential": true,`, `"essential": true, "environment": [{"name": "AWS_SECRET_ACCESS_KEY", "value": "`+secret+`"}],`, 1)
	arn, err := e.fake.RegisterJSON(leaky)
	require.NoError(t, err)
	require.NoError(t, e.fake.StartDeployment(cluster, service, arn, ecsfake.Rollout{}))
	diff, err := e.eng.Diff(context.Background(), cluster, service, e.rendered())
	require.NoError(t, err)
	assert.Contains(t, diff, "AWS_SECRET_ACCESS_KEY")
	assert.NotContains(t, diff, secret)
}

func TestStatusDigestOfTagOnlyImageComesFromRunningTasks(t *testing.T) {
	e := newEnv(t, envOpts{})
	tagged := strings.Replace(taskDefJSON, repo+"@"+oldDigest, repo+":v1.2.3", 1)
	arn, err := e.fake.RegisterJSON(tagged)
	require.NoError(t, err)
	require.NoError(t, e.fake.StartDeployment(cluster, service, arn, ecsfake.Rollout{}))
	e.clock.Advance(time.Minute)
	img, err := e.eng.CurrentImage(context.Background(), cluster, service, "app")
	require.NoError(t, err)
	assert.True(t, img.Stable)
	assert.Equal(t, repo+":v1.2.3", img.Image)
	assert.Equal(t, ecsfake.ResolvedDigest(repo+":v1.2.3"), img.Digest)
}

func TestWaitForInProgressThatECSRollsBack(t *testing.T) {
	e := newEnv(t, envOpts{})
	bad, err := e.fake.RegisterJSON(taskDefJSON)
	require.NoError(t, err)
	require.NoError(t, e.fake.StartDeployment(cluster, service, bad, ecsfake.Rollout{Kind: ecsfake.FailTasks}))
	// The service's breaker must be on for ECS to roll back by itself.
	_, err = e.eng.ecs.UpdateService(context.Background(), &awsecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String(service),
		DeploymentConfiguration: &types.DeploymentConfiguration{DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}}})
	require.NoError(t, err)
	o := e.deployOpts()
	o.WaitForInProgress = true
	res, err := e.eng.Deploy(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, "deployed sample-app-preprod:3", res.Outcome)
	assert.Equal(t, e.oldArn, res.PreviousTaskDefinition, "the revision ECS rolled back to is the one to return to")
	assert.Equal(t, rev("3"), e.fake.PrimaryTaskDefinition(cluster, service))
}

// The account is checked on its own, before the pipeline publishes anything to ECR.
func TestVerifyAccount(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	require.NoError(t, e.eng.VerifyAccount(ctx, account))

	err := e.eng.VerifyAccount(ctx, "999999999999")
	var wrong *WrongAccountError
	require.True(t, errors.As(err, &wrong), "%v", err)
	assert.Equal(t, account, wrong.Got)
	assert.Contains(t, err.Error(), "belong to account "+account+", expected 999999999999")

	err = e.eng.VerifyAccount(ctx, "12345")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "expected a 12-digit AWS account ID")

	e.srv.FailNext("sts", "GetCallerIdentity", fakeaws.Errorf("ExpiredToken", "the security token included in the request is expired"))
	err = e.eng.VerifyAccount(ctx, account)
	require.Error(t, err)
	assert.False(t, errors.As(err, &wrong))
	assert.Contains(t, err.Error(), "ExpiredToken")

	// Nothing was changed by any of it.
	assert.Zero(t, e.srv.Calls("ecs", "RegisterTaskDefinition"))
	assert.Zero(t, e.srv.Calls("ecs", "UpdateService"))
}
