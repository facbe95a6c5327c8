package ecs

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"dagger/fargate/pipeline/taskdef"
)

// DefaultTimeout bounds the wait for a deployment when the options give none.
const DefaultTimeout = 15 * time.Minute

// DeployOptions say what to deploy where.
type DeployOptions struct {
	// Cluster and Service name the ECS service (names or ARNs). Required.
	Cluster, Service string
	// Definition is the rendered task definition (taskdef.Definition.Render). Required.
	Definition *taskdef.Definition
	// Tags are added to the registration (taskdef.Tags), after the file's own tags.
	Tags []types.Tag
	// ExpectedAccount, when set, is the 12-digit AWS account the credentials must belong to;
	// it is checked before anything changes.
	ExpectedAccount string
	// Timeout bounds the wait for the new deployment (DefaultTimeout when zero).
	Timeout time.Duration
	// RollbackTimeout bounds the wait for a rollback (Timeout when zero).
	RollbackTimeout time.Duration
	// DisableCircuitBreaker leaves the service's circuit breaker settings as they are instead
	// of turning on deploymentCircuitBreaker{enable: true, rollback: true}.
	DisableCircuitBreaker bool
	// WaitForInProgress waits for a deployment already in progress to finish instead of
	// refusing to start.
	WaitForInProgress bool
	// NoRollback reports a failed or timed-out deployment without rolling the service back
	// (a rollback ECS's circuit breaker performs is still followed).
	NoRollback bool
	// Delivery sets the deployment strategy (blue/green, canary, linear, rolling with alarms)
	// and makes the engine follow the service deployment (progressive.go); nil keeps the
	// service's strategy and the DescribeServices wait.
	Delivery *Delivery
	// BeforeUpdate, when set, runs after the definition is registered and before the service
	// is updated, with the registered ARN and the service as read (a pre-deploy migration
	// task). An error leaves the service as it was: Class PreDeployFailed (Cancelled when ctx
	// is done), the registered revision unused.
	BeforeUpdate func(ctx context.Context, registered string, svc *types.Service) error
}

// RollbackOptions say which service to return to which task definition.
type RollbackOptions struct {
	Cluster, Service string
	// To is family:revision or an ARN; empty means the latest ACTIVE revision of the running
	// family older than the one running.
	To                    string
	ExpectedAccount       string
	Timeout               time.Duration
	DisableCircuitBreaker bool
}

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)

// run is one change of a service's task definition and the wait that follows.
type run struct {
	cluster, service     string
	register             *awsecs.RegisterTaskDefinitionInput // set by validate for a deploy
	timeout, rbTimeout   time.Duration
	noBreaker, waitFirst bool
	noRollback           bool
	verb                 string // "deployed" or "rolled back to"
	delivery             *Delivery
	expectedAccount      string
	beforeUpdate         func(ctx context.Context, registered string, svc *types.Service) error
	validate             func() error
	// resolveTarget picks an existing task definition (rollback) instead of registering one.
	resolveTarget func(ctx context.Context, svc *types.Service) (string, error)
}

// Deploy registers the rendered definition, points the service at it and waits until the
// deployment it created completes, fails or times out; a failed or timed-out deployment is
// rolled back to the previous task definition unless ECS already did. The Result is never
// nil; the error is non-nil unless the Result's class is Completed.
func (e *Engine) Deploy(ctx context.Context, o DeployOptions) (*Result, error) {
	rq := &run{
		cluster: o.Cluster, service: o.Service, timeout: o.Timeout, rbTimeout: o.RollbackTimeout,
		noBreaker: o.DisableCircuitBreaker, waitFirst: o.WaitForInProgress, noRollback: o.NoRollback,
		verb: "deployed", expectedAccount: o.ExpectedAccount, delivery: o.Delivery, beforeUpdate: o.BeforeUpdate,
	}
	rq.validate = func() error {
		if o.Definition == nil {
			return errors.New("task definition: required")
		}
		if err := o.Delivery.validate(); err != nil {
			return err
		}
		if err := o.Definition.CheckEnvironment(); err != nil {
			return err
		}
		in, err := o.Definition.RegisterInput(o.Tags...)
		if err != nil {
			return err
		}
		if err := taskdef.ValidateTags(in.Tags); err != nil {
			return err
		}
		for _, c := range in.ContainerDefinitions {
			if _, err := taskdef.ImageDigest(aws.ToString(c.Image)); err != nil {
				return fmt.Errorf("container %q: %w", aws.ToString(c.Name), err)
			}
		}
		rq.register = in
		return nil
	}
	return e.execute(ctx, rq)
}

