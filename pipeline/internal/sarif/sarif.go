// Package sarif holds the rule the pipeline's SARIF writers (the Trivy scan gate and the
// policy check) share, so that GitHub code scanning ranks their alerts alike: which SARIF
// result level a finding's severity maps to.
package sarif

import "strings"

// Level maps a severity name (CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN, in any case) to a SARIF
// result level: critical and high are "error", medium is "warning", anything else "note".
func Level(severity string) string {
	switch {
	case strings.EqualFold(severity, "CRITICAL"), strings.EqualFold(severity, "HIGH"):
		return "error"
	case strings.EqualFold(severity, "MEDIUM"):
		return "warning"
	}
	return "note"
}
