// Package moduleflags lists the command-line flags `dagger call` derives from the module's Go
// source: one per argument of the constructor and of each exported method of the main
// object, named by splitting the argument's name into words at its upper-case letters
// (awsAccessKeyId → --aws-access-key-id). An argument whose name has two upper-case letters
// in a row has no predictable flag (the engine turns trivyDBRepository into
// --trivy-dbrepository), so it is reported as a problem.
package moduleflags

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"unicode"
)

// Arg is one argument of a module function and the flag `dagger call` gives it.
type Arg struct {
	Function string // "" for the constructor
	Name     string
	Flag     string
}

// Parse reads a module's main.go and returns its arguments and the names that have no
// predictable flag.
func Parse(filename string, src []byte) ([]Arg, []string, error) {
	file, err := parser.ParseFile(token.NewFileSet(), filename, src, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", filename, err)
	}
	var args []Arg
	var problems []string
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || !fn.Name.IsExported() {
			continue
		}
		function := ""
		switch {
		case fn.Recv == nil && fn.Name.Name == "New":
		case fn.Recv != nil:
			function = Kebab(fn.Name.Name)
		default:
			continue
		}
		for _, field := range fn.Type.Params.List {
			if sel, ok := field.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Context" {
				continue
			}
			for _, name := range field.Names {
				if hasUpperRun(name.Name) {
					problems = append(problems, fmt.Sprintf("%s: argument %s has two upper-case letters in a row; Dagger derives no predictable flag from it (spell an acronym as one capitalised word: Db, Id, Url)", orConstructor(function), name.Name))
				}
				args = append(args, Arg{Function: function, Name: name.Name, Flag: "--" + Kebab(name.Name)})
			}
		}
	}
	return args, problems, nil
}

func orConstructor(f string) string {
	if f == "" {
		return "constructor"
	}
	return f
}

// Kebab splits a camelCase name into lower-case words joined by dashes.
func Kebab(name string) string {
	var b strings.Builder
	for i, r := range name {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

func hasUpperRun(name string) bool {
	prev := false
	for _, r := range name {
		up := unicode.IsUpper(r)
		if up && prev {
			return true
		}
		prev = up
	}
	return false
}

// Dagger10GlobalFlags are global flags of the Dagger 1.0 CLI (in beta) that module flags can
// run into: --env selects a workspace environment (dagger/dagger#13708), -W/--workspace a
// workspace, -m/--load-module a module (dagger/dagger#13396). A constructor argument with
// one of these names fails to parse ("flag already exists", dagger/dagger#13398); a function
// argument shadows it, so it still works after the function name but not before it.
var Dagger10GlobalFlags = []string{"--env", "--workspace", "--load-module", "--no-load-module"}

// Collisions returns the constructor arguments whose flag is one of globals.
func Collisions(args []Arg, globals []string) []Arg {
	var out []Arg
	for _, a := range args {
		for _, g := range globals {
			if a.Function == "" && a.Flag == g {
				out = append(out, a)
			}
		}
	}
	return out
}