// Rollback points the service at an earlier task definition (o.To, or the previous ACTIVE
// revision) and waits for that deployment like Deploy does.
func (e *Engine) Rollback(ctx context.Context, o RollbackOptions) (*Result, error) {
	rq := &run{
		cluster: o.Cluster, service: o.Service, timeout: o.Timeout, noBreaker: o.DisableCircuitBreaker,
		noRollback: true, verb: "rolled back to", expectedAccount: o.ExpectedAccount,
	}
	rq.validate = func() error {
		if o.To != "" && !strings.HasPrefix(o.To, "arn:") {
			fam, rev, ok := strings.Cut(o.To, ":")
			if _, err := strconv.Atoi(rev); !ok || err != nil || fam == "" {
				return fmt.Errorf("rollback target %q: expected family:revision or a task definition ARN", o.To)
			}
		}
		return nil
	}
	rq.resolveTarget = func(ctx context.Context, svc *types.Service) (string, error) {
		current := primaryOf(svc)
		if current == nil {
			return "", errors.New("the service has no PRIMARY deployment")
		}
		if o.To != "" {
			out, err := e.ecs.DescribeTaskDefinition(ctx, &awsecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(o.To)})
			if err != nil {
				return "", fmt.Errorf("describe task definition %s: %w", o.To, err)
			}
			return aws.ToString(out.TaskDefinition.TaskDefinitionArn), nil
		}
		return e.previousRevision(ctx, aws.ToString(current.TaskDefinition))
	}
	return e.execute(ctx, rq)
}

// previousRevision finds the newest ACTIVE revision of arn's family older than arn.
func (e *Engine) previousRevision(ctx context.Context, arn string) (string, error) {
	fam, rev, err := splitTaskDef(arn)
	if err != nil {
		return "", err
	}
	var token *string
	for {
		out, err := e.ecs.ListTaskDefinitions(ctx, &awsecs.ListTaskDefinitionsInput{
			FamilyPrefix: aws.String(fam), Status: types.TaskDefinitionStatusActive, Sort: types.SortOrderDesc, NextToken: token,
		})
		if err != nil {
			return "", fmt.Errorf("list task definitions of %s: %w", fam, err)
		}
		for _, a := range out.TaskDefinitionArns {
			f, r, err := splitTaskDef(a)
			if err == nil && f == fam && r < rev {
				return a, nil
			}
		}
		if out.NextToken == nil {
			return "", fmt.Errorf("no ACTIVE revision of %s older than %d to roll back to", fam, rev)
		}
		token = out.NextToken
	}
}

func splitTaskDef(arn string) (string, int, error) {
	s := taskdef.ShortName(arn)
	fam, rev, ok := strings.Cut(s, ":")
	n, err := strconv.Atoi(rev)
	if !ok || err != nil {
		return "", 0, fmt.Errorf("task definition %q: expected family:revision", arn)
	}
	return fam, n, nil
}

