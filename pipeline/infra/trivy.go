package infra

import (
	"fmt"
	"io"
	"strings"

	"dagger/fargate/pipeline/findings"
	"dagger/fargate/pipeline/policy"
	"dagger/fargate/pipeline/scan"
)

// RuleIaC is the policy rule of a misconfiguration Trivy found in a template.
const RuleIaC = "FG-IAC-001"

// DefaultIaCReportPath is where TrivyConfigArgs writes its JSON report by default.
const DefaultIaCReportPath = "/scan/infra-config.json"

// TrivyConfigArgs returns the argv of `trivy config --format json --output <output> <dir>`
// that scans the templates directory for misconfigurations (CloudFormation included). It
// reuses scan.ConfigScanArgs, so the flags (cache dir, timeout, exit code 0: the gate
// decides) match the image scan's. Run it in scan.DefaultImage.
func TrivyConfigArgs(dir, output string, opts scan.ConfigScanOptions) ([]string, error) {
	if dir == "" {
		return nil, fmt.Errorf("infra trivy config: dir is required (the templates directory, e.g. /src/infra)")
	}
	if output == "" {
		output = DefaultIaCReportPath
	}
	opts.Dir, opts.Output = dir, output
	args, err := scan.ConfigScanArgs(opts)
	if err != nil {
		return nil, fmt.Errorf("infra trivy config: %w", err)
	}
	return args, nil
}

// EvaluateIaCReport parses a `trivy config` JSON report and judges its failed
// misconfigurations against g, with the scan package's parser and gate (a report that
// cannot be read is an error, never a pass).
func EvaluateIaCReport(r io.Reader, g scan.Gate) (*scan.Decision, error) {
	rep, err := scan.Parse(r)
	if err != nil {
		return nil, fmt.Errorf("read trivy config report: %w", err)
	}
	return scan.Evaluate(rep, g), nil
}

// IaCFindings turns the misconfigurations of a `trivy config` decision (EvaluateIaCReport)
// into FG-IAC-001 policy findings, one per misconfiguration and file, with Trivy's severity
// (UNKNOWN takes the rule's). The resource is "<file>#<ID>" (so a suppression can accept one
// Trivy check in one file, or "<file>#*" all of them), located at the file; the message
// carries the ID (AVD-…) and title. Findings an ignore entry (.trivyignore) accepted come back
// suppressed, with the entry's reason and expiry in SuppressionNote.
//
// Only the misconfigurations the decision lists count: the gate keeps those whose severity
// is in its FailOn. To hand every failed misconfiguration to the policy engine and let its
// threshold decide, evaluate with scan.Gate{FailOn: scan.AllSeverities}. A nil decision has
// no findings.
func IaCFindings(d *scan.Decision) []policy.Finding {
	if d == nil {
		return nil
	}
	rule, _ := policy.LookupRule(RuleIaC) // registered (TestIaCFindings); the fallbacks keep a finding a finding
	rule.ID = RuleIaC
	if rule.Severity == findings.Unknown {
		rule.Severity = policy.High
	}
	var out []policy.Finding
	add := func(f scan.Finding, note string) {
		if f.Kind != scan.KindMisconfiguration {
			return
		}
		sev := f.Severity // one scale: Trivy's severity is the finding's
		if sev == findings.Unknown {
			sev = rule.Severity
		}
		trivySev := f.Severity.Label()
		if f.RawSeverity != "" {
			trivySev = f.RawSeverity
		}
		msg := fmt.Sprintf("%s: %s (Trivy severity %s)", f.Rule, strings.TrimSpace(f.Message), trivySev)
		if f.URL != "" {
			msg += "; see " + f.URL
		}
		targets := f.Targets
		if len(targets) == 0 {
			targets = []string{f.Package}
		}
		for _, t := range targets {
			out = append(out, policy.Finding{
				Rule: rule.ID, Severity: sev, Source: findings.SourceIaC, Controls: rule.Controls, Resource: t + "#" + f.Rule, Message: msg,
				Remediation: rule.Remediation, Suppressed: note != "", SuppressionNote: note, Location: policy.Location{Path: t},
			})
		}
	}
	for _, f := range d.Failing {
		add(f, "")
	}
	for _, s := range d.Suppressed {
		add(s.Finding, fmt.Sprintf("accepted in %s until %s: %s", s.Entry.Source, s.Entry.ExpiryDate(), s.Entry.Statement))
	}
	return out
}
