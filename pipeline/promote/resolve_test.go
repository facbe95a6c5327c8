package promote_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/fakeaws"
	"dagger/fargate/pipeline/promote"
)

const (
	acct     = "111122223333"
	repo     = acct + ".dkr.ecr.eu-west-1.amazonaws.com/sample-app"
	digest41 = "sha256:4141414141414141414141414141414141414141414141414141414141414141"
	digest42 = "sha256:4242424242424242424242424242424242424242424242424242424242424242"
	td41     = "arn:aws:ecs:eu-west-1:" + acct + ":task-definition/sample-app-preprod:41"
	td42     = "arn:aws:ecs:eu-west-1:" + acct + ":task-definition/sample-app-preprod:42"
)

// Wire shapes of the ECS JSON 1.1 protocol (what DescribeServices and
// DescribeTaskDefinition answer); field names as in the ECS API reference.
type wireDeployment struct {
	ID                 string  `json:"id"`
	Status             string  `json:"status"`
	TaskDefinition     string  `json:"taskDefinition"`
	DesiredCount       int32   `json:"desiredCount"`
	PendingCount       int32   `json:"pendingCount"`
	RunningCount       int32   `json:"runningCount"`
	FailedTasks        int32   `json:"failedTasks"`
	CreatedAt          float64 `json:"createdAt"`
	UpdatedAt          float64 `json:"updatedAt"`
	LaunchType         string  `json:"launchType"`
	RolloutState       string  `json:"rolloutState,omitempty"`
	RolloutStateReason string  `json:"rolloutStateReason,omitempty"`
}

type wireService struct {
	ServiceArn     string           `json:"serviceArn"`
	ServiceName    string           `json:"serviceName"`
	ClusterArn     string           `json:"clusterArn"`
	Status         string           `json:"status"`
	DesiredCount   int32            `json:"desiredCount"`
	RunningCount   int32            `json:"runningCount"`
	PendingCount   int32            `json:"pendingCount"`
	LaunchType     string           `json:"launchType"`
	TaskDefinition string           `json:"taskDefinition"`
	Deployments    []wireDeployment `json:"deployments"`
}

type wireContainer struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

// fakeECS answers DescribeServices and DescribeTaskDefinition from a scripted state and
// records the requests it got.
type fakeECS struct {
	mu       sync.Mutex
	services map[string]wireService     // by name
	taskDefs map[string][]wireContainer // by ARN
	requests []map[string]any
}

func newFakeECS(t *testing.T) (*fakeECS, *ecs.Client) {
	t.Helper()
	f := &fakeECS{services: map[string]wireService{}, taskDefs: map[string][]wireContainer{}}
	srv := fakeaws.New(t)
	srv.HandleJSON("ecs", "DescribeServices", f.describeServices)
	srv.HandleJSON("ecs", "DescribeTaskDefinition", f.describeTaskDefinition)
	return f, ecs.NewFromConfig(srv.Config(t))
}

func (f *fakeECS) record(body []byte) (map[string]any, error) {
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fakeaws.Errorf("SerializationException", "bad body: %v", err)
	}
	f.requests = append(f.requests, in)
	return in, nil
}

func (f *fakeECS) describeServices(body []byte) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.record(body)
	if err != nil {
		return nil, err
	}
	if in["cluster"] != "sample-app-preprod" {
		return nil, fakeaws.Errorf("ClusterNotFoundException", "Cluster not found.")
	}
	out := map[string]any{"services": []wireService{}, "failures": []map[string]string{}}
	for _, name := range in["services"].([]any) {
		if s, ok := f.services[name.(string)]; ok {
			out["services"] = append(out["services"].([]wireService), s)
			continue
		}
		out["failures"] = append(out["failures"].([]map[string]string), map[string]string{
			"arn": "arn:aws:ecs:eu-west-1:" + acct + ":service/sample-app-preprod/" + name.(string), "reason": "MISSING",
		})
	}
	return out, nil
}

