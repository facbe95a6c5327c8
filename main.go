// Fargate takes a service from a git checkout to Amazon ECS Fargate, securely, with the same
// command on a laptop and in CI.
//
// The pipeline: a multi-stage, non-root image build; a Trivy scan gate and a CycloneDX SBOM;
// a push to Amazon ECR by digest; cosign signing and verification; the digest rendered into
// the ECS task definition; the security policy check; and a deploy with the deployment
// circuit breaker, a wait that follows this deploy's own deployment, and an automatic
// rollback. `deploy --env local` runs the same chain with no AWS account at all.
//
// Everything the functions decide lives in plain, tested Go under pipeline/; this file wires
// containers and AWS clients around it.
package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"dagger/fargate/internal/dagger"

	"dagger/fargate/pipeline/awsconf"
	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/cosign"
	"dagger/fargate/pipeline/detectors"
	"dagger/fargate/pipeline/ecs"
	"dagger/fargate/pipeline/imageuser"
	"dagger/fargate/pipeline/infra"
	"dagger/fargate/pipeline/policy"
	"dagger/fargate/pipeline/policy/live"
	"dagger/fargate/pipeline/precheck"
	"dagger/fargate/pipeline/scan"
	"dagger/fargate/pipeline/taskdef"
)

// Default images. Every one is overridable (constructor flags) for private mirrors, ECR
// pull-through caches and air-gapped runners.
const (
	defaultTrivyImage  = scan.DefaultImage
	defaultCosignImage = cosign.DefaultImage
	// The CNCF distribution registry 2.8.3, pinned by digest like every default image.
	defaultRegistryImage = "registry:2@sha256:a3d8aaa63ed8681a604f1dea0aa03f100d5895b6a58ace528858a7b332415373"
)

// Environment is where a function acts: local (no AWS: a registry and the app run as Dagger
// services), preprod, or prod.
type Environment string

const (
	// Local runs the whole chain on this machine, with no AWS account.
	EnvironmentLocal Environment = "local"
	// Preprod builds, publishes, signs and deploys to the pre-production service.
	EnvironmentPreprod Environment = "preprod"
	// Prod promotes the digest running in preprod, behind a named approval.
	EnvironmentProd Environment = "prod"
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

	// +private
	AwsAccessKeyID *dagger.Secret
	// +private
	AwsSecretAccessKey *dagger.Secret
	// +private
	AwsSessionToken *dagger.Secret
	// AWS endpoint override (LocalStack-style), empty for AWS itself.
	AwsEndpoint string
	// AWS region override; empty uses each environment's region.
	AwsRegion string

	// Git revision recorded in labels, tags and the report.
	GitRevision string
	// Source repository URL recorded in the image's org.opencontainers.image.source label.
	SourceURL string

	// Trivy image the scans run in.
	TrivyImage string
	// Trivy vulnerability DB repositories, comma-separated; empty means Trivy's defaults.
	TrivyDBRepository string
	// Whether scans use the cached Trivy DB without downloading it.
	TrivySkipDBUpdate bool
	// cosign image signing and verification run in.
	CosignImage string
	// OCI registry image of --env local.
	RegistryImage string
	// Builder base image override (BUILDER_IMAGE build argument); empty keeps the Dockerfile's.
	BuilderImage string
	// Runtime base image override (RUNTIME_IMAGE build argument); empty keeps the Dockerfile's.
	RuntimeImage string
}

