// Fargate takes a service from a git checkout to Amazon ECS Fargate, securely, with the same
// command on a laptop and in CI.
//
// The pipeline: a multi-stage, non-root image build; a Trivy scan gate and a CycloneDX SBOM;
// a push to Amazon ECR by digest; cosign signing and verification; the digest rendered into
// the ECS task definition; the security policy check; and a deploy with the deployment
// circuit breaker, a wait that follows this deploy's own deployment, and an automatic
// rollback. `deploy --env local` runs the same chain with no AWS account at all.
//
// This package is a thin shell: the functions' signatures and documentation, and the Dagger
// implementation of the container steps (steps.go). What each function decides — order,
// gates, refusals, outcomes, the report — lives in pipeline/chain, tested without an engine.
package main

import (
	"context"

	"dagger/fargate/internal/dagger"

	"dagger/fargate/pipeline/chain"
	"dagger/fargate/pipeline/images"
)

// Format is how a report is written.
type Format string

const (
	// Text for people: grouped by severity, one line per finding.
	FormatText Format = "text"
	// JSON, a stable documented contract.
	FormatJSON Format = "json"
	// SARIF 2.1.0, for GitHub code scanning.
	FormatSarif Format = "sarif"
)

// Fargate is the pipeline for one service: its source directory and environments file, the
// AWS credentials to act with, and the images each step runs in.
type Fargate struct {
	// The service's source directory (holds the environments file).
	Source *dagger.Directory
	// Path of the environments file inside the source directory.
	Config string
	// Environment every function acts on (--environment), agreeing with a function's --env.
	Environment string

	// +private
	AwsAccessKeyId *dagger.Secret
	// +private
	AwsSecretAccessKey *dagger.Secret
	// +private
	AwsSessionToken *dagger.Secret
	// +private
	AwsWebIdentityToken *dagger.Secret
	// AWS role to assume (--aws-role-arn), its external ID and the session name.
	AwsRoleArn         string
	AwsExternalId      string
	AwsRoleSessionName string
	// AWS endpoint (LocalStack-style) and region overrides; empty: AWS and each environment's region.
	AwsEndpoint string
	AwsRegion   string

	// Git revision, its commit time and the source repository URL: the image's labels, its
	// tag and the report.
	GitRevision   string
	GitCommitTime string
	SourceUrl     string

	// Images the steps run in (Trivy, cosign, the local registry), the Trivy DB settings, and
	// the Dockerfile's base-image overrides (empty keeps the Dockerfile's).
	TrivyImage        string
	TrivyDbRepository string
	TrivySkipDbUpdate bool
	CosignImage       string
	RegistryImage     string
	BuilderImage      string
	RuntimeImage      string
}

