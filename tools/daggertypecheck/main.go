// Command daggertypecheck type-checks the Dagger module's main package offline.
//
// A Dagger Go module imports "<module>/internal/dagger", a client that `dagger develop`
// generates from the engine's schema, and uses the `dag` variable that the generated
// dagger.gen.go declares. Neither is committed, and generating them needs an engine. The
// module's client is generated from the same core schema as the published SDK package
// dagger.io/dagger, so this command writes, outside the tree, an alias package that
// re-exports every exported type, constant and variable of dagger.io/dagger (at the version
// in go.mod), plus a stand-in dagger.gen.go, and runs `go vet -overlay` on the module's root
// package. A call to a method that does not exist, or an argument of the wrong type, fails.
// Both stand-ins import what the generated files import (tools/internal/daggergen), so a
// go.mod that lacks a module the generated code needs fails here too.
//
// With -selftest it also proves that: it type-checks mutated copies of main.go that call a
// missing method and pass a wrong type, and fails unless both are rejected.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"dagger/fargate/tools/internal/daggergen"
)

const upstreamImport = daggergen.SDKModule

func main() {
	selftest := flag.Bool("selftest", false, "also check that mutated copies of main.go are rejected")
	dir := flag.String("C", ".", "the Dagger module's directory (holding dagger.json and go.mod)")
	flag.Parse()
	if err := run(*dir, *selftest); err != nil {
		fmt.Fprintln(os.Stderr, "daggertypecheck:", err)
		os.Exit(1)
	}
}

func run(dir string, selftest bool) error {
	mod, err := daggergen.Load(dir)
	if err != nil {
		return err
	}
	moduleDir, modulePath := mod.Dir, mod.Path
	// `go list -m` reports an empty Dir for a module that is not in the module cache yet (a
	// fresh machine): download it first.
	if _, err := daggergen.Go(moduleDir, "mod", "download", upstreamImport); err != nil {
		return fmt.Errorf("download %s: %w", upstreamImport, err)
	}
	upstreamDir, err := daggergen.Go(moduleDir, "list", "-m", "-f", "{{.Dir}}", upstreamImport)
	if err != nil || upstreamDir == "" {
		return fmt.Errorf("locate %s (is it required in go.mod?): %v", upstreamImport, err)
	}
	version, _ := daggergen.Go(moduleDir, "list", "-m", "-f", "{{.Version}}", upstreamImport)

	aliasBody, count, err := aliasPackage(upstreamDir)
	if err != nil {
		return err
	}
	alias := daggergen.StandIn("daggertypecheck", "dagger", daggergen.ClientImports(), map[string]string{upstreamImport: "upstream"}, aliasBody)
	mainGen := daggergen.StandIn("daggertypecheck", "main", mod.MainImports(), map[string]string{modulePath + "/internal/dagger": "dagger"}, mainStub)
	tmp, err := os.MkdirTemp("", "daggertypecheck")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	files := map[string][]byte{
		"dagger.gen.go":  alias,
		"main.gen.go":    mainGen,
		"selftest1.go":   nil,
		"selftest2.go":   nil,
		"overlay.json":   nil,
		"overlay-1.json": nil,
		"overlay-2.json": nil,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o600); err != nil {
			return err
		}
	}
	replace := map[string]string{
		filepath.Join(moduleDir, filepath.FromSlash(daggergen.ClientFile)): filepath.Join(tmp, "dagger.gen.go"),
		filepath.Join(moduleDir, filepath.FromSlash(daggergen.MainFile)):   filepath.Join(tmp, "main.gen.go"),
	}
	overlay := filepath.Join(tmp, "overlay.json")
	if err := writeOverlay(overlay, replace); err != nil {
		return err
	}
	fmt.Printf("daggertypecheck: %d exported identifiers of %s %s aliased as %s/internal/dagger\n", count, upstreamImport, version, modulePath)
	if out, err := check(moduleDir, overlay, replace); err != nil {
		return fmt.Errorf("main package does not type-check against %s %s:\n%s", upstreamImport, version, out)
	}
	fmt.Println("daggertypecheck: main package type-checks")
	if !selftest {
		return nil
	}

	mainGo, err := os.ReadFile(filepath.Join(moduleDir, "main.go"))
	if err != nil {
		return fmt.Errorf("selftest needs main.go: %w", err)
	}
	mutations := []struct{ name, code, want string }{
		{"missing method", "\nfunc typecheckProbe() { _ = dag.Container().NoSuchMethodAnywhere() }\n", "NoSuchMethodAnywhere"},
		{"wrong argument type", "\nfunc typecheckProbe() { _ = dag.Container().From(42) }\n", "cannot use 42"},
		{"host API in a module", "\nfunc typecheckProbe() { _ = dag.Host() }\n", "not available inside a Dagger module"},
	}
	for i, m := range mutations {
		mutated := filepath.Join(tmp, fmt.Sprintf("selftest%d.go", i+1))
		if err := os.WriteFile(mutated, append(append([]byte{}, mainGo...), m.code...), 0o600); err != nil {
			return err
		}
		withMain := map[string]string{filepath.Join(moduleDir, "main.go"): mutated}
		for k, v := range replace {
			withMain[k] = v
		}
		ov := filepath.Join(tmp, fmt.Sprintf("overlay-%d.json", i+1))
		if err := writeOverlay(ov, withMain); err != nil {
			return err
		}
		out, err := check(moduleDir, ov, withMain)
		if err == nil {
			return fmt.Errorf("selftest %q: a main.go with that defect type-checked; the check is broken", m.name)
		}
		if !strings.Contains(out, m.want) {
			return fmt.Errorf("selftest %q: rejected, but not for the expected reason:\n%s", m.name, out)
		}
		fmt.Printf("daggertypecheck: selftest %q rejected as expected\n", m.name)
	}
	return nil
}

