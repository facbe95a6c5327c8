package fakeaccount_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/alarms"
	"dagger/fargate/pipeline/awsconf"
	"dagger/fargate/pipeline/detectors"
	"dagger/fargate/pipeline/ecr"
	"dagger/fargate/pipeline/ecs"
	"dagger/fargate/pipeline/internal/fakeaccount"
	"dagger/fargate/pipeline/policy/live"
	"dagger/fargate/pipeline/promote"
	"dagger/fargate/pipeline/taskdef"
)

const (
	plantedKey      = "AKIAE2EPLANTEDKEY001"
	plantedPassword = "e2e-planted-ecr-password"
)

// standalone starts the account on loopback listeners as the fakeaws command does, and
// returns the SDK configuration a module run would build (planted key, endpoint override).
func standalone(t *testing.T) (*fakeaccount.Account, *fakeaccount.Running, aws.Config) {
	t.Helper()
	awsLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	regLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	acct, err := fakeaccount.New(fakeaccount.Options{
		RegistryEndpoint: "http://" + regLn.Addr().String(),
		RegistryPassword: plantedPassword,
		AccessKeyID:      plantedKey,
		Speed:            200,
	})
	require.NoError(t, err)
	running := acct.Serve(awsLn, regLn)
	t.Cleanup(func() { _ = running.Close(context.Background()) })
	return acct, running, config(t, running, plantedKey)
}

func config(t *testing.T, running *fakeaccount.Running, key string) aws.Config {
	t.Helper()
	cfg, err := awsconf.Load(context.Background(), awsconf.Options{
		Region: fakeaccount.Region, AccessKeyID: key, SecretAccessKey: "planted-secret",
		Endpoint: "http://" + running.AWSAddr, MaxBackoff: 5 * time.Millisecond,
	})
	require.NoError(t, err)
	return cfg
}

func control(t *testing.T, running *fakeaccount.Running, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, "http://"+running.AWSAddr+path, rd)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

func service(t *testing.T, running *fakeaccount.Running, cluster string) fakeaccount.ServiceState {
	t.Helper()
	var st fakeaccount.ServiceState
	require.Equal(t, http.StatusOK, control(t, running, http.MethodGet, "/_fake/ecs/service?cluster="+cluster+"&service=sample-app", nil, &st))
	return st
}

func calls(t *testing.T, running *fakeaccount.Running) map[string]int {
	t.Helper()
	var out struct {
		Calls map[string]int `json:"calls"`
	}
	require.Equal(t, http.StatusOK, control(t, running, http.MethodGet, "/_fake/calls", nil, &out))
	return out.Calls
}

func renderSample(t *testing.T, env, image string) *taskdef.Definition {
	t.Helper()
	path := "../../../sample-app/ecs/" + env + ".taskdef.json"
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	def, err := taskdef.Parse(path, data)
	require.NoError(t, err)
	r, err := def.Render(taskdef.RenderOptions{Containers: []string{"app"}, Image: image})
	require.NoError(t, err)
	return r.Definition
}

func fastEngine(cfg aws.Config) *ecs.Engine {
	p := 20 * time.Millisecond
	return ecs.New(cfg, ecs.Options{Polling: ecs.Polling{Fast: p, Normal: p, Slow: p, Idle: p}})
}