// New configures the pipeline. Every image defaults to the digest pinned in
// pipeline/images/images.Dockerfile and is overridable (private mirrors, ECR pull-through
// caches, air-gapped runners).
func New(
	// The service's source directory. Defaults to this repository's sample app; pass
	// --source . in your own repository.
	// +defaultPath="sample-app"
	// +ignore=[".git", "**/node_modules", "**/.terraform", "**/*.test"]
	source *dagger.Directory,
	// Path of the environments file inside the source directory.
	// +default="fargate.yaml"
	config string,
	// Environment every function acts on, as --env does (Dagger 1.0 keeps --env for itself).
	// +optional
	environment string,
	// AWS access key ID, e.g. env:AWS_ACCESS_KEY_ID. Needed by every function that talks to AWS.
	// +optional
	awsAccessKeyId *dagger.Secret,
	// AWS secret access key, e.g. env:AWS_SECRET_ACCESS_KEY.
	// +optional
	awsSecretAccessKey *dagger.Secret,
	// AWS session token for temporary credentials (OIDC, SSO, assumed roles), e.g. env:AWS_SESSION_TOKEN.
	// +optional
	awsSessionToken *dagger.Secret,
	// IAM role to act as, assumed (and renewed in long waits) with the keys or --aws-web-identity-token.
	// +optional
	awsRoleArn string,
	// External ID the role's trust policy requires (AssumeRole).
	// +optional
	awsExternalId string,
	// Session name of the assumed role, as CloudTrail records it. Default: fargate-<time>.
	// +optional
	awsRoleSessionName string,
	// OIDC token to assume --aws-role-arn with (AssumeRoleWithWebIdentity), e.g. env:AWS_WEB_IDENTITY_TOKEN.
	// +optional
	awsWebIdentityToken *dagger.Secret,
	// Send every AWS call to this endpoint instead of AWS (LocalStack: http://localstack:4566).
	// With an override, the account check is reported but does not stop the deploy.
	// +optional
	awsEndpoint string,
	// Use this AWS region instead of the environment's region from the environments file.
	// +optional
	awsRegion string,
	// Git revision of the source (tag, label and report).
	// +default="dev"
	gitRevision string,
	// Commit time of --git-revision (RFC 3339 or Unix seconds; git show -s --format=%cI HEAD),
	// recorded as the image's created time. Empty leaves it out: the current time would make a
	// new image, and a new digest, on every build.
	// +optional
	gitCommitTime string,
	// URL of the source repository, for the image's org.opencontainers.image.source label.
	// +optional
	sourceUrl string,
	// Trivy image, pinned by digest by default.
	// +optional
	trivyImage string,
	// Trivy vulnerability DB repository (a mirror for air-gapped runners), comma-separated. Default: mirror.gcr.io then ghcr.io.
	// +optional
	trivyDbRepository string,
	// Use the Trivy DB already in the cache volume and never download it (air-gapped runners).
	// +optional
	trivySkipDbUpdate bool,
	// cosign image (v3), pinned by digest by default.
	// +optional
	cosignImage string,
	// OCI registry image used by --env local, pinned by digest by default.
	// +optional
	registryImage string,
	// Builder base image, passed to the Dockerfile as the BUILDER_IMAGE build argument (private mirror, pull-through cache).
	// +optional
	builderImage string,
	// Runtime base image, passed to the Dockerfile as the RUNTIME_IMAGE build argument.
	// +optional
	runtimeImage string,
) (*Fargate, error) {
	img, err := images.Resolve(images.Set{Trivy: trivyImage, Cosign: cosignImage, Registry: registryImage})
	if err != nil {
		return nil, err
	}
	return &Fargate{
		Source: source, Config: config, Environment: environment,
		AwsAccessKeyId: awsAccessKeyId, AwsSecretAccessKey: awsSecretAccessKey, AwsSessionToken: awsSessionToken, AwsWebIdentityToken: awsWebIdentityToken,
		AwsRoleArn: awsRoleArn, AwsExternalId: awsExternalId, AwsRoleSessionName: awsRoleSessionName, AwsEndpoint: awsEndpoint, AwsRegion: awsRegion,
		GitRevision: gitRevision, GitCommitTime: gitCommitTime, SourceUrl: sourceUrl,
		TrivyImage: img.Trivy, TrivyDbRepository: trivyDbRepository, TrivySkipDbUpdate: trivySkipDbUpdate, CosignImage: img.Cosign, RegistryImage: img.Registry,
		BuilderImage: builderImage, RuntimeImage: runtimeImage,
	}, nil
}

// Environments loads and validates the environments file and prints what each environment
// deploys where. Every problem in the file is reported with its line and field.
func (m *Fargate) Environments(ctx context.Context) (string, error) {
	return m.session(ctx, keys{}).Environments(ctx)
}

// Build builds the service's image from its Dockerfile (multi-stage, with the build args of
// the environments file and the base-image overrides), labels it with its source and
// revision, and fails when the image would run as root.
func (m *Fargate) Build(
	ctx context.Context,
	// Platform to build for: linux/amd64 or linux/arm64 (Fargate runs both). Default: the environments file's first platform.
	// +optional
	platform dagger.Platform,
) (*dagger.Container, error) {
	s, st := m.wire(ctx, keys{})
	if err := s.BuildImage(ctx, string(platform)); err != nil {
		return nil, err
	}
	return st.variants[0], nil
}

