package findings

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSeverityNamesRoundTrip(t *testing.T) {
	tests := []struct {
		sev          Severity
		name, label  string
		level, score string
	}{
		{Critical, "critical", "CRITICAL", "error", "9.5"},
		{High, "high", "HIGH", "error", "8.0"},
		{Medium, "medium", "MEDIUM", "warning", "5.5"},
		{Low, "low", "LOW", "note", "2.0"},
		{Unknown, "unknown", "UNKNOWN", "note", "0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.name, tt.sev.String())
			assert.Equal(t, tt.label, tt.sev.Label())
			assert.Equal(t, tt.level, tt.sev.SARIFLevel())
			assert.Equal(t, tt.score, tt.sev.SecuritySeverity())
			for _, in := range []string{tt.name, tt.label, " " + tt.label + " "} {
				got, err := ParseSeverity(in)
				require.NoError(t, err)
				assert.Equal(t, tt.sev, got)
			}
		})
	}
	assert.Equal(t, "severity(9)", Severity(9).String())
	assert.Equal(t, "note", Severity(9).SARIFLevel())
	assert.Equal(t, []Severity{Critical, High, Medium, Low, Unknown}, Severities())
	assert.Less(t, int(Unknown), int(Low))
	assert.Less(t, int(High), int(Critical))
}

func TestParseSeverityRejects(t *testing.T) {
	for _, in := range []string{"", "SEVERE", "info", "3"} {
		t.Run(in, func(t *testing.T) {
			_, err := ParseSeverity(in)
			require.EqualError(t, err, `unknown severity "`+in+`" (expected one of CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN)`)
		})
	}
}

// Every known label's security-severity falls in the band GitHub code scanning reads it as
// (over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 3.9 or less low) and in the middle of it,
// to half a point, so one scale ranks policy, scan and IaC alerts alike. The policy writer's
// old 3.0 for low sat at the top edge of low and failed this.
func TestSecuritySeverityIsTheMiddleOfGitHubsBand(t *testing.T) {
	bands := map[Severity][2]float64{Critical: {9.0, 10.0}, High: {7.0, 8.9}, Medium: {4.0, 6.9}, Low: {0.1, 3.9}}
	for sev, band := range bands {
		t.Run(sev.String(), func(t *testing.T) {
			score, err := strconv.ParseFloat(sev.SecuritySeverity(), 64)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, score, band[0])
			assert.LessOrEqual(t, score, band[1])
			mid := float64(int(((band[0]+band[1])/2)*2+0.5)) / 2
			assert.InDelta(t, mid, score, 0.25, "the middle of %v", band)
		})
	}
}

func BenchmarkParseSeverityTrivyLabel(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		_, _ = ParseSeverity("HIGH")
	}
}
