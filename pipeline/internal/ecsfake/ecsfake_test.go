package ecsfake

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/fakeaws"
)

var start = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const doc = `{"family":"web","cpu":"256","memory":"512","containerDefinitions":[{"name":"app","image":"repo/app:1","memory":256,"environment":[{"name":"A","value":"b"}]}]}`

func setup(t *testing.T, opts Options, cfg types.DeploymentConfiguration) (*Fake, *VirtualClock, *ecs.Client, string) {
	t.Helper()
	srv := fakeaws.New(t)
	clock := NewVirtualClock(start)
	f := New(srv, clock, opts)
	arn, err := f.RegisterJSON(doc)
	require.NoError(t, err)
	require.NoError(t, f.CreateService(ServiceSpec{Cluster: "c", Name: "s", TaskDefinition: arn, DesiredCount: 2, DeploymentConfiguration: cfg}))
	return f, clock, ecs.NewFromConfig(srv.Config(t)), arn
}

func describe(t *testing.T, c *ecs.Client) types.Service {
	t.Helper()
	out, err := c.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"s"}})
	require.NoError(t, err)
	require.Len(t, out.Services, 1)
	return out.Services[0]
}

func messages(svc types.Service) string {
	var b strings.Builder
	for i := len(svc.Events) - 1; i >= 0; i-- {
		b.WriteString(aws.ToString(svc.Events[i].Message) + "\n")
	}
	return b.String()
}

func TestTaskDefinitionsOnTheWire(t *testing.T) {
	f, _, c, arn := setup(t, Options{}, types.DeploymentConfiguration{})
	ctx := context.Background()
	assert.Equal(t, "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:1", arn)

	reg, err := c.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("web"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("repo/app:2"),
			LinuxParameters: &types.LinuxParameters{Capabilities: &types.KernelCapabilities{Drop: []string{"ALL"}}}}},
		Tags: []types.Tag{{Key: aws.String("deploy:environment"), Value: aws.String("preprod")}},
	})
	require.NoError(t, err)
	assert.Equal(t, int32(2), reg.TaskDefinition.Revision)
	assert.Equal(t, start, aws.ToTime(reg.TaskDefinition.RegisteredAt))

	got, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web"), Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}})
	require.NoError(t, err)
	assert.Equal(t, int32(2), got.TaskDefinition.Revision, "a bare family is the latest ACTIVE revision")
	assert.Equal(t, []string{"ALL"}, got.TaskDefinition.ContainerDefinitions[0].LinuxParameters.Capabilities.Drop)
	require.Len(t, got.Tags, 1)

	_, err = c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("web:2")})
	require.NoError(t, err)
	list, err := c.ListTaskDefinitions(ctx, &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("web"), Sort: types.SortOrderDesc})
	require.NoError(t, err)
	assert.Equal(t, []string{arn}, list.TaskDefinitionArns)
	assert.Equal(t, []string{arn, strings.TrimSuffix(arn, "1") + "2"}, f.Revisions("web"))

	_, err = c.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("web"), ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("x")}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ClientException")

	_, err = c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	require.NoError(t, err)
	tags, err := c.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	require.NoError(t, err)
	assert.Equal(t, "v", aws.ToString(tags.Tags[0].Value))
}

