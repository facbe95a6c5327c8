package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

const secretToken = "sekret-token-for-tests-0001"

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func noListen(string, string) (net.Listener, error) {
	return nil, errors.New("listen must not be called")
}

// probe runs the binary's -healthcheck mode against port and returns its exit code and stderr.
func probe(t *testing.T, port string) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	code := run(context.Background(), deps{
		args: []string{"-healthcheck"}, getenv: mapEnv(map[string]string{"PORT": port}),
		stdout: &bytes.Buffer{}, stderr: &stderr, listen: noListen,
	})
	return code, stderr.String()
}

func TestServeThenHealthcheckThenGracefulStop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	var listenAddr string
	stdout := &lockedBuffer{}
	signals := make(chan os.Signal)
	exit := make(chan int, 1)
	go func() {
		exit <- run(context.Background(), deps{
			getenv: mapEnv(map[string]string{
				"PORT": port, "APP_ENV": "preprod", "API_TOKEN": secretToken, "SHUTDOWN_DRAIN": "0s", "LOG_LEVEL": "debug",
			}),
			stdout: stdout, stderr: &lockedBuffer{}, signals: signals,
			listen: func(network, addr string) (net.Listener, error) {
				listenAddr = network + " " + addr
				return ln, nil
			},
		})
	}()

	// The probe succeeds once the server is up (it may race the first Accept, so retry).
	for {
		code, _ := probe(t, port)
		if code == exitOK {
			break
		}
		select {
		case c := <-exit:
			t.Fatalf("server exited with %d before becoming healthy; logs:\n%s", c, stdout)
		default:
		}
	}

	// The secret from the environment protects writes.
	put := func(tok string) int {
		req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:"+port+"/api/v1/kv/k", strings.NewReader(`{"value":"v"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := put("not-the-token-000000"); got != http.StatusUnauthorized {
		t.Errorf("PUT with a wrong token = %d, want 401", got)
	}
	if got := put(secretToken); got != http.StatusCreated {
		t.Errorf("PUT with API_TOKEN = %d, want 201", got)
	}

	signals <- syscall.SIGTERM
	if code := <-exit; code != exitOK {
		t.Fatalf("exit code after SIGTERM = %d, want 0; logs:\n%s", code, stdout)
	}
	if listenAddr != "tcp :"+port {
		t.Errorf("listened on %q, want all interfaces on PORT (awsvpc)", listenAddr)
	}
	code, stderr := probe(t, port)
	if code != exitError || !strings.Contains(stderr, "health check http://127.0.0.1:"+port+"/healthz") {
		t.Fatalf("probe after stop = %d %q, want 1 naming the URL", code, stderr)
	}

	logs := stdout.String()
	for i, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %d is not JSON: %q", i, line)
		}
		if m["service"] != "sample-app" || m["env"] != "preprod" {
			t.Errorf("log line %d lacks service/env: %q", i, line)
		}
	}
	for _, want := range []string{`"msg":"starting"`, `"apiTokenSet":true`, `"msg":"draining"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
	if strings.Contains(logs, secretToken) {
		t.Fatalf("logs contain API_TOKEN:\n%s", logs)
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		listen     func(string, string) (net.Listener, error)
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "unknown flag", args: []string{"-verbose"}, wantCode: exitUsage, wantStderr: "flag provided but not defined: -verbose"},
		{name: "stray argument", args: []string{"serve"}, wantCode: exitUsage, wantStderr: `unexpected arguments: ["serve"]`},
		{name: "healthcheck with a bad PORT", args: []string{"-healthcheck"}, env: map[string]string{"PORT": "eighty"}, wantCode: exitError, wantStderr: `PORT: must be a TCP port number between 1 and 65535, got "eighty"`},
		{
			name: "prod without its secret", env: map[string]string{"APP_ENV": "prod"}, wantCode: exitError,
			wantStdout: `"msg":"configuration rejected"`,
		},
		{
			name: "rejected secret is not echoed", env: map[string]string{"API_TOKEN": "short-" + secretToken[:4]}, wantCode: exitError,
			wantStdout: "API_TOKEN: must be at least 16 characters long",
		},
		{
			name: "port in use", env: map[string]string{"PORT": "8080"}, wantCode: exitError, wantStdout: `"msg":"listen"`,
			listen: func(string, string) (net.Listener, error) { return nil, errors.New("address already in use") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			listen := tt.listen
			if listen == nil {
				listen = noListen
			}
			code := run(context.Background(), deps{args: tt.args, getenv: mapEnv(tt.env), stdout: &stdout, stderr: &stderr, listen: listen})
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stdout %s; stderr %s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Fatalf("stdout %q / stderr %q; want %q / %q", stdout.String(), stderr.String(), tt.wantStdout, tt.wantStderr)
			}
			if strings.Contains(stdout.String()+stderr.String(), secretToken[:4]) {
				t.Fatalf("output echoes a secret: %s %s", stdout.String(), stderr.String())
			}
		})
	}
}