// check runs every check on the module's root package as the overlay presents it.
func check(dir, overlay string, replace map[string]string) (string, error) {
	if err := moduleOnlyAPI(dir, replace); err != nil {
		return err.Error(), err
	}
	return vet(dir, overlay)
}

// vet compiles the module's root package with the overlay (a type error fails), then runs
// go vet on it. go vet enters the directory of every package it analyses, so the generated
// package's directory must exist: it is created empty for the run when missing (it is
// ignored by git) and removed again.
func vet(dir, overlay string) (string, error) {
	var out bytes.Buffer
	build := exec.Command("go", "build", "-overlay="+overlay, "-o", os.DevNull, ".")
	build.Dir = dir
	build.Stdout, build.Stderr = &out, &out
	if err := build.Run(); err != nil {
		return out.String(), err
	}
	genDir := filepath.Join(dir, "internal", "dagger")
	if _, err := os.Stat(genDir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(genDir, 0o755); err != nil {
			return "", err
		}
		defer os.Remove(genDir)
		defer os.Remove(filepath.Dir(genDir)) // only succeeds when internal/ is otherwise empty
	}
	cmd := exec.Command("go", "vet", "-overlay="+overlay, ".")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func writeOverlay(path string, replace map[string]string) error {
	data, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// hiddenFromModules are Client methods that dagger.io/dagger has but a module's generated
// client does not: calling them compiles against the alias package and fails in an engine.
var hiddenFromModules = map[string]bool{"Host": true, "Engine": true, "Close": true, "Do": true}

// moduleOnlyAPI rejects calls on dag that only exist outside modules.
func moduleOnlyAPI(dir string, replace map[string]string) error {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var problems []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || name == "dagger.gen.go" {
			continue
		}
		path := filepath.Join(dir, name)
		if r, ok := replace[path]; ok {
			path = r
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("parse %s: %w", name, err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "dag" && hiddenFromModules[sel.Sel.Name] {
				problems = append(problems, fmt.Sprintf("%s: dag.%s is not available inside a Dagger module", fset.Position(sel.Pos()), sel.Sel.Name))
			}
			return true
		})
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// mainStub is the body of the stand-in for the generated dagger.gen.go of the main package:
// the `dag` client and the main function that dispatches calls.
const mainStub = `var dag = dagger.Connect()

type ExecError = dagger.ExecError

func main() {}
`

// aliasPackage renders the declarations of package dagger re-exporting every exported
// identifier of the SDK (imported as upstream).
func aliasPackage(dir string) (string, int, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", 0, err
	}
	var types, values []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return "", 0, fmt.Errorf("parse %s: %w", name, err)
		}
		if f.Name.Name != "dagger" {
			continue
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							types = append(types, typeAlias(fset, s))
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if !n.IsExported() {
								continue
							}
							kw := "var"
							if d.Tok == token.CONST {
								kw = "const"
							}
							values = append(values, fmt.Sprintf("%s %s = upstream.%s", kw, n.Name, n.Name))
						}
					}
				}
			case *ast.FuncDecl:
				// Connect differs in a module (no context, no error); generic functions cannot be
				// aliased by value.
				if d.Recv == nil && d.Name.IsExported() && d.Name.Name != "Connect" && d.Type.TypeParams == nil {
					values = append(values, fmt.Sprintf("var %s = upstream.%s", d.Name.Name, d.Name.Name))
				}
			}
		}
	}
	if len(types) == 0 {
		return "", 0, errors.New("no exported types found in " + dir)
	}
	sort.Strings(types)
	sort.Strings(values)
	var b strings.Builder
	b.WriteString("// Connect returns the module's client, as the generated module code does.\nfunc Connect() *Client { return nil }\n\n")
	for _, t := range types {
		b.WriteString(t + "\n")
	}
	for _, v := range values {
		b.WriteString(v + "\n")
	}
	return b.String(), len(types) + len(values), nil
}

func typeAlias(fset *token.FileSet, s *ast.TypeSpec) string {
	if s.TypeParams == nil || len(s.TypeParams.List) == 0 {
		return fmt.Sprintf("type %s = upstream.%s", s.Name.Name, s.Name.Name)
	}
	var params, names []string
	for _, field := range s.TypeParams.List {
		var constraint bytes.Buffer
		_ = printer.Fprint(&constraint, fset, field.Type)
		var group []string
		for _, n := range field.Names {
			group = append(group, n.Name)
			names = append(names, n.Name)
		}
		params = append(params, strings.Join(group, ", ")+" "+constraint.String())
	}
	return fmt.Sprintf("type %s[%s] = upstream.%s[%s]", s.Name.Name, strings.Join(params, ", "), s.Name.Name, strings.Join(names, ", "))
}
