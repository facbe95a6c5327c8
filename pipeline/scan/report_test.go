package scan

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadReport(t *testing.T, name string) *Report {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	require.NoError(t, err)
	defer f.Close()
	rep, err := Parse(f)
	require.NoError(t, err)
	return rep
}

// evaluateMixed gates testdata/report-mixed.json with testdata/trivyignore.yaml (read as a
// .trivyignore.yaml) at testNow.
func evaluateMixed(t *testing.T) (*Report, *Decision) {
	t.Helper()
	rep := loadReport(t, "report-mixed.json")
	data, err := os.ReadFile("testdata/trivyignore.yaml")
	require.NoError(t, err)
	ig, err := ParseIgnoreYAML(".trivyignore.yaml", data)
	require.NoError(t, err)
	return rep, Evaluate(rep, Gate{Ignores: ig, Now: testNow})
}

func TestParseMixedReport(t *testing.T) {
	rep := loadReport(t, "report-mixed.json")
	assert.Equal(t, 2, rep.SchemaVersion)
	assert.Equal(t, "/scan/image.tar", rep.ArtifactName)
	assert.Equal(t, "container_image", rep.ArtifactType)
	require.Len(t, rep.Results, 6)

	os0 := rep.Results[0]
	assert.Equal(t, "os-pkgs", os0.Class)
	assert.Equal(t, "debian", os0.Type)
	require.Len(t, os0.Vulnerabilities, 5)
	v := os0.Vulnerabilities[0]
	assert.Equal(t, "CVE-2024-0001", v.VulnerabilityID)
	assert.Equal(t, "openssl", v.PkgName)
	assert.Equal(t, "openssl@3.0.11-1~deb12u2", v.PkgID)
	assert.Equal(t, "3.0.13-1~deb12u1", v.FixedVersion)
	assert.Equal(t, "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12.7", v.PURL)
	assert.Equal(t, "https://avd.aquasec.com/nvd/cve-2024-0001", v.PrimaryURL)
	// Missing optional fields stay empty.
	assert.Empty(t, os0.Vulnerabilities[1].FixedVersion)
	assert.Empty(t, os0.Vulnerabilities[1].PkgID)
	// Escapes are decoded.
	assert.Equal(t, `glibc: "quoted" title with escapes é`, os0.Vulnerabilities[2].Title)
	// null reads as empty.
	assert.Empty(t, os0.Vulnerabilities[4].FixedVersion)
	assert.Nil(t, rep.Results[3].Vulnerabilities)

	sec := rep.Results[4]
	require.Len(t, sec.Secrets, 1)
	assert.Equal(t, Secret{RuleID: "aws-access-key-id", Category: "AWS", Severity: "CRITICAL", Title: "AWS Access Key ID",
		StartLine: 3, EndLine: 3, Match: "AWS_ACCESS_KEY_ID=********************"}, sec.Secrets[0])

	cfg := rep.Results[5]
	require.Len(t, cfg.Misconfigurations, 3)
	assert.Equal(t, "DS002", cfg.Misconfigurations[0].ID)
	assert.Equal(t, "AVD-DS-0002", cfg.Misconfigurations[0].AVDID)
	assert.Equal(t, "FAIL", cfg.Misconfigurations[0].Status)
	assert.Equal(t, "PASS", cfg.Misconfigurations[2].Status)
}

// TestParseMatchesEncodingJSON cross-checks the streaming lexer against encoding/json on
// a generated report and on the fixture.
func TestParseMatchesEncodingJSON(t *testing.T) {
	type jsonVuln struct {
		Vulnerability
		PkgIdentifier struct{ PURL string }
	}
	type jsonResult struct {
		Target, Class, Type string
		Vulnerabilities     []jsonVuln
		Misconfigurations   []Misconfiguration
		Secrets             []Secret
	}
	type jsonReport struct {
		SchemaVersion              int
		ArtifactName, ArtifactType string
		Results                    []jsonResult
	}
	fixture, err := os.ReadFile("testdata/report-mixed.json")
	require.NoError(t, err)
	for name, data := range map[string][]byte{"generated": genReport(2000), "fixture": fixture} {
		t.Run(name, func(t *testing.T) {
			var want jsonReport
			require.NoError(t, json.Unmarshal(data, &want))
			// A tiny read size forces every token across buffer refills.
			got, err := Parse(&slowReader{data: data, n: 7})
			require.NoError(t, err)
			require.Len(t, got.Results, len(want.Results))
			assert.Equal(t, want.ArtifactName, got.ArtifactName)
			for i, wr := range want.Results {
				gr := got.Results[i]
				assert.Equal(t, wr.Target, gr.Target)
				assert.Equal(t, wr.Misconfigurations, gr.Misconfigurations)
				assert.Equal(t, wr.Secrets, gr.Secrets)
				require.Len(t, gr.Vulnerabilities, len(wr.Vulnerabilities))
				for j, wv := range wr.Vulnerabilities {
					wv.Vulnerability.PURL = wv.PkgIdentifier.PURL
					assert.Equal(t, wv.Vulnerability, gr.Vulnerabilities[j])
				}
			}
		})
	}
}

