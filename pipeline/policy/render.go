package policy

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"dagger/fargate/pipeline/internal/sarif"
)

// Format is an output format of Render.
type Format string

// Output formats.
const (
	FormatText  Format = "text"
	FormatJSON  Format = "json"
	FormatSARIF Format = "sarif"
)

// ParseFormat reads "text" (also the empty string), "json" or "sarif".
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case "":
		return FormatText, nil
	case FormatText, FormatJSON, FormatSARIF:
		return f, nil
	}
	return "", fmt.Errorf("output format %q: expected text, json or sarif", s)
}

// Render writes the report in the given format.
func Render(w io.Writer, r Report, f Format) error {
	switch f {
	case FormatText, "":
		return renderText(w, r)
	case FormatJSON:
		return renderJSON(w, r)
	case FormatSARIF:
		return renderSARIF(w, r)
	}
	return fmt.Errorf("render report: unknown format %q", f)
}

func renderText(w io.Writer, r Report) error {
	var b strings.Builder
	for _, sev := range []Severity{Critical, High, Medium, Low} {
		var lines []string
		for _, f := range r.Findings {
			if f.Suppressed || f.Severity != sev {
				continue
			}
			line := fmt.Sprintf("  %s %s: %s (fix: %s)", f.Rule, f.Resource, f.Message, f.Remediation)
			if loc := textLocation(f.Location); loc != "" {
				line += " [" + loc + "]"
			}
			if f.SuppressionNote != "" {
				line += " [" + f.SuppressionNote + "]"
			}
			lines = append(lines, line)
		}
		if len(lines) > 0 {
			fmt.Fprintf(&b, "%s (%d)\n%s\n", sev.Label(), len(lines), strings.Join(lines, "\n"))
		}
	}
	var sup []string
	for _, f := range r.Findings {
		if f.Suppressed {
			sup = append(sup, fmt.Sprintf("  %s %s %s: %s [%s]", f.Severity, f.Rule, f.Resource, f.Message, f.SuppressionNote))
		}
	}
	if len(sup) > 0 {
		fmt.Fprintf(&b, "SUPPRESSED (%d)\n%s\n", len(sup), strings.Join(sup, "\n"))
	}
	if len(r.Findings) == 0 {
		b.WriteString("No findings.\n")
	}
	s := r.Summary
	fmt.Fprintf(&b, "Summary: %d critical, %d high, %d medium, %d low, %d suppressed\n", s.Critical, s.High, s.Medium, s.Low, s.Suppressed)
	_, err := io.WriteString(w, b.String())
	return err
}

func textLocation(l Location) string {
	switch {
	case l.Path != "" && l.Line > 0:
		return fmt.Sprintf("%s:%d", l.Path, l.Line)
	case l.Path != "":
		return l.Path
	}
	return ""
}

// jsonFinding is the JSON contract of one finding (see docs/rules.md).
type jsonFinding struct {
	Rule            string        `json:"rule"`
	Severity        string        `json:"severity"`
	Source          string        `json:"source"`
	Controls        []string      `json:"controls"`
	Resource        string        `json:"resource"`
	Message         string        `json:"message"`
	Remediation     string        `json:"remediation"`
	Suppressed      bool          `json:"suppressed"`
	SuppressionNote string        `json:"suppressionNote,omitempty"`
	Location        *jsonLocation `json:"location,omitempty"`
}

type jsonLocation struct {
	Path    string `json:"path,omitempty"`
	Line    int    `json:"line,omitempty"`
	Logical string `json:"logical,omitempty"`
}

type jsonSummary struct {
	Critical   int `json:"critical"`
	High       int `json:"high"`
	Medium     int `json:"medium"`
	Low        int `json:"low"`
	Suppressed int `json:"suppressed"`
}

type jsonReport struct {
	Findings []jsonFinding `json:"findings"`
	Summary  jsonSummary   `json:"summary"`
}

func renderJSON(w io.Writer, r Report) error {
	out := jsonReport{Findings: []jsonFinding{}, Summary: jsonSummary(r.Summary)}
	for _, f := range r.Findings {
		if f.Source == "" {
			return fmt.Errorf("render policy json: finding %s on %s has no source", f.Rule, f.Resource)
		}
		jf := jsonFinding{Rule: f.Rule, Severity: f.Severity.String(), Source: string(f.Source), Controls: f.Controls, Resource: f.Resource, Message: f.Message,
			Remediation: f.Remediation, Suppressed: f.Suppressed, SuppressionNote: f.SuppressionNote}
		if jf.Controls == nil {
			jf.Controls = []string{}
		}
		if f.Location != (Location{}) {
			jf.Location = &jsonLocation{Path: f.Location.Path, Line: f.Location.Line, Logical: f.Location.Logical}
		}
		out.Findings = append(out.Findings, jf)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func renderSARIF(w io.Writer, r Report) error {
	b := sarif.NewBuilder("fargate-policy", "")
	for _, rule := range Rules() {
		tags := append([]string{"security", string(rule.Target)}, rule.Controls...)
		level := rule.Severity.SARIFLevel()
		b.AddRule(sarif.Rule{
			ID:                   rule.ID,
			Name:                 sarifName(rule.Title),
			ShortDescription:     sarif.Message{Text: rule.Title},
			FullDescription:      &sarif.Message{Text: rule.Rationale},
			Help:                 &sarif.Message{Text: rule.Remediation, Markdown: fmt.Sprintf("**%s**\n\n%s\n\nFix: %s", rule.Title, rule.Rationale, rule.Remediation)},
			DefaultConfiguration: &sarif.Configuration{Level: level},
			Properties:           map[string]any{"security-severity": rule.Severity.SecuritySeverity(), "tags": tags, "precision": "high", "problem.severity": level},
		})
	}
	for _, f := range r.Findings {
		res := sarif.Result{RuleID: f.Rule, Level: f.Severity.SARIFLevel(), Source: f.Source,
			Message:             sarif.Message{Text: fmt.Sprintf("%s: %s. Fix: %s", f.Resource, f.Message, f.Remediation)},
			PartialFingerprints: map[string]string{"findingKey/v1": f.Rule + "|" + f.Resource + "|" + f.Message}}
		var loc sarif.Location
		if f.Location.Path != "" {
			loc.PhysicalLocation = &sarif.PhysicalLocation{
				ArtifactLocation: sarif.ArtifactLocation{URI: f.Location.Path},
				Region:           &sarif.Region{StartLine: max(f.Location.Line, 1)},
			}
		}
		logical := f.Location.Logical
		if logical == "" {
			logical = f.Resource
		}
		loc.LogicalLocations = []sarif.LogicalLocation{{Name: f.Resource, FullyQualifiedName: logical, Kind: "resource"}}
		res.Locations = []sarif.Location{loc}
		if f.Suppressed {
			res.Suppressions = []sarif.Suppression{{Kind: "external", Status: "accepted", Justification: f.SuppressionNote}}
		}
		if err := b.AddResult(res); err != nil {
			return fmt.Errorf("render policy sarif: %w", err)
		}
	}
	return sarif.Encode(w, b.Log())
}

// sarifName turns a title into the PascalCase identifier SARIF expects for rule names.
func sarifName(title string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(title, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}
