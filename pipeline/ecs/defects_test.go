package ecs

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/ecsfake"
)

// onSleep runs a hook after each virtual sleep.
type onSleep struct {
	*ecsfake.VirtualClock
	hook func()
}

func (c *onSleep) Sleep(ctx context.Context, d time.Duration) error {
	if err := c.VirtualClock.Sleep(ctx, d); err != nil {
		return err
	}
	if c.hook != nil {
		c.hook()
	}
	return ctx.Err()
}

// D1: our deployment COMPLETED, then another deployment started before the next read. That
// is a success ("deployed, then superseded"), not a rollback — whether ours still shows as
// ACTIVE or the other one has completed too and ours is gone (the events say it completed).
func TestCompletedThenSupersededIsASuccess(t *testing.T) {
	quick := time.Millisecond
	tests := []struct {
		name  string
		other ecsfake.Rollout
	}{
		{"ours still listed", ecsfake.Rollout{}},
		{"ours gone", ecsfake.Rollout{StartAfter: quick, RunAfter: quick, DrainAfter: quick}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &onSleep{}
			e := newEnv(t, envOpts{clock: clk})
			clk.VirtualClock = e.clock
			other, err := e.fake.RegisterJSON(taskDefJSON) // revision 2: ours will be 3
			require.NoError(t, err)
			var once sync.Once
			clk.hook = func() {
				if _, steady := e.fake.SteadyAt(cluster, service); steady && e.fake.PrimaryTaskDefinition(cluster, service) == rev("3") {
					once.Do(func() {
						require.NoError(t, e.fake.StartDeployment(cluster, service, other, tt.other))
						e.clock.Advance(10 * time.Millisecond)
					})
				}
			}
			res, err := e.eng.Deploy(context.Background(), e.deployOpts())
			require.NoError(t, err)
			assert.Equal(t, Completed, res.Class)
			require.NotNil(t, res.SupersededBy)
			assert.Equal(t, other, res.SupersededBy.TaskDefinition)
			assert.Contains(t, res.Outcome, "deployed sample-app-preprod:3, then superseded by deployment ecs-svc/")
			assert.Contains(t, res.Outcome, "of sample-app-preprod:2")
			assert.Empty(t, res.RolledBackBy)
			assert.Equal(t, 1, e.calls("UpdateService"))
		})
	}
}

// D2: the new deployment stays invisible longer than LagGrace (read-after-write lag). The
// pre-update PRIMARY is not ECS rolling back: the engine reads on and sees the deploy
// complete; a deployment never seen within the timeout is "unknown", not rolled back.
func TestLongReadLagIsNotARollback(t *testing.T) {
	t.Run("visible after 90 s", func(t *testing.T) {
		e := newEnv(t, envOpts{readLag: 90 * time.Second})
		res, err := e.eng.Deploy(context.Background(), e.deployOpts())
		require.NoError(t, err)
		assert.Equal(t, Completed, res.Class)
		assert.Equal(t, "deployed sample-app-preprod:2", res.Outcome)
		assert.Empty(t, res.RolledBackBy)
		assert.Equal(t, 1, e.calls("UpdateService"))
		assert.Contains(t, e.log.String(), "still not visible (read-after-write lag)")
	})
	t.Run("never visible within the timeout", func(t *testing.T) {
		e := newEnv(t, envOpts{readLag: 10 * time.Minute})
		o := e.deployOpts()
		o.Timeout = 2 * time.Minute
		res, err := e.eng.Deploy(context.Background(), o)
		require.Error(t, err)
		assert.Equal(t, TimedOut, res.Class)
		assert.Contains(t, res.Outcome, "unknown: service updated to sample-app-preprod:2 but its deployment was never visible")
		assert.NotContains(t, res.Outcome, "rolled back to")
		assert.Empty(t, res.RolledBackBy)
		assert.Contains(t, res.Reason, "was never visible in DescribeServices within 2m0s")
		assert.Equal(t, 1, e.calls("UpdateService"), "an unseen deployment is not rolled back blind")
	})
}

// D3: a slow rollout times out and its rollback is just as slow. The rollback has its own
// timeout; when that runs out too, the rollback is "in progress", not "failed".
func TestSlowRollbackIsInProgressNotFailed(t *testing.T) {
	slow := ecsfake.Rollout{RunAfter: 3 * time.Minute}
	tests := []struct {
		name            string
		rollbackTimeout time.Duration
		class           Class
		outcome         string
	}{
		{"rollback timeout defaults to the deploy timeout", 0, RollbackInProgress, "rollback in progress to sample-app-preprod:1"},
		{"a longer rollback timeout sees it finish", 10 * time.Minute, TimedOut, "rolled back to sample-app-preprod:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			e.fake.ScriptNext(slow, slow) // the deploy, then our rollback
			o := e.deployOpts()
			o.Timeout = time.Minute
			o.RollbackTimeout = tt.rollbackTimeout
			res, err := e.eng.Deploy(context.Background(), o)
			require.Error(t, err)
			assert.Equal(t, tt.class, res.Class)
			assert.Contains(t, res.Outcome, tt.outcome)
			assert.NotContains(t, res.Outcome, "rollback failed")
			assert.Equal(t, "pipeline", res.RolledBackBy)
			assert.Equal(t, e.oldArn, e.fake.PrimaryTaskDefinition(cluster, service))
		})
	}
}

