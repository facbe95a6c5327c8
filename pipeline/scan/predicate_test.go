package scan

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPredicate(t *testing.T) {
	_, d := evaluateMixed(t)

	const scanner = "aquasec/trivy:0.74.0@sha256:62b1e65e8869bc4b4c6aa4fa2b21595256c7c2f6018a9d9ad61caf87187c1969"
	out, err := Predicate(d, scanner, testNow)
	require.NoError(t, err)
	var p GatePredicate
	require.NoError(t, json.Unmarshal(out, &p))
	assert.False(t, p.Pass)
	assert.Equal(t, scanner, p.Scanner)
	assert.Equal(t, []string{"CRITICAL", "HIGH"}, p.FailOn)
	assert.Equal(t, 1, p.Counts["CRITICAL"])
	assert.Contains(t, p.Failing, "CVE-2024-0001")
	require.Len(t, p.Expired, 1)
	assert.Equal(t, AcceptedRisk{ID: "CVE-2024-0001", Statement: "upstream fix pending in base image rebuild", ExpiresOn: "2026-01-31", Source: ".trivyignore.yaml: vulnerabilities[1]"}, p.Expired[0])
	assert.Len(t, p.Accepted, 2)
	assert.NotContains(t, string(out), "AWS_ACCESS_KEY_ID=")
}

func TestConvertArgs(t *testing.T) {
	got, err := ConvertArgs("/scan/report.json", "/scan/vuln.json", "cosign-vuln")
	require.NoError(t, err)
	assert.Equal(t, []string{"trivy", "convert", "--format", "cosign-vuln", "--output", "/scan/vuln.json", "--ignorefile", "/dev/null", "/scan/report.json"}, got)
	_, err = ConvertArgs("/a", "/b", "pdf")
	assert.ErrorContains(t, err, `format "pdf"`)
	_, err = ConvertArgs("a", "/b", "sarif")
	assert.ErrorContains(t, err, "must be an absolute path")
}
