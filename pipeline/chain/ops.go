package chain

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/detectors"
	"dagger/fargate/pipeline/ecs"
	"dagger/fargate/pipeline/infra"
	"dagger/fargate/pipeline/internal/sarif"
	"dagger/fargate/pipeline/policy"
	"dagger/fargate/pipeline/policy/live"
	"dagger/fargate/pipeline/precheck"
	"dagger/fargate/pipeline/report"
	"dagger/fargate/pipeline/scan"
	"dagger/fargate/pipeline/taskdef"
)

// Environments loads and validates the environments file and describes each environment.
func (s *Session) Environments(ctx context.Context) (string, error) {
	f, err := s.LoadConfig(ctx)
	if err != nil {
		return "", err
	}
	return f.Summary(), nil
}

// ScanImage builds the image, scans it and applies the environment's gate. With reportOnly a
// failing gate still returns the result.
func (s *Session) ScanImage(ctx context.Context, env string, platform string, reportOnly bool) (*ScanResult, error) {
	f, e, err := s.loadEnvironment(ctx, env, buildEnv)
	if err != nil {
		return nil, err
	}
	if _, err := s.Build(ctx, f, platforms(platform)); err != nil {
		return nil, err
	}
	res, err := s.Scan(ctx, f, e)
	if err != nil {
		return nil, err
	}
	if err := res.Gate(); err != nil && !reportOnly {
		return nil, err
	}
	// The gate's decision as a file (the attestation predicate), for CI to fail from.
	if res.GateJSON, err = scan.Predicate(res.Decision, "trivy", s.now()); err != nil {
		return nil, err
	}
	return res, nil
}

// BuildImage builds the image for one platform (default: the file's first).
func (s *Session) BuildImage(ctx context.Context, platform string) error {
	f, err := s.LoadConfig(ctx)
	if err != nil {
		return err
	}
	_, err = s.Build(ctx, f, platforms(platform))
	return err
}

// BuildSBOM builds the image for one platform and produces its SBOM.
func (s *Session) BuildSBOM(ctx context.Context, platform string) error {
	f, err := s.LoadConfig(ctx)
	if err != nil {
		return err
	}
	if _, err := s.Build(ctx, f, platforms(platform)); err != nil {
		return err
	}
	return s.SBOM(ctx)
}

func platforms(p string) []string {
	if p == "" {
		return nil
	}
	return []string{p}
}

// Render returns the task definition of an environment with image set on its container.
func (s *Session) Render(ctx context.Context, env, image string) ([]byte, error) {
	_, e, err := s.LoadEnvironment(ctx, env)
	if err != nil {
		return nil, err
	}
	def, err := s.TaskDefinition(ctx, e)
	if err != nil {
		return nil, err
	}
	rendered, err := def.Render(taskdef.RenderOptions{Containers: []string{e.Container}, Image: image})
	if err != nil {
		return nil, err
	}
	return rendered.Definition.CanonicalJSON()
}

// CheckOptions are the options of `check`.
type CheckOptions struct {
	Format      string
	ReportOnly  bool
	SkipIaCScan bool
}

// Check runs the security rules with no AWS call, plus Trivy's IaC scan of the templates.
func (s *Session) Check(ctx context.Context, o CheckOptions) (string, error) {
	f, err := s.LoadConfig(ctx)
	if err != nil {
		return "", err
	}
	rep, err := precheck.Run(ctx, f, func(rel string) ([]byte, error) { return s.ReadSource(ctx, rel) })
	if err != nil {
		return "", err
	}
	if !o.SkipIaCScan {
		iac, err := s.scanTemplates(ctx, f)
		if err != nil {
			return "", err
		}
		rep = policy.Merge(rep, iac)
	}
	out, err := RenderPolicy(f, rep, o.Format, o.ReportOnly)
	if err != nil {
		return "", err
	}
	notes, err := s.unusedSuppressions(f, rep, o.SkipIaCScan)
	if err != nil {
		return "", err
	}
	for _, n := range notes {
		fmt.Fprintln(s.log(), n)
		if o.Format == "text" {
			out += n + "\n"
		}
	}
	return out, nil
}

// unusedSuppressions says which of the file's suppressions matched no finding of check: an
// accepted risk that is gone, or a pattern that never matched, to remove or fix. The IaC
// suppressions are not judged when the IaC scan did not run.
func (s *Session) unusedSuppressions(f *config.File, rep policy.Report, skippedIaC bool) ([]string, error) {
	all := precheck.Suppressions(f)
	var judged []policy.Suppression
	for _, sp := range all {
		if !(skippedIaC && sp.Rule == infra.RuleIaC) {
			judged = append(judged, sp)
		}
	}
	sup, err := policy.ParseSuppressions(judged)
	if err != nil {
		return nil, err
	}
	var notes []string
	for _, u := range sup.Unused(rep.Findings) {
		notes = append(notes, fmt.Sprintf("note: the suppression of %s on %q matched no finding: remove it from %s or fix its resource pattern", u.Rule, u.Resource, f.Path))
	}
	return notes, nil
}

