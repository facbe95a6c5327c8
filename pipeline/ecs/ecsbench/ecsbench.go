// Package ecsbench runs the deploy engine against the scripted ECS fake and measures how
// soon it notices the end of a rollout and how often it polls; bench/deploybench prints
// the figures. It is a measuring harness, not used by the pipeline.
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

// Rollout is the timing of a healthy scripted rollout.
type Rollout struct {
	StartAfter, RunAfter, DrainAfter time.Duration
}

func toFake(r Rollout) ecsfake.Rollout {
	return ecsfake.Rollout{Kind: ecsfake.Healthy, StartAfter: r.StartAfter, RunAfter: r.RunAfter, DrainAfter: r.DrainAfter}
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
	Waited     time.Duration // Deploy duration
	Polls      int           // distinct DescribeServices polls (engine level)
	Wire       int           // DescribeServices requests on the wire (with SDK retries)
	MaxPerMin  int           // most polls in any 60 s window
	Throttled  int
	InWindow   int // polls inside the throttle window
	WireWindow int
}

// Scenario is one run: a healthy rollout, optionally with DescribeServices throttled in a
// window, on the virtual clock or (Real) the wall clock.
type Scenario struct {
	Rollout  Rollout
	Window   time.Duration // count polls from 10 s after the update for this long
	Throttle bool          // and throttle DescribeServices in that window
	Real     bool
}

// Run deploys once against a fresh fake and measures it.
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
	if err := fake.CreateService(ecsfake.ServiceSpec{Cluster: "preprod", Name: "sample-app", TaskDefinition: old, DesiredCount: 2,
		DeploymentConfiguration: types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(100), MaximumPercent: aws.Int32(200)}}); err != nil {
		return Sample{}, err
	}
	fake.ScriptNext(toFake(sc.Rollout))
	now := fclock.Now()
	if sc.Throttle {
		fake.ThrottleDescribeServices(now.Add(10*time.Second), now.Add(10*time.Second+sc.Window))
	}
	cfg, err := srv.HarnessConfig(ctx)
	if err != nil {
		return Sample{}, err
	}
	def, err := taskdef.Parse("taskdef.json", []byte(doc))
	if err != nil {
		return Sample{}, err
	}
	r, err := def.Render(taskdef.RenderOptions{Containers: []string{"app"}, Image: repo + "@" + digest})
	if err != nil {
		return Sample{}, err
	}
	eng := ecs.New(cfg, ecs.Options{Clock: eclock, Log: io.Discard})
	res, err := eng.Deploy(ctx, ecs.DeployOptions{Cluster: "preprod", Service: "sample-app", Definition: r.Definition, Timeout: 15 * time.Minute})
	returned := fclock.Now()
	if err != nil {
		return Sample{}, err
	}
	steady, ok := fake.SteadyAt("preprod", "sample-app")
	if !ok {
		return Sample{}, fmt.Errorf("fake not steady after %s", res.Outcome)
	}
	s := Sample{Delay: returned.Sub(steady), Waited: res.Elapsed, Throttled: res.Throttled}
	var polls []time.Time
	for _, c := range fake.Calls() {
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
	s.Polls = len(polls)
	for i := range polls {
		j := i
		for j < len(polls) && polls[j].Sub(polls[i]) < time.Minute {
			j++
		}
		if j-i > s.MaxPerMin {
			s.MaxPerMin = j - i
		}
	}
	return s, nil
}
