package chain

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/ecr"
	"dagger/fargate/pipeline/imageuser"
	"dagger/fargate/pipeline/report"
	"dagger/fargate/pipeline/scan"
)

// Build builds the image for the given platform (default: the file's first) and refuses an
// image that would run as root.
func (s *Session) Build(ctx context.Context, f *config.File, platforms []string) ([]Built, error) {
	if len(platforms) == 0 {
		platforms = f.App.Platforms
	}
	spec, err := s.buildSpec(f, platforms)
	if err != nil {
		return nil, err
	}
	built, err := s.Steps.Build(ctx, spec)
	if err != nil {
		return nil, failedStep(report.FailedToBuild, fmt.Errorf("build %s: %w", f.App.Name, err))
	}
	for _, b := range built {
		if err := imageuser.CheckNonRoot("the final image of "+f.App.Dockerfile+" for "+b.Platform, b.User); err != nil {
			return nil, fmt.Errorf("build %s: %w (set a numeric non-root USER in the final stage, e.g. USER 65532:65532)", f.App.Name, err)
		}
	}
	return built, nil
}

// Trivy's cache volumes: the image scan's (with the vulnerability DB), and the SBOM's (the
// sbom function analyses the image on its own; a deploy converts the scan's report).
const (
	TrivyCache     = "fargate-trivy-cache"
	TrivySBOMCache = "fargate-trivy-sbom-cache"
)

// ScanResult is a scan's decision and its rendered outputs.
type ScanResult struct {
	Decision *scan.Decision
	Summary  string
	Report   []byte
	SARIF    []byte
	// GateJSON is the gate's decision (scan.GatePredicate: "pass", counts, failing IDs); set
	// by ScanImage.
	GateJSON []byte
}

// Gate returns the scan gate's failure, or nil when it passed.
func (r *ScanResult) Gate() error {
	if r.Decision.Pass {
		return nil
	}
	return fmt.Errorf("scan gate failed:\n%s", r.Summary)
}

// scanGate is the environment's scan gate, with its ignore file.
func (s *Session) scanGate(ctx context.Context, f *config.File, e config.Environment) (scan.Gate, error) {
	cfg := f.ScanGate(e)
	failOn, err := scan.ParseSeverities("scan.failOn", cfg.FailOn)
	if err != nil {
		return scan.Gate{}, err
	}
	gate := scan.Gate{FailOn: failOn, IgnoreUnfixed: cfg.IgnoreUnfixed, Now: s.now()}
	if cfg.IgnoreFile != "" {
		data, err := s.ReadSource(ctx, cfg.IgnoreFile)
		if err != nil {
			return scan.Gate{}, err
		}
		if gate.Ignores, err = scan.ParseIgnoreFile(cfg.IgnoreFile, data); err != nil {
			return scan.Gate{}, err
		}
	}
	return gate, nil
}

// Scan scans the first built variant with Trivy and applies the environment's gate.
func (s *Session) Scan(ctx context.Context, f *config.File, e config.Environment) (*ScanResult, error) {
	gate, err := s.scanGate(ctx, f, e)
	if err != nil {
		return nil, err
	}
	args, err := scan.ImageScanArgs(scan.ImageScanOptions{TrivyOptions: s.Trivy, ListAllPackages: true})
	if err != nil {
		return nil, err
	}
	raw, err := s.Steps.Trivy(ctx, TrivyRun{
		Args: args, Output: scan.DefaultReportPath, ImageInput: scan.DefaultImageInput, Cache: TrivyCache,
		Env: [][2]string{{"FARGATE_SCAN_DAY", s.now().Format(time.DateOnly)}},
	})
	if err != nil {
		return nil, failedStep(report.FailedBeforeDeploy, fmt.Errorf("trivy scan: %w", err))
	}
	parsed, err := scan.Parse(strings.NewReader(string(raw)))
	if err != nil {
		return nil, failedStep(report.FailedBeforeDeploy, fmt.Errorf("read trivy report: %w", err))
	}
	decision := scan.Evaluate(parsed, gate)
	sarif, err := scan.SARIF(parsed, decision)
	if err != nil {
		return nil, err
	}
	return &ScanResult{Decision: decision, Summary: scan.Summary(decision), Report: raw, SARIF: sarif}, nil
}

// SBOM produces the CycloneDX SBOM of the first built variant.
func (s *Session) SBOM(ctx context.Context) error {
	args, err := scan.SBOMArgs(scan.SBOMOptions{TrivyOptions: s.Trivy})
	if err != nil {
		return err
	}
	if _, err := s.Steps.Trivy(ctx, TrivyRun{Args: args, Output: scan.DefaultSBOMPath, ImageInput: scan.DefaultImageInput, Cache: TrivySBOMCache, SBOM: true}); err != nil {
		return failedStep(report.FailedBeforeDeploy, fmt.Errorf("sbom: %w", err))
	}
	return nil
}

