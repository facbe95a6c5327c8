package fakeaccount

import (
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"dagger/fargate/pipeline/internal/ecsfake"
	"dagger/fargate/pipeline/internal/logsfake"
	"dagger/fargate/pipeline/internal/secretsfake"
	"dagger/fargate/pipeline/internal/ssmfake"
)

// The control API of what happens around a rollout (issue #19):
//
//	POST /_fake/ecs/next-run-task   {"tasks": [{"exit": 3}, {"neverStops": true}, {"startFailure": "ResourceInitializationError: ..."}, {"runForSeconds": 20}]}
//	GET  /_fake/ecs/ran-tasks       {"tasks": [RanTask, ...]}
//	POST /_fake/logs/append         {"group": "/ecs/sample-app-preprod", "streamPrefix": "app/app/", "lines": ["..."]}
//	POST /_fake/secrets/add         {"arns": ["arn:aws:secretsmanager:..."]}

// TaskScript is how the next task RunTask starts ends (ecsfake.TaskScript, in JSON).
type TaskScript struct {
	Exit          int32  `json:"exit"`
	NeverStops    bool   `json:"neverStops"`
	StartFailure  string `json:"startFailure"`
	RunForSeconds int    `json:"runForSeconds"`
}

// seedReferences makes what the sample's task definitions refer to exist: the API token
// secrets, the previous-token parameters, the log groups; and gives the services their
// private network (the seeded subnets and task security group, no public IP).
func (a *Account) seedReferences() error {
	a.secrets = secretsfake.New(a.aws)
	params := ssmfake.New(a.aws, AccountID, Region)
	a.logs = logsfake.New(a.aws, AccountID, Region)
	for _, e := range Environments() {
		a.secrets.Add(fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:sample-app/%s/api-token-AbCdEf", Region, e.Account, e.Name))
		params.Add("/sample-app/" + e.Name + "/api-token-previous")
		a.logs.AddGroup("/ecs/" + e.Family)
		err := a.ecs.SetNetworkConfiguration(e.Cluster, e.Service, types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets: []string{"subnet-private-1", "subnet-private-2"}, SecurityGroups: []string{"sg-task"}, AssignPublicIp: types.AssignPublicIpDisabled,
		}})
		if err != nil {
			return fmt.Errorf("fakeaccount: network of %s/%s: %w", e.Cluster, e.Service, err)
		}
	}
	return nil
}

// ScriptRunTasks makes the next tasks RunTask starts end as given.
func (a *Account) ScriptRunTasks(tasks ...TaskScript) error {
	var out []ecsfake.TaskScript
	for i, t := range tasks {
		if t.RunForSeconds < 0 || (t.NeverStops && t.StartFailure != "") {
			return fmt.Errorf("tasks[%d]: expected runForSeconds ≥ 0, and neverStops or startFailure, not both", i)
		}
		out = append(out, ecsfake.TaskScript{Exit: t.Exit, NeverStops: t.NeverStops, StartFailure: t.StartFailure, RunFor: time.Duration(t.RunForSeconds) * time.Second})
	}
	a.ecs.ScriptRunTask(out...)
	return nil
}

// AppendLogs makes every stream of group under prefix (e.g. app/app/: the app container of
// every task) end with these lines.
func (a *Account) AppendLogs(group, prefix string, lines ...string) {
	a.logs.AppendAny(group, prefix, a.clock.Now(), lines...)
}

func (a *Account) predeployControl(mux *http.ServeMux) {
	mux.HandleFunc("POST /_fake/ecs/next-run-task", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Tasks []TaskScript `json:"tasks"`
		}
		if !readJSON(w, r, &in) {
			return
		}
		if err := a.ScriptRunTasks(in.Tasks...); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"scripted": len(in.Tasks)})
	})
	mux.HandleFunc("GET /_fake/ecs/ran-tasks", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"tasks": a.ecs.RanTasks()})
	})
	mux.HandleFunc("POST /_fake/logs/append", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Group        string   `json:"group"`
			StreamPrefix string   `json:"streamPrefix"`
			Lines        []string `json:"lines"`
		}
		if !readJSON(w, r, &in) {
			return
		}
		if in.Group == "" || len(in.Lines) == 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "group and lines are required"})
			return
		}
		a.AppendLogs(in.Group, in.StreamPrefix, in.Lines...)
		writeJSON(w, http.StatusOK, map[string]any{"appended": len(in.Lines)})
	})
	mux.HandleFunc("POST /_fake/secrets/add", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ARNs []string `json:"arns"`
		}
		if !readJSON(w, r, &in) {
			return
		}
		a.secrets.Add(in.ARNs...)
		writeJSON(w, http.StatusOK, map[string]any{"added": len(in.ARNs)})
	})
}