// New configures the pipeline.
func New(
	// The service's source directory. Defaults to this repository's sample app; pass
	// --source . in your own repository.
	// +defaultPath="sample-app"
	// +ignore=[".git", "**/node_modules", "**/.terraform", "**/*.test"]
	source *dagger.Directory,
	// Path of the environments file inside the source directory.
	// +default="fargate.yaml"
	config string,
	// AWS access key ID, e.g. env:AWS_ACCESS_KEY_ID. Needed by every function that talks to AWS.
	// +optional
	awsAccessKeyID *dagger.Secret,
	// AWS secret access key, e.g. env:AWS_SECRET_ACCESS_KEY.
	// +optional
	awsSecretAccessKey *dagger.Secret,
	// AWS session token for temporary credentials (OIDC, SSO, assumed roles), e.g. env:AWS_SESSION_TOKEN.
	// +optional
	awsSessionToken *dagger.Secret,
	// Send every AWS call to this endpoint instead of AWS (LocalStack: http://localstack:4566).
	// With an override, the account check is reported but does not stop the deploy.
	// +optional
	awsEndpoint string,
	// Use this AWS region instead of the environment's region from the environments file.
	// +optional
	awsRegion string,
	// Git revision of the source (tag, label and report). Defaults to "dev".
	// +optional
	gitRevision string,
	// URL of the source repository, for the image's org.opencontainers.image.source label.
	// +optional
	sourceURL string,
	// Trivy image, pinned by digest by default.
	// +optional
	trivyImage string,
	// Trivy vulnerability DB repository (a mirror for air-gapped runners). Default: mirror.gcr.io then ghcr.io.
	// +optional
	trivyDBRepository string,
	// Use the Trivy DB already in the cache volume and never download it (air-gapped runners).
	// +optional
	trivySkipDBUpdate bool,
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
) *Fargate {
	return &Fargate{
		Source:             source,
		Config:             config,
		AwsAccessKeyID:     awsAccessKeyID,
		AwsSecretAccessKey: awsSecretAccessKey,
		AwsSessionToken:    awsSessionToken,
		AwsEndpoint:        awsEndpoint,
		AwsRegion:          awsRegion,
		GitRevision:        orDefault(gitRevision, "dev"),
		SourceURL:          sourceURL,
		TrivyImage:         orDefault(trivyImage, defaultTrivyImage),
		TrivyDBRepository:  trivyDBRepository,
		TrivySkipDBUpdate:  trivySkipDBUpdate,
		CosignImage:        orDefault(cosignImage, defaultCosignImage),
		RegistryImage:      orDefault(registryImage, defaultRegistryImage),
		BuilderImage:       builderImage,
		RuntimeImage:       runtimeImage,
	}
}

// Environments loads and validates the environments file and prints what each environment
// deploys where. Every problem in the file is reported with its line and field.
func (m *Fargate) Environments(ctx context.Context) (string, error) {
	f, err := m.loadConfig(ctx)
	if err != nil {
		return "", err
	}
	return f.Summary(), nil
}

// Build builds the service's image from its Dockerfile (multi-stage, with the build args of
// the environments file and the base-image overrides), labels it with its source, revision
// and creation time, and fails when the image would run as root.
func (m *Fargate) Build(
	ctx context.Context,
	// Platform to build for: linux/amd64 (default) or linux/arm64. Fargate runs both.
	// +optional
	platform dagger.Platform,
) (*dagger.Container, error) {
	f, err := m.loadConfig(ctx)
	if err != nil {
		return nil, err
	}
	return m.build(ctx, f, platform)
}

// Scan scans the image with Trivy (vulnerabilities and secrets) before anything is pushed,
// and applies the scan gate of the environments file. It returns a directory with
// summary.txt, trivy.json and trivy.sarif; it fails when the gate fails, unless
// --report-only is set. Results are reused within one session only: new vulnerabilities are
// published every day.
//
// +cache="session"
func (m *Fargate) Scan(
	ctx context.Context,
	// Environment whose scan gate applies (its own, or the file's).
	// +default="preprod"
	env Environment,
	// Platform of the image to scan.
	// +optional
	platform dagger.Platform,
	// Return the reports without failing on the gate (for uploading SARIF on pull requests).
	// +optional
	reportOnly bool,
) (*dagger.Directory, error) {
	f, e, err := m.loadEnvironment(ctx, env)
	if err != nil {
		return nil, err
	}
	img, err := m.build(ctx, f, platform)
	if err != nil {
		return nil, err
	}
	res, err := m.scanImage(ctx, f, e, img)
	if err != nil {
		return nil, err
	}
	if !res.decision.Pass && !reportOnly {
		return nil, fmt.Errorf("scan gate failed:\n%s", res.summary)
	}
	return res.dir(), nil
}

// Sbom writes a CycloneDX SBOM (JSON) of the image.
func (m *Fargate) Sbom(
	ctx context.Context,
	// Platform of the image.
	// +optional
	platform dagger.Platform,
) (*dagger.File, error) {
	f, err := m.loadConfig(ctx)
	if err != nil {
		return nil, err
	}
	img, err := m.build(ctx, f, platform)
	if err != nil {
		return nil, err
	}
	return m.sbom(img)
}

