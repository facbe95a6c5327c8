package main

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCopyModuleOutsideGit(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	for name, data := range map[string]string{"go.mod": "module x\n", "a/b.go": "package b\n", ".git/HEAD": "ref\n"} {
		p := filepath.Join(src, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(data), 0o600))
	}
	require.NoError(t, copyModule(src, dst))
	var got []string
	require.NoError(t, filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dst, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return err
	}))
	sort.Strings(got)
	assert.Equal(t, []string{"a/b.go", "go.mod"}, got)
	data, err := os.ReadFile(filepath.Join(dst, "a/b.go"))
	require.NoError(t, err)
	assert.Equal(t, "package b\n", string(data))
}

func TestDiff(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	require.NoError(t, os.WriteFile(a, []byte("one\ntwo\n"), 0o600))
	require.NoError(t, os.WriteFile(b, []byte("one\nthree\n"), 0o600))
	out := diff(a, b, "go.mod")
	assert.Contains(t, out, "go.mod (committed)")
	assert.Contains(t, out, "-two")
	assert.Contains(t, out, "+three")
}
