// Package policy enforces the security checklist for an ECS Fargate service as code, before the
// deploy: rules with stable IDs (FG-TD-…, FG-SVC-…, FG-CL-…, FG-ECR-…, FG-DF-…, FG-IAM-…) named
// after the AWS Security Hub controls they anticipate, evaluated offline over task definitions,
// service facts, Dockerfiles and IAM policy documents (permissions and role trust policies)
// (Check), or over facts read from a live account (see package policy/live). Findings can be
// suppressed with a reason and an expiry, compared to a severity threshold, and rendered as
// text, JSON or SARIF 2.1.0.
package policy

import (
	"fmt"
	"sort"

	"dagger/fargate/pipeline/findings"
)

// Severity ranks a finding: the pipeline's one scale (findings.Severity). Rules never carry
// Unknown, the zero value.
type Severity = findings.Severity

// Severities, lowest first.
const (
	Low      = findings.Low
	Medium   = findings.Medium
	High     = findings.High
	Critical = findings.Critical
)

// DefaultThreshold is the severity at and above which unsuppressed findings fail a check.
const DefaultThreshold = High

// ParseSeverity reads a threshold: "critical", "high", "medium" or "low" (any case). An empty
// string is an error: callers that want the default pass DefaultThreshold themselves. Unknown
// is no threshold: no rule has it.
func ParseSeverity(s string) (Severity, error) {
	sev, err := findings.ParseSeverity(s)
	if err != nil || sev == findings.Unknown {
		return 0, fmt.Errorf("severity %q: expected one of critical, high, medium, low", s)
	}
	return sev, nil
}

// Location says where a finding was found (findings.Location).
type Location = findings.Location

// Finding is one rule violated by one resource: the pipeline's one findings model
// (findings.Finding). The engine's findings have Source findings.SourcePolicy; the live audit
// (package policy/live) marks its own findings.SourceAudit.
type Finding = findings.Finding

// Summary counts the unsuppressed findings by severity, and the suppressed ones apart.
type Summary struct {
	Critical, High, Medium, Low, Suppressed int
}

// Report is the result of a check or an audit.
type Report struct {
	Findings []Finding
	Summary  Summary
}

// Failed reports whether an unsuppressed finding is at or above the threshold.
func (r Report) Failed(threshold Severity) bool {
	for _, f := range r.Findings {
		if !f.Suppressed && f.Severity >= threshold {
			return true
		}
	}
	return false
}

// newReport sorts findings (most severe first, then rule, resource, message) and counts them.
func newReport(findings []Finding) Report {
	sort.SliceStable(findings, func(i, j int) bool {
		a, b := findings[i], findings[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		if a.Resource != b.Resource {
			return a.Resource < b.Resource
		}
		return a.Message < b.Message
	})
	r := Report{Findings: findings}
	for _, f := range findings {
		if f.Suppressed {
			r.Summary.Suppressed++
			continue
		}
		switch f.Severity {
		case Critical:
			r.Summary.Critical++
		case High:
			r.Summary.High++
		case Medium:
			r.Summary.Medium++
		case Low:
			r.Summary.Low++
		}
	}
	return r
}

// Merge combines reports (e.g. an offline check and a live audit) into one, re-sorted and recounted.
func Merge(reports ...Report) Report {
	var all []Finding
	for _, r := range reports {
		all = append(all, r.Findings...)
	}
	return newReport(all)
}

// hit is one violation found by a rule's check, before the rule's metadata is attached.
type hit struct {
	resource string // empty: the subject's resource
	message  string
	line     int // 0: the subject's line, if any
}

func finding(rule *ruleDef, subjectResource string, loc Location, h hit) Finding {
	res := subjectResource
	if h.resource != "" {
		res = h.resource
	}
	if h.line > 0 {
		loc.Line = h.line
	}
	if loc.Path == "" && loc.Logical == "" {
		loc.Logical = res
	}
	return Finding{
		Rule:        rule.ID,
		Severity:    rule.Severity,
		Source:      findings.SourcePolicy,
		Controls:    append([]string(nil), rule.Controls...),
		Resource:    res,
		Message:     h.message,
		Remediation: rule.Remediation,
		Location:    loc,
	}
}
