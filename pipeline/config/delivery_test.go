package config_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/config"
)

const (
	altTG    = "arn:aws:elasticloadbalancing:eu-west-1:444455556666:targetgroup/web-green/0a1b2c3d4e5f6a7b"
	prodRule = "arn:aws:elasticloadbalancing:eu-west-1:444455556666:listener-rule/app/web/1a2b3c4d5e6f7a8b/2b3c4d5e6f7a8b9c/3c4d5e6f7a8b9c0d"
	testRule = "arn:aws:elasticloadbalancing:eu-west-1:444455556666:listener-rule/app/web/1a2b3c4d5e6f7a8b/4d5e6f7a8b9c0d1e/5e6f7a8b9c0d1e2f"
	lbRole   = "arn:aws:iam::444455556666:role/web-ecs-infrastructure"
)

// wiring is a complete loadBalancer section for prod (the last environment of valid).
var wiring = fmt.Sprintf("    loadBalancer:\n      alternateTargetGroup: %s\n      productionListenerRule: %s\n      testListenerRule: %s\n      role: %s\n",
	altTG, prodRule, testRule, lbRole)

// withProd appends lines to the prod environment (the last block of valid).
func withProd(lines string) string { return valid + lines }

// lineOf is the 1-based line of the first line of src containing s.
func lineOf(t *testing.T, src, s string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in source", s)
	return 0
}

func TestDeliveryDefaultsToRolling(t *testing.T) {
	f, err := config.Parse("envs.yaml", []byte(valid))
	require.NoError(t, err)
	prod, _ := f.Environment("prod")
	assert.Equal(t, config.StrategyRolling, prod.Strategy)
	assert.Nil(t, prod.Alarms)
	assert.Zero(t, prod.PlannedTrafficTime())
}

func TestCanaryWithAlarms(t *testing.T) {
	src := withProd("    strategy: canary\n    canary: {percent: 10, bakeTime: 5m}\n    bakeTime: 3m\n    alarms: {names: [web-5xx, web-latency]}\n" + wiring)
	f, err := config.Parse("envs.yaml", []byte(src))
	require.NoError(t, err)
	prod, _ := f.Environment("prod")
	assert.Equal(t, config.StrategyCanary, prod.Strategy)
	assert.Equal(t, 10.0, prod.Canary.Percent)
	assert.Equal(t, 5*time.Minute, prod.Canary.BakeTime.Duration)
	assert.Equal(t, []string{"web-5xx", "web-latency"}, prod.Alarms.Names)
	assert.True(t, prod.Alarms.RollbackEnabled(), "rollback defaults to true")
	assert.Equal(t, altTG, prod.LoadBalancer.AlternateTargetGroup)
	assert.Equal(t, 8*time.Minute, prod.PlannedTrafficTime())
}

func TestCanaryTakesECSDefaults(t *testing.T) {
	f, err := config.Parse("envs.yaml", []byte(withProd("    strategy: canary\n"+wiring)))
	require.NoError(t, err)
	prod, _ := f.Environment("prod")
	assert.Equal(t, 5.0, prod.Canary.Percent)
	assert.Equal(t, 10*time.Minute, prod.Canary.BakeTime.Duration)

	f, err = config.Parse("envs.yaml", []byte(withProd("    strategy: canary\n    canary: {percent: 20}\n"+wiring)))
	require.NoError(t, err)
	prod, _ = f.Environment("prod")
	assert.Equal(t, 20.0, prod.Canary.Percent)
	assert.Equal(t, 10*time.Minute, prod.Canary.BakeTime.Duration)

	f, err = config.Parse("envs.yaml", []byte(withProd("    strategy: canary\n    canary: {percent: 20, bakeTime: 0s}\n"+wiring)))
	require.NoError(t, err)
	prod, _ = f.Environment("prod")
	assert.Zero(t, prod.Canary.BakeTime.Duration, "an explicit zero bake time stays zero")
}

func TestRollingWithAlarmsNeedsNoLoadBalancer(t *testing.T) {
	f, err := config.Parse("envs.yaml", []byte(withProd("    alarms: {names: [web-5xx], rollback: false}\n")))
	require.NoError(t, err)
	prod, _ := f.Environment("prod")
	assert.False(t, prod.Alarms.RollbackEnabled())
}

func TestLinearPlannedTime(t *testing.T) {
	f, err := config.Parse("envs.yaml", []byte(withProd("    strategy: linear\n    linear: {percent: 25, interval: 2m}\n    bakeTime: 1m\n"+wiring)))
	require.NoError(t, err)
	prod, _ := f.Environment("prod")
	assert.Equal(t, 7*time.Minute, prod.PlannedTrafficTime(), "three waits between four steps of 25 %, then the bake")
}

