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
