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
	"go.opentelemetry.io/otel/attribute"

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

// attempt is one execution of a run: the steps of execute and what they learn on the way.
type attempt struct {
	e     *Engine
	rq    *run
	r     *Result
	st    *pollStats
	start time.Time

	svc       *types.Service                 // the service as it was before the update
	seen      map[string]bool                // service event IDs already shown
	before    map[string]bool                // the deployment IDs the service had before the update
	hint      time.Duration                  // drainHint of the service's history
	target    string                         // the task definition deployed
	cfg       *types.DeploymentConfiguration // the deployment configuration sent (and the rollback's)
	lbs       []types.LoadBalancer           // the load balancers sent (Delivery.apply)
	upd       *types.Service                 // the UpdateService answer
	updatedAt time.Time                      // when it was sent
}

// execute runs the steps of a deploy or rollback, each a span (progress.Tracer) under one
// for the whole run: validate, check the account, inspect the service (waiting for a
// deployment in progress if asked), register or resolve the target, update the service,
// follow the deployment, and recover (follow ECS's rollback or roll back) when it failed.
func (e *Engine) execute(ctx context.Context, rq *run) (*Result, error) {
	name := "deploy " + rq.service
	if rq.resolveTarget != nil {
		name = "roll back " + rq.service
	}
	ctx, end := e.spans.Span(ctx, name, attribute.String("ecs.cluster", rq.cluster), attribute.String("ecs.service", rq.service))
	a := &attempt{e: e, rq: rq, r: &Result{Cluster: rq.cluster, Service: rq.service}, st: &pollStats{}, start: e.clock.Now()}
	res, err := a.steps(ctx)
	end(err)
	return res, err
}

func (a *attempt) steps(ctx context.Context) (*Result, error) {
	if !a.validate() || (a.rq.expectedAccount != "" && !a.step(ctx, "check account", a.checkAccount)) || !a.inspect(ctx) ||
		!a.resolve(ctx) || !a.step(ctx, "update service", a.update) {
		return a.done()
	}
	if a.e.followDelivery(ctx, a.rq, a.r, a.st, a.upd, a.updatedAt, a.target) {
		return a.done()
	}
	wr := a.follow(ctx)
	if !a.concluded(ctx, wr) {
		a.recover(ctx, wr)
	}
	return a.done()
}

// step runs fn in a span named name; fn reports whether the run goes on, and the span fails
// when it does not.
func (a *attempt) step(ctx context.Context, name string, fn func(context.Context) bool) bool {
	ctx, end := a.e.spans.Span(ctx, name)
	ok := fn(ctx)
	end(a.stepErr(ok))
	return ok
}

func (a *attempt) stepErr(ok bool) error {
	if ok {
		return nil
	}
	if err := a.r.Err(); err != nil {
		return err
	}
	return errors.New(a.r.Outcome)
}

func (a *attempt) done() (*Result, error) {
	r, st := a.r, a.st
	r.Elapsed = a.e.clock.Now().Sub(a.start)
	r.Polls, r.Throttled, r.MaxInterval, r.Events = st.polls, st.throttled, st.maxInterval, st.lastEvents(20)
	return r, r.Err()
}

// stop ends the run before anything changed.
func (a *attempt) stop(c Class, format string, args ...any) bool {
	a.r.Class = c
	a.r.Outcome = "not changed: " + fmt.Sprintf(format, args...)
	return false
}

// validate checks everything before talking to AWS.
func (a *attempt) validate() bool {
	rq := a.rq
	switch {
	case rq.cluster == "":
		return a.stop(BadInput, "cluster: required")
	case rq.service == "":
		return a.stop(BadInput, "service: required")
	case rq.timeout < 0 || rq.rbTimeout < 0:
		return a.stop(BadInput, "timeout: expected a positive duration")
	case rq.expectedAccount != "" && !accountRE.MatchString(rq.expectedAccount):
		return a.stop(BadInput, "expected account %q: expected a 12-digit AWS account ID", rq.expectedAccount)
	}
	if rq.timeout == 0 {
		rq.timeout = DefaultTimeout
	}
	if rq.rbTimeout == 0 {
		rq.rbTimeout = rq.timeout
	}
	if err := rq.validate(); err != nil {
		return a.stop(BadInput, "%v", err)
	}
	return true
}

// checkAccount makes sure the credentials belong to the expected account.
func (a *attempt) checkAccount(ctx context.Context) bool {
	if err := a.e.VerifyAccount(ctx, a.rq.expectedAccount); err != nil {
		var wrong *WrongAccountError
		if errors.As(err, &wrong) {
			return a.stop(WrongAccount, "%v", err)
		}
		return a.stop(classify(ctx, err), "%v", err)
	}
	return true
}

