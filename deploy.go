package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
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

// run collects the report while the chain runs; every log line also goes to the user.
type run struct {
	mu  sync.Mutex
	rep report.Report
	out io.Writer
}

func newRun(env string) *run {
	return &run{rep: report.Report{Env: env, Started: time.Now().UTC()}, out: os.Stderr}
}

// logf records one timeline line and prints it.
func (r *run) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Timeline = append(r.rep.Timeline, report.Event{At: time.Now().UTC(), Message: msg})
	fmt.Fprintln(r.out, msg)
}

// Write makes run an io.Writer for the deploy engine's progress lines.
func (r *run) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" {
			r.logf("%s", line)
		}
	}
	return len(p), nil
}

// gate records a refused gate, or a break-glass bypass of it; it returns the error that
// stops the deploy, or nil when the gate passed or was bypassed.
func (r *run) gate(name string, failure error, req deployRequest) error {
	if failure == nil {
		return nil
	}
	if req.breakGlass == "" {
		return failure
	}
	by := req.approvedBy
	if by == "" {
		by = "unnamed (pass --approved-by)"
	}
	r.mu.Lock()
	r.rep.BreakGlass = append(r.rep.BreakGlass, report.BreakGlass{Gate: name, By: by, Reason: req.breakGlass, At: time.Now().UTC()})
	r.mu.Unlock()
	r.logf("BREAK-GLASS: the %s gate failed and was bypassed by %s: %s (%v)", name, by, req.breakGlass, failure)
	return nil
}

// finish renders the report; a deploy that did not end deployed returns it inside the error.
func (r *run) finish(outcome report.Outcome, reason string, err error) (string, error) {
	r.rep.Outcome = outcome
	r.rep.Reason = reason
	r.rep.Finished = time.Now().UTC()
	md := r.rep.Markdown()
	if outcome == report.Deployed {
		return md, nil
	}
	if err == nil {
		err = errors.New(reason)
	}
	return "", fmt.Errorf("%w\n\n%s", err, md)
}

// refuse ends the run before anything changed in the environment.
func (r *run) refuse(err error) (string, error) {
	var cfgErr *config.Error
	if errors.As(err, &cfgErr) {
		return r.finish(report.BadInput, "invalid environments file", err)
	}
	return r.finish(report.Refused, err.Error(), err)
}

func (m *Fargate) deploy(ctx context.Context, req deployRequest) (string, error) {
	r := newRun(string(req.env))
	r.rep.Revision = m.GitRevision
	f, err := m.loadConfig(ctx)
	if err != nil {
		return r.finish(report.BadInput, "invalid environments file", err)
	}
	e, err := f.Environment(string(req.env))
	if err != nil {
		return r.finish(report.BadInput, err.Error(), err)
	}
	// Bad input stops here, before any build or AWS call: the task definition must parse and
	// name the container, and the approval must be valid.
	def, err := m.taskDefinition(ctx, e)
	if err != nil {
		return r.finish(report.BadInput, err.Error(), err)
	}
	if _, err := def.Render(taskdef.RenderOptions{Containers: []string{e.Container}, Image: "registry.invalid/check@sha256:" + strings.Repeat("0", 64)}); err != nil {
		return r.finish(report.BadInput, err.Error(), err)
	}
	approval := promote.Approval{By: req.approvedBy, Reason: req.approvalReason, At: time.Now().UTC()}
	if req.approvedBy != "" || e.Approval {
		if err := promote.RequireApproval(e.Approval, approval); err != nil {
			return r.finish(report.Refused, err.Error(), err)
		}
	}
	if e.IsLocal() {
		return m.deployLocal(ctx, r, f, e, def, req)
	}
	r.rep.Service = e.Cluster + "/" + e.Service
	cfg, err := m.awsConfig(ctx, e.Region)
	if err != nil {
		return r.finish(report.BadInput, err.Error(), err)
	}
	engine := ecs.New(cfg, ecs.Options{Log: r})
	expectedAccount := e.AccountID
	if m.AwsEndpoint != "" && expectedAccount != "" {
		r.logf("account check skipped: AWS calls go to %s, not to account %s", m.AwsEndpoint, expectedAccount)
		expectedAccount = ""
	}

	var imageRef string
	var extraTags map[string]string
	switch {
	case e.PromoteFrom != "":
		imageRef, extraTags, err = m.promotion(ctx, r, f, e, cfg, req, approval)
		if err != nil {
			return r.refuse(err)
		}
	case req.image != "":
		imageRef = req.image
		if err := m.verifyGiven(ctx, r, f, e, cfg, req); err != nil {
			return r.refuse(err)
		}
	default:
		imageRef, err = m.buildPublishSign(ctx, r, f, e, cfg, req)
		if err != nil {
			return r.refuse(err)
		}
	}
	r.rep.Image = imageRef

	rendered, err := def.Render(taskdef.RenderOptions{Containers: []string{e.Container}, Image: imageRef})
	if err != nil {
		return r.finish(report.BadInput, err.Error(), err)
	}
	for _, w := range rendered.Warnings {
		r.logf("render: %s", w)
	}
	if err := m.policyGate(ctx, r, f, e, rendered.Definition, req); err != nil {
		return r.refuse(err)
	}
	tags, err := taskdef.Tags(taskdef.TagInput{Environment: e.Name, GitRevision: m.GitRevision, ImageDigest: rendered.Digest, Extra: mergeMaps(e.Tags, extraTags)})
	if err != nil {
		return r.finish(report.BadInput, err.Error(), err)
	}
	r.logf("deploy: registering %s and updating %s/%s (timeout %s)", rendered.Definition.Family(), e.Cluster, e.Service, e.Timeout())
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
	return r.ended(res, err)
}