func TestHealthyRolloutTimeline(t *testing.T) {
	f, clock, c, arn := setup(t, Options{}, types.DeploymentConfiguration{})
	ctx := context.Background()
	next, err := f.RegisterJSON(doc)
	require.NoError(t, err)
	up, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("s"), TaskDefinition: aws.String("web:2")})
	require.NoError(t, err)
	require.Len(t, up.Service.Deployments, 2)
	assert.Equal(t, next, aws.ToString(up.Service.Deployments[0].TaskDefinition))
	assert.Equal(t, "PRIMARY", aws.ToString(up.Service.Deployments[0].Status))
	assert.Equal(t, types.DeploymentRolloutStateInProgress, up.Service.Deployments[0].RolloutState)
	assert.Equal(t, "ACTIVE", aws.ToString(up.Service.Deployments[1].Status))

	clock.Advance(6 * time.Second)
	svc := describe(t, c)
	assert.Equal(t, int32(2), svc.Deployments[0].PendingCount)
	assert.Contains(t, messages(svc), "(service s) has started 2 tasks: (task ")

	clock.Advance(25 * time.Second)
	svc = describe(t, c)
	assert.Equal(t, int32(2), svc.Deployments[0].RunningCount)
	assert.Len(t, svc.Deployments, 2)
	_, steady := f.SteadyAt("c", "s")
	assert.False(t, steady)

	clock.Advance(15 * time.Second)
	svc = describe(t, c)
	require.Len(t, svc.Deployments, 1)
	assert.Equal(t, types.DeploymentRolloutStateCompleted, svc.Deployments[0].RolloutState)
	assert.Equal(t, start.Add(45*time.Second), aws.ToTime(svc.Deployments[0].UpdatedAt))
	msgs := messages(svc)
	assert.Contains(t, msgs, "deployment completed.\n(service s) has reached a steady state.\n")
	at, steady := f.SteadyAt("c", "s")
	assert.True(t, steady)
	assert.Equal(t, start.Add(45*time.Second), at)
	assert.Equal(t, start.Add(45*time.Second), aws.ToTime(svc.Events[0].CreatedAt), "events newest first")

	// The old tasks were stopped by the scheduler.
	stopped, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), ServiceName: aws.String("s"), DesiredStatus: types.DesiredStatusStopped})
	require.NoError(t, err)
	require.Len(t, stopped.TaskArns, 2)
	tasks, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: stopped.TaskArns})
	require.NoError(t, err)
	for _, task := range tasks.Tasks {
		assert.Equal(t, arn, aws.ToString(task.TaskDefinitionArn))
		assert.Contains(t, aws.ToString(task.StoppedReason), "Scaling activity initiated by (deployment ecs-svc/")
	}
}

func TestCircuitBreakerRollbackTimeline(t *testing.T) {
	f, clock, c, arn := setup(t, Options{}, types.DeploymentConfiguration{})
	ctx := context.Background()
	_, err := f.RegisterJSON(doc)
	require.NoError(t, err)
	f.ScriptNext(Rollout{Kind: FailTasks, StoppedReason: "CannotPullContainerError: pull image manifest has been retried 5 time(s)", ExitCode: 255})
	_, err = c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("s"), TaskDefinition: aws.String("web:2"),
		DeploymentConfiguration: &types.DeploymentConfiguration{DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}}})
	require.NoError(t, err)

	clock.Advance(40 * time.Second) // two waves of two failed tasks: threshold 3 reached
	svc := describe(t, c)
	require.Len(t, svc.Deployments, 3)
	assert.Equal(t, arn, aws.ToString(svc.Deployments[0].TaskDefinition), "rollback deployment is PRIMARY")
	assert.Equal(t, types.DeploymentRolloutStateFailed, svc.Deployments[1].RolloutState)
	assert.Equal(t, "ECS deployment circuit breaker: tasks failed to start.", aws.ToString(svc.Deployments[1].RolloutStateReason))
	assert.Equal(t, int32(4), svc.Deployments[1].FailedTasks)
	msgs := messages(svc)
	assert.Contains(t, msgs, "deployment failed: tasks failed to start.")
	assert.Contains(t, msgs, "rolling back to deployment ecs-svc/")

	stopped, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), ServiceName: aws.String("s"), DesiredStatus: types.DesiredStatusStopped})
	require.NoError(t, err)
	tasks, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: stopped.TaskArns})
	require.NoError(t, err)
	require.Len(t, tasks.Tasks, 4)
	assert.Equal(t, types.TaskStopCodeEssentialContainerExited, tasks.Tasks[0].StopCode)
	assert.Equal(t, int32(255), aws.ToInt32(tasks.Tasks[0].Containers[0].ExitCode))
	assert.Contains(t, aws.ToString(tasks.Tasks[0].StoppedReason), "CannotPullContainerError")

	clock.Advance(time.Minute)
	svc = describe(t, c)
	require.Len(t, svc.Deployments, 1)
	assert.Equal(t, arn, f.PrimaryTaskDefinition("c", "s"))
	assert.Equal(t, svc.DesiredCount, svc.RunningCount)
}

