package images

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const digest = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestDefaultsArePinnedByDigest(t *testing.T) {
	set, err := Defaults()
	require.NoError(t, err)
	for name, ref := range map[string]string{"trivy": set.Trivy, "cosign": set.Cosign, "registry": set.Registry} {
		assert.Regexp(t, `^[^@\s]+:[^@\s]+@sha256:[0-9a-f]{64}$`, ref, name)
	}
	assert.True(t, strings.HasPrefix(set.Trivy, "aquasec/trivy:"), set.Trivy)
	assert.True(t, strings.HasPrefix(set.Cosign, "ghcr.io/sigstore/cosign/cosign:"), set.Cosign)
	assert.True(t, strings.HasPrefix(set.Registry, "registry:"), set.Registry)
}

func TestResolveKeepsEachOverrideAndDefaultsTheRest(t *testing.T) {
	d, err := Defaults()
	require.NoError(t, err)
	mirror := "mirror.example.com/aquasec/trivy:0.74.0" + digest
	for _, tc := range []struct {
		name      string
		overrides Set
		want      Set
	}{
		{"none", Set{}, d},
		{"blank is no override", Set{Trivy: "  ", Cosign: "\t"}, d},
		{"one", Set{Trivy: " " + mirror + " "}, Set{Trivy: mirror, Cosign: d.Cosign, Registry: d.Registry}},
		{"all", Set{Trivy: "t:1", Cosign: "c:1", Registry: "r:1"}, Set{Trivy: "t:1", Cosign: "c:1", Registry: "r:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(tc.overrides)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParse(t *testing.T) {
	good := "# comment\n\nFROM aquasec/trivy:0.74.0" + digest + " AS trivy\n" +
		"from ghcr.io/sigstore/cosign/cosign:v3.1.3" + digest + " as Cosign\n" +
		"FROM localhost:5000/mirror/registry:2.8.3" + digest + " AS registry\n"
	list, err := Parse([]byte(good))
	require.NoError(t, err)
	assert.Equal(t, []Image{
		{Name: "trivy", Ref: "aquasec/trivy:0.74.0" + digest, Line: 3},
		{Name: "cosign", Ref: "ghcr.io/sigstore/cosign/cosign:v3.1.3" + digest, Line: 4},
		{Name: "registry", Ref: "localhost:5000/mirror/registry:2.8.3" + digest, Line: 5},
	}, list)
	assert.Equal(t, Set{Trivy: list[0].Ref, Cosign: list[1].Ref, Registry: list[2].Ref}, setOf(list))
}

func TestParseRejects(t *testing.T) {
	rest := "FROM ghcr.io/sigstore/cosign/cosign:v3.1.3" + digest + " AS cosign\nFROM registry:2" + digest + " AS registry\n"
	tests := []struct {
		name, src, want string
	}{
		{"tag only", "FROM aquasec/trivy:0.74.0 AS trivy\n" + rest, `line 1: image "aquasec/trivy:0.74.0" (trivy) must be repository:tag@sha256`},
		{"digest only", "FROM aquasec/trivy" + digest + " AS trivy\n" + rest, "must be repository:tag@sha256"},
		{"short digest", "FROM aquasec/trivy:0.74.0@sha256:abc AS trivy\n" + rest, "must be repository:tag@sha256"},
		{"upper-case digest", "FROM aquasec/trivy:0.74.0" + strings.ToUpper(digest) + " AS trivy\n" + rest, "must be repository:tag@sha256"},
		{"variable", "ARG V=0.74.0\nFROM aquasec/trivy:$V" + digest + " AS trivy\n" + rest, "line 1: ARG: only FROM lines"},
		{"variable in FROM", "FROM aquasec/trivy:${V}" + digest + " AS trivy\n" + rest, "must be repository:tag@sha256"},
		{"no name", "FROM aquasec/trivy:0.74.0" + digest + "\n" + rest, "line 1: expected `FROM repository:tag@sha256:digest AS name`"},
		{"flag", "FROM --platform=linux/amd64 aquasec/trivy:0.74.0" + digest + " AS trivy\n" + rest, "flags are not allowed"},
		{"other instruction", rest + "FROM aquasec/trivy:0.74.0" + digest + " AS trivy\nRUN true\n", "line 4: RUN: only FROM lines"},
		{"unknown name", rest + "FROM aquasec/trivy:0.74.0" + digest + " AS scanner\n", `unknown image name "scanner"`},
		{"duplicate", rest + "FROM aquasec/trivy:0.74.0" + digest + " AS trivy\nFROM aquasec/trivy:0.75.0" + digest + " AS trivy\n", `line 4: image "trivy" is already defined at line 3`},
		{"missing", rest, `image "trivy" is missing`},
		{"empty", "", "parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// The README's "Default images" table lists exactly the images of images.Dockerfile, in order.
func TestREADMEListsTheDefaultImages(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, section, found := strings.Cut(string(readme), "\n### Default images\n")
	require.True(t, found, "README.md has no \"### Default images\" section")
	if end := strings.Index(section, "\n#"); end >= 0 {
		section = section[:end]
	}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\| `([^`]+)` \\|")
	var listed []Image
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		listed = append(listed, Image{Name: m[1], Ref: m[2]})
	}
	list, err := List()
	require.NoError(t, err)
	var want []Image
	for _, im := range list {
		want = append(want, Image{Name: im.Name, Ref: im.Ref})
	}
	assert.Equal(t, want, listed, "README.md's Default images table must match pipeline/images/images.Dockerfile")
}
