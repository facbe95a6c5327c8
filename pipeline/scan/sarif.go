package scan

import (
	"encoding/json"
	"fmt"
	"sort"

	"dagger/fargate/pipeline/internal/sarif"
)

// SARIF 2.1.0 model: the subset GitHub code scanning reads.
// https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html

// SARIFSchema is the $schema URI written into SARIF files.
const SARIFSchema = "https://json.schemastore.org/sarif-2.1.0.json"

// SARIFLog is a SARIF 2.1.0 log.
type SARIFLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []SARIFRun `json:"runs"`
}

// SARIFRun is one tool run.
type SARIFRun struct {
	Tool    SARIFTool     `json:"tool"`
	Results []SARIFResult `json:"results"`
}

// SARIFTool names the tool and its rules.
type SARIFTool struct {
	Driver SARIFDriver `json:"driver"`
}

// SARIFDriver is the tool component.
type SARIFDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []SARIFRule `json:"rules"`
}

// SARIFRule describes one finding ID.
type SARIFRule struct {
	ID               string              `json:"id"`
	Name             string              `json:"name,omitempty"`
	ShortDescription SARIFMessage        `json:"shortDescription"`
	HelpURI          string              `json:"helpUri,omitempty"`
	Properties       SARIFRuleProperties `json:"properties"`
}

// SARIFRuleProperties carries the severity GitHub ranks alerts by.
type SARIFRuleProperties struct {
	SecuritySeverity string   `json:"security-severity"`
	Tags             []string `json:"tags,omitempty"`
}

// SARIFMessage is a plain-text message.
type SARIFMessage struct {
	Text string `json:"text"`
}

// SARIFResult is one finding at one location.
type SARIFResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   SARIFMessage    `json:"message"`
	Locations []SARIFLocation `json:"locations"`
}

// SARIFLocation points at the scan target.
type SARIFLocation struct {
	PhysicalLocation SARIFPhysicalLocation `json:"physicalLocation"`
}

// SARIFPhysicalLocation is the target file (or image component) and a region in it.
type SARIFPhysicalLocation struct {
	ArtifactLocation SARIFArtifactLocation `json:"artifactLocation"`
	Region           SARIFRegion           `json:"region"`
}

// SARIFArtifactLocation is the target's URI.
type SARIFArtifactLocation struct {
	URI string `json:"uri"`
}

// SARIFRegion is a line range (1-based).
type SARIFRegion struct {
	StartLine int `json:"startLine"`
	EndLine   int `json:"endLine"`
}

// securitySeverity is the CVSS-like score GitHub maps to critical (>=9), high (7-8.9),
// medium (4-6.9) and low (0.1-3.9).
func securitySeverity(s Severity) string {
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

// BuildSARIF converts the report's findings to a SARIF 2.1.0 log: one rule per finding
// ID, one result per finding per target. Findings that d suppressed are left out (d may
// be nil to include everything); unfixed vulnerabilities stay in, since the alert is
// still true.
func BuildSARIF(rep *Report, d *Decision) *SARIFLog {
	suppressed := map[string]bool{}
	if d != nil {
		for _, s := range d.Suppressed {
			for _, t := range s.Finding.Targets {
				suppressed[string(s.Finding.Kind)+"\x00"+s.Finding.ID+"\x00"+t] = true
			}
		}
	}
	run := SARIFRun{Tool: SARIFTool{Driver: SARIFDriver{Name: "Trivy", InformationURI: "https://github.com/aquasecurity/trivy"}}, Results: []SARIFResult{}}
	ruleIndex := map[string]int{}
	addRule := func(id, title, uri string, sev Severity, tag string) int {
		if i, ok := ruleIndex[id]; ok {
			r := &run.Tool.Driver.Rules[i]
			if sev > ruleSeverity(r.Properties.SecuritySeverity) { // keep the worst
				r.Properties.SecuritySeverity = securitySeverity(sev)
			}
			return i
		}
		if title == "" {
			title = id
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, SARIFRule{
			ID: id, Name: id, ShortDescription: SARIFMessage{Text: title}, HelpURI: uri,
			Properties: SARIFRuleProperties{SecuritySeverity: securitySeverity(sev), Tags: []string{"security", tag}},
		})
		ruleIndex[id] = len(run.Tool.Driver.Rules) - 1
		return ruleIndex[id]
	}
	add := func(kind FindingKind, id, title, uri, rawSev, target, text string, start, end int) {
		if suppressed[string(kind)+"\x00"+id+"\x00"+target] {
			return
		}
		sev, _ := lookupSeverity(rawSev)
		idx := addRule(id, title, uri, sev, string(kind))
		if start < 1 {
			start = 1
		}
		if end < start {
			end = start
		}
		run.Results = append(run.Results, SARIFResult{
			RuleID: id, RuleIndex: idx, Level: sarif.Level(sev.String()), Message: SARIFMessage{Text: text},
			Locations: []SARIFLocation{{PhysicalLocation: SARIFPhysicalLocation{
				ArtifactLocation: SARIFArtifactLocation{URI: target},
				Region:           SARIFRegion{StartLine: start, EndLine: end},
			}}},
		})
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
	sort.SliceStable(run.Results, func(i, j int) bool { return run.Results[i].RuleIndex < run.Results[j].RuleIndex })
	if run.Tool.Driver.Rules == nil {
		run.Tool.Driver.Rules = []SARIFRule{}
	}
	return &SARIFLog{Schema: SARIFSchema, Version: "2.1.0", Runs: []SARIFRun{run}}
}

func ruleSeverity(score string) Severity {
	for _, s := range AllSeverities {
		if securitySeverity(s) == score {
			return s
		}
	}
	return Unknown
}

// SARIF renders BuildSARIF as indented JSON.
func SARIF(rep *Report, d *Decision) ([]byte, error) {
	data, err := json.MarshalIndent(BuildSARIF(rep, d), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render sarif: %w", err)
	}
	return data, nil
}
