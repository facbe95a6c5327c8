package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"golang.org/x/sync/errgroup"

	"dagger/fargate/internal/dagger"

	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/ecr"
	"dagger/fargate/pipeline/ecs"
	"dagger/fargate/pipeline/policy"
	"dagger/fargate/pipeline/precheck"
	"dagger/fargate/pipeline/promote"
	"dagger/fargate/pipeline/report"
	"dagger/fargate/pipeline/scan"
	"dagger/fargate/pipeline/taskdef"
)

// deployRequest is everything `deploy` was asked to do.
type deployRequest struct {
	env            Environment
	image          string
	approvedBy     string
	approvalReason string
	breakGlass     string
	waitInProgress bool
	keys           signingKeys
	source         sourceCredentials
}

// sourceCredentials read the environment prod promotes from, when it is another account.
type sourceCredentials struct {
	accessKeyID, secretAccessKey, sessionToken *dagger.Secret
}

// run is the report being recorded while the chain runs.
type run = report.Recorder

func newRun(env string) *run { return report.NewRecorder(env, os.Stderr, nil) }

// breakGlass is the request's break-glass, for Recorder.Gate.
func (req deployRequest) breakGlassRequest() report.BreakGlassRequest {
	return report.BreakGlassRequest{Reason: req.breakGlass, By: req.approvedBy}
}

func (m *Fargate) deploy(ctx context.Context, req deployRequest) (string, error) {
	r := newRun(string(req.env))
	r.Revision = m.GitRevision
	f, err := m.loadConfig(ctx)
	if err != nil {
		return r.Finish(report.BadInput, "invalid environments file", err)
	}
	e, err := f.Environment(string(req.env))
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	// Bad input stops here, before any build or AWS call: the task definition must parse and
	// name the container, and the approval must be valid.
	def, err := m.taskDefinition(ctx, e)
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	if _, err := def.Render(taskdef.RenderOptions{Containers: []string{e.Container}, Image: "registry.invalid/check@sha256:" + strings.Repeat("0", 64)}); err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	approval := promote.Approval{By: req.approvedBy, Reason: req.approvalReason, At: time.Now().UTC()}
	if req.approvedBy != "" || e.Approval {
		if err := promote.RequireApproval(e.Approval, approval); err != nil {
			return r.Finish(report.Refused, err.Error(), err)
		}
	}
	if e.IsLocal() {
		return m.deployLocal(ctx, r, f, e, def, req)
	}
	r.Service = e.Cluster + "/" + e.Service
	cfg, err := m.awsConfig(ctx, e.Region)
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	engine := ecs.New(cfg, ecs.Options{Log: r})
	// The right account, before anything changes (publishing to ECR included).
	expectedAccount, err := m.checkAccount(ctx, r, engine, e)
	if err != nil {
		var wrong *ecs.WrongAccountError
		if errors.As(err, &wrong) {
			return r.Refuse(err)
		}
		return r.Finish(report.Refused, "could not verify the AWS account: "+err.Error(), err)
	}

	// The service must exist and, unless told to wait, not be mid-deployment: find out before
	// building and publishing anything.
	st, err := engine.Status(ctx, e.Cluster, e.Service)
	if err != nil {
		return r.Refuse(fmt.Errorf("read service %s/%s: %w", e.Cluster, e.Service, err))
	}
	if (len(st.Deployments) > 1 || st.RolloutState == "IN_PROGRESS") && !req.waitInProgress {
		return r.Refuse(fmt.Errorf("%s/%s has a deployment in progress (%d deployments, rollout %s); nothing was changed: retry when it ends, or pass --wait-for-in-progress",
			e.Cluster, e.Service, len(st.Deployments), st.RolloutState))
	}

	var imageRef string
	var extraTags map[string]string
	switch {
	case e.PromoteFrom != "":
		imageRef, extraTags, err = m.promotion(ctx, r, f, e, cfg, req, approval)
		if err != nil {
			return r.Refuse(err)
		}
	case req.image != "":
		imageRef = req.image
		if err := m.verifyGiven(ctx, r, f, e, cfg, req); err != nil {
			return r.Refuse(err)
		}
	default:
		imageRef, err = m.buildPublishSign(ctx, r, f, e, cfg, req)
		if err != nil {
			return r.Refuse(err)
		}
	}
	r.Image = imageRef

	rendered, err := def.Render(taskdef.RenderOptions{Containers: []string{e.Container}, Image: imageRef})
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	for _, w := range rendered.Warnings {
		r.Logf("render: %s", w)
	}
	if err := m.policyGate(ctx, r, f, e, rendered.Definition, req); err != nil {
		return r.Refuse(err)
	}
	tags, err := taskdef.Tags(taskdef.TagInput{Environment: e.Name, GitRevision: m.GitRevision, ImageDigest: rendered.Digest, Extra: mergeMaps(e.Tags, extraTags)})
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	r.Logf("deploy: registering %s and updating %s/%s (timeout %s)", rendered.Definition.Family(), e.Cluster, e.Service, e.Timeout())
	res, err := engine.Deploy(ctx, ecs.DeployOptions{
		Cluster:               e.Cluster,
		Service:               e.Service,
		Definition:            rendered.Definition,
		Tags:                  tags,
		ExpectedAccount:       expectedAccount,
		Timeout:               e.Timeout(),
		DisableCircuitBreaker: !e.CircuitBreakerEnabled(),
		WaitForInProgress:     req.waitInProgress,
	})
	return ended(r, res, err)
}

