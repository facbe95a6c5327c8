package main

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadSettings(t *testing.T) {
	bridge := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("172.17.0.1")}
	tests := []struct {
		name    string
		vars    map[string]string
		addrs   []net.IP
		check   func(t *testing.T, s Settings)
		wantErr string
	}{
		{name: "defaults on a Linux Docker host", addrs: bridge, check: func(t *testing.T, s Settings) {
			assert.Equal(t, "dagger", s.Dagger)
			assert.Equal(t, "172.17.0.1", s.Host)
			assert.Equal(t, "172.17.0.1", s.Listen, "listens on the bridge only, not on every interface")
			assert.Equal(t, "172.17.0.1:5001", s.Registry)
			assert.Equal(t, "http://172.17.0.1:4566", s.AWSEndpoint())
			assert.Equal(t, "http://172.17.0.1:4566", s.ControlURL())
			assert.Equal(t, "own", s.Engine)
			assert.Equal(t, "registry.dagger.io/engine:v0.21.8", s.EngineImage)
			assert.Equal(t, 5*time.Minute, s.EngineTimeout)
			assert.Empty(t, s.FargateFlags)
			assert.False(t, s.Timing)
			assert.Equal(t, 18080, s.ServePort)
		}},
		{name: "a host that is not an address of this machine (Docker Desktop)", vars: map[string]string{"E2E_HOST": "host.docker.internal"}, addrs: bridge,
			check: func(t *testing.T, s Settings) {
				assert.Equal(t, "0.0.0.0", s.Listen)
				assert.Equal(t, "http://127.0.0.1:4566", s.ControlURL())
				assert.Equal(t, "host.docker.internal:5001", s.Registry)
				assert.Equal(t, "http://host.docker.internal:4566", s.AWSEndpoint())
			}},
		{name: "everything overridden", addrs: bridge, vars: map[string]string{
			"E2E_DAGGER": "/opt/dagger", "E2E_HOST": "10.0.0.5", "E2E_LISTEN": "10.0.0.5", "E2E_FAKE_PORT": "14566", "E2E_REGISTRY_PORT": "15001", "E2E_SERVE_PORT": "18888",
			"E2E_REGISTRY": "registry.internal:443", "E2E_FARGATE_FLAGS": "--trivy-image mirror/trivy:1  --runtime-image=mirror/static",
			"E2E_ENGINE": "cli", "E2E_ENGINE_TIMEOUT": "30s", "E2E_TIMING": "1", "E2E_KEEP": "true", "E2E_CASES": "status, diff"},
			check: func(t *testing.T, s Settings) {
				assert.Equal(t, "/opt/dagger", s.Dagger)
				assert.Equal(t, "registry.internal:443", s.Registry)
				assert.Equal(t, []string{"--trivy-image", "mirror/trivy:1", "--runtime-image=mirror/static"}, s.FargateFlags)
				assert.Equal(t, "http://10.0.0.5:14566", s.AWSEndpoint())
				assert.Equal(t, 15001, s.RegistryPort)
				assert.Equal(t, 18888, s.ServePort)
				assert.Equal(t, "cli", s.Engine)
				assert.Equal(t, 30*time.Second, s.EngineTimeout)
				assert.True(t, s.Timing)
				assert.True(t, s.Keep)
				assert.Equal(t, []string{"status", "diff"}, s.Cases)
			}},
		{name: "bad port", vars: map[string]string{"E2E_FAKE_PORT": "70000"}, wantErr: "E2E_FAKE_PORT"},
		{name: "bad serve port", vars: map[string]string{"E2E_SERVE_PORT": "http"}, wantErr: "E2E_SERVE_PORT"},
		{name: "same ports", vars: map[string]string{"E2E_REGISTRY_PORT": "4566"}, wantErr: "two different ports"},
		{name: "registry with a scheme", vars: map[string]string{"E2E_REGISTRY": "http://r:5000"}, wantErr: "E2E_REGISTRY"},
		{name: "unknown engine mode", vars: map[string]string{"E2E_ENGINE": "podman"}, wantErr: "E2E_ENGINE"},
		{name: "bad timeout", vars: map[string]string{"E2E_CASE_TIMEOUT": "soon"}, wantErr: "E2E_CASE_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadSettings(env(tt.vars), tt.addrs, "v0.21.8")
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, s)
		})
	}
}

