package ecs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"dagger/fargate/pipeline/taskdef"
)

// DeploymentStatus is one deployment of a service.
type DeploymentStatus struct {
	ID, Status, TaskDefinition, RolloutState, RolloutStateReason string
	Desired, Running, Pending, Failed                            int32
	CreatedAt, UpdatedAt                                         time.Time
}

// ContainerImage is the image a container of the PRIMARY task definition runs.
type ContainerImage struct {
	Container string
	Image     string
	// Digest is sha256:... from the image reference, or from a running task when the
	// definition refers to a tag; "" if unknown.
	Digest string
}

// ServiceStatus is a service's deployments, images and recent events.
type ServiceStatus struct {
	Cluster, Service string
	TaskDefinition   string // PRIMARY deployment's task definition ARN
	RolloutState     string // PRIMARY deployment's rollout state
	// Stable is true when a single COMPLETED deployment runs every desired task.
	Stable                    bool
	Desired, Running, Pending int32
	Deployments               []DeploymentStatus
	Images                    []ContainerImage
	Events                    []string // the last 10 events, oldest first
	// ServiceDeployment is the current service deployment (stage, traffic), when known.
	ServiceDeployment *ServiceDeploymentStatus
}

// Status reads the service's deployments, the images of its PRIMARY task definition and its
// recent events.
func (e *Engine) Status(ctx context.Context, cluster, service string) (*ServiceStatus, error) {
	svc, err := e.describe(ctx, cluster, service)
	if err != nil {
		return nil, err
	}
	st := &ServiceStatus{Cluster: cluster, Service: service, Desired: svc.DesiredCount, Running: svc.RunningCount, Pending: svc.PendingCount,
		ServiceDeployment: e.currentServiceDeployment(ctx, svc)}
	for _, d := range svc.Deployments {
		st.Deployments = append(st.Deployments, DeploymentStatus{
			ID: aws.ToString(d.Id), Status: aws.ToString(d.Status), TaskDefinition: aws.ToString(d.TaskDefinition),
			RolloutState: string(d.RolloutState), RolloutStateReason: aws.ToString(d.RolloutStateReason),
			Desired: d.DesiredCount, Running: d.RunningCount, Pending: d.PendingCount, Failed: d.FailedTasks,
			CreatedAt: aws.ToTime(d.CreatedAt), UpdatedAt: aws.ToTime(d.UpdatedAt),
		})
	}
	p := primaryOf(svc)
	if p != nil {
		st.TaskDefinition = aws.ToString(p.TaskDefinition)
		st.RolloutState = string(p.RolloutState)
		st.Stable = done(svc, p)
	}
	for i := len(svc.Events) - 1; i >= 0; i-- {
		ev := svc.Events[i]
		st.Events = append(st.Events, fmt.Sprintf("%s %s", aws.ToTime(ev.CreatedAt).UTC().Format(time.RFC3339), aws.ToString(ev.Message)))
	}
	if len(st.Events) > 10 {
		st.Events = st.Events[len(st.Events)-10:]
	}
	if st.TaskDefinition == "" {
		return st, nil
	}
	td, err := e.ecs.DescribeTaskDefinition(ctx, &awsecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(st.TaskDefinition)})
	if err != nil {
		return nil, fmt.Errorf("describe task definition %s: %w", taskdef.ShortName(st.TaskDefinition), err)
	}
	var running map[string]string // container -> digest, from a running task, read once if needed
	for _, c := range td.TaskDefinition.ContainerDefinitions {
		img := ContainerImage{Container: aws.ToString(c.Name), Image: aws.ToString(c.Image)}
		if _, dig, ok := strings.Cut(img.Image, "@"); ok {
			img.Digest = dig
		} else {
			if running == nil {
				running = e.runningDigests(ctx, cluster, service, st.TaskDefinition)
			}
			img.Digest = running[img.Container]
		}
		st.Images = append(st.Images, img)
	}
	return st, nil
}

// runningDigests reads the image digests ECS resolved for a running task of taskDef.
func (e *Engine) runningDigests(ctx context.Context, cluster, service, taskDef string) map[string]string {
	out := map[string]string{}
	list, err := e.ecs.ListTasks(ctx, &awsecs.ListTasksInput{Cluster: aws.String(cluster), ServiceName: aws.String(service), DesiredStatus: types.DesiredStatusRunning})
	if err != nil || len(list.TaskArns) == 0 {
		return out
	}
	arns := list.TaskArns
	if len(arns) > 100 {
		arns = arns[:100]
	}
	tasks, err := e.ecs.DescribeTasks(ctx, &awsecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: arns})
	if err != nil {
		return out
	}
	for _, t := range tasks.Tasks {
		if aws.ToString(t.TaskDefinitionArn) != taskDef {
			continue
		}
		for _, c := range t.Containers {
			if d := aws.ToString(c.ImageDigest); d != "" {
				out[aws.ToString(c.Name)] = d
			}
		}
	}
	return out
}

