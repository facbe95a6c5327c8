package ecs

import (
	"fmt"
	"strings"
	"time"

	"dagger/fargate/pipeline/taskdef"
)

// Class is the kind of outcome of a deploy or rollback.
type Class int

const (
	// Completed: the service runs the new task definition on a single COMPLETED deployment.
	Completed Class = iota
	// BadInput: the request or the files were invalid; nothing was changed.
	BadInput
	// WrongAccount: the credentials belong to another account; nothing was changed.
	WrongAccount
	// Busy: another deployment was in progress; nothing was changed.
	Busy
	// AWSError: an AWS call failed (after retries); the Result says what was changed.
	AWSError
	// RolledBack: the new deployment failed; the service was rolled back (by ECS or by us).
	RolledBack
	// TimedOut: the deployment did not finish in time; the Result says where it ended.
	TimedOut
	// Cancelled: the caller cancelled the wait; the Result says where the service is (ECS
	// continues a rollout it started on its own).
	Cancelled
	// RollbackInProgress: the deployment failed or timed out and the rollback is still rolling
	// out when the rollback timeout ran out; the service is on its way back.
	RollbackInProgress
	// ConcurrentDeploy: another deployment was started on the service at the same moment as
	// ours (both passed the busy check) or while ours rolled out; Concurrent says which. We
	// do not roll back over it.
	ConcurrentDeploy
	// PreDeployFailed: the task run before the update (DeployOptions.BeforeUpdate) failed;
	// the new revision is registered but the service was not changed.
	PreDeployFailed
)

func (c Class) String() string {
	switch c {
	case Completed:
		return "completed"
	case BadInput:
		return "bad-input"
	case WrongAccount:
		return "wrong-account"
	case Busy:
		return "busy"
	case AWSError:
		return "aws-error"
	case RolledBack:
		return "rolled-back"
	case TimedOut:
		return "timed-out"
	case Cancelled:
		return "cancelled"
	case RollbackInProgress:
		return "rollback-in-progress"
	case ConcurrentDeploy:
		return "concurrent-deploy"
	case PreDeployFailed:
		return "pre-deploy-failed"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// StoppedTask is a task of the new deployment that stopped, with why.
type StoppedTask struct {
	TaskArn        string
	TaskDefinition string
	StoppedReason  string
	StopCode       string
	Containers     []ContainerExit
}

// ContainerExit is how one container of a stopped task ended.
type ContainerExit struct {
	Name     string
	ExitCode *int32
	Reason   string
}

func (t StoppedTask) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "task %s stopped: %s", taskdef.ShortName(t.TaskArn), t.StoppedReason)
	for _, c := range t.Containers {
		switch {
		case c.ExitCode != nil && c.Reason != "":
			fmt.Fprintf(&b, " (container %s exit code %d: %s)", c.Name, *c.ExitCode, c.Reason)
		case c.ExitCode != nil:
			fmt.Fprintf(&b, " (container %s exit code %d)", c.Name, *c.ExitCode)
		case c.Reason != "":
			fmt.Fprintf(&b, " (container %s: %s)", c.Name, c.Reason)
		}
	}
	return b.String()
}

// OtherDeployment is a deployment of the service that this deploy did not create.
type OtherDeployment struct {
	ID             string
	TaskDefinition string
	Status         string // PRIMARY or ACTIVE when seen
	RolloutState   string
	CreatedAt      time.Time
}

func (o *OtherDeployment) String() string {
	s := fmt.Sprintf("deployment %s of %s", orUnknown(o.ID), taskdef.ShortName(o.TaskDefinition))
	if !o.CreatedAt.IsZero() {
		s += " created " + o.CreatedAt.UTC().Format("15:04:05")
	}
	return s
}

