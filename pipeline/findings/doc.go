// Package findings is the one model of what the pipeline's security checks find: the policy
// rules (pipeline/policy), the Trivy scan gate (pipeline/scan), the IaC template checks
// (pipeline/infra) and the live account audit (pipeline/policy/live, pipeline/detectors)
// all rank with one Severity scale and report a Finding.
//
// The scale maps, in one place, to the names every output uses (String, Label), to SARIF 2.1.0
// result levels (Severity.SARIFLevel) and to GitHub code scanning's numeric
// security-severity (Severity.SecuritySeverity), so the two SARIF writers cannot disagree.
package findings
