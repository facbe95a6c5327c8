package scan

import (
	"bytes"
	"fmt"
	"sort"

	"dagger/fargate/pipeline/findings"
	"dagger/fargate/pipeline/internal/sarif"
)

// SARIF 2.1.0 through the pipeline's shared writer (pipeline/internal/sarif), the subset GitHub
// code scanning reads. https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html

// BuildSARIF converts the report's findings to a SARIF 2.1.0 log: one rule per finding ID, one
// result per finding per target, each with source "scan" (sarif.SourceProperty). Findings that
// d suppressed are left out (d may be nil to include everything); unfixed vulnerabilities stay
// in, since the alert is still true.
func BuildSARIF(rep *Report, d *Decision) (*sarif.Log, error) {
	suppressed := map[string]bool{}
	if d != nil {
		for _, s := range d.Suppressed {
			for _, t := range s.Finding.Targets {
				suppressed[string(s.Finding.Kind)+"\x00"+s.Finding.Rule+"\x00"+t] = true
			}
		}
	}
	b := sarif.NewBuilder("Trivy", "https://github.com/aquasecurity/trivy")
	worst := map[string]Severity{} // by rule: the rule's security-severity is its worst finding's
	var addErr error               // the first result the builder refused
	add := func(kind FindingKind, id, title, uri, rawSev, target, text string, start, end int) {
		if suppressed[string(kind)+"\x00"+id+"\x00"+target] {
			return
		}
		sev, _ := lookupSeverity(rawSev)
		if title == "" {
			title = id
		}
		_, added := b.AddRule(sarif.Rule{
			ID: id, Name: id, ShortDescription: sarif.Message{Text: title}, HelpURI: uri,
			Properties: map[string]any{"security-severity": sev.SecuritySeverity(), "tags": []string{"security", string(kind)}},
		})
		if added || sev > worst[id] {
			worst[id] = sev
			b.Rule(id).Properties["security-severity"] = sev.SecuritySeverity()
		}
		if err := b.AddResult(sarif.Result{
			RuleID: id, Level: sev.SARIFLevel(), Message: sarif.Message{Text: text}, Source: findings.SourceScan,
			Locations: []sarif.Location{{PhysicalLocation: &sarif.PhysicalLocation{
				ArtifactLocation: sarif.ArtifactLocation{URI: target},
				Region:           sarif.Lines(start, end),
			}}},
		}); err != nil && addErr == nil {
			addErr = err
		}
	}
	for _, res := range rep.Results {
		for _, v := range res.Vulnerabilities {
			fixed := v.FixedVersion
			if fixed == "" {
				fixed = "none"
			}
			text := fmt.Sprintf("Package: %s\nInstalled Version: %s\nVulnerability: %s\nSeverity: %s\nFixed Version: %s\nLink: %s",
				pkgName(&v), v.InstalledVersion, v.VulnerabilityID, v.Severity, fixed, v.PrimaryURL)
			add(KindVulnerability, v.VulnerabilityID, v.Title, v.PrimaryURL, v.Severity, res.Target, text, 1, 1)
		}
		for _, m := range res.Misconfigurations {
			if m.Status != "" && m.Status != "FAIL" {
				continue
			}
			id := m.ID
			if id == "" {
				id = m.AVDID
			}
			add(KindMisconfiguration, id, m.Title, m.PrimaryURL, m.Severity, res.Target,
				fmt.Sprintf("%s: %s", m.Title, m.Message), 1, 1)
		}
		for _, s := range res.Secrets {
			// The message names the rule, never the matched text.
			add(KindSecret, s.RuleID, s.Title, "", s.Severity, res.Target,
				fmt.Sprintf("Secret %s (%s) found in %s", s.Title, s.Category, res.Target), s.StartLine, s.EndLine)
		}
	}
	results := b.Results()
	sort.SliceStable(results, func(i, j int) bool { return results[i].RuleIndex < results[j].RuleIndex })
	if addErr != nil {
		return nil, fmt.Errorf("build trivy sarif: %w", addErr)
	}
	return b.Log(), nil
}

// SARIF renders BuildSARIF as indented JSON.
func SARIF(rep *Report, d *Decision) ([]byte, error) {
	l, err := BuildSARIF(rep, d)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := sarif.Encode(&buf, l); err != nil {
		return nil, fmt.Errorf("render trivy sarif: %w", err)
	}
	return buf.Bytes(), nil
}
