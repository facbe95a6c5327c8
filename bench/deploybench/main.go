// Command deploybench measures how quickly the deploy engine notices that a rollout has
// finished and how often it calls DescribeServices, against the scripted ECS fake.
//
// Three runs:
//
//   - virtual: many healthy rollouts with randomised timings on a virtual clock. The
//     detection delay (fake reaches steady state -> Deploy returns) is measured in virtual
//     time, i.e. it reflects the polling schedule only, not network or CPU time.
//   - real: a few healthy rollouts scaled down to seconds, on the wall clock, in parallel.
//     The delay includes real request latency and scheduling.
//   - throttled: a rollout during which DescribeServices is throttled for two minutes
//     (virtual clock); the poll rate inside and outside the window is compared.
//
// Usage: go run ./bench/deploybench [-runs 300] [-real 6] [-seed 1]
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
	var polls int
	var waited time.Duration
	maxPerMin := 0
	for _, s := range samples {
		delays = append(delays, s.Delay)
		polls += s.Polls
		waited += s.Waited
		if s.MaxPerMin > maxPerMin {
			maxPerMin = s.MaxPerMin
		}
	}
	med, p95, mx := stats(delays)
	fmt.Printf("%-8s runs=%d  detection delay: median %s  p95 %s  max %s   DescribeServices: %.1f calls/min of waiting (max %d in any 60 s window)\n",
		name, len(samples), med.Round(time.Millisecond), p95.Round(time.Millisecond), mx.Round(time.Millisecond),
		float64(polls)/waited.Minutes(), maxPerMin)
}

func main() {
	runs := flag.Int("runs", 300, "virtual-clock rollouts")
	realRuns := flag.Int("real", 6, "wall-clock rollouts (run in parallel, ~15 s)")
	seed := flag.Int64("seed", 1, "random seed for rollout timings")
	flag.Parse()
	ctx := context.Background()
	rng := rand.New(rand.NewSource(*seed))
	ms := func(lo, hi int) time.Duration { return time.Duration(lo+rng.Intn(hi-lo)) * time.Millisecond }
	began := time.Now()

	var virtual []ecsbench.Sample
	for i := 0; i < *runs; i++ {
		s, err := ecsbench.Run(ctx, ecsbench.Scenario{Rollout: ecsbench.Rollout{StartAfter: ms(1000, 15000), RunAfter: ms(5000, 90000), DrainAfter: ms(2000, 60000)}})
		if err != nil {
			fmt.Fprintln(os.Stderr, "virtual run:", err)
			os.Exit(1)
		}
		virtual = append(virtual, s)
	}
	report("virtual", virtual)

	real := make([]ecsbench.Sample, *realRuns)
	var wg sync.WaitGroup
	errs := make(chan error, *realRuns)
	for i := range real {
		r := ecsbench.Rollout{StartAfter: ms(500, 2000), RunAfter: ms(3000, 7000), DrainAfter: ms(2000, 5000)}
		wg.Add(1)
		go func(i int, r ecsbench.Rollout) {
			defer wg.Done()
			s, err := ecsbench.Run(ctx, ecsbench.Scenario{Rollout: r, Real: true})
			if err != nil {
				errs <- err
				return
			}
			real[i] = s
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

	// Throttling: a 3-minute rollout with DescribeServices throttled from 10 s to 130 s,
	// against the same rollout unthrottled.
	slow := ecsbench.Rollout{StartAfter: 5 * time.Second, RunAfter: 150 * time.Second, DrainAfter: 20 * time.Second}
	th, err := ecsbench.Run(ctx, ecsbench.Scenario{Rollout: slow, Window: 2 * time.Minute, Throttle: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "throttled run:", err)
		os.Exit(1)
	}
	base, err := ecsbench.Run(ctx, ecsbench.Scenario{Rollout: slow, Window: 2 * time.Minute})
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline run:", err)
		os.Exit(1)
	}
	fmt.Printf("throttled (DescribeServices throttled for 2m0s, virtual clock): %.1f polls/min in the window (%.1f wire requests/min with the SDK's retries) vs %.1f polls/min unthrottled; %d polls saw throttling; still completed, detection delay %s\n",
		float64(th.InWindow)/2, float64(th.WireWindow)/2, float64(base.InWindow)/2, th.Throttled, th.Delay)
	fmt.Printf("harness wall time %s\n", time.Since(began).Round(time.Millisecond))
}
