package infra

import (
	"fmt"
	"io"

	"dagger/fargate/pipeline/scan"
)

// DefaultIaCReportPath is where TrivyConfigArgs writes its JSON report by default.
const DefaultIaCReportPath = "/scan/infra-config.json"

// TrivyConfigArgs returns the argv of `trivy config --format json --output <output> <dir>`
// that scans the templates directory for misconfigurations (CloudFormation included). It
// reuses scan.ConfigScanArgs, so the flags (cache dir, timeout, exit code 0: the gate
// decides) match the image scan's. Run it in scan.DefaultImage.
func TrivyConfigArgs(dir, output string, opts scan.ConfigScanOptions) ([]string, error) {
	if dir == "" {
		return nil, fmt.Errorf("infra trivy config: dir is required (the templates directory, e.g. /src/infra)")
	}
	if output == "" {
		output = DefaultIaCReportPath
	}
	opts.Dir, opts.Output = dir, output
	args, err := scan.ConfigScanArgs(opts)
	if err != nil {
		return nil, fmt.Errorf("infra trivy config: %w", err)
	}
	return args, nil
}

// EvaluateIaCReport parses a `trivy config` JSON report and judges its failed
// misconfigurations against g, with the scan package's parser and gate (a report that
// cannot be read is an error, never a pass).
func EvaluateIaCReport(r io.Reader, g scan.Gate) (*scan.Decision, error) {
	rep, err := scan.Parse(r)
	if err != nil {
		return nil, fmt.Errorf("read trivy config report: %w", err)
	}
	return scan.Evaluate(rep, g), nil
}