// inspect reads the service as it is and refuses (or waits, when asked) while a deployment
// is in progress.
func (a *attempt) inspect(ctx context.Context) bool {
	e, rq := a.e, a.rq
	sctx, end := e.spans.Span(ctx, "inspect service")
	svc, err := e.describe(sctx, rq.cluster, rq.service)
	end(err)
	if err != nil {
		return a.stop(classify(ctx, err), "%v", err)
	}
	a.seen = map[string]bool{}
	markSeen(a.seen, svc)
	for inProgress(svc) {
		if !a.waitInProgress(ctx, svc) {
			return false
		}
		if svc, err = e.describe(ctx, rq.cluster, rq.service); err != nil {
			return a.stop(classify(ctx, err), "%v", err)
		}
	}
	a.svc = svc
	a.r.PreviousTaskDefinition = taskDefOf(primaryOf(svc))
	a.before = map[string]bool{}
	for _, d := range svc.Deployments {
		a.before[aws.ToString(d.Id)] = true
	}
	a.hint = drainHint(svc)
	a.cfg = deploymentConfig(svc, rq.noBreaker)
	if a.lbs, err = rq.delivery.apply(a.cfg, svc); err != nil {
		return a.stop(BadInput, "%v", err)
	}
	return true
}

// waitInProgress waits for the deployment in progress on svc (WaitForInProgress) or refuses.
func (a *attempt) waitInProgress(ctx context.Context, svc *types.Service) bool {
	e, rq := a.e, a.rq
	p := primaryOf(svc)
	if !rq.waitFirst {
		return a.stop(Busy, "deployment %s of %s is in progress (%d deployments); wait for it to finish or deploy with the wait-for-in-progress option",
			idOf(p), taskdef.ShortName(taskDefOf(p)), len(svc.Deployments))
	}
	e.logf("waiting for deployment %s of %s, already in progress, to finish", idOf(p), taskdef.ShortName(taskDefOf(p)))
	wr := e.follow(ctx, "wait for the deployment in progress", &waitSpec{cluster: rq.cluster, service: rq.service, taskDef: taskDefOf(p), deploymentID: idOf(p),
		deadline: e.clock.Now().Add(rq.timeout), seen: a.seen, start: e.clock.Now(), drainHint: drainHint(svc)}, a.st)
	switch wr.kind {
	case waitCancelled:
		return a.stop(Cancelled, "cancelled while waiting for the deployment already in progress")
	case waitTimedOut:
		return a.stop(TimedOut, "the deployment already in progress did not finish within %s", rq.timeout)
	case waitAWSError:
		return a.stop(AWSError, "waiting for the deployment already in progress: %v", wr.err)
	}
	return true
}

// resolve registers the new task definition (deploy) or picks the existing one (rollback).
func (a *attempt) resolve(ctx context.Context) bool {
	e, rq, r := a.e, a.rq, a.r
	if rq.resolveTarget != nil {
		return a.step(ctx, "resolve rollback target", func(ctx context.Context) bool {
			target, err := rq.resolveTarget(ctx, a.svc)
			if err != nil {
				return a.stop(BadInput, "%v", err)
			}
			if target == r.PreviousTaskDefinition {
				return a.stop(BadInput, "the service already runs %s", taskdef.ShortName(target))
			}
			a.target = target
			return true
		})
	}
	if rq.register == nil {
		return true
	}
	return a.step(ctx, "register task definition", func(ctx context.Context) bool {
		out, err := e.ecs.RegisterTaskDefinition(ctx, rq.register)
		if err != nil {
			return a.stop(classify(ctx, err), "register task definition %q: %v", aws.ToString(rq.register.Family), err)
		}
		a.target = aws.ToString(out.TaskDefinition.TaskDefinitionArn)
		r.RegisteredTaskDefinition = a.target
		e.logf("registered %s", taskdef.ShortName(a.target))
		return true
	}) && a.beforeUpdate(ctx)
}

// beforeUpdate runs the BeforeUpdate hook (the pre-deploy task) on the registered revision;
// when it fails the service is not updated and stays where it is.
func (a *attempt) beforeUpdate(ctx context.Context) bool {
	e, rq, r := a.e, a.rq, a.r
	if rq.beforeUpdate == nil {
		return true
	}
	if err := rq.beforeUpdate(ctx, a.target, a.svc); err != nil {
		if ctx.Err() != nil {
			return a.stop(Cancelled, "%v", err)
		}
		e.stateFrom(r, a.svc, "") // where the service stays
		return a.stop(PreDeployFailed, "%v", err)
	}
	return true
}