// sbomFromReport renders the CycloneDX SBOM from the scan's JSON report (trivy convert): the
// image is analysed once per run, by the scan.
func (s *Session) sbomFromReport(ctx context.Context, scanReport []byte) error {
	args, err := scan.SBOMFromReportArgs(scan.DefaultReportPath, scan.DefaultSBOMPath)
	if err != nil {
		return err
	}
	run := TrivyRun{Args: args, Output: scan.DefaultSBOMPath, Cache: TrivySBOMCache, SBOM: true,
		Inputs: []TrivyInput{{Path: scan.DefaultReportPath, Data: scanReport}}}
	if _, err := s.Steps.Trivy(ctx, run); err != nil {
		return failedStep(report.FailedBeforeDeploy, fmt.Errorf("sbom: %w", err))
	}
	return nil
}

// buildAndScan builds every platform, scans the image (one Trivy analysis of its tarball),
// renders the SBOM from that scan's report, and applies the scan gate (break-glass can
// bypass it; an SBOM failure cannot).
func (s *Session) buildAndScan(ctx context.Context, r *report.Recorder, f *config.File, e config.Environment, bg report.BreakGlassRequest) (_ *ScanResult, rerr error) {
	bctx, endBuild := r.Phase(ctx, "build")
	_, err := s.Build(bctx, f, nil)
	endBuild(err)
	if err != nil {
		return nil, err
	}
	r.Platforms = f.App.Platforms
	r.Logf("build: %s built for %s, runs as a non-root user", f.App.Name, strings.Join(f.App.Platforms, ", "))
	ctx, endScan := r.Phase(ctx, "scan + SBOM")
	defer func() { endScan(rerr) }()
	scanned, err := s.Scan(ctx, f, e)
	if err != nil {
		return nil, err
	}
	if err := s.sbomFromReport(ctx, scanned.Report); err != nil {
		return nil, err
	}
	r.SBOM = &report.SBOM{Produced: true, Format: "cyclonedx"}
	r.Scan = scanSummary(scanned.Decision)
	r.Logf("scan: %s", firstLine(scanned.Summary))
	if err := r.Gate(ctx, "scan", scanned.Gate(), bg); err != nil {
		return nil, err
	}
	return scanned, nil
}

// ecrLogin logs in to an environment's ECR registry.
func ecrLogin(ctx context.Context, cfg aws.Config) (*ecr.Credentials, error) {
	creds, err := ecr.New(cfg).Login(ctx)
	if err != nil {
		return nil, failedStep(report.FailedBeforeDeploy, fmt.Errorf("log in to ECR: %w", err))
	}
	return &creds, nil
}

// publishECR makes sure the repository exists as policy wants it, then pushes the image (all
// its platforms) with the revision as tag and returns the digest reference, and whether it
// was already there. A revision already published is not pushed again: its digest is
// reused, never overwritten.
func (s *Session) publishECR(ctx context.Context, r *report.Recorder, f *config.File, e config.Environment, cfg aws.Config, login *ecr.Credentials) (string, bool, error) {
	client := ecr.New(cfg)
	repo, err := client.EnsureRepository(ctx, ecr.RepositoryOptions{
		Name:       f.Registry.Repository,
		KMSKey:     f.Registry.KMSKey,
		KeepImages: f.Registry.KeepImages,
		Tags:       e.Tags,
	})
	if err != nil {
		return "", false, failedStep(report.FailedBeforeDeploy, fmt.Errorf("ECR repository %s: %w", f.Registry.Repository, err))
	}
	for _, c := range repo.Changes {
		r.Logf("ecr: %s", c)
	}
	for _, fd := range repo.Findings {
		r.Logf("ecr: %s: %s", strings.Join(fd.Controls, ", "), fd.Message)
	}
	repoRef := login.Registry + "/" + f.Registry.Repository
	tag := ecr.ImageTag(s.GitRevision, s.now())
	digest, found, err := client.TagDigest(ctx, f.Registry.Repository, tag)
	if err != nil {
		return "", false, failedStep(report.FailedBeforeDeploy, fmt.Errorf("look up %s:%s: %w", repoRef, tag, err))
	}
	if found {
		r.Logf("ecr: %s:%s already exists as %s; reusing it (tags are immutable; a second build of one revision is not pushed)", repoRef, tag, digest)
		return repoRef + "@" + digest, true, nil
	}
	digest, err = s.Steps.Push(ctx, PushTarget{Address: repoRef + ":" + tag, ECR: login})
	if err != nil {
		return "", false, failedStep(report.FailedBeforeDeploy, fmt.Errorf("push %s:%s: %w", repoRef, tag, err))
	}
	if err := client.CheckTag(ctx, f.Registry.Repository, tag, digest); err != nil {
		return "", false, err
	}
	r.Logf("ecr: pushed %s:%s as %s", repoRef, tag, digest)
	return repoRef + "@" + digest, false, nil
}

func scanSummary(d *scan.Decision) *report.Scan {
	s := &report.Scan{Counts: map[string]int{}, Passed: d.Pass, Ignored: len(d.Suppressed)}
	for sev, n := range d.Counts {
		s.Counts[sev.Label()] = n
	}
	for _, sev := range d.FailOn {
		s.FailOn = append(s.FailOn, sev.Label())
	}
	for _, fd := range d.Failing {
		s.Blocking = append(s.Blocking, fd.Rule+" "+fd.Package)
	}
	for _, x := range d.Expired {
		s.ExpiredIgnores = append(s.ExpiredIgnores, x.Finding.Rule+" (ignore expired "+x.Entry.ExpiryDate()+")")
	}
	slices.Sort(s.Blocking)
	return s
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
