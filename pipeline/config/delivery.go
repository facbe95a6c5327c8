package config

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Deployment strategies an environment may use (environments.NAME.strategy).
const (
	StrategyRolling   = "rolling"
	StrategyBlueGreen = "blue-green"
	StrategyCanary    = "canary"
	StrategyLinear    = "linear"
)

// KnownStrategies lists the strategies, in the order the README presents them.
func KnownStrategies() []string {
	return []string{StrategyRolling, StrategyBlueGreen, StrategyCanary, StrategyLinear}
}

// Canary shifts Percent of production traffic to the new revision, waits BakeTime, then
// shifts the rest.
type Canary struct {
	// Percent of production traffic the canary takes (0.1-100, in steps of 0.1). Default 5,
	// ECS's own default.
	Percent float64 `yaml:"percent"`
	// BakeTime is how long the canary takes that share before the rest moves (whole minutes,
	// 0-24h). Default 10m, ECS's own default.
	BakeTime Duration `yaml:"bakeTime"`
}

// Linear shifts production traffic in equal steps of Percent, Interval apart.
type Linear struct {
	// Percent of production traffic each step moves (3-100, in steps of 0.1). Required.
	Percent float64 `yaml:"percent"`
	// Interval is the wait after each step (whole minutes, 0-24h). Required.
	Interval Duration `yaml:"interval"`
}

// Alarms are the CloudWatch alarms ECS watches during a deployment.
type Alarms struct {
	// Names of the CloudWatch alarms; the deployment fails when any is in ALARM.
	Names []string `yaml:"names"`
	// Rollback makes ECS roll a failed deployment back. Default true.
	Rollback *bool `yaml:"rollback"`
}

// RollbackEnabled reports whether a firing alarm rolls the deployment back (default true).
func (a *Alarms) RollbackEnabled() bool { return a != nil && (a.Rollback == nil || *a.Rollback) }

// LoadBalancer is the load balancer wiring of a blue/green, canary or linear deployment: the
// service's production target group (blue), the alternate one (green), the listener rules
// ECS moves between them, and the role ECS assumes to do so.
type LoadBalancer struct {
	// TargetGroup is the service's production target group ARN. Optional when the service
	// has a single load balancer entry.
	TargetGroup string `yaml:"targetGroup"`
	// AlternateTargetGroup is the green target group ARN. Required.
	AlternateTargetGroup string `yaml:"alternateTargetGroup"`
	// ProductionListenerRule is the ARN of the listener rule that serves production traffic.
	ProductionListenerRule string `yaml:"productionListenerRule"`
	// TestListenerRule is the ARN of the listener rule that serves test traffic (the test
	// probe goes through it). Optional, but blue-green without one is a policy finding.
	TestListenerRule string `yaml:"testListenerRule"`
	// Role is the ARN of the ECS infrastructure role for load balancers. Required.
	Role string `yaml:"role"`
}

// TestProbe is an HTTP check of the new revision through the test listener, while the
// deployment holds in its test-traffic stage.
type TestProbe struct {
	// URL reaches the test listener (http or https), e.g. https://app.example.com:8443/healthz.
	URL string `yaml:"url"`
	// ExpectStatus is the HTTP status a healthy answer has. Default 200.
	ExpectStatus int `yaml:"expectStatus"`
	// Attempts is how many consecutive answers must be healthy. Default 3.
	Attempts int `yaml:"attempts"`
	// Interval is the pause between attempts. Default 5s.
	Interval Duration `yaml:"interval"`
}

