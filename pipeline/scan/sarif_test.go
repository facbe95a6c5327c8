package scan

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/sarif"
	"dagger/fargate/pipeline/internal/sarif/sarifschema"
)

// validateSARIF checks a document against the official SARIF 2.1.0 schema and then against
// what GitHub code scanning needs beyond it, on the generic JSON (not our structs), so a
// wrong tag or a missing field is caught.
func validateSARIF(data []byte) []string {
	if err := schema.Validate(data); err != nil {
		return []string{err.Error()}
	}
	return codeScanningChecks(data)
}

// schema is the SARIF 2.1.0 schema, compiled once for the package's tests.
var schema = func() *sarifschema.Validator {
	v, err := sarifschema.New()
	if err != nil {
		panic(err)
	}
	return v
}()

// codeScanningChecks are GitHub code scanning's requirements that the schema leaves open:
// a numeric security-severity, results that name a known rule at the right index, and a
// location on every result.
func codeScanningChecks(data []byte) []string {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if doc["version"] != "2.1.0" {
		fail("version must be 2.1.0, got %v", doc["version"])
	}
	if s, _ := doc["$schema"].(string); s == "" {
		fail("$schema is required")
	}
	runs, ok := doc["runs"].([]any)
	if !ok || len(runs) == 0 {
		return append(errs, "runs must be a non-empty array")
	}
	for ri, r := range runs {
		run, _ := r.(map[string]any)
		tool, _ := run["tool"].(map[string]any)
		driver, _ := tool["driver"].(map[string]any)
		if name, _ := driver["name"].(string); name == "" {
			fail("runs[%d].tool.driver.name is required", ri)
		}
		rules := map[string]int{}
		ruleList, _ := driver["rules"].([]any)
		for i, x := range ruleList {
			rule, _ := x.(map[string]any)
			id, _ := rule["id"].(string)
			if id == "" {
				fail("rules[%d].id is required", i)
			}
			if _, dup := rules[id]; dup {
				fail("rules[%d].id %q is duplicated", i, id)
			}
			rules[id] = i
			sd, _ := rule["shortDescription"].(map[string]any)
			if t, _ := sd["text"].(string); t == "" {
				fail("rules[%d].shortDescription.text is required", i)
			}
			props, _ := rule["properties"].(map[string]any)
			score, err := strconv.ParseFloat(fmt.Sprint(props["security-severity"]), 64)
			if err != nil || score < 0 || score > 10 {
				fail("rules[%d].properties.security-severity must be a number 0-10, got %v", i, props["security-severity"])
			}
		}
		results, ok := run["results"].([]any)
		if !ok {
			fail("runs[%d].results must be an array", ri)
		}
		for i, x := range results {
			res, _ := x.(map[string]any)
			msg, _ := res["message"].(map[string]any)
			if t, _ := msg["text"].(string); t == "" {
				fail("results[%d].message.text is required", i)
			}
			switch res["level"] {
			case "none", "note", "warning", "error":
			default:
				fail("results[%d].level %v is not one of none, note, warning, error", i, res["level"])
			}
			id, _ := res["ruleId"].(string)
			idx, known := rules[id]
			if !known {
				fail("results[%d].ruleId %q references no rule", i, id)
			}
			if ri, ok := res["ruleIndex"].(float64); ok && known && int(ri) != idx {
				fail("results[%d].ruleIndex %v does not point at rule %q", i, ri, id)
			}
			locs, _ := res["locations"].([]any)
			if len(locs) == 0 {
				fail("results[%d].locations is required by code scanning", i)
			}
			for _, l := range locs {
				pl, _ := l.(map[string]any)["physicalLocation"].(map[string]any)
				al, _ := pl["artifactLocation"].(map[string]any)
				if u, _ := al["uri"].(string); u == "" {
					fail("results[%d] location has no artifactLocation.uri", i)
				}
				region, _ := pl["region"].(map[string]any)
				if sl, _ := region["startLine"].(float64); sl < 1 {
					fail("results[%d] region.startLine must be >= 1", i)
				}
			}
		}
	}
	return errs
}

