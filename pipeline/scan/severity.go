package scan

import (
	"fmt"
	"strings"

	"dagger/fargate/pipeline/findings"
)

// Severity is the pipeline's one severity scale (findings.Severity); the gate prints its
// upper-case Label, as Trivy does.
type Severity = findings.Severity

// The severities Trivy reports.
const (
	Unknown  = findings.Unknown
	Low      = findings.Low
	Medium   = findings.Medium
	High     = findings.High
	Critical = findings.Critical
)

// AllSeverities lists every severity from the most to the least severe.
var AllSeverities = findings.Severities()

// DefaultFailOn is the gate's default: CRITICAL and HIGH findings fail.
var DefaultFailOn = []Severity{Critical, High}

// ParseSeverity reads a severity name, case-insensitively and ignoring spaces.
func ParseSeverity(s string) (Severity, error) { return findings.ParseSeverity(s) }

// ParseSeverities reads a list of severity names from configuration; field names the
// list in errors ("scan.failOn" gives "scan.failOn[1]: unknown severity ..."). Duplicates
// are dropped; an empty list is an error.
func ParseSeverities(field string, names []string) ([]Severity, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: at least one severity is required (expected some of CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN)", field)
	}
	seen := map[Severity]bool{}
	var out []Severity
	for i, n := range names {
		sev, err := findings.ParseSeverity(n)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		if !seen[sev] {
			seen[sev] = true
			out = append(out, sev)
		}
	}
	return out, nil
}

// lookupSeverity maps a report's severity string, reporting whether it was a known name.
func lookupSeverity(s string) (Severity, bool) {
	sev, err := findings.ParseSeverity(s)
	return sev, err == nil
}

func severityList(sevs []Severity) string {
	parts := make([]string, len(sevs))
	for i, s := range sevs {
		parts[i] = s.Label()
	}
	return strings.Join(parts, ",")
}
