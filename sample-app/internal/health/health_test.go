package health

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPhasesOnlyMoveForward(t *testing.T) {
	var s State
	steps := []struct {
		set         Phase
		wantChanged bool
		wantPhase   Phase
	}{
		{Serving, true, Serving},
		{Starting, false, Serving},
		{Draining, true, Draining},
		{Serving, false, Draining}, // a late "serving" must not undo a drain
		{Stopping, true, Stopping},
		{Stopping, false, Stopping},
	}
	if s.Phase() != Starting {
		t.Fatalf("zero State is %s, want starting", s.Phase())
	}
	for i, st := range steps {
		if got := s.Set(st.set); got != st.wantChanged {
			t.Errorf("step %d: Set(%s) = %v, want %v", i, st.set, got, st.wantChanged)
		}
		if s.Phase() != st.wantPhase {
			t.Errorf("step %d: phase %s, want %s", i, s.Phase(), st.wantPhase)
		}
	}
}

func TestEndpointsByPhase(t *testing.T) {
	tests := []struct {
		phase         Phase
		wantReady     int
		wantReadyBody string
	}{
		{Starting, http.StatusServiceUnavailable, "not ready"},
		{Serving, http.StatusOK, "ready"},
		{Draining, http.StatusServiceUnavailable, "not ready"},
		{Stopping, http.StatusServiceUnavailable, "not ready"},
	}
	for _, tt := range tests {
		t.Run(tt.phase.String(), func(t *testing.T) {
			var s State
			s.Set(tt.phase)

			live := get(t, s.Liveness())
			if live.code != http.StatusOK || live.body.Status != "ok" || live.body.Phase != tt.phase.String() {
				t.Errorf("liveness in %s = %d %+v, want 200 ok", tt.phase, live.code, live.body)
			}
			ready := get(t, s.Readiness())
			if ready.code != tt.wantReady || ready.body.Status != tt.wantReadyBody || ready.body.Phase != tt.phase.String() {
				t.Errorf("readiness in %s = %d %+v, want %d %q", tt.phase, ready.code, ready.body, tt.wantReady, tt.wantReadyBody)
			}
			if s.Ready() != (tt.wantReady == http.StatusOK) {
				t.Errorf("Ready() = %v in %s", s.Ready(), tt.phase)
			}
		})
	}
}

type result struct {
	code int
	body status
}

func get(t *testing.T, h http.Handler) result {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var b status
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	return result{rec.Code, b}
}
