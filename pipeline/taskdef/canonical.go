package taskdef

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/pmezard/go-difflib/difflib"

	"dagger/fargate/pipeline/redact"
)

// Redacted replaces, in CanonicalJSON, the value of an environment variable that looks like
// a credential (redact.SecretReason; a running definition may hold one, Render never lets one
// through).
const Redacted = "<redacted: looks like a credential>"

// CanonicalJSON is the definition in registration shape with keys sorted, two-space indent
// and empty lists/objects and nulls removed (ECS fills those in on describe), so that two
// equivalent definitions print identically. Credential-like environment values are redacted.
func (d *Definition) CanonicalJSON() ([]byte, error) {
	doc := prune(deepCopy(d.doc)).(map[string]any)
	redactCredentials(doc)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("%s: encode canonical JSON: %w", d.source, err)
	}
	return buf.Bytes(), nil
}

func redactCredentials(doc map[string]any) {
	cds, _ := doc["containerDefinitions"].([]any)
	for _, c := range cds {
		cm, _ := c.(map[string]any)
		env, _ := cm["environment"].([]any)
		for _, e := range env {
			m, _ := e.(map[string]any)
			n, _ := m["name"].(string)
			v, _ := m["value"].(string)
			if m != nil && redact.SecretReason(n, v) != "" {
				m["value"] = Redacted
			}
		}
	}
}

func prune(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := prune(e)
			if empty(p) {
				delete(x, k)
				continue
			}
			x[k] = p
		}
		return x
	case []any:
		out := x[:0]
		for _, e := range x {
			if p := prune(e); !empty(p) {
				out = append(out, p)
			}
		}
		return out
	}
	return v
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// Diff is a unified diff from old to new over their canonical JSON, labelled with their
// sources; it is empty when they are equivalent.
func Diff(old, new *Definition) (string, error) {
	a, err := old.CanonicalJSON()
	if err != nil {
		return "", err
	}
	b, err := new.CanonicalJSON()
	if err != nil {
		return "", err
	}
	if bytes.Equal(a, b) {
		return "", nil
	}
	out, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        difflib.SplitLines(string(a)),
		B:        difflib.SplitLines(string(b)),
		FromFile: old.source,
		ToFile:   new.source,
		Context:  3,
	})
	if err != nil {
		return "", fmt.Errorf("diff %s and %s: %w", old.source, new.source, err)
	}
	return out, nil
}
