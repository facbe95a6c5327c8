// Command gomodtidy checks that go.mod and go.sum are what `go mod tidy` makes of the
// module as the Dagger engine builds it: with the code that `dagger develop` generates
// present (not committed: .gitignore). It copies the module to a temporary directory, writes
// stand-ins for the generated files that import exactly what the real ones import
// (tools/internal/daggergen), pins dagger.io/dagger to dagger.json's engine version as the
// generator does (`go get dagger.io/dagger@<engineVersion>`), runs `go mod tidy` there, and
// fails with a diff when the committed files differ. With -write it copies the tidy files
// back instead. It needs the Go module proxy (or a warm module cache).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"dagger/fargate/tools/internal/daggergen"
)

func main() {
	dir := flag.String("C", ".", "the Dagger module's directory (holding dagger.json and go.mod)")
	write := flag.Bool("write", false, "write the tidy go.mod and go.sum into the module instead of failing on a difference")
	flag.Parse()
	if err := run(*dir, *write); err != nil {
		fmt.Fprintln(os.Stderr, "gomodtidy:", err)
		os.Exit(1)
	}
}

// tidyFiles are the files `go mod tidy` rewrites.
var tidyFiles = []string{"go.mod", "go.sum"}

func run(dir string, write bool) error {
	mod, err := daggergen.Load(dir)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "gomodtidy")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := copyModule(mod.Dir, tmp); err != nil {
		return fmt.Errorf("copy module: %w", err)
	}
	standIns := map[string][]byte{
		daggergen.MainFile:   daggergen.StandIn("gomodtidy", "main", mod.MainImports(), nil, ""),
		daggergen.ClientFile: daggergen.StandIn("gomodtidy", "dagger", daggergen.ClientImports(), nil, ""),
	}
	for rel, data := range standIns {
		p := filepath.Join(tmp, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return err
		}
	}
	for _, args := range [][]string{
		{"get", daggergen.SDKModule + "@" + mod.EngineVersion},
		{"mod", "tidy"},
	} {
		if _, err := daggergen.Go(tmp, args...); err != nil {
			return err
		}
	}
	var drift []string
	for _, name := range tidyFiles {
		want, err := os.ReadFile(filepath.Join(tmp, name))
		if err != nil {
			return err
		}
		have, err := os.ReadFile(filepath.Join(mod.Dir, name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if bytes.Equal(have, want) {
			continue
		}
		drift = append(drift, name)
		if write {
			if err := os.WriteFile(filepath.Join(mod.Dir, name), want, 0o644); err != nil {
				return err
			}
			fmt.Printf("gomodtidy: wrote %s\n", name)
			continue
		}
		fmt.Print(diff(filepath.Join(mod.Dir, name), filepath.Join(tmp, name), name))
	}
	switch {
	case len(drift) == 0:
		fmt.Printf("gomodtidy: go.mod and go.sum are tidy (generated code of Dagger %s included)\n", mod.EngineVersion)
	case !write:
		return fmt.Errorf("%s differ from `go mod tidy` with Dagger's generated code present; run `go run ./tools/gomodtidy -write`", strings.Join(drift, " and "))
	}
	return nil
}

// copyModule copies the module's files (tracked and untracked but not ignored, when dir is
// a git work tree; every file but .git otherwise) into dst.
func copyModule(src, dst string) error {
	files, err := moduleFiles(src)
	if err != nil {
		return err
	}
	for _, rel := range files {
		from := filepath.Join(src, rel)
		info, err := os.Lstat(from)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted in the work tree, not yet in the index
			}
			return err
		}
		if !info.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(to, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func moduleFiles(dir string) ([]string, error) {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = dir
	if out, err := cmd.Output(); err == nil {
		var files []string
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				files = append(files, filepath.FromSlash(f))
			}
		}
		return files, nil
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			files = append(files, rel)
		}
		return nil
	})
	return files, err
}

// diff renders a unified diff of the committed file against the tidy one.
func diff(have, want, name string) string {
	cmd := exec.Command("diff", "-u", "--label", name+" (committed)", "--label", name+" (tidy)", have, want)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err == nil || errors.As(err, &ee) && ee.ExitCode() == 1 {
		return string(out)
	}
	return fmt.Sprintf("%s differs from the tidy %s (no diff program to show how: %v)\n", name, name, err)
}
