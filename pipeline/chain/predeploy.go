package chain

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"go.opentelemetry.io/otel/attribute"

	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/ecs"
	"dagger/fargate/pipeline/preflight"
	"dagger/fargate/pipeline/progress"
	"dagger/fargate/pipeline/redact"
	"dagger/fargate/pipeline/report"
	"dagger/fargate/pipeline/runtask"
	"dagger/fargate/pipeline/taskdef"
	"dagger/fargate/pipeline/tasklogs"
)

// What happens around the rollout (issue #19): the preflight verification of what the task
// definition refers to, before anything is registered; the pre-deploy task (migrations),
// between RegisterTaskDefinition and UpdateService; the last log lines of the tasks that
// failed; and the run-task function.

// startedBy tags the tasks the pipeline runs itself (ECS allows 36 characters).
const (
	startedByPreDeploy = "fargate/pre-deploy"
	startedByRunTask   = "fargate/run-task"
)

// logReadGrace bounds the log reads made after the deploy ended (also when it was cancelled).
const logReadGrace = 20 * time.Second

// checkPreDeploy checks what the environments file says of the pre-deploy task against the
// task definition, now that it is read: the container must be one of its containers.
func checkPreDeploy(e config.Environment, def *taskdef.Definition) error {
	return e.PreDeploy.CheckContainer(e.Name, def.ContainerNames())
}

// preflightGate verifies the secrets, roles and log groups the task definition in refers
// to (preflight.Check), and the region of its other containers' images, before anything is
// built or registered. A miss, or a reference the pipeline could not verify, refuses the
// deploy. It is the "preflight" phase, failed when the gate refuses.
func (s *Session) preflightGate(ctx context.Context, r *report.Recorder, e config.Environment, cfg aws.Config, in *awsecs.RegisterTaskDefinitionInput) (rerr error) {
	ctx, end := r.Phase(ctx, "preflight")
	defer func() { end(rerr) }()
	region := orDefault(s.Region, e.Region)
	res := preflight.Check(ctx, s.preflightClients(cfg), preflight.Input{Region: region, Account: e.AccountID, Definition: in})
	r.Preflight = &report.Preflight{Verified: len(res.Verified)}
	for _, p := range res.Problems {
		r.Preflight.Problems = append(r.Preflight.Problems, p.String())
	}
	if err := res.Err(); err != nil {
		return err
	}
	// The sidecars' images are known now (the service's own is checked once it is built).
	if err := imageRegionGate(r, e, region, in); err != nil {
		return err
	}
	r.Logf("preflight: %d reference(s) verified (secrets, roles, log groups)", len(res.Verified))
	return nil
}

// imageRegionGate refuses an image whose ECR repository is in another region than the
// environment's: the sidecars' in preflight, the service's own once it is known, before
// registering.
func imageRegionGate(r *report.Recorder, e config.Environment, region string, in *awsecs.RegisterTaskDefinitionInput) error {
	problems := preflight.ImageRegions(in, region)
	if len(problems) == 0 {
		return nil
	}
	var lines []string
	for _, p := range problems {
		lines = append(lines, "  "+p.String())
		if r.Preflight != nil {
			r.Preflight.Problems = append(r.Preflight.Problems, p.String())
		}
	}
	return fmt.Errorf("preflight: the image of %s is not where its tasks run; nothing was registered:\n%s", e.Name, strings.Join(lines, "\n"))
}

func (s *Session) preflightClients(cfg aws.Config) preflight.Clients {
	return preflight.Clients{
		Secrets: secretsmanager.NewFromConfig(cfg),
		SSM:     ssm.NewFromConfig(cfg),
		IAM:     iam.NewFromConfig(cfg),
		Logs: func(_ context.Context, region string) (preflight.LogsAPI, error) {
			return s.logsClient(cfg, region), nil
		},
	}
}

// logsClient is the CloudWatch Logs client of a region (a container may log to another
// region than the environment's), on cfg's credentials: an assumed role is not assumed again.
func (s *Session) logsClient(cfg aws.Config, region string) *cloudwatchlogs.Client {
	if region == "" || s.Region != "" {
		return cloudwatchlogs.NewFromConfig(cfg)
	}
	return cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.Region = region })
}

func (s *Session) runner(cfg aws.Config, r *report.Recorder) *runtask.Runner {
	var api runtask.API = awsecs.NewFromConfig(cfg)
	if s.ECS.ECS != nil {
		if a, ok := s.ECS.ECS.(runtask.API); ok {
			api = a
		}
	}
	return runtask.New(api, runtask.Options{Clock: s.ECS.Clock, Log: r})
}

