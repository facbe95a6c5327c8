// Package images holds the fargate module's default tool images. They live in one file,
// images.Dockerfile, as `FROM repository:tag@sha256:digest AS name` lines: the module embeds
// it and reads its defaults from it, and Dependabot's docker ecosystem reads the same lines
// and proposes new tags and digests, so no pin is left to rot in a Go constant. The file is
// parsed with BuildKit's Dockerfile parser; every line must be pinned by digest.
package images

import (
	"bytes"
	"cmp"
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

//go:embed images.Dockerfile
var defaultsFile string

// Image is one default image.
type Image struct {
	// Name is the stage name in images.Dockerfile (trivy, cosign, registry).
	Name string
	// Ref is the full reference: repository:tag@sha256:digest.
	Ref  string
	Line int
}

// Set is the default tool images, each a full reference pinned by digest.
type Set struct {
	Trivy    string // aquasec/trivy: scan gate, SBOM, IaC scan
	Cosign   string // sigstore cosign: sign and verify by digest
	Registry string // CNCF distribution registry: the local registry of `deploy --env local`
}

// names are the entries a defaults file must have, each exactly once, in this order of
// the Set's fields.
var names = []string{"trivy", "cosign", "registry"}

// pinned is repository:tag@sha256:<64 hex>: a tag for people and Dependabot, a digest for
// the engine.
var pinned = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}@sha256:[0-9a-f]{64}$`)

// Defaults returns the default images embedded from images.Dockerfile.
func Defaults() (Set, error) {
	list, err := Parse([]byte(defaultsFile))
	if err != nil {
		return Set{}, fmt.Errorf("default images (images.Dockerfile): %w", err)
	}
	return setOf(list), nil
}

// Resolve returns the images the module runs: each override that is not blank, else the
// default of Defaults.
func Resolve(overrides Set) (Set, error) {
	d, err := Defaults()
	if err != nil {
		return Set{}, err
	}
	return Set{
		Trivy:    cmp.Or(strings.TrimSpace(overrides.Trivy), d.Trivy),
		Cosign:   cmp.Or(strings.TrimSpace(overrides.Cosign), d.Cosign),
		Registry: cmp.Or(strings.TrimSpace(overrides.Registry), d.Registry),
	}, nil
}

// List returns the default images in file order.
func List() ([]Image, error) {
	list, err := Parse([]byte(defaultsFile))
	if err != nil {
		return nil, fmt.Errorf("default images (images.Dockerfile): %w", err)
	}
	return list, nil
}

func setOf(list []Image) Set {
	by := map[string]string{}
	for _, im := range list {
		by[im.Name] = im.Ref
	}
	return Set{Trivy: by["trivy"], Cosign: by["cosign"], Registry: by["registry"]}
}

// Parse reads a defaults file: FROM lines only (comments and blank lines aside), each
// `FROM repository:tag@sha256:digest AS name` with no flag and no variable, one per known
// name (trivy, cosign, registry), each name exactly once.
func Parse(content []byte) ([]Image, error) {
	res, err := parser.Parse(bytes.NewReader(content))
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	seen := map[string]int{}
	var out []Image
	for _, n := range res.AST.Children {
		line := n.StartLine
		if !strings.EqualFold(n.Value, "from") {
			return nil, fmt.Errorf("line %d: %s: only FROM lines are allowed", line, strings.ToUpper(n.Value))
		}
		if len(n.Flags) > 0 {
			return nil, fmt.Errorf("line %d: FROM %s: flags are not allowed", line, strings.Join(n.Flags, " "))
		}
		var args []string
		for a := n.Next; a != nil; a = a.Next {
			args = append(args, a.Value)
		}
		if len(args) != 3 || !strings.EqualFold(args[1], "AS") {
			return nil, fmt.Errorf("line %d: expected `FROM repository:tag@sha256:digest AS name`, got %q", line, strings.TrimSpace(n.Original))
		}
		ref, name := args[0], strings.ToLower(args[2])
		if !pinned.MatchString(ref) {
			return nil, fmt.Errorf("line %d: image %q (%s) must be repository:tag@sha256:<64 hex digits>", line, ref, name)
		}
		if !slices.Contains(names, name) {
			return nil, fmt.Errorf("line %d: unknown image name %q: expected one of %s", line, name, strings.Join(names, ", "))
		}
		if first, dup := seen[name]; dup {
			return nil, fmt.Errorf("line %d: image %q is already defined at line %d", line, name, first)
		}
		seen[name] = line
		out = append(out, Image{Name: name, Ref: ref, Line: line})
	}
	for _, name := range names {
		if _, ok := seen[name]; !ok {
			return nil, fmt.Errorf("image %q is missing: expected a line `FROM repository:tag@sha256:digest AS %s`", name, name)
		}
	}
	return out, nil
}
