package scan

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/findings"
)

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func date(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func failingIDs(d *Decision) []string {
	var ids []string
	for _, f := range d.Failing {
		ids = append(ids, f.Rule)
	}
	return ids
}

func TestEvaluateDefaultGate(t *testing.T) {
	rep := loadReport(t, "report-mixed.json")
	d := Evaluate(rep, Gate{Now: testNow})

	assert.False(t, d.Pass)
	assert.Equal(t, DefaultFailOn, d.FailOn)
	// CRITICAL first; the lodash finding shared by two lock files appears once.
	assert.ElementsMatch(t, []string{"CVE-2024-0001", "aws-access-key-id", "CVE-2024-0002", "CVE-2024-1000", "DS002"}, failingIDs(d))
	assert.Equal(t, Critical, d.Failing[0].Severity)
	for _, f := range d.Failing {
		if f.Rule == "CVE-2024-1000" {
			assert.Equal(t, []string{"app/package-lock.json", "app/other/package-lock.json"}, f.Targets)
			assert.Equal(t, "lodash", f.Package)
			// The one findings model: the Trivy ID as rule, the title as message, from the scan.
			assert.Equal(t, findings.SourceScan, f.Source)
			assert.Equal(t, "lodash", f.Resource)
			assert.Equal(t, "lodash: command injection via template", f.Message)
			assert.Equal(t, "4.17.20", f.Installed)
			assert.Equal(t, "4.17.21", f.Fixed)
		}
	}
	// Counts are of deduplicated findings: the PASS misconfiguration is not one.
	assert.Equal(t, map[Severity]int{Critical: 2, High: 3, Medium: 1, Low: 3, Unknown: 1}, d.Counts)
	assert.Contains(t, d.Reasons, "1 secret(s) found in the artifact; secrets always fail the gate")
	assert.Contains(t, d.Reasons, "1 CRITICAL, 3 HIGH finding(s) at a failing severity (fail on CRITICAL,HIGH)")
	assert.Contains(t, d.Notes, `1 finding(s) with unrecognised severity "SEVERE" counted as UNKNOWN`)
}

func TestEvaluateUnknownSeverityFailsWhenListed(t *testing.T) {
	rep := loadReport(t, "report-mixed.json")
	d := Evaluate(rep, Gate{FailOn: []Severity{Unknown}, Now: testNow})
	// The secret fails regardless of severity; SEVERE maps to UNKNOWN and fails.
	assert.ElementsMatch(t, []string{"aws-access-key-id", "CVE-2024-0004"}, failingIDs(d))
	for _, f := range d.Failing {
		if f.Rule == "CVE-2024-0004" {
			assert.Equal(t, "SEVERE", f.RawSeverity)
		}
	}
}

func TestEvaluateCleanReportPasses(t *testing.T) {
	rep := loadReport(t, "report-clean.json")
	d := Evaluate(rep, Gate{FailOn: AllSeverities, Now: testNow})
	assert.True(t, d.Pass)
	assert.Empty(t, d.Reasons)
	assert.Empty(t, d.Failing)
}

func TestEvaluateSecretAlwaysFails(t *testing.T) {
	rep := &Report{SchemaVersion: 2, Results: []Result{{Target: "/etc/app.conf", Class: "secret",
		Secrets: []Secret{{RuleID: "generic-api-key", Severity: "LOW", StartLine: 4}, {RuleID: "generic-api-key", Severity: "LOW", StartLine: 9}}}}}
	d := Evaluate(rep, Gate{FailOn: []Severity{Critical}, Now: testNow})
	assert.False(t, d.Pass)
	// Two lines are two secrets, not a duplicate.
	require.Len(t, d.Failing, 2)
	assert.Equal(t, []string{"2 secret(s) found in the artifact; secrets always fail the gate"}, d.Reasons)
}

func TestEvaluateIgnoreUnfixed(t *testing.T) {
	rep := loadReport(t, "report-mixed.json")
	d := Evaluate(rep, Gate{IgnoreUnfixed: true, Now: testNow})
	assert.NotContains(t, failingIDs(d), "CVE-2024-0002")
	assert.Contains(t, failingIDs(d), "CVE-2024-0001")
	assert.Equal(t, 2, d.UnfixedSkipped) // zlib (no FixedVersion) and tar (null)
}

func TestEvaluateWithIgnoreFiles(t *testing.T) {
	rep := loadReport(t, "report-mixed.json")
	data, err := os.ReadFile("testdata/trivyignore.yaml")
	require.NoError(t, err)
	ig, err := ParseIgnoreFile(".trivyignore.yaml", data)
	require.NoError(t, err)

	d := Evaluate(rep, Gate{Ignores: ig, Now: testNow})
	// lodash is ignored only in app/package-lock.json: the other lock file still fails.
	assert.Contains(t, failingIDs(d), "CVE-2024-1000")
	// The openssl ignore expired on 2026-01-31: it counts again and the decision says so.
	assert.Contains(t, failingIDs(d), "CVE-2024-0001")
	require.Len(t, d.Expired, 1)
	assert.Equal(t, "CVE-2024-0001", d.Expired[0].Finding.Rule)
	assert.Contains(t, d.Notes, "CVE-2024-0001 ignore expired on 2026-01-31; finding counts again (.trivyignore.yaml: vulnerabilities[1])")
	// The secret and DS026 (matched by its AVD ID) are suppressed.
	assert.NotContains(t, failingIDs(d), "aws-access-key-id")
	var suppressed []string
	for _, s := range d.Suppressed {
		suppressed = append(suppressed, s.Finding.Rule)
	}
	assert.ElementsMatch(t, []string{"aws-access-key-id", "DS026"}, suppressed)
	assert.NotContains(t, d.Reasons[0], "secret")

	// Before the expiry date the openssl entry still suppresses.
	d = Evaluate(rep, Gate{Ignores: ig, Now: date("2026-01-30")})
	assert.NotContains(t, failingIDs(d), "CVE-2024-0001")
	assert.Empty(t, d.Expired)
	// On the expiry date itself it no longer does (00:00 UTC, as Trivy).
	d = Evaluate(rep, Gate{Ignores: ig, Now: date("2026-01-31")})
	assert.Contains(t, failingIDs(d), "CVE-2024-0001")
}

func TestEvaluateIgnoreMatching(t *testing.T) {
	rep := loadReport(t, "report-mixed.json")
	entry := func(kind IgnoreKind, id string, mod func(*IgnoreEntry)) *Ignores {
		e := IgnoreEntry{Kind: kind, ID: id, Statement: "accepted", ExpiresAt: date("2030-01-01"), Source: "test"}
		if mod != nil {
			mod(&e)
		}
		return &Ignores{Entries: []IgnoreEntry{e}}
	}
	cases := []struct {
		name       string
		ig         *Ignores
		suppressed bool
		id         string
	}{
		{"plain id covers every target", entry(AnyKind, "CVE-2024-1000", nil), true, "CVE-2024-1000"},
		{"purl without version", entry(VulnerabilityKind, "CVE-2024-1000", func(e *IgnoreEntry) { e.PURLs = []string{"pkg:npm/lodash"} }), true, "CVE-2024-1000"},
		{"purl of another package", entry(VulnerabilityKind, "CVE-2024-1000", func(e *IgnoreEntry) { e.PURLs = []string{"pkg:npm/underscore"} }), false, "CVE-2024-1000"},
		{"path glob covering both lock files", entry(VulnerabilityKind, "CVE-2024-1000", func(e *IgnoreEntry) { e.Paths = []string{"app/*/package-lock.json", "*/package-lock.json"} }), true, "CVE-2024-1000"},
		{"path directory prefix", entry(VulnerabilityKind, "CVE-2024-1000", func(e *IgnoreEntry) { e.Paths = []string{"app/"} }), true, "CVE-2024-1000"},
		{"one path only", entry(VulnerabilityKind, "CVE-2024-1000", func(e *IgnoreEntry) { e.Paths = []string{"app/package-lock.json"} }), false, "CVE-2024-1000"},
		{"wrong kind section", entry(MisconfigurationKind, "CVE-2024-1000", nil), false, "CVE-2024-1000"},
		{"misconfig by short ID", entry(MisconfigurationKind, "DS002", nil), true, "DS002"},
		{"misconfig by AVD ID", entry(MisconfigurationKind, "AVD-DS-0002", nil), true, "DS002"},
		{"secret by rule", entry(SecretKind, "aws-access-key-id", nil), true, "aws-access-key-id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Evaluate(rep, Gate{Ignores: tc.ig, Now: testNow})
			if tc.suppressed {
				assert.NotContains(t, failingIDs(d), tc.id)
				require.Len(t, d.Suppressed, 1)
				assert.Equal(t, tc.id, d.Suppressed[0].Finding.Rule)
			} else {
				assert.Contains(t, failingIDs(d), tc.id)
				assert.Empty(t, d.Suppressed)
			}
		})
	}
}