func (e *Engine) execute(ctx context.Context, rq *run) (*Result, error) {
	start := e.clock.Now()
	r := &Result{Cluster: rq.cluster, Service: rq.service}
	st := &pollStats{}
	done := func() (*Result, error) {
		r.Elapsed = e.clock.Now().Sub(start)
		r.Polls, r.Throttled, r.MaxInterval, r.Events = st.polls, st.throttled, st.maxInterval, st.lastEvents(20)
		return r, r.Err()
	}
	stop := func(c Class, format string, args ...any) (*Result, error) {
		r.Class = c
		r.Outcome = "not changed: " + fmt.Sprintf(format, args...)
		return done()
	}

	// 1. Validate everything before talking to AWS.
	switch {
	case rq.cluster == "":
		return stop(BadInput, "cluster: required")
	case rq.service == "":
		return stop(BadInput, "service: required")
	case rq.timeout < 0 || rq.rbTimeout < 0:
		return stop(BadInput, "timeout: expected a positive duration")
	case rq.expectedAccount != "" && !accountRE.MatchString(rq.expectedAccount):
		return stop(BadInput, "expected account %q: expected a 12-digit AWS account ID", rq.expectedAccount)
	}
	if rq.timeout == 0 {
		rq.timeout = DefaultTimeout
	}
	if rq.rbTimeout == 0 {
		rq.rbTimeout = rq.timeout
	}
	if err := rq.validate(); err != nil {
		return stop(BadInput, "%v", err)
	}

	// 2. The right account.
	if rq.expectedAccount != "" {
		if err := e.VerifyAccount(ctx, rq.expectedAccount); err != nil {
			var wrong *WrongAccountError
			if errors.As(err, &wrong) {
				return stop(WrongAccount, "%v", err)
			}
			return stop(classify(ctx, err), "%v", err)
		}
	}

	// 3. The service as it is, and no deployment in progress.
	svc, err := e.describe(ctx, rq.cluster, rq.service)
	if err != nil {
		return stop(classify(ctx, err), "%v", err)
	}
	seen := map[string]bool{}
	markSeen(seen, svc)
	for inProgress(svc) {
		p := primaryOf(svc)
		if !rq.waitFirst {
			return stop(Busy, "deployment %s of %s is in progress (%d deployments); wait for it to finish or deploy with the wait-for-in-progress option",
				idOf(p), taskdef.ShortName(taskDefOf(p)), len(svc.Deployments))
		}
		e.logf("waiting for deployment %s of %s, already in progress, to finish", idOf(p), taskdef.ShortName(taskDefOf(p)))
		wr := e.wait(ctx, &waitSpec{cluster: rq.cluster, service: rq.service, taskDef: taskDefOf(p), deploymentID: idOf(p),
			deadline: e.clock.Now().Add(rq.timeout), seen: seen, start: e.clock.Now(), drainHint: drainHint(svc)}, st)
		switch wr.kind {
		case waitCancelled:
			return stop(Cancelled, "cancelled while waiting for the deployment already in progress")
		case waitTimedOut:
			return stop(TimedOut, "the deployment already in progress did not finish within %s", rq.timeout)
		case waitAWSError:
			return stop(AWSError, "waiting for the deployment already in progress: %v", wr.err)
		}
		if svc, err = e.describe(ctx, rq.cluster, rq.service); err != nil {
			return stop(classify(ctx, err), "%v", err)
		}
	}
	prev := primaryOf(svc)
	r.PreviousTaskDefinition = taskDefOf(prev)
	before := map[string]bool{}
	for _, d := range svc.Deployments {
		before[aws.ToString(d.Id)] = true
	}
	hint := drainHint(svc)
	if _, err := rq.delivery.apply(deploymentConfig(svc, rq.noBreaker), svc); err != nil {
		return stop(BadInput, "%v", err)
	}

	// 4. Register (deploy) or resolve (rollback) the target.
	var target string
	if rq.resolveTarget != nil {
		if target, err = rq.resolveTarget(ctx, svc); err != nil {
			return stop(BadInput, "%v", err)
		}
		if target == r.PreviousTaskDefinition {
			return stop(BadInput, "the service already runs %s", taskdef.ShortName(target))
		}
	}
	if rq.register != nil {
		out, err := e.ecs.RegisterTaskDefinition(ctx, rq.register)
		if err != nil {
			return stop(classify(ctx, err), "register task definition %q: %v", aws.ToString(rq.register.Family), err)
		}
		target = aws.ToString(out.TaskDefinition.TaskDefinitionArn)
		r.RegisteredTaskDefinition = target
		e.logf("registered %s", taskdef.ShortName(target))
	}
	if rq.beforeUpdate != nil {
		if err := rq.beforeUpdate(ctx, target, svc); err != nil {
			if ctx.Err() != nil {
				return stop(Cancelled, "%v", err)
			}
			e.stateFrom(r, svc, "") // where the service stays
			return stop(PreDeployFailed, "%v", err)
		}
	}

	// 5. Point the service at it, with the circuit breaker on.
	cfg := deploymentConfig(svc, rq.noBreaker)
	lbs, _ := rq.delivery.apply(cfg, svc) // checked above
	updatedAt := e.clock.Now()
	upd, err := e.ecs.UpdateService(ctx, &awsecs.UpdateServiceInput{
		Cluster: aws.String(rq.cluster), Service: aws.String(rq.service),
		TaskDefinition: aws.String(target), DeploymentConfiguration: cfg, LoadBalancers: lbs,
	})
	if err != nil {
		r.Class = classify(ctx, err)
		e.finalState(ctx, r, target)
		if r.ServiceUpdated {
			// The answer was lost (cancelled, or an error after the change was made).
			r.Outcome = fmt.Sprintf("update service %s to %s answered %v, but the service was updated; it is on %s (%s) and was not followed",
				rq.service, taskdef.ShortName(target), err, taskdef.ShortName(r.FinalTaskDefinition), orUnknown(r.FinalRolloutState))
		} else {
			r.Outcome = fmt.Sprintf("service not updated (still on %s): update service %s to %s: %v",
				taskdef.ShortName(r.FinalTaskDefinition), rq.service, taskdef.ShortName(target), err)
		}
		return done()
	}
	r.ServiceUpdated = true
	r.DeploymentID = deploymentFor(upd.Service, target, before)
	e.logf("updated service %s to %s (deployment %s); waiting up to %s", rq.service, taskdef.ShortName(target), orUnknown(r.DeploymentID), rq.timeout)
	if e.followDelivery(ctx, rq, r, st, upd.Service, updatedAt, target) {
		return done()
	}

	// 6. Follow our deployment. The busy check and the update are two calls: another client
	// may have updated the service in between (the CI's concurrency groups are the first
	// line of defence, this check the second). Its deployment shows in the update's answer
	// or in the first read, Polling.Confirm later.
	breakerRollback := cfg.DeploymentCircuitBreaker != nil && cfg.DeploymentCircuitBreaker.Enable && cfg.DeploymentCircuitBreaker.Rollback
	w := &waitSpec{cluster: rq.cluster, service: rq.service, taskDef: target, deploymentID: r.DeploymentID,
		deadline: e.clock.Now().Add(rq.timeout), seen: seen, breakerRollback: breakerRollback, start: e.clock.Now(),
		before: before, previousTaskDef: r.PreviousTaskDefinition, drainHint: hint}
	var wr waitResult
	if other := e.foreign(upd.Service, w); other != nil && r.DeploymentID != "" {
		wr = waitResult{kind: waitConcurrent, other: other, last: upd.Service,
			reason: fmt.Sprintf("deployment %s of %s was started alongside ours (%s of %s)", idOf(other), taskdef.ShortName(taskDefOf(other)), r.DeploymentID, taskdef.ShortName(target))}
	} else {
		wr = e.wait(ctx, w, st)
	}
	r.DeploymentID = w.deploymentID

	switch wr.kind {
	case waitCompleted:
		r.Class = Completed
		r.Outcome = fmt.Sprintf("%s %s", rq.verb, taskdef.ShortName(target))
		e.stateFrom(r, wr.last, target)
		return done()
	case waitSuperseded:
		// Ours completed; another deployment came after it. That is a success.
		r.Class = Completed
		r.SupersededBy = otherOf(wr.other)
		e.stateFrom(r, wr.last, target)
		r.Outcome = fmt.Sprintf("%s %s, then superseded by %s", rq.verb, taskdef.ShortName(target), r.SupersededBy)
		e.logf("deployment %s completed; %s has replaced it since", r.DeploymentID, r.SupersededBy)
		return done()
	case waitConcurrent:
		r.Class = ConcurrentDeploy
		r.Concurrent = otherOf(wr.other)
		e.finalState(ctx, r, target)
		r.Outcome = fmt.Sprintf("concurrent deploy detected: %s, not ours, alongside ours (%s of %s); service on %s (%s); not rolled back: the other deploy owns the service now",
			r.Concurrent, orUnknown(r.DeploymentID), taskdef.ShortName(target), taskdef.ShortName(r.FinalTaskDefinition), orUnknown(r.FinalRolloutState))
		r.Reason = wr.reason
		return done()
	case waitUnseen:
		// Never visible: read-after-write lag that outlasted the timeout. The state is
		// unknown; rolling back blind could undo a deploy that worked.
		r.Class = TimedOut
		e.finalState(ctx, r, target)
		r.Outcome = fmt.Sprintf("unknown: service updated to %s but its deployment was never visible; service reads as on %s (%s); not rolled back",
			taskdef.ShortName(target), taskdef.ShortName(r.FinalTaskDefinition), orUnknown(r.FinalRolloutState))
		r.Reason = wr.reason
		return done()
	case waitCancelled:
		r.Class = Cancelled
		e.finalState(ctx, r, target)
		r.Outcome = cancelledOutcome(r, target)
		return done()
	case waitAWSError:
		r.Class = AWSError
		e.finalState(ctx, r, target)
		r.Outcome = fmt.Sprintf("lost track of deployment %s of %s: %v; service on %s", orUnknown(w.deploymentID), taskdef.ShortName(target), wr.err, taskdef.ShortName(r.FinalTaskDefinition))
		return done()
	}

	// The deployment failed or timed out: say why, then make sure the service is back.
	r.Reason, r.StoppedTasks = e.explain(ctx, rq, wr, st, target, r.DeploymentID)
	switch wr.kind {
	case waitTimedOut:
		r.Class = TimedOut
	default:
		r.Class = RolledBack
	}
	if wr.kind == waitReplaced {
		// ECS rolled back (circuit breaker), or someone else deployed over us: follow the
		// deployment that replaced ours.
		p := primaryOf(wr.last)
		rb := &waitSpec{cluster: rq.cluster, service: rq.service, taskDef: taskDefOf(p), deploymentID: idOf(p),
			deadline: e.clock.Now().Add(rq.rbTimeout), seen: seen, start: e.clock.Now(), drainHint: hint}
		if taskDefOf(p) == r.PreviousTaskDefinition {
			r.RolledBackBy = "ecs"
			e.logf("ECS is rolling back to %s (deployment %s)", taskdef.ShortName(taskDefOf(p)), idOf(p))
			e.settle(ctx, r, rb, st, target, "rolled back to "+taskdef.ShortName(taskDefOf(p)))
		} else {
			e.logf("another deployment (%s of %s) replaced ours", idOf(p), taskdef.ShortName(taskDefOf(p)))
			e.settle(ctx, r, rb, st, target, "superseded by another deployment; service on "+taskdef.ShortName(taskDefOf(p)))
		}
		return done()
	}
	if rq.noRollback || r.PreviousTaskDefinition == "" {
		e.finalState(ctx, r, target)
		why := "rollback disabled"
		if r.PreviousTaskDefinition == "" {
			why = "no previous task definition"
		}
		r.Outcome = fmt.Sprintf("not rolled back (%s), service on %s", why, taskdef.ShortName(r.FinalTaskDefinition))
		return done()
	}
	if ctx.Err() != nil {
		r.Class = Cancelled
		e.finalState(ctx, r, target)
		r.Outcome = cancelledOutcome(r, target)
		return done()
	}
	r.RolledBackBy = "pipeline"
	e.logf("rolling back to %s", taskdef.ShortName(r.PreviousTaskDefinition))
	back, err := e.ecs.UpdateService(ctx, &awsecs.UpdateServiceInput{
		Cluster: aws.String(rq.cluster), Service: aws.String(rq.service),
		TaskDefinition: aws.String(r.PreviousTaskDefinition), DeploymentConfiguration: cfg,
	})
	if err != nil {
		e.finalState(ctx, r, target)
		r.Outcome = fmt.Sprintf("rollback failed, service on %s: update service: %v", taskdef.ShortName(r.FinalTaskDefinition), err)
		return done()
	}
	rb := &waitSpec{cluster: rq.cluster, service: rq.service, taskDef: r.PreviousTaskDefinition,
		deploymentID: deploymentFor(back.Service, r.PreviousTaskDefinition, nil), deadline: e.clock.Now().Add(rq.rbTimeout), seen: seen, start: e.clock.Now(), drainHint: hint}
	e.settle(ctx, r, rb, st, target, "rolled back to "+taskdef.ShortName(r.PreviousTaskDefinition))
	return done()
}

