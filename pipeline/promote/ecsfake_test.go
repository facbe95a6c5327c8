package promote_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/ecsfake"
	"dagger/fargate/pipeline/internal/fakeaws"
	"dagger/fargate/pipeline/promote"
)

// These tests drive Resolve against the shared stateful ECS fake through whole rollouts:
// the answer changes as the fake's clock moves.

func taskDefJSON(image string) string {
	return `{"family":"sample-app-preprod","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512",
	 "containerDefinitions":[{"name":"app","image":"` + image + `","essential":true}]}`
}

func newStatefulECS(t *testing.T) (*ecsfake.Fake, *ecsfake.VirtualClock, *ecs.Client, string) {
	t.Helper()
	srv := fakeaws.New(t)
	clock := ecsfake.NewVirtualClock(time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC))
	f := ecsfake.New(srv, clock, ecsfake.Options{Account: acct, Region: "eu-west-1"})
	arn, err := f.RegisterJSON(taskDefJSON(repo + "@" + digest41))
	require.NoError(t, err)
	require.NoError(t, f.CreateService(ecsfake.ServiceSpec{
		Cluster: "sample-app-preprod", Name: "sample-app", TaskDefinition: arn, DesiredCount: 2,
		DeploymentConfiguration: types.DeploymentConfiguration{
			DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true},
			MinimumHealthyPercent:    aws.Int32(100), MaximumPercent: aws.Int32(200),
		},
	}))
	return f, clock, ecs.NewFromConfig(srv.Config(t)), arn
}

func TestResolveAgainstStatefulFakeFollowsARollout(t *testing.T) {
	f, clock, client, arn41 := newStatefulECS(t)
	ctx := context.Background()

	c, err := promote.Resolve(ctx, client, src)
	require.NoError(t, err)
	assert.Equal(t, repo+"@"+digest41, c.ImageRef)
	assert.Equal(t, arn41, c.TaskDefinitionArn)

	// A new revision starts rolling out: the source is mid-deploy until it completes.
	arn42, err := f.RegisterJSON(taskDefJSON(repo + "@" + digest42))
	require.NoError(t, err)
	require.NoError(t, f.StartDeployment("sample-app-preprod", "sample-app", arn42, ecsfake.Rollout{Kind: ecsfake.Healthy}))
	_, err = promote.Resolve(ctx, client, src)
	require.ErrorIs(t, err, promote.ErrSourceInProgress)

	clock.Advance(2 * time.Minute)
	c, err = promote.Resolve(ctx, client, src)
	require.NoError(t, err)
	assert.Equal(t, repo+"@"+digest42, c.ImageRef, "the completed new revision is what is promoted")
	assert.Equal(t, arn42, c.TaskDefinitionArn)
}

func TestResolveAgainstStatefulFakeRefusesAFailedRollout(t *testing.T) {
	f, clock, client, arn41 := newStatefulECS(t)
	ctx := context.Background()

	arn42, err := f.RegisterJSON(taskDefJSON(repo + "@" + digest42))
	require.NoError(t, err)
	require.NoError(t, f.StartDeployment("sample-app-preprod", "sample-app", arn42, ecsfake.Rollout{Kind: ecsfake.FailTasks}))

	// While the circuit breaker trips and ECS rolls back, nothing is promotable, and the
	// failing revision never is.
	var kinds []error
	for range 20 {
		clock.Advance(15 * time.Second)
		c, err := promote.Resolve(ctx, client, src)
		if err == nil {
			assert.Equal(t, arn41, c.TaskDefinitionArn, "only the revision the service rolled back to can be promoted")
			assert.Equal(t, digest41, c.Digest)
			break
		}
		require.True(t, promote.IsRefusal(err), err)
		kinds = append(kinds, err)
	}
	require.NotEmpty(t, kinds)
	rolledBack := false
	for _, err := range kinds {
		assert.True(t, isAny(err, promote.ErrSourceInProgress, promote.ErrSourceRolledBack, promote.ErrSourceFailed, promote.ErrSourceNotSteady), err)
		if isAny(err, promote.ErrSourceRolledBack) {
			rolledBack = true
		}
	}
	assert.True(t, rolledBack, "the rollback was seen as one: %v", kinds)
}

func isAny(err error, kinds ...error) bool {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// The revision a promotion reports is the one the promoted image was built from: the source
// task definition's revision tag, not the revision of the run that promotes (issue #10 item 4).
func TestResolveCarriesTheSourceRevision(t *testing.T) {
	_, _, client, arn41 := newStatefulECS(t)
	ctx := context.Background()

	c, err := promote.Resolve(ctx, client, src)
	require.NoError(t, err)
	assert.Empty(t, c.Revision, "an untagged source task definition has no known revision")

	_, err = client.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(arn41), Tags: []types.Tag{
		{Key: aws.String("deploy:git-revision"), Value: aws.String("9f1c2e7b5d0a")},
	}})
	require.NoError(t, err)
	c, err = promote.Resolve(ctx, client, src)
	require.NoError(t, err)
	assert.Equal(t, "9f1c2e7b5d0a", c.Revision)
}
