package scan

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// Trivy defaults. The Trivy image itself is images.Defaults().Trivy (pipeline/images), pinned
// by digest there: tags on Docker Hub can be moved (and Trivy's own release tags were
// tampered with in 2026), a digest cannot.
const (
	// DefaultDBRepository is tried first, FallbackDBRepository next (Trivy takes both in
	// one comma-separated --db-repository, in order of priority).
	DefaultDBRepository      = "mirror.gcr.io/aquasec/trivy-db:2"
	FallbackDBRepository     = "ghcr.io/aquasecurity/trivy-db:2"
	DefaultJavaDBRepository  = "mirror.gcr.io/aquasec/trivy-java-db:1"
	DefaultCacheDir          = "/root/.cache/trivy"
	DefaultTimeout           = 10 * time.Minute
	DefaultImageInput        = "/scan/image.tar"
	DefaultReportPath        = "/scan/report.json"
	DefaultSBOMPath          = "/scan/sbom.cdx.json"
	DefaultConfigReportPath  = "/scan/config.json"
	trivyBinary              = "trivy"
	noIgnoreFile             = "/dev/null" // an empty ignore file: Trivy applies none
	defaultImageScanners     = "vuln,secret"
	defaultConfigScanSubject = "config"
)

// TrivyOptions are the settings every Trivy run shares.
type TrivyOptions struct {
	// DBRepositories are the vulnerability DB OCI repositories in priority order; empty
	// means DefaultDBRepository then FallbackDBRepository.
	DBRepositories []string
	// JavaDBRepository is the Java index repository; empty leaves Trivy's default.
	JavaDBRepository string
	// CacheDir is where the DB is cached (mount a cache volume there); empty means
	// DefaultCacheDir.
	CacheDir string
	// SkipDBUpdate uses the cached DB without downloading (air-gapped runs with a warm
	// cache). Trivy fails if no DB is cached, which fails the scan step: never a pass.
	SkipDBUpdate bool
	// Timeout bounds the run; zero means DefaultTimeout.
	Timeout time.Duration
}

// ImageScanOptions describe a vulnerability and secret scan of an image tarball.
type ImageScanOptions struct {
	TrivyOptions
	// Input is the image tarball (docker save / OCI layout tar); empty means DefaultImageInput.
	Input string
	// Output is the JSON report path; empty means DefaultReportPath.
	Output string
	// Severities restricts what Trivy reports; empty reports every severity so the
	// summary counts are complete (the gate decides what fails, not this flag).
	Severities []Severity
	// Scanners overrides "vuln,secret".
	Scanners []string
	// ListAllPackages keeps every package in the report, vulnerable or not
	// (--list-all-pkgs), so that `trivy convert` can render the SBOM from the same analysis
	// (SBOMFromReportArgs) instead of analysing the image a second time.
	ListAllPackages bool
}

// ImageScanArgs returns the argv (starting with "trivy") that scans an image tarball
// into a JSON report. Ignores and the verdict are this package's job (see the package
// doc): --ignorefile /dev/null stops Trivy from applying a .trivyignore it would
// otherwise pick up from its working directory, and --exit-code 0 makes Trivy exit 0 on
// findings and non-zero only when the scan itself failed.
func ImageScanArgs(o ImageScanOptions) ([]string, error) {
	input := or(o.Input, DefaultImageInput)
	output := or(o.Output, DefaultReportPath)
	if err := checkPaths(map[string]string{"input": input, "output": output}); err != nil {
		return nil, fmt.Errorf("trivy image scan: %w", err)
	}
	scanners := defaultImageScanners
	if len(o.Scanners) > 0 {
		for i, s := range o.Scanners {
			switch s {
			case "vuln", "secret", "misconfig", "license":
			default:
				return nil, fmt.Errorf("trivy image scan: scanners[%d]: unknown scanner %q (expected vuln, secret, misconfig or license)", i, s)
			}
		}
		scanners = strings.Join(o.Scanners, ",")
	}
	args := []string{trivyBinary, "image", "--input", input, "--format", "json", "--output", output,
		"--scanners", scanners, "--exit-code", "0", "--ignorefile", noIgnoreFile, "--no-progress"}
	if len(o.Severities) > 0 {
		args = append(args, "--severity", severityList(o.Severities))
	}
	if o.ListAllPackages {
		args = append(args, "--list-all-pkgs")
	}
	common, err := o.TrivyOptions.args(true)
	if err != nil {
		return nil, fmt.Errorf("trivy image scan: %w", err)
	}
	return append(args, common...), nil
}

// SBOMOptions describe a CycloneDX SBOM of an image tarball.
type SBOMOptions struct {
	TrivyOptions
	Input  string // empty: DefaultImageInput
	Output string // empty: DefaultSBOMPath
}

// SBOMArgs returns the argv that writes a CycloneDX JSON SBOM of an image tarball (the
// package inventory, no vulnerabilities; attest it with cosign --type cyclonedx).
func SBOMArgs(o SBOMOptions) ([]string, error) {
	input := or(o.Input, DefaultImageInput)
	output := or(o.Output, DefaultSBOMPath)
	if err := checkPaths(map[string]string{"input": input, "output": output}); err != nil {
		return nil, fmt.Errorf("trivy sbom: %w", err)
	}
	args := []string{trivyBinary, "image", "--input", input, "--format", "cyclonedx", "--output", output, "--no-progress"}
	common, err := o.TrivyOptions.args(false)
	if err != nil {
		return nil, fmt.Errorf("trivy sbom: %w", err)
	}
	return append(args, common...), nil
}

