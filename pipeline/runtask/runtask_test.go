package runtask_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/ecsfake"
	"dagger/fargate/pipeline/internal/fakeaws"
	"dagger/fargate/pipeline/runtask"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

const doc = `{"family":"web","networkMode":"awsvpc","cpu":"256","memory":"512","containerDefinitions":[{"name":"app","image":"repo/app@sha256:aa","memory":256},{"name":"sidecar","image":"repo/side:1","memory":64}]}`

type fixture struct {
	srv   *fakeaws.Server
	ecs   *ecsfake.Fake
	clock *ecsfake.VirtualClock
	arn   string
	run   *runtask.Runner
	log   *bytes.Buffer
}

func setup(t *testing.T, assign types.AssignPublicIp) *fixture {
	t.Helper()
	srv := fakeaws.New(t)
	clock := ecsfake.NewVirtualClock(t0)
	f := ecsfake.New(srv, clock, ecsfake.Options{})
	arn, err := f.RegisterJSON(doc)
	require.NoError(t, err)
	require.NoError(t, f.CreateService(ecsfake.ServiceSpec{Cluster: "c", Name: "s", TaskDefinition: arn, DesiredCount: 1}))
	require.NoError(t, f.SetNetworkConfiguration("c", "s", types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
		Subnets: []string{"subnet-a", "subnet-b"}, SecurityGroups: []string{"sg-task"}, AssignPublicIp: assign,
	}}))
	log := &bytes.Buffer{}
	return &fixture{srv: srv, ecs: f, clock: clock, arn: arn, log: log,
		run: runtask.New(awsecs.NewFromConfig(srv.Config(t)), runtask.Options{Clock: clock, Log: log})}
}

func (f *fixture) spec(t *testing.T) runtask.Spec {
	t.Helper()
	nc, err := f.run.ServiceNetwork(context.Background(), "c", "s")
	require.NoError(t, err)
	return runtask.Spec{Cluster: "c", TaskDefinition: f.arn, Container: "app", Command: []string{"/app", "migrate"}, Timeout: 2 * time.Minute, StartedBy: "fargate/pre-deploy", Network: nc}
}

func TestRunFollowsTheTaskToItsEnd(t *testing.T) {
	tests := []struct {
		name       string
		script     ecsfake.TaskScript
		outcome    runtask.Outcome
		exit       *int32
		reason     string
		stopReason string
	}{
		{"exit 0", ecsfake.TaskScript{}, runtask.Succeeded, aws.Int32(0), "Essential container in task exited", ""},
		{"exit 3", ecsfake.TaskScript{Exit: 3, RunFor: 50 * time.Second}, runtask.Failed, aws.Int32(3), "Essential container in task exited", ""},
		{"secrets not pulled", ecsfake.TaskScript{StartFailure: "ResourceInitializationError: unable to pull secrets or registry auth"}, runtask.FailedToStart, nil, "ResourceInitializationError: unable to pull secrets or registry auth", ""},
		{"never stops", ecsfake.TaskScript{NeverStops: true}, runtask.TimedOut, aws.Int32(137), "fargate: timed out after 2m0s", "fargate: timed out after 2m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, types.AssignPublicIpDisabled)
			f.ecs.ScriptRunTask(tt.script)
			res, err := f.run.Run(context.Background(), f.spec(t))
			require.NoError(t, err)
			assert.Equal(t, tt.outcome, res.Outcome, res.String())
			assert.Equal(t, tt.exit, res.ExitCode)
			assert.Equal(t, tt.reason, res.StoppedReason)
			assert.Equal(t, tt.outcome == runtask.Succeeded, res.Succeeded())
			ran := f.ecs.RanTasks()
			require.Len(t, ran, 1)
			assert.Equal(t, f.arn, ran[0].TaskDefinition)
			assert.Equal(t, "FARGATE", ran[0].LaunchType)
			assert.Equal(t, map[string][]string{"app": {"/app", "migrate"}}, ran[0].Overrides, "only the chosen container's command is replaced")
			assert.Equal(t, []string{"subnet-a", "subnet-b"}, ran[0].Subnets)
			assert.Equal(t, []string{"sg-task"}, ran[0].SecurityGroups)
			assert.Equal(t, "DISABLED", ran[0].AssignPublicIP)
			assert.Equal(t, "fargate/pre-deploy", ran[0].StartedBy)
			assert.Equal(t, tt.stopReason, ran[0].StopReason)
			// Bounded polling: one read per poll interval, at most, until the timeout.
			assert.LessOrEqual(t, res.Reads, int(2*time.Minute/runtask.DefaultPoll)+1)
			assert.LessOrEqual(t, res.Elapsed, 2*time.Minute+time.Second)
		})
	}
}