// settle waits for a rollback deployment, on its own timeout, and sets the Outcome.
func (e *Engine) settle(ctx context.Context, r *Result, rb *waitSpec, st *pollStats, target, completed string) {
	wr := e.wait(ctx, rb, st)
	switch wr.kind {
	case waitCompleted, waitSuperseded:
		e.stateFrom(r, wr.last, target)
	default:
		e.finalState(ctx, r, target)
	}
	switch wr.kind {
	case waitCompleted, waitSuperseded:
		r.Outcome = completed
	case waitCancelled:
		r.Class = Cancelled
		r.Outcome = fmt.Sprintf("cancelled while rolling back to %s: service on %s (%s), ECS continues the rollback on its own",
			taskdef.ShortName(rb.taskDef), taskdef.ShortName(r.FinalTaskDefinition), orUnknown(r.FinalRolloutState))
	case waitTimedOut, waitUnseen:
		// The rollback is healthy so far, only slower than its timeout: it is on its way.
		if taskDefOf(primaryOf(wr.last)) == rb.taskDef && (wr.ours == nil || wr.ours.RolloutState != types.DeploymentRolloutStateFailed) {
			r.Class = RollbackInProgress
			r.Outcome = fmt.Sprintf("rollback in progress to %s (deployment %s, running %s), not finished within the rollback timeout; ECS continues it",
				taskdef.ShortName(rb.taskDef), orUnknown(rb.deploymentID), runningOf(wr.ours))
			r.Reason += "; rollback: " + wr.reason
			return
		}
		r.Outcome = fmt.Sprintf("rollback failed, service on %s (%s)", taskdef.ShortName(r.FinalTaskDefinition), orUnknown(r.FinalRolloutState))
		if wr.reason != "" {
			r.Reason += "; rollback: " + wr.reason
		}
	default:
		r.Outcome = fmt.Sprintf("rollback failed, service on %s (%s)", taskdef.ShortName(r.FinalTaskDefinition), orUnknown(r.FinalRolloutState))
		if wr.reason != "" {
			r.Reason += "; rollback: " + wr.reason
		}
	}
}

