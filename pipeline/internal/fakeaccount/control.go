package fakeaccount

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"dagger/fargate/pipeline/internal/ecsfake"
	"dagger/fargate/pipeline/taskdef"
)

// The control API, for the end-to-end suite (JSON in and out):
//
//	GET  /_fake/healthz                       200 "ok" once the account is up
//	GET  /_fake/calls                         {"calls": {"ecs/UpdateService": 1, ...}}
//	POST /_fake/ecs/next-rollout              {"rollouts": ["healthy" | "fail" | "hang", ...]}
//	POST /_fake/ecs/busy                      {"cluster": "...", "service": "..."}
//	POST /_fake/ecs/settle                    {"cluster": "...", "service": "...", "timeoutSeconds": 60}
//	GET  /_fake/ecs/service?cluster=&service= ServiceState
func (a *Account) control() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_fake/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /_fake/calls", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"calls": a.Calls()})
	})
	mux.HandleFunc("POST /_fake/ecs/next-rollout", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Rollouts []string `json:"rollouts"`
		}
		if !readJSON(w, r, &in) {
			return
		}
		if err := a.ScriptRollouts(in.Rollouts...); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"scripted": in.Rollouts})
	})
	mux.HandleFunc("POST /_fake/ecs/busy", func(w http.ResponseWriter, r *http.Request) {
		var in serviceRef
		if !readJSON(w, r, &in) {
			return
		}
		if err := a.Busy(in.Cluster, in.Service); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		a.writeService(w, in.Cluster, in.Service)
	})
	mux.HandleFunc("POST /_fake/ecs/settle", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			serviceRef
			TimeoutSeconds int `json:"timeoutSeconds"`
		}
		if !readJSON(w, r, &in) {
			return
		}
		if in.TimeoutSeconds <= 0 {
			in.TimeoutSeconds = 60
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Duration(in.TimeoutSeconds)*time.Second)
		defer cancel()
		if err := a.Settle(ctx, in.Cluster, in.Service); err != nil {
			writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
			return
		}
		a.writeService(w, in.Cluster, in.Service)
	})
	mux.HandleFunc("GET /_fake/ecs/service", func(w http.ResponseWriter, r *http.Request) {
		a.writeService(w, r.URL.Query().Get("cluster"), r.URL.Query().Get("service"))
	})
	a.predeployControl(mux)
	return mux
}

type serviceRef struct {
	Cluster string `json:"cluster"`
	Service string `json:"service"`
}

// ServiceState is what the control API shows of a service.
type ServiceState struct {
	Cluster string `json:"cluster"`
	Service string `json:"service"`
	// TaskDefinition is the PRIMARY deployment's revision (family:N), Image its first
	// container's image.
	TaskDefinition string `json:"taskDefinition"`
	Image          string `json:"image"`
	RolloutState   string `json:"rolloutState"`
	Deployments    int    `json:"deployments"`
	Steady         bool   `json:"steady"`
	// Revisions are the family's registered revisions, oldest first (family:N).
	Revisions []string `json:"revisions"`
}

// Service returns the service's state; ok is false when it does not exist.
func (a *Account) Service(cluster, service string) (ServiceState, bool) {
	svc, ok := a.ecs.Service(cluster, service)
	if !ok {
		return ServiceState{}, false
	}
	st := ServiceState{Cluster: cluster, Service: service, Deployments: len(svc.Deployments), Revisions: []string{}}
	_, st.Steady = a.ecs.SteadyAt(cluster, service)
	if len(svc.Deployments) > 0 {
		st.RolloutState = string(svc.Deployments[0].RolloutState)
	}
	arn := aws.ToString(svc.TaskDefinition)
	st.TaskDefinition = taskdef.ShortName(arn)
	if td, _, ok := a.ecs.TaskDefinition(arn); ok {
		if len(td.ContainerDefinitions) > 0 {
			st.Image = aws.ToString(td.ContainerDefinitions[0].Image)
		}
		for _, rev := range a.ecs.Revisions(aws.ToString(td.Family)) {
			st.Revisions = append(st.Revisions, taskdef.ShortName(rev))
		}
	}
	return st, true
}

// ScriptRollouts makes the next deployments UpdateService starts go as named: healthy, fail
// (every task exits; the circuit breaker rolls back) or hang (tasks never start).
func (a *Account) ScriptRollouts(kinds ...string) error {
	var rs []ecsfake.Rollout
	for _, k := range kinds {
		switch k {
		case "healthy":
			rs = append(rs, ecsfake.Rollout{Kind: ecsfake.Healthy})
		case "fail":
			rs = append(rs, ecsfake.Rollout{Kind: ecsfake.FailTasks, StoppedReason: "Essential container in task exited", ExitCode: 1})
		case "hang":
			rs = append(rs, ecsfake.Rollout{Kind: ecsfake.Hang})
		default:
			return fmt.Errorf("rollout %q: expected healthy, fail or hang", k)
		}
	}
	a.ecs.ScriptNext(rs...)
	return nil
}

// Busy starts a deployment on the service that never finishes, as if someone else were
// deploying: the module must refuse to start another one. Settle ends it.
func (a *Account) Busy(cluster, service string) error {
	td := a.ecs.PrimaryTaskDefinition(cluster, service)
	if td == "" {
		return fmt.Errorf("service %s/%s not found", cluster, service)
	}
	if err := a.ecs.StartDeployment(cluster, service, td, ecsfake.Rollout{Kind: ecsfake.Hang}); err != nil {
		return err
	}
	a.mu.Lock()
	a.hung[cluster+"/"+service] = true
	a.mu.Unlock()
	return nil
}

// Settle waits until the service is steady again, first stopping (with a rollback) a
// deployment that Busy started.
func (a *Account) Settle(ctx context.Context, cluster, service string) error {
	key := cluster + "/" + service
	a.mu.Lock()
	hung := a.hung[key]
	delete(a.hung, key)
	a.mu.Unlock()
	if hung {
		if err := a.stopInProgress(ctx, cluster, service); err != nil {
			return err
		}
	}
	for {
		st, ok := a.Service(cluster, service)
		if !ok {
			return fmt.Errorf("service %s/%s not found", cluster, service)
		}
		if st.Steady && st.Deployments == 1 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("service %s/%s is not steady (%d deployments, rollout %s): %w", cluster, service, st.Deployments, st.RolloutState, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stopInProgress stops the service's in-progress deployment through ECS's own
// StopServiceDeployment (ROLLBACK), as an operator would.
func (a *Account) stopInProgress(ctx context.Context, cluster, service string) error {
	client := ecs.NewFromConfig(a.self)
	out, err := client.ListServiceDeployments(ctx, &ecs.ListServiceDeploymentsInput{Cluster: aws.String(cluster), Service: aws.String(service)})
	if err != nil {
		return fmt.Errorf("list deployments of %s/%s: %w", cluster, service, err)
	}
	for _, d := range out.ServiceDeployments {
		if d.Status != types.ServiceDeploymentStatusInProgress {
			continue
		}
		if _, err := client.StopServiceDeployment(ctx, &ecs.StopServiceDeploymentInput{
			ServiceDeploymentArn: d.ServiceDeploymentArn, StopType: types.StopServiceDeploymentStopTypeRollback,
		}); err != nil {
			return fmt.Errorf("stop deployment of %s/%s: %w", cluster, service, err)
		}
		return nil
	}
	return nil
}

func (a *Account) writeService(w http.ResponseWriter, cluster, service string) {
	st, ok := a.Service(cluster, service)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("service %s/%s not found", cluster, service)})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad request body: " + err.Error()})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
