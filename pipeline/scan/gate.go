package scan

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"dagger/fargate/pipeline/findings"
)

// Gate is the policy a report is judged against.
type Gate struct {
	// FailOn lists the severities that fail the gate; empty means DefaultFailOn.
	FailOn []Severity
	// IgnoreUnfixed drops vulnerabilities that have no fixed version yet.
	IgnoreUnfixed bool
	// Ignores are the accepted risks (nil: none).
	Ignores *Ignores
	// Now decides which ignore entries have expired; zero means time.Now().
	Now time.Time
}

// FindingKind is what Trivy found.
type FindingKind string

// Finding kinds.
const (
	KindVulnerability    FindingKind = "vulnerability"
	KindMisconfiguration FindingKind = "misconfiguration"
	KindSecret           FindingKind = "secret"
)

// Finding is one deduplicated finding: the same kind, ID, package and installed version
// found in one or more targets. It is the pipeline's one findings model (findings.Finding)
// with what Trivy adds: Rule is the Trivy ID (CVE-…, GHSA-…, AVD-…, a secret rule), Severity
// the worst reported, Source findings.SourceScan, Resource the package (the file for
// misconfigurations, the category for secrets), Message the title, Location.Line a secret's
// first line.
type Finding struct {
	findings.Finding
	Kind        FindingKind
	Package     string
	Installed   string
	Fixed       string
	RawSeverity string // the report's severity when it was not a known name
	URL         string
	Targets     []string // the targets where it counts (suppressed: where it was suppressed), in report order
}

// Suppression records a finding an ignore entry suppressed.
type Suppression struct {
	Finding Finding
	Entry   IgnoreEntry
}

// Decision is the gate's verdict on one report.
type Decision struct {
	Artifact string
	Pass     bool
	// Reasons says why the gate failed (empty when it passed).
	Reasons []string
	// Counts counts deduplicated findings by severity, suppressed ones excluded.
	Counts map[Severity]int
	// Failing are the findings that failed the gate, most severe first.
	Failing []Finding
	// Suppressed are findings an unexpired ignore entry covered.
	Suppressed []Suppression
	// Expired are findings whose ignore entry has expired: they count again.
	Expired []Suppression
	// UnfixedSkipped counts vulnerabilities dropped by IgnoreUnfixed.
	UnfixedSkipped int
	// Notes are remarks for the reader: unknown severities, unused ignore entries.
	Notes []string
	// FailOn echoes the severities that failed the gate.
	FailOn []Severity
}

// occurrence is one finding in one target, before deduplication.
type occurrence struct {
	kind            FindingKind
	id, altID       string
	pkg, installed  string
	fixed           string
	rawSeverity     string
	title, url      string
	target, pkgPath string
	purl            string
	line            int
	severity        Severity
}

type findingKey struct {
	kind               FindingKind
	id, pkg, installed string
	secretTarget       string
	secretLine         int
}

type aggregate struct {
	finding Finding
	counted bool // at least one occurrence not suppressed
	// suppressedTargets are where an ignore covered the finding; Finding.Targets lists
	// where it counts.
	suppressedTargets []string
	suppressed        *IgnoreEntry
	expired           *IgnoreEntry
	order             int
}

