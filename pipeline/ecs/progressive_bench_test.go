package ecs

import (
	"context"
	"slices"
	"testing"
	"time"

	"dagger/fargate/pipeline/internal/ecsfake"
)

// BenchmarkCanaryNotice runs canary deployments (10 % for 5 minutes, 5 minutes of bake) on
// the virtual clock with task start, shift and clean-up times spread over each run, and
// reports the notice delay (virtual time from the service deployment's end to Deploy's
// return: median and max) and the ECS reads per minute of waiting, overall and in the busiest
// minute. Run: go test ./pipeline/ecs -run XXX -bench CanaryNotice -benchtime 200x
func BenchmarkCanaryNotice(b *testing.B) {
	var delays []time.Duration
	var waited time.Duration
	reads, busiest := 0, 0
	for i := 0; i < b.N; i++ {
		e := newDeliveryEnv(b)
		e.fake.SetDeliveryTimings(ecsfake.DeliveryTimings{
			Shift:   5*time.Second + time.Duration(i*137%10000)*time.Millisecond,
			CleanUp: 10*time.Second + time.Duration(i*7919%50000)*time.Millisecond,
		})
		e.fake.ScriptNext(ecsfake.Rollout{StartAfter: 5*time.Second + time.Duration(i*389%3000)*time.Millisecond})
		res, err := e.eng.Deploy(context.Background(), e.deliveryOpts(canary(), 20*time.Minute))
		if err != nil {
			b.Fatal(err)
		}
		steady, _ := e.fake.SteadyAt(cluster, service)
		delays = append(delays, e.clock.Now().Sub(steady))
		waited += res.Elapsed
		var ts []time.Time
		for _, c := range e.fake.Calls() {
			if c.Operation == "DescribeServiceDeployments" || c.Operation == "DescribeServices" {
				ts = append(ts, c.At)
			}
		}
		reads += len(ts)
		for j := range ts {
			k := j
			for k < len(ts) && ts[k].Sub(ts[j]) < time.Minute {
				k++
			}
			busiest = max(busiest, k-j)
		}
	}
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Milliseconds()), "median-notice-ms")
	b.ReportMetric(float64(delays[len(delays)-1].Milliseconds()), "max-notice-ms")
	b.ReportMetric(float64(reads)/waited.Minutes(), "reads/min")
	b.ReportMetric(float64(busiest), "busiest-minute-reads")
}
