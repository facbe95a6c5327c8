// Package ecsbench runs the deploy engine against the scripted ECS fake and measures how
// soon it notices the end of a rollout and how many ECS read calls it makes while waiting;
// bench/deploybench prints the figures. It is a measuring harness, not used by the pipeline.
package ecsbench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"dagger/fargate/pipeline/ecs"
	"dagger/fargate/pipeline/internal/ecsfake"
	"dagger/fargate/pipeline/internal/fakeaws"
	"dagger/fargate/pipeline/taskdef"
)

// Rollout is the timing of one scripted rollout (see ecsfake.Rollout for the phases).
type Rollout struct {
	StartAfter, RunAfter, HealthyAfter, DrainAfter, StopAfter time.Duration
	// Fail makes every task exit after FailAfter: the circuit breaker rolls back.
	Fail      bool
	FailAfter time.Duration
}

func toFake(r Rollout) ecsfake.Rollout {
	out := ecsfake.Rollout{Kind: ecsfake.Healthy, StartAfter: r.StartAfter, RunAfter: r.RunAfter, HealthyAfter: r.HealthyAfter,
		DrainAfter: r.DrainAfter, StopAfter: r.StopAfter}
	if r.Fail {
		out.Kind, out.FailAfter = ecsfake.FailTasks, r.FailAfter
	}
	return out
}

const (
	repo   = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sample-app"
	digest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	doc    = `{"family":"sample-app-preprod","cpu":"256","memory":"512","requiresCompatibilities":["FARGATE"],"networkMode":"awsvpc",
"containerDefinitions":[{"name":"app","image":"` + repo + `@sha256:1111111111111111111111111111111111111111111111111111111111111111","essential":true}]}`
)

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Sample is what one run measured. In virtual runs times are virtual.
type Sample struct {
	Delay      time.Duration // steady state -> Deploy returned
	Waited     time.Duration // UpdateService -> Deploy returned
	Reads      int           // ECS read calls (DescribeServices, ListTasks, DescribeTasks, ...) in Waited
	Polls      int           // DescribeServices requests among them, distinct instants (SDK retries folded)
	Wire       int           // DescribeServices requests on the wire (with SDK retries)
	MaxPerMin  int           // most reads in any 60 s window
	Throttled  int
	InWindow   int // polls inside the throttle window
	WireWindow int
	Outcome    string
}

// Scenario is one run: a rollout (after a warm-up deploy that leaves the service's event
// history, when History), optionally with DescribeServices throttled in a window, on the
// virtual clock or (Real) the wall clock.
type Scenario struct {
	Rollout Rollout
	// Rollback is the timing of ECS's rollback when Rollout fails.
	Rollback Rollout
	// Warmup is the timing of the deploy before the measured one (History).
	Warmup  Rollout
	History bool
	// LoadBalancer puts the service behind a target group: old tasks drain before they stop.
	LoadBalancer bool
	Timeout      time.Duration
	Window       time.Duration // count polls from 10 s after the update for this long
	Throttle     bool          // and throttle DescribeServices in that window
	Real         bool
}

var readOps = map[string]bool{
	"DescribeServices": true, "ListTasks": true, "DescribeTasks": true, "DescribeTaskDefinition": true,
	"ListTaskDefinitions": true, "ListServiceDeployments": true, "DescribeServiceDeployments": true, "DescribeClusters": true,
}

// Run deploys against a fresh fake and measures the (last) deploy.
func Run(ctx context.Context, sc Scenario) (Sample, error) {
	srv := fakeaws.Start()
	defer srv.Close()
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	vclock := ecsfake.NewVirtualClock(start)
	var fclock ecsfake.Clock = vclock
	var eclock ecs.Clock = vclock
	if sc.Real {
		fclock, eclock = wallClock{}, ecs.RealClock{}
	}
	fake := ecsfake.New(srv, fclock, ecsfake.Options{})
	old, err := fake.RegisterJSON(doc)
	if err != nil {
		return Sample{}, err
	}
	spec := ecsfake.ServiceSpec{Cluster: "preprod", Name: "sample-app", TaskDefinition: old, DesiredCount: 2,
		DeploymentConfiguration: types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(100), MaximumPercent: aws.Int32(200),
			DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}}}
	if sc.LoadBalancer {
		spec.LoadBalancers = []types.LoadBalancer{{ContainerName: aws.String("app"), ContainerPort: aws.Int32(8080),
			TargetGroupArn: aws.String("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/sample-app/0123456789abcdef")}}
	}
	if err := fake.CreateService(spec); err != nil {
		return Sample{}, err
	}
	cfg, err := srv.HarnessConfig(ctx)
	if err != nil {
		return Sample{}, err
	}
	def, err := taskdef.Parse("taskdef.json", []byte(doc))
	if err != nil {
		return Sample{}, err
	}
	eng := ecs.New(cfg, ecs.Options{Clock: eclock, Log: io.Discard})
	timeout := sc.Timeout
	if timeout == 0 {
		timeout = 15 * time.Minute
	}
	deploy := func(img string) (*ecs.Result, error) {
		r, err := def.Render(taskdef.RenderOptions{Containers: []string{"app"}, Image: repo + "@" + img})
		if err != nil {
			return nil, err
		}
		return eng.Deploy(ctx, ecs.DeployOptions{Cluster: "preprod", Service: "sample-app", Definition: r.Definition, Timeout: timeout})
	}
	if sc.History {
		fake.ScriptNext(toFake(sc.Warmup))
		if _, err := deploy("sha256:3333333333333333333333333333333333333333333333333333333333333333"); err != nil {
			return Sample{}, fmt.Errorf("warm-up deploy: %w", err)
		}
	}
	fake.ScriptNext(toFake(sc.Rollout))
	if sc.Rollout.Fail {
		fake.ScriptNext(toFake(sc.Rollback))
	}
	now := fclock.Now()
	if sc.Throttle {
		fake.ThrottleDescribeServices(now.Add(10*time.Second), now.Add(10*time.Second+sc.Window))
	}
	from := len(fake.Calls())
	res, err := deploy(digest)
	returned := fclock.Now()
	if err != nil && !sc.Rollout.Fail {
		return Sample{}, err
	}
	steady, ok := fake.SteadyAt("preprod", "sample-app")
	if !ok {
		return Sample{}, fmt.Errorf("fake not steady after %s", res.Outcome)
	}
	s := Sample{Delay: returned.Sub(steady), Throttled: res.Throttled, Outcome: res.Outcome}
	var updated time.Time
	var reads, polls []time.Time
	for _, c := range fake.Calls()[from:] {
		if c.Operation == "UpdateService" && updated.IsZero() {
			updated = c.At
		}
		if updated.IsZero() || !readOps[c.Operation] {
			continue
		}
		reads = append(reads, c.At)
		if c.Operation != "DescribeServices" {
			continue
		}
		s.Wire++
		inWin := sc.Window > 0 && !c.At.Before(now.Add(10*time.Second)) && c.At.Before(now.Add(10*time.Second+sc.Window))
		if inWin {
			s.WireWindow++
		}
		if len(polls) == 0 || !polls[len(polls)-1].Equal(c.At) || sc.Real {
			polls = append(polls, c.At)
			if inWin {
				s.InWindow++
			}
		}
	}
	s.Waited = returned.Sub(updated)
	s.Polls, s.Reads = len(polls), len(reads)
	for i := range reads {
		j := i
		for j < len(reads) && reads[j].Sub(reads[i]) < time.Minute {
			j++
		}
		if j-i > s.MaxPerMin {
			s.MaxPerMin = j - i
		}
	}
	return s, nil
}
