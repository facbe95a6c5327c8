package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Settings are everything environment-specific, each from a variable with a default.
type Settings struct {
	// Dagger is the dagger binary (E2E_DAGGER, default "dagger").
	Dagger string
	// Host is the address at which containers in the engine reach this machine (E2E_HOST,
	// default: the Docker bridge gateway, 172.17.0.1).
	Host string
	// Listen is the address the fake listens on (E2E_LISTEN, default: Host when it is an
	// address of this machine, else 0.0.0.0).
	Listen string
	// FakePort is the port of the fake's AWS APIs (E2E_FAKE_PORT, default 4566).
	FakePort int
	// RegistryPort is the port of the fake's registry (E2E_REGISTRY_PORT, default 5001).
	RegistryPort int
	// ServePort is the port of this machine at which the serve case publishes the app
	// (E2E_SERVE_PORT, default 18080).
	ServePort int
	// Registry is the registry the fake hands out as ECR's proxyEndpoint, host:port as the
	// engine reaches it (E2E_REGISTRY, default Host:RegistryPort).
	Registry string
	// FargateFlags are extra constructor flags, e.g. image overrides (E2E_FARGATE_FLAGS,
	// split on white space).
	FargateFlags []string
	// Engine is how the engine is provided (E2E_ENGINE): "own" (default) starts a dedicated
	// engine container with a configuration that allows plain HTTP to Registry; "cli" uses
	// whatever engine the dagger CLI finds (_EXPERIMENTAL_DAGGER_RUNNER_HOST or its own).
	Engine string
	// EngineImage is the image of the dedicated engine (E2E_ENGINE_IMAGE, default
	// registry.dagger.io/engine:<engineVersion of dagger.json>).
	EngineImage string
	// EngineTimeout bounds the engine probe, which may pull the engine image
	// (E2E_ENGINE_TIMEOUT, default 5m).
	EngineTimeout time.Duration
	// CaseTimeout bounds one dagger command (E2E_CASE_TIMEOUT, default 30m).
	CaseTimeout time.Duration
	// Cases selects cases by name (E2E_CASES, comma-separated; default all).
	Cases []string
	// Timing prints each deploy's phases from its report timeline (E2E_TIMING=1).
	Timing bool
	// Keep keeps the work directory (E2E_KEEP=1).
	Keep bool
}

// defaultHost is the Docker bridge gateway on Linux.
const defaultHost = "172.17.0.1"

// LoadSettings reads the settings from getenv; localAddrs lists this machine's addresses
// (to decide where the fake listens).
func LoadSettings(getenv func(string) string, localAddrs []net.IP, engineVersion string) (Settings, error) {
	s := Settings{
		Dagger:       or(getenv("E2E_DAGGER"), "dagger"),
		Host:         or(getenv("E2E_HOST"), defaultHost),
		FargateFlags: strings.Fields(getenv("E2E_FARGATE_FLAGS")),
		Engine:       or(getenv("E2E_ENGINE"), "own"),
		Timing:       truthy(getenv("E2E_TIMING")),
		Keep:         truthy(getenv("E2E_KEEP")),
	}
	var err error
	if s.FakePort, err = port(getenv, "E2E_FAKE_PORT", 4566); err != nil {
		return Settings{}, err
	}
	if s.RegistryPort, err = port(getenv, "E2E_REGISTRY_PORT", 5001); err != nil {
		return Settings{}, err
	}
	if s.ServePort, err = port(getenv, "E2E_SERVE_PORT", 18080); err != nil {
		return Settings{}, err
	}
	if s.FakePort == s.RegistryPort {
		return Settings{}, fmt.Errorf("E2E_FAKE_PORT and E2E_REGISTRY_PORT are both %d: expected two different ports", s.FakePort)
	}
	s.Registry = or(getenv("E2E_REGISTRY"), net.JoinHostPort(s.Host, strconv.Itoa(s.RegistryPort)))
	if strings.Contains(s.Registry, "://") || strings.Contains(s.Registry, "/") {
		return Settings{}, fmt.Errorf("E2E_REGISTRY %q: expected host:port, without a scheme or path", s.Registry)
	}
	s.Listen = getenv("E2E_LISTEN")
	if s.Listen == "" {
		s.Listen = "0.0.0.0"
		if ip := net.ParseIP(s.Host); ip != nil {
			for _, a := range localAddrs {
				if a.Equal(ip) {
					s.Listen = s.Host
				}
			}
		}
	}
	switch s.Engine {
	case "own", "cli":
	default:
		return Settings{}, fmt.Errorf("E2E_ENGINE %q: expected own (a dedicated engine container) or cli (the dagger CLI's engine)", s.Engine)
	}
	s.EngineImage = or(getenv("E2E_ENGINE_IMAGE"), "registry.dagger.io/engine:"+engineVersion)
	if s.EngineTimeout, err = duration(getenv, "E2E_ENGINE_TIMEOUT", 5*time.Minute); err != nil {
		return Settings{}, err
	}
	if s.CaseTimeout, err = duration(getenv, "E2E_CASE_TIMEOUT", 30*time.Minute); err != nil {
		return Settings{}, err
	}
	for _, c := range strings.Split(getenv("E2E_CASES"), ",") {
		if c = strings.TrimSpace(c); c != "" {
			s.Cases = append(s.Cases, c)
		}
	}
	return s, nil
}

// AWSEndpoint is the --aws-endpoint the module gets: the fake as containers reach it.
func (s Settings) AWSEndpoint() string {
	return "http://" + net.JoinHostPort(s.Host, strconv.Itoa(s.FakePort))
}

// ControlURL is where this process reaches the fake's control API.
func (s Settings) ControlURL() string {
	host := s.Listen
	if host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(s.FakePort))
}

// EngineConfig is the engine.json of the dedicated engine: plain HTTP to the registry.
func (s Settings) EngineConfig() string {
	return fmt.Sprintf("{\n  \"registries\": {\n    %q: {\"http\": true, \"insecure\": true}\n  }\n}\n", s.Registry)
}

func or(v, d string) string {
	if strings.TrimSpace(v) == "" {
		return d
	}
	return strings.TrimSpace(v)
}

func truthy(v string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	return err == nil && b
}

func port(getenv func(string) string, name string, d int) (int, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return d, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("%s %q: expected a port number (1-65535)", name, v)
	}
	return p, nil
}

func duration(getenv func(string) string, name string, d time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return d, nil
	}
	out, err := time.ParseDuration(v)
	if err != nil || out <= 0 {
		return 0, fmt.Errorf("%s %q: expected a positive duration such as 5m", name, v)
	}
	return out, nil
}