// ServiceImage is what one container of a service runs, for promotion between environments.
type ServiceImage struct {
	TaskDefinitionArn string
	Image             string
	Digest            string // sha256:... or "" when unknown
	RolloutState      string
	Deployments       int
	// Stable is true when the service is on a single COMPLETED deployment with every desired
	// task running: only then is the image safe to promote.
	Stable bool
}

// CurrentImage reports the image the container named container runs in the service.
func (e *Engine) CurrentImage(ctx context.Context, cluster, service, container string) (ServiceImage, error) {
	st, err := e.Status(ctx, cluster, service)
	if err != nil {
		return ServiceImage{}, fmt.Errorf("current image of %s/%s: %w", cluster, service, err)
	}
	out := ServiceImage{TaskDefinitionArn: st.TaskDefinition, RolloutState: st.RolloutState, Deployments: len(st.Deployments), Stable: st.Stable}
	var names []string
	for _, img := range st.Images {
		names = append(names, img.Container)
		if img.Container == container {
			out.Image, out.Digest = img.Image, img.Digest
			return out, nil
		}
	}
	return out, fmt.Errorf("current image of %s/%s: container %q not in %s (containers: %s)", cluster, service, container, taskdef.ShortName(st.TaskDefinition), strings.Join(names, ", "))
}

// Running returns the task definition the service's PRIMARY deployment runs, as a
// taskdef.Definition (with its tags) to compare with a rendered one.
func (e *Engine) Running(ctx context.Context, cluster, service string) (*taskdef.Definition, error) {
	svc, err := e.describe(ctx, cluster, service)
	if err != nil {
		return nil, err
	}
	arn := taskDefOf(primaryOf(svc))
	if arn == "" {
		return nil, fmt.Errorf("service %s has no PRIMARY deployment", service)
	}
	out, err := e.ecs.DescribeTaskDefinition(ctx, &awsecs.DescribeTaskDefinitionInput{
		TaskDefinition: aws.String(arn), Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags},
	})
	if err != nil {
		return nil, fmt.Errorf("describe task definition %s: %w", taskdef.ShortName(arn), err)
	}
	return taskdef.FromSDK(taskdef.ShortName(arn)+" (running)", out.TaskDefinition, out.Tags)
}

// Diff is the unified diff from the task definition the service runs to rendered ("" when
// they are equivalent).
func (e *Engine) Diff(ctx context.Context, cluster, service string, rendered *taskdef.Definition) (string, error) {
	running, err := e.Running(ctx, cluster, service)
	if err != nil {
		return "", fmt.Errorf("diff %s/%s: %w", cluster, service, err)
	}
	return taskdef.Diff(running, rendered)
}

// String renders the status for people: the service line, one line per deployment, the
// images with their digests, and the recent events.
func (s *ServiceStatus) String() string {
	var b strings.Builder
	state := "NOT STABLE"
	if s.Stable {
		state = "stable"
	}
	fmt.Fprintf(&b, "%s/%s: %s on %s (%s), running %d/%d, pending %d\n",
		s.Cluster, s.Service, state, taskdef.ShortName(s.TaskDefinition), orDash(s.RolloutState), s.Running, s.Desired, s.Pending)
	b.WriteString("deployments:\n")
	for _, d := range s.Deployments {
		fmt.Fprintf(&b, "  %-8s %s %s rollout %s, running %d/%d, pending %d, failed %d, updated %s\n",
			d.Status, d.ID, taskdef.ShortName(d.TaskDefinition), orDash(d.RolloutState), d.Running, d.Desired, d.Pending, d.Failed, d.UpdatedAt.UTC().Format(time.RFC3339))
		if d.RolloutStateReason != "" {
			fmt.Fprintf(&b, "           reason: %s\n", d.RolloutStateReason)
		}
	}
	if s.ServiceDeployment != nil {
		fmt.Fprintf(&b, "%s\n", s.ServiceDeployment)
	}
	b.WriteString("images:\n")
	for _, img := range s.Images {
		fmt.Fprintf(&b, "  %s: %s (digest %s)\n", img.Container, img.Image, orDash(img.Digest))
	}
	if len(s.Events) > 0 {
		b.WriteString("recent events:\n")
		for _, ev := range s.Events {
			fmt.Fprintf(&b, "  %s\n", ev)
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