// Evaluate judges a report. It never returns a passing decision for a report it could
// not read: Parse rejects those first.
func Evaluate(rep *Report, g Gate) *Decision {
	now := g.Now
	if now.IsZero() {
		now = time.Now()
	}
	failOn := g.FailOn
	if len(failOn) == 0 {
		failOn = DefaultFailOn
	}
	var fails [Critical + 1]bool
	for _, s := range failOn {
		if s >= Unknown && s <= Critical {
			fails[s] = true
		}
	}
	var entries []IgnoreEntry
	if g.Ignores != nil {
		entries = g.Ignores.Entries
	}
	used := make([]bool, len(entries))
	unknownSev := map[string]int{}

	d := &Decision{Artifact: rep.ArtifactName, Counts: map[Severity]int{}, FailOn: failOn}
	aggs := map[findingKey]*aggregate{}
	var order []*aggregate

	visit := func(o *occurrence) {
		sev, ok := lookupSeverity(o.rawSeverity)
		o.severity = sev
		if !ok {
			unknownSev[o.rawSeverity]++
		}
		if o.kind == KindVulnerability && g.IgnoreUnfixed && o.fixed == "" {
			d.UnfixedSkipped++
			return
		}
		var suppressedBy, expiredBy *IgnoreEntry
		for i := range entries {
			if !entries[i].matches(o) {
				continue
			}
			used[i] = true
			if entries[i].Expired(now) {
				if expiredBy == nil {
					expiredBy = &entries[i]
				}
				continue
			}
			suppressedBy = &entries[i]
			break
		}
		key := findingKey{kind: o.kind, id: o.id, pkg: o.pkg, installed: o.installed}
		if o.kind == KindSecret {
			// A secret in two files is two secrets; the same rule in one file at two
			// lines is two as well.
			key.secretTarget, key.secretLine = o.target, o.line
		}
		a := aggs[key]
		if a == nil {
			a = &aggregate{order: len(order), finding: Finding{
				Finding: findings.Finding{Rule: o.id, Severity: sev, Source: findings.SourceScan, Resource: o.pkg, Message: o.title,
					Location: findings.Location{Line: o.line}},
				Kind: o.kind, Package: o.pkg, Installed: o.installed, Fixed: o.fixed, URL: o.url,
			}}
			if !ok {
				a.finding.RawSeverity = o.rawSeverity
			}
			aggs[key] = a
			order = append(order, a)
		}
		if sev > a.finding.Severity {
			a.finding.Severity = sev
		}
		if a.finding.Fixed == "" {
			a.finding.Fixed = o.fixed
		}
		switch {
		case suppressedBy != nil:
			if a.suppressed == nil {
				a.suppressed = suppressedBy
			}
			a.suppressedTargets = appendTarget(a.suppressedTargets, o.target)
		default:
			a.counted = true
			a.finding.Targets = appendTarget(a.finding.Targets, o.target)
			if expiredBy != nil && a.expired == nil {
				a.expired = expiredBy
			}
		}
	}

	var o occurrence
	for ri := range rep.Results {
		res := &rep.Results[ri]
		for i := range res.Vulnerabilities {
			v := &res.Vulnerabilities[i]
			o = occurrence{
				kind: KindVulnerability, id: v.VulnerabilityID, pkg: pkgName(v), installed: v.InstalledVersion,
				fixed: v.FixedVersion, rawSeverity: v.Severity, title: v.Title, url: v.PrimaryURL,
				target: res.Target, pkgPath: v.PkgPath, purl: v.PURL,
			}
			visit(&o)
		}
		for i := range res.Misconfigurations {
			m := &res.Misconfigurations[i]
			if m.Status != "" && !strings.EqualFold(m.Status, "FAIL") {
				continue // PASS/EXCEPTION entries appear with --include-non-failures
			}
			id, alt := m.ID, m.AVDID
			if id == "" {
				id, alt = m.AVDID, ""
			}
			title := m.Title
			if m.Message != "" {
				title = m.Title + ": " + m.Message
			}
			o = occurrence{
				kind: KindMisconfiguration, id: id, altID: alt, pkg: res.Target, rawSeverity: m.Severity,
				title: title, url: m.PrimaryURL, target: res.Target,
			}
			visit(&o)
		}
		for i := range res.Secrets {
			s := &res.Secrets[i]
			o = occurrence{
				kind: KindSecret, id: s.RuleID, pkg: s.Category, line: s.StartLine,
				rawSeverity: s.Severity, title: s.Title, target: res.Target,
			}
			visit(&o)
		}
	}

	for _, a := range order {
		f := a.finding
		if !a.counted {
			f.Targets = a.suppressedTargets
			d.Suppressed = append(d.Suppressed, Suppression{Finding: f, Entry: *a.suppressed})
			continue
		}
		d.Counts[f.Severity]++
		if a.expired != nil {
			d.Expired = append(d.Expired, Suppression{Finding: f, Entry: *a.expired})
		}
		if f.Kind == KindSecret || fails[f.Severity] {
			d.Failing = append(d.Failing, f)
		}
	}
	sort.SliceStable(d.Failing, func(i, j int) bool { return d.Failing[i].Severity > d.Failing[j].Severity })

	for raw, n := range unknownSev {
		d.Notes = append(d.Notes, fmt.Sprintf("%d finding(s) with unrecognised severity %q counted as UNKNOWN", n, raw))
	}
	for i, e := range entries {
		if !used[i] {
			d.Notes = append(d.Notes, fmt.Sprintf("ignore entry %s (%s) matched no finding; remove it if the risk is gone", e.ID, e.Source))
		}
	}
	for _, x := range d.Expired {
		d.Notes = append(d.Notes, fmt.Sprintf("%s ignore expired on %s; finding counts again (%s)", x.Finding.Rule, x.Entry.ExpiryDate(), x.Entry.Source))
	}
	sort.Strings(d.Notes)

	var secrets, others int
	bySev := map[Severity]int{}
	for _, f := range d.Failing {
		if f.Kind == KindSecret {
			secrets++
			continue
		}
		others++
		bySev[f.Severity]++
	}
	if secrets > 0 {
		d.Reasons = append(d.Reasons, fmt.Sprintf("%d secret(s) found in the artifact; secrets always fail the gate", secrets))
	}
	if others > 0 {
		var parts []string
		for _, s := range AllSeverities {
			if bySev[s] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", bySev[s], s.Label()))
			}
		}
		d.Reasons = append(d.Reasons, fmt.Sprintf("%s finding(s) at a failing severity (fail on %s)", strings.Join(parts, ", "), severityList(failOn)))
	}
	d.Pass = len(d.Failing) == 0
	return d
}

func appendTarget(targets []string, t string) []string {
	for _, x := range targets {
		if x == t {
			return targets
		}
	}
	return append(targets, t)
}

func pkgName(v *Vulnerability) string {
	if v.PkgName != "" {
		return v.PkgName
	}
	name, _, _ := strings.Cut(v.PkgID, "@")
	return name
}
