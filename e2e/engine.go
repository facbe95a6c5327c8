package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// The dedicated engine container the suite starts (E2E_ENGINE=own).
const (
	engineContainer = "fargate-e2e-engine"
	engineLabel     = "fargate-e2e-config"
	runnerHostVar   = "_EXPERIMENTAL_DAGGER_RUNNER_HOST"
)

// Host is what preflight needs from the machine; tests replace it.
type Host struct {
	LookPath func(string) (string, error)
	Getenv   func(string) string
	// Run runs a command with extra environment variables and returns its outcome.
	Run func(ctx context.Context, env []string, name string, args ...string) (Result, error)
	// WriteFile writes the engine configuration.
	WriteFile func(path string, data []byte) error
}

// Skip is the one line printed when the suite cannot run here; it exits 0.
type Skip struct{ Reason string }

func (s *Skip) Error() string { return "e2e skipped: " + s.Reason }

// Preflight finds or starts a Dagger engine and returns the environment the dagger CLI
// needs to use it (the runner host, when the suite chose it). It returns a *Skip when there
// is no dagger binary or no engine can be reached.
func Preflight(ctx context.Context, h Host, s Settings, configPath string) ([]string, error) {
	if _, err := h.LookPath(s.Dagger); err != nil {
		return nil, &Skip{fmt.Sprintf("no dagger CLI (%s) on PATH; install Dagger and Docker to run the end-to-end suite (see e2e/README.md)", s.Dagger)}
	}
	var env []string
	runner := h.Getenv(runnerHostVar)
	if runner == "" {
		if _, err := h.LookPath("docker"); err != nil {
			return nil, &Skip{"no Dagger engine reachable: docker is not on PATH and " + runnerHostVar + " is not set"}
		}
		info, err := h.Run(ctx, nil, "docker", "info", "--format", "{{.ServerVersion}}")
		if err != nil || info.ExitCode != 0 {
			return nil, &Skip{"no Dagger engine reachable: Docker is not running (" + firstLine(info.Stderr, err) + ")"}
		}
		if s.Engine == "own" {
			host, err := startEngine(ctx, h, s, configPath)
			if err != nil {
				return nil, &Skip{"no Dagger engine reachable: " + err.Error()}
			}
			env = append(env, runnerHostVar+"="+host)
		}
	}
	probeCtx, cancel := context.WithTimeout(ctx, s.EngineTimeout)
	defer cancel()
	res, err := h.Run(probeCtx, env, s.Dagger, "core", "version")
	if err != nil || res.ExitCode != 0 {
		return nil, &Skip{"no Dagger engine reachable: `" + s.Dagger + " core version` failed (" + firstLine(res.Stderr, err) + ")"}
	}
	return env, nil
}

// startEngine starts (or reuses, when its configuration is unchanged) the dedicated engine
// container with the registry configuration mounted, and returns its runner host.
func startEngine(ctx context.Context, h Host, s Settings, configPath string) (string, error) {
	cfg := s.EngineConfig()
	if err := h.WriteFile(configPath, []byte(cfg)); err != nil {
		return "", fmt.Errorf("write the engine configuration %s: %w", configPath, err)
	}
	want := engineLabelValue(s, configPath)
	host := "docker-container://" + engineContainer
	cur, err := h.Run(ctx, nil, "docker", "inspect", "--format", `{{.State.Running}} {{index .Config.Labels "`+engineLabel+`"}}`, engineContainer)
	if err == nil && cur.ExitCode == 0 && strings.TrimSpace(cur.Stdout) == "true "+want {
		return host, nil
	}
	if err == nil && cur.ExitCode == 0 {
		// Ours, with another configuration or stopped: replace it (the cache volume stays).
		if res, err := h.Run(ctx, nil, "docker", "rm", "-f", engineContainer); err != nil || res.ExitCode != 0 {
			return "", fmt.Errorf("remove the old %s container: %s", engineContainer, firstLine(res.Stderr, err))
		}
	}
	res, err := h.Run(ctx, nil, "docker", EngineRunArgs(s, configPath, want)...)
	if err != nil || res.ExitCode != 0 {
		return "", fmt.Errorf("start the engine container %s (%s): %s", engineContainer, s.EngineImage, firstLine(res.Stderr, err))
	}
	return host, nil
}

// engineLabelValue identifies the engine's configuration (registry config, image, mount):
// a container with another value is replaced.
func engineLabelValue(s Settings, configPath string) string {
	sum := sha256.Sum256([]byte(s.EngineConfig() + "\n" + s.EngineImage + "\n" + configPath))
	return hex.EncodeToString(sum[:8])
}

// EngineRunArgs are the docker arguments that start the dedicated engine.
func EngineRunArgs(s Settings, configPath, label string) []string {
	return []string{"run", "--detach", "--privileged",
		"--name", engineContainer,
		"--label", engineLabel + "=" + label,
		"--volume", engineContainer + "-state:/var/lib/dagger",
		"--volume", configPath + ":/etc/dagger/engine.json:ro",
		s.EngineImage}
}

func firstLine(stderr string, err error) string {
	if err != nil {
		return err.Error()
	}
	for _, l := range strings.Split(stderr, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return "no error output"
}

// since formats how long ago t was, for progress lines.
func since(t time.Time) string { return time.Since(t).Round(time.Second).String() }
