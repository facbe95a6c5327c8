// Package fakeaccount is the fake AWS account the end-to-end suite (e2e/) runs the module
// against, as a process of its own: the AWS APIs the module calls (ECS, ECR, STS, EC2, IAM and
// the account detectors, served by the wire-level fakes of pipeline/internal), a real OCI
// registry that the fake ECR hands out as its proxy endpoint, and a small control API under
// /_fake/ with which the suite sets up scenarios (a failing rollout, a busy service) and
// checks what changed.
//
// The account holds the sample app's two AWS environments as sample-app/fargate.yaml
// declares them (clusters sample-app-preprod and sample-app-prod, service sample-app, task
// definition families sample-app-preprod and sample-app-prod), each already running a seed
// revision in steady state. ECS rollouts follow the fake's scripts on a clock that runs
// Speed times faster than the wall clock, so a rollout that takes a minute on AWS takes
// seconds here.
package fakeaccount

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"dagger/fargate/pipeline/internal/cloudwatchfake"
	"dagger/fargate/pipeline/internal/detectorfake"
	"dagger/fargate/pipeline/internal/ec2fake"
	"dagger/fargate/pipeline/internal/ecrfake"
	"dagger/fargate/pipeline/internal/ecsfake"
	"dagger/fargate/pipeline/internal/fakeaws"
	"dagger/fargate/pipeline/internal/iamfake"
	"dagger/fargate/pipeline/internal/logsfake"
	"dagger/fargate/pipeline/internal/secretsfake"
	"dagger/fargate/pipeline/internal/stsfake"
)

// The account's fixed identity, as the sample's environments file expects it.
const (
	// AccountID is the account the fake answers for (STS, ARNs, ECR registry ID).
	AccountID = "111122223333"
	// Region is the region of both environments.
	Region = "eu-west-1"
	// Repository is the ECR repository of the sample app.
	Repository = "sample-app"
)

// Environment is one seeded AWS environment of the sample app.
type Environment struct {
	Name, Cluster, Service, Family, Container string
	// Account is the account ID of the environment's role ARNs.
	Account string
}

// Environments are the seeded environments: preprod and prod, as in sample-app/fargate.yaml.
func Environments() []Environment {
	return []Environment{
		{Name: "preprod", Cluster: "sample-app-preprod", Service: "sample-app", Family: "sample-app-preprod", Container: "app", Account: AccountID},
		{Name: "prod", Cluster: "sample-app-prod", Service: "sample-app", Family: "sample-app-prod", Container: "app", Account: "444455556666"},
	}
}

// SampleAlarms are the deployment alarms of the sample's prod, seeded in state OK.
func SampleAlarms() []string {
	return []string{"sample-app-prod-5xx-rate", "sample-app-prod-target-latency"}
}

// Options configure an account.
type Options struct {
	// RegistryEndpoint is the registry URL GetAuthorizationToken hands out as proxyEndpoint:
	// where the Dagger engine and cosign reach Registry(), e.g. http://172.17.0.1:5001.
	// Required.
	RegistryEndpoint string
	// RegistryPassword is the ECR password (the token is base64 of AWS:<password>); the
	// registry accepts only it. Empty: a random one.
	RegistryPassword string
	// AccessKeyID, when set, is the only access key ID the AWS APIs accept.
	AccessKeyID string
	// Speed is how much faster than the wall clock ECS rollouts run (default 10).
	Speed float64
	// Now is the wall clock (default time.Now).
	Now func() time.Time
}

// Account is the running fake account. Create it with New.
type Account struct {
	opts     Options
	aws      *fakeaws.Server
	ecs      *ecsfake.Fake
	ecr      *ecrfake.Fake
	clock    *ScaledClock
	registry http.Handler
	self     aws.Config
	logs     *logsfake.Fake    // predeploy.go
	secrets  *secretsfake.Fake // predeploy.go

	mu   sync.Mutex
	hung map[string]bool // cluster/service with a deployment started by Busy
}