// Scan scans the image with Trivy (vulnerabilities and secrets) before anything is pushed,
// and applies the scan gate of the environments file. It returns a directory with
// summary.txt, trivy.json, trivy.sarif and gate.json (the decision); it fails when the gate
// fails, unless --report-only is set.
//
// +cache="session"
func (m *Fargate) Scan(
	ctx context.Context,
	// Environment whose scan gate applies (sample: local, preprod, prod). Default: the first that builds.
	// +optional
	env string,
	// Platform of the image to scan. Default: the environments file's first platform.
	// +optional
	platform dagger.Platform,
	// Return the reports without failing on the gate (for uploading SARIF on pull requests).
	// +optional
	reportOnly bool,
) (*dagger.Directory, error) {
	res, err := m.session(ctx, keys{}).ScanImage(ctx, env, string(platform), reportOnly)
	if err != nil {
		return nil, err
	}
	return dag.Directory().
		WithNewFile("summary.txt", res.Summary).
		WithNewFile("trivy.json", string(res.Report)).
		WithNewFile("trivy.sarif", string(res.SARIF)).
		WithNewFile("gate.json", string(res.GateJSON)), nil
}

// Sbom writes a CycloneDX SBOM (JSON) of the image.
func (m *Fargate) Sbom(
	ctx context.Context,
	// Platform of the image. Default: the environments file's first platform.
	// +optional
	platform dagger.Platform,
) (*dagger.File, error) {
	s, st := m.wire(ctx, keys{})
	if err := s.BuildSBOM(ctx, string(platform)); err != nil {
		return nil, err
	}
	return st.sbom, nil
}

// Render writes the task definition of an environment with the given image set on its
// container: the file ECS would register, read-only fields dropped.
func (m *Fargate) Render(
	ctx context.Context,
	// Environment whose task definition file and container are used (sample: local, preprod, prod).
	// +optional
	env string,
	// Image to run, preferably by digest (repo@sha256:...).
	image string,
) (*dagger.File, error) {
	data, err := m.session(ctx, keys{}).Render(ctx, env, image)
	if err != nil {
		return nil, err
	}
	return dag.Directory().WithNewFile("taskdef.json", string(data)).File("taskdef.json"), nil
}

// Check runs the security rules with no AWS call: on the Dockerfile, every environment's task
// definition, the IAM policy files named in the environments file, the service settings it
// declares, and the CloudFormation templates of the environments (our rules, plus Trivy's IaC
// misconfiguration scan in a container). Findings at or above the policy threshold (default
// high) fail it, unless --report-only. Also runs as a Dagger check (`dagger check`).
//
// +check
func (m *Fargate) Check(
	ctx context.Context,
	// Output format: text, json (a stable contract) or sarif (GitHub code scanning).
	// +default="text"
	format Format,
	// Return the report without failing on findings (e.g. to upload SARIF).
	// +optional
	reportOnly bool,
	// Skip Trivy's scan of the CloudFormation templates (our own template rules still run).
	// +optional
	skipIacScan bool,
) (string, error) {
	return m.session(ctx, keys{}).Check(ctx, chain.CheckOptions{Format: string(format), ReportOnly: reportOnly, SkipIaCScan: skipIacScan})
}

// Audit runs the security rules on what runs in an environment, through read-only
// Describe/Get/List calls: the cluster, the service, its task definition, the ECR repository,
// security groups, subnets and route tables, the task and execution role policies, and the
// account's detectors (CloudTrail, GuardDuty, Security Hub, AWS Config, Inspector). A
// resource it cannot read is a finding; the rest of the audit still runs.
//
// +cache="never"
func (m *Fargate) Audit(
	ctx context.Context,
	// Environment to audit, as named in the environments file (sample: preprod, prod).
	// +optional
	env string,
	// Output format: text, json or sarif.
	// +default="text"
	format Format,
	// Return the report without failing on findings.
	// +optional
	reportOnly bool,
) (string, error) {
	return m.session(ctx, keys{}).Audit(ctx, chain.AuditOptions{Env: env, Format: string(format), ReportOnly: reportOnly})
}

