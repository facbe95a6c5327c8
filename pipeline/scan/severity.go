package scan

import (
	"fmt"
	"strings"
)

// Severity is a finding's severity, ordered: Unknown < Low < Medium < High < Critical.
type Severity int

// The severities Trivy reports.
const (
	Unknown Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// AllSeverities lists every severity from the most to the least severe.
var AllSeverities = []Severity{Critical, High, Medium, Low, Unknown}

// DefaultFailOn is the gate's default: CRITICAL and HIGH findings fail.
var DefaultFailOn = []Severity{Critical, High}

func (s Severity) String() string {
	if s < Unknown || s > Critical {
		return fmt.Sprintf("Severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name, case-insensitively and ignoring spaces.
func ParseSeverity(s string) (Severity, error) {
	if sev, ok := lookupSeverity(s); ok {
		return sev, nil
	}
	return Unknown, fmt.Errorf("unknown severity %q (expected one of CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN)", s)
}

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
		sev, err := ParseSeverity(n)
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

// lookupSeverity maps a report's severity string; the exact lookup first avoids allocation for
// the upper-case names Trivy writes.
func lookupSeverity(s string) (Severity, bool) {
	if sev, ok := severityNamed(s); ok {
		return sev, true
	}
	return severityNamed(strings.ToUpper(strings.TrimSpace(s)))
}

// severityNamed finds an exact upper-case name in severityNames.
func severityNamed(name string) (Severity, bool) {
	for i, n := range severityNames {
		if n == name {
			return Severity(i), true
		}
	}
	return Unknown, false
}

func severityList(sevs []Severity) string {
	parts := make([]string, len(sevs))
	for i, s := range sevs {
		parts[i] = s.String()
	}
	return strings.Join(parts, ",")
}
