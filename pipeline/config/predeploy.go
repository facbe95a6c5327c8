package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Defaults and bounds of the pre-deploy task and the failed tasks' log lines.
const (
	// DefaultPreDeployTimeout bounds a pre-deploy task (a migration) when preDeploy gives no timeout.
	DefaultPreDeployTimeout = 10 * time.Minute
	// MinPreDeployTimeout is the shortest timeout a one-off task is given: Fargate takes
	// longer than that to start one.
	MinPreDeployTimeout = 10 * time.Second
	// MaxPreDeployTimeout is the longest a pre-deploy task may run: a migration that needs
	// more is an operation of its own, not a step of a deploy.
	MaxPreDeployTimeout = time.Hour
	// DefaultLogLines is how many of a failed task's last log lines the report quotes.
	DefaultLogLines = 20
	// MaxLogLines bounds logLines: the report is read by people.
	MaxLogLines = 100
)

// PreDeploy is a one-off task run before the rollout (database migrations): the new task
// definition revision, once, with the container's command replaced; the service is updated
// only when the container exits 0.
type PreDeploy struct {
	// Command replaces the container's command (the task definition's entry point stays).
	Command []string `yaml:"command"`
	// Container is the container whose command is replaced and whose exit code decides.
	Container string `yaml:"container"`
	// Timeout bounds the task, from RunTask to STOPPED. Default 10m, at most 1h.
	Timeout Duration `yaml:"timeout"`

	// file and line locate the preDeploy key, for errors found when the task definition is read.
	file string
	line int
}

// PreDeployTimeout is the pre-deploy task's timeout (the default when the file gives none).
func (p *PreDeploy) PreDeployTimeout() time.Duration {
	if p == nil || p.Timeout.Duration == 0 {
		return DefaultPreDeployTimeout
	}
	return p.Timeout.Duration
}

// CheckContainer checks that the pre-deploy container is one of the task definition's
// containers; the error names the field, its line and the containers there are. The file is
// checked on its own when it loads; this needs the task definition, which the chain reads
// after.
func (p *PreDeploy) CheckContainer(env string, containers []string) error {
	if p == nil || slices.Contains(containers, p.Container) {
		return nil
	}
	field := fmt.Sprintf("environments.%s.preDeploy.container: the task definition has no container %q (expected one of: %s)",
		env, p.Container, strings.Join(containers, ", "))
	switch {
	case p.file != "" && p.line > 0:
		return fmt.Errorf("%s:%d: %s", p.file, p.line, field)
	case p.file != "":
		return fmt.Errorf("%s: %s", p.file, field)
	}
	return errors.New(field)
}

// LogLinesOrDefault is how many log lines of each failed task the report quotes.
func (e Environment) LogLinesOrDefault() int {
	if e.LogLines == 0 {
		return DefaultLogLines
	}
	return e.LogLines
}

// preDeploy validates environments.NAME.preDeploy and logLines.
func (v *validator) preDeploy(p string, env *Environment) {
	if env.LogLines < 0 || env.LogLines > MaxLogLines {
		v.add(p+".logLines", "%d is out of range (expected 1-%d; default %d)", env.LogLines, MaxLogLines, DefaultLogLines)
	}
	pd := env.PreDeploy
	if pd == nil {
		return
	}
	if env.IsLocal() {
		v.add(p+".preDeploy", "not used by the local environment (it runs no ECS task); remove it")
		return
	}
	pd.file, pd.line = v.path, v.lines[p+".preDeploy"]
	if l := v.lines[p+".preDeploy.container"]; l > 0 {
		pd.line = l
	}
	if len(pd.Command) == 0 {
		v.add(p+".preDeploy.command", "required (the command the task runs instead of the container's, e.g. [/app, migrate])")
	}
	for i, arg := range pd.Command {
		if strings.TrimSpace(arg) == "" {
			v.add(fmt.Sprintf("%s.preDeploy.command[%d]", p, i), "empty argument (expected a non-empty string)")
		}
	}
	if pd.Container == "" {
		pd.Container = env.Container
	} else if !ecsNamePattern.MatchString(pd.Container) {
		v.add(p+".preDeploy.container", "%q is not a valid container name (expected letters, digits, - and _)", pd.Container)
	}
	if pd.Timeout.Duration == 0 {
		pd.Timeout.Duration = DefaultPreDeployTimeout
	} else if pd.Timeout.Duration < MinPreDeployTimeout || pd.Timeout.Duration > MaxPreDeployTimeout {
		v.add(p+".preDeploy.timeout", "%s is out of range (expected between %s and %s; default %s)", pd.Timeout.Duration, MinPreDeployTimeout, MaxPreDeployTimeout, DefaultPreDeployTimeout)
	}
}