func TestBlueGreenWithTestProbe(t *testing.T) {
	f, err := config.Parse("envs.yaml", []byte(withProd("    strategy: blue-green\n    bakeTime: 5m\n"+wiring+"    testProbe: {url: \"https://web.example.com:8443/healthz\"}\n")))
	require.NoError(t, err)
	prod, _ := f.Environment("prod")
	require.NotNil(t, prod.TestProbe)
	assert.Equal(t, 200, prod.TestProbe.ExpectStatus)
	assert.Equal(t, 3, prod.TestProbe.Attempts)
	assert.Equal(t, 5*time.Second, prod.TestProbe.Interval.Duration)
}

func TestBadDelivery(t *testing.T) {
	noTest := strings.Replace(wiring, "      testListenerRule: "+testRule+"\n", "", 1)
	tests := []struct {
		name string
		src  string
		at   string // the source line the problem must name
		want []string
	}{
		{"canary without a load balancer", withProd("    strategy: canary\n"), "strategy: canary",
			[]string{"environments.prod.loadBalancer: required for strategy canary"}},
		{"unknown strategy", withProd("    strategy: big-bang\n"), "strategy: big-bang",
			[]string{`environments.prod.strategy: unknown strategy "big-bang" (expected one of: rolling, blue-green, canary, linear)`}},
		{"unknown alarm field", withProd("    alarms:\n      names: [web-5xx]\n      rolback: true\n"), "rolback",
			[]string{`environments.prod.alarms.rolback: unknown key "rolback" (expected one of: names, rollback)`}},
		{"percent above 100", withProd("    strategy: canary\n    canary: {percent: 150}\n" + wiring), "percent: 150",
			[]string{"environments.prod.canary.percent: 150 is out of range (expected a percent between 0.1 and 100)"}},
		// ECS takes a linear step of 3.0 to 100 percent (types.LinearConfiguration.StepPercent).
		{"linear step below 3", withProd("    strategy: linear\n    linear: {percent: 2.5, interval: 1m}\n" + wiring), "percent: 2.5",
			[]string{"environments.prod.linear.percent: 2.5 is out of range (expected a percent between 3 and 100)"}},
		{"linear step of 1", withProd("    strategy: linear\n    linear: {percent: 1, interval: 1m}\n" + wiring), "percent: 1,",
			[]string{"environments.prod.linear.percent: 1 is out of range (expected a percent between 3 and 100)"}},
		{"canary below 0.1", withProd("    strategy: canary\n    canary: {percent: 0.05}\n" + wiring), "percent: 0.05",
			[]string{"environments.prod.canary.percent: 0.05 is out of range (expected a percent between 0.1 and 100)"}},
		{"percent below 1", withProd("    strategy: linear\n    linear: {percent: 0.5, interval: 1m}\n" + wiring), "percent: 0.5",
			[]string{"environments.prod.linear.percent: 0.5 is out of range"}},
		{"percent with two decimals", withProd("    strategy: canary\n    canary: {percent: 2.55}\n" + wiring), "percent: 2.55",
			[]string{"more than one decimal"}},
		{"percent not a number", withProd("    strategy: canary\n    canary: {percent: ten}\n" + wiring), "percent: ten",
			[]string{"environments.prod.canary.percent", "as a number"}},
		{"linear without interval", withProd("    strategy: linear\n    linear: {percent: 10}\n" + wiring), "",
			[]string{"environments.prod.linear.interval: required"}},
		{"linear without its section", withProd("    strategy: linear\n" + wiring), "",
			[]string{"environments.prod.linear: required for strategy linear"}},
		{"canary settings on a linear strategy", withProd("    strategy: linear\n    linear: {percent: 10, interval: 1m}\n    canary: {percent: 5}\n" + wiring), "canary: {percent: 5}",
			[]string{"environments.prod.canary: only used by strategy canary (the strategy is linear)"}},
		{"bake time in seconds", withProd("    strategy: blue-green\n    bakeTime: 90s\n" + wiring), "bakeTime: 90s",
			[]string{"environments.prod.bakeTime: 1m30s is not a whole number of minutes"}},
		{"bake time over a day", withProd("    strategy: blue-green\n    bakeTime: 25h\n" + wiring), "bakeTime: 25h",
			[]string{"environments.prod.bakeTime: 25h0m0s is out of range"}},
		{"bake time on rolling", withProd("    bakeTime: 5m\n"), "bakeTime: 5m",
			[]string{"environments.prod.bakeTime: only used by the blue-green, canary and linear strategies"}},
		{"load balancer on rolling", withProd(wiring), "alternateTargetGroup",
			[]string{"environments.prod.loadBalancer: only used by the blue-green, canary and linear strategies"}},
		{"alarms without names", withProd("    alarms: {rollback: true}\n"), "",
			[]string{"environments.prod.alarms.names: required"}},
		{"alarm listed twice", withProd("    alarms: {names: [a, a]}\n"), "",
			[]string{`environments.prod.alarms.names[1]: alarm "a" is listed twice`}},
		{"alarms as a bare list", withProd("    alarms: [web-5xx]\n"), "alarms: [web-5xx]",
			[]string{"environments.prod.alarms: expected a mapping of keys to values, got a list"}},
		{"bad target group ARN", withProd("    strategy: canary\n" + strings.Replace(wiring, altTG, "web-green", 1)), "alternateTargetGroup",
			[]string{`environments.prod.loadBalancer.alternateTargetGroup: "web-green" is not a target group ARN`}},
		{"bad role ARN", withProd("    strategy: canary\n" + strings.Replace(wiring, lbRole, "arn:aws:iam::444455556666:user/x", 1)), "role:",
			[]string{`environments.prod.loadBalancer.role: "arn:aws:iam::444455556666:user/x" is not an IAM role ARN (expected arn:aws:iam::ACCOUNT:role/NAME)`}},
		{"bad listener rule ARN", withProd("    strategy: canary\n" + strings.Replace(wiring, prodRule, "rule-1", 1)), "productionListenerRule",
			[]string{`environments.prod.loadBalancer.productionListenerRule: "rule-1" is not a listener rule ARN`}},
		{"missing role", withProd("    strategy: canary\n" + strings.Replace(wiring, "      role: "+lbRole+"\n", "", 1)), "",
			[]string{"environments.prod.loadBalancer.role: required"}},
		{"same listener rule twice", withProd("    strategy: blue-green\n" + strings.Replace(wiring, testRule, prodRule, 1)), "testListenerRule",
			[]string{"environments.prod.loadBalancer.testListenerRule: must differ from productionListenerRule"}},
		{"test probe on canary", withProd("    strategy: canary\n" + wiring + "    testProbe: {url: \"https://x.example.com/\"}\n"), "testProbe",
			[]string{"environments.prod.testProbe: only used by strategy blue-green"}},
		{"test probe without a test listener", withProd("    strategy: blue-green\n" + noTest + "    testProbe: {url: \"https://x.example.com/\"}\n"), "testProbe",
			[]string{"environments.prod.testProbe: needs loadBalancer.testListenerRule"}},
		{"test probe bad URL", withProd("    strategy: blue-green\n" + wiring + "    testProbe: {url: \"x.example.com/healthz\"}\n"), "testProbe",
			[]string{`environments.prod.testProbe.url: "x.example.com/healthz" is not an http(s) URL`}},
		{"wait shorter than the bakes", withProd("    strategy: canary\n    canary: {percent: 10, bakeTime: 15m}\n    bakeTime: 10m\n" + wiring), "waitTimeout: 20m",
			[]string{"environments.prod.waitTimeout: 20m0s is not longer than the strategy's bake times (25m0s)"}},
		{"strategy on local", strings.Replace(valid, "    container: app\n  preprod", "    container: app\n    strategy: canary\n  preprod", 1), "strategy: canary",
			[]string{"environments.local.strategy: not used by the local environment"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("envs.yaml", []byte(tt.src))
			require.Error(t, err)
			var cfgErr *config.Error
			require.True(t, errors.As(err, &cfgErr), "error type %T", err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			if tt.at != "" {
				assert.Contains(t, err.Error(), fmt.Sprintf("envs.yaml:%d: ", lineOf(t, tt.src, tt.at)), "the problem names the line")
			}
		})
	}
}

func TestSampleProdIsCanaryWithAlarmsAndPreprodRolling(t *testing.T) {
	f, err := config.Load("../../sample-app/fargate.yaml")
	require.NoError(t, err)
	prod, _ := f.Environment("prod")
	assert.Equal(t, config.StrategyCanary, prod.Strategy)
	require.NotNil(t, prod.Alarms)
	assert.NotEmpty(t, prod.Alarms.Names)
	assert.True(t, prod.Alarms.RollbackEnabled())
	require.NotNil(t, prod.LoadBalancer)
	preprod, _ := f.Environment("preprod")
	assert.Equal(t, config.StrategyRolling, preprod.Strategy)
	assert.Contains(t, f.Summary(), "2 deployment alarm(s); approval required; production; promotes from preprod; strategy canary")
}
