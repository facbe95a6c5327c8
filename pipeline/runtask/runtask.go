// Package runtask runs one-off ECS tasks: the pre-deploy task of a deploy (database
// migrations, on the new task definition revision before the service is updated) and the
// run-task function. A task runs on Fargate in the service's own network (awsvpc subnets and
// security groups read from DescribeServices; a service with a public IP is refused), with
// the container's command overridden, and is followed with bounded DescribeTasks polling on
// the caller's clock until it stops. It succeeds only when the container exits 0; a task
// that outlives its timeout, or whose caller is cancelled, is stopped with StopTask.
package runtask

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"dagger/fargate/pipeline/awsconf"
	"dagger/fargate/pipeline/internal/clock"
	"dagger/fargate/pipeline/taskdef"
)

// API is the part of the ECS client a run uses (*ecs.Client satisfies it).
type API interface {
	DescribeServices(ctx context.Context, in *awsecs.DescribeServicesInput, optFns ...func(*awsecs.Options)) (*awsecs.DescribeServicesOutput, error)
	RunTask(ctx context.Context, in *awsecs.RunTaskInput, optFns ...func(*awsecs.Options)) (*awsecs.RunTaskOutput, error)
	DescribeTasks(ctx context.Context, in *awsecs.DescribeTasksInput, optFns ...func(*awsecs.Options)) (*awsecs.DescribeTasksOutput, error)
	StopTask(ctx context.Context, in *awsecs.StopTaskInput, optFns ...func(*awsecs.Options)) (*awsecs.StopTaskOutput, error)
}

// Clock is the run's notion of time (the deploy engine's: tests pass a virtual clock).
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done (then it returns ctx.Err()).
	Sleep(ctx context.Context, d time.Duration) error
}

// Defaults of a run.
const (
	// DefaultTimeout bounds a task whose Spec gives no timeout.
	DefaultTimeout = 10 * time.Minute
	// DefaultPoll is the interval between two DescribeTasks reads: a one-off task takes
	// tens of seconds to start on Fargate, so reading more often only spends API calls.
	DefaultPoll = 6 * time.Second
	// maxReadErrors is how many DescribeTasks failures in a row end the wait; throttling
	// is not one: it stretches the interval, up to maxPollBackoff times the poll.
	maxReadErrors  = 3
	maxPollBackoff = 8
	// stopGrace bounds the StopTask (and last read) made after a timeout or a cancellation.
	stopGrace = 15 * time.Second
)

// Options configure a Runner. All fields are optional.
type Options struct {
	// Clock defaults to the wall clock.
	Clock Clock
	// Poll is the interval between two reads (DefaultPoll).
	Poll time.Duration
	// Log receives progress lines (nil: discarded).
	Log io.Writer
}

// Runner runs one-off tasks. It holds no state between runs.
type Runner struct {
	ecs   API
	clock Clock
	poll  time.Duration
	log   io.Writer
}

// New returns a runner on the ECS client api.
func New(api API, o Options) *Runner {
	r := &Runner{ecs: api, clock: o.Clock, poll: o.Poll, log: o.Log}
	if r.clock == nil {
		r.clock = clock.Wall{}
	}
	if r.poll <= 0 {
		r.poll = DefaultPoll
	}
	if r.log == nil {
		r.log = io.Discard
	}
	return r
}

func (r *Runner) logf(format string, args ...any) { fmt.Fprintf(r.log, format+"\n", args...) }

// Spec is one task to run.
type Spec struct {
	// Cluster runs the task. Required.
	Cluster string
	// TaskDefinition is the revision to run (ARN or family:revision). Required.
	TaskDefinition string
	// Container is the container whose command is replaced and whose exit code decides. Required.
	Container string
	// Command replaces the container's command (empty: the task definition's own).
	Command []string
	// Timeout bounds the run from RunTask to STOPPED (DefaultTimeout when zero).
	Timeout time.Duration
	// StartedBy tags the task (at most 36 characters; e.g. "fargate/pre-deploy").
	StartedBy string
	// Network is the task's network (ServiceNetwork reads the service's). Required.
	Network *types.NetworkConfiguration
}

// Outcome is how a run ended.
type Outcome string

// Outcomes.
const (
	// Succeeded: the container exited 0.
	Succeeded Outcome = "succeeded"
	// Failed: the container exited non-zero.
	Failed Outcome = "failed"
	// FailedToStart: the task stopped before the container ran (image pull, secrets,
	// ResourceInitializationError); there is no exit code.
	FailedToStart Outcome = "failed to start"
	// TimedOut: the task did not stop within the timeout; it was stopped.
	TimedOut Outcome = "timed out"
	// Cancelled: the caller was cancelled; the task was stopped.
	Cancelled Outcome = "cancelled"
)

// Result is how a task ran.
type Result struct {
	TaskArn        string
	TaskDefinition string
	Container      string
	Outcome        Outcome
	// ExitCode is the container's exit code (nil when it never ran or is unknown).
	ExitCode *int32
	// StoppedReason is the task's; ContainerReason is the container's.
	StoppedReason   string
	ContainerReason string
	// LastStatus is the task's status at the last read.
	LastStatus string
	// StopError says why a StopTask after a timeout or cancellation failed ("" if it did not).
	StopError string
	Elapsed   time.Duration
	// Reads counts the DescribeTasks calls.
	Reads int
}