func TestReadLagAndThrottling(t *testing.T) {
	f, clock, c, arn := setup(t, Options{ReadLag: 5 * time.Second}, types.DeploymentConfiguration{})
	ctx := context.Background()
	_, err := f.RegisterJSON(doc)
	require.NoError(t, err)
	_, err = c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("s"), TaskDefinition: aws.String("web:2")})
	require.NoError(t, err)
	clock.Advance(4 * time.Second)
	svc := describe(t, c)
	require.Len(t, svc.Deployments, 1, "still the old state")
	assert.Equal(t, arn, aws.ToString(svc.Deployments[0].TaskDefinition))
	clock.Advance(time.Second)
	assert.Len(t, describe(t, c).Deployments, 2)

	f.ThrottleDescribeServices(clock.Now(), clock.Now().Add(time.Second))
	_, err = c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"s"}},
		func(o *ecs.Options) { o.RetryMaxAttempts = 2 })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ThrottlingException")
	clock.Advance(time.Second)
	describe(t, c)
}

func TestStopServiceDeploymentAndErrors(t *testing.T) {
	f, clock, c, arn := setup(t, Options{}, types.DeploymentConfiguration{})
	ctx := context.Background()
	_, err := f.RegisterJSON(doc)
	require.NoError(t, err)
	f.ScriptNext(Rollout{Kind: Hang})
	_, err = c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("s"), TaskDefinition: aws.String("web:2")})
	require.NoError(t, err)
	clock.Advance(10 * time.Second)
	list, err := c.ListServiceDeployments(ctx, &ecs.ListServiceDeploymentsInput{Cluster: aws.String("c"), Service: aws.String("s")})
	require.NoError(t, err)
	require.Len(t, list.ServiceDeployments, 2)
	assert.Equal(t, types.ServiceDeploymentStatusInProgress, list.ServiceDeployments[0].Status)
	_, err = c.StopServiceDeployment(ctx, &ecs.StopServiceDeploymentInput{ServiceDeploymentArn: list.ServiceDeployments[0].ServiceDeploymentArn, StopType: types.StopServiceDeploymentStopTypeRollback})
	require.NoError(t, err)
	clock.Advance(time.Minute)
	assert.Equal(t, arn, f.PrimaryTaskDefinition("c", "s"))

	_, err = c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("nope"), Services: []string{"s"}})
	var nf *types.ClusterNotFoundException
	assert.True(t, errors.As(err, &nf))
	out, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"x"}})
	require.NoError(t, err)
	assert.Equal(t, "MISSING", aws.ToString(out.Failures[0].Reason))
	_, err = c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("x")})
	var snf *types.ServiceNotFoundException
	assert.True(t, errors.As(err, &snf))
	cl, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"c"}})
	require.NoError(t, err)
	assert.Equal(t, int32(2), cl.Clusters[0].RunningTasksCount)
}