func TestRunStopsTheTaskWhenCancelled(t *testing.T) {
	f := setup(t, types.AssignPublicIpDisabled)
	f.ecs.ScriptRunTask(ecsfake.TaskScript{NeverStops: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	spec := f.spec(t)
	run := runtask.New(awsecs.NewFromConfig(f.srv.Config(t)), runtask.Options{Clock: &ecsfake.TriggerClock{VirtualClock: f.clock, At: t0.Add(30 * time.Second), Do: cancel}})
	res, err := run.Run(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, runtask.Cancelled, res.Outcome)
	assert.Equal(t, 1, f.srv.Calls("ecs", "StopTask"), "StopTask is sent although the caller's context is done")
	assert.Equal(t, "fargate: the deploy was cancelled", f.ecs.RanTasks()[0].StopReason)
	assert.Equal(t, "STOPPED", res.LastStatus)
}

func TestRunRefusesWhatCannotRunLikeTheService(t *testing.T) {
	f := setup(t, types.AssignPublicIpEnabled)
	_, err := f.run.ServiceNetwork(context.Background(), "c", "s")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "service c/s assigns public IPs")

	_, err = runtask.Network("c/none", nil)
	assert.ErrorContains(t, err, "service c/none has no awsvpc network configuration")

	good := &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-a"}}}
	tests := []struct {
		name string
		spec runtask.Spec
		want string
	}{
		{"no cluster", runtask.Spec{TaskDefinition: "web:1", Container: "app", Network: good}, "cluster: required"},
		{"no container", runtask.Spec{Cluster: "c", TaskDefinition: "web:1", Network: good}, "container: required"},
		{"no network", runtask.Spec{Cluster: "c", TaskDefinition: "web:1", Container: "app"}, "network configuration: required"},
		{"blank argument", runtask.Spec{Cluster: "c", TaskDefinition: "web:1", Container: "app", Network: good, Command: []string{"x", ""}}, "command[1]: empty argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.run.Run(context.Background(), tt.spec)
			assert.ErrorContains(t, err, tt.want)
		})
	}
	assert.Zero(t, f.srv.Calls("ecs", "RunTask"), "bad input never reaches ECS")
}

func TestRunNamesTheContainerThatIsNotThere(t *testing.T) {
	f := setup(t, types.AssignPublicIpDisabled)
	spec := f.spec(t)
	spec.Container = "migrator"
	_, err := f.run.Run(context.Background(), spec)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "run task web:1 in cluster c")
	assert.Contains(t, err.Error(), "migrator")
}

func TestRunTaskWireShape(t *testing.T) {
	f := setup(t, types.AssignPublicIpDisabled)
	_, err := f.run.Run(context.Background(), f.spec(t))
	require.NoError(t, err)
	for _, c := range f.srv.CallLog() {
		if c.Operation != "RunTask" {
			continue
		}
		var body map[string]any
		require.NoError(t, json.Unmarshal(c.Body, &body))
		assert.Equal(t, "FARGATE", body["launchType"])
		assert.EqualValues(t, 1, body["count"])
	}
}

// Throttled reads, past the client's own retries, stretch the interval and never end the
// follow: a throttled DescribeTasks does not stop a healthy migration. Other errors do.
func TestRunOutlastsThrottling(t *testing.T) {
	f := setup(t, types.AssignPublicIpDisabled)
	f.ecs.ScriptRunTask(ecsfake.TaskScript{RunFor: 90 * time.Second})
	throttles := make([]*fakeaws.APIError, 30) // ten failed reads of three attempts each
	for i := range throttles {
		throttles[i] = fakeaws.Throttling()
	}
	f.srv.FailNext("ecs", "DescribeTasks", throttles...)
	res, err := f.run.Run(context.Background(), f.spec(t))
	require.NoError(t, err)
	assert.Equal(t, runtask.Succeeded, res.Outcome, res.String())
	assert.Empty(t, f.ecs.RanTasks()[0].StopReason, "the task was not stopped")
	assert.Less(t, res.Reads, 10+int(2*time.Minute/runtask.DefaultPoll), "throttling spaces the reads")

	f = setup(t, types.AssignPublicIpDisabled)
	f.ecs.ScriptRunTask(ecsfake.TaskScript{RunFor: 90 * time.Second})
	denied := make([]*fakeaws.APIError, 3)
	for i := range denied {
		denied[i] = &fakeaws.APIError{Status: 400, Code: "AccessDeniedException", Message: "not authorized to perform ecs:DescribeTasks"}
	}
	f.srv.FailNext("ecs", "DescribeTasks", denied...)
	_, err = f.run.Run(context.Background(), f.spec(t))
	require.ErrorContains(t, err, "AccessDeniedException")
	assert.Equal(t, "fargate: lost track of the task", f.ecs.RanTasks()[0].StopReason)
}
