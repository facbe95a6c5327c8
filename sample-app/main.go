// Command app is the sample service deployed by the fargate module: a small key/value JSON API
// with liveness and readiness endpoints, structured JSON logs, configuration from the
// environment and graceful shutdown on SIGTERM. Run with -healthcheck it probes its own
// liveness endpoint instead and exits 0 or 1, for the ECS container health check.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"example.com/sample-app/internal/api"
	"example.com/sample-app/internal/config"
	"example.com/sample-app/internal/health"
	"example.com/sample-app/internal/healthcheck"
	"example.com/sample-app/internal/kv"
	"example.com/sample-app/internal/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// probeTimeout bounds the -healthcheck probe; keep it below the ECS health check timeout.
const probeTimeout = 3 * time.Second

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// deps are the process's connections to the outside world, replaced in tests.
type deps struct {
	args    []string
	getenv  func(string) string
	stdout  io.Writer
	stderr  io.Writer
	signals <-chan os.Signal
	listen  func(network, address string) (net.Listener, error)
}

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	os.Exit(run(context.Background(), deps{
		args:    os.Args[1:],
		getenv:  os.Getenv,
		stdout:  os.Stdout,
		stderr:  os.Stderr,
		signals: sigs,
		listen:  net.Listen,
	}))
}

func run(ctx context.Context, d deps) int {
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	fs.SetOutput(d.stderr)
	probe := fs.Bool("healthcheck", false, "probe GET http://127.0.0.1:$PORT"+healthcheck.Path+" and exit 0 if healthy, 1 if not")
	if err := fs.Parse(d.args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(d.stderr, "unexpected arguments: %q\n", fs.Args())
		return exitUsage
	}
	if *probe {
		return runProbe(ctx, d)
	}
	return serve(ctx, d)
}

// runProbe reads only PORT, so a probe never fails over an unrelated setting.
func runProbe(ctx context.Context, d deps) int {
	port, err := config.Port(d.getenv)
	if err != nil {
		fmt.Fprintln(d.stderr, err)
		return exitError
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if err := healthcheck.Probe(ctx, nil, healthcheck.URL(port)); err != nil {
		fmt.Fprintln(d.stderr, err)
		return exitError
	}
	return exitOK
}

func serve(ctx context.Context, d deps) int {
	cfg, err := config.Load(d.getenv)
	if err != nil {
		slog.New(slog.NewJSONHandler(d.stdout, nil)).Error("configuration rejected", "service", "sample-app", "err", err.Error())
		return exitError
	}
	logger := slog.New(slog.NewJSONHandler(d.stdout, &slog.HandlerOptions{Level: cfg.LogLevel})).
		With("service", "sample-app", "env", cfg.AppEnv, "version", version)
	logger.Info("starting", "config", cfg)
	if cfg.APIToken == "" {
		logger.Warn("API_TOKEN is not set: write endpoints are disabled")
	}

	state := &health.State{}
	handler, err := api.New(api.Options{
		Store:  kv.New(cfg.KVMaxEntries, cfg.KVMaxValueBytes, nil),
		Health: state,
		Logger: logger,
		Tokens: []string{cfg.APIToken, cfg.APITokenPrevious},
	})
	if err != nil {
		logger.Error("build handler", "err", err.Error())
		return exitError
	}
	ln, err := d.listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		logger.Error("listen", "port", cfg.Port, "err", err.Error())
		return exitError
	}
	err = server.Run(ctx, server.Options{
		Listener:        ln,
		Handler:         handler,
		Health:          state,
		Logger:          logger,
		Drain:           cfg.ShutdownDrain,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Signals:         d.signals,
	})
	if err != nil {
		logger.Error("server stopped with an error", "err", err.Error())
		return exitError
	}
	return exitOK
}
