package scan

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/images"
)

func TestImageScanArgs(t *testing.T) {
	cases := []struct {
		name string
		opts ImageScanOptions
		want []string
	}{
		{"defaults", ImageScanOptions{}, []string{"trivy", "image", "--input", "/scan/image.tar", "--format", "json", "--output", "/scan/report.json",
			"--scanners", "vuln,secret", "--exit-code", "0", "--ignorefile", "/dev/null", "--no-progress",
			"--db-repository", "mirror.gcr.io/aquasec/trivy-db:2,ghcr.io/aquasecurity/trivy-db:2",
			"--cache-dir", "/root/.cache/trivy", "--timeout", "10m0s"}},
		{"air-gapped with overrides", ImageScanOptions{
			TrivyOptions: TrivyOptions{DBRepositories: []string{"123456789012.dkr.ecr.eu-west-1.amazonaws.com/trivy-db:2"}, JavaDBRepository: "registry.local/trivy-java-db:1",
				SkipDBUpdate: true, CacheDir: "/cache", Timeout: 3 * time.Minute},
			Input: "/in/app.tar", Output: "/out/r.json", Severities: []Severity{Critical, High}},
			[]string{"trivy", "image", "--input", "/in/app.tar", "--format", "json", "--output", "/out/r.json",
				"--scanners", "vuln,secret", "--exit-code", "0", "--ignorefile", "/dev/null", "--no-progress", "--severity", "CRITICAL,HIGH",
				"--db-repository", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/trivy-db:2", "--java-db-repository", "registry.local/trivy-java-db:1",
				"--skip-db-update", "--skip-java-db-update", "--cache-dir", "/cache", "--timeout", "3m0s"}},
		{"all packages, for the SBOM", ImageScanOptions{ListAllPackages: true}, []string{"trivy", "image", "--input", "/scan/image.tar", "--format", "json", "--output", "/scan/report.json",
			"--scanners", "vuln,secret", "--exit-code", "0", "--ignorefile", "/dev/null", "--no-progress", "--list-all-pkgs",
			"--db-repository", "mirror.gcr.io/aquasec/trivy-db:2,ghcr.io/aquasecurity/trivy-db:2",
			"--cache-dir", "/root/.cache/trivy", "--timeout", "10m0s"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ImageScanArgs(tc.opts)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			i := slices.Index(got, "--ignorefile")
			require.GreaterOrEqual(t, i, 0)
			assert.Equal(t, "/dev/null", got[i+1], "ignores are applied by the gate, not by Trivy")
		})
	}
}

func TestTrivyArgsValidation(t *testing.T) {
	_, err := ImageScanArgs(ImageScanOptions{Input: "image.tar"})
	assert.EqualError(t, err, `trivy image scan: input: "image.tar" must be an absolute path inside the scan container`)
	_, err = ImageScanArgs(ImageScanOptions{Scanners: []string{"vuln", "vulns"}})
	assert.EqualError(t, err, `trivy image scan: scanners[1]: unknown scanner "vulns" (expected vuln, secret, misconfig or license)`)
	_, err = ImageScanArgs(ImageScanOptions{TrivyOptions: TrivyOptions{DBRepositories: []string{"a,b"}}})
	assert.ErrorContains(t, err, `dbRepositories[0]: "a,b" is not an OCI repository reference`)
	_, err = ImageScanArgs(ImageScanOptions{TrivyOptions: TrivyOptions{Timeout: -time.Second}})
	assert.ErrorContains(t, err, "timeout: -1s is negative")
	_, err = ConfigScanArgs(ConfigScanOptions{})
	assert.EqualError(t, err, "trivy config scan: dir is required (the directory to scan)")
	_, err = SBOMArgs(SBOMOptions{Output: "sbom.json"})
	assert.ErrorContains(t, err, `trivy sbom: output: "sbom.json" must be an absolute path`)
}

func TestSBOMArgs(t *testing.T) {
	got, err := SBOMArgs(SBOMOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"trivy", "image", "--input", "/scan/image.tar", "--format", "cyclonedx", "--output", "/scan/sbom.cdx.json",
		"--no-progress", "--cache-dir", "/root/.cache/trivy", "--timeout", "10m0s"}, got)
}

func TestSBOMFromReportArgs(t *testing.T) {
	got, err := SBOMFromReportArgs("", "")
	require.NoError(t, err)
	assert.Equal(t, []string{"trivy", "convert", "--format", "cyclonedx", "--output", "/scan/sbom.cdx.json", "--ignorefile", "/dev/null", "/scan/report.json"}, got,
		"the SBOM is rendered from the scan's report, no second analysis of the image")
	_, err = SBOMFromReportArgs("report.json", "")
	assert.ErrorContains(t, err, `trivy sbom: trivy convert: input: "report.json" must be an absolute path`)
}

func TestConfigScanArgs(t *testing.T) {
	got, err := ConfigScanArgs(ConfigScanOptions{Dir: "/src/infra", Severities: []Severity{Critical, High, Medium},
		ChecksBundleRepository: "registry.local/trivy-checks:1", SkipCheckUpdate: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"trivy", "config", "--format", "json", "--output", "/scan/config.json", "--exit-code", "0", "--ignorefile", "/dev/null",
		"--severity", "CRITICAL,HIGH,MEDIUM", "--checks-bundle-repository", "registry.local/trivy-checks:1", "--skip-check-update",
		"--cache-dir", "/root/.cache/trivy", "--timeout", "10m0s", "/src/infra"}, got)
}

func TestDefaultImageIsPinnedByDigest(t *testing.T) {
	set, err := images.Defaults()
	require.NoError(t, err)
	name, digest, ok := strings.Cut(set.Trivy, "@sha256:")
	require.True(t, ok)
	assert.True(t, strings.HasPrefix(name, "aquasec/trivy:0."))
	assert.Len(t, digest, 64)
}