func (f *fakeECS) describeTaskDefinition(body []byte) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.record(body)
	if err != nil {
		return nil, err
	}
	arn, _ := in["taskDefinition"].(string)
	containers, ok := f.taskDefs[arn]
	if !ok {
		return nil, fakeaws.Errorf("ClientException", "Unable to describe task definition.")
	}
	family, rev, _ := strings.Cut(arn[strings.LastIndex(arn, "/")+1:], ":")
	return map[string]any{
		"taskDefinition": map[string]any{
			"taskDefinitionArn":       arn,
			"family":                  family,
			"revision":                json.Number(rev),
			"status":                  "ACTIVE",
			"networkMode":             "awsvpc",
			"requiresCompatibilities": []string{"FARGATE"},
			"cpu":                     "256",
			"memory":                  "512",
			"containerDefinitions":    containers,
		},
	}, nil
}

func completed(id, td string, n int32) wireDeployment {
	return wireDeployment{ID: id, Status: "PRIMARY", TaskDefinition: td, DesiredCount: n, RunningCount: n,
		CreatedAt: 1.7640e9, UpdatedAt: 1.7641e9, LaunchType: "FARGATE",
		RolloutState: "COMPLETED", RolloutStateReason: "ECS deployment " + id + " completed."}
}

func service(td string, n int32, deps ...wireDeployment) wireService {
	return wireService{
		ServiceArn:  "arn:aws:ecs:eu-west-1:" + acct + ":service/sample-app-preprod/sample-app",
		ServiceName: "sample-app", ClusterArn: "arn:aws:ecs:eu-west-1:" + acct + ":cluster/sample-app-preprod",
		Status: "ACTIVE", DesiredCount: n, RunningCount: n, LaunchType: "FARGATE", TaskDefinition: td, Deployments: deps,
	}
}

var src = promote.Source{Env: "preprod", Cluster: "sample-app-preprod", Service: "sample-app", Container: "app"}

func TestResolvePicksTheDigestRunningInTheSource(t *testing.T) {
	f, client := newFakeECS(t)
	f.services["sample-app"] = service(td41, 2, completed("ecs-svc/41", td41, 2))
	f.taskDefs[td41] = []wireContainer{{Name: "log-router", Image: "public.ecr.aws/aws-observability/aws-for-fluent-bit@" + digest42}, {Name: "app", Image: repo + "@" + digest41}}

	c, err := promote.Resolve(context.Background(), client, src)
	require.NoError(t, err)
	assert.Equal(t, promote.Candidate{
		ImageRef: repo + "@" + digest41, Repository: repo, Digest: digest41,
		TaskDefinitionArn: td41, SourceEnv: "preprod",
	}, c)

	// It asked about the configured service and then about that service's own task definition.
	require.Len(t, f.requests, 2)
	assert.Equal(t, "sample-app-preprod", f.requests[0]["cluster"])
	assert.Equal(t, []any{"sample-app"}, f.requests[0]["services"])
	assert.Equal(t, td41, f.requests[1]["taskDefinition"])
}

func TestResolveDropsATagNextToTheDigest(t *testing.T) {
	f, client := newFakeECS(t)
	f.services["sample-app"] = service(td41, 1, completed("ecs-svc/41", td41, 1))
	f.taskDefs[td41] = []wireContainer{{Name: "app", Image: repo + ":v1.2.3@" + digest41}}

	c, err := promote.Resolve(context.Background(), client, src)
	require.NoError(t, err)
	assert.Equal(t, repo+"@"+digest41, c.ImageRef)
}