// deploymentConfig is the service's deployment configuration with the circuit breaker on
// (enable and rollback), all other settings (percents, alarms, strategy) kept.
func deploymentConfig(svc *types.Service, noBreaker bool) *types.DeploymentConfiguration {
	cfg := &types.DeploymentConfiguration{}
	if svc.DeploymentConfiguration != nil {
		c := *svc.DeploymentConfiguration
		cfg = &c
	}
	if !noBreaker {
		cb := types.DeploymentCircuitBreaker{}
		if cfg.DeploymentCircuitBreaker != nil {
			cb = *cfg.DeploymentCircuitBreaker
		}
		cb.Enable, cb.Rollback = true, true
		cfg.DeploymentCircuitBreaker = &cb
	}
	return cfg
}

// finalState records where the service is, with a fresh short context so that a cancelled
// caller still learns it.
func (e *Engine) finalState(ctx context.Context, r *Result, ours string) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	svc, err := e.describe(fctx, r.Cluster, r.Service)
	if err != nil {
		r.FinalRolloutState = "unknown (" + err.Error() + ")"
		return
	}
	e.stateFrom(r, svc, ours)
}

// stateFrom records where the service is from a read just made (no extra call).
func (e *Engine) stateFrom(r *Result, svc *types.Service, ours string) {
	if svc == nil {
		return
	}
	p := primaryOf(svc)
	r.FinalTaskDefinition = taskDefOf(p)
	if p != nil {
		r.FinalRolloutState = string(p.RolloutState)
	}
	r.FinalDeployments = len(svc.Deployments)
	if !r.ServiceUpdated && ours != "" {
		for _, d := range svc.Deployments {
			if aws.ToString(d.TaskDefinition) == ours {
				r.ServiceUpdated = true // the update went through although its answer was lost
			}
		}
	}
}

