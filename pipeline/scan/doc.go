// Package scan turns a Trivy JSON report (SchemaVersion 2) into a deploy decision.
//
// It parses the report with a streaming decoder, gathers vulnerabilities, failed
// misconfigurations and secrets into findings, deduplicates findings that several
// targets share (same kind, ID, package and installed version) for the gate while
// keeping the per-target detail, and decides pass or fail against a Gate: the
// severities that fail, whether unfixed vulnerabilities count, and an ignore file.
// A secret found in an image always fails the gate unless an ignore entry covers it.
// A malformed report (not JSON, a SchemaVersion other than 2) is an error, never a pass.
//
// Ignore files. Both of Trivy's formats are read: .trivyignore.yaml
// (vulnerabilities/misconfigurations/secrets/licenses entries with id, paths, purls,
// statement and expired_at) and the plain .trivyignore (one ID per line, optional
// exp:YYYY-MM-DD, # comments). This package is stricter than Trivy: every entry must
// carry a reason (statement, or a trailing "# reason" comment in the plain format) and
// an expiry date, or the file is rejected with the entry named.
//
// Design decision: Trivy is run without the project's ignore file (ImageScanArgs passes
// --ignorefile /dev/null so Trivy cannot pick up a .trivyignore from its working
// directory either) and the ignores are applied here instead. Trivy silently drops an expired entry; applying
// the file ourselves lets the gate say "CVE-… ignore expired on 2026-01-31; finding
// counts again", and keeps the full, unfiltered report as the audit record. An entry
// stops suppressing at 00:00 UTC on its expiry date, as in Trivy.
//
// Outputs: Summary (human text), the Decision, SARIF 2.1.0 for GitHub code scanning,
// and Trivy command lines (pure argv builders; the caller runs them in the pinned Trivy
// image, images.Defaults().Trivy unless overridden).
package scan
