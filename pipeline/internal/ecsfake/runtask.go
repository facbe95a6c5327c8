package ecsfake

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/schemas"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"dagger/fargate/pipeline/internal/fakeaws"
)

// TaskScript scripts one task that RunTask starts (a pre-deploy migration, run-task): it is
// PROVISIONING, PENDING, then RUNNING, and stops RunFor after RunTask with Exit, unless it
// never stops (a hung migration) or fails to start.
type TaskScript struct {
	// Exit is the container's exit code (0).
	Exit int32
	// RunFor is the time from RunTask to STOPPED (30 s).
	RunFor time.Duration
	// NeverStops keeps the task RUNNING until StopTask.
	NeverStops bool
	// StartFailure, when set, stops the task before its container runs, with this stopped
	// reason (e.g. "ResourceInitializationError: unable to pull secrets or registry auth:
	// ...") and stop code TaskFailedToStart; the container has no exit code.
	StartFailure string
}

// RanTask is what a RunTask request asked for, and how the task ended so far.
type RanTask struct {
	TaskArn        string
	TaskDefinition string
	LaunchType     string
	StartedBy      string
	// Overrides are the container overrides' commands, by container name.
	Overrides      map[string][]string
	Subnets        []string
	SecurityGroups []string
	AssignPublicIP string
	// StopReason is the reason a StopTask gave ("" when none was called).
	StopReason string
}

// runState is the fake's one-off tasks and the services' network configurations.
type runState struct {
	scripts []TaskScript
	ran     []*ranTask
	nets    map[*service]types.NetworkConfiguration
}

type ranTask struct {
	RanTask
	task *types.Task
}

// ScriptRunTask makes the next tasks RunTask starts follow these scripts, in order; after
// them tasks exit 0 after 30 s.
func (f *Fake) ScriptRunTask(s ...TaskScript) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs.scripts = append(f.runs.scripts, s...)
}

// SetNetworkConfiguration gives a service the network configuration DescribeServices shows
// (awsvpc subnets, security groups, public IP).
func (f *Fake) SetNetworkConfiguration(clusterName, serviceName string, nc types.NetworkConfiguration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.serviceLocked(clusterName, serviceName)
	if s == nil {
		return fmt.Errorf("ecsfake: service %s/%s not found", clusterName, serviceName)
	}
	if f.runs.nets == nil {
		f.runs.nets = map[*service]types.NetworkConfiguration{}
	}
	f.runs.nets[s] = nc
	return nil
}

// RanTasks lists the tasks RunTask started, oldest first.
func (f *Fake) RanTasks() []RanTask {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]RanTask, 0, len(f.runs.ran))
	for _, r := range f.runs.ran {
		out = append(out, r.RanTask)
	}
	return out
}

// runView adds the service's network configuration to DescribeServices.
func (f *Fake) runView(s *service, out *types.Service) {
	if nc, ok := f.runs.nets[s]; ok {
		c := nc
		out.NetworkConfiguration = &c
	}
}

