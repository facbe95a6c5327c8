// Command e2e is the end-to-end suite: it drives the module the way a user does, with
// `dagger call ...` against a real Dagger engine, and the project's fake AWS account
// (pipeline/internal/fakeaws/cmd/fakeaws) as a standalone process in place of AWS. It
// asserts exit codes and report contents for check, environments, build, scan, sbom, deploy
// (local, preprod healthy / failing / busy / scan gate, prod with and without approval),
// status, diff, rollback, audit and a broken environments file, then searches every output
// for the secret values it planted.
//
//	go run ./e2e
//
// Everything environment-specific comes from E2E_* variables (see e2e/README.md). With no
// dagger CLI or no engine reachable it prints one line and exits 0 (E2E_REQUIRE_ENGINE=1
// makes that a failure, for CI).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Stdout)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, out io.Writer) int {
	root, engineVersion, err := findModule()
	if err != nil {
		fmt.Fprintln(out, "e2e: FAIL:", err)
		return 2
	}
	s, err := LoadSettings(os.Getenv, localAddrs(), engineVersion)
	if err != nil {
		fmt.Fprintln(out, "e2e: FAIL: bad setting:", err)
		return 2
	}
	cacheDir, err := os.UserCacheDir()
	if err != nil {
		cacheDir = os.TempDir()
	}
	configPath := filepath.Join(cacheDir, "fargate-e2e", "engine.json")
	env, err := Preflight(ctx, realHost(), s, configPath)
	var skip *Skip
	if errors.As(err, &skip) {
		if truthy(os.Getenv("E2E_REQUIRE_ENGINE")) {
			fmt.Fprintln(out, "e2e: FAIL (E2E_REQUIRE_ENGINE is set):", skip.Reason)
			return 1
		}
		fmt.Fprintln(out, skip.Error())
		return 0
	}
	if err != nil {
		fmt.Fprintln(out, "e2e: FAIL:", err)
		return 1
	}
	return suite(ctx, out, s, root, env)
}

func suite(ctx context.Context, out io.Writer, s Settings, root string, engineEnv []string) int {
	work, err := os.MkdirTemp("", "fargate-e2e-")
	if err != nil {
		fmt.Fprintln(out, "e2e: FAIL:", err)
		return 1
	}
	if s.Keep {
		fmt.Fprintln(out, "e2e: work directory kept:", work)
	} else {
		defer os.RemoveAll(work)
	}
	planted := NewPlanted()
	if err := PrepareSource(filepath.Join(root, "sample-app"), filepath.Join(work, "src")); err != nil {
		fmt.Fprintln(out, "e2e: FAIL: prepare the sample copy:", err)
		return 1
	}
	fmt.Fprintf(out, "e2e: fake AWS at %s (control %s), registry %s, engine %s\n", s.AWSEndpoint(), s.ControlURL(), s.Registry, orNone(engineEnv))
	fake, err := StartFake(ctx, root, work, s, planted, out)
	if err != nil {
		fmt.Fprintln(out, "e2e: FAIL:", err)
		return 1
	}
	defer fake.Stop()

	r := &Runner{Dir: root, Env: append(append([]string{}, engineEnv...), planted.Env()...), Echo: out, Timeout: s.CaseTimeout}
	st := &Suite{S: s, Root: root, Work: work, P: planted, Fake: fake, R: r, Echo: out, Rev: "e2e-" + randomString("abcdefghijklmnopqrstuvwxyz0123456789", 10)}
	if s.Timing {
		res, err := r.Run(ctx, s.Dagger, "--progress=plain", "-m", root, "functions")
		if err == nil && res.ExitCode == 0 {
			fmt.Fprintf(out, "timing module load (dagger functions): %s\n", res.Elapsed.Round(time.Second))
		}
	}

	var failed []string
	passed := 0
	cases := Cases()
	if s.Timing {
		cases = append(cases, TimingCases()...)
	}
	for _, c := range Select(cases, s.Cases) {
		if ctx.Err() != nil {
			failed = append(failed, c.Name+" (interrupted)")
			continue
		}
		fmt.Fprintf(out, "=== %s\n", c.Name)
		start := time.Now()
		if err := c.Run(ctx, st); err != nil {
			fmt.Fprintf(out, "--- FAIL: %s (%s)\n    %s\n", c.Name, since(start), strings.ReplaceAll(err.Error(), "\n", "\n    "))
			failed = append(failed, c.Name)
			continue
		}
		fmt.Fprintf(out, "--- PASS: %s (%s)\n", c.Name, since(start))
		passed++
	}
	// Every output of every command, and every exported file: no planted value (the cosign
	// key's body included, once the key-pair case made it).
	if leaks := st.P.Leaks(r.Outputs()); len(leaks) > 0 {
		fmt.Fprintf(out, "--- FAIL: no planted secret in any output: found %s\n", strings.Join(leaks, ", "))
		failed = append(failed, "secrets")
	} else {
		fmt.Fprintln(out, "--- PASS: no planted secret in any output")
		passed++
	}
	fmt.Fprintf(out, "e2e: %d passed, %d failed\n", passed, len(failed))
	if len(failed) > 0 {
		fmt.Fprintf(out, "e2e: FAIL: %s\n", strings.Join(failed, "; "))
		return 1
	}
	return 0
}

// Select keeps the cases whose name contains one of the filters (all when none).
func Select(cases []Case, filters []string) []Case {
	if len(filters) == 0 {
		return cases
	}
	var out []Case
	for _, c := range cases {
		for _, f := range filters {
			if strings.Contains(strings.ToLower(c.Name), strings.ToLower(f)) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// findModule finds the module's repository (the directory with this module's dagger.json)
// from the working directory upwards, and its engine version.
func findModule() (string, string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "dagger.json"))
		if err == nil {
			var mod struct {
				Name          string `json:"name"`
				EngineVersion string `json:"engineVersion"`
			}
			if json.Unmarshal(data, &mod) == nil && mod.Name == "fargate" && mod.EngineVersion != "" {
				return dir, mod.EngineVersion, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", fmt.Errorf("run from the fargate repository: no dagger.json of module fargate in this directory or above")
		}
		dir = parent
	}
}

func localAddrs() []net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			out = append(out, n.IP)
		}
	}
	return out
}

func realHost() Host {
	return Host{
		LookPath: exec.LookPath,
		Getenv:   os.Getenv,
		Run: func(ctx context.Context, env []string, name string, args ...string) (Result, error) {
			r := &Runner{Env: env}
			return r.Run(ctx, name, args...)
		},
		WriteFile: func(path string, data []byte) error {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			return os.WriteFile(path, data, 0o644)
		},
	}
}

func orNone(env []string) string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, runnerHostVar+"="); ok {
			return v
		}
	}
	return "the dagger CLI's"
}
