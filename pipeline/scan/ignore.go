package scan

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// IgnoreKind says which findings an ignore entry applies to.
type IgnoreKind string

// Ignore kinds, as the sections of .trivyignore.yaml. AnyKind is a plain .trivyignore
// line, which Trivy applies to every kind of finding.
const (
	AnyKind              IgnoreKind = ""
	VulnerabilityKind    IgnoreKind = "vulnerabilities"
	MisconfigurationKind IgnoreKind = "misconfigurations"
	SecretKind           IgnoreKind = "secrets"
	LicenseKind          IgnoreKind = "licenses"

	ignoreDateLayout = "2006-01-02"
)

// IgnoreEntry is one accepted-risk entry of an ignore file.
type IgnoreEntry struct {
	Kind      IgnoreKind
	ID        string
	Paths     []string // optional; glob patterns matched against the target or package path
	PURLs     []string // optional; package URLs, with or without @version
	Statement string   // the reason, required
	ExpiresAt time.Time
	Source    string // where it was read: ".trivyignore:3" or ".trivyignore.yaml: vulnerabilities[2]"
}

// Expired reports whether the entry no longer suppresses at now: from 00:00 UTC on its
// expiry date on, as Trivy does.
func (e IgnoreEntry) Expired(now time.Time) bool { return !now.Before(e.ExpiresAt) }

// ExpiryDate is the expiry date as written in the file.
func (e IgnoreEntry) ExpiryDate() string { return e.ExpiresAt.UTC().Format(ignoreDateLayout) }

// Ignores is a parsed ignore file.
type Ignores struct {
	Entries []IgnoreEntry
}

// ParseIgnoreFile reads an ignore file, choosing the format by name: .yaml/.yml is
// .trivyignore.yaml, anything else the plain .trivyignore. Every problem is reported,
// each naming its line or entry.
func ParseIgnoreFile(name string, data []byte) (*Ignores, error) {
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		return ParseIgnoreYAML(name, data)
	}
	return ParseIgnorePlain(name, data)
}

// ParseIgnorePlain reads the plain format: "ID exp:YYYY-MM-DD # reason" per line; lines
// that are blank or start with # are skipped.
func ParseIgnorePlain(name string, data []byte) (*Ignores, error) {
	ig := &Ignores{}
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where := fmt.Sprintf("%s:%d", name, n)
		body, reason, _ := strings.Cut(line, "#")
		reason = strings.TrimSpace(reason)
		fields := strings.Fields(body)
		e := IgnoreEntry{Kind: AnyKind, ID: fields[0], Statement: reason, Source: where}
		var lineErrs []string
		for _, f := range fields[1:] {
			date, ok := strings.CutPrefix(f, "exp:")
			if !ok {
				lineErrs = append(lineErrs, fmt.Sprintf("unexpected %q (expected exp:YYYY-MM-DD then # reason)", f))
				continue
			}
			t, err := time.Parse(ignoreDateLayout, date)
			if err != nil {
				lineErrs = append(lineErrs, fmt.Sprintf("expiry %q is not a date (expected exp:YYYY-MM-DD)", date))
				continue
			}
			e.ExpiresAt = t
		}
		if e.ExpiresAt.IsZero() && len(lineErrs) == 0 {
			lineErrs = append(lineErrs, "no expiry date (add exp:YYYY-MM-DD)")
		}
		if reason == "" {
			lineErrs = append(lineErrs, "no reason given (add a trailing '# reason' comment)")
		}
		if len(lineErrs) > 0 {
			errs = append(errs, fmt.Errorf("%s: %s: %s", where, e.ID, strings.Join(lineErrs, "; ")))
			continue
		}
		ig.Entries = append(ig.Entries, e)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("ignore file %s: %w", name, errors.Join(errs...))
	}
	return ig, nil
}

type yamlIgnoreEntry struct {
	ID        string   `yaml:"id"`
	Paths     []string `yaml:"paths"`
	PURLs     []string `yaml:"purls"`
	Statement string   `yaml:"statement"`
	ExpiredAt string   `yaml:"expired_at"`
	line      int
}

type yamlIgnoreFile struct {
	Vulnerabilities   []yamlIgnoreEntry `yaml:"vulnerabilities"`
	Misconfigurations []yamlIgnoreEntry `yaml:"misconfigurations"`
	Secrets           []yamlIgnoreEntry `yaml:"secrets"`
	Licenses          []yamlIgnoreEntry `yaml:"licenses"`
}

