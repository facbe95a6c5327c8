package report

import (
	"fmt"
	"strings"
	"time"

	"dagger/fargate/pipeline/ecs"
	"dagger/fargate/pipeline/taskdef"
)

// Delivery is what the report shows of a progressive delivery: the strategy, the lifecycle
// stages with their times and traffic split, and what rolled it back.
type Delivery struct {
	// Strategy is ROLLING, BLUE_GREEN, CANARY or LINEAR; Plan says what it does.
	Strategy string
	Plan     string
	// ServiceDeployment is the service deployment's ARN or ID.
	ServiceDeployment string
	// Status is the service deployment's last status (SUCCESSFUL, ROLLBACK_SUCCESSFUL, ...).
	Status string
	Stages []Stage
	// ProductionPercent is the new revision's last share of production traffic.
	ProductionPercent float64
	// RolledBackBy is alarm, circuit-breaker, test-probe, timeout, ecs or "".
	RolledBackBy string
	// RollbackAlarms fired at RollbackAt, when the new revision had RollbackPercent of the
	// production traffic.
	RollbackAlarms  []string
	RollbackAt      time.Time
	RollbackPercent float64
	// Probe is the test probe's result ("" when none ran).
	Probe string
	// Note says when the engine could not follow the service deployment itself.
	Note string
}

// Stage is one lifecycle stage or traffic step, as the pipeline saw it.
type Stage struct {
	Name              string
	At                time.Time
	ProductionPercent float64
	TestPercent       float64
}

// DeliveryOf is the report's view of the engine's progressive delivery (nil when the deploy
// did not use one).
func DeliveryOf(res *ecs.Result) *Delivery {
	if res == nil || res.Delivery == nil {
		return nil
	}
	d := res.Delivery
	out := &Delivery{Strategy: d.Strategy, Plan: d.Plan, ServiceDeployment: d.ServiceDeploymentArn, Status: d.Status,
		ProductionPercent: d.ProductionPercent, RolledBackBy: d.RolledBackBy, RollbackAlarms: append([]string(nil), d.RollbackAlarms...),
		RollbackAt: d.RollbackAt, RollbackPercent: d.RollbackPercent, Probe: d.Probe, Note: d.FellBack}
	for _, s := range d.Stages {
		out.Stages = append(out.Stages, Stage{Name: s.Name, At: s.At, ProductionPercent: s.ProductionPercent, TestPercent: s.TestPercent})
	}
	return out
}

var rolledBackBy = map[string]string{
	"alarm":           "CloudWatch alarm",
	"circuit-breaker": "deployment circuit breaker",
	"test-probe":      "failed test probe (the pipeline stopped it)",
	"timeout":         "wait timeout (the pipeline stopped it)",
	"ecs":             "ECS",
}

func (r Report) writeDelivery(b *strings.Builder) {
	d := r.Delivery
	if d == nil {
		return
	}
	b.WriteString("### Progressive delivery\n\n| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(b, "| %s | %s |\n", k, v)
		}
	}
	row("Strategy", text(strings.ToLower(strings.ReplaceAll(d.Strategy, "_", "-"))))
	row("Plan", text(d.Plan))
	row("Service deployment", code(taskdef.ShortName(d.ServiceDeployment)))
	row("Status", text(d.Status))
	row("Production traffic reached", percent(d.ProductionPercent)+" on the new revision")
	if d.RolledBackBy != "" {
		by := rolledBackBy[d.RolledBackBy]
		if by == "" {
			by = d.RolledBackBy
		}
		row("Rolled back by", text(by))
	}
	if len(d.RollbackAlarms) > 0 {
		row("Alarm", joinMapped(d.RollbackAlarms, code))
	}
	if !d.RollbackAt.IsZero() {
		row("Rollback started", fmt.Sprintf("%s, with %s of production traffic on the new revision", stamp(d.RollbackAt), percent(d.RollbackPercent)))
	}
	row("Test probe", text(d.Probe))
	row("Note", text(d.Note))
	b.WriteString("\n")
	if len(d.Stages) == 0 {
		return
	}
	b.WriteString("| Time (UTC) | Stage | Production traffic | Test traffic |\n|---|---|---|---|\n")
	for _, s := range d.Stages {
		at := ""
		if !s.At.IsZero() {
			at = s.At.UTC().Format("15:04:05")
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", at, text(s.Name), percent(s.ProductionPercent), percent(s.TestPercent))
	}
	b.WriteString("\n")
}

// percent formats a traffic share: 10 %, 12.5 %.
func percent(v float64) string {
	s := strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
	return s + " %"
}
