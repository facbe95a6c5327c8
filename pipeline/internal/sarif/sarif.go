// Package sarif is the one SARIF 2.1.0 writer of the pipeline, shared by the Trivy scan gate
// (pipeline/scan) and the policy check (pipeline/policy): the subset of the format GitHub
// code scanning reads and a Builder that keeps rule indexes right. Both writers rank alerts
// alike with the one severity scale's SARIF level and security-severity
// (findings.Severity.SARIFLevel, findings.Severity.SecuritySeverity). Output is checked against
// the official 2.1.0 schema in tests (package sarifschema). Every result names the check that
// found it (findings.Source) in its property bag, under SourceProperty.
package sarif

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"

	"dagger/fargate/pipeline/findings"
)

// SchemaURI is the $schema written into every log.
const SchemaURI = "https://json.schemastore.org/sarif-2.1.0.json"

// Version is the SARIF version written into every log.
const Version = "2.1.0"

// SourceProperty is the key, in every result's property bag (SARIF 2.1.0 §3.8), of
// the check that found the result: findings.Source's string ("policy", "scan", "iac", "audit").
const SourceProperty = "fargate/source"

// Log is a SARIF log.
type Log struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []Run  `json:"runs"`
}

// Run is one run of one tool.
type Run struct {
	Tool    Tool     `json:"tool"`
	Results []Result `json:"results"`
	// Properties is the run's property bag (SARIF 2.1.0 §3.8), e.g. the gate's decision.
	Properties map[string]any `json:"properties,omitempty"`
}

// Tool wraps the tool's driver component.
type Tool struct {
	Driver Driver `json:"driver"`
}

// Driver names the tool and lists its rules.
type Driver struct {
	Name           string `json:"name"`
	InformationURI string `json:"informationUri,omitempty"`
	Rules          []Rule `json:"rules"`
}

// Rule is a reportingDescriptor: one finding kind.
type Rule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     Message        `json:"shortDescription"`
	FullDescription      *Message       `json:"fullDescription,omitempty"`
	Help                 *Message       `json:"help,omitempty"`
	HelpURI              string         `json:"helpUri,omitempty"`
	DefaultConfiguration *Configuration `json:"defaultConfiguration,omitempty"`
	// Properties holds "security-severity" (GitHub's ranking), "tags" and the like.
	Properties map[string]any `json:"properties,omitempty"`
}

// Configuration is a rule's default reporting configuration.
type Configuration struct {
	Level string `json:"level,omitempty"`
}

// Message is a text message, optionally with a Markdown rendering.
type Message struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

// Result is one finding.
type Result struct {
	RuleID string `json:"ruleId"`
	// RuleIndex is set by Builder.AddResult.
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             Message           `json:"message"`
	Locations           []Location        `json:"locations"`
	Suppressions        []Suppression     `json:"suppressions,omitempty"`
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
	// Source is the check that found the result; Builder.AddResult requires it and writes it
	// into Properties under SourceProperty.
	Source findings.Source `json:"-"`
	// Properties is the result's property bag (SARIF 2.1.0 §3.8).
	Properties map[string]any `json:"properties,omitempty"`
}

// Location is where a result is: a file region, resources by name, or both.
type Location struct {
	PhysicalLocation *PhysicalLocation `json:"physicalLocation,omitempty"`
	LogicalLocations []LogicalLocation `json:"logicalLocations,omitempty"`
}

// PhysicalLocation is a file (or image component) and a region in it.
type PhysicalLocation struct {
	ArtifactLocation ArtifactLocation `json:"artifactLocation"`
	Region           *Region          `json:"region,omitempty"`
}

// ArtifactLocation is a file's URI.
type ArtifactLocation struct {
	URI string `json:"uri"`
}

// Region is a 1-based line range; EndLine 0 is left out.
type Region struct {
	StartLine int `json:"startLine"`
	EndLine   int `json:"endLine,omitempty"`
}

// LogicalLocation names a resource that is not a file (an ECS service, an IAM role, ...).
type LogicalLocation struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind,omitempty"`
}

// Suppression records why a result is not an alert.
type Suppression struct {
	Kind          string `json:"kind"` // inSource or external
	Status        string `json:"status,omitempty"`
	Justification string `json:"justification,omitempty"`
}

// Lines is a region from start to end, clamped to what SARIF accepts: lines start at 1 and
// a range does not end before it starts.
func Lines(start, end int) *Region {
	start = max(start, 1)
	if end < start {
		end = start
	}
	return &Region{StartLine: start, EndLine: end}
}

// Builder assembles a one-run log, keeping each result's ruleIndex pointing at its rule.
type Builder struct {
	run   Run
	index map[string]int
}

// NewBuilder starts a log for the named tool.
func NewBuilder(name, informationURI string) *Builder {
	return &Builder{
		run:   Run{Tool: Tool{Driver: Driver{Name: name, InformationURI: informationURI, Rules: []Rule{}}}, Results: []Result{}},
		index: map[string]int{},
	}
}

// AddRule adds a rule, unless one with its ID is there already, and returns the rule's index
// and whether it was added.
func (b *Builder) AddRule(r Rule) (int, bool) {
	if i, ok := b.index[r.ID]; ok {
		return i, false
	}
	b.run.Tool.Driver.Rules = append(b.run.Tool.Driver.Rules, r)
	b.index[r.ID] = len(b.run.Tool.Driver.Rules) - 1
	return b.index[r.ID], true
}

// Rule returns the rule with that ID, to adjust it, or nil.
func (b *Builder) Rule(id string) *Rule {
	if i, ok := b.index[id]; ok {
		return &b.run.Tool.Driver.Rules[i]
	}
	return nil
}

// AddResult adds a result for a rule already added, setting its ruleIndex and its
// SourceProperty from its Source, which it must have.
func (b *Builder) AddResult(r Result) error {
	i, ok := b.index[r.RuleID]
	if !ok {
		return fmt.Errorf("sarif result for rule %q: no such rule", r.RuleID)
	}
	if r.Source == "" {
		return fmt.Errorf("sarif result for rule %q: no source", r.RuleID)
	}
	r.RuleIndex = i
	props := make(map[string]any, len(r.Properties)+1)
	maps.Copy(props, r.Properties)
	props[SourceProperty] = string(r.Source)
	r.Properties = props
	if r.Locations == nil {
		r.Locations = []Location{}
	}
	b.run.Results = append(b.run.Results, r)
	return nil
}

// Results returns the results added so far, to reorder them.
func (b *Builder) Results() []Result { return b.run.Results }

// Log returns the log.
func (b *Builder) Log() *Log {
	return &Log{Schema: SchemaURI, Version: Version, Runs: []Run{b.run}}
}

// WithRunProperty returns the SARIF log data with key set to value in every run's property
// bag.
func WithRunProperty(data []byte, key string, value any) ([]byte, error) {
	var l Log
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("read sarif: %w", err)
	}
	for i := range l.Runs {
		if l.Runs[i].Properties == nil {
			l.Runs[i].Properties = map[string]any{}
		}
		l.Runs[i].Properties[key] = value
	}
	var b bytes.Buffer
	if err := Encode(&b, &l); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Encode writes the log as indented JSON.
func Encode(w io.Writer, l *Log) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(l); err != nil {
		return fmt.Errorf("write sarif: %w", err)
	}
	return nil
}