// Render writes the task definition of an environment with the given image set on its
// container: the file ECS would register, read-only fields dropped.
func (m *Fargate) Render(
	ctx context.Context,
	// Environment whose task definition file and container are used.
	env Environment,
	// Image to run, preferably by digest (repo@sha256:...).
	image string,
) (*dagger.File, error) {
	_, e, err := m.loadEnvironment(ctx, env)
	if err != nil {
		return nil, err
	}
	rendered, err := m.renderTaskDefinition(ctx, e, image)
	if err != nil {
		return nil, err
	}
	data, err := rendered.Definition.CanonicalJSON()
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
	f, err := m.loadConfig(ctx)
	if err != nil {
		return "", err
	}
	rep, err := precheck.Run(ctx, f, m.reader(ctx))
	if err != nil {
		return "", err
	}
	if !skipIacScan {
		iac, err := m.scanTemplates(ctx, f)
		if err != nil {
			return "", err
		}
		rep = policy.Merge(rep, iac)
	}
	return renderPolicy(f, rep, format, reportOnly)
}

// Audit runs the security rules on what runs in an environment, through read-only
// Describe/Get/List calls: the cluster, the service, its task definition, the ECR repository,
// security groups, subnets and route tables, the task and execution role policies, and the
// account's detectors (CloudTrail, GuardDuty, Security Hub, AWS Config, Inspector).
//
// +cache="never"
func (m *Fargate) Audit(
	ctx context.Context,
	// Environment to audit.
	env Environment,
	// Output format: text, json or sarif.
	// +default="text"
	format Format,
	// Return the report without failing on findings.
	// +optional
	reportOnly bool,
) (string, error) {
	f, e, err := m.awsEnvironment(ctx, env)
	if err != nil {
		return "", err
	}
	cfg, err := m.awsConfig(ctx, e.Region)
	if err != nil {
		return "", err
	}
	rep, err := live.Audit(ctx, cfg, live.AuditTarget{
		Cluster:      e.Cluster,
		Service:      e.Service,
		Container:    e.Container,
		Repository:   f.Registry.Repository,
		Env:          e.Name,
		RequiredTags: f.Policy.RequiredTags,
		Suppressions: precheck.Suppressions(f),
	})
	if err != nil {
		return "", fmt.Errorf("audit %s: %w", e.Name, err)
	}
	sup, err := policy.ParseSuppressions(precheck.Suppressions(f))
	if err != nil {
		return "", err
	}
	account, err := detectors.Audit(ctx, cfg, e.Region)
	if err != nil {
		// The service's audit stands; say what could not be read rather than losing it.
		account = []detectors.Finding{{Rule: "FG-ACCT-000", Severity: "medium", Resource: "account/" + e.Region,
			Message: "the account-level detectors could not be read: " + err.Error(), Remediation: "grant the audit role read access to CloudTrail, GuardDuty, Security Hub, AWS Config and Inspector, then run audit again"}}
	}
	rep = policy.Merge(rep, policy.NewReport(detectors.Findings(account), sup, time.Time{}))
	return renderPolicy(f, rep, format, reportOnly)
}

// ---------------------------------------------------------------------------------------
// wiring

// loadEnvironment loads the file and one of its environments.
func (m *Fargate) loadEnvironment(ctx context.Context, env Environment) (*config.File, config.Environment, error) {
	f, err := m.loadConfig(ctx)
	if err != nil {
		return nil, config.Environment{}, err
	}
	e, err := f.Environment(string(env))
	if err != nil {
		return nil, config.Environment{}, err
	}
	return f, e, nil
}

// awsEnvironment loads the file and an AWS environment (not local).
func (m *Fargate) awsEnvironment(ctx context.Context, env Environment) (*config.File, config.Environment, error) {
	f, e, err := m.loadEnvironment(ctx, env)
	if err != nil {
		return nil, config.Environment{}, err
	}
	if e.IsLocal() {
		var aws []string
		for _, n := range f.EnvironmentNames() {
			if n != config.EnvLocal {
				aws = append(aws, n)
			}
		}
		return nil, config.Environment{}, fmt.Errorf("--env local runs without AWS; this function needs an AWS environment (%s)", strings.Join(aws, ", "))
	}
	return f, e, nil
}

