package report

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// JSONSchemaVersion is the version of the JSON report (docs/ci.md). Fields are only ever
// added within a version.
const JSONSchemaVersion = 1

// JSONReport is the deploy report for machines (CI): the contract documented in docs/ci.md.
// Every field is always present (empty strings, false, empty lists), so a consumer can read
// any of them without checking for its presence. It holds no secret: strings are the
// report's own, with AWS access key IDs masked as in the Markdown.
type JSONReport struct {
	SchemaVersion int `json:"schemaVersion"`
	// Action is "deploy" or "rollback".
	Action string `json:"action"`
	// Outcome is one of the outcomes (deployed, rolled back, refused before deploy, ...).
	Outcome string `json:"outcome"`
	// Succeeded: the run did what it was asked; false means the CI job must fail.
	Succeeded bool `json:"succeeded"`
	// ExitCode is what `dagger call deploy` exits with for this outcome (0 or 1).
	ExitCode    int    `json:"exitCode"`
	Headline    string `json:"headline"`
	Reason      string `json:"reason"`
	Environment string `json:"environment"`
	Service     string `json:"service"`
	Revision    string `json:"revision"`
	// Image is the image's digest reference (repository@sha256:...); Digest its digest.
	Image          string             `json:"image"`
	Digest         string             `json:"digest"`
	TaskDefinition JSONTaskDefinition `json:"taskDefinition"`
	Phases         []JSONPhase        `json:"phases"`
	Warnings       []string           `json:"warnings"`
	// BreakGlass names the gates bypassed on purpose.
	BreakGlass      []string  `json:"breakGlass"`
	StartedAt       time.Time `json:"startedAt"`
	FinishedAt      time.Time `json:"finishedAt"`
	DurationSeconds float64   `json:"durationSeconds"`
	// Markdown is the whole report as `deploy` prints it.
	Markdown string `json:"markdown"`
}

// JSONTaskDefinition names the task definitions as family:revision ("" when unknown).
type JSONTaskDefinition struct {
	// Registered is the revision this run registered.
	Registered string `json:"registered"`
	// Previous is what the service ran before (the rollback target).
	Previous string `json:"previous"`
	// Final is what the service runs at the end, when known.
	Final string `json:"final"`
}

// JSONPhase is one step of the run.
type JSONPhase struct {
	Name      string    `json:"name"`
	StartedAt time.Time `json:"startedAt"`
	Seconds   float64   `json:"seconds"`
}

// ExitCode is the exit status of a run that ended with o: 0 when it succeeded, 1 otherwise.
func (o Outcome) ExitCode() int {
	if o.Succeeded() {
		return 0
	}
	return 1
}

// JSONReport is the report for machines.
func (r Report) JSONReport() JSONReport {
	action := "deploy"
	if r.Action == ActionRollback {
		action = "rollback"
	}
	m := maskAccessKeys
	out := JSONReport{
		SchemaVersion: JSONSchemaVersion,
		Action:        action,
		Outcome:       string(r.Outcome),
		Succeeded:     r.Outcome.Succeeded(),
		ExitCode:      r.Outcome.ExitCode(),
		Headline:      m(r.badgePlain()),
		Reason:        m(r.Reason),
		Environment:   m(r.Env),
		Service:       m(r.Service),
		Revision:      m(r.Revision),
		Image:         m(r.Image),
		TaskDefinition: JSONTaskDefinition{
			Registered: m(r.TaskDefinition), Previous: m(r.PreviousTaskDefinition), Final: m(r.FinalTaskDefinition),
		},
		Phases:     []JSONPhase{},
		Warnings:   []string{},
		BreakGlass: []string{},
		StartedAt:  r.Started,
		FinishedAt: r.Finished,
		Markdown:   r.Markdown(),
	}
	if at := strings.LastIndex(r.Image, "@"); at >= 0 {
		out.Digest = r.Image[at+1:]
	}
	if !r.Started.IsZero() && !r.Finished.Before(r.Started) {
		out.DurationSeconds = r.Finished.Sub(r.Started).Seconds()
	}
	for _, p := range r.Phases {
		out.Phases = append(out.Phases, JSONPhase{Name: p.Name, StartedAt: p.Started, Seconds: p.Duration.Seconds()})
	}
	for _, w := range r.Warnings {
		out.Warnings = append(out.Warnings, m(w))
	}
	for _, bg := range r.BreakGlass {
		out.BreakGlass = append(out.BreakGlass, bg.Gate)
	}
	return out
}

// JSON renders the report for machines (JSONReport), indented.
func (r Report) JSON() (string, error) {
	data, err := json.MarshalIndent(r.JSONReport(), "", "  ")
	if err != nil {
		return "", fmt.Errorf("render the JSON report: %w", err)
	}
	return string(data) + "\n", nil
}

// badgePlain is the headline without Markdown escapes.
func (r Report) badgePlain() string {
	return strings.ReplaceAll(r.badge(), `\`, "")
}