// preDeployHook is the deploy engine's BeforeUpdate for an environment with a pre-deploy
// task (nil without one): it runs the registered revision once, in the service's network,
// and lets the update go ahead only when the container exited 0. The run is a step of the
// engine's deploy: a span, "run pre-deploy task", under the engine's "deploy <service>" (in
// the "ECS deploy" phase, which times it), failed when the task did not succeed.
func (s *Session) preDeployHook(r *report.Recorder, e config.Environment, cfg aws.Config, in *awsecs.RegisterTaskDefinitionInput) func(context.Context, string, *types.Service) error {
	pd := e.PreDeploy
	if pd == nil {
		return nil
	}
	return func(ctx context.Context, registered string, svc *types.Service) (rerr error) {
		ctx, end := progress.FromContext(ctx).Span(ctx, "run pre-deploy task",
			attribute.String("ecs.task_definition", taskdef.ShortName(registered)), attribute.String("ecs.container", pd.Container))
		defer func() { end(rerr) }()
		current := taskdef.ShortName(aws.ToString(svc.TaskDefinition))
		untouched := fmt.Sprintf("nothing was rolled out; service stays on %s (%s is registered and unused)", current, taskdef.ShortName(registered))
		network, err := runtask.Network(e.Cluster+"/"+e.Service, svc.NetworkConfiguration)
		if err != nil {
			return fmt.Errorf("pre-deploy task: %w; %s", err, untouched)
		}
		r.Logf("pre-deploy: running %s on %s (container %s, timeout %s)", redact.MaskText(strings.Join(pd.Command, " ")), taskdef.ShortName(registered), pd.Container, pd.PreDeployTimeout())
		res, err := s.runner(cfg, r).Run(ctx, runtask.Spec{
			Cluster: e.Cluster, TaskDefinition: registered, Container: pd.Container, Command: pd.Command,
			Timeout: pd.PreDeployTimeout(), StartedBy: startedByPreDeploy, Network: network,
		})
		if res != nil {
			r.Tasks = append(r.Tasks, s.taskReport(ctx, cfg, "pre-deploy", res, pd.Command, in, e.LogLinesOrDefault(), !res.Succeeded()))
		}
		switch {
		case err != nil:
			return fmt.Errorf("pre-deploy task: %w; %s", err, untouched)
		case !res.Succeeded():
			return fmt.Errorf("pre-deploy %s; %s", res, untouched)
		}
		r.Logf("pre-deploy: %s", res)
		return nil
	}
}

// taskReport is a task for the report, with its last log lines when withLogs.
func (s *Session) taskReport(ctx context.Context, cfg aws.Config, role string, res *runtask.Result, command []string, in *awsecs.RegisterTaskDefinitionInput, lines int, withLogs bool) report.Task {
	t := report.Task{
		Role: role, ID: res.TaskID(), TaskDefinition: taskdef.ShortName(res.TaskDefinition), Container: res.Container,
		Command: command, Outcome: string(res.Outcome), ExitCode: res.ExitCode,
		StoppedReason: res.StoppedReason, ContainerReason: res.ContainerReason,
	}
	if withLogs {
		s.readLogs(ctx, cfg, &t, res.TaskArn, res.Container, in, lines)
	}
	return t
}

// readLogs puts the task's last log lines (or why there are none) in t.
func (s *Session) readLogs(ctx context.Context, cfg aws.Config, t *report.Task, taskArn, container string, in *awsecs.RegisterTaskDefinitionInput, lines int) {
	var cd *types.ContainerDefinition
	if in != nil {
		for i := range in.ContainerDefinitions {
			if aws.ToString(in.ContainerDefinitions[i].Name) == container {
				cd = &in.ContainerDefinitions[i]
			}
		}
	}
	if cd == nil {
		t.LogNote = fmt.Sprintf("container %s is not in the task definition read: no log stream to read", container)
		return
	}
	src, err := tasklogs.SourceOf(cd, taskArn)
	if err != nil {
		t.LogNote = err.Error()
		return
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), logReadGrace)
	defer cancel()
	tail, err := tasklogs.Read(lctx, s.logsClient(cfg, src.Region), src, lines)
	if err != nil {
		t.LogNote = "could not read the logs: " + err.Error()
		return
	}
	t.LogSource, t.LogNote, t.LogLines = src.String(), tail.Note, tail.Lines
}

// failedTaskLogs adds the failed tasks of a rollout, with their last log lines, to the
// report (at most tasklogs.MaxTasks), from the task ARNs the engine's result holds.
func (s *Session) failedTaskLogs(ctx context.Context, r *report.Recorder, e config.Environment, cfg aws.Config, in *awsecs.RegisterTaskDefinitionInput, res *ecs.Result) {
	if res == nil || res.Class == ecs.Completed || res.Class == ecs.PreDeployFailed || len(res.StoppedTasks) == 0 {
		return
	}
	for i, st := range res.StoppedTasks {
		if i == tasklogs.MaxTasks {
			r.Logf("logs: %d more stopped task(s) not read", len(res.StoppedTasks)-i)
			break
		}
		t := report.Task{Role: "rollout", ID: taskdef.ShortName(st.TaskArn), TaskDefinition: taskdef.ShortName(st.TaskDefinition),
			Container: e.Container, Outcome: "stopped", StoppedReason: st.StoppedReason}
		for _, c := range st.Containers {
			if c.Name == e.Container {
				t.ExitCode, t.ContainerReason = c.ExitCode, c.Reason
			}
		}
		s.readLogs(ctx, cfg, &t, st.TaskArn, e.Container, in, e.LogLinesOrDefault())
		r.Tasks = append(r.Tasks, t)
	}
}