func TestEvaluateNotesUnusedIgnores(t *testing.T) {
	rep := loadReport(t, "report-clean.json")
	ig := &Ignores{Entries: []IgnoreEntry{{ID: "CVE-1999-0001", Statement: "x", ExpiresAt: date("2030-01-01"), Source: ".trivyignore:2"}}}
	d := Evaluate(rep, Gate{Ignores: ig, Now: testNow})
	assert.True(t, d.Pass)
	assert.Equal(t, []string{"ignore entry CVE-1999-0001 (.trivyignore:2) matched no finding; remove it if the risk is gone"}, d.Notes)
}

func TestParseSeverities(t *testing.T) {
	got, err := ParseSeverities("scan.failOn", []string{"critical", " HIGH ", "HIGH"})
	require.NoError(t, err)
	assert.Equal(t, []Severity{Critical, High}, got)

	_, err = ParseSeverities("scan.failOn", []string{"CRITICAL", "SEVERE"})
	require.EqualError(t, err, `scan.failOn[1]: unknown severity "SEVERE" (expected one of CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN)`)

	_, err = ParseSeverities("scan.failOn", nil)
	require.ErrorContains(t, err, "scan.failOn: at least one severity is required")

	for _, s := range AllSeverities {
		back, err := ParseSeverity(s.String())
		require.NoError(t, err)
		assert.Equal(t, s, back)
	}
}