// ParseIgnoreYAML reads Trivy's .trivyignore.yaml format. Unknown top-level sections
// and unknown entry fields are errors, so a typo cannot silently drop an entry's scope.
func ParseIgnoreYAML(name string, data []byte) (*Ignores, error) {
	var f yamlIgnoreFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) { // an empty file ignores nothing
			return &Ignores{}, nil
		}
		return nil, fmt.Errorf("ignore file %s: %w", name, err)
	}
	ig := &Ignores{}
	var errs []error
	sections := []struct {
		kind    IgnoreKind
		entries []yamlIgnoreEntry
	}{
		{VulnerabilityKind, f.Vulnerabilities},
		{MisconfigurationKind, f.Misconfigurations},
		{SecretKind, f.Secrets},
		{LicenseKind, f.Licenses},
	}
	for _, s := range sections {
		for i, y := range s.entries {
			where := fmt.Sprintf("%s: %s[%d]", name, s.kind, i)
			id := strings.TrimSpace(y.ID)
			label := id
			if label == "" {
				label = "(no id)"
			}
			var problems []string
			if id == "" {
				problems = append(problems, "id is required")
			}
			if strings.TrimSpace(y.Statement) == "" {
				problems = append(problems, "no reason given (statement is required)")
			}
			e := IgnoreEntry{Kind: s.kind, ID: id, Paths: y.Paths, PURLs: y.PURLs, Statement: strings.TrimSpace(y.Statement), Source: where}
			if y.ExpiredAt == "" {
				problems = append(problems, "no expiry date (expired_at: YYYY-MM-DD is required)")
			} else if t, err := parseExpiry(y.ExpiredAt); err != nil {
				problems = append(problems, fmt.Sprintf("expired_at %q is not a date (expected YYYY-MM-DD)", y.ExpiredAt))
			} else {
				e.ExpiresAt = t
			}
			for _, p := range y.Paths {
				if _, err := path.Match(p, ""); err != nil {
					problems = append(problems, fmt.Sprintf("paths: bad pattern %q", p))
				}
			}
			if len(problems) > 0 {
				errs = append(errs, fmt.Errorf("%s: %s: %s", where, label, strings.Join(problems, "; ")))
				continue
			}
			ig.Entries = append(ig.Entries, e)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("ignore file %s: %w", name, errors.Join(errs...))
	}
	return ig, nil
}

// parseExpiry accepts a date, or an RFC 3339 timestamp (YAML timestamps decode to that).
func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(ignoreDateLayout, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

// kindOf maps a finding kind to the ignore section that covers it.
func kindOf(k FindingKind) IgnoreKind {
	switch k {
	case KindVulnerability:
		return VulnerabilityKind
	case KindMisconfiguration:
		return MisconfigurationKind
	case KindSecret:
		return SecretKind
	}
	return LicenseKind
}

// matches reports whether the entry covers one occurrence of a finding.
func (e IgnoreEntry) matches(o *occurrence) bool {
	if e.Kind != AnyKind && e.Kind != kindOf(o.kind) {
		return false
	}
	if e.ID != o.id && (o.altID == "" || e.ID != o.altID) {
		return false
	}
	if len(e.Paths) > 0 && !matchAnyPath(e.Paths, o.target, o.pkgPath) {
		return false
	}
	if len(e.PURLs) > 0 && !matchAnyPURL(e.PURLs, o.purl) {
		return false
	}
	return true
}

func matchAnyPath(patterns []string, target, pkgPath string) bool {
	for _, p := range patterns {
		for _, candidate := range []string{target, pkgPath} {
			if candidate == "" {
				continue
			}
			if ok, _ := path.Match(p, candidate); ok || strings.HasPrefix(candidate, strings.TrimSuffix(p, "/")+"/") {
				return true
			}
		}
	}
	return false
}

// matchAnyPURL matches exactly, or ignoring the version when the pattern has none
// (pkg:npm/lodash covers pkg:npm/lodash@4.17.20). Qualifiers are ignored on both sides.
func matchAnyPURL(patterns []string, purl string) bool {
	if purl == "" {
		return false
	}
	base, _, _ := strings.Cut(purl, "?")
	noVersion := base
	if i := strings.LastIndex(base, "@"); i > 0 {
		noVersion = base[:i]
	}
	for _, p := range patterns {
		p, _, _ = strings.Cut(p, "?")
		if p == base || p == noVersion {
			return true
		}
	}
	return false
}
