package scan

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseIgnoreYAML(t *testing.T) {
	data, err := os.ReadFile("testdata/trivyignore.yaml")
	require.NoError(t, err)
	ig, err := ParseIgnoreFile(".trivyignore.yaml", data)
	require.NoError(t, err)
	require.Len(t, ig.Entries, 4)
	e := ig.Entries[0]
	assert.Equal(t, VulnerabilityKind, e.Kind)
	assert.Equal(t, "CVE-2024-1000", e.ID)
	assert.Equal(t, []string{"app/package-lock.json"}, e.Paths)
	assert.Equal(t, "2027-03-31", e.ExpiryDate())
	assert.Equal(t, ".trivyignore.yaml: vulnerabilities[0]", e.Source)
	assert.Equal(t, MisconfigurationKind, ig.Entries[2].Kind)
	assert.Equal(t, SecretKind, ig.Entries[3].Kind)

	empty, err := ParseIgnoreYAML("x.yaml", nil)
	require.NoError(t, err)
	assert.Empty(t, empty.Entries)
}

func TestParseIgnoreYAMLErrors(t *testing.T) {
	cases := []struct {
		name  string
		input string
		want  []string
	}{
		{"no statement", "vulnerabilities:\n  - id: CVE-1\n    expired_at: 2027-01-01\n",
			[]string{"x.yaml: vulnerabilities[0]: CVE-1: no reason given (statement is required)"}},
		{"no expiry", "secrets:\n  - id: rule-1\n    statement: fine\n",
			[]string{"x.yaml: secrets[0]: rule-1: no expiry date (expired_at: YYYY-MM-DD is required)"}},
		{"bad date", "misconfigurations:\n  - id: DS002\n    statement: ok\n    expired_at: next year\n",
			[]string{`misconfigurations[0]: DS002: expired_at "next year" is not a date`}},
		{"no id", "licenses:\n  - statement: ok\n    expired_at: 2027-01-01\n",
			[]string{"licenses[0]: (no id): id is required"}},
		{"several at once", "vulnerabilities:\n  - id: A\n  - id: B\n    statement: ok\n    expired_at: 2027-01-01\n  - id: C\n    statement: ok\n",
			[]string{"vulnerabilities[0]: A: no reason given", "vulnerabilities[0]: A: no reason given (statement is required); no expiry date", "vulnerabilities[2]: C: no expiry date"}},
		{"unknown field", "vulnerabilities:\n  - id: A\n    reason: typo\n", []string{"field reason not found"}},
		{"unknown section", "vulns:\n  - id: A\n", []string{"field vulns not found"}},
		{"bad glob", "vulnerabilities:\n  - id: A\n    statement: s\n    expired_at: 2027-01-01\n    paths: ['[']\n", []string{`paths: bad pattern "["`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ig, err := ParseIgnoreYAML("x.yaml", []byte(tc.input))
			require.Error(t, err)
			assert.Nil(t, ig)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestParseIgnorePlain(t *testing.T) {
	data, err := os.ReadFile("testdata/trivyignore.txt")
	require.NoError(t, err)
	ig, err := ParseIgnoreFile(".trivyignore", data)
	require.NoError(t, err)
	require.Len(t, ig.Entries, 2)
	assert.Equal(t, IgnoreEntry{Kind: AnyKind, ID: "CVE-2024-0003", Statement: "glibc issue only reachable via setuid binaries, none in image",
		ExpiresAt: date("2027-06-30"), Source: ".trivyignore:2"}, ig.Entries[0])
	assert.Equal(t, ".trivyignore:4", ig.Entries[1].Source)

	// Applied to the fixture: glibc suppressed, the minimist entry expired.
	d := Evaluate(loadReport(t, "report-mixed.json"), Gate{FailOn: AllSeverities, Ignores: ig, Now: testNow})
	assert.NotContains(t, failingIDs(d), "CVE-2024-0003")
	assert.Contains(t, failingIDs(d), "GHSA-aaaa-bbbb-cccc")
	assert.Contains(t, d.Notes, "GHSA-aaaa-bbbb-cccc ignore expired on 2025-12-31; finding counts again (.trivyignore:4)")
}

func TestParseIgnorePlainErrors(t *testing.T) {
	cases := []struct {
		name, input string
		want        []string
	}{
		{"no reason", "CVE-1 exp:2027-01-01\n", []string{".trivyignore:1: CVE-1: no reason given (add a trailing '# reason' comment)"}},
		{"no expiry", "# header\nCVE-2 # fine\n", []string{".trivyignore:2: CVE-2: no expiry date (add exp:YYYY-MM-DD)"}},
		{"bad date", "CVE-3 exp:2027-13-01 # r\n", []string{`.trivyignore:1: CVE-3: expiry "2027-13-01" is not a date`}},
		{"stray word", "CVE-4 until:2027-01-01 # r\n", []string{`unexpected "until:2027-01-01"`}},
		{"every bad line reported", "CVE-5\nCVE-6 exp:2027-01-01 # ok\nCVE-7 exp:2027-01-01\n",
			[]string{".trivyignore:1: CVE-5: no expiry date (add exp:YYYY-MM-DD); no reason given", ".trivyignore:3: CVE-7: no reason given"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ig, err := ParseIgnorePlain(".trivyignore", []byte(tc.input))
			require.Error(t, err)
			assert.Nil(t, ig)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}