func TestSummary(t *testing.T) {
	_, d := evaluateMixed(t)
	s := Summary(d)

	lines := strings.Split(s, "\n")
	assert.Equal(t, "Trivy gate FAIL for /scan/image.tar (fail on CRITICAL,HIGH)", lines[0])
	assert.Equal(t, "Findings: CRITICAL 1, HIGH 3, MEDIUM 1, LOW 2, UNKNOWN 1", lines[1])
	assert.Contains(t, s, "CRITICAL CVE-2024-0001 openssl 3.0.11-1~deb12u2 -> 3.0.13-1~deb12u1 (openssl: excessive time spent checking DH keys) in /scan/image.tar (debian 12.7)")
	assert.Contains(t, s, "HIGH CVE-2024-0002 zlib1g 1:1.2.13.dfsg-1 -> no fix yet")
	assert.Contains(t, s, "HIGH CVE-2024-1000 lodash 4.17.20 -> 4.17.21 (lodash: command injection via template) in app/other/package-lock.json")
	assert.Contains(t, s, "Suppressed by ignore file:\n  CRITICAL aws-access-key-id: documented example key")
	assert.Contains(t, s, "Note: CVE-2024-0001 ignore expired on 2026-01-31; finding counts again")
	// The secret's text is never printed, even masked.
	assert.NotContains(t, s, "AWS_ACCESS_KEY_ID=")

	clean := Summary(Evaluate(loadReport(t, "report-clean.json"), Gate{Now: testNow}))
	assert.True(t, strings.HasPrefix(clean, "Trivy gate PASS for /scan/image.tar"))
	assert.NotContains(t, clean, "Failing findings")
}
