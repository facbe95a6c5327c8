package images

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// repoRoot is the repository root, from this package's directory.
const repoRoot = "../.."

type dependabotConfig struct {
	Version int `yaml:"version"`
	Updates []struct {
		Ecosystem string `yaml:"package-ecosystem"`
		Directory string `yaml:"directory"`
		Schedule  struct {
			Interval string `yaml:"interval"`
		} `yaml:"schedule"`
	} `yaml:"updates"`
}

// dockerfileName is the file names Dependabot's docker ecosystem reads.
var dockerfileName = regexp.MustCompile(`(?i)dockerfile|containerfile`)

// Every pin in the repository is where an update bot reads it: each Go module, each directory
// with a Dockerfile and the workflows have a Dependabot entry, and every digest in a Dockerfile
// is on a FROM line (Dependabot reads FROM lines, not ARG defaults).
func TestDependabotCoversEveryPin(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, ".github/dependabot.yml"))
	require.NoError(t, err)
	var cfg dependabotConfig
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	require.Equal(t, 2, cfg.Version)
	covered := map[string]bool{}
	for _, u := range cfg.Updates {
		assert.Equal(t, "weekly", u.Schedule.Interval, "%s %s", u.Ecosystem, u.Directory)
		covered[u.Ecosystem+" "+u.Directory] = true
	}

	var want []string
	err = filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		dir := "/" + filepath.ToSlash(filepath.Dir(rel))
		if dir == "/." {
			dir = "/"
		}
		if d.IsDir() {
			if name := d.Name(); rel != "." && (strings.HasPrefix(name, ".") && name != ".github" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case d.Name() == "go.mod":
			want = append(want, "gomod "+dir)
		case dockerfileName.MatchString(d.Name()) && !strings.HasSuffix(d.Name(), ".go"):
			want = append(want, "docker "+dir)
			assertPinsOnFromLines(t, p)
		case path.Dir(filepath.ToSlash(rel)) == ".github/workflows":
			want = append(want, "github-actions /")
			assertActionsPinned(t, p)
		}
		return nil
	})
	require.NoError(t, err)
	require.Contains(t, want, "docker /pipeline/images")
	for _, w := range slices.Compact(slices.Sorted(slices.Values(want))) {
		assert.True(t, covered[w], ".github/dependabot.yml has no %q entry", w)
	}
}

func assertPinsOnFromLines(t *testing.T, file string) {
	t.Helper()
	content, err := os.ReadFile(file)
	require.NoError(t, err)
	problems, err := pinsOutsideFrom(content)
	require.NoError(t, err, file)
	for _, p := range problems {
		t.Errorf("%s:%s", file, p)
	}
}

// pinsOutsideFrom lists the instructions other than FROM that carry a digest.
func pinsOutsideFrom(content []byte) ([]string, error) {
	res, err := parser.Parse(bytes.NewReader(content))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range res.AST.Children {
		if !strings.EqualFold(n.Value, "from") && strings.Contains(n.Original, "@sha256:") {
			out = append(out, fmt.Sprintf("%d: a digest outside a FROM line is invisible to Dependabot: %s", n.StartLine, n.Original))
		}
	}
	return out, nil
}

var usesLine = regexp.MustCompile(`(?m)^\s*(?:-\s*)?uses:\s*(\S+)`)

func assertActionsPinned(t *testing.T, file string) {
	t.Helper()
	content, err := os.ReadFile(file)
	require.NoError(t, err)
	for _, m := range usesLine.FindAllStringSubmatch(string(content), -1) {
		if strings.HasPrefix(m[1], "./") {
			continue // a local action
		}
		assert.Regexp(t, `@[0-9a-f]{40}$`, m[1], "%s: actions are pinned by commit SHA", file)
	}
}

func TestPinsOutsideFrom(t *testing.T) {
	const d = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	problems, err := pinsOutsideFrom([]byte("ARG BASE=alpine:3.20" + d + "\nFROM $BASE\n"))
	require.NoError(t, err)
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0], "1: a digest outside a FROM line")
	problems, err = pinsOutsideFrom([]byte("ARG BASE=base\nFROM alpine:3.20" + d + " AS base\nFROM $BASE\n"))
	require.NoError(t, err)
	assert.Empty(t, problems)
}