// New builds the account and seeds it: both environments' clusters, services and task
// definitions, the IAM roles their task definitions name, the network and the detectors.
func New(opts Options) (*Account, error) {
	if opts.RegistryEndpoint == "" {
		return nil, fmt.Errorf("fakeaccount: RegistryEndpoint is required (the registry URL the engine pushes to)")
	}
	if opts.Speed <= 0 {
		opts.Speed = 10
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RegistryPassword == "" {
		opts.RegistryPassword = randomHex(16)
	}
	srv := fakeaws.NewHandler()
	srv.RequireAccessKey(opts.AccessKeyID)
	a := &Account{opts: opts, aws: srv, clock: NewScaledClock(opts.Now, opts.Speed), hung: map[string]bool{}}
	a.ecs = ecsfake.New(srv, a.clock, ecsfake.Options{Account: AccountID, Region: Region})
	a.ecr = ecrfake.New(srv, AccountID, Region)
	a.ecr.SetProxyEndpoint(opts.RegistryEndpoint)
	// The sample prod's deployment alarms (sample-app/fargate.yaml), quiet.
	cw := cloudwatchfake.New(srv, AccountID, Region)
	for _, name := range SampleAlarms() {
		cw.SetAlarm(cloudwatchfake.State{Name: name, Value: cloudwatchfake.OK, Reason: "seeded", UpdatedAt: opts.Now().UTC()})
	}
	a.ecr.SetAuthorizationToken(base64.StdEncoding.EncodeToString([]byte("AWS:"+opts.RegistryPassword)), opts.Now().Add(12*time.Hour))
	a.registerExtras()
	if err := a.seed(); err != nil {
		return nil, err
	}
	a.registry = newRegistry(a.ecr, opts.RegistryPassword)
	self, err := a.selfConfig()
	if err != nil {
		return nil, err
	}
	a.self = self
	return a, nil
}

// Handler serves the AWS APIs and the control API (/_fake/...).
func (a *Account) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/_fake/", a.control())
	mux.Handle("/", a.aws)
	return mux
}

// Registry serves the OCI registry the fake ECR hands out.
func (a *Account) Registry() http.Handler { return a.registry }

// ECS is the account's ECS fake (tests and the control API).
func (a *Account) ECS() *ecsfake.Fake { return a.ecs }

// ECR is the account's ECR fake.
func (a *Account) ECR() *ecrfake.Fake { return a.ecr }

// Calls counts the AWS requests received so far by "service/Operation" (e.g. "ecs/UpdateService").
func (a *Account) Calls() map[string]int {
	out := map[string]int{}
	for _, c := range a.aws.CallLog() {
		out[c.Service+"/"+c.Operation]++
	}
	return out
}

// SeedImage is the image a seeded environment runs before any deploy.
func (a *Account) SeedImage(env string) string {
	sum := sha256.Sum256([]byte("fakeaccount seed image of " + env))
	return a.registryHost() + "/" + Repository + "@sha256:" + hex.EncodeToString(sum[:])
}

func (a *Account) registryHost() string {
	host := a.opts.RegistryEndpoint
	if _, rest, ok := strings.Cut(host, "://"); ok {
		host = rest
	}
	return strings.TrimSuffix(host, "/")
}

// DeployRoleARN is a role of the account the pipeline may assume (--aws-role-arn), with the
// planted keys (AssumeRole) or any web identity token the account was told to trust.
const DeployRoleARN = "arn:aws:iam::" + AccountID + ":role/e2e-deploy"

// registerExtras answers the calls no stateful fake covers: STS's caller identity and role
// assumption, and ECR's registry scanning configuration (enhanced, continuous, every
// repository).
func (a *Account) registerExtras() {
	stsfake.New(a.aws).AddRole(DeployRoleARN, "")
	a.aws.HandleQuery("sts", "GetCallerIdentity", func(url.Values) (string, error) {
		return fmt.Sprintf("<Account>%s</Account><Arn>arn:aws:iam::%s:user/e2e</Arn><UserId>AIDAE2E</UserId>", AccountID, AccountID), nil
	})
	a.aws.HandleJSON("ecr", "GetRegistryScanningConfiguration", func([]byte) (any, error) {
		return map[string]any{"registryId": AccountID, "scanningConfiguration": map[string]any{
			"scanType": "ENHANCED",
			"rules": []any{map[string]any{"scanFrequency": "CONTINUOUS_SCAN",
				"repositoryFilters": []any{map[string]any{"filter": "*", "filterType": "WILDCARD"}}}},
		}}, nil
	})
}

