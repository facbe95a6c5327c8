package report

import (
	"fmt"
	"strings"

	"dagger/fargate/pipeline/redact"
)

// Preflight is what was verified before registering the task definition (secrets, roles,
// log groups, image region), and what was missing.
type Preflight struct {
	// Verified counts what was found as the task will look for it.
	Verified int
	// Problems are "resource: what is missing", one per line.
	Problems []string
}

// Task is one task the report shows: the pre-deploy task, or a failed task of the rollout,
// with the last lines it logged.
type Task struct {
	// Role is "pre-deploy", "run-task" or "rollout".
	Role string
	// ID is the task ID; TaskDefinition family:revision; Container the container judged.
	ID             string
	TaskDefinition string
	Container      string
	// Command is the command the task ran (pre-deploy and run-task), shown masked
	// (redact.MaskText).
	Command []string
	// Outcome is how it ended (succeeded, failed, failed to start, timed out, cancelled, stopped).
	Outcome  string
	ExitCode *int32
	// StoppedReason is the task's; ContainerReason the container's.
	StoppedReason   string
	ContainerReason string
	// LogSource names the stream read; LogNote says why there are no lines, when so.
	LogSource string
	LogNote   string
	// LogLines are the task's last log lines, oldest first, already masked and bounded.
	LogLines []string
}

func (r Report) writeTasks(b *strings.Builder) {
	if p := r.Preflight; p != nil {
		b.WriteString("### Preflight\n\n")
		if len(p.Problems) == 0 {
			fmt.Fprintf(b, "%d reference(s) verified: secrets, roles, log groups, image region.\n\n", p.Verified)
		} else {
			fmt.Fprintf(b, "%d verified, **%d missing** (nothing was registered):\n\n", p.Verified, len(p.Problems))
			for _, pr := range p.Problems {
				fmt.Fprintf(b, "- %s\n", text(pr))
			}
			b.WriteString("\n")
		}
	}
	if len(r.Tasks) == 0 {
		return
	}
	b.WriteString("### Tasks\n\n")
	for _, t := range r.Tasks {
		fmt.Fprintf(b, "- **%s** task %s of %s, container %s: %s", text(t.Role), code(t.ID), code(t.TaskDefinition), code(t.Container), text(t.Outcome))
		if t.ExitCode != nil {
			fmt.Fprintf(b, ", exit code %d", *t.ExitCode)
		}
		b.WriteString("\n")
		if len(t.Command) > 0 {
			fmt.Fprintf(b, "  - command: %s\n", code(redact.MaskText(strings.Join(t.Command, " "))))
		}
		if t.StoppedReason != "" {
			fmt.Fprintf(b, "  - stopped reason: %s\n", text(t.StoppedReason))
		}
		if t.ContainerReason != "" {
			fmt.Fprintf(b, "  - container reason: %s\n", text(t.ContainerReason))
		}
		if t.LogNote != "" {
			fmt.Fprintf(b, "  - logs: %s\n", text(t.LogNote))
		}
		if len(t.LogLines) > 0 {
			fmt.Fprintf(b, "  - last %d log line(s) of %s:\n\n", len(t.LogLines), text(t.LogSource))
			fence := fenceFor(t.LogLines)
			b.WriteString("    " + fence + "text\n")
			for _, l := range t.LogLines {
				b.WriteString("    " + stripControl(strings.ReplaceAll(l, "\n", " ")) + "\n")
			}
			b.WriteString("    " + fence + "\n\n")
		}
	}
	b.WriteString("\n")
}

// fenceFor is a code fence longer than any run of backticks in lines, so no line can close it.
func fenceFor(lines []string) string {
	longest := 0
	for _, l := range lines {
		run := 0
		for _, c := range l {
			if c == '`' {
				run++
				longest = max(longest, run)
			} else {
				run = 0
			}
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// RunTaskMarkdown is the report of the run-task function: one task, how it ended and its
// last log lines, escaped and masked like the deploy report.
func RunTaskMarkdown(env, service string, t Task, succeeded bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Run task in %s: %s\n\n", text(env), text(service))
	status := "SUCCEEDED"
	if !succeeded {
		status = "FAILED"
	}
	detail := text(t.Outcome)
	if t.ExitCode != nil {
		detail += fmt.Sprintf(", exit code %d", *t.ExitCode)
	}
	fmt.Fprintf(&b, "**%s: task %s of %s %s**\n\n", status, code(t.ID), code(t.TaskDefinition), detail)
	Report{Tasks: []Task{t}}.writeTasks(&b)
	return maskAccessKeys(strings.TrimRight(b.String(), "\n") + "\n")
}
