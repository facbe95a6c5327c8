// Package buildspec decides what an image build is given: the target platform, the ordered
// build arguments and the labels, from the environments file's app section, the git
// revision and commit time, the source URL and the base image overrides. It holds no Dagger
// types: package main hands Spec.Args to Directory.DockerBuild and Spec.Labels to
// Container.WithLabel as they are.
//
// Every value is reproducible: the same inputs give the same arguments and labels, so an
// unchanged source rebuilds to an unchanged image (a build argument or label that changes on
// every run, such as the current time, makes a new image config, hence a new digest, and
// every step after the build runs again).
package buildspec

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"dagger/fargate/pipeline/config"
)

// Build arguments the pipeline sets. A Dockerfile declares those it uses; BuildKit ignores
// the others.
const (
	ArgVersion      = "VERSION"       // the git revision, for the binary (-X main.version)
	ArgRevision     = "REVISION"      // the git revision, for the revision label
	ArgCreated      = "CREATED"       // the commit time, RFC 3339, for the created label
	ArgSource       = "SOURCE"        // the source repository URL, for the source label
	ArgBuilderImage = "BUILDER_IMAGE" // the builder stage's base image
	ArgRuntimeImage = "RUNTIME_IMAGE" // the final stage's base image
)

// OCI image labels the pipeline sets on the built image.
const (
	LabelTitle    = "org.opencontainers.image.title"
	LabelRevision = "org.opencontainers.image.revision"
	LabelCreated  = "org.opencontainers.image.created"
	LabelSource   = "org.opencontainers.image.source"
)

// DefaultRevision is the revision of a build with none given.
const DefaultRevision = "dev"

// Platforms Fargate runs, in the form the build takes.
var Platforms = []string{"linux/amd64", "linux/arm64"}

// platformArgs are BuildKit's automatic platform arguments: derived from the platform,
// never set by hand.
var platformArgs = []string{
	"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
	"BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
}

var (
	revisionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/+-]{0,127}$`)
	imagePattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$`)
)

// Input is what a build is decided from.
type Input struct {
	// App is the environments file's app section (name, platforms, build arguments).
	App config.App
	// Platform is the requested platform; empty means the first of App.Platforms.
	Platform string
	// Revision is the git revision; empty means DefaultRevision.
	Revision string
	// Created is the commit time. Zero means unknown: no CREATED argument and no created
	// label, rather than the current time, which would change the image on every run.
	Created time.Time
	// SourceURL is the source repository's URL; empty leaves the Dockerfile's default.
	SourceURL string
	// BuilderImage and RuntimeImage override the base images; empty keeps the
	// Dockerfile's defaults (or the environments file's buildArgs).
	BuilderImage string
	RuntimeImage string
}

// Arg is one build argument or label.
type Arg struct {
	Name  string
	Value string
}

// Spec is a decided build.
type Spec struct {
	// Platform is the validated target platform.
	Platform string
	// Args are the build arguments: VERSION, REVISION and CREATED (when known) first, then
	// every other argument sorted by name. Each name appears once.
	Args []Arg
	// Labels are set on the built image after the build, in this order.
	Labels []Arg
}

// New decides the build of in. Errors name the field at fault and what was expected.
func New(in Input) (Spec, error) {
	platform, err := Platform(in.Platform, in.App.Platforms)
	if err != nil {
		return Spec{}, err
	}
	revision := in.Revision
	if revision == "" {
		revision = DefaultRevision
	}
	if !revisionPattern.MatchString(revision) {
		return Spec{}, fmt.Errorf("git revision %q: expected a commit, tag or branch name (letters, digits and . _ - / +, at most 128 characters)", revision)
	}
	if in.SourceURL != "" {
		if u, err := url.Parse(in.SourceURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return Spec{}, fmt.Errorf("source URL %q: expected an http(s) URL such as https://github.com/org/repo", in.SourceURL)
		}
	}
	for _, img := range []struct{ field, value string }{{"builder image", in.BuilderImage}, {"runtime image", in.RuntimeImage}} {
		if img.value != "" && !imagePattern.MatchString(img.value) {
			return Spec{}, fmt.Errorf("%s %q: expected an image reference such as registry/name:tag@sha256:<digest>", img.field, img.value)
		}
	}

	fixed := []Arg{{ArgVersion, revision}, {ArgRevision, revision}}
	var created string
	if !in.Created.IsZero() {
		created = in.Created.UTC().Format(time.RFC3339)
		fixed = append(fixed, Arg{ArgCreated, created})
	}

	rest := map[string]string{}
	for name, value := range in.App.BuildArgs {
		switch {
		case name == ArgVersion || name == ArgRevision || name == ArgCreated:
			return Spec{}, fmt.Errorf("app.buildArgs.%s: set by the pipeline from the git revision and commit time; remove it from the environments file", name)
		case slices.Contains(platformArgs, name):
			return Spec{}, fmt.Errorf("app.buildArgs.%s: derived from the platform by the build; remove it (choose platforms with app.platforms)", name)
		}
		rest[name] = value
	}
	// Flags win over the environments file.
	for _, o := range []Arg{{ArgSource, in.SourceURL}, {ArgBuilderImage, in.BuilderImage}, {ArgRuntimeImage, in.RuntimeImage}} {
		if o.Value != "" {
			rest[o.Name] = o.Value
		}
	}
	args := fixed
	for _, name := range slices.Sorted(maps.Keys(rest)) {
		args = append(args, Arg{name, rest[name]})
	}

	labels := []Arg{{LabelTitle, in.App.Name}, {LabelRevision, revision}}
	if created != "" {
		labels = append(labels, Arg{LabelCreated, created})
	}
	if in.SourceURL != "" {
		labels = append(labels, Arg{LabelSource, in.SourceURL})
	}
	return Spec{Platform: platform, Args: args, Labels: labels}, nil
}

// Platform validates the requested platform; empty means the first of the app's platforms.
func Platform(requested string, appPlatforms []string) (string, error) {
	if requested == "" {
		if len(appPlatforms) == 0 {
			return "", fmt.Errorf("app.platforms: empty (expected %s)", strings.Join(Platforms, " and/or "))
		}
		requested = appPlatforms[0]
	}
	if !slices.Contains(Platforms, requested) {
		return "", fmt.Errorf("build: platform %q is not supported by Fargate (expected %s)", requested, strings.Join(Platforms, " or "))
	}
	return requested, nil
}

// ParseCreated reads a commit time given as RFC 3339 (git show -s --format=%cI) or as Unix
// seconds (SOURCE_DATE_EPOCH, git show -s --format=%ct). Empty is the zero time: unknown.
func ParseCreated(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		if secs < 0 {
			return time.Time{}, fmt.Errorf("commit time %q: Unix seconds must not be negative", s)
		}
		return time.Unix(secs, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("commit time %q: expected RFC 3339 (2026-12-03T14:05:00Z) or Unix seconds (SOURCE_DATE_EPOCH)", s)
	}
	return t.UTC(), nil
}
