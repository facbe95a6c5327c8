package ecs

import (
	"context"
	"math/rand"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The read budgets on golang.org/x/time/rate allow exactly what the two hand-written ones
// they replace allowed: the rolling wait's "the n-th read no sooner than (n - freeReads) /
// PerMinute minutes after the start", and the follower's token bucket that replayed its
// past reads. Both references are written out here, and compared over random read times.
func TestReadBudgetsMatchTheirDefinitions(t *testing.T) {
	start := t0
	linear := func(reads int, perMinute int, now time.Time) time.Duration {
		earliest := start.Add(time.Duration(reads+1-freeReads) * time.Minute / time.Duration(perMinute))
		return max(earliest.Sub(now), 0)
	}
	replay := func(times []time.Time, perMinute, burst int, now time.Time) time.Duration {
		perRead := time.Minute / time.Duration(perMinute)
		tokens, last := float64(burst), start
		for _, t := range times {
			tokens = min(float64(burst), tokens+float64(t.Sub(last))/float64(perRead)) - 1
			last = t
		}
		tokens = min(float64(burst), tokens+float64(now.Sub(last))/float64(perRead))
		if tokens >= 1 {
			return 0
		}
		return time.Duration((1 - tokens) * float64(perRead))
	}
	// Each run reads slowly for its first reads (the bucket fills: a bake, tasks starting),
	// then tightly (it empties: the end is near), so that both the cap and the debt matter.
	for _, tc := range []struct {
		name      string
		perMinute int
		burst     int // 0: the rolling wait's average budget
		slowReads int
		slow      [2]time.Duration
		fast      [2]time.Duration
	}{
		{name: "rolling, tight from the start", perMinute: 20, slow: [2]time.Duration{0, 2 * time.Second}, fast: [2]time.Duration{0, 2 * time.Second}},
		{name: "rolling, slow then tight", perMinute: 20, slowReads: 20, slow: [2]time.Duration{10 * time.Second, 15 * time.Second}, fast: [2]time.Duration{0, time.Second}},
		{name: "rolling, scaled budget", perMinute: 200, slowReads: 30, slow: [2]time.Duration{time.Second, 2 * time.Second}, fast: [2]time.Duration{0, 200 * time.Millisecond}},
		{name: "progressive, tight from the start", perMinute: deliveryPolls, burst: deliveryPolls, slow: [2]time.Duration{0, 2 * time.Second}, fast: [2]time.Duration{0, 2 * time.Second}},
		{name: "progressive, bake then tight", perMinute: deliveryPolls, burst: deliveryPolls, slowReads: 40, slow: [2]time.Duration{10 * time.Second, 15 * time.Second}, fast: [2]time.Duration{time.Second, 1500 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(1))
			deadline := start.Add(30 * time.Minute)
			b := averageBudget(start, deadline, tc.perMinute, freeReads)
			if tc.burst > 0 {
				b = bucketBudget(start, tc.perMinute, tc.burst)
			}
			var times []time.Time
			now := start
			held := 0
			for i := 0; i < 300 && now.Before(deadline); i++ {
				want := linear(len(times), tc.perMinute, now)
				if tc.burst > 0 {
					want = replay(times, tc.perMinute, tc.burst, now)
				}
				assert.InDelta(t, want, b.delay(now), float64(time.Microsecond), "read %d at %s", i, now.Sub(start))
				if want > 0 {
					held++
				}
				b.spend(now)
				times = append(times, now)
				gap := tc.fast
				if i < tc.slowReads {
					gap = tc.slow
				}
				now = now.Add(gap[0] + time.Duration(rng.Int63n(int64(gap[1]-gap[0])+1)))
			}
			assert.Positive(t, held, "the budget held some reads")
			t.Logf("%d of %d reads held by the budget", held, len(times))
		})
	}
}

// throttlingDeliveryAPI answers DescribeServiceDeployments with throttling n times, then
// passes through to the real client.
type throttlingDeliveryAPI struct {
	*awsecs.Client
	n int
}

func (a *throttlingDeliveryAPI) DescribeServiceDeployments(ctx context.Context, in *awsecs.DescribeServiceDeploymentsInput, optFns ...func(*awsecs.Options)) (*awsecs.DescribeServiceDeploymentsOutput, error) {
	if a.n > 0 {
		a.n--
		return nil, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	}
	return a.Client.DescribeServiceDeployments(ctx, in, optFns...)
}

// A progressive deploy is followed by the same poller as a rolling one: throttling backs
// off and is not a failure, however long it lasts.
func TestProgressiveThrottlingBacksOff(t *testing.T) {
	for _, tc := range []struct {
		name      string
		throttled int
	}{
		{name: "a few throttled reads", throttled: 2},
		{name: "more throttled reads in a row than failures allowed", throttled: maxConsecutiveErrors + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newDeliveryEnv(t)
			api := &throttlingDeliveryAPI{Client: awsecs.NewFromConfig(e.srv.Config(t)), n: tc.throttled}
			e.eng = New(aws.Config{}, Options{ECS: api, STS: e.eng.sts, Clock: e.clock, Log: e.log})
			res, err := e.eng.Deploy(context.Background(), e.deliveryOpts(canary(), 20*time.Minute))
			require.NoError(t, err)
			assert.Equal(t, Completed, res.Class)
			assert.Equal(t, tc.throttled, res.Throttled)
			assert.Zero(t, api.n)
			if tc.throttled > 2 {
				assert.GreaterOrEqual(t, res.MaxInterval, 8*followStart, "the interval grows under throttling")
			}
			e.assertReadBudget()
		})
	}
}
