package promote

import (
	"strings"
	"time"
	"unicode"

	"dagger/fargate/pipeline/taskdef"
)

// Tag keys written on the task definition a promotion registers.
const (
	TagPromotedFrom   = "fargate:promoted-from"
	TagSourceTaskDef  = "fargate:source-task-definition"
	TagImageDigest    = "fargate:image-digest"
	TagApprovedBy     = "fargate:approved-by"
	TagApprovedAt     = "fargate:approved-at"
	TagApprovalReason = "fargate:approval-reason"
)

// AWS tag limits (ECS TagResource): keys up to 128 and values up to 256 Unicode characters,
// drawn from letters, digits, spaces and _ . : / = + - @.
const (
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// Tags returns the tags that record a promotion on the registered task definition: the
// source environment and task definition, the image digest, and the approval when one was
// given. Values are sanitized to AWS's tag charset and length; empty values are left out.
func Tags(c Candidate, a Approval) map[string]string {
	tags := map[string]string{}
	put := func(k, v string) {
		if v = SanitizeTagValue(v); v != "" {
			tags[SanitizeTagKey(k)] = v
		}
	}
	put(TagPromotedFrom, c.SourceEnv)
	put(TagSourceTaskDef, taskdef.ShortName(c.TaskDefinitionArn))
	put(TagImageDigest, c.Digest)
	put(TagApprovedBy, a.By)
	if !a.At.IsZero() {
		put(TagApprovedAt, a.At.UTC().Format(time.RFC3339))
	}
	put(TagApprovalReason, a.Reason)
	return tags
}

// SanitizeTagValue maps s into AWS's tag charset: a disallowed character becomes '_', a run
// of whitespace (newlines included) becomes one space, the result is trimmed, the reserved
// "aws:" prefix is defused with a leading '_', and it is cut to 256 characters.
func SanitizeTagValue(s string) string { return sanitizeTag(s, maxTagValueLen) }

// SanitizeTagKey is SanitizeTagValue for keys (at most 128 characters).
func SanitizeTagKey(s string) string { return sanitizeTag(s, maxTagKeyLen) }

func sanitizeTag(s string, max int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if allowedTagRune(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := strings.TrimSpace(b.String())
	if strings.HasPrefix(strings.ToLower(out), "aws:") {
		out = "_" + out
	}
	runes := []rune(out)
	if len(runes) > max {
		out = strings.TrimSpace(string(runes[:max]))
	}
	return out
}

// allowedTagRune is the AWS tag charset [\p{L}\p{Z}\p{N}_.:/=+\-@].
func allowedTagRune(r rune) bool {
	if unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Z, r) {
		return true
	}
	return strings.ContainsRune("_.:/=+-@", r)
}
