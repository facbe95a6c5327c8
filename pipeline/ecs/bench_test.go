package ecs

import (
	"context"
	"testing"
	"time"

	"dagger/fargate/pipeline/internal/ecsfake"
)

// BenchmarkDeployHealthy deploys a healthy 45 s rollout on the virtual clock and reports the
// detection delay (virtual time from the fake's steady state to Deploy's return) and the
// DescribeServices polls per minute of waiting. go run ./bench/deploybench gives the same
// figures over randomised timings and on the wall clock.
func BenchmarkDeployHealthy(b *testing.B) {
	var delay, waited time.Duration
	polls := 0
	for i := 0; i < b.N; i++ {
		e := newEnv(b, envOpts{})
		e.fake.ScriptNext(ecsfake.Rollout{StartAfter: 5*time.Second + time.Duration(i%1000)*time.Millisecond})
		res, err := e.eng.Deploy(context.Background(), e.deployOpts())
		if err != nil {
			b.Fatal(err)
		}
		steady, _ := e.fake.SteadyAt(cluster, service)
		delay += e.clock.Now().Sub(steady)
		waited += res.Elapsed
		polls += res.Polls
	}
	b.ReportMetric(float64(delay.Milliseconds())/float64(b.N), "delay-ms/op")
	b.ReportMetric(float64(polls)/waited.Minutes(), "polls/min")
}
