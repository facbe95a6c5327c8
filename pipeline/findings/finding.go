package findings

// Source says which check found a finding.
type Source string

// Sources.
const (
	// SourcePolicy: a policy rule over a task definition, service, cluster, repository,
	// Dockerfile or IAM policy (pipeline/policy).
	SourcePolicy Source = "policy"
	// SourceScan: the Trivy gate over an image or a file system (pipeline/scan).
	SourceScan Source = "scan"
	// SourceIaC: a check of an infrastructure template, the pipeline's own (FG-CFN-…) or Trivy's
	// misconfigurations (FG-IAC-001) (pipeline/infra).
	SourceIaC Source = "iac"
	// SourceAudit: a check of a live account: its resources (pipeline/policy/live) and its
	// detective controls (pipeline/detectors), or the registry the pipeline pushes to
	// (pipeline/ecr).
	SourceAudit Source = "audit"
)

// Location says where a finding was found: a file and line (1-based; 0 when unknown) for
// offline inputs, or a logical name (an ARN or resource path) for live resources.
type Location struct {
	Path    string
	Line    int
	Logical string
}

// Finding is one rule violated by one resource: the pipeline's one findings model, for policy,
// scan, IaC and audit alike.
type Finding struct {
	// Rule is the rule's stable ID (FG-TD-004, FG-CFN-005, a Trivy ID, ...).
	Rule     string
	Severity Severity
	Source   Source
	// Controls are the AWS Security Hub control IDs (or AWS Config rules) the rule anticipates
	// (ECS.5, ECR.1, ...).
	Controls []string
	// Resource names what is at fault (task-definition/app/container/web, an ARN, a file#ID).
	Resource    string
	Message     string
	Remediation string
	// Suppressed findings were accepted with a reason (SuppressionNote) and do not fail.
	Suppressed      bool
	SuppressionNote string
	Location        Location
}
