package ecsfake

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/schemas"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"dagger/fargate/pipeline/internal/fakeaws"
)

type wireTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func toTags(in []wireTag) []types.Tag {
	var out []types.Tag
	for _, t := range in {
		out = append(out, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	return out
}

func invalid(err error) error {
	return fakeaws.Errorf("InvalidParameterException", "%v", err)
}

// register wires every operation; each one first plays the script up to the clock's time.
func (f *Fake) register(srv *fakeaws.Server) {
	ops := map[string]func(now time.Time, body []byte) (any, error){
		"RegisterTaskDefinition":     f.registerTaskDefinition,
		"DescribeTaskDefinition":     f.describeTaskDefinition,
		"DeregisterTaskDefinition":   f.deregisterTaskDefinition,
		"ListTaskDefinitions":        f.listTaskDefinitions,
		"DescribeServices":           f.describeServices,
		"UpdateService":              f.updateService,
		"ListTasks":                  f.listTasks,
		"DescribeTasks":              f.describeTasks,
		"RunTask":                    f.runTask,
		"StopTask":                   f.stopTask,
		"DescribeClusters":           f.describeClusters,
		"StopServiceDeployment":      f.stopServiceDeployment,
		"ListServiceDeployments":     f.listServiceDeployments,
		"DescribeServiceDeployments": f.describeServiceDeployments,
		"ContinueServiceDeployment":  f.continueServiceDeployment,
		"TagResource":                f.tagResource,
		"ListTagsForResource":        f.listTagsForResource,
	}
	for name, h := range ops {
		name, h := name, h
		srv.HandleJSON("ecs", name, func(body []byte) (any, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			now := f.clock.Now()
			f.calls = append(f.calls, TimedCall{Operation: name, At: now})
			f.advanceLocked(now)
			return h(now, body)
		})
	}
}

func (f *Fake) registerTaskDefinition(now time.Time, body []byte) (any, error) {
	var td types.TaskDefinition
	if err := decode(body, schemas.TaskDefinition, &td); err != nil {
		return nil, invalid(err)
	}
	var req struct {
		Tags []wireTag `json:"tags"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(err)
	}
	out, err := f.registerLocked(td, toTags(req.Tags))
	if err != nil {
		return nil, err
	}
	return encode(&ecs.RegisterTaskDefinitionOutput{TaskDefinition: out, Tags: f.tags[aws.ToString(out.TaskDefinitionArn)]}, schemas.RegisterTaskDefinitionResponse)
}

func (f *Fake) describeTaskDefinition(now time.Time, body []byte) (any, error) {
	var req struct {
		TaskDefinition string   `json:"taskDefinition"`
		Include        []string `json:"include"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(err)
	}
	td := f.resolveLocked(req.TaskDefinition)
	if td == nil {
		return nil, fakeaws.Errorf("ClientException", "Unable to describe task definition.")
	}
	out := &ecs.DescribeTaskDefinitionOutput{TaskDefinition: td}
	for _, inc := range req.Include {
		if inc == "TAGS" {
			out.Tags = f.tags[aws.ToString(td.TaskDefinitionArn)]
		}
	}
	return encode(out, schemas.DescribeTaskDefinitionResponse)
}

func (f *Fake) deregisterTaskDefinition(now time.Time, body []byte) (any, error) {
	var req struct {
		TaskDefinition string `json:"taskDefinition"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(err)
	}
	td := f.resolveLocked(req.TaskDefinition)
	if td == nil || !strings.Contains(req.TaskDefinition, ":") {
		return nil, fakeaws.Errorf("ClientException", "The specified task definition does not exist.")
	}
	td.Status = types.TaskDefinitionStatusInactive
	td.DeregisteredAt = aws.Time(now)
	return encode(&ecs.DeregisterTaskDefinitionOutput{TaskDefinition: td}, schemas.DeregisterTaskDefinitionResponse)
}

func (f *Fake) listTaskDefinitions(now time.Time, body []byte) (any, error) {
	var req struct {
		FamilyPrefix string `json:"familyPrefix"`
		Status       string `json:"status"`
		Sort         string `json:"sort"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(err)
	}
	if req.Status == "" {
		req.Status = "ACTIVE"
	}
	var arns []string
	fams := slices.Sorted(maps.Keys(f.families))
	for _, fam := range fams {
		if req.FamilyPrefix != "" && !strings.HasPrefix(fam, req.FamilyPrefix) {
			continue
		}
		for _, td := range f.families[fam] {
			if string(td.Status) == req.Status {
				arns = append(arns, aws.ToString(td.TaskDefinitionArn))
			}
		}
	}
	if req.Sort == "DESC" {
		for i, j := 0, len(arns)-1; i < j; i, j = i+1, j-1 {
			arns[i], arns[j] = arns[j], arns[i]
		}
	}
	return encode(&ecs.ListTaskDefinitionsOutput{TaskDefinitionArns: arns}, schemas.ListTaskDefinitionsResponse)
}

func (f *Fake) throttled(now time.Time) bool {
	for _, w := range f.throttles {
		if !now.Before(w[0]) && now.Before(w[1]) {
			return true
		}
	}
	return false
}

func (f *Fake) describeServices(now time.Time, body []byte) (any, error) {
	if f.throttled(now) {
		return nil, fakeaws.Throttling()
	}
	var req struct {
		Cluster  string   `json:"cluster"`
		Services []string `json:"services"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(err)
	}
	if len(req.Services) == 0 {
		return nil, fakeaws.Errorf("InvalidParameterException", "Services cannot be empty.")
	}
	cl := f.findCluster(req.Cluster)
	if cl == nil {
		return nil, fakeaws.Errorf("ClusterNotFoundException", "Cluster not found.")
	}
	var parts []json.RawMessage
	var failures []types.Failure
	for _, name := range req.Services {
		s := f.serviceLocked(req.Cluster, name)
		if s == nil {
			failures = append(failures, types.Failure{Arn: aws.String(fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", f.opts.Region, f.opts.Account, cl.name, name)), Reason: aws.String("MISSING")})
			continue
		}
		if s.lagged != nil && now.Before(s.lagUntil) {
			parts = append(parts, s.lagged)
			continue
		}
		raw, err := encode(f.view(s), schemas.Service)
		if err != nil {
			return nil, err
		}
		parts = append(parts, raw)
	}
	if parts == nil {
		parts = []json.RawMessage{}
	}
	fail, err := encode(&ecs.DescribeServicesOutput{Failures: failures}, schemas.DescribeServicesResponse)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(fail, &out); err != nil {
		return nil, err
	}
	out["services"] = parts
	return out, nil
}

func (f *Fake) updateService(now time.Time, body []byte) (any, error) {
	var req struct {
		Cluster                 string          `json:"cluster"`
		Service                 string          `json:"service"`
		TaskDefinition          string          `json:"taskDefinition"`
		DesiredCount            *int32          `json:"desiredCount"`
		ForceNewDeployment      bool            `json:"forceNewDeployment"`
		DeploymentConfiguration json.RawMessage `json:"deploymentConfiguration"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(err)
	}
	if f.findCluster(req.Cluster) == nil {
		return nil, fakeaws.Errorf("ClusterNotFoundException", "Cluster not found.")
	}
	s := f.serviceLocked(req.Cluster, req.Service)
	if s == nil {
		return nil, fakeaws.Errorf("ServiceNotFoundException", "Service not found.")
	}
	var td *types.TaskDefinition
	if req.TaskDefinition != "" {
		td = f.resolveLocked(req.TaskDefinition)
		if td == nil || td.Status != types.TaskDefinitionStatusActive {
			return nil, fakeaws.Errorf("ClientException", "TaskDefinition not found.")
		}
	}
	if f.opts.ReadLag > 0 {
		before, err := encode(f.view(s), schemas.Service)
		if err != nil {
			return nil, err
		}
		s.lagged, s.lagUntil = before, now.Add(f.opts.ReadLag)
	}
	if len(req.DeploymentConfiguration) > 0 {
		var dc types.DeploymentConfiguration
		if err := decode(req.DeploymentConfiguration, schemas.DeploymentConfiguration, &dc); err != nil {
			return nil, invalid(err)
		}
		mergeConfig(&s.cfg, dc)
	}
	if err := f.applyDeliveryRequest(s, body); err != nil {
		return nil, err
	}
	if req.DesiredCount != nil {
		s.desired = *req.DesiredCount
	}
	primary := ""
	if len(s.deps) > 0 {
		primary = aws.ToString(s.deps[0].d.TaskDefinition)
	}
	if td != nil && (aws.ToString(td.TaskDefinitionArn) != primary || req.ForceNewDeployment) ||
		td == nil && req.ForceNewDeployment && primary != "" {
		target := primary
		if td != nil {
			target = aws.ToString(td.TaskDefinitionArn)
		}
		r := f.nextRollout()
		var rc *race
		if len(f.races) > 0 {
			rc, f.races = &f.races[0], f.races[1:]
		}
		if rc != nil && !rc.after {
			f.startRace(s, *rc, now)
		}
		f.startDeployment(s, target, r, now)
		if rc != nil && rc.after {
			// The other client's answer is not ours: ours shows the service as we left it.
			raw, err := encode(f.view(s), schemas.Service)
			if err != nil {
				return nil, err
			}
			f.startRace(s, *rc, now)
			return map[string]json.RawMessage{"service": raw}, nil
		}
	}
	raw, err := encode(f.view(s), schemas.Service)
	if err != nil {
		return nil, err
	}
	return map[string]json.RawMessage{"service": raw}, nil
}

func (f *Fake) startRace(s *service, rc race, now time.Time) {
	if td := f.resolveLocked(rc.taskDef); td != nil {
		f.startDeployment(s, aws.ToString(td.TaskDefinitionArn), rc.rollout, now)
	}
}

// mergeConfig applies the fields an UpdateService request sets.
func mergeConfig(dst *types.DeploymentConfiguration, src types.DeploymentConfiguration) {
	if src.DeploymentCircuitBreaker != nil {
		dst.DeploymentCircuitBreaker = src.DeploymentCircuitBreaker
	}
	if src.MaximumPercent != nil {
		dst.MaximumPercent = src.MaximumPercent
	}
	if src.MinimumHealthyPercent != nil {
		dst.MinimumHealthyPercent = src.MinimumHealthyPercent
	}
	if src.Alarms != nil {
		dst.Alarms = src.Alarms
	}
	if src.Strategy != "" {
		dst.Strategy = src.Strategy
	}
	if src.BakeTimeInMinutes != nil {
		dst.BakeTimeInMinutes = src.BakeTimeInMinutes
	}
}

func (f *Fake) listTasks(now time.Time, body []byte) (any, error) {
	var req struct {
		Cluster       string `json:"cluster"`
		ServiceName   string `json:"serviceName"`
		DesiredStatus string `json:"desiredStatus"`
		StartedBy     string `json:"startedBy"`
		Family        string `json:"family"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(err)
	}
	cl := f.findCluster(req.Cluster)
	if cl == nil {
		return nil, fakeaws.Errorf("ClusterNotFoundException", "Cluster not found.")
	}
	if req.ServiceName != "" && f.serviceLocked(req.Cluster, req.ServiceName) == nil {
		return nil, fakeaws.Errorf("ServiceNotFoundException", "Service not found.")
	}
	if req.DesiredStatus == "" {
		req.DesiredStatus = "RUNNING"
	}
	var arns []string
	for i := len(cl.tasks) - 1; i >= 0; i-- { // newest first
		t := cl.tasks[i]
		switch {
		case aws.ToString(t.DesiredStatus) != req.DesiredStatus:
		case req.ServiceName != "" && aws.ToString(t.Group) != "service:"+req.ServiceName:
		case req.StartedBy != "" && aws.ToString(t.StartedBy) != req.StartedBy:
		case req.Family != "" && !strings.Contains(aws.ToString(t.TaskDefinitionArn), "/"+req.Family+":"):
		default:
			arns = append(arns, aws.ToString(t.TaskArn))
		}
		if len(arns) == 100 {
			break
		}
	}
	return encode(&ecs.ListTasksOutput{TaskArns: arns}, schemas.ListTasksResponse)
}

func (f *Fake) describeTasks(now time.Time, body []byte) (any, error) {
	var req struct {
		Cluster string   `json:"cluster"`
		Tasks   []string `json:"tasks"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(err)
	}
	cl := f.findCluster(req.Cluster)
	if cl == nil {
		return nil, fakeaws.Errorf("ClusterNotFoundException", "Cluster not found.")
	}
	if len(req.Tasks) == 0 || len(req.Tasks) > 100 {
		return nil, fakeaws.Errorf("InvalidParameterException", "Tasks must contain between 1 and 100 items.")
	}
	out := &ecs.DescribeTasksOutput{}
	for _, ref := range req.Tasks {
		var found *types.Task
		for _, t := range cl.tasks {
			arn := aws.ToString(t.TaskArn)
			if arn == ref || strings.HasSuffix(arn, "/"+ref) {
				found = t
			}
		}
		if found == nil {
			out.Failures = append(out.Failures, types.Failure{Arn: aws.String(ref), Reason: aws.String("MISSING")})
			continue
		}
		out.Tasks = append(out.Tasks, *found)
	}
	return encode(out, schemas.DescribeTasksResponse)
}

func (f *Fake) describeClusters(now time.Time, body []byte) (any, error) {
	var req struct {
		Clusters []string `json:"clusters"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(err)
	}
	if len(req.Clusters) == 0 {
		req.Clusters = []string{"default"}
	}
	out := &ecs.DescribeClustersOutput{}
	for _, name := range req.Clusters {
		cl := f.findCluster(name)
		if cl == nil {
			out.Failures = append(out.Failures, types.Failure{Arn: aws.String(name), Reason: aws.String("MISSING")})
			continue
		}
		var running, pending int32
		for _, t := range cl.tasks {
			switch aws.ToString(t.LastStatus) {
			case "RUNNING":
				running++
			case "PENDING", "PROVISIONING":
				pending++
			}
		}
		out.Clusters = append(out.Clusters, types.Cluster{
			ClusterArn: aws.String(cl.arn), ClusterName: aws.String(cl.name), Status: aws.String("ACTIVE"),
			ActiveServicesCount: int32(len(cl.services)), RunningTasksCount: running, PendingTasksCount: pending,
			Settings: []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("enabled")}},
		})
	}
	return encode(out, schemas.DescribeClustersResponse)
}

func (f *Fake) tagResource(now time.Time, body []byte) (any, error) {
	var req struct {
		ResourceArn string    `json:"resourceArn"`
		Tags        []wireTag `json:"tags"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(err)
	}
	existing := f.tags[req.ResourceArn]
	for _, t := range toTags(req.Tags) {
		replaced := false
		for i := range existing {
			if aws.ToString(existing[i].Key) == aws.ToString(t.Key) {
				existing[i] = t
				replaced = true
			}
		}
		if !replaced {
			existing = append(existing, t)
		}
	}
	f.tags[req.ResourceArn] = existing
	return struct{}{}, nil
}

func (f *Fake) listTagsForResource(now time.Time, body []byte) (any, error) {
	var req struct {
		ResourceArn string `json:"resourceArn"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(err)
	}
	return encode(&ecs.ListTagsForResourceOutput{Tags: f.tags[req.ResourceArn]}, schemas.ListTagsForResourceResponse)
}
