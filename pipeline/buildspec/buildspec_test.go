package buildspec

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/config"
)

var sampleApp = config.App{Name: "sample-app", Context: ".", Dockerfile: "Dockerfile", Platforms: []string{"linux/amd64"}, Port: 8080, HealthPath: "/healthz"}

func TestNew(t *testing.T) {
	commit := time.Date(2026, 12, 3, 14, 5, 0, 0, time.FixedZone("CET", 3600))
	withArgs := sampleApp
	withArgs.BuildArgs = map[string]string{"GOPROXY": "https://proxy.internal", "BUILDER_IMAGE": "mirror.internal/golang:1.26", "APP_FLAVOUR": "eu"}
	tests := []struct {
		name       string
		in         Input
		wantPlat   string
		wantArgs   []Arg
		wantLabels []Arg
	}{
		{
			name:       "local defaults: no commit time, so no CREATED and no created label",
			in:         Input{App: sampleApp},
			wantPlat:   "linux/amd64",
			wantArgs:   []Arg{{"VERSION", "dev"}, {"REVISION", "dev"}},
			wantLabels: []Arg{{LabelTitle, "sample-app"}, {LabelRevision, "dev"}},
		},
		{
			name:     "CI: revision, commit time in UTC, source URL",
			in:       Input{App: sampleApp, Revision: "8fb7b48", Created: commit, SourceURL: "https://github.com/example/fargate"},
			wantPlat: "linux/amd64",
			wantArgs: []Arg{{"VERSION", "8fb7b48"}, {"REVISION", "8fb7b48"}, {"CREATED", "2026-12-03T13:05:00Z"}, {"SOURCE", "https://github.com/example/fargate"}},
			wantLabels: []Arg{{LabelTitle, "sample-app"}, {LabelRevision, "8fb7b48"}, {LabelCreated, "2026-12-03T13:05:00Z"},
				{LabelSource, "https://github.com/example/fargate"}},
		},
		{
			name:     "environments file arguments sorted after the fixed ones; the builder flag wins over the file",
			in:       Input{App: withArgs, Platform: "linux/arm64", BuilderImage: "ecr.internal/golang:1.26@sha256:" + sha, RuntimeImage: "ecr.internal/distroless:nonroot"},
			wantPlat: "linux/arm64",
			wantArgs: []Arg{{"VERSION", "dev"}, {"REVISION", "dev"}, {"APP_FLAVOUR", "eu"},
				{"BUILDER_IMAGE", "ecr.internal/golang:1.26@sha256:" + sha}, {"GOPROXY", "https://proxy.internal"},
				{"RUNTIME_IMAGE", "ecr.internal/distroless:nonroot"}},
			wantLabels: []Arg{{LabelTitle, "sample-app"}, {LabelRevision, "dev"}},
		},
		{
			name:       "the environments file's builder image stays without a flag",
			in:         Input{App: withArgs, Revision: "v1.2.3"},
			wantPlat:   "linux/amd64",
			wantArgs:   []Arg{{"VERSION", "v1.2.3"}, {"REVISION", "v1.2.3"}, {"APP_FLAVOUR", "eu"}, {"BUILDER_IMAGE", "mirror.internal/golang:1.26"}, {"GOPROXY", "https://proxy.internal"}},
			wantLabels: []Arg{{LabelTitle, "sample-app"}, {LabelRevision, "v1.2.3"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := New(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.wantPlat, got.Platform)
			assert.Equal(t, tt.wantArgs, got.Args)
			assert.Equal(t, tt.wantLabels, got.Labels)
		})
	}
}

const sha = "b305420a68d0f229d91eb3b3ed9e519fcf2cf5461da4bef997bf927e8c0bfd2b"

func TestNewRejects(t *testing.T) {
	app := func(args map[string]string) config.App { a := sampleApp; a.BuildArgs = args; return a }
	tests := []struct {
		name string
		in   Input
		want string
	}{
		{"windows platform", Input{App: sampleApp, Platform: "windows/amd64"}, `build: platform "windows/amd64" is not supported by Fargate (expected linux/amd64 or linux/arm64)`},
		{"arm v7", Input{App: sampleApp, Platform: "linux/arm/v7"}, `platform "linux/arm/v7" is not supported`},
		{"no platforms", Input{App: config.App{Name: "x"}}, "app.platforms: empty"},
		{"revision with a space", Input{App: sampleApp, Revision: "main -X main.admin=true"}, `git revision "main -X main.admin=true": expected a commit, tag or branch name`},
		{"revision with a quote", Input{App: sampleApp, Revision: `v1"`}, "git revision"},
		{"source URL without scheme", Input{App: sampleApp, SourceURL: "github.com/example/fargate"}, `source URL "github.com/example/fargate": expected an http(s) URL`},
		{"builder image with a space", Input{App: sampleApp, BuilderImage: "golang 1.26"}, `builder image "golang 1.26": expected an image reference`},
		{"VERSION in the file", Input{App: app(map[string]string{"VERSION": "1"})}, "app.buildArgs.VERSION: set by the pipeline"},
		{"CREATED in the file", Input{App: app(map[string]string{"CREATED": "now"})}, "app.buildArgs.CREATED: set by the pipeline"},
		{"TARGETARCH in the file", Input{App: app(map[string]string{"TARGETARCH": "arm64"})}, "app.buildArgs.TARGETARCH: derived from the platform"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParseCreated(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr string
	}{
		{"", time.Time{}, ""},
		{"1764770700", time.Date(2025, 12, 3, 14, 5, 0, 0, time.UTC), ""},
		{" 1764770700\n", time.Date(2025, 12, 3, 14, 5, 0, 0, time.UTC), ""},
		{"2026-12-03T15:05:00+01:00", time.Date(2026, 12, 3, 14, 5, 0, 0, time.UTC), ""},
		{"2026-12-03", time.Time{}, `commit time "2026-12-03": expected RFC 3339`},
		{"-5", time.Time{}, "must not be negative"},
		{"yesterday", time.Time{}, "expected RFC 3339"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCreated(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got), "got %s, want %s", got, tt.want)
			assert.Equal(t, time.UTC, got.Location())
		})
	}
}
