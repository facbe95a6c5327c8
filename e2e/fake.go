package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Fake is the fake AWS account process (pipeline/internal/fakeaws/cmd/fakeaws).
type Fake struct {
	cmd  *exec.Cmd
	base string
	http *http.Client
}

// StartFake builds and starts the fake with the run's planted ECR password and access key,
// and waits until it answers.
func StartFake(ctx context.Context, repoRoot, workDir string, s Settings, p Planted, echo io.Writer) (*Fake, error) {
	bin := filepath.Join(workDir, "fakeaws")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./pipeline/internal/fakeaws/cmd/fakeaws")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the fake: %w\n%s", err, out)
	}
	cmd := exec.Command(bin, FakeArgs(s)...)
	cmd.Env = append(os.Environ(), "FAKEAWS_ECR_PASSWORD="+p.ECRPassword, "FAKEAWS_ACCESS_KEY_ID="+p.AccessKeyID)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = prefixed(echo, "  fake| ")
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the fake: %w", err)
	}
	f := &Fake{cmd: cmd, base: s.ControlURL(), http: &http.Client{Timeout: 2 * time.Minute}}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			if first {
				ready <- sc.Text()
				first = false
			}
			fmt.Fprintf(echo, "  fake| %s\n", sc.Text())
		}
		if first {
			ready <- ""
		}
	}()
	select {
	case line := <-ready:
		if !strings.HasPrefix(line, "fakeaws ready") {
			f.Stop()
			return nil, fmt.Errorf("the fake did not start (listening on %s:%d and %s:%d)", s.Listen, s.FakePort, s.Listen, s.RegistryPort)
		}
		fmt.Fprintf(echo, "  fake| %s\n", line)
	case <-time.After(time.Minute):
		f.Stop()
		return nil, fmt.Errorf("the fake did not report ready within a minute")
	}
	if err := f.get(ctx, "/_fake/healthz", nil); err != nil {
		f.Stop()
		return nil, fmt.Errorf("the fake's control API at %s: %w", f.base, err)
	}
	return f, nil
}

// FakeArgs are the fake's flags for the settings.
func FakeArgs(s Settings) []string {
	return []string{"-listen", s.Listen, "-port", strconv.Itoa(s.FakePort), "-registry-port", strconv.Itoa(s.RegistryPort),
		"-registry-endpoint", "http://" + s.Registry, "-speed", "10"}
}

// Stop ends the fake process (the one this run started).
func (f *Fake) Stop() {
	if f.cmd == nil || f.cmd.Process == nil {
		return
	}
	_ = f.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = f.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = f.cmd.Process.Kill()
		<-done
	}
}

// ServiceState mirrors fakeaccount.ServiceState.
type ServiceState struct {
	Cluster        string   `json:"cluster"`
	Service        string   `json:"service"`
	TaskDefinition string   `json:"taskDefinition"`
	Image          string   `json:"image"`
	RolloutState   string   `json:"rolloutState"`
	Deployments    int      `json:"deployments"`
	Steady         bool     `json:"steady"`
	Revisions      []string `json:"revisions"`
}

// Calls counts the AWS requests the fake received, by "service/Operation".
func (f *Fake) Calls(ctx context.Context) (map[string]int, error) {
	var out struct {
		Calls map[string]int `json:"calls"`
	}
	err := f.get(ctx, "/_fake/calls", &out)
	return out.Calls, err
}

// Service reads a service's state.
func (f *Fake) Service(ctx context.Context, cluster, service string) (ServiceState, error) {
	var st ServiceState
	err := f.get(ctx, "/_fake/ecs/service?cluster="+cluster+"&service="+service, &st)
	return st, err
}

// NextRollouts scripts the next deployments (healthy, fail, hang).
func (f *Fake) NextRollouts(ctx context.Context, kinds ...string) error {
	return f.post(ctx, "/_fake/ecs/next-rollout", map[string]any{"rollouts": kinds}, nil)
}

// Busy starts a deployment that never ends on the service.
func (f *Fake) Busy(ctx context.Context, cluster, service string) error {
	return f.post(ctx, "/_fake/ecs/busy", map[string]any{"cluster": cluster, "service": service}, nil)
}

// Settle ends a Busy deployment and waits until the service is steady.
func (f *Fake) Settle(ctx context.Context, cluster, service string) (ServiceState, error) {
	var st ServiceState
	err := f.post(ctx, "/_fake/ecs/settle", map[string]any{"cluster": cluster, "service": service, "timeoutSeconds": 90}, &st)
	return st, err
}

func (f *Fake) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+path, nil)
	if err != nil {
		return err
	}
	return f.do(req, out)
}

func (f *Fake) post(ctx context.Context, path string, body, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.base+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return f.do(req, out)
}

func (f *Fake) do(req *http.Request, out any) error {
	resp, err := f.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(data)))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}
