package findings

import (
	"fmt"
	"strings"
)

// Severity ranks a finding: Unknown < Low < Medium < High < Critical. The zero value is
// Unknown, what a scanner reports when it gives no (or an unrecognised) severity.
type Severity int

// The severities, lowest first. They are Trivy's and Security Hub's labels (Security Hub's
// INFORMATIONAL has no counterpart: nothing the pipeline reports is informational).
const (
	Unknown Severity = iota
	Low
	Medium
	High
	Critical
)

// Severities lists every severity from the most to the least severe.
func Severities() []Severity { return []Severity{Critical, High, Medium, Low, Unknown} }

// String returns the lower-case name ("critical", ..., "unknown") the policy outputs and the
// deployment report use; a value off the scale prints as severity(n).
func (s Severity) String() string {
	switch s {
	case Unknown:
		return "unknown"
	case Low:
		return "low"
	case Medium:
		return "medium"
	case High:
		return "high"
	case Critical:
		return "critical"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// Label returns the upper-case label ("CRITICAL", ..., "UNKNOWN") Trivy and Security Hub
// write, which the scan gate's outputs use.
func (s Severity) Label() string {
	switch s {
	case Unknown:
		return "UNKNOWN"
	case Low:
		return "LOW"
	case Medium:
		return "MEDIUM"
	case High:
		return "HIGH"
	case Critical:
		return "CRITICAL"
	}
	return fmt.Sprintf("SEVERITY(%d)", int(s))
}

// ParseSeverity reads a severity name in any case, ignoring surrounding spaces ("HIGH",
// "high", " High "), UNKNOWN included.
func ParseSeverity(name string) (Severity, error) {
	if s, ok := lookup(name); ok {
		return s, nil
	}
	return Unknown, fmt.Errorf("unknown severity %q (expected one of CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN)", name)
}

// lookup finds a name; the exact upper-case comparison first keeps the hot path (Trivy's
// reports, thousands of findings) free of allocation.
func lookup(name string) (Severity, bool) {
	for _, s := range Severities() {
		if name == s.Label() {
			return s, true
		}
	}
	trimmed := strings.TrimSpace(name)
	for _, s := range Severities() {
		if strings.EqualFold(trimmed, s.String()) {
			return s, true
		}
	}
	return Unknown, false
}

// SARIFLevel is the SARIF 2.1.0 result level (§3.27.10: "error", "warning", "note"; "none" is
// for results that are not problems): critical and high are errors, medium a warning, low and
// unknown a note — the spec's "minor problem".
// https://docs.oasis-open.org/sarif/sarif/v2.1.0/os/sarif-v2.1.0-os.html#_Toc34317648
func (s Severity) SARIFLevel() string {
	switch s {
	case Critical, High:
		return "error"
	case Medium:
		return "warning"
	}
	return "note"
}

// SecuritySeverity is the numeric "security-severity" rule property GitHub code scanning ranks
// security alerts by. GitHub reads the score with the CVSS v3 qualitative bands: "over 9.0 is
// critical, 7.0 to 8.9 is high, 4.0 to 6.9 is medium and 3.9 or less is low"
// (https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning#reportingdescriptor-object;
// bands: CVSS v3.1 specification §5, https://www.first.org/cvss/v3.1/specification-document).
// Each label's score is the middle of its band, to half a point: 9.5, 8.0, 5.5 and 2.0 for low
// (the policy writer used to say 3.0, at the top edge of low; the scan writer 2.0). Unknown is
// 0.0, CVSS's "none": nothing is claimed.
func (s Severity) SecuritySeverity() string {
	switch s {
	case Critical:
		return "9.5"
	case High:
		return "8.0"
	case Medium:
		return "5.5"
	case Low:
		return "2.0"
	}
	return "0.0"
}