func (e *Engine) describe(ctx context.Context, cluster, service string) (*types.Service, error) {
	out, err := e.ecs.DescribeServices(ctx, &awsecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{service}})
	if err != nil {
		return nil, fmt.Errorf("describe service %s in cluster %s: %w", service, cluster, err)
	}
	return serviceFrom(out, cluster, service)
}

func serviceFrom(out *awsecs.DescribeServicesOutput, cluster, service string) (*types.Service, error) {
	for i := range out.Services {
		s := &out.Services[i]
		if aws.ToString(s.Status) != "ACTIVE" {
			return nil, fmt.Errorf("service %s in cluster %s is %s, not ACTIVE", service, cluster, aws.ToString(s.Status))
		}
		return s, nil
	}
	reason := "MISSING"
	if len(out.Failures) > 0 {
		reason = aws.ToString(out.Failures[0].Reason)
	}
	return nil, &notFoundError{msg: fmt.Sprintf("service %s not found in cluster %s (%s)", service, cluster, reason)}
}

type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }

// classify maps an error from AWS (or the context) to a result class.
func classify(ctx context.Context, err error) Class {
	var nf *notFoundError
	switch {
	case ctx.Err() != nil:
		return Cancelled
	case errors.As(err, &nf):
		return BadInput
	}
	return AWSError
}

