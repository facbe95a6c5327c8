package scan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// genReport writes a realistic Trivy report with n vulnerabilities spread over several
// targets, with the bulky fields Trivy emits (description, CVSS, references) that the
// parser must skip. Every 10th finding repeats one from another target.
func genReport(n int) []byte {
	sevs := []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}
	var b bytes.Buffer
	b.WriteString(`{"SchemaVersion":2,"CreatedAt":"2026-11-25T10:00:00Z","ArtifactName":"app.tar","ArtifactType":"container_image","Metadata":{"OS":{"Family":"debian","Name":"12.7"},"ImageID":"sha256:abc","DiffIDs":["sha256:def"]},"Results":[`)
	targets := 20
	per := n / targets
	for t := 0; t < targets; t++ {
		if t > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"Target":"app/target-%d/package-lock.json","Class":"lang-pkgs","Type":"npm","Vulnerabilities":[`, t)
		for i := 0; i < per; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			id := t*per + i
			if i%10 == 0 && t > 0 {
				id = i // duplicate of target 0's finding
			}
			sev := sevs[id%len(sevs)]
			fixed := ""
			if id%3 != 0 {
				fixed = fmt.Sprintf("1.%d.1", id%7)
			}
			fmt.Fprintf(&b, `{"VulnerabilityID":"CVE-2026-%05d","PkgID":"pkg-%d@1.%d.0","PkgName":"pkg-%d","PkgIdentifier":{"PURL":"pkg:npm/pkg-%d@1.%d.0","UID":"%x"},"InstalledVersion":"1.%d.0","FixedVersion":%q,"Status":"fixed","Layer":{"Digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","DiffID":"sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"},"SeveritySource":"ghsa","PrimaryURL":"https://avd.aquasec.com/nvd/cve-2026-%05d","DataSource":{"ID":"ghsa","Name":"GitHub Security Advisory npm","URL":"https://github.com/advisories?query=type%%3Areviewed+ecosystem%%3Anpm"},"Title":"pkg-%d: prototype pollution in merge helper","Description":"A prototype pollution vulnerability in the merge helper of pkg allows an attacker who controls input objects to modify Object.prototype, leading to denial of service or code execution in some applications.","Severity":%q,"CweIDs":["CWE-1321"],"VendorSeverity":{"ghsa":3,"nvd":3},"CVSS":{"ghsa":{"V3Vector":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H","V3Score":9.1}},"References":["https://github.com/advisories/GHSA-xxxx-yyyy-zzzz","https://nvd.nist.gov/vuln/detail/CVE-2026-%05d"],"PublishedDate":"2026-01-02T15:15:00Z","LastModifiedDate":"2026-02-03T10:00:00Z"}`,
				id, id%500, id%9, id%500, id%500, id%9, id, id%9, fixed, id, id%500, sev, id)
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func TestGenReportIsValid(t *testing.T) {
	data := genReport(1000)
	if !json.Valid(data) {
		t.Fatal("generated report is not valid JSON")
	}
	rep, err := Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rep.Results {
		n += len(r.Vulnerabilities)
	}
	if n != 1000 {
		t.Fatalf("got %d vulnerabilities, want 1000", n)
	}
}

func BenchmarkParseAndGate50k(b *testing.B) {
	data := genReport(50000)
	ig := &Ignores{Entries: []IgnoreEntry{
		{Kind: VulnerabilityKind, ID: "CVE-2026-00001", Statement: "not reachable", ExpiresAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Kind: AnyKind, ID: "CVE-2026-00002", Statement: "old", ExpiresAt: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
	}}
	g := Gate{FailOn: DefaultFailOn, IgnoreUnfixed: true, Ignores: ig, Now: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := Parse(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		d := Evaluate(rep, g)
		if d.Pass {
			b.Fatal("expected a failing decision")
		}
	}
}

// BenchmarkEncodingJSONBaseline50k decodes the same report with encoding/json into
// equivalent structs, for comparison with the streaming lexer (no gate).
func BenchmarkEncodingJSONBaseline50k(b *testing.B) {
	data := genReport(50000)
	type vuln struct {
		Vulnerability
		PkgIdentifier struct{ PURL string }
	}
	type result struct {
		Target, Class, Type string
		Vulnerabilities     []vuln
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var rep struct {
			SchemaVersion int
			Results       []result
		}
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&rep); err != nil {
			b.Fatal(err)
		}
	}
}