// Deploy runs the whole chain for one environment and returns the Markdown report.
//
//   - local: build → scan gate + SBOM → push to a registry running as a Dagger service →
//     sign with the engine's local key and verify → render and check the task definition →
//     start the container with the task definition's settings and probe its health endpoint.
//     No AWS account needed.
//   - an AWS environment (preprod): build → scan gate + SBOM → publish to ECR by digest →
//     sign → verify → render → policy check → register → update service (circuit breaker with rollback) →
//     wait for this deployment → roll back on failure.
//   - one with promoteFrom (prod): no rebuild: promotes the digest running, completed and
//     verified, in the environment it promotes from; verifies signature and attestations again; requires
//     --approved-by when the environment requires approval.
//
// It fails unless the deploy completed; the error then carries the report, which says where
// the service ended (rolled back to family:N, or not changed) and why.
//
// +cache="never"
func (m *Fargate) Deploy(
	ctx context.Context,
	// Environment to deploy, as named in the environments file (sample: local, preprod, prod).
	// +optional
	env string,
	// Who approved this deploy (a GitHub login or an email); required where the environment requires approval.
	// +optional
	approvedBy string,
	// Why it was approved (recorded in the report and the task definition tags).
	// +optional
	approvalReason string,
	// Deploy this image (repo@sha256:...) instead of building: it must be signed by the configured identity.
	// +optional
	image string,
	// cosign private key (signing mode key), e.g. file:./cosign.key or env:COSIGN_KEY.
	// +optional
	cosignKey *dagger.Secret,
	// Password of the cosign private key, e.g. env:COSIGN_PASSWORD.
	// +optional
	cosignPassword *dagger.Secret,
	// cosign public key (signing mode key) to verify with; derived from --cosign-key when absent.
	// +optional
	cosignPublicKey *dagger.File,
	// OIDC identity token for keyless signing (GitHub Actions: the ID token for audience sigstore).
	// +optional
	oidcToken *dagger.Secret,
	// Wait for a deployment already in progress to finish instead of refusing to start.
	// +optional
	waitForInProgress bool,
	// Break glass: deploy even when the scan, policy or signature gate fails. The reason is
	// required, logged and recorded in the report with --approved-by. Never silent.
	// +optional
	breakGlass string,
	// IAM role that reads the environment a promotion promotes from, when it is another account.
	// +optional
	sourceAwsRoleArn string,
	// For CI: return the JSON report (docs/ci.md) and do not fail when the deploy fails.
	// +optional
	reportJson bool,
) (string, error) {
	return m.session(ctx, keys{
		key: cosignKey, password: cosignPassword, publicKey: cosignPublicKey, oidcToken: oidcToken, sourceRoleArn: sourceAwsRoleArn,
	}).Deploy(ctx, chain.DeployRequest{
		Env: env, Image: image, ApprovedBy: approvedBy, ApprovalReason: approvalReason,
		BreakGlass: breakGlass, WaitForInProgress: waitForInProgress, ReportJSON: reportJson,
	})
}

// Serve builds the image and returns it running as a service with the task definition's
// settings (user, environment, command, writable mounts; secrets get random local values),
// so you can try it: `dagger call serve up --ports 8080:8080`. It runs no gate: use
// `deploy --env local` for the whole chain.
func (m *Fargate) Serve(
	ctx context.Context,
	// Environment whose task definition and container settings to run. Default: local.
	// +optional
	env string,
) (*dagger.Service, error) {
	s, st := m.wire(ctx, keys{})
	spec, err := s.Serve(ctx, env)
	if err != nil {
		return nil, err
	}
	return applyLocalSpec(st.variants[0], spec), nil
}

// Publish builds the image for every platform of the environments file, makes sure the ECR
// repository exists with scan on push, immutable tags, KMS encryption and a lifecycle
// policy, and pushes the image with the git revision as tag. Returns the digest reference
// (repo@sha256:...). A revision already published is reused, never overwritten.
//
// +cache="never"
func (m *Fargate) Publish(
	ctx context.Context,
	// Environment whose region and account receive the image (sample: preprod). Default: the first that builds.
	// +optional
	env string,
) (string, error) {
	return m.session(ctx, keys{}).Publish(ctx, env)
}