func (f *Fake) runTask(now time.Time, body []byte) (any, error) {
	var req struct {
		Cluster              string          `json:"cluster"`
		TaskDefinition       string          `json:"taskDefinition"`
		LaunchType           string          `json:"launchType"`
		StartedBy            string          `json:"startedBy"`
		Count                *int32          `json:"count"`
		NetworkConfiguration json.RawMessage `json:"networkConfiguration"`
		Overrides            struct {
			ContainerOverrides []struct {
				Name    string   `json:"name"`
				Command []string `json:"command"`
			} `json:"containerOverrides"`
		} `json:"overrides"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(err)
	}
	cl := f.findCluster(req.Cluster)
	if cl == nil {
		return nil, fakeaws.Errorf("ClusterNotFoundException", "Cluster not found.")
	}
	td := f.resolveLocked(req.TaskDefinition)
	if td == nil || td.Status != types.TaskDefinitionStatusActive {
		return nil, fakeaws.Errorf("ClientException", "TaskDefinition not found.")
	}
	if req.Count != nil && *req.Count != 1 {
		return nil, fakeaws.Errorf("InvalidParameterException", "the fake runs one task at a time")
	}
	var nc types.NetworkConfiguration
	if len(req.NetworkConfiguration) > 0 {
		if err := decode(req.NetworkConfiguration, schemas.NetworkConfiguration, &nc); err != nil {
			return nil, invalid(err)
		}
	}
	if nc.AwsvpcConfiguration == nil || len(nc.AwsvpcConfiguration.Subnets) == 0 {
		return nil, fakeaws.Errorf("InvalidParameterException", "Network Configuration must be provided when networkMode 'awsvpc' is specified.")
	}
	rt := &ranTask{RanTask: RanTask{
		TaskDefinition: aws.ToString(td.TaskDefinitionArn), LaunchType: req.LaunchType, StartedBy: req.StartedBy,
		Overrides: map[string][]string{}, Subnets: nc.AwsvpcConfiguration.Subnets,
		SecurityGroups: nc.AwsvpcConfiguration.SecurityGroups, AssignPublicIP: string(nc.AwsvpcConfiguration.AssignPublicIp),
	}}
	overrides := &types.TaskOverride{}
	known := map[string]bool{}
	for _, c := range td.ContainerDefinitions {
		known[aws.ToString(c.Name)] = true
	}
	for _, o := range req.Overrides.ContainerOverrides {
		if !known[o.Name] {
			return nil, fakeaws.Errorf("InvalidParameterException", "Override for container named %s is not a container in the TaskDefinition.", o.Name)
		}
		rt.Overrides[o.Name] = o.Command
		overrides.ContainerOverrides = append(overrides.ContainerOverrides, types.ContainerOverride{Name: aws.String(o.Name), Command: o.Command})
	}
	script := TaskScript{}
	if len(f.runs.scripts) > 0 {
		script, f.runs.scripts = f.runs.scripts[0], f.runs.scripts[1:]
	}
	if script.RunFor <= 0 {
		script.RunFor = 30 * time.Second
	}
	id := f.id(32)
	arn := fmt.Sprintf("arn:aws:ecs:%s:%s:task/%s/%s", f.opts.Region, f.opts.Account, cl.name, id)
	var containers []types.Container
	for _, c := range td.ContainerDefinitions {
		containers = append(containers, types.Container{
			Name: c.Name, Image: c.Image, LastStatus: aws.String("PENDING"), TaskArn: aws.String(arn),
			ContainerArn: aws.String(fmt.Sprintf("arn:aws:ecs:%s:%s:container/%s/%s/%s", f.opts.Region, f.opts.Account, cl.name, id, f.id(36))),
		})
	}
	t := &types.Task{
		TaskArn: aws.String(arn), ClusterArn: aws.String(cl.arn), TaskDefinitionArn: td.TaskDefinitionArn,
		Group: aws.String("family:" + aws.ToString(td.Family)), StartedBy: aws.String(req.StartedBy),
		LastStatus: aws.String("PROVISIONING"), DesiredStatus: aws.String("RUNNING"),
		LaunchType: types.LaunchTypeFargate, CreatedAt: aws.Time(now), Containers: containers, Overrides: overrides,
	}
	rt.TaskArn, rt.task = arn, t
	cl.tasks = append(cl.tasks, t)
	f.runs.ran = append(f.runs.ran, rt)
	f.at(now.Add(script.RunFor/4), func(time.Time) { setStatus(t, "PROVISIONING", "PENDING") })
	switch {
	case script.StartFailure != "":
		f.at(now.Add(script.RunFor/2), func(at time.Time) {
			f.stopTasks([]*types.Task{t}, at, script.StartFailure, types.TaskStopCodeTaskFailedToStart, nil)
		})
	default:
		f.at(now.Add(script.RunFor/2), func(at time.Time) {
			if setStatus(t, "PENDING", "RUNNING") {
				t.StartedAt = aws.Time(at)
				for i := range t.Containers {
					t.Containers[i].LastStatus = aws.String("RUNNING")
				}
			}
		})
		if !script.NeverStops {
			f.at(now.Add(script.RunFor), func(at time.Time) {
				f.stopTasks([]*types.Task{t}, at, "Essential container in task exited", types.TaskStopCodeEssentialContainerExited, aws.Int32(script.Exit))
			})
		}
	}
	return encode(&ecs.RunTaskOutput{Tasks: []types.Task{*t}}, schemas.RunTaskResponse)
}

// setStatus moves a task from one status to the next; it reports whether it did.
func setStatus(t *types.Task, from, to string) bool {
	if aws.ToString(t.LastStatus) != from {
		return false
	}
	t.LastStatus = aws.String(to)
	return true
}

func (f *Fake) stopTask(now time.Time, body []byte) (any, error) {
	var req struct {
		Cluster string `json:"cluster"`
		Task    string `json:"task"`
		Reason  string `json:"reason"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(err)
	}
	cl := f.findCluster(req.Cluster)
	if cl == nil {
		return nil, fakeaws.Errorf("ClusterNotFoundException", "Cluster not found.")
	}
	for _, t := range cl.tasks {
		arn := aws.ToString(t.TaskArn)
		if arn != req.Task && !strings.HasSuffix(arn, "/"+req.Task) {
			continue
		}
		for _, r := range f.runs.ran {
			if r.task == t {
				r.StopReason = req.Reason
			}
		}
		reason := req.Reason
		if reason == "" {
			reason = "Task stopped by user"
		}
		// SIGTERM, then SIGKILL after the stop timeout: the container ends with 137.
		f.stopTasks([]*types.Task{t}, now, reason, types.TaskStopCodeUserInitiated, aws.Int32(137))
		return encode(&ecs.StopTaskOutput{Task: t}, schemas.StopTaskResponse)
	}
	return nil, fakeaws.Errorf("InvalidParameterException", "The referenced task was not found.")
}
