// Command deploybench measures how quickly the deploy engine notices that a rollout has
// finished and how many ECS read calls it makes while waiting, against the scripted ECS
// fake, for healthy, failing (circuit-breaker rollback) and slow rollouts.
//
// The fake plays ECS's phases on a clock (see ecsfake.Rollout): the scheduler launches the
// new tasks, they are PROVISIONING, PENDING, then RUNNING, pass their load balancer health
// checks, the old tasks drain for the target group's deregistration delay and stop, and the
// deployment is COMPLETED (steady state). Runs:
//
//   - healthy: virtual clock; launch 1-10 s, PROVISIONING+PENDING 20-90 s, health checks
//     10-60 s, deregistration delay 5-60 s (the same for the warm-up deploy: a target
//     group property), stop 0-3 s. Each run first deploys once (warm-up) so that the
//     service has the event history a real service has.
//   - first: the healthy model without a warm-up deploy (no event history).
//   - failing: every task exits 10-40 s after launch; the circuit breaker fails the
//     deployment and ECS rolls back with a healthy-model rollout; the delay is measured from
//     the rollback's steady state.
//   - slow: PROVISIONING+PENDING 2-5 min, health checks 30-150 s (the ALB default is 5
//     checks 30 s apart), deregistration delay 300 s (the default), stop 0-3 s.
//   - throttled: a slow rollout during which DescribeServices is throttled for two minutes.
//   - real: a few short rollouts on the wall clock, in parallel (includes HTTP latency).
//
// Delays on the virtual clock reflect the polling schedule only. Reads are every ECS read
// call on the wire from UpdateService until Deploy returns (DescribeServices, ListTasks,
// DescribeTasks, ...), per minute of that wait, summed over the runs.
//
// Usage: go run ./bench/deploybench [-runs 200] [-real 6] [-seed 1]
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"sync"
	"time"

	"dagger/fargate/pipeline/ecs/ecsbench"
)

func stats(ds []time.Duration) (median, p95, max time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], ds[len(ds)*95/100], ds[len(ds)-1]
}

func report(name string, samples []ecsbench.Sample) {
	var delays []time.Duration
	var reads int
	var waited time.Duration
	maxPerMin := 0
	for _, s := range samples {
		delays = append(delays, s.Delay)
		reads += s.Reads
		waited += s.Waited
		if s.MaxPerMin > maxPerMin {
			maxPerMin = s.MaxPerMin
		}
	}
	med, p95, mx := stats(delays)
	fmt.Printf("%-8s runs=%-4d notice after steady state: median %-7s p95 %-7s max %-7s  ECS reads: %5.1f per minute of waiting (max %d in any 60 s window), mean wait %s\n",
		name, len(samples), med.Round(time.Millisecond), p95.Round(time.Millisecond), mx.Round(time.Millisecond),
		float64(reads)/waited.Minutes(), maxPerMin, (waited / time.Duration(len(samples))).Round(time.Second))
}

func main() {
	runs := flag.Int("runs", 200, "virtual-clock rollouts per scenario")
	realRuns := flag.Int("real", 6, "wall-clock rollouts (run in parallel, about a minute)")
	seed := flag.Int64("seed", 1, "random seed for rollout timings")
	flag.Parse()
	ctx := context.Background()
	rng := rand.New(rand.NewSource(*seed))
	ms := func(lo, hi int) time.Duration { return time.Duration(lo+rng.Intn(hi-lo+1)) * time.Millisecond }
	s := func(lo, hi int) time.Duration { return ms(lo*1000, hi*1000) }
	began := time.Now()
	healthy := func(drain time.Duration) ecsbench.Rollout {
		return ecsbench.Rollout{StartAfter: s(1, 10), RunAfter: s(20, 90), HealthyAfter: s(10, 60), DrainAfter: drain, StopAfter: s(0, 3)}
	}
	slow := func() ecsbench.Rollout {
		return ecsbench.Rollout{StartAfter: s(5, 15), RunAfter: s(120, 300), HealthyAfter: s(30, 150), DrainAfter: 300 * time.Second, StopAfter: s(0, 3)}
	}
	run := func(name string, mk func() ecsbench.Scenario) {
		var samples []ecsbench.Sample
		for i := 0; i < *runs; i++ {
			smp, err := ecsbench.Run(ctx, mk())
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s run: %v\n", name, err)
				os.Exit(1)
			}
			samples = append(samples, smp)
		}
		report(name, samples)
	}

	run("healthy", func() ecsbench.Scenario {
		drain := s(5, 60)
		return ecsbench.Scenario{LoadBalancer: true, History: true, Warmup: healthy(drain), Rollout: healthy(drain)}
	})
	run("first", func() ecsbench.Scenario {
		return ecsbench.Scenario{LoadBalancer: true, Rollout: healthy(s(5, 60))}
	})
	run("failing", func() ecsbench.Scenario {
		drain := s(5, 60)
		return ecsbench.Scenario{LoadBalancer: true, History: true, Warmup: healthy(drain),
			Rollout: ecsbench.Rollout{Fail: true, StartAfter: s(1, 10), FailAfter: s(10, 40)}, Rollback: healthy(drain)}
	})
	run("slow", func() ecsbench.Scenario {
		return ecsbench.Scenario{LoadBalancer: true, History: true, Warmup: slow(), Rollout: slow(), Timeout: 30 * time.Minute}
	})

	real := make([]ecsbench.Sample, *realRuns)
	var wg sync.WaitGroup
	errs := make(chan error, *realRuns)
	for i := range real {
		r := ecsbench.Rollout{StartAfter: s(1, 3), RunAfter: s(15, 25), HealthyAfter: s(10, 15), DrainAfter: s(5, 10), StopAfter: ms(0, 1000)}
		wg.Add(1)
		go func(i int, r ecsbench.Rollout) {
			defer wg.Done()
			smp, err := ecsbench.Run(ctx, ecsbench.Scenario{LoadBalancer: true, Rollout: r, Real: true})
			if err != nil {
				errs <- err
				return
			}
			real[i] = smp
		}(i, r)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		fmt.Fprintln(os.Stderr, "real run:", err)
		os.Exit(1)
	}
	if len(real) > 0 {
		report("real", real)
	}

	// Throttling: a slow rollout with DescribeServices throttled from 10 s to 130 s, against
	// the same rollout unthrottled.
	sl := ecsbench.Rollout{StartAfter: 5 * time.Second, RunAfter: 150 * time.Second, HealthyAfter: 30 * time.Second, DrainAfter: 20 * time.Second}
	th, err := ecsbench.Run(ctx, ecsbench.Scenario{LoadBalancer: true, Rollout: sl, Window: 2 * time.Minute, Throttle: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "throttled run:", err)
		os.Exit(1)
	}
	base, err := ecsbench.Run(ctx, ecsbench.Scenario{LoadBalancer: true, Rollout: sl, Window: 2 * time.Minute})
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline run:", err)
		os.Exit(1)
	}
	fmt.Printf("throttled (DescribeServices throttled for 2m0s, virtual clock): %.1f polls/min in the window (%.1f wire requests/min with the SDK's retries) vs %.1f polls/min unthrottled; %d polls saw throttling; still completed, notice %s\n",
		float64(th.InWindow)/2, float64(th.WireWindow)/2, float64(base.InWindow)/2, th.Throttled, th.Delay)
	fmt.Printf("harness wall time %s\n", time.Since(began).Round(time.Millisecond))
}