// SBOMFromReportArgs returns the argv that renders the CycloneDX SBOM (output) from a JSON
// report made with ListAllPackages (report), without analysing the image again: `trivy
// convert --format cyclonedx` (Trivy's documented report conversion). The SBOM then comes
// from the very analysis the scan gate decided on.
func SBOMFromReportArgs(report, output string) ([]string, error) {
	args, err := ConvertArgs(or(report, DefaultReportPath), or(output, DefaultSBOMPath), "cyclonedx")
	if err != nil {
		return nil, fmt.Errorf("trivy sbom: %w", err)
	}
	return args, nil
}

// ConfigScanOptions describe an IaC misconfiguration scan of a directory.
type ConfigScanOptions struct {
	TrivyOptions
	// Dir is the directory to scan. Required.
	Dir string
	// Output is the JSON report path; empty means DefaultConfigReportPath.
	Output string
	// Severities restricts what Trivy reports; empty reports all.
	Severities []Severity
	// ChecksBundleRepository overrides the checks bundle repository; empty keeps
	// Trivy's built-in default.
	ChecksBundleRepository string
	// SkipCheckUpdate uses the embedded/cached checks (air-gapped).
	SkipCheckUpdate bool
}

// ConfigScanArgs returns the argv of `trivy config` producing a JSON report that Parse
// and Evaluate read like an image report (Misconfigurations with Status FAIL count).
func ConfigScanArgs(o ConfigScanOptions) ([]string, error) {
	if o.Dir == "" {
		return nil, fmt.Errorf("trivy config scan: dir is required (the directory to scan)")
	}
	output := or(o.Output, DefaultConfigReportPath)
	if err := checkPaths(map[string]string{"dir": o.Dir, "output": output}); err != nil {
		return nil, fmt.Errorf("trivy config scan: %w", err)
	}
	args := []string{trivyBinary, defaultConfigScanSubject, "--format", "json", "--output", output, "--exit-code", "0", "--ignorefile", noIgnoreFile}
	if len(o.Severities) > 0 {
		args = append(args, "--severity", severityList(o.Severities))
	}
	if o.ChecksBundleRepository != "" {
		if strings.ContainsAny(o.ChecksBundleRepository, ", \t") {
			return nil, fmt.Errorf("trivy config scan: checksBundleRepository: %q is not an OCI repository reference", o.ChecksBundleRepository)
		}
		args = append(args, "--checks-bundle-repository", o.ChecksBundleRepository)
	}
	if o.SkipCheckUpdate {
		args = append(args, "--skip-check-update")
	}
	args = append(args, "--cache-dir", or(o.CacheDir, DefaultCacheDir), "--timeout", timeout(o.Timeout))
	return append(args, o.Dir), nil
}

func (o TrivyOptions) args(vulnDB bool) ([]string, error) {
	var args []string
	if vulnDB {
		repos := o.DBRepositories
		if len(repos) == 0 {
			repos = []string{DefaultDBRepository, FallbackDBRepository}
		}
		for i, r := range repos {
			if r == "" || strings.ContainsAny(r, ", \t") {
				return nil, fmt.Errorf("dbRepositories[%d]: %q is not an OCI repository reference (e.g. %s)", i, r, DefaultDBRepository)
			}
		}
		args = append(args, "--db-repository", strings.Join(repos, ","))
		if o.JavaDBRepository != "" {
			if strings.ContainsAny(o.JavaDBRepository, ", \t") {
				return nil, fmt.Errorf("javaDBRepository: %q is not an OCI repository reference (e.g. %s)", o.JavaDBRepository, DefaultJavaDBRepository)
			}
			args = append(args, "--java-db-repository", o.JavaDBRepository)
		}
		if o.SkipDBUpdate {
			args = append(args, "--skip-db-update", "--skip-java-db-update")
		}
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("timeout: %s is negative", o.Timeout)
	}
	args = append(args, "--cache-dir", or(o.CacheDir, DefaultCacheDir), "--timeout", timeout(o.Timeout))
	return args, nil
}

func timeout(d time.Duration) string {
	if d <= 0 {
		d = DefaultTimeout
	}
	return d.String()
}

func checkPaths(paths map[string]string) error {
	for _, field := range []string{"input", "dir", "output"} {
		p, ok := paths[field]
		if !ok {
			continue
		}
		if !path.IsAbs(p) {
			return fmt.Errorf("%s: %q must be an absolute path inside the scan container", field, p)
		}
	}
	return nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// ConvertArgs returns the argv of `trivy convert`, which re-renders a JSON report in
// another format without scanning again: "cosign-vuln" (the predicate for cosign attest
// --type vuln), "sarif", "cyclonedx", "table". Input and output are absolute paths.
func ConvertArgs(input, output, format string) ([]string, error) {
	switch format {
	case "cosign-vuln", "sarif", "cyclonedx", "spdx-json", "table", "json":
	default:
		return nil, fmt.Errorf("trivy convert: format %q: expected cosign-vuln, sarif, cyclonedx, spdx-json, table or json", format)
	}
	if err := checkPaths(map[string]string{"input": input, "output": output}); err != nil {
		return nil, fmt.Errorf("trivy convert: %w", err)
	}
	return []string{trivyBinary, "convert", "--format", format, "--output", output, "--ignorefile", noIgnoreFile, input}, nil
}
