package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"example.com/sample-app/internal/health"
)

// syncBuffer is a log sink safe for the server goroutines and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	url     string
	state   *health.State
	signals chan os.Signal
	logs    *syncBuffer
	entered chan struct{} // receives once per request that reached /slow
	release chan struct{} // closing it lets /slow requests finish
	result  chan error    // Run's return value
	cancel  context.CancelFunc
	once    sync.Once
}

// releaseAll lets every /slow request finish; safe to call more than once.
func (h *harness) releaseAll() { h.once.Do(func() { close(h.release) }) }

func start(t *testing.T, drain, shutdownTimeout time.Duration) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		url:     "http://" + ln.Addr().String(),
		state:   &health.State{},
		signals: make(chan os.Signal),
		logs:    &syncBuffer{},
		entered: make(chan struct{}, 10),
		release: make(chan struct{}),
		result:  make(chan error, 1),
	}
	t.Cleanup(h.releaseAll)

	mux := http.NewServeMux()
	mux.Handle("GET /healthz", h.state.Liveness())
	mux.Handle("GET /readyz", h.state.Readiness())
	mux.HandleFunc("GET /work", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "done") })
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		h.entered <- struct{}{}
		select {
		case <-h.release:
			io.WriteString(w, "finished")
		case <-r.Context().Done():
		}
	})

	if got := h.state.Phase(); got != health.Starting {
		t.Fatalf("phase before Run = %s, want starting", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	t.Cleanup(cancel)
	go func() {
		h.result <- Run(ctx, Options{
			Listener: ln, Handler: mux, Health: h.state,
			Logger:          slog.New(slog.NewJSONHandler(h.logs, nil)),
			Drain:           drain,
			ShutdownTimeout: shutdownTimeout,
			Signals:         h.signals,
		})
	}()
	h.waitFor(t, "ready", func() bool { return h.status(t, "/readyz") == http.StatusOK })
	return h
}

// client opens a new connection per request so each probe sees the listener's current state.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// status returns the HTTP status of GET path, or 0 when no connection could be made.
func (h *harness) status(t *testing.T, path string) int {
	t.Helper()
	resp, err := client.Get(h.url + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond until it holds; the test's own deadline bounds the wait.
func (h *harness) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case err := <-h.result:
			t.Fatalf("Run returned %v while waiting for %s", err, what)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// slowRequest starts GET /slow and returns once the handler is running; the response
// (body or error) arrives on the returned channel.
func (h *harness) slowRequest(t *testing.T) <-chan string {
	t.Helper()
	out := make(chan string, 1)
	go func() {
		resp, err := client.Get(h.url + "/slow")
		if err != nil {
			out <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			out <- "error: " + err.Error()
			return
		}
		out <- resp.Status + " " + string(b)
	}()
	<-h.entered
	return out
}

func TestDrainKeepsServingWhileNotReady(t *testing.T) {
	h := start(t, time.Hour, time.Minute)

	h.signals <- syscall.SIGTERM
	h.waitFor(t, "draining", func() bool { return h.state.Phase() == health.Draining })

	if got := h.status(t, "/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining = %d, want 503", got)
	}
	if got := h.status(t, "/healthz"); got != http.StatusOK {
		t.Errorf("/healthz while draining = %d, want 200", got)
	}
	if got := h.status(t, "/work"); got != http.StatusOK {
		t.Errorf("/work while draining = %d, want 200 (requests are still served)", got)
	}

	// A second signal ends the drain; with nothing in flight, shutdown is clean.
	h.signals <- syscall.SIGINT
	if err := <-h.result; err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if got := h.status(t, "/healthz"); got != 0 {
		t.Errorf("server still answers after Run returned: %d", got)
	}
	logs := h.logs.String()
	for _, want := range []string{`"msg":"serving"`, `"reason":"signal terminated"`, `"drain":"1h0m0s"`, `"msg":"drain cut short"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	if h.state.Phase() != health.Stopping {
		t.Errorf("final phase %s, want stopping", h.state.Phase())
	}
}

func TestShutdownWaitsForInFlightRequests(t *testing.T) {
	h := start(t, 0, time.Minute)
	resp := h.slowRequest(t)

	h.cancel()
	// The listener closes while the request is still running...
	h.waitFor(t, "listener closed", func() bool { return h.status(t, "/healthz") == 0 })
	select {
	case err := <-h.result:
		t.Fatalf("Run returned %v with a request in flight", err)
	default:
	}
	// ...and the request completes normally once its handler finishes.
	h.releaseAll()
	if got := <-resp; got != "200 OK finished" {
		t.Fatalf("in-flight request got %q, want a complete 200", got)
	}
	if err := <-h.result; err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
}

func TestShutdownTimeoutIsAnError(t *testing.T) {
	h := start(t, 0, 20*time.Millisecond)
	resp := h.slowRequest(t)

	h.signals <- syscall.SIGTERM
	err := <-h.result
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "graceful shutdown of 127.0.0.1:") {
		t.Fatalf("Run = %v, want a graceful-shutdown deadline error", err)
	}
	if got := <-resp; !strings.HasPrefix(got, "error: ") {
		t.Fatalf("abandoned request got %q, want a connection error", got)
	}
}

func TestRepeatedSignalForcesStop(t *testing.T) {
	h := start(t, 0, time.Hour)
	resp := h.slowRequest(t)

	h.signals <- syscall.SIGTERM
	h.waitFor(t, "stopping", func() bool { return h.state.Phase() == health.Stopping })
	h.signals <- syscall.SIGTERM // received only by the shutdown wait
	err := <-h.result
	if !errors.Is(err, ErrForcedStop) {
		t.Fatalf("Run = %v, want ErrForcedStop", err)
	}
	if got := <-resp; !strings.HasPrefix(got, "error: ") {
		t.Fatalf("abandoned request got %q, want a connection error", got)
	}
	if !strings.Contains(h.logs.String(), `"msg":"shutdown forced"`) {
		t.Errorf("logs lack the forced shutdown:\n%s", h.logs)
	}
}

func TestServeFailureIsReturned(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	state := &health.State{}
	err = Run(context.Background(), Options{
		Listener: ln, Handler: http.NotFoundHandler(), Health: state,
		Logger: slog.New(slog.DiscardHandler), ShutdownTimeout: time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), "serve on 127.0.0.1:") {
		t.Fatalf("Run on a closed listener = %v, want a serve error", err)
	}
	if state.Ready() {
		t.Fatal("still ready after the server failed")
	}
}

func TestRunRejectsIncompleteOptions(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	full := Options{Listener: ln, Handler: http.NotFoundHandler(), Health: &health.State{}, Logger: slog.New(slog.DiscardHandler), ShutdownTimeout: time.Second}
	tests := []struct {
		name string
		edit func(o *Options)
		want string
	}{
		{"no listener", func(o *Options) { o.Listener = nil }, "are required"},
		{"no handler", func(o *Options) { o.Handler = nil }, "are required"},
		{"negative drain", func(o *Options) { o.Drain = -time.Second }, "Drain must be >= 0"},
		{"zero shutdown timeout", func(o *Options) { o.ShutdownTimeout = 0 }, "ShutdownTimeout > 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := full
			tt.edit(&o)
			if err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, want error containing %q", err, tt.want)
			}
		})
	}
}