// Succeeded reports whether the container exited 0.
func (r *Result) Succeeded() bool { return r != nil && r.Outcome == Succeeded }

// TaskID is the task's ID, the last part of its ARN (arn:aws:ecs:region:account:task/cluster/ID).
func (r *Result) TaskID() string { return taskdef.ShortName(r.TaskArn) }

// String is one line: the task, how it ended, its exit code and reasons.
func (r *Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "task %s (%s, container %s) %s", r.TaskID(), taskdef.ShortName(r.TaskDefinition), r.Container, r.Outcome)
	if r.ExitCode != nil {
		fmt.Fprintf(&b, ", exit code %d", *r.ExitCode)
	}
	if r.StoppedReason != "" {
		fmt.Fprintf(&b, ", stopped: %s", r.StoppedReason)
	}
	if r.ContainerReason != "" {
		fmt.Fprintf(&b, ", container: %s", r.ContainerReason)
	}
	if r.StopError != "" {
		fmt.Fprintf(&b, "; StopTask failed: %s (the task may still run)", r.StopError)
	}
	return b.String()
}

// ServiceNetwork reads the service's network configuration for a task of its own: awsvpc
// subnets and security groups, no public IP. A service without an awsvpc configuration, or
// with a public IP, is refused: the task would not run where the service runs.
func (r *Runner) ServiceNetwork(ctx context.Context, cluster, service string) (*types.NetworkConfiguration, error) {
	out, err := r.ecs.DescribeServices(ctx, &awsecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{service}})
	if err != nil {
		return nil, fmt.Errorf("read the network configuration of service %s/%s: %w", cluster, service, err)
	}
	if len(out.Services) == 0 {
		return nil, fmt.Errorf("read the network configuration of service %s/%s: service not found", cluster, service)
	}
	return Network(cluster+"/"+service, out.Services[0].NetworkConfiguration)
}

// Network checks a service's network configuration and returns the one its one-off tasks
// use: the same subnets and security groups, assignPublicIp DISABLED.
func Network(service string, nc *types.NetworkConfiguration) (*types.NetworkConfiguration, error) {
	if nc == nil || nc.AwsvpcConfiguration == nil || len(nc.AwsvpcConfiguration.Subnets) == 0 {
		return nil, fmt.Errorf("service %s has no awsvpc network configuration (subnets, security groups): a Fargate task needs one", service)
	}
	vpc := nc.AwsvpcConfiguration
	if vpc.AssignPublicIp == types.AssignPublicIpEnabled {
		return nil, fmt.Errorf("service %s assigns public IPs (networkConfiguration.awsvpcConfiguration.assignPublicIp ENABLED): refusing to run a task with a public IP; move the service to private subnets", service)
	}
	return &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
		Subnets: append([]string(nil), vpc.Subnets...), SecurityGroups: append([]string(nil), vpc.SecurityGroups...),
		AssignPublicIp: types.AssignPublicIpDisabled,
	}}, nil
}

func (s Spec) validate() error {
	switch {
	case s.Cluster == "":
		return errors.New("run task: cluster: required")
	case s.TaskDefinition == "":
		return errors.New("run task: task definition: required")
	case s.Container == "":
		return errors.New("run task: container: required")
	case s.Network == nil || s.Network.AwsvpcConfiguration == nil:
		return errors.New("run task: network configuration: required")
	case s.Network.AwsvpcConfiguration.AssignPublicIp == types.AssignPublicIpEnabled:
		return errors.New("run task: refusing a public IP (assignPublicIp ENABLED)")
	case s.Timeout < 0:
		return fmt.Errorf("run task: timeout %s: expected a positive duration", s.Timeout)
	case len(s.StartedBy) > 36:
		return fmt.Errorf("run task: startedBy %q: at most 36 characters", s.StartedBy)
	}
	for i, a := range s.Command {
		if strings.TrimSpace(a) == "" {
			return fmt.Errorf("run task: command[%d]: empty argument", i)
		}
	}
	return nil
}