type slowReader struct {
	data []byte
	n    int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(r.n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func TestParseRejectsMalformedReports(t *testing.T) {
	schema1, err := os.ReadFile("testdata/report-schema1.json")
	require.NoError(t, err)
	cases := []struct {
		name, input, want string
	}{
		{"empty", "", "unexpected end of input"},
		{"not json", "this is not a report", "expected an object"},
		{"html error page", "<html>502</html>", "expected an object"},
		{"top-level array", `[{"SchemaVersion":2}]`, "expected an object"},
		{"schema version 1", string(schema1), "SchemaVersion 1 is not supported (expected 2)"},
		{"schema version 3", `{"SchemaVersion":3}`, "SchemaVersion 3 is not supported"},
		{"schema as string", `{"SchemaVersion":"2"}`, "expected a number"},
		{"missing schema", `{"ArtifactName":"x","Results":[]}`, "SchemaVersion is missing"},
		{"truncated", `{"SchemaVersion":2,"Results":[{"Target":"a","Vulnerabilities":[{"VulnerabilityID":"CVE-1"`, "unexpected end of input"},
		{"truncated string", `{"SchemaVersion":2,"ArtifactName":"abc`, "unexpected end of input"},
		{"trailing data", `{"SchemaVersion":2} {"SchemaVersion":2}`, "unexpected data after the report object"},
		{"trailing comma", `{"SchemaVersion":2,}`, "expected a string"},
		{"missing colon", `{"SchemaVersion" 2}`, `expected ':'`},
		{"missing comma in object", `{"SchemaVersion":2 "ArtifactName":"a"}`, `expected ',' or '}' in an object, found '"'`},
		{"missing comma in array", `{"SchemaVersion":2,"Results":[{} {}]}`, `expected ',' or ']' in an array, found '{'`},
		{"truncated array", `{"SchemaVersion":2,"Results":[`, "unexpected end of input (in an array)"},
		{"bad escape", `{"SchemaVersion":2,"Metadata":"a\qb"}`, `bad escape \q`},
		{"bad unicode escape", `{"SchemaVersion":2,"Metadata":"\u12zz"}`, `bad \u escape`},
		{"control char", "{\"SchemaVersion\":2,\"ArtifactName\":\"a\x01b\"}", "control character 0x01"},
		{"bad number", `{"SchemaVersion":2,"Size":01}`, `bad number "01"`},
		{"bad literal", `{"SchemaVersion":2,"X":nul}`, "expected null"},
		{"vulns not array", `{"SchemaVersion":2,"Results":[{"Target":"t","Vulnerabilities":"none"}]}`, "Vulnerabilities"},
		{"severity not string", `{"SchemaVersion":2,"Results":[{"Target":"t","Vulnerabilities":[{"Severity":4}]}]}`, "expected a string"},
		{"too deep", `{"SchemaVersion":2,"X":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`, "nesting deeper than 512"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Parse(strings.NewReader(tc.input))
			require.Error(t, err)
			assert.Nil(t, rep)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "parse trivy report")
		})
	}
}

func TestParseLongStringsAcrossBuffer(t *testing.T) {
	long := strings.Repeat("x", 3*lexerBufSize)
	doc := `{"SchemaVersion":2,"ArtifactName":"` + long + `","Results":[{"Target":"t","Vulnerabilities":[{"VulnerabilityID":"CVE-1","Title":"` + long + `\n"}]}]}`
	rep, err := Parse(strings.NewReader(doc))
	require.NoError(t, err)
	assert.Equal(t, long, rep.ArtifactName)
	assert.Equal(t, long+"\n", rep.Results[0].Vulnerabilities[0].Title)
}

// FuzzParse checks that Parse never accepts invalid JSON and never panics.
func FuzzParse(f *testing.F) {
	fixture, _ := os.ReadFile("testdata/report-mixed.json")
	f.Add(fixture)
	f.Add([]byte(`{"SchemaVersion":2,"Results":[{"Target":"a\u0041","Secrets":[{"StartLine":-1e3}]}]}`))
	f.Add([]byte(`{"SchemaVersion":2,"X":[1,2.5,-0.1e+2,true,false,null,{"a":"\/"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Parse(bytes.NewReader(data))
		if err == nil {
			if !json.Valid(data) {
				t.Fatalf("accepted invalid JSON: %q", data)
			}
			if rep.SchemaVersion != 2 {
				t.Fatalf("accepted schema %d", rep.SchemaVersion)
			}
		}
	})
}