// TestStandaloneAccountServesTheModulesFlows drives the running account with the real SDK
// clients and the pipeline's own packages through the scenarios the end-to-end suite uses:
// credentials, ECR login and push, a healthy deploy, a failing one rolled back by the circuit
// breaker, a busy service, promotion's source, and the audit's reads.
func TestStandaloneAccountServesTheModulesFlows(t *testing.T) {
	acct, running, cfg := standalone(t)
	ctx := context.Background()

	var health bytes.Buffer
	resp, err := http.Get("http://" + running.AWSAddr + "/_fake/healthz")
	require.NoError(t, err)
	_, _ = io.Copy(&health, resp.Body)
	resp.Body.Close()
	assert.Equal(t, "ok\n", health.String())

	// Seeded: both environments steady on their seed revision.
	for _, e := range fakeaccount.Environments() {
		st := service(t, running, e.Cluster)
		assert.Equal(t, e.Family+":1", st.TaskDefinition)
		assert.True(t, st.Steady)
		assert.Equal(t, acct.SeedImage(e.Name), st.Image)
	}

	// CloudWatch (RPC v2 CBOR): the sample prod's deployment alarms exist, quiet.
	states, err := alarms.Read(ctx, cloudwatch.NewFromConfig(cfg), fakeaccount.SampleAlarms())
	require.NoError(t, err)
	assert.Empty(t, states.Missing)
	require.Len(t, states.States, 2)
	for _, st := range states.States {
		assert.False(t, st.Firing(), st.Name)
	}

	// Credentials: the planted key is accepted, another is refused as AWS would.
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Equal(t, fakeaccount.AccountID, aws.ToString(id.Account))
	_, err = sts.NewFromConfig(config(t, running, "AKIAOTHERKEY00000000")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	var apiErr smithy.APIError
	require.True(t, errors.As(err, &apiErr), "%v", err)
	assert.Equal(t, "UnrecognizedClientException", apiErr.ErrorCode())
	assert.NotContains(t, err.Error(), "AKIAOTHERKEY00000000")

	// The planted key assumes the account's deploy role, whose temporary key is accepted too.
	roleCfg, err := awsconf.Load(ctx, awsconf.Options{Region: fakeaccount.Region, AccessKeyID: plantedKeyFor(t, cfg), SecretAccessKey: "planted-secret",
		Endpoint: "http://" + running.AWSAddr, RoleARN: fakeaccount.DeployRoleARN, RoleSessionName: "e2e", MaxBackoff: 5 * time.Millisecond})
	require.NoError(t, err)
	_, err = sts.NewFromConfig(roleCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	roleCreds, err := roleCfg.Credentials.Retrieve(ctx)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(roleCreds.AccessKeyID, "ASIA"), "signed as the assumed role")

	// ECR: login hands out the registry; a push needs the repository and the password.
	client := ecr.New(cfg)
	creds, err := client.Login(ctx)
	require.NoError(t, err)
	assert.Equal(t, running.RegistryAddr, creds.Registry)
	assert.Equal(t, plantedPassword, creds.Password.Reveal())
	img, err := random.Image(256, 1)
	require.NoError(t, err)
	ref, err := name.ParseReference(running.RegistryAddr+"/sample-app:rev-1", name.Insecure)
	require.NoError(t, err)
	auth := remote.WithAuth(&authn.Basic{Username: "AWS", Password: plantedPassword})
	err = remote.Write(ref, img, auth)
	require.Error(t, err, "a push to a repository ECR does not have fails")
	assert.Contains(t, err.Error(), "NAME_UNKNOWN")
	_, err = client.EnsureRepository(ctx, ecr.RepositoryOptions{Name: fakeaccount.Repository, KMSKey: "alias/sample-app-ecr", KeepImages: 50})
	require.NoError(t, err)
	err = remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "AWS", Password: "wrong"}))
	require.Error(t, err, "a push with the wrong password fails")
	require.NoError(t, remote.Write(ref, img, auth))
	digest, err := img.Digest()
	require.NoError(t, err)
	got, found, err := client.TagDigest(ctx, fakeaccount.Repository, "rev-1")
	require.NoError(t, err)
	require.True(t, found, "DescribeImages answers for a pushed tag")
	assert.Equal(t, digest.String(), got)
	imageRef := running.RegistryAddr + "/sample-app@" + digest.String()

	preprod := fakeaccount.Environments()[0]

	// A healthy deploy.
	before := calls(t, running)
	_, err = fastEngine(cfg).Deploy(ctx, ecs.DeployOptions{Cluster: preprod.Cluster, Service: preprod.Service,
		Definition: renderSample(t, "preprod", imageRef), Timeout: time.Minute})
	require.NoError(t, err)
	st := service(t, running, preprod.Cluster)
	assert.Equal(t, "sample-app-preprod:2", st.TaskDefinition)
	assert.Equal(t, imageRef, st.Image)
	assert.True(t, st.Steady)
	after := calls(t, running)
	assert.Equal(t, before["ecs/UpdateService"]+1, after["ecs/UpdateService"])
	assert.Equal(t, before["ecs/RegisterTaskDefinition"]+1, after["ecs/RegisterTaskDefinition"])

	// A failing deploy: the circuit breaker rolls back to revision 2.
	require.Equal(t, http.StatusOK, control(t, running, http.MethodPost, "/_fake/ecs/next-rollout", map[string]any{"rollouts": []string{"fail"}}, nil))
	_, err = fastEngine(cfg).Deploy(ctx, ecs.DeployOptions{Cluster: preprod.Cluster, Service: preprod.Service,
		Definition: renderSample(t, "preprod", imageRef), Timeout: time.Minute})
	require.Error(t, err)
	var settled fakeaccount.ServiceState
	require.Equal(t, http.StatusOK, control(t, running, http.MethodPost, "/_fake/ecs/settle",
		map[string]any{"cluster": preprod.Cluster, "service": preprod.Service, "timeoutSeconds": 30}, &settled))
	assert.Equal(t, "sample-app-preprod:2", settled.TaskDefinition)
	assert.Equal(t, []string{"sample-app-preprod:1", "sample-app-preprod:2", "sample-app-preprod:3"}, settled.Revisions)

	// Promotion reads the digest preprod runs, completed and steady.
	cand, err := promote.Resolve(ctx, awsecs.NewFromConfig(cfg), promote.Source{Env: "preprod", Cluster: preprod.Cluster,
		Service: preprod.Service, Container: "app", Region: fakeaccount.Region})
	require.NoError(t, err)
	assert.Equal(t, imageRef, cand.ImageRef)

	// A busy service: a deployment in progress that never ends until settled.
	var busy fakeaccount.ServiceState
	require.Equal(t, http.StatusOK, control(t, running, http.MethodPost, "/_fake/ecs/busy",
		map[string]any{"cluster": preprod.Cluster, "service": preprod.Service}, &busy))
	status, err := fastEngine(cfg).Status(ctx, preprod.Cluster, preprod.Service)
	require.NoError(t, err)
	assert.Len(t, status.Deployments, 2, "the module sees two deployments and refuses to start a third")
	require.Equal(t, http.StatusOK, control(t, running, http.MethodPost, "/_fake/ecs/settle",
		map[string]any{"cluster": preprod.Cluster, "service": preprod.Service, "timeoutSeconds": 30}, &settled))
	assert.Equal(t, "sample-app-preprod:2", settled.TaskDefinition)
	assert.Equal(t, 1, settled.Deployments)

	// diff: the definition deploy would register matches the one running; another image differs.
	d, err := fastEngine(cfg).Diff(ctx, preprod.Cluster, preprod.Service, renderSample(t, "preprod", imageRef))
	require.NoError(t, err)
	assert.Empty(t, d, "no difference right after the deploy")
	d, err = fastEngine(cfg).Diff(ctx, preprod.Cluster, preprod.Service, renderSample(t, "preprod", running.RegistryAddr+"/sample-app@sha256:"+strings.Repeat("0", 64)))
	require.NoError(t, err)
	assert.Contains(t, d, strings.Repeat("0", 64))

	// The audit's reads all answer (ECS, ECR, IAM roles of the running task definition,
	// detectors), so audit reports findings rather than failing.
	_, err = live.Audit(ctx, cfg, live.AuditTarget{Cluster: preprod.Cluster, Service: preprod.Service, Container: "app",
		Repository: fakeaccount.Repository, Env: "preprod", RequiredTags: []string{"env", "owner", "cost-center"}})
	require.NoError(t, err)
	account, err := detectors.Audit(ctx, cfg, fakeaccount.Region)
	require.NoError(t, err)
	assert.Empty(t, account, "every detector is on in the fake account")

	// Both services sit behind a load balancer, as the sample's do: prod deploys as a canary.
	for _, e := range fakeaccount.Environments() {
		out, err := awsecs.NewFromConfig(cfg).DescribeServices(ctx, &awsecs.DescribeServicesInput{Cluster: aws.String(e.Cluster), Services: []string{e.Service}})
		require.NoError(t, err)
		require.Len(t, out.Services, 1)
		require.Len(t, out.Services[0].LoadBalancers, 1, e.Name)
		assert.Contains(t, aws.ToString(out.Services[0].LoadBalancers[0].TargetGroupArn), e.Family+"-blue")
	}

	// rollback: back to the revision before the running one (:2 → :1; :3 failed and is newer).
	_, err = fastEngine(cfg).Rollback(ctx, ecs.RollbackOptions{Cluster: preprod.Cluster, Service: preprod.Service, Timeout: time.Minute})
	require.NoError(t, err)
	st = service(t, running, preprod.Cluster)
	assert.Equal(t, "sample-app-preprod:1", st.TaskDefinition)
	assert.True(t, st.Steady)
}

