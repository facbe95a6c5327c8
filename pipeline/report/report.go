// Package report renders the deploy report: what was built, scanned, signed, checked and
// deployed where, and how it ended, as GitHub-flavoured Markdown for $GITHUB_STEP_SUMMARY
// or a terminal. The report holds no secret fields; every string it prints is escaped, and
// anything shaped like an AWS access key ID is masked on output.
package report

import (
	"time"

	"dagger/fargate/pipeline/findings"
)

// Outcome is how a deploy ended.
type Outcome string

// Outcomes, from best to worst.
const (
	// Deployed: the new task definition's deployment completed and runs.
	Deployed Outcome = "deployed"
	// RolledBack: the deployment failed and the service is back on the previous revision.
	RolledBack Outcome = "rolled back"
	// RollbackFailed: the deployment failed and the service did not return to a healthy revision.
	RollbackFailed Outcome = "rollback failed"
	// Refused: a gate (scan, signature, policy, approval, promotion source) refused before deploying.
	Refused Outcome = "refused before deploy"
	// BadInput: the inputs (environments file, flags, task definition) were invalid.
	BadInput Outcome = "bad input"
	// TimedOut: the deployment did not finish within the wait timeout.
	TimedOut Outcome = "timed out"
	// RollbackInProgress: the deployment failed and ECS is still rolling back when the wait
	// for the rollback ended; the service is on its way back to the previous revision.
	RollbackInProgress Outcome = "rollback in progress"
	// Cancelled: the run was cancelled while ECS rolled out; ECS continues on its own.
	Cancelled Outcome = "cancelled"
	// ConcurrentDeploy: another deploy updated the service at the same time as this one.
	ConcurrentDeploy Outcome = "concurrent deploy"
	// FailedToBuild: the image did not build; nothing was deployed.
	FailedToBuild Outcome = "failed to build"
	// FailedBeforeDeploy: a step before the deploy could not run (the scanner, the SBOM, the
	// registry login or push, cosign's setup, the local registry); nothing was deployed.
	FailedBeforeDeploy Outcome = "failed before deploy"
	// FailedLocally: the local run (--env local) started the app, but it never became healthy.
	FailedLocally Outcome = "failed locally"
	// Reverted: a rollback asked for (the rollback function) completed.
	Reverted Outcome = "rolled back on request"
)

// Actions a report can describe.
const (
	// ActionDeploy is a deploy (the default).
	ActionDeploy = ""
	// ActionRollback is a rollback asked for with the rollback function.
	ActionRollback = "rollback"
)

// Succeeded reports whether the run did what it was asked: a deploy that completed, or a
// rollback asked for that completed. Every other outcome exits non-zero.
func (o Outcome) Succeeded() bool { return o == Deployed || o == Reverted }

// Report is everything the deploy report shows. Zero-valued sections are left out.
type Report struct {
	// Action is ActionDeploy or ActionRollback.
	Action string
	// Env is the environment deployed to; Service is cluster/service.
	Env     string
	Service string
	// Revision is the source git revision (commit SHA, optionally with a ref).
	Revision string
	// Image is the deployed image's digest reference (repository@sha256:...).
	Image string
	// Platforms the image was built for (linux/amd64, linux/arm64).
	Platforms []string

	Scan      *Scan
	SBOM      *SBOM
	Signature *Signature
	Policy    *Policy
	Promotion *Promotion

	// TaskDefinition is the registered task definition as family:revision.
	TaskDefinition string
	// PreviousTaskDefinition is what the service ran before (the rollback target).
	PreviousTaskDefinition string
	// FinalTaskDefinition is what the service runs at the end, when it is known.
	FinalTaskDefinition string

	// Delivery is the progressive delivery (strategy, stages, traffic, rollback), if any.
	Delivery *Delivery

	// Timeline is the rollout's events and progress lines, oldest first.
	Timeline []Event

	Outcome Outcome
	// Reason explains the outcome (the failing gate, the circuit breaker's reason, ...).
	Reason string

	// BreakGlass lists the gates that were bypassed, and by whom.
	BreakGlass []BreakGlass

	// Preflight and Tasks: the references verified before registering, and the pre-deploy
	// task and failed tasks with their last log lines (tasks.go).
	Preflight *Preflight
	Tasks     []Task

	// Warnings are things the user must know that did not stop the run (an alarm already
	// firing before the deploy, an alarm that could not be read).
	Warnings []string

	// Phases are the run's steps with their durations, in the order they started.
	Phases []Phase

	// Started and Finished bound the run; zero values are left out.
	Started  time.Time
	Finished time.Time
}

// Scan is the vulnerability scan summary.
type Scan struct {
	// Counts by severity (CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN).
	Counts map[string]int
	// FailOn are the severities that fail the gate.
	FailOn []string
	// Passed is the gate decision.
	Passed bool
	// Blocking lists the findings that failed the gate (IDs with package), if any.
	Blocking []string
	// Ignored counts findings suppressed by the ignore file.
	Ignored int
	// ExpiredIgnores lists ignore entries past their expiry date (they no longer suppress).
	ExpiredIgnores []string
}

// SBOM says whether an SBOM was produced and in what format.
type SBOM struct {
	Produced bool
	Format   string // e.g. cyclonedx, spdx-json
	Attached bool   // attached to the image as an attestation
}

// Signature is the signing and verification result.
type Signature struct {
	Signed   bool
	Verified bool
	// Identity is the verified signer: a certificate identity or key reference (no key material).
	Identity string
	// Issuer is the OIDC issuer for keyless signatures.
	Issuer string
	// Reused: the image already carried a valid signature by the configured identity and
	// attestations for the same scan gate decision, so it was verified and not signed again.
	Reused bool
}

// Policy is the policy check summary.
type Policy struct {
	// Passed counts the rules with no failing finding; Failed the rules with at least one.
	Passed     int
	Failed     int
	Suppressed int
	// Threshold is the severity at or above which findings fail (e.g. high).
	Threshold string
	// Failures lists the failing findings (a rule can fail on several resources).
	Failures []Finding
}

// Finding is one failed policy rule: the pipeline's one findings model (findings.Finding); the
// report shows its rule, severity, resource and message.
type Finding = findings.Finding

// Promotion records where a promoted image came from and who approved it.
type Promotion struct {
	SourceEnv            string
	SourceTaskDefinition string // family:revision
	ApprovedBy           string
	ApprovalReason       string
	ApprovedAt           time.Time
}

// Phase is one step of the run and how long it took.
type Phase struct {
	Name     string
	Started  time.Time
	Duration time.Duration
}

// Event is one line of the rollout timeline.
type Event struct {
	At      time.Time
	Message string
}

// BreakGlass is a gate bypassed on purpose.
type BreakGlass struct {
	Gate   string // scan, policy, signature, approval
	By     string
	Reason string
	At     time.Time
}
