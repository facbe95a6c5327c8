// Package tasklogs reads the last log lines of stopped ECS tasks from CloudWatch Logs, for
// the report of a failed rollout or pre-deploy task: the stream of a container that logs
// with the awslogs driver is awslogs-stream-prefix/container-name/task-id in awslogs-group,
// in awslogs-region. The lines are bounded (a few tasks, N lines each, each line truncated)
// and masked: access key IDs, and values that look like credentials (the rules the task
// definition checks use, redact.SecretReason), never reach the report. A missing group
// or stream is said, not an error: the task may have died before it logged anything.
package tasklogs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"dagger/fargate/pipeline/redact"
	"dagger/fargate/pipeline/taskdef"
)

// Bounds of what a report quotes.
const (
	// DefaultLines is how many of each task's last lines are read when none is said.
	DefaultLines = 20
	// MaxLines bounds the lines read per task.
	MaxLines = 100
	// MaxTasks is how many failed tasks' logs a report quotes.
	MaxTasks = 3
	// MaxLineLength truncates each line (in bytes, on a rune boundary).
	MaxLineLength = 300
)

// API is the part of the CloudWatch Logs client the reader uses.
type API interface {
	GetLogEvents(ctx context.Context, in *cloudwatchlogs.GetLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.GetLogEventsOutput, error)
}

// Source is where one container of one task logs.
type Source struct {
	Group, Stream, Region string
}

func (s Source) String() string { return fmt.Sprintf("stream %s in group %s", s.Stream, s.Group) }

// SourceOf is where container c of the task taskArn logs; the error says why there is no
// CloudWatch stream to read (another log driver, no group, no stream prefix).
func SourceOf(c *types.ContainerDefinition, taskArn string) (Source, error) {
	name := aws.ToString(c.Name)
	lc := c.LogConfiguration
	if lc == nil || lc.LogDriver != types.LogDriverAwslogs {
		return Source{}, fmt.Errorf("container %s does not log with the awslogs driver: no CloudWatch stream to read", name)
	}
	group, prefix := lc.Options["awslogs-group"], lc.Options["awslogs-stream-prefix"]
	switch {
	case group == "":
		return Source{}, fmt.Errorf("container %s: logConfiguration.options has no awslogs-group", name)
	case prefix == "":
		return Source{}, fmt.Errorf("container %s: logConfiguration.options has no awslogs-stream-prefix (on Fargate the stream is prefix/container/task-id)", name)
	}
	return Source{Group: group, Stream: prefix + "/" + name + "/" + taskdef.ShortName(taskArn), Region: lc.Options["awslogs-region"]}, nil
}

// Tail is the end of one stream.
type Tail struct {
	Source Source
	// Lines are the last lines, oldest first, masked and truncated.
	Lines []string
	// Note says why there are no lines ("no log stream X in group Y") or that some were cut.
	Note string
}

// Read returns the last n (DefaultLines when 0, at most MaxLines) lines of src. A missing
// group or stream is a Tail with a Note; other errors (access denied, throttling past the
// SDK's retries) are returned, wrapped with what was read.
func Read(ctx context.Context, api API, src Source, n int) (Tail, error) {
	if n <= 0 {
		n = DefaultLines
	}
	n = min(n, MaxLines)
	t := Tail{Source: src}
	out, err := api.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(src.Group), LogStreamName: aws.String(src.Stream),
		StartFromHead: aws.Bool(false), Limit: aws.Int32(int32(n)),
	})
	var nf *logtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		t.Note = fmt.Sprintf("no log stream %s in group %s", src.Stream, src.Group)
		if strings.Contains(strings.ToLower(nf.ErrorMessage()), "log group") {
			t.Note = fmt.Sprintf("no log group %s (stream %s)", src.Group, src.Stream)
		}
		return t, nil
	case err != nil:
		return t, fmt.Errorf("read the last %d log lines of %s: %w", n, src, err)
	}
	evs := out.Events
	if len(evs) > n {
		evs = evs[len(evs)-n:]
	}
	for _, ev := range evs {
		t.Lines = append(t.Lines, Clean(aws.ToString(ev.Message)))
	}
	if len(t.Lines) == 0 {
		t.Note = fmt.Sprintf("log stream %s in group %s is empty", src.Stream, src.Group)
	}
	return t, nil
}

// Clean makes one log line fit for the report: masked (redact.MaskText), without trailing newline, and
// at most MaxLineLength bytes.
func Clean(line string) string {
	line = redact.MaskText(strings.TrimRight(line, "\r\n"))
	if len(line) <= MaxLineLength {
		return line
	}
	cut := MaxLineLength
	for cut > 0 && !utf8.RuneStart(line[cut]) {
		cut--
	}
	return line[:cut] + " …(truncated)"
}
