package policy

import (
	"fmt"
	"strings"
	"time"
)

// Suppression accepts the findings of one rule on matching resources until it expires.
// Resource is an exact resource name or a pattern where * matches any run of characters,
// "/" included ("task-definition/app/*", "*"). Expires is a
// date (2006-01-02, suppressing through the end of that day, UTC) or an RFC 3339 time.
type Suppression struct {
	Rule     string `json:"rule" yaml:"rule"`
	Resource string `json:"resource" yaml:"resource"`
	Reason   string `json:"reason" yaml:"reason"`
	Expires  string `json:"expires" yaml:"expires"`
}

// Suppressions is a validated set of suppressions.
type Suppressions struct {
	list []parsedSuppression
}

type parsedSuppression struct {
	Suppression
	until time.Time // exclusive
}

// ParseSuppressions validates suppressions: the rule must exist, the resource must be a valid
// pattern, the reason must be given, and the expiry must be a valid date or time.
func ParseSuppressions(in []Suppression) (*Suppressions, error) {
	out := &Suppressions{}
	for i, s := range in {
		where := fmt.Sprintf("suppression %d (rule %q)", i, s.Rule)
		if lookup(s.Rule) == nil {
			return nil, fmt.Errorf("%s: unknown rule ID %q (see docs/rules.md)", where, s.Rule)
		}
		if strings.TrimSpace(s.Resource) == "" {
			return nil, fmt.Errorf("%s: resource is missing (use \"*\" for every resource)", where)
		}
		if strings.TrimSpace(s.Reason) == "" {
			return nil, fmt.Errorf("%s: reason is missing", where)
		}
		until, err := parseExpiry(s.Expires)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		out.list = append(out.list, parsedSuppression{Suppression: s, until: until})
	}
	return out, nil
}

func parseExpiry(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("expires is missing (expected a date like 2026-12-31)")
	}
	if d, err := time.Parse("2006-01-02", s); err == nil {
		return d.AddDate(0, 0, 1), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("expires %q: expected a date (2006-01-02) or an RFC 3339 time", s)
}

// matches reports whether a suppression covers a finding.
func (p parsedSuppression) matches(f Finding) bool {
	if p.Rule != f.Rule {
		return false
	}
	return wildcardMatch(p.Resource, f.Resource)
}

// Apply marks the findings covered by an unexpired suppression as suppressed; a finding whose
// only matching suppressions have expired stays active and says so in SuppressionNote.
func (s *Suppressions) Apply(findings []Finding, now time.Time) []Finding {
	out := make([]Finding, len(findings))
	copy(out, findings)
	for i := range out {
		f := &out[i]
		for _, p := range s.list {
			if !p.matches(*f) {
				continue
			}
			if now.Before(p.until) {
				f.Suppressed = true
				f.SuppressionNote = fmt.Sprintf("suppressed until %s: %s", p.Expires, p.Reason)
				break
			}
			f.SuppressionNote = fmt.Sprintf("suppression expired on %s (%s); finding is active again", p.Expires, p.Reason)
		}
	}
	return out
}

// Unused returns the suppressions that match none of the findings (suppressed or not): an
// accepted risk that no longer exists, or a pattern that never matched. Each is a line of
// the environments file to remove or fix.
func (s *Suppressions) Unused(findings []Finding) []Suppression {
	var out []Suppression
	for _, p := range s.list {
		used := false
		for _, f := range findings {
			if p.matches(f) {
				used = true
				break
			}
		}
		if !used {
			out = append(out, p.Suppression)
		}
	}
	return out
}
