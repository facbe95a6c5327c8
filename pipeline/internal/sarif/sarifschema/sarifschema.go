// Package sarifschema checks a SARIF document against the official SARIF 2.1.0 JSON schema
// (OASIS errata01), the copy that the maintained SARIF library github.com/owenrumney/go-sarif/v3
// ships in its package pkg/report/v210/sarif. That copy is unexported, so this package reads
// it from the module's source (located with `go list -m`, in the module cache) and validates
// the document's bytes with the same JSON-schema validator the library uses. GitHub code
// scanning rejects an invalid file, in practice silently: the pipeline's SARIF writers test
// their output with Validate. For tests only: it runs the go command.
package sarifschema

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	// The module whose schema is read; imported so that go.mod keeps it at the version read.
	_ "github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"github.com/xeipuuv/gojsonschema"
)

const (
	schemaModule = "github.com/owenrumney/go-sarif/v3"
	schemaFile   = "pkg/report/v210/sarif/schema.go"
	schemaConst  = "schema"
)

// Schema returns the SARIF 2.1.0 JSON schema text from the go-sarif module.
func Schema() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-json", schemaModule).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("locate %s: %w", schemaModule, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("locate %s: no module directory in %q", schemaModule, out)
	}
	path := filepath.Join(mod.Dir, filepath.FromSlash(schemaFile))
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return "", fmt.Errorf("read sarif schema: %w", err)
	}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if name.Name != schemaConst || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return "", fmt.Errorf("read sarif schema: %s in %s is not a string literal", schemaConst, path)
				}
				return strconv.Unquote(lit.Value)
			}
		}
	}
	return "", fmt.Errorf("read sarif schema: no const %s in %s", schemaConst, path)
}

// Validator validates documents against one compiled schema.
type Validator struct {
	schema *gojsonschema.Schema
}

// New compiles the SARIF 2.1.0 schema.
func New() (*Validator, error) {
	text, err := Schema()
	if err != nil {
		return nil, err
	}
	var probe struct {
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(text), &probe); err != nil || !strings.Contains(probe.Title, "2.1.0") {
		return nil, fmt.Errorf("sarif schema from %s is not the 2.1.0 schema (title %q)", schemaModule, probe.Title)
	}
	s, err := gojsonschema.NewSchema(gojsonschema.NewStringLoader(text))
	if err != nil {
		return nil, fmt.Errorf("compile sarif schema: %w", err)
	}
	return &Validator{schema: s}, nil
}

// Validate returns an error listing every schema violation of data.
func (v *Validator) Validate(data []byte) error {
	res, err := v.schema.Validate(gojsonschema.NewBytesLoader(data))
	if err != nil {
		return fmt.Errorf("validate sarif: %w", err)
	}
	if res.Valid() {
		return nil
	}
	var msgs []string
	for _, e := range res.Errors() {
		msgs = append(msgs, e.String())
	}
	return fmt.Errorf("sarif 2.1.0 schema: %s", strings.Join(msgs, "; "))
}