// Run starts the task and waits until it stops, times out (then stops it) or ctx is done
// (then stops it, with a context of its own). The Result is non-nil once RunTask has
// started a task; the error is non-nil when the run could not be done or followed (not
// when the container failed: see Result.Outcome).
func (r *Runner) Run(ctx context.Context, s Spec) (*Result, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	in := &awsecs.RunTaskInput{
		Cluster: aws.String(s.Cluster), TaskDefinition: aws.String(s.TaskDefinition), Count: aws.Int32(1),
		LaunchType: types.LaunchTypeFargate, NetworkConfiguration: s.Network,
	}
	if s.StartedBy != "" {
		in.StartedBy = aws.String(s.StartedBy)
	}
	if len(s.Command) > 0 {
		in.Overrides = &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{Name: aws.String(s.Container), Command: s.Command}}}
	}
	start := r.clock.Now()
	out, err := r.ecs.RunTask(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("run task %s in cluster %s: %w", taskdef.ShortName(s.TaskDefinition), s.Cluster, err)
	}
	if len(out.Tasks) == 0 {
		why := "no task started"
		if len(out.Failures) > 0 {
			why = fmt.Sprintf("%s (%s)", aws.ToString(out.Failures[0].Reason), aws.ToString(out.Failures[0].Detail))
		}
		return nil, fmt.Errorf("run task %s in cluster %s: %s", taskdef.ShortName(s.TaskDefinition), s.Cluster, why)
	}
	res := &Result{TaskArn: aws.ToString(out.Tasks[0].TaskArn), TaskDefinition: aws.ToString(out.Tasks[0].TaskDefinitionArn), Container: s.Container}
	if res.TaskDefinition == "" {
		res.TaskDefinition = s.TaskDefinition
	}
	res.record(&out.Tasks[0])
	r.logf("run task: started %s of %s (container %s, timeout %s)", res.TaskID(), taskdef.ShortName(res.TaskDefinition), s.Container, s.Timeout)
	err = r.follow(ctx, s, res, start.Add(s.Timeout))
	res.Elapsed = r.clock.Now().Sub(start)
	return res, err
}

// follow reads the task until it stops, the deadline passes or ctx is done.
func (r *Runner) follow(ctx context.Context, s Spec, res *Result, deadline time.Time) error {
	errorsInARow, interval := 0, r.poll
	last := res.LastStatus
	for {
		wait := min(interval, deadline.Sub(r.clock.Now()))
		if wait > 0 {
			if err := r.clock.Sleep(ctx, wait); err != nil {
				r.stop(ctx, s, res, Cancelled, "fargate: the deploy was cancelled")
				return nil
			}
		}
		if ctx.Err() != nil {
			r.stop(ctx, s, res, Cancelled, "fargate: the deploy was cancelled")
			return nil
		}
		t, err := r.describe(ctx, s.Cluster, res.TaskArn)
		res.Reads++
		switch {
		case awsconf.IsThrottle(err):
			// Throttled past the client's retries: read less often, and do not give up on
			// a task that is running well (the deadline still bounds the wait).
			interval = min(2*interval, maxPollBackoff*r.poll)
		case err != nil:
			errorsInARow++
			if errorsInARow >= maxReadErrors {
				r.stop(ctx, s, res, TimedOut, "fargate: lost track of the task")
				return fmt.Errorf("follow task %s: %w", res.TaskID(), err)
			}
		default:
			errorsInARow, interval = 0, r.poll
			res.record(t)
			if res.LastStatus != last {
				r.logf("run task: %s is %s", res.TaskID(), res.LastStatus)
				last = res.LastStatus
			}
			if res.LastStatus == "STOPPED" {
				res.judge()
				return nil
			}
		}
		if !r.clock.Now().Before(deadline) {
			r.stop(ctx, s, res, TimedOut, fmt.Sprintf("fargate: timed out after %s", s.Timeout))
			return nil
		}
	}
}

func (r *Runner) describe(ctx context.Context, cluster, arn string) (*types.Task, error) {
	out, err := r.ecs.DescribeTasks(ctx, &awsecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: []string{arn}})
	if err != nil {
		return nil, fmt.Errorf("describe task %s: %w", taskdef.ShortName(arn), err)
	}
	if len(out.Tasks) == 0 {
		reason := "MISSING"
		if len(out.Failures) > 0 {
			reason = aws.ToString(out.Failures[0].Reason)
		}
		return nil, fmt.Errorf("describe task %s: %s", taskdef.ShortName(arn), reason)
	}
	return &out.Tasks[0], nil
}

// stop ends a task that timed out or whose caller was cancelled, with a context of its own
// (the caller's may be done), and reads it once more for its final state.
func (r *Runner) stop(ctx context.Context, s Spec, res *Result, outcome Outcome, reason string) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopGrace)
	defer cancel()
	res.Outcome = outcome
	r.logf("run task: stopping %s: %s", res.TaskID(), reason)
	if _, err := r.ecs.StopTask(sctx, &awsecs.StopTaskInput{Cluster: aws.String(s.Cluster), Task: aws.String(res.TaskArn), Reason: aws.String(reason)}); err != nil {
		res.StopError = err.Error()
		return
	}
	if t, err := r.describe(sctx, s.Cluster, res.TaskArn); err == nil {
		res.record(t)
	}
}

// record takes the task's status, reasons and the container's exit.
func (res *Result) record(t *types.Task) {
	res.LastStatus = aws.ToString(t.LastStatus)
	res.StoppedReason = aws.ToString(t.StoppedReason)
	for _, c := range t.Containers {
		if aws.ToString(c.Name) == res.Container {
			res.ExitCode = c.ExitCode
			res.ContainerReason = aws.ToString(c.Reason)
		}
	}
}

// judge decides the outcome of a task that stopped on its own.
func (res *Result) judge() {
	switch {
	case res.ExitCode != nil && *res.ExitCode == 0:
		res.Outcome = Succeeded
	case res.ExitCode != nil:
		res.Outcome = Failed
	default:
		res.Outcome = FailedToStart
	}
}