// RunTaskRequest is what `run-task` was asked to do.
type RunTaskRequest struct {
	Env string
	// Command replaces the container's command (default: the environment's preDeploy command;
	// neither: the task definition's own).
	Command []string
	// Container is the container to run the command in (default: preDeploy's, then the
	// environment's).
	Container string
	// TaskDefinition is the revision to run (family:revision or ARN; default: the one the
	// service runs now).
	TaskDefinition string
	// Timeout bounds the task (default: preDeploy's timeout, then 10m).
	Timeout time.Duration
}

// RunTask runs one task of an environment's service, by default on the revision the service
// runs now (not a newly rendered one: run-task changes nothing and needs no build), in the
// service's network, and returns the report of how it ended with its last log lines. It
// fails unless the container exited 0.
func (s *Session) RunTask(ctx context.Context, req RunTaskRequest) (string, error) {
	_, e, cfg, err := s.awsEnvironmentConfig(ctx, req.Env, needEnv)
	if err != nil {
		return "", err
	}
	r := s.recorder(e.Name)
	r.Service = e.Cluster + "/" + e.Service
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("run-task %s: %w", e.Name, err)
	}
	if req.Timeout != 0 && (req.Timeout < config.MinPreDeployTimeout || req.Timeout > config.MaxPreDeployTimeout) {
		return fail(fmt.Errorf("timeout %s: expected between %s and %s (0: the default)", req.Timeout, config.MinPreDeployTimeout, config.MaxPreDeployTimeout))
	}
	container, command, timeout := e.Container, req.Command, req.Timeout
	if pd := e.PreDeploy; pd != nil {
		container = pd.Container
		if len(command) == 0 {
			command = pd.Command
		}
		if timeout == 0 {
			timeout = pd.PreDeployTimeout()
		}
	}
	if req.Container != "" {
		container = req.Container
	}
	if account := s.expectedAccount(r, e); account != "" {
		if err := s.engine(cfg, nil).VerifyAccount(ctx, account); err != nil {
			return fail(err)
		}
	}
	api := awsecs.NewFromConfig(cfg)
	svcs, err := api.DescribeServices(ctx, &awsecs.DescribeServicesInput{Cluster: aws.String(e.Cluster), Services: []string{e.Service}})
	if err != nil {
		return fail(fmt.Errorf("read service %s/%s: %w", e.Cluster, e.Service, err))
	}
	if len(svcs.Services) == 0 {
		return fail(fmt.Errorf("service %s/%s not found", e.Cluster, e.Service))
	}
	svc := svcs.Services[0]
	network, err := runtask.Network(r.Service, svc.NetworkConfiguration)
	if err != nil {
		return fail(err)
	}
	target := orDefault(req.TaskDefinition, aws.ToString(svc.TaskDefinition))
	td, err := api.DescribeTaskDefinition(ctx, &awsecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(target)})
	if err != nil {
		return fail(fmt.Errorf("describe task definition %s: %w", target, err))
	}
	in := &awsecs.RegisterTaskDefinitionInput{ContainerDefinitions: td.TaskDefinition.ContainerDefinitions}
	var names []string
	for _, c := range in.ContainerDefinitions {
		names = append(names, aws.ToString(c.Name))
	}
	if !slices.Contains(names, container) {
		return fail(fmt.Errorf("container %q is not in %s (expected one of: %s)", container, taskdef.ShortName(target), strings.Join(names, ", ")))
	}
	res, err := s.runner(cfg, r).Run(ctx, runtask.Spec{
		Cluster: e.Cluster, TaskDefinition: aws.ToString(td.TaskDefinition.TaskDefinitionArn), Container: container, Command: command,
		Timeout: timeout, StartedBy: startedByRunTask, Network: network,
	})
	if err != nil && res == nil {
		return fail(err)
	}
	t := s.taskReport(ctx, cfg, "run-task", res, command, in, e.LogLinesOrDefault(), true)
	md := report.RunTaskMarkdown(e.Name, r.Service, t, res.Succeeded())
	switch {
	case err != nil:
		return "", fmt.Errorf("run-task %s: %w\n\n%s", e.Name, err, md)
	case !res.Succeeded():
		return "", fmt.Errorf("run-task %s: %s\n\n%s", e.Name, res, md)
	}
	return md, nil
}
