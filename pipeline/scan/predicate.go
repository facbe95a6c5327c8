package scan

import (
	"encoding/json"
	"fmt"
	"time"
)

// GatePredicateType is the in-toto predicate type of the gate decision attestation
// (cosign attest --type GatePredicateType --predicate gate.json).
const GatePredicateType = "https://dagger-fargate.dev/attestations/scan-gate/v1"

// GatePredicate is the gate's decision as an attestation predicate: what was decided,
// under which policy, and which accepted risks were applied.
type GatePredicate struct {
	Scanner     string         `json:"scanner"`
	Artifact    string         `json:"artifact"`
	EvaluatedAt time.Time      `json:"evaluatedAt"`
	Pass        bool           `json:"pass"`
	Reasons     []string       `json:"reasons"`
	FailOn      []string       `json:"failOn"`
	Counts      map[string]int `json:"counts"`
	Failing     []string       `json:"failing"`
	Accepted    []AcceptedRisk `json:"acceptedRisks"`
	Expired     []AcceptedRisk `json:"expiredIgnores"`
}

// AcceptedRisk is an ignore entry that suppressed (or, expired, no longer suppresses)
// a finding.
type AcceptedRisk struct {
	ID        string `json:"id"`
	Statement string `json:"statement"`
	ExpiresOn string `json:"expiresOn"`
	Source    string `json:"source"`
}

// Predicate renders the decision as a GatePredicate JSON document. scanner names the
// scanner image the report came from; evaluatedAt is the gate's Now.
func Predicate(d *Decision, scanner string, evaluatedAt time.Time) ([]byte, error) {
	p := GatePredicate{
		Scanner: scanner, Artifact: d.Artifact, EvaluatedAt: evaluatedAt.UTC(), Pass: d.Pass,
		Reasons: append([]string{}, d.Reasons...), Counts: map[string]int{}, Failing: []string{},
		Accepted: []AcceptedRisk{}, Expired: []AcceptedRisk{},
	}
	for _, s := range d.FailOn {
		p.FailOn = append(p.FailOn, s.Label())
	}
	for _, s := range AllSeverities {
		p.Counts[s.Label()] = d.Counts[s]
	}
	for _, f := range d.Failing {
		p.Failing = append(p.Failing, f.Rule)
	}
	risk := func(s Suppression) AcceptedRisk {
		return AcceptedRisk{ID: s.Finding.Rule, Statement: s.Entry.Statement, ExpiresOn: s.Entry.ExpiryDate(), Source: s.Entry.Source}
	}
	for _, s := range d.Suppressed {
		p.Accepted = append(p.Accepted, risk(s))
	}
	for _, s := range d.Expired {
		p.Expired = append(p.Expired, risk(s))
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render gate predicate: %w", err)
	}
	return data, nil
}

// ParseGatePredicate reads a scan gate predicate (as signed in an attestation).
func ParseGatePredicate(raw []byte) (GatePredicate, error) {
	var p GatePredicate
	if err := json.Unmarshal(raw, &p); err != nil {
		return GatePredicate{}, fmt.Errorf("read scan gate predicate: %w", err)
	}
	return p, nil
}

// SameGate reports whether a recorded gate decision is the one d would record: the same
// verdict under the same failing severities, the same counts, the same failing findings and
// the same accepted risks. An image whose attestation says so needs no new attestation.
func SameGate(p GatePredicate, d *Decision) bool {
	raw, err := Predicate(d, p.Scanner, p.EvaluatedAt)
	if err != nil {
		return false
	}
	now, err := ParseGatePredicate(raw)
	if err != nil {
		return false
	}
	now.Artifact, p.Artifact = "", ""
	a, errA := json.Marshal(now)
	b, errB := json.Marshal(p)
	return errA == nil && errB == nil && string(a) == string(b)
}
