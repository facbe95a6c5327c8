package ecr

import (
	"regexp"
	"strings"
	"time"
)

var tagUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// ImageTag turns a git revision into an image tag (letters, digits, _ . -, at most 128). The
// "dev" default, or a revision with nothing usable in it, gets a UTC timestamp instead, so
// immutable tags never collide between local builds.
func ImageTag(revision string, now time.Time) string {
	tag := strings.Trim(tagUnsafe.ReplaceAllString(revision, "-"), "-.")
	if tag == "" || tag == "dev" {
		tag = "dev-" + now.UTC().Format("20060102T150405Z")
	}
	if len(tag) > 128 {
		tag = tag[:128]
	}
	return tag
}
