package chain

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"

	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/ecs"
	"dagger/fargate/pipeline/policy"
	"dagger/fargate/pipeline/precheck"
	"dagger/fargate/pipeline/promote"
	"dagger/fargate/pipeline/report"
	"dagger/fargate/pipeline/taskdef"
)

// DeployRequest is what `deploy` was asked to do.
type DeployRequest struct {
	Env            string
	Image          string
	ApprovedBy     string
	ApprovalReason string
	// BreakGlass is the reason to bypass failing gates (empty: no bypass).
	BreakGlass        string
	WaitForInProgress bool
	// ReportJSON returns the report as JSON (report.JSONReport, docs/ci.md) and does not fail
	// when the deploy fails: the JSON says whether it succeeded, and CI fails the job from it.
	ReportJSON bool
}

// placeholderDigest stands for the image before it is built, to check the task definition.
const placeholderDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// minBreakGlassReason is the shortest break-glass reason accepted.
const minBreakGlassReason = 10

// Deploy runs the whole chain for one environment and returns the Markdown report. It fails
// unless the deploy completed; the error then carries the report.
func (s *Session) Deploy(ctx context.Context, req DeployRequest) (string, error) {
	name, _ := ChooseEnvironment(req.Env, s.Environment) // a conflict is bad input below
	r := s.recorder(name)
	md, err := s.deploy(ctx, r, req)
	if !req.ReportJSON {
		return md, err
	}
	// The outcome, failed or not, is in the JSON; only failing to render it fails the call.
	return r.JSON()
}

