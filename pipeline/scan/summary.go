package scan

import (
	"fmt"
	"strings"
)

// maxListed bounds how many failing findings the summary lists one by one.
const maxListed = 50

// Summary renders a decision for people: the verdict, counts by severity, the failing
// findings (package, installed and fixed version), suppressed and expired ignores, notes.
func Summary(d *Decision) string {
	var b strings.Builder
	verdict := "PASS"
	if !d.Pass {
		verdict = "FAIL"
	}
	name := d.Artifact
	if name == "" {
		name = "artifact"
	}
	fmt.Fprintf(&b, "Trivy gate %s for %s (fail on %s)\n", verdict, name, severityList(d.FailOn))
	var counts []string
	for _, s := range AllSeverities {
		counts = append(counts, fmt.Sprintf("%s %d", s.Label(), d.Counts[s]))
	}
	fmt.Fprintf(&b, "Findings: %s", strings.Join(counts, ", "))
	if d.UnfixedSkipped > 0 {
		fmt.Fprintf(&b, " (%d unfixed vulnerabilities not counted)", d.UnfixedSkipped)
	}
	b.WriteString("\n")
	for _, r := range d.Reasons {
		fmt.Fprintf(&b, "Reason: %s\n", r)
	}
	if len(d.Failing) > 0 {
		b.WriteString("Failing findings:\n")
		for i, f := range d.Failing {
			if i == maxListed {
				fmt.Fprintf(&b, "  ... and %d more (see the JSON report)\n", len(d.Failing)-maxListed)
				break
			}
			b.WriteString("  " + describe(f) + "\n")
		}
	}
	if len(d.Suppressed) > 0 {
		b.WriteString("Suppressed by ignore file:\n")
		for _, s := range d.Suppressed {
			fmt.Fprintf(&b, "  %s %s: %s (until %s, %s)\n", s.Finding.Severity.Label(), s.Finding.Rule, s.Entry.Statement, s.Entry.ExpiryDate(), s.Entry.Source)
		}
	}
	for _, n := range d.Notes {
		fmt.Fprintf(&b, "Note: %s\n", n)
	}
	return b.String()
}

func describe(f Finding) string {
	sev := f.Severity.Label()
	if f.RawSeverity != "" {
		sev = fmt.Sprintf("UNKNOWN(%s)", f.RawSeverity)
	}
	where := strings.Join(f.Targets, ", ")
	switch f.Kind {
	case KindSecret:
		return fmt.Sprintf("%s secret %s (%s) in %s line %d", sev, f.Rule, f.Message, where, f.Location.Line)
	case KindMisconfiguration:
		return fmt.Sprintf("%s misconfiguration %s in %s: %s", sev, f.Rule, where, f.Message)
	}
	fixed := f.Fixed
	if fixed == "" {
		fixed = "no fix yet"
	}
	return fmt.Sprintf("%s %s %s %s -> %s (%s) in %s", sev, f.Rule, f.Package, f.Installed, fixed, f.Message, where)
}