func TestSARIFStructure(t *testing.T) {
	rep, d := evaluateMixed(t)

	out, err := SARIF(rep, d)
	require.NoError(t, err)
	assert.Empty(t, validateSARIF(out))

	var log sarif.Log
	require.NoError(t, json.Unmarshal(out, &log))
	run := log.Runs[0]
	assert.Equal(t, "Trivy", run.Tool.Driver.Name)
	byRule := map[string][]sarif.Result{}
	for _, r := range run.Results {
		byRule[r.RuleID] = append(byRule[r.RuleID], r)
	}
	// One result per target for the duplicated lodash finding, one rule.
	require.Len(t, byRule["CVE-2024-1000"], 2)
	assert.Equal(t, "error", byRule["CVE-2024-1000"][0].Level)
	assert.Equal(t, "app/package-lock.json", byRule["CVE-2024-1000"][0].Locations[0].PhysicalLocation.ArtifactLocation.URI)
	assert.Equal(t, "warning", byRule["CVE-2024-0003"][0].Level)
	assert.Equal(t, "note", byRule["GHSA-aaaa-bbbb-cccc"][0].Level)
	assert.Equal(t, "note", byRule["CVE-2024-0004"][0].Level) // unknown severity
	// Suppressed findings are left out; PASS misconfigurations are not findings.
	assert.NotContains(t, byRule, "aws-access-key-id")
	assert.NotContains(t, byRule, "DS026")
	assert.NotContains(t, byRule, "DS001")
	for _, rule := range run.Tool.Driver.Rules {
		if rule.ID == "CVE-2024-0001" {
			assert.Equal(t, "9.5", rule.Properties["security-severity"])
			assert.Equal(t, "https://avd.aquasec.com/nvd/cve-2024-0001", rule.HelpURI)
			assert.Equal(t, "openssl: excessive time spent checking DH keys", rule.ShortDescription.Text)
		}
	}
	assert.Contains(t, byRule["CVE-2024-0001"][0].Message.Text, "Fixed Version: 3.0.13-1~deb12u1")
}

// Every result of the scan's SARIF, of each kind, says it comes from the scan.
func TestSARIFResultsNameTheScanSource(t *testing.T) {
	out, err := SARIF(loadReport(t, "report-mixed.json"), nil)
	require.NoError(t, err)
	var doc struct {
		Runs []struct {
			Results []struct {
				RuleID     string         `json:"ruleId"`
				Properties map[string]any `json:"properties"`
			} `json:"results"`
		} `json:"runs"`
	}
	require.NoError(t, json.Unmarshal(out, &doc))
	results := doc.Runs[0].Results
	require.NotEmpty(t, results)
	ids := map[string]bool{}
	for i, r := range results {
		ids[r.RuleID] = true
		assert.Equal(t, "scan", r.Properties["fargate/source"], "runs[0].results[%d] (%s)", i, r.RuleID)
	}
	for _, id := range []string{"CVE-2024-1000", "DS002", "aws-access-key-id"} {
		assert.True(t, ids[id], "a %s result is checked", id)
	}
}

func TestSARIFSecretLocationsAndNoSecretText(t *testing.T) {
	rep := loadReport(t, "report-mixed.json")
	out, err := SARIF(rep, nil)
	require.NoError(t, err)
	assert.Empty(t, validateSARIF(out))
	assert.NotContains(t, string(out), "AWS_ACCESS_KEY_ID=")
	var log sarif.Log
	require.NoError(t, json.Unmarshal(out, &log))
	found := false
	for _, r := range log.Runs[0].Results {
		if r.RuleID == "aws-access-key-id" {
			found = true
			assert.Equal(t, &sarif.Region{StartLine: 3, EndLine: 3}, r.Locations[0].PhysicalLocation.Region)
			assert.Equal(t, "/app/config/.env", r.Locations[0].PhysicalLocation.ArtifactLocation.URI)
		}
	}
	assert.True(t, found)
}

func TestSARIFEmptyReportIsValid(t *testing.T) {
	out, err := SARIF(loadReport(t, "report-clean.json"), nil)
	require.NoError(t, err)
	assert.Empty(t, validateSARIF(out))
	assert.Contains(t, string(out), `"results": []`)
}

func TestValidateSARIFCatchesErrors(t *testing.T) {
	bad := `{"version":"2.0.0","runs":[{"tool":{"driver":{"rules":[{"id":"R","shortDescription":{"text":"x"},"properties":{"security-severity":"high"}}]}},
	  "results":[{"ruleId":"X","level":"fatal","message":{},"locations":[]}]}]}`
	errs := codeScanningChecks([]byte(bad))
	require.Error(t, schema.Validate([]byte(bad)))
	for _, want := range []string{"version must be 2.1.0", "$schema is required", "driver.name is required",
		"security-severity must be a number", "message.text is required", "level fatal", `ruleId "X" references no rule`, "locations is required"} {
		assert.Condition(t, func() bool {
			for _, e := range errs {
				if strings.Contains(e, want) {
					return true
				}
			}
			return false
		}, "missing %q in %v", want, errs)
	}
}