func (s *Session) deploy(ctx context.Context, r *report.Recorder, req DeployRequest) (string, error) {
	if s.Invalid != nil {
		return r.Finish(report.BadInput, s.Invalid.Error(), s.Invalid)
	}
	req.BreakGlass = strings.TrimSpace(req.BreakGlass)
	if req.BreakGlass != "" && len(req.BreakGlass) < minBreakGlassReason {
		err := fmt.Errorf("--break-glass: give a real reason (at least %d characters); it is recorded in the report", minBreakGlassReason)
		return r.Finish(report.BadInput, err.Error(), err)
	}
	bg := report.BreakGlassRequest{Reason: req.BreakGlass, By: req.ApprovedBy}

	// Bad input stops here, before any build or AWS call: the file, the environment, the
	// task definition and its container, the signing material, the approval.
	f, err := s.LoadConfig(ctx)
	if err != nil {
		return r.Finish(report.BadInput, "invalid environments file", err)
	}
	e, err := s.chooseEnvironment(f, req.Env, needEnv)
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	def, err := s.TaskDefinition(ctx, e)
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	// The definition as it will be registered, the image aside: what preflight verifies.
	checked, err := def.Render(taskdef.RenderOptions{Containers: []string{e.Container}, Image: "registry.invalid/check@" + placeholderDigest})
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	checkedIn, err := checked.Definition.RegisterInput()
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	if err := checkPreDeploy(e, def); err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	region := orDefault(s.Region, e.Region)
	wantSign := !e.IsLocal() && e.PromoteFrom == "" && req.Image == ""
	setup, sg, err := s.signingPlan(f, region, e.IsLocal(), wantSign)
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	approval := promote.Approval{By: req.ApprovedBy, Reason: req.ApprovalReason, At: s.now()}
	if req.ApprovedBy != "" || e.Approval {
		_, endApproval := r.Phase(ctx, "approval")
		err := promote.RequireApproval(e.Approval, approval)
		endApproval(err)
		if err != nil {
			return r.Finish(report.Refused, err.Error(), err)
		}
	}
	if e.IsLocal() {
		return s.deployLocal(ctx, r, f, e, def, setup, sg, bg)
	}

	r.Service = e.Cluster + "/" + e.Service
	cfg, err := s.AWSConfig(ctx, e.Region)
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	engine := s.engine(cfg, r)
	// The right account, before anything changes (publishing to ECR included).
	expectedAccount, err := s.checkAccount(ctx, r, engine, e)
	if err != nil {
		var wrong *ecs.WrongAccountError
		if errors.As(err, &wrong) {
			return r.Refuse(err)
		}
		return r.Finish(report.Refused, "could not verify the AWS account: "+err.Error(), err)
	}
	// The service must exist and, unless told to wait, not be mid-deployment: find out
	// before building and publishing anything.
	if err := s.serviceGate(ctx, r, engine, e, req.WaitForInProgress); err != nil {
		return r.Refuse(err)
	}
	// The policy gate on the task definition as it will be registered (the image's digest
	// aside), before building: a definition that cannot pass is refused in seconds.
	if err := s.policyGate(ctx, r, f, e, def, "registry.invalid/"+f.Registry.Repository+"@"+placeholderDigest, bg); err != nil {
		return r.Refuse(err)
	}
	if err := s.preflightGate(ctx, r, e, cfg, checkedIn); err != nil {
		return r.Refuse(err)
	}

	var imageRef string
	extraTags := map[string]string{}
	switch {
	case e.PromoteFrom != "":
		imageRef, extraTags, err = s.promotion(ctx, r, f, e, cfg, setup, sg, approval, bg)
	case req.Image != "":
		imageRef = req.Image
		err = s.verifyGiven(ctx, r, cfg, setup, sg, imageRef, bg)
	default:
		imageRef, err = s.buildPublishSign(ctx, r, f, e, cfg, setup, sg, bg)
	}
	if err != nil {
		return stopped(r, err)
	}
	r.Image = imageRef

	rendered, err := def.Render(taskdef.RenderOptions{Containers: []string{e.Container}, Image: imageRef})
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	for _, w := range rendered.Warnings {
		r.Logf("render: %s", w)
	}
	in, err := rendered.Definition.RegisterInput()
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	if err := imageRegionGate(r, e, orDefault(s.Region, e.Region), in); err != nil {
		return r.Refuse(err)
	}
	revision := s.GitRevision
	if r.Promotion != nil {
		revision = r.Revision
	}
	tags, err := taskdef.Tags(taskdef.TagInput{Environment: e.Name, GitRevision: revision, ImageDigest: rendered.Digest, Extra: mergeMaps(e.Tags, extraTags)})
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	s.warnFiringAlarms(ctx, r, cfg, e)
	r.Logf("deploy: registering %s and updating %s/%s (timeout %s)", rendered.Definition.Family(), e.Cluster, e.Service, e.Timeout())
	dctx, endDeploy := r.Phase(ctx, "ECS deploy")
	delivery := ecs.DeliveryFromConfig(e, nil)
	res, err := engine.Deploy(dctx, ecs.DeployOptions{
		Cluster:               e.Cluster,
		Service:               e.Service,
		Definition:            rendered.Definition,
		Tags:                  tags,
		ExpectedAccount:       expectedAccount,
		Timeout:               e.Timeout(),
		RollbackTimeout:       e.RollbackTimeout(),
		DisableCircuitBreaker: !e.CircuitBreakerEnabled(),
		WaitForInProgress:     req.WaitForInProgress,
		Delivery:              delivery,
		BeforeUpdate:          s.preDeployHook(r, e, cfg, in),
	})
	endDeploy(err)
	s.failedTaskLogs(ctx, r, e, cfg, in, res)
	return ended(r, res, err)
}

// busyReason says why a service is mid-deployment, or "" when it is not.
func busyReason(st *ecs.ServiceStatus) string {
	if len(st.Deployments) > 1 || st.RolloutState == "IN_PROGRESS" {
		return fmt.Sprintf("%d deployments, rollout %s", len(st.Deployments), orDefault(st.RolloutState, "unknown"))
	}
	return ""
}

// ended turns the engine's result into the report's outcome.
func ended(r *report.Recorder, res *ecs.Result, err error) (string, error) {
	if res != nil {
		r.TaskDefinition = taskdef.ShortName(res.RegisteredTaskDefinition)
		r.PreviousTaskDefinition = taskdef.ShortName(res.PreviousTaskDefinition)
		r.FinalTaskDefinition = taskdef.ShortName(res.FinalTaskDefinition)
	}
	r.Delivery = report.DeliveryOf(res)
	outcome, reason := report.OutcomeOf(res, err)
	return r.Finish(outcome, reason, err)
}

