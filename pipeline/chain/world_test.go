package chain_test

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/awsconf"
	"dagger/fargate/pipeline/chain"
	"dagger/fargate/pipeline/ecs"
	"dagger/fargate/pipeline/internal/cloudwatchfake"
	"dagger/fargate/pipeline/internal/ecrfake"
	"dagger/fargate/pipeline/internal/ecsfake"
	"dagger/fargate/pipeline/internal/fakeaws"
)

const (
	preprodAccount = "111122223333"
	prodAccount    = "444455556666"
	region         = "eu-west-1"
	// Planted credentials: they must never appear in any output.
	plantedKeyID  = "AKIAPLANTEDKEYID0001"
	plantedSecret = "planted-secret-value-never-shown"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// world is the sample app deployed against wire-level AWS fakes: ECS (both environments'
// clusters), ECR and STS on one endpoint, with the container steps played by fakeSteps.
type world struct {
	t      *testing.T
	srv    *fakeaws.Server
	ecs    *ecsfake.Fake
	ecr    *ecrfake.Fake
	cw     *cloudwatchfake.Fake
	clock  *ecsfake.VirtualClock
	steps  *fakeSteps
	files  map[string]string // overrides of the sample app's files
	log    *bytes.Buffer
	s      *chain.Session
	caller string // the account STS answers with
	arns   map[string]string
	refs   *references // what the task definitions refer to (predeploy_test.go)
}

// sampleConfig is the sample's environments file, signing with a key pair (the sample signs
// with AWS KMS, which cosign reaches outside the AWS SDK).
func sampleConfig(t *testing.T) string {
	data, err := os.ReadFile(filepath.Join("..", "..", "sample-app", "fargate.yaml"))
	require.NoError(t, err)
	s := strings.Replace(string(data), "mode: kms", "mode: key", 1)
	return strings.Replace(s, "  kmsKey: awskms:///alias/sample-app-signing\n", "", 1)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	srv := fakeaws.New(t)
	clock := ecsfake.NewVirtualClock(t0)
	w := &world{t: t, srv: srv, clock: clock, steps: newFakeSteps(), log: &bytes.Buffer{}, caller: preprodAccount, arns: map[string]string{}}
	w.ecs = ecsfake.New(srv, clock, ecsfake.Options{Account: preprodAccount, Region: region})
	w.ecr = ecrfake.New(srv, preprodAccount, region)
	// The sample prod's deployment alarms, quiet.
	w.cw = cloudwatchfake.New(srv, prodAccount, region)
	for _, name := range []string{"sample-app-prod-5xx-rate", "sample-app-prod-target-latency"} {
		w.cw.SetAlarm(cloudwatchfake.State{Name: name, Value: cloudwatchfake.OK})
	}
	srv.HandleQuery("sts", "GetCallerIdentity", func(url.Values) (string, error) {
		return `<Arn>arn:aws:iam::` + w.caller + `:user/deployer</Arn><UserId>AIDAFAKE</UserId><Account>` + w.caller + `</Account>`, nil
	})
	w.files = map[string]string{"fargate.yaml": sampleConfig(t)}
	for _, env := range []string{"preprod", "prod"} {
		arn, err := w.ecs.RegisterJSON(w.file("ecs/" + env + ".taskdef.json"))
		require.NoError(t, err)
		w.arns[env] = arn
		require.NoError(t, w.ecs.CreateService(ecsfake.ServiceSpec{
			Cluster: "sample-app-" + env, Name: "sample-app", TaskDefinition: arn, DesiredCount: 2,
			DeploymentConfiguration: types.DeploymentConfiguration{
				DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true},
				MinimumHealthyPercent:    aws.Int32(100), MaximumPercent: aws.Int32(200),
			},
		}))
	}
	// The sample's prod deploys as a canary: its service sits behind the load balancer.
	w.ecs.SetLoadBalancers("sample-app-prod", "sample-app", types.LoadBalancer{
		TargetGroupArn: aws.String("arn:aws:elasticloadbalancing:eu-west-1:444455556666:targetgroup/sample-app-prod-blue/0a1b2c3d4e5f6a7c"),
		ContainerName:  aws.String("app"), ContainerPort: aws.Int32(8080),
	})
	w.seedReferences()
	w.steps.trivyReport = w.testdata("report-clean.json")
	w.steps.iacReport = w.testdata("report-clean.json")
	w.steps.push = func(t chain.PushTarget) (string, error) {
		repo := t.Address[strings.Index(t.Address, "/")+1 : strings.LastIndex(t.Address, ":")]
		tag := t.Address[strings.LastIndex(t.Address, ":")+1:]
		if t.Local {
			return "sha256:" + strings.Repeat("ab", 32), nil
		}
		return w.ecr.AddImage(repo, `{"schemaVersion":2,"tag":"`+tag+`"}`, tag), nil
	}
	w.s = &chain.Session{
		ConfigPath: "fargate.yaml",
		ReadFile: func(_ context.Context, p string) ([]byte, error) {
			return []byte(w.file(p)), nil
		},
		Steps:       w.steps,
		Credentials: chain.Credentials{AccessKeyID: plantedKeyID, SecretAccessKey: plantedSecret},
		GitRevision: "9f1c2e7b5d0a4c3e",
		Keys:        chain.Keys{PrivateKey: true, Password: true},
		Log:         w.log,
		Now:         func() time.Time { return clock.Now() },
		ECS:         ecs.Options{Clock: clock},
		TuneAWS: func(o *awsconf.Options) {
			o.Endpoint = srv.URL()
			o.MaxBackoff = 5 * time.Millisecond
		},
	}
	return w
}

func (w *world) file(p string) string {
	if s, ok := w.files[p]; ok {
		return s
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "sample-app", filepath.FromSlash(p)))
	require.NoError(w.t, err, "read sample-app/%s", p)
	return string(data)
}

func (w *world) testdata(name string) []byte {
	data, err := os.ReadFile(filepath.Join("..", "scan", "testdata", name))
	require.NoError(w.t, err)
	return data
}

// mutations lists the AWS calls that change something, in order.
func (w *world) mutations() []string {
	var out []string
	for _, c := range w.srv.CallLog() {
		switch c.Operation {
		case "RegisterTaskDefinition", "UpdateService", "CreateService", "DeleteService", "TagResource",
			"StopServiceDeployment", "CreateRepository", "PutLifecyclePolicy", "PutImage",
			"PutImageScanningConfiguration", "PutImageTagMutability", "BatchDeleteImage":
			out = append(out, c.Service+":"+c.Operation)
		}
	}
	return out
}

// headline is the report's status line (the third line of the Markdown).
func headline(t *testing.T, report string) string {
	t.Helper()
	lines := strings.Split(report, "\n")
	require.GreaterOrEqual(t, len(lines), 3, "report: %s", report)
	return lines[2]
}

// reportOf returns the report a deploy returned, or the one its error carries.
func reportOf(out string, err error) string {
	if err != nil {
		if i := strings.Index(err.Error(), "\n\n## "); i >= 0 {
			return err.Error()[i+2:]
		}
		return err.Error()
	}
	return out
}

// assertNoSecrets checks every output of the run for the planted credentials.
func (w *world) assertNoSecrets(out string, err error) {
	w.t.Helper()
	all := out + w.log.String()
	if err != nil {
		all += err.Error()
	}
	for _, secret := range []string{plantedKeyID, plantedSecret, "fake-ecr-password-never-printed"} {
		require.NotContains(w.t, all, secret)
	}
}