func inProgress(svc *types.Service) bool {
	if len(svc.Deployments) > 1 {
		return true
	}
	p := primaryOf(svc)
	return p != nil && p.RolloutState == types.DeploymentRolloutStateInProgress
}

func primaryOf(svc *types.Service) *types.Deployment {
	if svc == nil {
		return nil
	}
	for i := range svc.Deployments {
		if aws.ToString(svc.Deployments[i].Status) == "PRIMARY" {
			return &svc.Deployments[i]
		}
	}
	return nil
}

func taskDefOf(d *types.Deployment) string {
	if d == nil {
		return ""
	}
	return aws.ToString(d.TaskDefinition)
}

func idOf(d *types.Deployment) string {
	if d == nil {
		return ""
	}
	return aws.ToString(d.Id)
}

// deploymentFor finds the deployment of taskDef that an UpdateService answer shows and
// that was not there before (before may be nil): the PRIMARY one if there is one.
func deploymentFor(svc *types.Service, taskDef string, before map[string]bool) string {
	if svc == nil {
		return ""
	}
	found := ""
	for _, d := range svc.Deployments {
		if aws.ToString(d.TaskDefinition) != taskDef || before[aws.ToString(d.Id)] {
			continue
		}
		if aws.ToString(d.Status) == "PRIMARY" {
			return aws.ToString(d.Id)
		}
		found = aws.ToString(d.Id)
	}
	return found
}

func otherOf(d *types.Deployment) *OtherDeployment {
	if d == nil {
		return &OtherDeployment{}
	}
	return &OtherDeployment{ID: idOf(d), TaskDefinition: taskDefOf(d), Status: aws.ToString(d.Status),
		RolloutState: string(d.RolloutState), CreatedAt: aws.ToTime(d.CreatedAt)}
}

func runningOf(d *types.Deployment) string {
	if d == nil {
		return "unknown"
	}
	return fmt.Sprintf("%d/%d", d.RunningCount, d.DesiredCount)
}

// cancelledOutcome says where a cancelled deploy left the service: ECS goes on with the
// rollout it was given, whether anyone waits for it or not.
func cancelledOutcome(r *Result, target string) string {
	return fmt.Sprintf("cancelled: service on %s (%s; updated to %s), ECS continues the rollout on its own",
		taskdef.ShortName(r.FinalTaskDefinition), orUnknown(r.FinalRolloutState), taskdef.ShortName(target))
}

func markSeen(seen map[string]bool, svc *types.Service) {
	for _, ev := range svc.Events {
		seen[aws.ToString(ev.Id)] = true
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// WrongAccountError says the credentials belong to another account than the environment's.
type WrongAccountError struct {
	Got, Expected string
}

func (e *WrongAccountError) Error() string {
	return fmt.Sprintf("the credentials belong to account %s, expected %s", e.Got, e.Expected)
}

// VerifyAccount checks, with STS, that the credentials belong to the expected account. Call
// it before changing anything in AWS (publishing to ECR included); a mismatch is a
// *WrongAccountError.
func (e *Engine) VerifyAccount(ctx context.Context, expected string) error {
	if !accountRE.MatchString(expected) {
		return fmt.Errorf("expected account %q: expected a 12-digit AWS account ID", expected)
	}
	id, err := e.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("verify AWS account: %w", err)
	}
	if got := aws.ToString(id.Account); got != expected {
		return &WrongAccountError{Got: got, Expected: expected}
	}
	return nil
}