// templatesMount is where the templates directory is mounted in Trivy's container.
const templatesMount = "/src"

// scanTemplates runs Trivy's IaC scan on the directories of the environments' templates and
// returns its failed checks as FG-IAC-001 findings.
func (s *Session) scanTemplates(ctx context.Context, f *config.File) (policy.Report, error) {
	dirs := map[string]bool{}
	for _, name := range f.EnvironmentNames() {
		if e := f.Environments[name]; e.Infra != nil {
			dirs[path.Dir(s.SourcePath(e.Infra.Template))] = true
		}
	}
	args, err := infra.TrivyConfigArgs(templatesMount, infra.DefaultIaCReportPath, scan.ConfigScanOptions{TrivyOptions: s.Trivy, SkipCheckUpdate: s.Trivy.SkipDBUpdate})
	if err != nil {
		return policy.Report{}, err
	}
	var reports []policy.Report
	for _, dir := range slices.Sorted(maps.Keys(dirs)) {
		out, err := s.Steps.Trivy(ctx, TrivyRun{Args: args, Output: infra.DefaultIaCReportPath, SourceDir: dir, SourceMount: templatesMount, Cache: TrivyCache})
		if err != nil {
			return policy.Report{}, fmt.Errorf("trivy config scan of %s: %w", dir, err)
		}
		decision, err := infra.EvaluateIaCReport(strings.NewReader(string(out)), scan.Gate{FailOn: scan.AllSeverities})
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

// RenderPolicy renders a policy report and fails when it crosses the file's threshold
// (unless reportOnly).
func RenderPolicy(f *config.File, rep policy.Report, format string, reportOnly bool) (string, error) {
	pf, err := policy.ParseFormat(format)
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
	failed := rep.Failed(threshold)
	if failed && !reportOnly {
		return "", fmt.Errorf("policy check failed (threshold %s):\n%s", f.Policy.Threshold, b.String())
	}
	if pf == policy.FormatSARIF {
		// The gate's decision travels with the report: CI uploads the SARIF of one run and
		// fails the job from runs[].properties.gate.passed.
		out, err := sarif.WithRunProperty([]byte(b.String()), "gate", map[string]any{"threshold": f.Policy.Threshold, "passed": !failed})
		return string(out), err
	}
	return b.String(), nil
}

// AuditOptions are the options of `audit`.
type AuditOptions struct {
	Env        string
	Format     string
	ReportOnly bool
}

// Audit runs the security rules on what runs in an environment, read-only. What cannot be
// read becomes a finding; the rest of the audit still runs.
func (s *Session) Audit(ctx context.Context, o AuditOptions) (string, error) {
	if _, err := policy.ParseFormat(o.Format); err != nil {
		return "", err
	}
	f, e, cfg, err := s.awsEnvironmentConfig(ctx, o.Env, needEnv)
	if err != nil {
		return "", err
	}
	rep, err := live.Audit(ctx, cfg, live.AuditTarget{
		Cluster:      e.Cluster,
		Service:      e.Service,
		Container:    e.Container,
		Repository:   f.Registry.Repository,
		Env:          e.Name,
		Production:   e.Production,
		RequiredTags: f.Policy.RequiredTags,
		Suppressions: precheck.Suppressions(f),
		Now:          s.now(),
	})
	if err != nil {
		return "", fmt.Errorf("audit %s: %w", e.Name, err)
	}
	sup, err := policy.ParseSuppressions(precheck.Suppressions(f))
	if err != nil {
		return "", err
	}
	account, err := detectors.Audit(ctx, cfg, orDefault(s.Region, e.Region))
	if err != nil {
		// The service's audit stands; say what could not be read rather than losing it.
		account = []detectors.Finding{{Rule: detectors.RulePermission, Severity: detectors.Medium, Resource: "account/" + orDefault(s.Region, e.Region),
			Message: "the account-level detectors could not be read: " + err.Error(), Remediation: "grant the audit role read access to CloudTrail, GuardDuty, Security Hub, AWS Config and Inspector, then run audit again"}}
	}
	rep = policy.Merge(rep, policy.NewReport(detectors.Findings(account), sup, s.now()))
	return RenderPolicy(f, rep, o.Format, o.ReportOnly)
}

// Rollback returns an environment's service to the previous task definition revision, or to
// the one given, through the same wait as deploy, and reports it.
func (s *Session) Rollback(ctx context.Context, env, to string) (string, error) {
	name, _ := ChooseEnvironment(env, s.Environment) // a conflict is bad input below
	r := s.recorder(name)
	r.Action = report.ActionRollback
	_, e, err := s.LoadAWSEnvironment(ctx, env)
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	r.Service = e.Cluster + "/" + e.Service
	cfg, err := s.AWSConfig(ctx, e.Region)
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	res, err := s.engine(cfg, r).Rollback(ctx, ecs.RollbackOptions{
		Cluster: e.Cluster, Service: e.Service, To: to, ExpectedAccount: s.expectedAccount(r, e),
		Timeout: e.Timeout(), DisableCircuitBreaker: !e.CircuitBreakerEnabled(),
	})
	if res != nil && res.Class == ecs.Completed {
		// The revision returned to is the one the rollback deployed; "previous" is where
		// the service came from.
		r.TaskDefinition = taskdef.ShortName(orDefault(res.RegisteredTaskDefinition, res.FinalTaskDefinition))
		r.PreviousTaskDefinition = taskdef.ShortName(res.PreviousTaskDefinition)
		return r.Finish(report.Reverted, res.Outcome, nil)
	}
	return ended(r, res, err)
}

// Status shows an environment's service: deployments, task definition, image and events.
func (s *Session) Status(ctx context.Context, env string) (string, error) {
	_, e, cfg, err := s.awsEnvironmentConfig(ctx, env, needEnv)
	if err != nil {
		return "", err
	}
	st, err := s.engine(cfg, nil).Status(ctx, e.Cluster, e.Service)
	if err != nil {
		return "", err
	}
	return st.String(), nil
}

// Diff shows how the task definition deploy would register differs from the running one.
func (s *Session) Diff(ctx context.Context, env, image string) (string, error) {
	_, e, cfg, err := s.awsEnvironmentConfig(ctx, env, needEnv)
	if err != nil {
		return "", err
	}
	def, err := s.TaskDefinition(ctx, e)
	if err != nil {
		return "", err
	}
	engine := s.engine(cfg, nil)
	if image == "" {
		current, err := engine.CurrentImage(ctx, e.Cluster, e.Service, e.Container)
		if err != nil {
			return "", err
		}
		image = current.Image
	}
	rendered, err := def.Render(taskdef.RenderOptions{Containers: []string{e.Container}, Image: image})
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

// InfraOptions are the options of `infra`.
type InfraOptions struct {
	Env              string
	Plan             bool
	AllowReplacement bool
	// Parameters are Key=Value overrides.
	Parameters []string
}

// Infra validates and deploys an environment's landing zone through a change set.
func (s *Session) Infra(ctx context.Context, o InfraOptions) (string, error) {
	f, e, err := s.LoadAWSEnvironment(ctx, o.Env)
	if err != nil {
		return "", err
	}
	if e.Infra == nil {
		return "", fmt.Errorf("environments.%s.infra: not set in %s (expected template, stackName and parameters)", e.Name, f.Path)
	}
	params := mergeMaps(e.Infra.Parameters, nil)
	for i, p := range o.Parameters {
		k, v, ok := strings.Cut(p, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return "", fmt.Errorf("--parameter[%d] %q: expected Key=Value", i, p)
		}
		params[k] = v
	}
	body, err := s.ReadSource(ctx, e.Infra.Template)
	if err != nil {
		return "", err
	}
	cfg, err := s.AWSConfig(ctx, e.Region)
	if err != nil {
		return "", err
	}
	r := s.recorder(e.Name)
	opts := infra.Options{
		StackName:             e.Infra.StackName,
		TemplateBody:          string(body),
		Parameters:            params,
		Tags:                  e.Tags,
		AllowReplacement:      o.AllowReplacement,
		PlanOnly:              o.Plan,
		TerminationProtection: e.Production,
		Logger:                r.Logf,
		Now:                   s.now, // the session's clock (virtual in tests)
		Sleep:                 s.sleep,
	}
	var res infra.Result
	if o.Plan {
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
	case o.Plan:
		b.WriteString("plan only: the change set was shown and deleted; nothing was executed\n")
	default:
		fmt.Fprintf(&b, "executed: stack is %s\n", res.FinalStatus)
		for _, k := range slices.Sorted(maps.Keys(res.Outputs)) {
			fmt.Fprintf(&b, "  %s = %s\n", k, res.Outputs[k])
		}
	}
	return b.String(), nil
}

// Publish builds every platform, checks the account, ensures the ECR repository and pushes
// the image with the revision as tag; it returns the digest reference.
func (s *Session) Publish(ctx context.Context, env string) (string, error) {
	f, e, cfg, err := s.awsEnvironmentConfig(ctx, env, buildEnv)
	if err != nil {
		return "", err
	}
	r := s.recorder(e.Name)
	if _, err := s.checkAccount(ctx, r, s.engine(cfg, r), e); err != nil {
		return "", err
	}
	if _, err := s.Build(ctx, f, nil); err != nil {
		return "", err
	}
	login, err := ecrLogin(ctx, cfg)
	if err != nil {
		return "", err
	}
	ref, _, err := s.publishECR(ctx, r, f, e, cfg, login)
	return ref, err
}

// imageSigning is what signing or verifying an image in an AWS environment needs.
type imageSigning struct {
	f     *config.File
	e     config.Environment
	cfg   aws.Config
	setup SigningSetup
	sg    signer
}

// imageSigningFor loads an AWS environment and refuses, before any AWS call, an image that is
// not pinned by digest or missing signing material.
func (s *Session) imageSigningFor(ctx context.Context, env, image string, wantSign bool) (*imageSigning, error) {
	f, e, err := s.loadAWSEnvironment(ctx, env, buildEnv)
	if err != nil {
		return nil, err
	}
	if err := requireDigest("image", image); err != nil {
		return nil, err
	}
	setup, sg, err := s.signingPlan(f, orDefault(s.Region, e.Region), false, wantSign)
	if err != nil {
		return nil, err
	}
	cfg, err := s.AWSConfig(ctx, e.Region)
	if err != nil {
		return nil, err
	}
	return &imageSigning{f: f, e: e, cfg: cfg, setup: setup, sg: sg}, nil
}

// ecrSigner logs in to the environment's registry and prepares cosign for it.
func (s *Session) ecrSigner(ctx context.Context, is *imageSigning) (*signer, error) {
	login, err := ecrLogin(ctx, is.cfg)
	if err != nil {
		return nil, err
	}
	return s.prepareSigner(ctx, is.setup, is.sg, login, is.cfg.Credentials)
}

// Sign signs an image by digest (scanning its source build for the scan attestation) and
// attaches the SBOM and scan attestations.
func (s *Session) Sign(ctx context.Context, env, image string) (string, error) {
	is, err := s.imageSigningFor(ctx, env, image, true)
	if err != nil {
		return "", err
	}
	if _, err := s.Build(ctx, is.f, platforms(is.f.App.Platforms[0])); err != nil {
		return "", err
	}
	scanned, err := s.Scan(ctx, is.f, is.e)
	if err != nil {
		return "", err
	}
	if err := s.SBOM(ctx); err != nil {
		return "", err
	}
	gate, err := scan.Predicate(scanned.Decision, "trivy", s.now())
	if err != nil {
		return "", err
	}
	signer, err := s.ecrSigner(ctx, is)
	if err != nil {
		return "", err
	}
	if err := signer.signImage(ctx, image); err != nil {
		return "", err
	}
	if err := signer.attestAll(ctx, image, gate); err != nil {
		return "", err
	}
	return "signed " + image + " with " + signer.keyDesc + "; SBOM and scan attestations attached", nil
}

// Verify verifies an image's signature and its SBOM and scan attestations.
func (s *Session) Verify(ctx context.Context, env, image string) (string, error) {
	is, err := s.imageSigningFor(ctx, env, image, false)
	if err != nil {
		return "", err
	}
	signer, err := s.ecrSigner(ctx, is)
	if err != nil {
		return "", err
	}
	identity, err := signer.verifySignature(ctx, image)
	if err != nil {
		return "", err
	}
	if _, err := signer.verifyAttestations(ctx, image); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: signature verified (%s); SBOM and scan attestations verified", image, identity), nil
}

// Serve builds the image (first platform) and returns the settings to run it with: the task
// definition's container in env.
func (s *Session) Serve(ctx context.Context, env string) (LocalSpec, error) {
	f, e, err := s.loadEnvironment(ctx, env, localEnv)
	if err != nil {
		return LocalSpec{}, err
	}
	def, err := s.TaskDefinition(ctx, e)
	if err != nil {
		return LocalSpec{}, err
	}
	spec, err := s.LocalSpec(def, e, f)
	if err != nil {
		return LocalSpec{}, err
	}
	if _, err := s.Build(ctx, f, platforms(f.App.Platforms[0])); err != nil {
		return LocalSpec{}, err
	}
	return spec, nil
}

// awsEnvironmentConfig loads an AWS environment and the AWS configuration to reach it.
func (s *Session) awsEnvironmentConfig(ctx context.Context, env string, def envDefault) (*config.File, config.Environment, aws.Config, error) {
	f, e, err := s.loadAWSEnvironment(ctx, env, def)
	if err != nil {
		return nil, config.Environment{}, aws.Config{}, err
	}
	cfg, err := s.AWSConfig(ctx, e.Region)
	if err != nil {
		return nil, config.Environment{}, aws.Config{}, err
	}
	return f, e, cfg, nil
}