// checkAccount verifies the credentials' account when the environment names one, and
// returns the account the engine should check again (none with an endpoint override, where
// LocalStack-style fakes answer with their own account).
func (m *Fargate) checkAccount(ctx context.Context, r *run, engine *ecs.Engine, e config.Environment) (string, error) {
	account := m.expectedAccount(r, e)
	if account == "" {
		return "", nil
	}
	if err := engine.VerifyAccount(ctx, account); err != nil {
		return "", err
	}
	r.Logf("account: credentials belong to %s", account)
	return account, nil
}

// expectedAccount is the account the credentials must belong to: the environment's, or none
// with an endpoint override (LocalStack-style fakes answer with their own account).
func (m *Fargate) expectedAccount(r *run, e config.Environment) string {
	if e.AccountID != "" && m.AwsEndpoint != "" {
		r.Logf("account check skipped: AWS calls go to %s, not to account %s", m.AwsEndpoint, e.AccountID)
		return ""
	}
	return e.AccountID
}

// ended turns the engine's result into the report's outcome.
func ended(r *run, res *ecs.Result, err error) (string, error) {
	if res != nil {
		r.TaskDefinition = shortTaskDefinition(res.RegisteredTaskDefinition)
		r.PreviousTaskDefinition = shortTaskDefinition(res.PreviousTaskDefinition)
	}
	outcome, reason := report.OutcomeOf(res, err)
	return r.Finish(outcome, reason, err)
}

// buildPublishSign runs build → scan gate + SBOM → publish → sign → verify for an AWS
// environment and returns the digest reference.
func (m *Fargate) buildPublishSign(ctx context.Context, r *run, f *config.File, e config.Environment, cfg aws.Config, req deployRequest) (string, error) {
	variants, err := m.buildAll(ctx, r, f)
	if err != nil {
		return "", err
	}
	scanned, sbom, err := m.scanAndSBOM(ctx, r, f, e, variants[0], req)
	if err != nil {
		return "", err
	}
	login, err := m.loginECR(ctx, cfg)
	if err != nil {
		return "", err
	}
	ref, err := m.publishECR(ctx, f, e, cfg, login, variants, r.Logf)
	if err != nil {
		return "", err
	}
	r.Image = ref
	cos, err := m.prepareCosign(ctx, f, e.Region, req.keys, login.access, false)
	if err != nil {
		return "", err
	}
	return ref, m.signAndVerify(ctx, r, cos, ref, sbom, scanned, req)
}

