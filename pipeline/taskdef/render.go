package taskdef

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"dagger/fargate/pipeline/redact"
)

// RenderOptions says what to change in a definition.
type RenderOptions struct {
	// Containers are the names of the containers whose image is set. Required when Image is set.
	Containers []string
	// Image is the reference to run, preferably by digest: registry/repo@sha256:<64 hex>.
	// A tag-only reference is accepted with a warning.
	Image string
	// Environment variables to add to (or replace in) the named containers. Values that look
	// like credentials are refused: pass those through secrets[].valueFrom.
	Environment map[string]string
}

// Rendered is the result of Render.
type Rendered struct {
	// Definition is the rendered copy; the input definition is unchanged.
	Definition *Definition
	// Digest is the image digest (sha256:...) of Image, empty for a tag-only reference.
	Digest string
	// Warnings are non-fatal findings, e.g. an image referenced by tag.
	Warnings []string
}

// The reference grammar of the distribution project: [domain[:port]/]path[:tag][@digest].
const (
	refDomain = `(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?/)?`
	refPath   = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*`
	refTag    = `:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
)

var (
	digestRE  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	repoRE    = regexp.MustCompile(`^` + refDomain + refPath + `$`)
	repoTagRE = regexp.MustCompile(`^` + refDomain + refPath + refTag + `$`)
)

// ImageDigest validates an image reference and returns its digest ("sha256:<64 hex>"), or ""
// with no error for a valid tag-only reference.
func ImageDigest(ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("image reference: required")
	}
	if strings.TrimSpace(ref) != ref || strings.ContainsAny(ref, " \t\n") {
		return "", fmt.Errorf("image reference %q: contains whitespace", ref)
	}
	if base, dig, ok := strings.Cut(ref, "@"); ok {
		if !digestRE.MatchString(dig) {
			return "", fmt.Errorf("image reference %q: expected a digest of the form sha256:<64 lowercase hex digits> after '@'", ref)
		}
		if !repoRE.MatchString(base) && !repoTagRE.MatchString(base) {
			return "", fmt.Errorf("image reference %q: invalid repository %q: expected [registry/]path with lowercase path components", ref, base)
		}
		return dig, nil
	}
	if !repoTagRE.MatchString(ref) {
		return "", fmt.Errorf("image reference %q: expected registry/repository@sha256:<digest> (or registry/repository:tag)", ref)
	}
	return "", nil
}

// Render returns a copy of d with the image and environment of the named containers set.
func (d *Definition) Render(opts RenderOptions) (*Rendered, error) {
	out := &Rendered{Definition: d.clone()}
	out.Definition.source = d.source + " (rendered)"
	if opts.Image == "" && len(opts.Environment) == 0 {
		if err := checkEnvironment(out.Definition); err != nil {
			return nil, err
		}
		return out, nil
	}
	if len(opts.Containers) == 0 {
		return nil, fmt.Errorf("render %s: containers: name at least one container to update (the file has %s)", d.source, quoteList(d.ContainerNames()))
	}
	byName := map[string]map[string]any{}
	for _, c := range out.Definition.containers() {
		n, _ := c["name"].(string)
		byName[n] = c
	}
	for _, n := range opts.Containers {
		if _, ok := byName[n]; !ok {
			return nil, fmt.Errorf("render %s: container %q not found; the task definition has %s", d.source, n, quoteList(d.ContainerNames()))
		}
	}
	if opts.Image != "" {
		dig, err := ImageDigest(opts.Image)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", d.source, err)
		}
		out.Digest = dig
		if dig == "" {
			out.Warnings = append(out.Warnings, fmt.Sprintf("image %q is referenced by tag, not by digest: what runs can change under the same tag, and signatures cannot be verified against it", opts.Image))
		}
		for _, n := range opts.Containers {
			byName[n]["image"] = opts.Image
		}
	}
	for _, k := range slices.Sorted(maps.Keys(opts.Environment)) {
		if !envNameRE.MatchString(k) {
			return nil, fmt.Errorf("render %s: environment variable name %q: expected letters, digits and underscores, not starting with a digit", d.source, k)
		}
	}
	for _, n := range opts.Containers {
		setEnv(byName[n], opts.Environment)
	}
	if err := checkEnvironment(out.Definition); err != nil {
		return nil, err
	}
	return out, nil
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func setEnv(c map[string]any, env map[string]string) {
	if len(env) == 0 {
		return
	}
	list, _ := c["environment"].([]any)
	done := map[string]bool{}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		n, _ := m["name"].(string)
		if v, ok := env[n]; ok {
			m["value"] = v
			done[n] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if !done[k] {
			list = append(list, map[string]any{"name": k, "value": env[k]})
		}
	}
	c["environment"] = list
}

// CheckEnvironment refuses plain environment variables that carry credentials, as
// redact.SecretReason decides (Render does it too). The error names the container and the
// variable, never the value.
func (d *Definition) CheckEnvironment() error { return checkEnvironment(d) }

func checkEnvironment(d *Definition) error {
	for _, c := range d.containers() {
		cname, _ := c["name"].(string)
		list, _ := c["environment"].([]any)
		for _, e := range list {
			m, _ := e.(map[string]any)
			n, _ := m["name"].(string)
			v, _ := m["value"].(string)
			if why := redact.SecretReason(n, v); why != "" {
				return fmt.Errorf("render %s: container %q: environment variable %s %s; pass it through secrets[].valueFrom (Secrets Manager or SSM Parameter Store) instead",
					d.source, cname, n, why)
			}
		}
	}
	return nil
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	sort.Strings(q)
	return strings.Join(q, ", ")
}