// ended turns the engine's result into the report's outcome.
func (r *run) ended(res *ecs.Result, err error) (string, error) {
	if res != nil {
		r.rep.TaskDefinition = shortTaskDefinition(res.RegisteredTaskDefinition)
		r.rep.PreviousTaskDefinition = shortTaskDefinition(res.PreviousTaskDefinition)
	}
	outcome, reason := report.OutcomeOf(res, err)
	return r.finish(outcome, reason, err)
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
	ref, err := m.publishECR(ctx, f, e, cfg, variants, r.logf)
	if err != nil {
		return "", err
	}
	r.rep.Image = ref
	_, access, _, err := m.ecrAccess(ctx, cfg)
	if err != nil {
		return "", err
	}
	cos, err := m.prepareCosign(ctx, f, e.Region, req.keys, access, false)
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
	r.rep.Platforms = f.App.Platforms
	r.logf("build: %s built for %s, runs as a non-root user", f.App.Name, strings.Join(f.App.Platforms, ", "))
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
	r.rep.SBOM = &report.SBOM{Produced: true, Format: "cyclonedx"}
	r.rep.Scan = scanSummary(scanned.decision)
	r.logf("scan: %s", firstLine(scanned.summary))
	var failure error
	if !scanned.decision.Pass {
		failure = fmt.Errorf("scan gate failed:\n%s", scanned.summary)
	}
	if err := r.gate("scan", failure, req); err != nil {
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
		if err := r.gate(signatureGateLabel, fmt.Errorf("sign %s: %w", ref, err), req); err != nil {
			return err
		}
		// Break glass: the image goes out unsigned, and the report says so.
		r.rep.Signature = &report.Signature{}
		return nil
	}
	r.rep.Signature = &report.Signature{Signed: true}
	r.rep.SBOM.Attached = true
	r.logf("sign: signed %s and attached the SBOM and scan attestations", ref)
	identity, err := cos.verifySignature(ctx, ref)
	if err := r.gate(signatureGateLabel, err, req); err != nil {
		return err
	}
	r.rep.Signature.Verified = err == nil
	r.rep.Signature.Identity = identity
	r.logf("verify: signature of %s verified (%s)", ref, identity)
	return nil
}

// verifyGiven checks the signature and attestations of an image given with --image.
func (m *Fargate) verifyGiven(ctx context.Context, r *run, f *config.File, e config.Environment, cfg aws.Config, req deployRequest) error {
	_, access, _, err := m.ecrAccess(ctx, cfg)
	if err != nil {
		return err
	}
	cos, err := m.prepareCosign(ctx, f, e.Region, req.keys, access, false)
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
	if err := r.gate(signatureGateLabel, err, req); err != nil {
		return err
	}
	r.rep.Signature = &report.Signature{Signed: identity != "", Verified: identity != "", Identity: identity}
	r.logf("verify: %s is signed by %s, attestations verified", ref, orDefault(identity, "(unverified, break-glass)"))
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
	r.logf("promote: %s runs %s (%s), completed and steady", src.Name, cand.ImageRef, shortTaskDefinition(cand.TaskDefinitionArn))
	_, access, _, err := m.ecrAccess(ctx, srcCfg)
	if err != nil {
		return "", nil, err
	}
	cos, err := m.prepareCosign(ctx, f, src.Region, req.keys, access, false)
	if err != nil {
		return "", nil, err
	}
	if err := m.verifyExisting(ctx, r, cos, cand.ImageRef, req); err != nil {
		return "", nil, err
	}
	r.rep.Promotion = &report.Promotion{SourceEnv: src.Name, SourceTaskDefinition: shortTaskDefinition(cand.TaskDefinitionArn), ApprovedBy: approval.By, ApprovalReason: approval.Reason, ApprovedAt: approval.At}
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
	r.rep.Policy = policySummary(rep, threshold, f.Policy.Threshold)
	r.logf("policy: %d finding(s) at or above %s, %d suppressed", r.rep.Policy.Failed, f.Policy.Threshold, rep.Summary.Suppressed)
	var failure error
	if rep.Failed(threshold) {
		var b strings.Builder
		_ = policy.Render(&b, rep, policy.FormatText)
		failure = fmt.Errorf("policy check failed (threshold %s):\n%s", f.Policy.Threshold, b.String())
	}
	return r.gate("policy", failure, req)
}

