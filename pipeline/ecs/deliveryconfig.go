package ecs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/internal/clock"
)

// DeliveryFromConfig turns an environment's delivery settings (strategy, bake times,
// canary/linear, alarms, blue/green wiring, test probe) into the engine's Delivery. It
// returns nil for a rolling environment without alarms: the deploy then keeps the
// DescribeServices wait it always had. client may be nil (http.DefaultClient).
func DeliveryFromConfig(env config.Environment, client *http.Client) *Delivery {
	strategy := env.StrategyOrDefault()
	if strategy == config.StrategyRolling && env.Alarms == nil {
		return nil
	}
	d := &Delivery{BakeTime: env.BakeTime.Duration}
	switch strategy {
	case config.StrategyBlueGreen:
		d.Strategy = types.DeploymentStrategyBlueGreen
	case config.StrategyCanary:
		d.Strategy = types.DeploymentStrategyCanary
		if env.Canary != nil {
			d.CanaryPercent, d.CanaryBakeTime = env.Canary.Percent, env.Canary.BakeTime.Duration
		}
	case config.StrategyLinear:
		d.Strategy = types.DeploymentStrategyLinear
		if env.Linear != nil {
			d.LinearPercent, d.LinearInterval = env.Linear.Percent, env.Linear.Interval.Duration
		}
	default:
		d.Strategy = types.DeploymentStrategyRolling
	}
	if env.Alarms != nil {
		d.Alarms, d.AlarmRollback = append([]string(nil), env.Alarms.Names...), env.Alarms.RollbackEnabled()
	}
	if lb := env.LoadBalancer; lb != nil {
		d.LoadBalancer = &BlueGreen{TargetGroupArn: lb.TargetGroup, AlternateTargetGroupArn: lb.AlternateTargetGroup,
			ProductionListenerRule: lb.ProductionListenerRule, TestListenerRule: lb.TestListenerRule, RoleArn: lb.Role}
	}
	if tp := env.TestProbe; tp != nil {
		d.TestProbe = HTTPProbe(client, tp.URL, tp.ExpectStatus, tp.Attempts, tp.Interval.Duration)
		// Hold the test-traffic stage long enough for every attempt, with room to spare.
		need := time.Duration(tp.Attempts)*(tp.Interval.Duration+probeRequestTimeout) + 5*time.Minute
		d.TestProbeHold = need.Truncate(time.Minute) + time.Minute
	}
	return d
}

// probeRequestTimeout bounds one probe request.
const probeRequestTimeout = 10 * time.Second

// HTTPProbe returns a probe that GETs url attempts times, interval apart, and fails unless
// every answer has status expect. The error names the attempt, the URL and what came back
// (never a response body). client may be nil (http.DefaultClient).
func HTTPProbe(client *http.Client, url string, expect, attempts int, interval time.Duration) func(ctx context.Context) error {
	if client == nil {
		client = http.DefaultClient
	}
	if attempts < 1 {
		attempts = 1
	}
	return func(ctx context.Context) error {
		for i := 1; i <= attempts; i++ {
			if i > 1 {
				if err := clock.Sleep(ctx, interval); err != nil {
					return fmt.Errorf("test probe %s: %w", url, err)
				}
			}
			if err := probeOnce(ctx, client, url, expect); err != nil {
				return fmt.Errorf("test probe attempt %d/%d: %w", i, attempts, err)
			}
		}
		return nil
	}
}

func probeOnce(ctx context.Context, client *http.Client, url string, expect int) error {
	rctx, cancel := context.WithTimeout(ctx, probeRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue interface{ Timeout() bool }
		if errors.As(err, &ue) && ue.Timeout() {
			return fmt.Errorf("GET %s: no answer within %s", url, probeRequestTimeout)
		}
		return fmt.Errorf("GET %s: %w", url, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != expect {
		return fmt.Errorf("GET %s: status %d, expected %d", url, resp.StatusCode, expect)
	}
	return nil
}