func TestControlAPIRejectsBadInput(t *testing.T) {
	_, running, _ := standalone(t)
	tests := []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"unknown rollout kind", http.MethodPost, "/_fake/ecs/next-rollout", map[string]any{"rollouts": []string{"slow"}}, http.StatusBadRequest},
		{"unknown field", http.MethodPost, "/_fake/ecs/next-rollout", map[string]any{"rollout": "fail"}, http.StatusBadRequest},
		{"busy on a missing service", http.MethodPost, "/_fake/ecs/busy", map[string]any{"cluster": "nope", "service": "sample-app"}, http.StatusBadRequest},
		{"missing service", http.MethodGet, "/_fake/ecs/service?cluster=nope&service=x", nil, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out map[string]any
			assert.Equal(t, tt.want, control(t, running, tt.method, tt.path, tt.body, &out))
			assert.NotEmpty(t, out["error"])
		})
	}
}

func TestNewNeedsARegistryEndpoint(t *testing.T) {
	_, err := fakeaccount.New(fakeaccount.Options{})
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "RegistryEndpoint"))
}

func TestScaledClock(t *testing.T) {
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	now := start
	c := fakeaccount.NewScaledClock(func() time.Time { return now }, 10)
	assert.Equal(t, start, c.Now())
	now = start.Add(3 * time.Second)
	assert.Equal(t, start.Add(30*time.Second), c.Now())
}

// plantedKeyFor is the access key ID cfg signs with.
func plantedKeyFor(t *testing.T, cfg aws.Config) string {
	t.Helper()
	c, err := cfg.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	return c.AccessKeyID
}
