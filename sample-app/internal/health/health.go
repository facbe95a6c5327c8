// Package health tracks the service's lifecycle phase and serves the liveness and readiness
// endpoints derived from it.
//
// Liveness (/healthz) answers 200 whenever the process can serve HTTP at all: it is what the ECS
// container health check probes, and failing it gets the task replaced. Readiness (/readyz)
// answers 200 only in the Serving phase: it is 503 while starting and while draining after
// SIGTERM, so a load balancer stops sending new requests before the listener closes.
package health

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
)

// Phase is a lifecycle phase of the service.
type Phase int32

// Lifecycle phases, in the order the service moves through them.
const (
	Starting Phase = iota
	Serving
	Draining
	Stopping
)

// String returns the phase's name as shown in the endpoints' JSON.
func (p Phase) String() string {
	switch p {
	case Starting:
		return "starting"
	case Serving:
		return "serving"
	case Draining:
		return "draining"
	case Stopping:
		return "stopping"
	}
	return "unknown"
}

// State is the current phase, safe for concurrent use. The zero value is Starting.
type State struct {
	phase atomic.Int32
}

// Phase returns the current phase.
func (s *State) Phase() Phase { return Phase(s.phase.Load()) }

// Set moves to phase p. Phases only move forward: a request to go back is ignored, so a late
// "serving" can never undo a drain that has begun. It reports whether the phase changed.
func (s *State) Set(p Phase) bool {
	for {
		cur := s.phase.Load()
		if int32(p) <= cur {
			return false
		}
		if s.phase.CompareAndSwap(cur, int32(p)) {
			return true
		}
	}
}

// Ready reports whether the service should receive new traffic.
func (s *State) Ready() bool { return s.Phase() == Serving }

type status struct {
	Status string `json:"status"`
	Phase  string `json:"phase"`
}

// Liveness is the /healthz handler: 200 while the process serves HTTP, in every phase.
func (s *State) Liveness() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		write(w, http.StatusOK, status{Status: "ok", Phase: s.Phase().String()})
	})
}

// Readiness is the /readyz handler: 200 when serving, 503 otherwise.
func (s *State) Readiness() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		p := s.Phase()
		if p == Serving {
			write(w, http.StatusOK, status{Status: "ready", Phase: p.String()})
			return
		}
		write(w, http.StatusServiceUnavailable, status{Status: "not ready", Phase: p.String()})
	})
}

func write(w http.ResponseWriter, code int, v status) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
