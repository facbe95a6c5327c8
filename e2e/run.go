package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Result is one command's outcome.
type Result struct {
	Args     []string
	ExitCode int
	Stdout   string
	Stderr   string
	Started  time.Time
	Elapsed  time.Duration
}

// Output is stdout and stderr together (where the report is, whichever way it ended).
func (r Result) Output() string { return r.Stdout + "\n" + r.Stderr }

// Runner runs commands, echoes their output with a prefix, and keeps every output for the
// secret search at the end.
type Runner struct {
	Dir     string
	Env     []string // added to the environment of every command
	Echo    io.Writer
	Timeout time.Duration

	mu   sync.Mutex
	outs []string
}

// Run runs name with args and returns its outcome; a non-zero exit is not an error (cases
// assert exit codes), a command that cannot start or times out is.
func (r *Runner) Run(ctx context.Context, name string, args ...string) (Result, error) {
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = r.Dir
	cmd.Env = append(os.Environ(), r.Env...)
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	echo := r.Echo
	if echo == nil {
		echo = io.Discard
	}
	cmd.Stdout = io.MultiWriter(&stdout, prefixed(echo, "  | "))
	cmd.Stderr = io.MultiWriter(&stderr, prefixed(echo, "  | "))
	fmt.Fprintf(echo, "  $ %s %s\n", name, strings.Join(args, " "))
	res := Result{Args: append([]string{name}, args...), Started: time.Now()}
	err := cmd.Run()
	res.Elapsed = time.Since(res.Started)
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	r.mu.Lock()
	r.outs = append(r.outs, res.Stdout, res.Stderr)
	r.mu.Unlock()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return res, fmt.Errorf("%s timed out after %s", name, r.Timeout)
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	default:
		return res, fmt.Errorf("run %s: %w", name, err)
	}
	return res, nil
}

// Record adds text (e.g. an exported file) to what the secret search covers.
func (r *Runner) Record(text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outs = append(r.outs, text)
}

// Outputs is everything recorded so far.
func (r *Runner) Outputs() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.outs, "\n")
}

// prefixed writes each line of its input to w with a prefix.
func prefixed(w io.Writer, prefix string) io.Writer {
	return &prefixWriter{w: w, prefix: prefix, bol: true}
}

type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	bol    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out bytes.Buffer
	for _, c := range b {
		if p.bol {
			out.WriteString(p.prefix)
		}
		out.WriteByte(c)
		p.bol = c == '\n'
	}
	if _, err := p.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}