var (
	targetGroupPattern  = regexp.MustCompile(`^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$`)
	listenerRulePattern = regexp.MustCompile(`^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:listener-rule/(app|net)/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}/[0-9a-f]{16}/[0-9a-f]{16}$`)
	roleArnPattern      = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$`)
)

// maxBake is ECS's limit on every bake time (bakeTimeInMinutes, canaryBakeTimeInMinutes,
// stepBakeTimeInMinutes: 0-1440 minutes), per the ECS API reference (CanaryConfiguration,
// LinearConfiguration, DeploymentConfiguration).
const maxBake = 24 * time.Hour

// StrategyOrDefault is the environment's strategy, rolling when unset.
func (e Environment) StrategyOrDefault() string {
	if e.Strategy == "" {
		return StrategyRolling
	}
	return e.Strategy
}

// PlannedTrafficTime is the least time a deployment with this strategy takes once the new
// tasks run: the canary bake, the linear steps and the final bake time.
func (e Environment) PlannedTrafficTime() time.Duration {
	d := e.BakeTime.Duration
	switch e.StrategyOrDefault() {
	case StrategyCanary:
		if e.Canary != nil {
			d += e.Canary.BakeTime.Duration
		}
	case StrategyLinear:
		if e.Linear != nil && e.Linear.Percent > 0 {
			steps := int(math.Ceil(100/e.Linear.Percent)) - 1
			d += time.Duration(steps) * e.Linear.Interval.Duration
		}
	}
	return d
}

// localDelivery refuses delivery settings on the local environment (it runs no ECS service).
func (v *validator) localDelivery(p string, env *Environment) {
	set := map[string]bool{
		"strategy": env.Strategy != "", "bakeTime": env.BakeTime.Duration != 0, "canary": env.Canary != nil, "linear": env.Linear != nil,
		"alarms": env.Alarms != nil, "loadBalancer": env.LoadBalancer != nil, "testProbe": env.TestProbe != nil,
	}
	for _, field := range []string{"strategy", "bakeTime", "canary", "linear", "alarms", "loadBalancer", "testProbe"} {
		if set[field] {
			v.add(p+"."+field, "not used by the local environment (it runs without ECS); remove it")
		}
	}
}

// delivery validates the progressive delivery settings of an AWS environment.
func (v *validator) delivery(p string, env *Environment) {
	if env.Strategy == "" {
		env.Strategy = StrategyRolling
	}
	strategy := env.Strategy
	known := slices.Contains(KnownStrategies(), strategy)
	if !known {
		v.add(p+".strategy", "unknown strategy %q (expected one of: %s)", strategy, strings.Join(KnownStrategies(), ", "))
	}
	v.bake(p+".bakeTime", env.BakeTime.Duration)
	if strategy == StrategyRolling && env.BakeTime.Duration != 0 {
		v.add(p+".bakeTime", "only used by the blue-green, canary and linear strategies (a rolling update's bake time is set by ECS from the alarms); remove it")
	}

	if env.Canary != nil && strategy != StrategyCanary {
		v.add(p+".canary", "only used by strategy canary (the strategy is %s)", strategy)
	}
	if strategy == StrategyCanary {
		if env.Canary == nil {
			// ECS's defaults (CanaryConfiguration: canaryPercent 5.0, canaryBakeTimeInMinutes 10),
			// written out so that the report and the wait know them.
			env.Canary = &Canary{Percent: 5, BakeTime: Duration{10 * time.Minute}}
		} else {
			if env.Canary.Percent == 0 {
				env.Canary.Percent = 5
			}
			if _, set := v.lines[p+".canary.bakeTime"]; !set {
				env.Canary.BakeTime.Duration = 10 * time.Minute
			}
		}
		v.percent(p+".canary.percent", env.Canary.Percent, MinCanaryPercent)
		v.bake(p+".canary.bakeTime", env.Canary.BakeTime.Duration)
	}

	if env.Linear != nil && strategy != StrategyLinear {
		v.add(p+".linear", "only used by strategy linear (the strategy is %s)", strategy)
	}
	if strategy == StrategyLinear {
		switch {
		case env.Linear == nil:
			v.add(p+".linear", "required for strategy linear: {percent: 3-100, interval: e.g. 5m}")
		default:
			if _, set := v.lines[p+".linear.percent"]; !set {
				v.add(p+".linear.percent", "required (the share of production traffic each step moves, 3-100)")
			} else {
				v.percent(p+".linear.percent", env.Linear.Percent, MinLinearPercent)
			}
			if _, set := v.lines[p+".linear.interval"]; !set {
				v.add(p+".linear.interval", "required (the wait after each step, whole minutes, e.g. 5m)")
			} else {
				v.bake(p+".linear.interval", env.Linear.Interval.Duration)
			}
		}
	}

	if a := env.Alarms; a != nil {
		if len(a.Names) == 0 {
			v.add(p+".alarms.names", "required: at least one CloudWatch alarm name")
		}
		seen := map[string]bool{}
		for i, n := range a.Names {
			f := fmt.Sprintf("%s.alarms.names[%d]", p, i)
			switch {
			case strings.TrimSpace(n) == "" || len(n) > 255 || strings.ContainsFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }):
				v.add(f, "%q is not a CloudWatch alarm name (expected 1-255 printable characters)", n)
			case seen[n]:
				v.add(f, "alarm %q is listed twice", n)
			}
			seen[n] = true
		}
	}

	if lb := env.LoadBalancer; lb != nil {
		if strategy == StrategyRolling {
			v.add(p+".loadBalancer", "only used by the blue-green, canary and linear strategies (the strategy is rolling); remove it")
		}
		lbp := p + ".loadBalancer."
		v.arnField(lbp+"targetGroup", lb.TargetGroup, "", targetGroupArn)
		if v.arnField(lbp+"alternateTargetGroup", lb.AlternateTargetGroup, "the green target group ARN", targetGroupArn) &&
			lb.AlternateTargetGroup == lb.TargetGroup {
			v.add(lbp+"alternateTargetGroup", "must differ from targetGroup (ECS moves traffic between the two)")
		}
		v.arnField(lbp+"productionListenerRule", lb.ProductionListenerRule, "the ARN of the listener rule that serves production traffic", listenerRuleArn)
		if v.arnField(lbp+"testListenerRule", lb.TestListenerRule, "", listenerRuleArn) &&
			lb.TestListenerRule != "" && lb.TestListenerRule == lb.ProductionListenerRule {
			v.add(lbp+"testListenerRule", "must differ from productionListenerRule")
		}
		v.arnField(lbp+"role", lb.Role, "the ARN of the ECS infrastructure role for load balancers", roleArn)
	} else if known && strategy != StrategyRolling {
		// ECS moves traffic for these strategies through a load balancer (or Service Connect,
		// which this pipeline does not wire): "Required resources for Amazon ECS canary
		// deployments", Amazon ECS Developer Guide.
		v.problems = append(v.problems, Problem{Line: v.lines[p+".strategy"], Field: p + ".loadBalancer",
			Msg: fmt.Sprintf("required for strategy %s: ECS moves traffic between two target groups (expected alternateTargetGroup, productionListenerRule, role)", strategy)})
	}

	if tp := env.TestProbe; tp != nil {
		if strategy != StrategyBlueGreen {
			v.add(p+".testProbe", "only used by strategy blue-green (the strategy is %s)", strategy)
		} else if env.LoadBalancer != nil && env.LoadBalancer.TestListenerRule == "" {
			v.add(p+".testProbe", "needs loadBalancer.testListenerRule: the probe reaches the new revision through the test listener")
		}
		if u, err := url.Parse(tp.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add(p+".testProbe.url", "%q is not an http(s) URL (expected e.g. https://app.example.com:8443/healthz)", tp.URL)
		}
		if tp.ExpectStatus == 0 {
			tp.ExpectStatus = 200
		} else if tp.ExpectStatus < 100 || tp.ExpectStatus > 599 {
			v.add(p+".testProbe.expectStatus", "%d is not an HTTP status (expected 100-599)", tp.ExpectStatus)
		}
		if tp.Attempts == 0 {
			tp.Attempts = 3
		} else if tp.Attempts < 1 || tp.Attempts > 20 {
			v.add(p+".testProbe.attempts", "%d is out of range (expected 1-20)", tp.Attempts)
		}
		if tp.Interval.Duration == 0 {
			tp.Interval.Duration = 5 * time.Second
		} else if tp.Interval.Duration < time.Second || tp.Interval.Duration > time.Minute {
			v.add(p+".testProbe.interval", "%s is out of range (expected between 1s and 1m)", tp.Interval.Duration)
		}
	}

	if planned := env.PlannedTrafficTime(); env.WaitTimeout.Duration > 0 && planned >= env.WaitTimeout.Duration {
		v.add(p+".waitTimeout", "%s is not longer than the strategy's bake times (%s): the wait would time out before ECS finishes (expected more than %s)",
			env.WaitTimeout.Duration, planned, planned)
	}
}

// arnSpec is a kind of ARN: its name (with its article), its pattern and its shape for people.
type arnSpec struct {
	kind  string
	re    *regexp.Regexp
	shape string
}

var (
	targetGroupArn  = arnSpec{"a target group", targetGroupPattern, "arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID"}
	listenerRuleArn = arnSpec{"a listener rule", listenerRulePattern, "arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener-rule/app/LB/ID/ID/ID"}
	roleArn         = arnSpec{"an IAM role", roleArnPattern, "arn:aws:iam::ACCOUNT:role/NAME"}
)

// arnField checks an ARN of a kind (target group, ...): required when need says what it is
// (optional when need is ""), and of the given shape. It reports whether the value is usable
// (valid, or optional and empty).
func (v *validator) arnField(field, val, need string, a arnSpec) bool {
	switch {
	case val == "" && need != "":
		v.add(field, "required (%s)", need)
		return false
	case val != "" && !a.re.MatchString(val):
		v.add(field, "%q is not %s ARN (expected %s)", val, a.kind, a.shape)
		return false
	}
	return true
}

// Traffic shares ECS accepts (aws-sdk-go-v2 service/ecs types.CanaryConfiguration and
// types.LinearConfiguration): multiples of 0.1, from 0.1 (canary) or 3.0 (linear) to 100.
const (
	MinCanaryPercent = 0.1
	MinLinearPercent = 3.0
)

// percent checks a traffic share: min-100 in steps of 0.1 (ECS takes multiples of 0.1).
func (v *validator) percent(field string, pct, minPct float64) {
	if math.IsNaN(pct) || pct < minPct || pct > 100 {
		v.add(field, "%v is out of range (expected a percent between %v and 100)", pct, minPct)
		return
	}
	if tenths := pct * 10; math.Abs(tenths-math.Round(tenths)) > 1e-9 {
		v.add(field, "%v has more than one decimal (ECS takes multiples of 0.1)", pct)
	}
}

// bake checks a bake time: whole minutes between 0 and 24h (ECS takes minutes).
func (v *validator) bake(field string, d time.Duration) {
	switch {
	case d < 0 || d > maxBake:
		v.add(field, "%s is out of range (expected between 0 and 24h)", d)
	case d%time.Minute != 0:
		v.add(field, "%s is not a whole number of minutes (ECS counts bake times in minutes; expected e.g. 5m)", d)
	}
}
