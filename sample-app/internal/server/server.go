// Package server runs the HTTP server through the lifecycle ECS expects of a Fargate task:
// become ready once listening, and on SIGTERM drain (readiness fails, requests are still
// served) before closing the listener and waiting for in-flight requests, all within the
// container's stop timeout.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"example.com/sample-app/internal/health"
)

// Options configures Run.
type Options struct {
	// Listener is where the server accepts connections; Run closes it.
	Listener net.Listener
	Handler  http.Handler
	Health   *health.State
	Logger   *slog.Logger
	// Drain is how long to keep serving, with readiness failing, after the stop signal.
	Drain time.Duration
	// ShutdownTimeout bounds the wait for in-flight requests after the listener closes.
	ShutdownTimeout time.Duration
	// Signals delivers stop signals (SIGTERM from ECS, SIGINT locally). The first one starts
	// the drain; another during the drain ends it early; another during shutdown abandons
	// in-flight requests. A nil channel means only ctx stops the server.
	Signals <-chan os.Signal
}

// Server timeouts: protect against slow clients without cutting off normal requests.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 15 * time.Second
	idleTimeout       = 60 * time.Second
)

// ErrForcedStop is returned when a further stop signal abandons in-flight requests.
var ErrForcedStop = errors.New("stop forced by a repeated signal")

// Run serves until ctx is cancelled or a stop signal arrives, then drains and shuts down.
// It returns nil after a clean shutdown, or an error if serving failed or in-flight requests
// did not finish within ShutdownTimeout.
func Run(ctx context.Context, opts Options) error {
	if opts.Listener == nil || opts.Handler == nil || opts.Health == nil || opts.Logger == nil {
		return errors.New("server: Options.Listener, Handler, Health and Logger are required")
	}
	if opts.Drain < 0 || opts.ShutdownTimeout <= 0 {
		return fmt.Errorf("server: Drain must be >= 0 and ShutdownTimeout > 0, got %s and %s", opts.Drain, opts.ShutdownTimeout)
	}
	log := opts.Logger
	addr := opts.Listener.Addr().String()
	srv := &http.Server{
		Handler:           opts.Handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(opts.Listener) }()
	// The listener is bound, so connections queue from here on: report ready.
	opts.Health.Set(health.Serving)
	log.Info("serving", "addr", addr)

	var reason string
	select {
	case err := <-serveErr:
		opts.Health.Set(health.Stopping)
		return fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
		reason = "context cancelled"
	case sig := <-opts.Signals:
		reason = "signal " + sig.String()
	}

	opts.Health.Set(health.Draining)
	srv.SetKeepAlivesEnabled(false) // clients reconnect, and reach a task that is not draining
	log.Info("draining", "reason", reason, "drain", opts.Drain.String(), "shutdownTimeout", opts.ShutdownTimeout.String())
	if opts.Drain > 0 {
		t := time.NewTimer(opts.Drain)
		select {
		case <-t.C:
		case sig := <-opts.Signals:
			t.Stop()
			log.Warn("drain cut short", "signal", sig.String())
		case err := <-serveErr:
			t.Stop()
			opts.Health.Set(health.Stopping)
			return fmt.Errorf("serve on %s while draining: %w", addr, err)
		}
	}

	opts.Health.Set(health.Stopping)
	log.Info("shutting down", "addr", addr)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), opts.ShutdownTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(shutdownCtx) }()

	var err error
	select {
	case err = <-done:
	case sig := <-opts.Signals:
		log.Warn("shutdown forced", "signal", sig.String())
		cancel()
		<-done
		err = ErrForcedStop
	}
	if err != nil {
		_ = srv.Close()
		<-serveErr
		return fmt.Errorf("graceful shutdown of %s within %s: %w", addr, opts.ShutdownTimeout, err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", addr, err)
	}
	log.Info("stopped", "addr", addr)
	return nil
}
