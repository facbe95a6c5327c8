package chain

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"dagger/fargate/pipeline/policy"
)

func TestPolicySummaryCountsRules(t *testing.T) {
	rules := len(policy.Rules())
	fail := func(rule string, sev policy.Severity) policy.Finding {
		return policy.Finding{Rule: rule, Severity: sev, Resource: "container " + rule}
	}
	tests := []struct {
		name                 string
		findings             []policy.Finding
		passed, failed, list int
	}{
		{name: "no finding", passed: rules},
		{name: "two findings of one rule are one failed rule",
			findings: []policy.Finding{fail("FG-TD-005", policy.High), fail("FG-TD-005", policy.High)},
			passed:   rules - 1, failed: 1, list: 2},
		{name: "two rules",
			findings: []policy.Finding{fail("FG-TD-005", policy.High), fail("FG-TD-006", policy.Critical), fail("FG-TD-005", policy.High)},
			passed:   rules - 2, failed: 2, list: 3},
		{name: "below the threshold and suppressed findings pass",
			findings: []policy.Finding{fail("FG-TD-005", policy.Low), {Rule: "FG-TD-006", Severity: policy.High, Suppressed: true}},
			passed:   rules},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := policySummary(policy.Report{Findings: tc.findings}, policy.High, "high")
			assert.Equal(t, tc.passed, p.Passed, "passed rules")
			assert.Equal(t, tc.failed, p.Failed, "failed rules")
			assert.Len(t, p.Failures, tc.list, "failing findings listed")
		})
	}
}