// Result is where a deploy or rollback left the service, and why.
type Result struct {
	Class   Class
	Cluster string
	Service string
	// Outcome is one line that always says where the service is: "deployed family:N",
	// "deployed family:N, then superseded by ...", "rolled back to family:M", "rollback in
	// progress to family:M", "rollback failed, service on ...", "cancelled: service on ...,
	// ECS continues the rollout", "concurrent deploy detected: ...", or what stopped the
	// deploy before any change.
	Outcome string
	// Reason explains a failure: rolloutStateReason, stopped tasks, the last events.
	Reason string

	// PreviousTaskDefinition is the ARN the service ran before (PRIMARY at the start).
	PreviousTaskDefinition string
	// RegisteredTaskDefinition is the ARN this deploy registered ("" if none).
	RegisteredTaskDefinition string
	// ServiceUpdated is true once UpdateService succeeded.
	ServiceUpdated bool
	// DeploymentID is the deployment (ecs-svc/...) the update created.
	DeploymentID string
	// RolledBackBy is "ecs" (circuit breaker), "pipeline" (our rollback) or "".
	RolledBackBy string
	// SupersededBy is set on a Completed result whose deployment completed and was then
	// replaced by another one (before the engine's next read).
	SupersededBy *OtherDeployment
	// Concurrent is the other deployment of a ConcurrentDeploy result.
	Concurrent *OtherDeployment

	// FinalTaskDefinition, FinalRolloutState and FinalDeployments describe the service at the
	// end (PRIMARY deployment), from a last DescribeServices.
	FinalTaskDefinition string
	FinalRolloutState   string
	FinalDeployments    int

	// Delivery is what a progressive delivery showed: strategy, stages, traffic, the alarm
	// that rolled it back (nil without DeployOptions.Delivery).
	Delivery *DeliveryReport

	StoppedTasks []StoppedTask
	// Events are the service events seen during the deploy, oldest first (at most 20).
	Events []string

	Elapsed time.Duration
	// Polls counts DescribeServices calls made while waiting; Throttled those answered
	// (at least once) with throttling; MaxInterval is the longest pause between two.
	Polls       int
	Throttled   int
	MaxInterval time.Duration
}

// Err returns the error for this result: nil when Completed.
func (r *Result) Err() error {
	if r == nil || r.Class == Completed {
		return nil
	}
	return &Error{Result: r}
}

// Error is the error a deploy that did not complete returns; it carries the Result.
type Error struct {
	Result *Result
}

func (e *Error) Error() string {
	r := e.Result
	msg := fmt.Sprintf("deploy to %s/%s: %s: %s", r.Cluster, r.Service, r.Class, r.Outcome)
	if r.Reason != "" {
		msg += ": " + r.Reason
	}
	return msg
}

// Summary is a human-readable multi-line report of the result.
func (r *Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s: %s (%s)\n", r.Cluster, r.Service, r.Outcome, r.Class)
	if r.Reason != "" {
		fmt.Fprintf(&b, "reason: %s\n", r.Reason)
	}
	if r.RegisteredTaskDefinition != "" {
		fmt.Fprintf(&b, "registered: %s\n", taskdef.ShortName(r.RegisteredTaskDefinition))
	}
	fmt.Fprintf(&b, "service updated: %t\n", r.ServiceUpdated)
	if r.FinalTaskDefinition != "" {
		fmt.Fprintf(&b, "service now on: %s (%s, %d deployment(s))\n", taskdef.ShortName(r.FinalTaskDefinition), r.FinalRolloutState, r.FinalDeployments)
	}
	b.WriteString(r.Delivery.summary())
	for _, t := range r.StoppedTasks {
		fmt.Fprintf(&b, "  %s\n", t)
	}
	if len(r.Events) > 0 {
		b.WriteString("last events:\n")
		evs := r.Events
		if len(evs) > 5 {
			evs = evs[len(evs)-5:]
		}
		for _, ev := range evs {
			fmt.Fprintf(&b, "  %s\n", ev)
		}
	}
	if r.Polls > 0 {
		fmt.Fprintf(&b, "waited %s, %d polls (%d throttled)\n", r.Elapsed.Round(time.Second), r.Polls, r.Throttled)
	}
	return b.String()
}