func TestEngineConfigAllowsPlainHTTPToTheRegistry(t *testing.T) {
	s, err := LoadSettings(env(nil), nil, "v0.21.8")
	require.NoError(t, err)
	assert.JSONEq(t, `{"registries": {"172.17.0.1:5001": {"http": true, "insecure": true}}}`, s.EngineConfig())
	args := EngineRunArgs(s, "/home/u/.cache/fargate-e2e/engine.json", "abc")
	assert.Equal(t, "registry.dagger.io/engine:v0.21.8", args[len(args)-1])
	assert.Contains(t, strings.Join(args, " "), "--volume /home/u/.cache/fargate-e2e/engine.json:/etc/dagger/engine.json:ro")
	assert.Contains(t, args, "--privileged")
}

func TestFakeArgs(t *testing.T) {
	s, err := LoadSettings(env(map[string]string{"E2E_REGISTRY": "host.docker.internal:5001"}), nil, "v0.21.8")
	require.NoError(t, err)
	assert.Equal(t, []string{"-listen", "0.0.0.0", "-port", "4566", "-registry-port", "5001",
		"-registry-endpoint", "http://host.docker.internal:5001", "-speed", "10"}, FakeArgs(s))
}

// fakeHost scripts preflight's view of the machine: which binaries exist and what each
// command answers.
type fakeHost struct {
	binaries map[string]bool
	vars     map[string]string
	answers  map[string]Result // by "name arg0"
	ran      []string
	envs     [][]string
	written  map[string]string
}

func (f *fakeHost) host() Host {
	return Host{
		LookPath: func(name string) (string, error) {
			if f.binaries[name] {
				return "/usr/bin/" + name, nil
			}
			return "", errors.New("not found")
		},
		Getenv: func(k string) string { return f.vars[k] },
		Run: func(_ context.Context, env []string, name string, args ...string) (Result, error) {
			key := name + " " + args[0]
			f.ran = append(f.ran, name+" "+strings.Join(args, " "))
			f.envs = append(f.envs, env)
			res, ok := f.answers[key]
			if !ok {
				return Result{}, errors.New("unexpected command " + key)
			}
			return res, nil
		},
		WriteFile: func(path string, data []byte) error {
			if f.written == nil {
				f.written = map[string]string{}
			}
			f.written[path] = string(data)
			return nil
		},
	}
}