func (a *Account) seed() error {
	for _, e := range Environments() {
		arn, err := a.ecs.RegisterJSON(seedTaskDefinition(e, a.SeedImage(e.Name)))
		if err != nil {
			return fmt.Errorf("fakeaccount: seed task definition %s: %w", e.Family, err)
		}
		err = a.ecs.CreateService(ecsfake.ServiceSpec{
			Cluster: e.Cluster, Name: e.Service, TaskDefinition: arn, DesiredCount: 2,
			DeploymentConfiguration: types.DeploymentConfiguration{
				DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true},
				MaximumPercent:           aws.Int32(200), MinimumHealthyPercent: aws.Int32(100),
			},
		})
		if err != nil {
			return fmt.Errorf("fakeaccount: seed service %s/%s: %w", e.Cluster, e.Service, err)
		}
		// Behind the landing zone's load balancer, as the sample's services are: prod
		// deploys as a canary, which ECS refuses for a service without one.
		a.ecs.SetLoadBalancers(e.Cluster, e.Service, types.LoadBalancer{
			TargetGroupArn: aws.String(fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s-blue/0a1b2c3d4e5f6a7b", Region, e.Account, e.Family)),
			ContainerName:  aws.String(e.Container), ContainerPort: aws.Int32(8080),
		})
	}
	iam := iamfake.New(a.aws)
	for _, e := range Environments() {
		iam.AddRole(iamfake.Role{Name: e.Family + "-task", Inline: map[string]string{"deny-all": taskRolePolicy}})
		iam.AddRole(iamfake.Role{Name: e.Family + "-execution", Inline: map[string]string{"pull-logs-secrets": executionRolePolicy(e)}})
	}
	ec2 := ec2fake.New(a.aws)
	for i, cidr := range []string{"10.0.1.0/24", "10.0.2.0/24"} {
		ec2.AddSubnet(ec2fake.Subnet{ID: fmt.Sprintf("subnet-private-%d", i+1), VpcID: "vpc-sample", CIDR: cidr})
	}
	ec2.AddRouteTable(ec2fake.RouteTable{ID: "rtb-private", VpcID: "vpc-sample", Main: true,
		Routes: []ec2fake.Route{{Destination: "10.0.0.0/16", Target: "local"}, {Destination: "0.0.0.0/0", Target: "nat-sample"}}})
	ec2.AddSecurityGroup(ec2fake.SecurityGroup{ID: "sg-task", Name: "sample-app-task", VpcID: "vpc-sample",
		Ingress: []ec2fake.Permission{{Protocol: "tcp", FromPort: 8080, ToPort: 8080, Groups: []string{"sg-alb"}}}})
	if err := a.seedReferences(); err != nil {
		return err
	}
	acct := detectorfake.AllOn()
	acct.ID = AccountID
	detectorfake.New(a.aws, acct)
	return nil
}

// selfConfig is an SDK configuration that reaches this account in process (the control API
// uses the real ECS operations, e.g. to stop a deployment).
func (a *Account) selfConfig() (aws.Config, error) {
	key := a.opts.AccessKeyID
	if key == "" {
		key = "AKIAFAKEACCOUNTSELF0"
	}
	cfg, err := awsconfLoad(key)
	if err != nil {
		return aws.Config{}, err
	}
	cfg.HTTPClient = &http.Client{Transport: handlerTransport{a.aws}}
	return cfg, nil
}

// ScaledClock is a clock that runs Speed times faster than the wall clock from its start.
type ScaledClock struct {
	start time.Time
	speed float64
	now   func() time.Time
}

// NewScaledClock starts a clock at now() running speed times as fast.
func NewScaledClock(now func() time.Time, speed float64) *ScaledClock {
	return &ScaledClock{start: now(), speed: speed, now: now}
}

// Now is the scaled time.
func (c *ScaledClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(c.now().Sub(c.start)) * c.speed))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