// The phases of a rollout behind a load balancer: provisioning, pending, running, health
// checks, the old deployment scaled in and draining, then stopped and steady.
func TestPhasedRolloutBehindALoadBalancer(t *testing.T) {
	srv := fakeaws.New(t)
	clock := NewVirtualClock(start)
	f := New(srv, clock, Options{})
	arn, err := f.RegisterJSON(doc)
	require.NoError(t, err)
	tg := "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"
	require.NoError(t, f.CreateService(ServiceSpec{Cluster: "c", Name: "s", TaskDefinition: arn, DesiredCount: 2,
		LoadBalancers: []types.LoadBalancer{{TargetGroupArn: aws.String(tg), ContainerName: aws.String("app"), ContainerPort: aws.Int32(8080)}}}))
	c := ecs.NewFromConfig(srv.Config(t))
	ctx := context.Background()
	_, err = f.RegisterJSON(doc)
	require.NoError(t, err)
	f.ScriptNext(Rollout{StartAfter: 2 * time.Second, RunAfter: 20 * time.Second, HealthyAfter: 10 * time.Second, DrainAfter: 30 * time.Second, StopAfter: 2 * time.Second})
	_, err = c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("s"), TaskDefinition: aws.String("web:2")})
	require.NoError(t, err)

	taskStates := func(desired types.DesiredStatus) map[string]int {
		list, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), ServiceName: aws.String("s"), DesiredStatus: desired})
		require.NoError(t, err)
		out := map[string]int{}
		if len(list.TaskArns) == 0 {
			return out
		}
		tasks, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: list.TaskArns})
		require.NoError(t, err)
		for _, task := range tasks.Tasks {
			out[aws.ToString(task.LastStatus)]++
		}
		return out
	}
	clock.Advance(5 * time.Second) // launched 2 s in, provisioning for 10 s
	assert.Equal(t, map[string]int{"PROVISIONING": 2, "RUNNING": 2}, taskStates(types.DesiredStatusRunning))
	clock.Advance(10 * time.Second)
	assert.Equal(t, map[string]int{"PENDING": 2, "RUNNING": 2}, taskStates(types.DesiredStatusRunning))

	clock.Advance(10 * time.Second) // 25 s: RUNNING, health checks until 32 s
	svc := describe(t, c)
	require.Len(t, svc.Deployments, 2)
	assert.Equal(t, int32(2), svc.Deployments[0].RunningCount)
	assert.Equal(t, int32(2), svc.Deployments[1].DesiredCount, "the old tasks serve until the new ones are healthy")
	require.Len(t, svc.LoadBalancers, 1)

	clock.Advance(10 * time.Second) // 35 s: draining since 32 s
	svc = describe(t, c)
	require.Len(t, svc.Deployments, 2)
	assert.Equal(t, int32(0), svc.Deployments[1].DesiredCount)
	assert.Equal(t, int32(2), svc.Deployments[1].RunningCount)
	assert.Equal(t, start.Add(32*time.Second), aws.ToTime(svc.Deployments[1].UpdatedAt))
	assert.Contains(t, messages(svc), "(service s) has begun draining connections on 2 tasks.\n(service s) deregistered 2 targets in (target-group "+tg+")\n")
	assert.Equal(t, map[string]int{"DEACTIVATING": 2}, taskStates(types.DesiredStatusStopped))

	clock.Advance(30 * time.Second) // 65 s: drained at 62 s, stopped and steady at 64 s
	at, steady := f.SteadyAt("c", "s")
	require.True(t, steady)
	assert.Equal(t, start.Add(64*time.Second), at)
	assert.Equal(t, map[string]int{"STOPPED": 2}, taskStates(types.DesiredStatusStopped))
}

// Another client's UpdateService in the same instant as ours, just before or just after it.
func TestRaceNextUpdate(t *testing.T) {
	for _, after := range []bool{false, true} {
		f, _, c, _ := setup(t, Options{}, types.DeploymentConfiguration{})
		ctx := context.Background()
		other, err := f.RegisterJSON(doc)
		require.NoError(t, err)
		_, err = f.RegisterJSON(doc)
		require.NoError(t, err)
		f.RaceNextUpdate(other, Rollout{}, after)
		up, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("s"), TaskDefinition: aws.String("web:3")})
		require.NoError(t, err)
		svc := describe(t, c)
		require.Len(t, svc.Deployments, 3)
		if after {
			assert.Len(t, up.Service.Deployments, 2, "our answer predates theirs")
			assert.Equal(t, other, aws.ToString(svc.Deployments[0].TaskDefinition), "theirs is PRIMARY")
		} else {
			assert.Len(t, up.Service.Deployments, 3, "our answer shows theirs behind ours")
			assert.Equal(t, other, aws.ToString(up.Service.Deployments[1].TaskDefinition))
			assert.Contains(t, aws.ToString(svc.Deployments[0].TaskDefinition), "web:3", "ours is PRIMARY")
		}
	}
}