// buildPublishSign runs build → scan gate + SBOM → publish → sign → verify for an AWS
// environment and returns the digest reference.
func (s *Session) buildPublishSign(ctx context.Context, r *report.Recorder, f *config.File, e config.Environment, cfg aws.Config, setup SigningSetup, sg signer, bg report.BreakGlassRequest) (_ string, rerr error) {
	scanned, err := s.buildAndScan(ctx, r, f, e, bg)
	if err != nil {
		return "", err
	}
	pctx, endPublish := r.Phase(ctx, "publish")
	login, err := ecrLogin(pctx, cfg)
	if err != nil {
		endPublish(err)
		return "", err
	}
	ref, existed, err := s.publishECR(pctx, r, f, e, cfg, login)
	endPublish(err)
	if err != nil {
		return "", err
	}
	r.Image = ref
	ctx, endSign := r.Phase(ctx, "sign + verify")
	defer func() { endSign(rerr) }()
	signer, err := s.prepareSigner(ctx, setup, sg, login, cfg.Credentials)
	if err != nil {
		return "", err
	}
	return ref, s.signAndVerify(ctx, r, signer, ref, scanned, existed, bg)
}

// serviceGate is the "service" phase: the service must exist and, unless told to wait, not
// be mid-deployment.
func (s *Session) serviceGate(ctx context.Context, r *report.Recorder, engine *ecs.Engine, e config.Environment, waitForInProgress bool) (rerr error) {
	ctx, end := r.Phase(ctx, "service")
	defer func() { end(rerr) }()
	st, err := engine.Status(ctx, e.Cluster, e.Service)
	if err != nil {
		return fmt.Errorf("read service %s/%s: %w", e.Cluster, e.Service, err)
	}
	if busy := busyReason(st); busy != "" && !waitForInProgress {
		return fmt.Errorf("%s/%s has a deployment in progress (%s); nothing was changed: retry when it ends, or pass --wait-for-in-progress", e.Cluster, e.Service, busy)
	}
	return nil
}

// verifyGiven checks the signature and attestations of an image given with --image: the
// "verify" phase.
func (s *Session) verifyGiven(ctx context.Context, r *report.Recorder, cfg aws.Config, setup SigningSetup, sg signer, ref string, bg report.BreakGlassRequest) (rerr error) {
	ctx, end := r.Phase(ctx, "verify")
	defer func() { end(rerr) }()
	if err := requireDigest("image", ref); err != nil {
		return err
	}
	login, err := ecrLogin(ctx, cfg)
	if err != nil {
		return err
	}
	signer, err := s.prepareSigner(ctx, setup, sg, login, cfg.Credentials)
	if err != nil {
		return err
	}
	return s.verifyExisting(ctx, r, signer, ref, bg)
}

