package daggergen

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStandInImportsExactlyTheGeneratedImports(t *testing.T) {
	m := Module{Path: "dagger/example"}
	tests := []struct {
		name, pkg string
		imports   []string
		named     map[string]string
		body      string
	}{
		{"main for go mod tidy", "main", m.MainImports(), nil, ""},
		{"client for go mod tidy", "dagger", ClientImports(), nil, ""},
		{"main for type-checking", "main", m.MainImports(), map[string]string{"dagger/example/internal/dagger": "dagger"}, "var dag = dagger.Connect()\n"},
		{"client aliasing the SDK", "dagger", ClientImports(), map[string]string{SDKModule: "upstream"}, "type Container = upstream.Container\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := StandIn("test", tt.pkg, tt.imports, tt.named, tt.body)
			f, err := parser.ParseFile(token.NewFileSet(), "x.go", src, parser.ImportsOnly)
			require.NoError(t, err, string(src))
			assert.Equal(t, tt.pkg, f.Name.Name)
			got := map[string]string{}
			for _, im := range f.Imports {
				p, err := strconv.Unquote(im.Path.Value)
				require.NoError(t, err)
				got[p] = im.Name.Name
			}
			want := map[string]string{}
			for _, p := range tt.imports {
				want[p] = "_"
			}
			for p, n := range tt.named {
				want[p] = n
			}
			assert.Equal(t, want, got)
		})
	}
}

func TestImportListsAreDistinct(t *testing.T) {
	for name, list := range map[string][]string{"main": (Module{Path: "dagger/x"}).MainImports(), "client": ClientImports()} {
		seen := map[string]bool{}
		for _, p := range list {
			assert.False(t, seen[p], "%s lists %s twice", name, p)
			seen[p] = true
		}
	}
	assert.Contains(t, (Module{Path: "dagger/x"}).MainImports(), "dagger/x/internal/dagger")
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module dagger/example\n\ngo 1.26\n"), 0o600))
	write := func(engine string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "dagger.json"), []byte(`{"name": "example", "engineVersion": "`+engine+`"}`), 0o600))
	}

	write("v0.21.9")
	m, err := Load(dir)
	require.NoError(t, err)
	assert.Equal(t, "dagger/example", m.Path)
	assert.Equal(t, "v0.21.9", m.EngineVersion)
	assert.True(t, filepath.IsAbs(m.Dir))

	write("v0.22.0")
	_, err = Load(dir)
	require.ErrorContains(t, err, `engineVersion is "v0.22.0", but the generated imports known here are those of v0.21.8`)

	require.NoError(t, os.Remove(filepath.Join(dir, "dagger.json")))
	_, err = Load(dir)
	require.ErrorContains(t, err, "read dagger.json")
}
