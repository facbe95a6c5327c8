package taskdef

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// Tag keys the pipeline puts on every task definition it registers.
const (
	TagEnvironment = "deploy:environment"
	TagGitRevision = "deploy:git-revision"
	TagImageDigest = "deploy:image-digest"
)

// TagInput is what the registration tags record.
type TagInput struct {
	Environment string
	GitRevision string
	// ImageDigest is sha256:<64 hex> (empty for a tag-only image).
	ImageDigest string
	// Extra tags, e.g. approval information; keys must not collide with the ones above.
	Extra map[string]string
}

// ECS allows 50 tags per resource; keys up to 128 and values up to 256 UTF-8 characters of
// letters, digits, spaces and _ . : / = + - @; the aws: prefix is reserved.
var tagCharsRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

// Tags builds and validates the registration tags, in a stable order.
func Tags(in TagInput) ([]types.Tag, error) {
	var tags []types.Tag
	add := func(k, v string) {
		if v != "" {
			k, v := k, v
			tags = append(tags, types.Tag{Key: &k, Value: &v})
		}
	}
	add(TagEnvironment, in.Environment)
	add(TagGitRevision, in.GitRevision)
	add(TagImageDigest, in.ImageDigest)
	for _, k := range slices.Sorted(maps.Keys(in.Extra)) {
		if k == TagEnvironment || k == TagGitRevision || k == TagImageDigest {
			return nil, fmt.Errorf("tag %q: reserved for the pipeline", k)
		}
		k, v := k, in.Extra[k]
		tags = append(tags, types.Tag{Key: &k, Value: &v})
	}
	if err := ValidateTags(tags); err != nil {
		return nil, err
	}
	return tags, nil
}

// ValidateTags checks tags against the ECS tagging constraints.
func ValidateTags(tags []types.Tag) error {
	if len(tags) > 50 {
		return fmt.Errorf("tags: %d tags, ECS allows at most 50 per resource", len(tags))
	}
	seen := map[string]bool{}
	for _, t := range tags {
		k, v := deref(t.Key), deref(t.Value)
		switch {
		case k == "" || utf8.RuneCountInString(k) > 128:
			return fmt.Errorf("tag key %q: expected 1 to 128 characters", k)
		case !tagCharsRE.MatchString(k):
			return fmt.Errorf("tag key %q: expected letters, digits, spaces and _ . : / = + - @ only", k)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return fmt.Errorf("tag key %q: the aws: prefix is reserved for AWS", k)
		case seen[k]:
			return fmt.Errorf("tag key %q: given twice", k)
		case utf8.RuneCountInString(v) > 256:
			return fmt.Errorf("tag %q: value has %d characters, expected at most 256", k, utf8.RuneCountInString(v))
		case !tagCharsRE.MatchString(v):
			return fmt.Errorf("tag %q: value must contain only letters, digits, spaces and _ . : / = + - @", k)
		}
		seen[k] = true
	}
	return nil
}

// ShortName is the last part of an ECS ARN: family:revision for a task definition
// (arn:aws:ecs:eu-west-1:123456789012:task-definition/app:7 → app:7), the ID for a task or a
// service deployment. A string that is not an ARN is returned as it is.
func ShortName(arn string) string {
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}