// awsConfig builds the AWS configuration from the credential secrets. The secrets' values
// stay in memory; they are never logged or put in a report.
func (m *Fargate) awsConfig(ctx context.Context, region string) (aws.Config, error) {
	opts := awsconf.Options{Region: orDefault(m.AwsRegion, region), Endpoint: m.AwsEndpoint}
	read := func(s *dagger.Secret) (string, error) {
		if s == nil {
			return "", nil
		}
		return s.Plaintext(ctx)
	}
	var err error
	if opts.AccessKeyID, err = read(m.AwsAccessKeyID); err != nil {
		return aws.Config{}, fmt.Errorf("read --aws-access-key-id: %w", err)
	}
	if opts.SecretAccessKey, err = read(m.AwsSecretAccessKey); err != nil {
		return aws.Config{}, fmt.Errorf("read --aws-secret-access-key: %w", err)
	}
	if opts.SessionToken, err = read(m.AwsSessionToken); err != nil {
		return aws.Config{}, fmt.Errorf("read --aws-session-token: %w", err)
	}
	opts.AccessKeyID = strings.TrimSpace(opts.AccessKeyID)
	opts.SecretAccessKey = strings.TrimSpace(opts.SecretAccessKey)
	opts.SessionToken = strings.TrimSpace(opts.SessionToken)
	if opts.AccessKeyID == "" {
		if m.AwsEndpoint == "" {
			return aws.Config{}, errors.New("AWS credentials are required: pass --aws-access-key-id env:AWS_ACCESS_KEY_ID --aws-secret-access-key env:AWS_SECRET_ACCESS_KEY (and --aws-session-token env:AWS_SESSION_TOKEN for temporary credentials) before the function name")
		}
		// An endpoint override (LocalStack and similar) accepts any credentials.
		opts.AccessKeyID, opts.SecretAccessKey = "test", "test"
	}
	return awsconf.Load(ctx, opts)
}

func (m *Fargate) loadConfig(ctx context.Context) (*config.File, error) {
	data, err := m.Source.File(m.Config).Contents(ctx)
	if err != nil {
		return nil, fmt.Errorf("read environments file %s from the source directory: %w", m.Config, err)
	}
	return config.Parse(m.Config, []byte(data))
}

// reader reads files named relative to the environments file.
func (m *Fargate) reader(ctx context.Context) precheck.ReadFunc {
	return func(rel string) ([]byte, error) { return m.readSource(ctx, rel) }
}

