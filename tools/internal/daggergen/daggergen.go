// Package daggergen describes, for offline tools, the code that Dagger's Go SDK generates
// for a module (`dagger develop`, and the engine before every call): which files, in which
// packages, importing which packages. That code is never committed (.gitignore) and
// generating it needs an engine, so tools write stand-ins with the same package and the same
// imports: daggertypecheck type-checks main.go against them, gomodtidy runs `go mod tidy`
// with them, and both then see the module as the engine's build does.
//
// The import lists are those of the Go SDK templates of the engine version in KnownEngine
// (cmd/codegen/generator/go/templates at that tag: the module's dagger.gen.go from
// _dagger.gen.go/module.go.tmpl, internal/dagger from _dagger.gen.go/defs.go.tmpl with
// module code on). Load refuses a dagger.json on another minor version, so that a Dagger
// upgrade re-checks them instead of trusting stale lists.
package daggergen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// SDKModule is the Go SDK's module. Its version must match the engine's.
const SDKModule = "dagger.io/dagger"

// KnownEngine is the engine release whose generated imports are listed here; any patch
// release of the same minor version generates the same imports.
const KnownEngine = "v0.21.8"

// The generated files, relative to the module root.
const (
	MainFile   = "dagger.gen.go"                 // package main: dag, the function dispatcher
	ClientFile = "internal/dagger/dagger.gen.go" // package dagger: the typed API client
)

// Module is a Dagger module on disk.
type Module struct {
	Dir           string // absolute
	Path          string // Go module path, e.g. dagger/fargate
	EngineVersion string // dagger.json engineVersion, e.g. v0.21.8
}

// Load reads the module in dir: its Go module path and dagger.json's engine version.
func Load(dir string) (Module, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Module{}, err
	}
	m := Module{Dir: abs}
	if m.Path, err = m.Go("list", "-m", "-f", "{{.Path}}"); err != nil {
		return Module{}, fmt.Errorf("read module path: %w", err)
	}
	raw, err := os.ReadFile(filepath.Join(abs, "dagger.json"))
	if err != nil {
		return Module{}, fmt.Errorf("read dagger.json: %w", err)
	}
	var cfg struct {
		EngineVersion string `json:"engineVersion"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return Module{}, fmt.Errorf("parse dagger.json: %w", err)
	}
	m.EngineVersion = cfg.EngineVersion
	if minor(m.EngineVersion) != minor(KnownEngine) {
		return Module{}, fmt.Errorf("dagger.json engineVersion is %q, but the generated imports known here are those of %s: "+
			"compare the Go SDK templates of %s with tools/internal/daggergen and update KnownEngine", m.EngineVersion, KnownEngine, m.EngineVersion)
	}
	return m, nil
}

// minor is "v0.21" of "v0.21.8".
func minor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// Go runs the go command in the module's directory and returns its trimmed output.
func (m Module) Go(args ...string) (string, error) {
	return Go(m.Dir, args...)
}

// Go runs the go command in dir and returns its trimmed output; the error carries stderr.
func Go(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// MainImports are the imports of the generated dagger.gen.go of package main.
func (m Module) MainImports() []string {
	return []string{
		"context",
		"encoding/json",
		"fmt",
		"log/slog",
		"os",
		"github.com/dagger/otel-go",
		"github.com/dagger/querybuilder",
		"github.com/vektah/gqlparser/v2/gqlerror",
		"go.opentelemetry.io/otel",
		"go.opentelemetry.io/otel/sdk/resource",
		"go.opentelemetry.io/otel/semconv/v1.40.0",
		"go.opentelemetry.io/otel/trace",
		m.Path + "/internal/dagger",
	}
}

// ClientImports are the imports of the generated internal/dagger package.
func ClientImports() []string {
	return []string{
		"context",
		"encoding/json",
		"errors",
		"fmt",
		"net",
		"net/http",
		"os",
		"reflect",
		"strconv",
		"strings",
		"github.com/Khan/genqlient/graphql",
		"github.com/dagger/otel-go",
		"github.com/dagger/querybuilder",
		"github.com/vektah/gqlparser/v2/gqlerror",
		"go.opentelemetry.io/otel",
		"go.opentelemetry.io/otel/propagation",
		"go.opentelemetry.io/otel/trace",
	}
}

// StandIn renders a Go file of package pkg with body, importing every path of imports:
// those body uses under a name (named maps path to name) as named imports, the others as
// blank imports, so that the file's import set is exactly the generated file's plus named.
func StandIn(generator, pkg string, imports []string, named map[string]string, body string) []byte {
	all := map[string]string{}
	for _, p := range imports {
		all[p] = "_"
	}
	for p, name := range named {
		all[p] = name
	}
	paths := make([]string, 0, len(all))
	for p := range all {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b strings.Builder
	fmt.Fprintf(&b, "// Code generated by %s, standing in for Dagger's generated code. DO NOT EDIT.\n\npackage %s\n\nimport (\n", generator, pkg)
	for _, p := range paths {
		fmt.Fprintf(&b, "\t%s %q\n", all[p], p)
	}
	b.WriteString(")\n\n")
	b.WriteString(body)
	return []byte(b.String())
}