// D4: two deploys update the service in the same moment (both passed the busy check). The
// engine notices within 2 s, says whose deployment it is, and does not roll back over it.
func TestConcurrentDeployDetectedAtOnce(t *testing.T) {
	for _, after := range []bool{false, true} {
		name := "theirs just before ours"
		if after {
			name = "theirs just after ours"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			other, err := e.fake.RegisterJSON(taskDefJSON) // revision 2: ours will be 3
			require.NoError(t, err)
			e.fake.RaceNextUpdate(other, ecsfake.Rollout{}, after)
			res, err := e.eng.Deploy(context.Background(), e.deployOpts())
			require.Error(t, err)
			assert.Equal(t, ConcurrentDeploy, res.Class)
			require.NotNil(t, res.Concurrent)
			assert.Equal(t, other, res.Concurrent.TaskDefinition)
			assert.Contains(t, res.Outcome, "concurrent deploy detected: deployment ecs-svc/")
			assert.Contains(t, res.Outcome, "of sample-app-preprod:2")
			updated := e.timesOf("UpdateService")
			require.Len(t, updated, 1, "no rollback over the other deploy")
			assert.LessOrEqual(t, e.clock.Now().Sub(updated[0]), 2*time.Second)
		})
	}
}

// #10 item 7: only failed tasks of our deployment are failure reasons; tasks of the old
// deployment that the scheduler stopped by scaling in are not.
func TestStoppedTasksAreOnlyOurFailedOnes(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, err := e.eng.Deploy(context.Background(), e.deployOpts()) // revision 1's tasks are scaled in
	require.NoError(t, err)
	e.fake.ScriptNext(ecsfake.Rollout{Kind: ecsfake.FailTasks, StoppedReason: "Essential container in task exited", ExitCode: 3})
	res, err := e.eng.Rollback(context.Background(), RollbackOptions{Cluster: cluster, Service: service, To: "sample-app-preprod:1"})
	require.Error(t, err)
	assert.Equal(t, RolledBack, res.Class)
	require.NotEmpty(t, res.StoppedTasks)
	for _, st := range res.StoppedTasks {
		assert.Equal(t, e.oldArn, st.TaskDefinition)
		assert.NotContains(t, st.StoppedReason, "Scaling activity")
	}
	assert.NotContains(t, res.Reason, "Scaling activity")
	assert.Contains(t, res.Reason, "exit code 3")
}

// The call budget: a healthy rollout behind a load balancer, with the service's history,
// is noticed within 2 s of steady state with at most 20 ECS reads per minute of waiting.
func TestHealthyRolloutWithinCallBudget(t *testing.T) {
	e := newEnv(t, envOpts{lb: true})
	r := ecsfake.Rollout{StartAfter: 3 * time.Second, RunAfter: 40 * time.Second, HealthyAfter: 20 * time.Second, DrainAfter: 30 * time.Second, StopAfter: time.Second}
	e.fake.ScriptNext(r)
	_, err := e.eng.Deploy(context.Background(), e.deployOpts()) // history: the last drain
	require.NoError(t, err)

	e.fake.ScriptNext(r)
	from := e.clock.Now()
	res, err := e.eng.Deploy(context.Background(), e.deployOpts())
	require.NoError(t, err)
	steady, ok := e.fake.SteadyAt(cluster, service)
	require.True(t, ok)
	assert.LessOrEqual(t, e.clock.Now().Sub(steady), 2*time.Second)
	reads := 0
	var updated time.Time
	for _, c := range e.fake.Calls() {
		if c.At.Before(from) {
			continue
		}
		switch c.Operation {
		case "UpdateService":
			updated = c.At
		case "DescribeServices", "DescribeTasks", "ListTasks", "DescribeTaskDefinition", "ListTaskDefinitions":
			if !updated.IsZero() {
				reads++
			}
		}
	}
	waited := e.clock.Now().Sub(updated)
	assert.LessOrEqual(t, float64(reads)/waited.Minutes(), 20.0, "%d reads in %s", reads, waited)
	assert.Equal(t, Completed, res.Class)
}

// Issue #10 item 7: progress lines start with the time since the update, in a form no
// terminal takes for a colour code.
func TestElapsedReadsAsTime(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "+0s", 2 * time.Second: "+2s", 59400 * time.Millisecond: "+59s", 65 * time.Second: "+1m05s", 61 * time.Minute: "+61m00s",
	} {
		assert.Equal(t, want, elapsed(d))
		assert.NotContains(t, elapsed(d), "[")
	}
}