// Sign signs an image by digest with the environments file's signing mode (key, AWS KMS or
// keyless), and attaches its SBOM and scan result as attestations.
//
// +cache="never"
func (m *Fargate) Sign(
	ctx context.Context,
	// Image to sign, by digest: repo@sha256:...
	image string,
	// Environment whose registry holds the image (sample: preprod). Default: the first that builds.
	// +optional
	env string,
	// cosign private key (mode key).
	// +optional
	cosignKey *dagger.Secret,
	// Its password.
	// +optional
	cosignPassword *dagger.Secret,
	// OIDC identity token (mode keyless).
	// +optional
	oidcToken *dagger.Secret,
) (string, error) {
	return m.session(ctx, keys{key: cosignKey, password: cosignPassword, oidcToken: oidcToken}).Sign(ctx, env, image)
}

// Verify verifies an image's signature against the configured identity (public key, KMS
// key, or keyless certificate identity and issuer) and its SBOM and scan attestations.
//
// +cache="never"
func (m *Fargate) Verify(
	ctx context.Context,
	// Image to verify, by digest: repo@sha256:...
	image string,
	// Environment whose registry holds the image (sample: preprod). Default: the first that builds.
	// +optional
	env string,
	// cosign public key (mode key).
	// +optional
	cosignPublicKey *dagger.File,
) (string, error) {
	return m.session(ctx, keys{publicKey: cosignPublicKey}).Verify(ctx, env, image)
}

// Rollback returns an environment's service to the previous task definition revision, or to
// --to family:revision, through the same wait as deploy, and reports "ROLLED BACK to
// family:N (from family:M)".
//
// +cache="never"
func (m *Fargate) Rollback(
	ctx context.Context,
	// Environment to roll back (sample: preprod, prod).
	// +optional
	env string,
	// Revision to return to (family:revision or ARN); default: the revision before the running one.
	// +optional
	to string,
) (string, error) {
	return m.session(ctx, keys{}).Rollback(ctx, env, to)
}

// Status shows an environment's service: its deployments with counts and rollout state, the
// task definition and image digest it runs, and its recent events.
//
// +cache="never"
func (m *Fargate) Status(
	ctx context.Context,
	// Environment to show (sample: preprod, prod).
	// +optional
	env string,
) (string, error) {
	return m.session(ctx, keys{}).Status(ctx, env)
}

// Diff shows, as a unified diff, how the task definition deploy would register differs from
// the one the service runs.
//
// +cache="never"
func (m *Fargate) Diff(
	ctx context.Context,
	// Environment to compare (sample: preprod, prod).
	// +optional
	env string,
	// Image to render into the definition (repo@sha256:...); default: the image the service runs.
	// +optional
	image string,
) (string, error) {
	return m.session(ctx, keys{}).Diff(ctx, env, image)
}

// RunTask runs one task of an environment's service on the revision it runs now, in its
// network, with --command (default: the preDeploy command), and reports its exit and last logs.
//
// +cache="never"
func (m *Fargate) RunTask(
	ctx context.Context,
	// Environment whose service the task runs in (sample: preprod, prod).
	// +optional
	env string,
	// Command to run, comma-separated (e.g. /app,migrate). Default: the environment's preDeploy command.
	// +optional
	command []string,
	// Container to run it in. Default: the preDeploy container, then the environment's.
	// +optional
	container string,
) (string, error) {
	return m.session(ctx, keys{}).RunTask(ctx, chain.RunTaskRequest{Env: env, Command: command, Container: container})
}

// Infra validates and deploys an environment's landing zone (VPC, load balancer, cluster,
// service, roles, ECR repository, logs) as a CloudFormation stack through a change set:
// create or update, show the change set, execute it, wait, and report. A change set that
// replaces or deletes a stateful resource (ECR repository, log group, KMS key, VPC, ...) is
// refused unless --allow-replacement. With --plan it only shows the change set.
//
// +cache="never"
func (m *Fargate) Infra(
	ctx context.Context,
	// Environment whose stack to deploy: its infra block in the environments file (sample: preprod, prod).
	// +optional
	env string,
	// Only show the change set; change nothing.
	// +optional
	plan bool,
	// Allow a change set that replaces or deletes stateful resources.
	// +optional
	allowReplacement bool,
	// Extra or overriding template parameters, as Key=Value (e.g. CertificateArn=arn:...).
	// +optional
	parameter []string,
) (string, error) {
	return m.session(ctx, keys{}).Infra(ctx, chain.InfraOptions{Env: env, Plan: plan, AllowReplacement: allowReplacement, Parameters: parameter})
}