func TestPreflight(t *testing.T) {
	defaults, err := LoadSettings(env(nil), nil, "v0.21.8")
	require.NoError(t, err)
	ok := Result{}
	failed := Result{ExitCode: 1, Stderr: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock\n"}
	tests := []struct {
		name     string
		host     fakeHost
		engine   string
		wantSkip string
		wantEnv  []string
		wantRan  []string
	}{
		{name: "no dagger CLI", host: fakeHost{}, wantSkip: "no dagger CLI"},
		{name: "no docker and no runner host", host: fakeHost{binaries: map[string]bool{"dagger": true}}, wantSkip: "docker is not on PATH"},
		{name: "docker not running", host: fakeHost{binaries: map[string]bool{"dagger": true, "docker": true},
			answers: map[string]Result{"docker info": failed}}, wantSkip: "Docker is not running (Cannot connect to the Docker daemon"},
		{name: "starts its own engine", host: fakeHost{binaries: map[string]bool{"dagger": true, "docker": true},
			answers: map[string]Result{"docker info": ok, "docker inspect": {ExitCode: 1}, "docker run": ok, "dagger core": ok}},
			wantEnv: []string{"_EXPERIMENTAL_DAGGER_RUNNER_HOST=docker-container://fargate-e2e-engine"},
			wantRan: []string{"docker info --format {{.ServerVersion}}", "docker inspect", "docker run --detach", "dagger core version"}},
		{name: "reuses its engine when the configuration is unchanged", host: fakeHost{binaries: map[string]bool{"dagger": true, "docker": true},
			answers: map[string]Result{"docker info": ok, "docker inspect": {Stdout: "true " + engineLabelValue(defaults, "/cache/engine.json") + "\n"}, "dagger core": ok}},
			wantEnv: []string{"_EXPERIMENTAL_DAGGER_RUNNER_HOST=docker-container://fargate-e2e-engine"},
			wantRan: []string{"docker info", "docker inspect", "dagger core version"}},
		{name: "replaces its engine when the configuration changed", host: fakeHost{binaries: map[string]bool{"dagger": true, "docker": true},
			answers: map[string]Result{"docker info": ok, "docker inspect": {Stdout: "true 0123456789abcdef\n"}, "docker rm": ok, "docker run": ok, "dagger core": ok}},
			wantEnv: []string{"_EXPERIMENTAL_DAGGER_RUNNER_HOST=docker-container://fargate-e2e-engine"},
			wantRan: []string{"docker info", "docker inspect", "docker rm -f fargate-e2e-engine", "docker run", "dagger core version"}},
		{name: "engine does not answer", host: fakeHost{binaries: map[string]bool{"dagger": true, "docker": true},
			answers: map[string]Result{"docker info": ok, "dagger core": {ExitCode: 1, Stderr: "failed to connect to engine\n"}}},
			engine: "cli", wantSkip: "`dagger core version` failed (failed to connect to engine)"},
		{name: "a runner host is used as it is", host: fakeHost{binaries: map[string]bool{"dagger": true},
			vars:    map[string]string{"_EXPERIMENTAL_DAGGER_RUNNER_HOST": "tcp://engine:1234"},
			answers: map[string]Result{"dagger core": ok}},
			wantRan: []string{"dagger core version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{}
			if tt.engine != "" {
				vars["E2E_ENGINE"] = tt.engine
			}
			s, err := LoadSettings(env(vars), nil, "v0.21.8")
			require.NoError(t, err)
			gotEnv, err := Preflight(context.Background(), tt.host.host(), s, "/cache/engine.json")
			if tt.wantSkip != "" {
				var skip *Skip
				require.True(t, errors.As(err, &skip), "%v", err)
				assert.Contains(t, skip.Reason, tt.wantSkip)
				assert.NotContains(t, skip.Error(), "\n", "one line")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantEnv, gotEnv)
			require.Len(t, tt.host.ran, len(tt.wantRan))
			for i, prefix := range tt.wantRan {
				assert.True(t, strings.HasPrefix(tt.host.ran[i], prefix), "command %d: %q, expected %q...", i, tt.host.ran[i], prefix)
			}
			// The probe runs against the engine the suite chose.
			assert.Equal(t, tt.wantEnv, tt.host.envs[len(tt.host.envs)-1])
			if len(tt.wantEnv) > 0 {
				assert.Equal(t, s.EngineConfig(), tt.host.written["/cache/engine.json"])
			}
		})
	}
}

func TestSelectAndFlagValue(t *testing.T) {
	cases := Cases()
	assert.Len(t, Select(cases, nil), len(cases))
	got := Select(cases, []string{"PREPROD: busy", "status"})
	require.Len(t, got, 2)
	assert.Equal(t, "deploy --env preprod: busy service refused", got[0].Name)
	assert.Equal(t, "status", got[1].Name)

	flags := []string{"--trivy-image", "t:1", "--cosign-image=c:2"}
	assert.Equal(t, "t:1", flagValue(flags, "--trivy-image", "d"))
	assert.Equal(t, "c:2", flagValue(flags, "--cosign-image", "d"))
	assert.Equal(t, "d", flagValue(flags, "--registry-image", "d"))
}