// readSource reads a file named relative to the environments file.
func (m *Fargate) readSource(ctx context.Context, rel string) ([]byte, error) {
	p := sourcePath(m.Config, rel)
	data, err := m.Source.File(p).Contents(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return []byte(data), nil
}

// sourcePath is rel, written in the environments file, as a path in the source directory.
func sourcePath(configPath, rel string) string { return config.Resolve(configPath, rel) }

func (m *Fargate) build(ctx context.Context, f *config.File, platform dagger.Platform) (*dagger.Container, error) {
	if platform == "" {
		platform = dagger.Platform(f.App.Platforms[0])
	}
	switch platform {
	case "linux/amd64", "linux/arm64":
	default:
		return nil, fmt.Errorf("build: platform %q is not supported by Fargate (expected linux/amd64 or linux/arm64)", platform)
	}
	created := time.Now().UTC().Format(time.RFC3339)
	args := []dagger.BuildArg{
		{Name: "VERSION", Value: m.GitRevision},
		{Name: "REVISION", Value: m.GitRevision},
		{Name: "CREATED", Value: created},
	}
	for _, k := range sortedKeys(f.App.BuildArgs) {
		args = append(args, dagger.BuildArg{Name: k, Value: f.App.BuildArgs[k]})
	}
	if m.SourceURL != "" {
		args = append(args, dagger.BuildArg{Name: "SOURCE", Value: m.SourceURL})
	}
	if m.BuilderImage != "" {
		args = append(args, dagger.BuildArg{Name: "BUILDER_IMAGE", Value: m.BuilderImage})
	}
	if m.RuntimeImage != "" {
		args = append(args, dagger.BuildArg{Name: "RUNTIME_IMAGE", Value: m.RuntimeImage})
	}
	img := m.Source.Directory(sourcePath(m.Config, f.App.Context)).DockerBuild(dagger.DirectoryDockerBuildOpts{
		Dockerfile: f.App.Dockerfile,
		Platform:   platform,
		BuildArgs:  args,
	}).
		WithLabel("org.opencontainers.image.title", f.App.Name).
		WithLabel("org.opencontainers.image.revision", m.GitRevision).
		WithLabel("org.opencontainers.image.created", created)
	if m.SourceURL != "" {
		img = img.WithLabel("org.opencontainers.image.source", m.SourceURL)
	}
	user, err := img.User(ctx)
	if err != nil {
		return nil, fmt.Errorf("build %s for %s: %w", f.App.Name, platform, err)
	}
	if err := imageuser.CheckNonRoot("the final image of "+f.App.Dockerfile, user); err != nil {
		return nil, fmt.Errorf("build %s: %w (set a numeric non-root USER in the final stage, e.g. USER 65532:65532)", f.App.Name, err)
	}
	return img, nil
}

// trivyBase is the Trivy container with a cache volume at Trivy's cache directory. The
// volume is locked: two Trivy processes must not share a cache directory at once.
func (m *Fargate) trivyBase(cache string) *dagger.Container {
	return dag.Container().From(m.TrivyImage).
		WithMountedCache(scan.DefaultCacheDir, dag.CacheVolume(cache), dagger.ContainerWithMountedCacheOpts{Sharing: dagger.CacheSharingModeLocked})
}

// trivy returns the Trivy container with the image tarball mounted. The vulnerability scan
// and the SBOM use separate caches so that they run at the same time.
func (m *Fargate) trivy(img *dagger.Container, cache string) *dagger.Container {
	// The scan's result is cached by Dagger like any exec; the day in the environment makes a
	// new scan (with a fresh DB) at most once a day for the same image.
	return m.trivyBase(cache).
		WithMountedFile(scan.DefaultImageInput, img.AsTarball()).
		WithEnvVariable("FARGATE_SCAN_DAY", time.Now().UTC().Format(time.DateOnly))
}

func (m *Fargate) trivyOptions() scan.TrivyOptions {
	o := scan.TrivyOptions{SkipDBUpdate: m.TrivySkipDBUpdate}
	if m.TrivyDBRepository != "" {
		o.DBRepositories = strings.Split(m.TrivyDBRepository, ",")
	}
	return o
}

// scanResult is a scan's report, decision and rendered outputs.
type scanResult struct {
	decision *scan.Decision
	summary  string
	report   string
	sarif    string
}

func (r *scanResult) dir() *dagger.Directory {
	return dag.Directory().
		WithNewFile("summary.txt", r.summary).
		WithNewFile("trivy.json", r.report).
		WithNewFile("trivy.sarif", r.sarif)
}

func (m *Fargate) scanImage(ctx context.Context, f *config.File, e config.Environment, img *dagger.Container) (*scanResult, error) {
	gateCfg := f.ScanGate(e)
	failOn, err := scan.ParseSeverities("scan.failOn", gateCfg.FailOn)
	if err != nil {
		return nil, err
	}
	gate := scan.Gate{FailOn: failOn, IgnoreUnfixed: gateCfg.IgnoreUnfixed}
	if gateCfg.IgnoreFile != "" {
		data, err := m.readSource(ctx, gateCfg.IgnoreFile)
		if err != nil {
			return nil, err
		}
		gate.Ignores, err = scan.ParseIgnoreFile(gateCfg.IgnoreFile, data)
		if err != nil {
			return nil, err
		}
	}
	args, err := scan.ImageScanArgs(scan.ImageScanOptions{TrivyOptions: m.trivyOptions()})
	if err != nil {
		return nil, err
	}
	report, err := m.trivy(img, "fargate-trivy-cache").
		WithExec(args).
		File(scan.DefaultReportPath).
		Contents(ctx)
	if err != nil {
		return nil, fmt.Errorf("trivy scan: %w", err)
	}
	parsed, err := scan.Parse(strings.NewReader(report))
	if err != nil {
		return nil, fmt.Errorf("read trivy report: %w", err)
	}
	decision := scan.Evaluate(parsed, gate)
	sarif, err := scan.SARIF(parsed, decision)
	if err != nil {
		return nil, err
	}
	return &scanResult{decision: decision, summary: scan.Summary(decision), report: report, sarif: string(sarif)}, nil
}

func (m *Fargate) sbom(img *dagger.Container) (*dagger.File, error) {
	args, err := scan.SBOMArgs(scan.SBOMOptions{TrivyOptions: m.trivyOptions()})
	if err != nil {
		return nil, err
	}
	return m.trivy(img, "fargate-trivy-sbom-cache").WithExec(args).File(scan.DefaultSBOMPath), nil
}

func (m *Fargate) renderTaskDefinition(ctx context.Context, e config.Environment, image string) (*taskdef.Rendered, error) {
	def, err := m.taskDefinition(ctx, e)
	if err != nil {
		return nil, err
	}
	return def.Render(taskdef.RenderOptions{Containers: []string{e.Container}, Image: image})
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// renderPolicy renders a policy report and fails when it crosses the threshold.
func renderPolicy(f *config.File, rep policy.Report, format Format, reportOnly bool) (string, error) {
	pf, err := policy.ParseFormat(string(format))
	if err != nil {
		return "", err
	}
	threshold, err := policy.ParseSeverity(f.Policy.Threshold)
	if err != nil {
		return "", fmt.Errorf("policy.threshold: %w", err)
	}
	var b strings.Builder
	if err := policy.Render(&b, rep, pf); err != nil {
		return "", err
	}
	if rep.Failed(threshold) && !reportOnly {
		return "", fmt.Errorf("policy check failed (threshold %s):\n%s", f.Policy.Threshold, b.String())
	}
	return b.String(), nil
}

// Deploy runs the whole chain for one environment and returns the Markdown report.
//
//   - local: build → scan gate + SBOM → push to a registry running as a Dagger service →
//     sign with an ephemeral key and verify → render and check the task definition → start
//     the container with the task definition's settings and probe its health endpoint.
//     No AWS account needed.
//   - preprod: build → scan gate + SBOM → publish to ECR by digest → sign → verify →
//     render → policy check → register → update service (circuit breaker with rollback) →
//     wait for this deployment → roll back on failure.
//   - prod: no rebuild: promotes the digest running, completed and verified, in the
//     environment it promotes from; verifies signature and attestations again; requires
//     --approved-by when the environment requires approval.
//
// It fails unless the deploy completed; the error then carries the report, which says where
// the service ended (rolled back to family:N, or not changed) and why.
//
// +cache="never"
func (m *Fargate) Deploy(
	ctx context.Context,
	// Environment to deploy: local, preprod or prod.
	env Environment,
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
	// Access key ID for the environment prod promotes from, when it is another account.
	// +optional
	sourceAwsAccessKeyID *dagger.Secret,
	// Secret access key for the source environment.
	// +optional
	sourceAwsSecretAccessKey *dagger.Secret,
	// Session token for the source environment.
	// +optional
	sourceAwsSessionToken *dagger.Secret,
) (string, error) {
	if strings.TrimSpace(breakGlass) != "" && len(strings.TrimSpace(breakGlass)) < 10 {
		return "", fmt.Errorf("--break-glass: give a real reason (at least 10 characters); it is recorded in the report")
	}
	return m.deploy(ctx, deployRequest{
		env:            env,
		image:          image,
		approvedBy:     approvedBy,
		approvalReason: approvalReason,
		breakGlass:     strings.TrimSpace(breakGlass),
		waitInProgress: waitForInProgress,
		keys:           signingKeys{key: cosignKey, password: cosignPassword, publicKey: cosignPublicKey, oidcToken: oidcToken},
		source:         sourceCredentials{accessKeyID: sourceAwsAccessKeyID, secretAccessKey: sourceAwsSecretAccessKey, sessionToken: sourceAwsSessionToken},
	})
}

// Publish builds the image for every platform of the environments file, makes sure the ECR
// repository exists with scan on push, immutable tags, KMS encryption and a lifecycle
// policy, and pushes the image with the git revision as tag. Returns the digest reference
// (repo@sha256:...). A revision already published is reused, never overwritten.
//
// +cache="never"
func (m *Fargate) Publish(
	ctx context.Context,
	// Environment whose region and account receive the image.
	// +default="preprod"
	env Environment,
) (string, error) {
	f, e, err := m.awsEnvironment(ctx, env)
	if err != nil {
		return "", err
	}
	cfg, err := m.awsConfig(ctx, e.Region)
	if err != nil {
		return "", err
	}
	r := newRun(e.Name)
	if _, err := m.checkAccount(ctx, r, ecs.New(cfg, ecs.Options{}), e); err != nil {
		return "", err
	}
	variants, err := m.buildAll(ctx, r, f)
	if err != nil {
		return "", err
	}
	login, err := m.loginECR(ctx, cfg)
	if err != nil {
		return "", err
	}
	return m.publishECR(ctx, f, e, cfg, login, variants, r.Logf)
}

// Sign signs an image by digest with the environments file's signing mode (key, AWS KMS or
// keyless), and attaches its SBOM and scan result as attestations.
//
// +cache="never"
func (m *Fargate) Sign(
	ctx context.Context,
	// Image to sign, by digest: repo@sha256:...
	image string,
	// Environment whose registry holds the image.
	// +default="preprod"
	env Environment,
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
	f, e, err := m.awsEnvironment(ctx, env)
	if err != nil {
		return "", err
	}
	cfg, err := m.awsConfig(ctx, e.Region)
	if err != nil {
		return "", err
	}
	cos, err := m.cosignForECR(ctx, f, e.Region, cfg, signingKeys{key: cosignKey, password: cosignPassword, oidcToken: oidcToken})
	if err != nil {
		return "", err
	}
	img, err := m.build(ctx, f, dagger.Platform(f.App.Platforms[0]))
	if err != nil {
		return "", err
	}
	scanned, err := m.scanImage(ctx, f, e, img)
	if err != nil {
		return "", err
	}
	sbom, err := m.sbom(img)
	if err != nil {
		return "", err
	}
	gate, err := scan.Predicate(scanned.decision, "trivy", time.Now().UTC())
	if err != nil {
		return "", err
	}
	if err := cos.sign(ctx, image, sbom, gate); err != nil {
		return "", err
	}
	return "signed " + image + " with " + cos.keyDesc + "; SBOM and scan attestations attached", nil
}

// Verify verifies an image's signature against the configured identity (public key, KMS
// key, or keyless certificate identity and issuer) and its SBOM and scan attestations.
//
// +cache="never"
func (m *Fargate) Verify(
	ctx context.Context,
	// Image to verify, by digest: repo@sha256:...
	image string,
	// Environment whose registry holds the image.
	// +default="preprod"
	env Environment,
	// cosign public key (mode key).
	// +optional
	cosignPublicKey *dagger.File,
) (string, error) {
	f, e, err := m.awsEnvironment(ctx, env)
	if err != nil {
		return "", err
	}
	cfg, err := m.awsConfig(ctx, e.Region)
	if err != nil {
		return "", err
	}
	cos, err := m.cosignForECR(ctx, f, e.Region, cfg, signingKeys{publicKey: cosignPublicKey})
	if err != nil {
		return "", err
	}
	identity, err := cos.verifySignature(ctx, image)
	if err != nil {
		return "", err
	}
	if err := cos.verifyAttestations(ctx, image); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: signature verified (%s); SBOM and scan attestations verified", image, identity), nil
}

// Rollback returns an environment's service to the previous task definition revision, or to
// --to family:revision, through the same wait as deploy.
//
// +cache="never"
func (m *Fargate) Rollback(
	ctx context.Context,
	// Environment to roll back.
	env Environment,
	// Revision to return to (family:revision or ARN); default: the revision before the running one.
	// +optional
	to string,
) (string, error) {
	_, e, err := m.awsEnvironment(ctx, env)
	if err != nil {
		return "", err
	}
	cfg, err := m.awsConfig(ctx, e.Region)
	if err != nil {
		return "", err
	}
	r := newRun(e.Name)
	r.Service = e.Cluster + "/" + e.Service
	res, err := ecs.New(cfg, ecs.Options{Log: r}).Rollback(ctx, ecs.RollbackOptions{
		Cluster: e.Cluster, Service: e.Service, To: to, ExpectedAccount: m.expectedAccount(r, e),
		Timeout: e.Timeout(), DisableCircuitBreaker: !e.CircuitBreakerEnabled(),
	})
	return ended(r, res, err)
}

// Status shows an environment's service: its deployments with counts and rollout state, the
// task definition and image digest it runs, and its recent events.
//
// +cache="never"
func (m *Fargate) Status(
	ctx context.Context,
	// Environment to show.
	env Environment,
) (string, error) {
	_, e, err := m.awsEnvironment(ctx, env)
	if err != nil {
		return "", err
	}
	cfg, err := m.awsConfig(ctx, e.Region)
	if err != nil {
		return "", err
	}
	st, err := ecs.New(cfg, ecs.Options{}).Status(ctx, e.Cluster, e.Service)
	if err != nil {
		return "", err
	}
	return st.String(), nil
}

// Diff shows, as a unified diff, how the task definition deploy would register differs from
// the one the service runs.
//
// +cache="never"
func (m *Fargate) Diff(
	ctx context.Context,
	// Environment to compare.
	env Environment,
	// Image to render into the definition (repo@sha256:...); default: the image the service runs.
	// +optional
	image string,
) (string, error) {
	_, e, err := m.awsEnvironment(ctx, env)
	if err != nil {
		return "", err
	}
	cfg, err := m.awsConfig(ctx, e.Region)
	if err != nil {
		return "", err
	}
	engine := ecs.New(cfg, ecs.Options{})
	if image == "" {
		current, err := engine.CurrentImage(ctx, e.Cluster, e.Service, e.Container)
		if err != nil {
			return "", err
		}
		image = current.Image
	}
	rendered, err := m.renderTaskDefinition(ctx, e, image)
	if err != nil {
		return "", err
	}
	diff, err := engine.Diff(ctx, e.Cluster, e.Service, rendered.Definition)
	if err != nil {
		return "", err
	}
	if diff == "" {
		return "no difference: the rendered task definition matches the one running", nil
	}
	return diff, nil
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
	// Environment whose stack to deploy (its infra block in the environments file).
	env Environment,
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
	f, e, err := m.awsEnvironment(ctx, env)
	if err != nil {
		return "", err
	}
	if e.Infra == nil {
		return "", fmt.Errorf("environments.%s.infra: not set in %s (expected template, stackName and parameters)", e.Name, f.Path)
	}
	params := mergeMaps(e.Infra.Parameters, nil)
	for i, p := range parameter {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return "", fmt.Errorf("--parameter[%d] %q: expected Key=Value", i, p)
		}
		params[k] = v
	}
	body, err := m.readSource(ctx, e.Infra.Template)
	if err != nil {
		return "", err
	}
	cfg, err := m.awsConfig(ctx, e.Region)
	if err != nil {
		return "", err
	}
	r := newRun(e.Name)
	opts := infra.Options{
		StackName:             e.Infra.StackName,
		TemplateBody:          string(body),
		Parameters:            params,
		Tags:                  e.Tags,
		AllowReplacement:      allowReplacement,
		PlanOnly:              plan,
		TerminationProtection: e.Name == config.EnvProd,
		Logger:                r.Logf,
	}
	var res infra.Result
	if plan {
		res, err = infra.Plan(ctx, cfg, opts)
	} else {
		res, err = infra.Apply(ctx, cfg, opts)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "stack %s (%s)\n%s", e.Infra.StackName, orDefault(res.Operation, "not started"), infra.FormatChanges(res.Changes))
	if err != nil {
		return "", fmt.Errorf("infra %s: %w\n%s", e.Name, err, b.String())
	}
	switch {
	case res.NoChanges:
		b.WriteString("no changes: the stack matches the template and parameters\n")
	case plan:
		b.WriteString("plan only: the change set was shown and deleted; nothing was executed\n")
	default:
		fmt.Fprintf(&b, "executed: stack is %s\n", res.FinalStatus)
		for _, k := range sortedKeys(res.Outputs) {
			fmt.Fprintf(&b, "  %s = %s\n", k, res.Outputs[k])
		}
	}
	return b.String(), nil
}

// scanTemplates runs Trivy's IaC scan on the directories of the environments' templates and
// returns its failed checks as FG-IAC-001 findings.
func (m *Fargate) scanTemplates(ctx context.Context, f *config.File) (policy.Report, error) {
	dirs := map[string]bool{}
	for _, name := range f.EnvironmentNames() {
		if e := f.Environments[name]; e.Infra != nil {
			dirs[path.Dir(sourcePath(m.Config, e.Infra.Template))] = true
		}
	}
	args, err := infra.TrivyConfigArgs("/src", "", scan.ConfigScanOptions{TrivyOptions: m.trivyOptions(), SkipCheckUpdate: m.TrivySkipDBUpdate})
	if err != nil {
		return policy.Report{}, err
	}
	var reports []policy.Report
	for _, dir := range slices.Sorted(maps.Keys(dirs)) {
		out, err := m.trivyBase("fargate-trivy-cache").
			WithMountedDirectory("/src", m.Source.Directory(dir)).
			WithExec(args).
			File(infra.DefaultIaCReportPath).
			Contents(ctx)
		if err != nil {
			return policy.Report{}, fmt.Errorf("trivy config scan of %s: %w", dir, err)
		}
		decision, err := infra.EvaluateIaCReport(strings.NewReader(out), scan.Gate{FailOn: scan.AllSeverities})
		if err != nil {
			return policy.Report{}, fmt.Errorf("trivy config scan of %s: %w", dir, err)
		}
		rep, err := precheck.IaC(f, decision)
		if err != nil {
			return policy.Report{}, err
		}
		reports = append(reports, rep)
	}
	return policy.Merge(reports...), nil
}