// deployLocal runs the chain with no AWS: a registry service, an ephemeral signing key, and
// the app started as a service with the task definition's settings, probed until healthy.
func (m *Fargate) deployLocal(ctx context.Context, r *run, f *config.File, e config.Environment, def *taskdef.Definition, req deployRequest) (string, error) {
	r.rep.Service = "local (Dagger services)"
	variants, err := m.buildAll(ctx, r, f)
	if err != nil {
		return r.refuse(err)
	}
	scanned, sbom, err := m.scanAndSBOM(ctx, r, f, e, variants[0], req)
	if err != nil {
		return r.refuse(err)
	}
	registry, err := m.localRegistry().Start(ctx)
	if err != nil {
		return r.refuse(fmt.Errorf("start the local registry (%s): %w", m.RegistryImage, err))
	}
	defer registry.Stop(context.WithoutCancel(ctx))
	address := localRegistryHost + "/" + f.Registry.Repository + ":" + ecr.ImageTag(m.GitRevision, time.Now())
	ref, err := publish(ctx, variants, address, func(c *dagger.Container) *dagger.Container { return c }, registry)
	if err != nil {
		return r.refuse(fmt.Errorf("push to the local registry: %w", err))
	}
	r.rep.Image = ref
	r.logf("publish: pushed %s to the local registry", ref)
	keys, password, err := m.ephemeralKeyPair(ctx)
	if err != nil {
		return r.refuse(err)
	}
	privateKey, err := keys.File("cosign.key").Contents(ctx)
	if err != nil {
		return r.refuse(fmt.Errorf("read the ephemeral cosign key: %w", err))
	}
	local := signingKeys{key: newSecret("fargate-local-cosign-key", privateKey), password: password, publicKey: keys.File("cosign.pub")}
	cos, err := m.prepareCosign(ctx, f, "", local, registryAccess{service: registry, insecure: true}, true)
	if err != nil {
		return r.refuse(err)
	}
	if err := m.signAndVerify(ctx, r, cos, ref, sbom, scanned, req); err != nil {
		return r.refuse(err)
	}
	r.rep.Signature.Identity = "ephemeral local key"

	rendered, err := def.Render(taskdef.RenderOptions{Containers: []string{e.Container}, Image: ref})
	if err != nil {
		return r.finish(report.BadInput, err.Error(), err)
	}
	if err := m.policyGate(ctx, r, f, e, rendered.Definition, req); err != nil {
		return r.refuse(err)
	}
	r.rep.TaskDefinition = rendered.Definition.Family() + " (rendered, not registered)"

	// Run exactly the digest that was pushed and signed.
	pulled := dag.Container(dagger.ContainerOpts{Platform: dagger.Platform(f.App.Platforms[0])}).From(ref, dagger.ContainerFromOpts{RegistryService: registry})
	app, port, notes, err := localApp(pulled, rendered.Definition, e.Container, f.App.Port)
	if err != nil {
		return r.finish(report.BadInput, err.Error(), err)
	}
	for _, n := range notes {
		r.logf("run: %s", n)
	}
	r.logf("run: starting %s on port %d with the task definition's settings", e.Container, port)
	attempts, err := probeHealth(ctx, app, port, f.App.HealthPath, e.Timeout())
	defer app.Stop(context.WithoutCancel(ctx))
	if err != nil {
		return r.finish(report.RollbackFailed, "the app did not become healthy: "+err.Error(), err)
	}
	r.logf("run: %s answered %s after %d probe(s)", e.Container, f.App.HealthPath, attempts)
	return r.finish(report.Deployed, "healthy locally on "+localRegistryHost+" image "+ref, nil)
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