// promotion picks the digest running in the source environment, verifies it again and
// returns it with the promotion tags; the report's revision becomes the one the promoted
// image was built from. It is the "promotion" phase, failed when the source is refused.
func (s *Session) promotion(ctx context.Context, r *report.Recorder, f *config.File, e config.Environment, cfg aws.Config, setup SigningSetup, sg signer, approval promote.Approval, bg report.BreakGlassRequest) (_ string, _ map[string]string, rerr error) {
	ctx, end := r.Phase(ctx, "promotion")
	defer func() { end(rerr) }()
	src := f.Environments[e.PromoteFrom]
	srcCfg := cfg
	if s.SourceRoleARN != "" || orDefault(s.Region, src.Region) != cfg.Region {
		creds := s.Credentials
		if s.SourceRoleARN != "" {
			creds.RoleARN, creds.ExternalID = s.SourceRoleARN, ""
		}
		var err error
		if srcCfg, err = s.awsConfig(ctx, creds, src.Region); err != nil {
			return "", nil, fmt.Errorf("credentials of %s: %w", src.Name, err)
		}
	}
	cand, err := promote.Resolve(ctx, awsecs.NewFromConfig(srcCfg), promote.Source{Env: src.Name, Cluster: src.Cluster, Service: src.Service, Container: src.Container})
	if err != nil {
		return "", nil, err
	}
	r.Revision = orDefault(cand.Revision, "unknown (the source task definition has no "+taskdef.TagGitRevision+" tag)")
	r.Logf("promote: %s runs %s (%s), built from revision %s, completed and steady", src.Name, cand.ImageRef, taskdef.ShortName(cand.TaskDefinitionArn), r.Revision)
	login, err := ecrLogin(ctx, srcCfg)
	if err != nil {
		return "", nil, err
	}
	// cosign reaches the KMS key as the target, in the target's region (signingPlan).
	signer, err := s.prepareSigner(ctx, setup, sg, login, cfg.Credentials)
	if err != nil {
		return "", nil, err
	}
	if err := s.verifyExisting(ctx, r, signer, cand.ImageRef, bg); err != nil {
		return "", nil, err
	}
	r.Promotion = &report.Promotion{SourceEnv: src.Name, SourceTaskDefinition: taskdef.ShortName(cand.TaskDefinitionArn), ApprovedBy: approval.By, ApprovalReason: approval.Reason, ApprovedAt: approval.At}
	tags := map[string]string{promote.TagPromotedFrom: src.Name}
	if approval.By != "" {
		tags = promote.Tags(cand, approval)
	}
	return cand.ImageRef, tags, nil
}

// policyGate checks the task definition, rendered with image, and the environment's service
// settings. It is the "policy" phase, failed when the gate refuses (not when break glass
// bypasses it: the report records the bypass).
func (s *Session) policyGate(ctx context.Context, r *report.Recorder, f *config.File, e config.Environment, def *taskdef.Definition, image string, bg report.BreakGlassRequest) (rerr error) {
	ctx, end := r.Phase(ctx, "policy")
	defer func() { end(rerr) }()
	rendered, err := def.Render(taskdef.RenderOptions{Containers: []string{e.Container}, Image: image})
	if err != nil {
		return err
	}
	in, err := rendered.Definition.RegisterInput()
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
		Production:      e.Production,
		Suppressions:    precheck.Suppressions(f),
	})
	if err != nil {
		return err
	}
	threshold, err := policy.ParseSeverity(f.Policy.Threshold)
	if err != nil {
		return fmt.Errorf("policy.threshold: %w", err)
	}
	r.Policy = policySummary(rep, threshold, f.Policy.Threshold)
	r.Logf("policy: %d finding(s) at or above %s, %d suppressed", len(r.Policy.Failures), f.Policy.Threshold, rep.Summary.Suppressed)
	var failure error
	if rep.Failed(threshold) {
		var b strings.Builder
		_ = policy.Render(&b, rep, policy.FormatText)
		failure = fmt.Errorf("policy check failed (threshold %s):\n%s", f.Policy.Threshold, b.String())
	}
	return r.Gate(ctx, "policy", failure, bg)
}

// policySummary counts rules, not findings: a rule passed when none of its findings fails
// (unsuppressed, at or above the threshold); two failing findings of one rule are one failed
// rule. Failures lists every failing finding.
func policySummary(rep policy.Report, threshold policy.Severity, name string) *report.Policy {
	p := &report.Policy{Threshold: name, Suppressed: rep.Summary.Suppressed}
	failing := map[string]bool{}
	for _, fd := range rep.Findings {
		if fd.Suppressed || fd.Severity < threshold {
			continue
		}
		failing[fd.Rule] = true
		p.Failures = append(p.Failures, report.Finding{Rule: fd.Rule, Severity: fd.Severity, Resource: fd.Resource, Message: fd.Message})
	}
	p.Failed = len(failing)
	p.Passed = max(len(policy.Rules())-p.Failed, 0)
	return p
}

func mergeMaps(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, b)
	return out
}