func (m *Fargate) buildAll(ctx context.Context, r *run, f *config.File) ([]*dagger.Container, error) {
	variants := make([]*dagger.Container, len(f.App.Platforms))
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range f.App.Platforms {
		g.Go(func() error {
			img, err := m.build(gctx, f, dagger.Platform(p))
			variants[i] = img
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	r.Platforms = f.App.Platforms
	r.Logf("build: %s built for %s, runs as a non-root user", f.App.Name, strings.Join(f.App.Platforms, ", "))
	return variants, nil
}

// scanAndSBOM runs the scan and the SBOM concurrently and applies the scan gate.
func (m *Fargate) scanAndSBOM(ctx context.Context, r *run, f *config.File, e config.Environment, img *dagger.Container, req deployRequest) (*scanResult, *dagger.File, error) {
	var scanned *scanResult
	var sbom *dagger.File
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		scanned, err = m.scanImage(gctx, f, e, img)
		return err
	})
	g.Go(func() error {
		file, err := m.sbom(img)
		if err != nil {
			return err
		}
		if _, err := file.Sync(gctx); err != nil {
			return fmt.Errorf("sbom: %w", err)
		}
		sbom = file
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	r.SBOM = &report.SBOM{Produced: true, Format: "cyclonedx"}
	r.Scan = scanSummary(scanned.decision)
	r.Logf("scan: %s", firstLine(scanned.summary))
	var failure error
	if !scanned.decision.Pass {
		failure = fmt.Errorf("scan gate failed:\n%s", scanned.summary)
	}
	if err := r.Gate("scan", failure, req.breakGlassRequest()); err != nil {
		return nil, nil, err
	}
	return scanned, sbom, nil
}

func (m *Fargate) signAndVerify(ctx context.Context, r *run, cos *cosignRun, ref string, sbom *dagger.File, scanned *scanResult, req deployRequest) error {
	gate, err := scan.Predicate(scanned.decision, "trivy", time.Now().UTC())
	if err != nil {
		return err
	}
	if err := cos.sign(ctx, ref, sbom, gate); err != nil {
		if err := r.Gate(signatureGateLabel, fmt.Errorf("sign %s: %w", ref, err), req.breakGlassRequest()); err != nil {
			return err
		}
		// Break glass: the image goes out unsigned, and the report says so.
		r.Signature = &report.Signature{}
		return nil
	}
	r.Signature = &report.Signature{Signed: true}
	r.SBOM.Attached = true
	r.Logf("sign: signed %s and attached the SBOM and scan attestations", ref)
	identity, err := cos.verifySignature(ctx, ref)
	if err := r.Gate(signatureGateLabel, err, req.breakGlassRequest()); err != nil {
		return err
	}
	r.Signature.Verified = err == nil
	r.Signature.Identity = identity
	r.Logf("verify: signature of %s verified (%s)", ref, identity)
	return nil
}

// verifyGiven checks the signature and attestations of an image given with --image.
func (m *Fargate) verifyGiven(ctx context.Context, r *run, f *config.File, e config.Environment, cfg aws.Config, req deployRequest) error {
	cos, err := m.cosignForECR(ctx, f, e.Region, cfg, req.keys)
	if err != nil {
		return err
	}
	return m.verifyExisting(ctx, r, cos, req.image, req)
}

func (m *Fargate) verifyExisting(ctx context.Context, r *run, cos *cosignRun, ref string, req deployRequest) error {
	identity, err := cos.verifySignature(ctx, ref)
	if err == nil {
		err = cos.verifyAttestations(ctx, ref)
	}
	if err != nil {
		err = fmt.Errorf("%w: %v", promote.ErrUnsigned, err)
	}
	if err := r.Gate(signatureGateLabel, err, req.breakGlassRequest()); err != nil {
		return err
	}
	r.Signature = &report.Signature{Signed: identity != "", Verified: identity != "", Identity: identity}
	r.Logf("verify: %s is signed by %s, attestations verified", ref, orDefault(identity, "(unverified, break-glass)"))
	return nil
}

// promotion picks the digest running in the source environment, verifies it again and
// returns it with the promotion tags.
func (m *Fargate) promotion(ctx context.Context, r *run, f *config.File, e config.Environment, cfg aws.Config, req deployRequest, approval promote.Approval) (string, map[string]string, error) {
	src := f.Environments[e.PromoteFrom]
	srcCfg, err := m.sourceConfig(ctx, src, req.source, cfg)
	if err != nil {
		return "", nil, err
	}
	cand, err := promote.Resolve(ctx, awsecs.NewFromConfig(srcCfg), promote.Source{Env: src.Name, Cluster: src.Cluster, Service: src.Service, Container: src.Container, Region: src.Region})
	if err != nil {
		return "", nil, err
	}
	r.Logf("promote: %s runs %s (%s), completed and steady", src.Name, cand.ImageRef, shortTaskDefinition(cand.TaskDefinitionArn))
	cos, err := m.cosignForECR(ctx, f, src.Region, srcCfg, req.keys)
	if err != nil {
		return "", nil, err
	}
	if err := m.verifyExisting(ctx, r, cos, cand.ImageRef, req); err != nil {
		return "", nil, err
	}
	r.Promotion = &report.Promotion{SourceEnv: src.Name, SourceTaskDefinition: shortTaskDefinition(cand.TaskDefinitionArn), ApprovedBy: approval.By, ApprovalReason: approval.Reason, ApprovedAt: approval.At}
	tags := map[string]string{}
	if approval.By != "" {
		tags = promote.Tags(cand, approval)
	} else {
		tags["fargate:promoted-from"] = src.Name
	}
	return cand.ImageRef, tags, nil
}

// sourceConfig is the AWS configuration that reads the source environment.
func (m *Fargate) sourceConfig(ctx context.Context, src config.Environment, creds sourceCredentials, fallback aws.Config) (aws.Config, error) {
	if creds.accessKeyID == nil {
		if src.Region == fallback.Region || m.AwsRegion != "" {
			return fallback, nil
		}
		return m.awsConfig(ctx, src.Region)
	}
	other := *m
	other.AwsAccessKeyID, other.AwsSecretAccessKey, other.AwsSessionToken = creds.accessKeyID, creds.secretAccessKey, creds.sessionToken
	return other.awsConfig(ctx, src.Region)
}

// policyGate checks the rendered task definition and the environment's service settings.
func (m *Fargate) policyGate(ctx context.Context, r *run, f *config.File, e config.Environment, def *taskdef.Definition, req deployRequest) error {
	in, err := def.RegisterInput()
	if err != nil {
		return err
	}
	td := policy.FromRegisterInput(in)
	td.Path = def.Source()
	var service *policy.ServiceFacts
	if !e.IsLocal() {
		service = precheck.ServiceFacts(e)
	}
	rep, err := policy.Check(ctx, policy.CheckInput{
		TaskDefinitions: []policy.TaskDefinitionInput{td},
		Service:         service,
		RequiredTags:    f.Policy.RequiredTags,
		Env:             e.Name,
		Suppressions:    precheck.Suppressions(f),
	})
	if err != nil {
		return err
	}
	threshold, err := policy.ParseSeverity(f.Policy.Threshold)
	if err != nil {
		return err
	}
	r.Policy = policySummary(rep, threshold, f.Policy.Threshold)
	r.Logf("policy: %d finding(s) at or above %s, %d suppressed", r.Policy.Failed, f.Policy.Threshold, rep.Summary.Suppressed)
	var failure error
	if rep.Failed(threshold) {
		var b strings.Builder
		_ = policy.Render(&b, rep, policy.FormatText)
		failure = fmt.Errorf("policy check failed (threshold %s):\n%s", f.Policy.Threshold, b.String())
	}
	return r.Gate("policy", failure, req.breakGlassRequest())
}

// deployLocal runs the chain with no AWS: a registry service, an ephemeral signing key, and
// the app started as a service with the task definition's settings, probed until healthy.
func (m *Fargate) deployLocal(ctx context.Context, r *run, f *config.File, e config.Environment, def *taskdef.Definition, req deployRequest) (string, error) {
	r.Service = "local (Dagger services)"
	variants, err := m.buildAll(ctx, r, f)
	if err != nil {
		return r.Refuse(err)
	}
	scanned, sbom, err := m.scanAndSBOM(ctx, r, f, e, variants[0], req)
	if err != nil {
		return r.Refuse(err)
	}
	registry, err := m.localRegistry().Start(ctx)
	if err != nil {
		return r.Refuse(fmt.Errorf("start the local registry (%s): %w", m.RegistryImage, err))
	}
	defer registry.Stop(context.WithoutCancel(ctx))
	address := localRegistryHost + "/" + f.Registry.Repository + ":" + ecr.ImageTag(m.GitRevision, time.Now())
	ref, err := publish(ctx, variants, address, func(c *dagger.Container) *dagger.Container { return c }, registry)
	if err != nil {
		return r.Refuse(fmt.Errorf("push to the local registry: %w", err))
	}
	r.Image = ref
	r.Logf("publish: pushed %s to the local registry", ref)
	keys, password, err := m.ephemeralKeyPair(ctx)
	if err != nil {
		return r.Refuse(err)
	}
	privateKey, err := keys.File("cosign.key").Contents(ctx)
	if err != nil {
		return r.Refuse(fmt.Errorf("read the ephemeral cosign key: %w", err))
	}
	local := signingKeys{key: newSecret("fargate-local-cosign-key", privateKey), password: password, publicKey: keys.File("cosign.pub")}
	cos, err := m.prepareCosign(ctx, f, "", local, registryAccess{service: registry, insecure: true}, true)
	if err != nil {
		return r.Refuse(err)
	}
	if err := m.signAndVerify(ctx, r, cos, cosignLocalRef(ref), sbom, scanned, req); err != nil {
		return r.Refuse(err)
	}
	if r.Signature.Verified {
		r.Signature.Identity = "ephemeral local key"
	}

	rendered, err := def.Render(taskdef.RenderOptions{Containers: []string{e.Container}, Image: ref})
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	if err := m.policyGate(ctx, r, f, e, rendered.Definition, req); err != nil {
		return r.Refuse(err)
	}
	r.TaskDefinition = rendered.Definition.Family() + " (rendered, not registered)"

	// Run exactly the digest that was pushed and signed.
	pulled := dag.Container(dagger.ContainerOpts{Platform: dagger.Platform(f.App.Platforms[0])}).From(ref, dagger.ContainerFromOpts{RegistryService: registry})
	app, port, notes, err := localApp(pulled, rendered.Definition, e.Container, f.App.Port)
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	for _, n := range notes {
		r.Logf("run: %s", n)
	}
	r.Logf("run: starting %s on port %d with the task definition's settings", e.Container, port)
	attempts, err := probeHealth(ctx, app, port, f.App.HealthPath, e.Timeout())
	defer app.Stop(context.WithoutCancel(ctx))
	if err != nil {
		return r.Finish(report.RollbackFailed, "the app did not become healthy: "+err.Error(), err)
	}
	r.Logf("run: %s answered %s after %d probe(s)", e.Container, f.App.HealthPath, attempts)
	return r.Finish(report.Deployed, "healthy locally on "+localRegistryHost+" image "+ref, nil)
}

func (m *Fargate) taskDefinition(ctx context.Context, e config.Environment) (*taskdef.Definition, error) {
	data, err := m.readSource(ctx, e.TaskDefinition)
	if err != nil {
		return nil, err
	}
	return taskdef.Parse(sourcePath(m.Config, e.TaskDefinition), data)
}

func scanSummary(d *scan.Decision) *report.Scan {
	s := &report.Scan{Counts: map[string]int{}, Passed: d.Pass, Ignored: len(d.Suppressed)}
	for sev, n := range d.Counts {
		s.Counts[sev.String()] = n
	}
	for _, sev := range d.FailOn {
		s.FailOn = append(s.FailOn, sev.String())
	}
	for _, fd := range d.Failing {
		s.Blocking = append(s.Blocking, fd.ID+" "+fd.Package)
	}
	for _, x := range d.Expired {
		s.ExpiredIgnores = append(s.ExpiredIgnores, x.Finding.ID+" (ignore expired "+x.Entry.ExpiryDate()+")")
	}
	return s
}

func policySummary(rep policy.Report, threshold policy.Severity, name string) *report.Policy {
	p := &report.Policy{Threshold: name, Suppressed: rep.Summary.Suppressed, Passed: len(policy.Rules())}
	for _, fd := range rep.Findings {
		if fd.Suppressed || fd.Severity < threshold {
			continue
		}
		p.Failed++
		p.Failures = append(p.Failures, report.Finding{Rule: fd.Rule, Severity: fd.Severity.String(), Resource: fd.Resource, Message: fd.Message})
	}
	p.Passed -= p.Failed
	if p.Passed < 0 {
		p.Passed = 0
	}
	return p
}

func shortTaskDefinition(arn string) string {
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func mergeMaps(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