// update points the service at the target, with the circuit breaker on.
func (a *attempt) update(ctx context.Context) bool {
	e, rq, r, target := a.e, a.rq, a.r, a.target
	a.updatedAt = e.clock.Now()
	upd, err := e.ecs.UpdateService(ctx, &awsecs.UpdateServiceInput{
		Cluster: aws.String(rq.cluster), Service: aws.String(rq.service),
		TaskDefinition: aws.String(target), DeploymentConfiguration: a.cfg, LoadBalancers: a.lbs,
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
		return false
	}
	a.upd = upd.Service
	r.ServiceUpdated = true
	r.DeploymentID = deploymentFor(upd.Service, target, a.before)
	e.logf("updated service %s to %s (deployment %s); waiting up to %s", rq.service, taskdef.ShortName(target), orUnknown(r.DeploymentID), rq.timeout)
	return true
}

// follow waits for our deployment. The busy check and the update are two calls: another
// client may have updated the service in between (the CI's concurrency groups are the first
// line of defence, this check the second). Its deployment shows in the update's answer or
// in the first read, Polling.Confirm later.
func (a *attempt) follow(ctx context.Context) waitResult {
	e, rq, r, target, cfg := a.e, a.rq, a.r, a.target, a.cfg
	breakerRollback := cfg.DeploymentCircuitBreaker != nil && cfg.DeploymentCircuitBreaker.Enable && cfg.DeploymentCircuitBreaker.Rollback
	w := &waitSpec{cluster: rq.cluster, service: rq.service, taskDef: target, deploymentID: r.DeploymentID,
		deadline: e.clock.Now().Add(rq.timeout), seen: a.seen, breakerRollback: breakerRollback, start: e.clock.Now(),
		before: a.before, previousTaskDef: r.PreviousTaskDefinition, drainHint: a.hint}
	var wr waitResult
	if other := e.foreign(a.upd, w); other != nil && r.DeploymentID != "" {
		wr = waitResult{kind: waitConcurrent, other: other, last: a.upd,
			reason: fmt.Sprintf("deployment %s of %s was started alongside ours (%s of %s)", idOf(other), taskdef.ShortName(taskDefOf(other)), r.DeploymentID, taskdef.ShortName(target))}
	} else {
		wr = e.follow(ctx, "wait for deployment", w, a.st)
	}
	r.DeploymentID = w.deploymentID
	return wr
}

// concluded sets the Result when the wait ended in a way that needs no recovery: completed,
// superseded, concurrent, never seen, cancelled, or lost track of. It reports whether it did.
func (a *attempt) concluded(ctx context.Context, wr waitResult) bool {
	e, rq, r, target := a.e, a.rq, a.r, a.target
	switch wr.kind {
	case waitCompleted:
		r.Class = Completed
		r.Outcome = fmt.Sprintf("%s %s", rq.verb, taskdef.ShortName(target))
		e.stateFrom(r, wr.last, target)
	case waitSuperseded:
		// Ours completed; another deployment came after it. That is a success.
		r.Class = Completed
		r.SupersededBy = otherOf(wr.other)
		e.stateFrom(r, wr.last, target)
		r.Outcome = fmt.Sprintf("%s %s, then superseded by %s", rq.verb, taskdef.ShortName(target), r.SupersededBy)
		e.logf("deployment %s completed; %s has replaced it since", r.DeploymentID, r.SupersededBy)
	case waitConcurrent:
		r.Class = ConcurrentDeploy
		r.Concurrent = otherOf(wr.other)
		e.finalState(ctx, r, target)
		r.Outcome = fmt.Sprintf("concurrent deploy detected: %s, not ours, alongside ours (%s of %s); service on %s (%s); not rolled back: the other deploy owns the service now",
			r.Concurrent, orUnknown(r.DeploymentID), taskdef.ShortName(target), taskdef.ShortName(r.FinalTaskDefinition), orUnknown(r.FinalRolloutState))
		r.Reason = wr.reason
	case waitUnseen:
		// Never visible: read-after-write lag that outlasted the timeout. The state is
		// unknown; rolling back blind could undo a deploy that worked.
		r.Class = TimedOut
		e.finalState(ctx, r, target)
		r.Outcome = fmt.Sprintf("unknown: service updated to %s but its deployment was never visible; service reads as on %s (%s); not rolled back",
			taskdef.ShortName(target), taskdef.ShortName(r.FinalTaskDefinition), orUnknown(r.FinalRolloutState))
		r.Reason = wr.reason
	case waitCancelled:
		r.Class = Cancelled
		e.finalState(ctx, r, target)
		r.Outcome = cancelledOutcome(r, target)
	case waitAWSError:
		r.Class = AWSError
		e.finalState(ctx, r, target)
		r.Outcome = fmt.Sprintf("lost track of deployment %s of %s: %v; service on %s", orUnknown(r.DeploymentID), taskdef.ShortName(target), wr.err, taskdef.ShortName(r.FinalTaskDefinition))
	default:
		return false
	}
	return true
}

// recover handles a deployment that failed or timed out: it says why, then makes sure the
// service is back — following ECS's rollback, or rolling back itself.
func (a *attempt) recover(ctx context.Context, wr waitResult) {
	e, rq, r, target := a.e, a.rq, a.r, a.target
	r.Reason, r.StoppedTasks = e.explain(ctx, rq, wr, a.st, target, r.DeploymentID)
	switch wr.kind {
	case waitTimedOut:
		r.Class = TimedOut
	default:
		r.Class = RolledBack
	}
	if wr.kind == waitReplaced {
		a.followReplacement(ctx, wr)
		return
	}
	if rq.noRollback || r.PreviousTaskDefinition == "" {
		e.finalState(ctx, r, target)
		why := "rollback disabled"
		if r.PreviousTaskDefinition == "" {
			why = "no previous task definition"
		}
		r.Outcome = fmt.Sprintf("not rolled back (%s), service on %s", why, taskdef.ShortName(r.FinalTaskDefinition))
		return
	}
	if ctx.Err() != nil {
		r.Class = Cancelled
		e.finalState(ctx, r, target)
		r.Outcome = cancelledOutcome(r, target)
		return
	}
	a.rollBack(ctx)
}

// followReplacement follows the deployment that replaced ours: ECS rolling back (circuit
// breaker), or someone else's deploy.
func (a *attempt) followReplacement(ctx context.Context, wr waitResult) {
	e, rq, r, target := a.e, a.rq, a.r, a.target
	p := primaryOf(wr.last)
	rb := &waitSpec{cluster: rq.cluster, service: rq.service, taskDef: taskDefOf(p), deploymentID: idOf(p),
		deadline: e.clock.Now().Add(rq.rbTimeout), seen: a.seen, start: e.clock.Now(), drainHint: a.hint}
	if taskDefOf(p) == r.PreviousTaskDefinition {
		r.RolledBackBy = "ecs"
		e.logf("ECS is rolling back to %s (deployment %s)", taskdef.ShortName(taskDefOf(p)), idOf(p))
		ctx, end := e.spans.Span(ctx, "ECS rollback to "+taskdef.ShortName(taskDefOf(p)))
		e.settle(ctx, r, rb, a.st, target, "rolled back to "+taskdef.ShortName(taskDefOf(p)))
		end(rollbackErr(r))
		return
	}
	e.logf("another deployment (%s of %s) replaced ours", idOf(p), taskdef.ShortName(taskDefOf(p)))
	e.settle(ctx, r, rb, a.st, target, "superseded by another deployment; service on "+taskdef.ShortName(taskDefOf(p)))
}

// rollBack points the service back at the previous task definition and follows that
// deployment on the rollback timeout.
func (a *attempt) rollBack(ctx context.Context) {
	e, rq, r, target := a.e, a.rq, a.r, a.target
	ctx, end := e.spans.Span(ctx, "roll back to "+taskdef.ShortName(r.PreviousTaskDefinition))
	defer func() { end(rollbackErr(r)) }()
	r.RolledBackBy = "pipeline"
	e.logf("rolling back to %s", taskdef.ShortName(r.PreviousTaskDefinition))
	back, err := e.ecs.UpdateService(ctx, &awsecs.UpdateServiceInput{
		Cluster: aws.String(rq.cluster), Service: aws.String(rq.service),
		TaskDefinition: aws.String(r.PreviousTaskDefinition), DeploymentConfiguration: a.cfg,
	})
	if err != nil {
		e.finalState(ctx, r, target)
		r.Outcome = fmt.Sprintf("rollback failed, service on %s: update service: %v", taskdef.ShortName(r.FinalTaskDefinition), err)
		return
	}
	rb := &waitSpec{cluster: rq.cluster, service: rq.service, taskDef: r.PreviousTaskDefinition,
		deploymentID: deploymentFor(back.Service, r.PreviousTaskDefinition, nil), deadline: e.clock.Now().Add(rq.rbTimeout), seen: a.seen, start: e.clock.Now(), drainHint: a.hint}
	e.settle(ctx, r, rb, a.st, target, "rolled back to "+taskdef.ShortName(r.PreviousTaskDefinition))
}

// rollbackErr is the error a rollback span ends with: nil when the service is back.
func rollbackErr(r *Result) error {
	if strings.HasPrefix(r.Outcome, "rolled back to ") {
		return nil
	}
	return errors.New(r.Outcome)
}

// settle waits for a rollback deployment, on its own timeout, and sets the Outcome.
func (e *Engine) settle(ctx context.Context, r *Result, rb *waitSpec, st *pollStats, target, completed string) {
	wr := e.follow(ctx, "wait for rollback", rb, st)
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