func TestResolveRefuses(t *testing.T) {
	inProgress := wireDeployment{ID: "ecs-svc/42", Status: "PRIMARY", TaskDefinition: td42, DesiredCount: 2, RunningCount: 1, PendingCount: 1,
		LaunchType: "FARGATE", RolloutState: "IN_PROGRESS", RolloutStateReason: "ECS deployment ecs-svc/42 in progress."}
	oldActive := completed("ecs-svc/41", td41, 2)
	oldActive.Status = "ACTIVE"
	failedNew := wireDeployment{ID: "ecs-svc/42", Status: "ACTIVE", TaskDefinition: td42, DesiredCount: 0, FailedTasks: 4,
		LaunchType: "FARGATE", RolloutState: "FAILED", RolloutStateReason: "ECS deployment circuit breaker: tasks failed to start."}
	rollbackPrimary := wireDeployment{ID: "ecs-svc/43", Status: "PRIMARY", TaskDefinition: td41, DesiredCount: 2, RunningCount: 2,
		LaunchType: "FARGATE", RolloutState: "IN_PROGRESS", RolloutStateReason: "ECS deployment ecs-svc/43 in progress."}
	failedPrimary := wireDeployment{ID: "ecs-svc/42", Status: "PRIMARY", TaskDefinition: td42, DesiredCount: 2, RunningCount: 2, FailedTasks: 3,
		LaunchType: "FARGATE", RolloutState: "FAILED", RolloutStateReason: "ECS deployment circuit breaker: tasks failed to start."}
	notSteady := completed("ecs-svc/41", td41, 2)
	notSteady.RunningCount = 1
	noState := completed("ecs-svc/41", td41, 2)
	noState.RolloutState, noState.RolloutStateReason = "", ""

	cases := []struct {
		name      string
		svc       *wireService
		image     string
		kind      error
		mentions  []string
		container string
	}{
		{name: "mid-deploy with two deployments", svc: ptr(service(td42, 2, inProgress, oldActive)), kind: promote.ErrSourceInProgress,
			mentions: []string{"2 deployments", "ecs-svc/42", "IN_PROGRESS", "sample-app-preprod:41"}},
		{name: "single deployment still in progress", svc: ptr(service(td42, 2, inProgress)), kind: promote.ErrSourceInProgress,
			mentions: []string{"IN_PROGRESS", "1/2 running"}},
		{name: "failed deployment", svc: ptr(service(td42, 2, failedPrimary)), kind: promote.ErrSourceFailed,
			mentions: []string{"FAILED", "circuit breaker", "3 failed tasks"}},
		{name: "rolling back: primary on older revision, failed deployment alongside", svc: ptr(service(td41, 2, rollbackPrimary, failedNew)),
			kind: promote.ErrSourceRolledBack, mentions: []string{"rolling back to sample-app-preprod:41", "FAILED", "sample-app-preprod:42"}},
		{name: "rolled back and settled: service points at a revision it does not run", svc: ptr(service(td42, 2, completed("ecs-svc/43", td41, 2))),
			kind: promote.ErrSourceRolledBack, mentions: []string{"configured for sample-app-preprod:42", "runs sample-app-preprod:41"}},
		{name: "running below desired", svc: ptr(service(td41, 2, notSteady)), kind: promote.ErrSourceNotSteady, mentions: []string{"of 2 tasks"}},
		{name: "scaled to zero", svc: ptr(service(td41, 0, completed("ecs-svc/41", td41, 0))), kind: promote.ErrSourceNotSteady, mentions: []string{"scaled to zero"}},
		{name: "no rollout state", svc: ptr(service(td41, 2, noState)), kind: promote.ErrSourceInProgress, mentions: []string{"no rollout state"}},
		{name: "service missing", kind: promote.ErrSourceNotFound, mentions: []string{"MISSING"}},
		{name: "image is a tag", svc: ptr(service(td41, 2, completed("ecs-svc/41", td41, 2))), image: repo + ":latest",
			kind: promote.ErrNotDigest, mentions: []string{"promotion needs a digest reference", repo + ":latest", "tag is not promotable"}},
		{name: "digest is not sha256", svc: ptr(service(td41, 2, completed("ecs-svc/41", td41, 2))), image: repo + "@md5:abc",
			kind: promote.ErrNotDigest, mentions: []string{"md5:abc"}},
		{name: "container missing", svc: ptr(service(td41, 2, completed("ecs-svc/41", td41, 2))), container: "web",
			kind: promote.ErrContainerMissing, mentions: []string{`"web"`, "containers: app, sidecar"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, client := newFakeECS(t)
			if tc.svc != nil {
				f.services["sample-app"] = *tc.svc
			}
			image := tc.image
			if image == "" {
				image = repo + "@" + digest41
			}
			f.taskDefs[td41] = []wireContainer{{Name: "app", Image: image}, {Name: "sidecar", Image: "busybox@" + digest42}}
			f.taskDefs[td42] = f.taskDefs[td41]
			s := src
			if tc.container != "" {
				s.Container = tc.container
			}

			_, err := promote.Resolve(context.Background(), client, s)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.kind)
			assert.True(t, promote.IsRefusal(err))
			var r *promote.Refusal
			require.ErrorAs(t, err, &r)
			for _, m := range tc.mentions {
				assert.Contains(t, err.Error(), m)
			}
			assert.Contains(t, err.Error(), "preprod", "the refusal names the source")
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestResolveAWSErrorIsNotARefusal(t *testing.T) {
	srv := fakeaws.New(t)
	client := ecs.NewFromConfig(srv.Config(t))
	srv.FailNext("ecs", "DescribeServices", fakeaws.Errorf("AccessDeniedException", "not authorized to perform ecs:DescribeServices"))

	_, err := promote.Resolve(context.Background(), client, src)
	require.Error(t, err)
	assert.False(t, promote.IsRefusal(err))
	assert.Contains(t, err.Error(), "describe preprod service sample-app-preprod/sample-app")
	assert.Contains(t, err.Error(), "AccessDeniedException")
	assert.NotContains(t, err.Error(), "fake-secret-never-printed")
}

func TestResolveRetriesThrottling(t *testing.T) {
	srv := fakeaws.New(t)
	f := &fakeECS{services: map[string]wireService{"sample-app": service(td41, 1, completed("ecs-svc/41", td41, 1))},
		taskDefs: map[string][]wireContainer{td41: {{Name: "app", Image: repo + "@" + digest41}}}}
	srv.HandleJSON("ecs", "DescribeServices", f.describeServices)
	srv.HandleJSON("ecs", "DescribeTaskDefinition", f.describeTaskDefinition)
	srv.FailNext("ecs", "DescribeServices", fakeaws.Throttling(), fakeaws.ServerError())

	c, err := promote.Resolve(context.Background(), ecs.NewFromConfig(srv.Config(t)), src)
	require.NoError(t, err)
	assert.Equal(t, digest41, c.Digest)
	assert.Equal(t, 3, srv.Calls("ecs", "DescribeServices"))
}

func TestResolveValidatesSource(t *testing.T) {
	_, client := newFakeECS(t)
	_, err := promote.Resolve(context.Background(), client, promote.Source{Env: "preprod", Cluster: "c"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "service, container must be set")
	assert.False(t, promote.IsRefusal(err))

	_, err = promote.Resolve(context.Background(), nil, src)
	require.Error(t, err)
}

// regionReader records the options each call was made with.
type regionReader struct{ regions []string }

func (r *regionReader) DescribeServices(_ context.Context, _ *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	var o ecs.Options
	for _, fn := range optFns {
		fn(&o)
	}
	r.regions = append(r.regions, o.Region)
	return nil, errors.New("stop here")
}

func (r *regionReader) DescribeTaskDefinition(context.Context, *ecs.DescribeTaskDefinitionInput, ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error) {
	return nil, errors.New("unexpected")
}

func TestResolveUsesTheSourceRegion(t *testing.T) {
	r := &regionReader{}
	s := src
	s.Region = "eu-central-1"
	_, err := promote.Resolve(context.Background(), r, s)
	require.Error(t, err)
	assert.Equal(t, []string{"eu-central-1"}, r.regions)

	r = &regionReader{}
	_, _ = promote.Resolve(context.Background(), r, src)
	assert.Equal(t, []string{""}, r.regions, "no region: the reader's own region applies")
}

func TestParseDigestRef(t *testing.T) {
	cases := []struct {
		ref, repo, digest, err string
	}{
		{ref: repo + "@" + digest41, repo: repo, digest: digest41},
		{ref: repo + ":v1@" + digest41, repo: repo, digest: digest41},
		{ref: "localhost:5000/team/app@" + digest41, repo: "localhost:5000/team/app", digest: digest41},
		{ref: "localhost:5000/team/app:tag@" + digest41, repo: "localhost:5000/team/app", digest: digest41},
		{ref: "busybox@" + digest41, repo: "busybox", digest: digest41},
		{ref: repo + ":latest", err: "not pinned by digest"},
		{ref: repo, err: "not pinned by digest"},
		{ref: "", err: "empty"},
		{ref: repo + "@sha256:ABC", err: "64 lowercase hex"},
		{ref: repo + "@sha512:" + strings.Repeat("a", 128), err: "sha256"},
		{ref: "Bad Repo@" + digest41, err: "not a valid repository"},
		{ref: "@" + digest41, err: "not a valid repository"},
	}
	for _, tc := range cases {
		t.Run(tc.ref, func(t *testing.T) {
			r, d, err := promote.ParseDigestRef(tc.ref)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.repo, r)
			assert.Equal(t, tc.digest, d)
		})
	}
}
