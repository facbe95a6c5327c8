// Package taskdef loads, validates and renders Amazon ECS task definitions without talking
// to AWS: it reads the JSON shapes users keep in their repositories (the output of
// `aws ecs describe-task-definition`, wrapped or bare, or a `register-task-definition
// --cli-input-json` document), checks it strictly against the ECS API model shipped with
// aws-sdk-go-v2, sets the image digest and environment of named containers, builds the
// registration tags, and prints canonical JSON and unified diffs.
//
// Every field the ECS API knows round-trips: the document is kept as parsed JSON and turned
// into the SDK's RegisterTaskDefinitionInput by the SDK's own schema-driven deserializer.
package taskdef

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ecs/schemas"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	smithy "github.com/aws/smithy-go"
)

var familyRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// Definition is a validated task definition in the registration shape: read-only fields
// (taskDefinitionArn, revision, status, ...) are dropped and tags are held apart.
type Definition struct {
	source string
	doc    map[string]any
	tags   []types.Tag
}

// Load reads and validates the task definition file at path.
func Load(path string) (*Definition, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read task definition: %w", err)
	}
	return Parse(path, data)
}

// Parse validates data, the content of the task definition file named source (used in
// error messages). It accepts describe-task-definition output ({"taskDefinition": {...},
// "tags": [...]}), a bare task definition, or register-task-definition input.
func Parse(source string, data []byte) (*Definition, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var top any
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("%s: malformed JSON: %s", source, syntaxPosition(data, err))
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: malformed JSON: unexpected data after the top-level object", source)
	}
	obj, ok := top.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: expected a JSON object at the top level, got %s", source, jsonKind(top))
	}

	prefix := ""
	var outerTags any
	if inner, wrapped := obj["taskDefinition"]; wrapped {
		for k := range obj {
			if k != "taskDefinition" && k != "tags" {
				return nil, fmt.Errorf("%s: %s: unknown field (describe-task-definition output has only taskDefinition and tags)", source, k)
			}
		}
		innerObj, ok := inner.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: taskDefinition: expected an object, got %s", source, jsonKind(inner))
		}
		outerTags = obj["tags"]
		obj = innerObj
		prefix = "taskDefinition."
	}

	d := &Definition{source: source, doc: map[string]any{}}
	request := schemas.RegisterTaskDefinitionRequest.Members()
	full := schemas.TaskDefinition.Members()
	keys := slices.Sorted(maps.Keys(obj))
	for _, k := range keys {
		v := obj[k]
		if k == "tags" {
			tags, err := parseTags(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %s%s%w", source, prefix, "tags", err)
			}
			d.tags = tags
			continue
		}
		if m, ok := request[k]; ok {
			if err := check(v, m, prefix+k); err != nil {
				return nil, fmt.Errorf("%s: %w", source, err)
			}
			d.doc[k] = v
			continue
		}
		if _, ok := full[k]; ok {
			continue // read-only field of describe output: dropped before registering
		}
		return nil, fmt.Errorf("%s: %s%s: unknown field%s", source, prefix, k, suggest(k, request))
	}
	if outerTags != nil {
		tags, err := parseTags(outerTags)
		if err != nil {
			return nil, fmt.Errorf("%s: tags%w", source, err)
		}
		d.tags = append(d.tags, tags...)
	}
	if err := d.checkRequired(prefix); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return d, nil
}

func (d *Definition) checkRequired(prefix string) error {
	fam, _ := d.doc["family"].(string)
	if fam == "" {
		return fmt.Errorf("%sfamily: required, expected a non-empty string", prefix)
	}
	if !familyRE.MatchString(fam) {
		return fmt.Errorf("%sfamily: %q: expected up to 255 letters, digits, hyphens and underscores", prefix, fam)
	}
	cds, _ := d.doc["containerDefinitions"].([]any)
	if len(cds) == 0 {
		return fmt.Errorf("%scontainerDefinitions: required, expected at least one container", prefix)
	}
	seen := map[string]bool{}
	for i, c := range cds {
		cm, _ := c.(map[string]any)
		name, _ := cm["name"].(string)
		if name == "" {
			return fmt.Errorf("%scontainerDefinitions[%d].name: required, expected a non-empty string", prefix, i)
		}
		if seen[name] {
			return fmt.Errorf("%scontainerDefinitions[%d].name: duplicate container name %q", prefix, i, name)
		}
		seen[name] = true
		if img, _ := cm["image"].(string); img == "" {
			return fmt.Errorf("%scontainerDefinitions[%d].image: required, expected an image reference", prefix, i)
		}
	}
	return nil
}

// Source is the file (or label) the definition was read from.
func (d *Definition) Source() string { return d.source }

// Family is the task definition family.
func (d *Definition) Family() string {
	s, _ := d.doc["family"].(string)
	return s
}

// ContainerNames lists the containers in file order.
func (d *Definition) ContainerNames() []string {
	var names []string
	for _, c := range d.containers() {
		n, _ := c["name"].(string)
		names = append(names, n)
	}
	return names
}

// Images maps each container name to its image reference.
func (d *Definition) Images() map[string]string {
	out := map[string]string{}
	for _, c := range d.containers() {
		n, _ := c["name"].(string)
		img, _ := c["image"].(string)
		out[n] = img
	}
	return out
}

// FileTags are the tags the file itself carries (describe output tags or input tags).
func (d *Definition) FileTags() []types.Tag { return append([]types.Tag(nil), d.tags...) }

func (d *Definition) containers() []map[string]any {
	cds, _ := d.doc["containerDefinitions"].([]any)
	out := make([]map[string]any, 0, len(cds))
	for _, c := range cds {
		if cm, ok := c.(map[string]any); ok {
			out = append(out, cm)
		}
	}
	return out
}

// clone deep-copies the definition so that rendering never changes its input.
func (d *Definition) clone() *Definition {
	return &Definition{source: d.source, doc: deepCopy(d.doc).(map[string]any), tags: append([]types.Tag(nil), d.tags...)}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	default:
		return v
	}
}

func parseTags(v any) ([]types.Tag, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf(": expected a list of {key, value} objects, got %s", jsonKind(v))
	}
	var tags []types.Tag
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("[%d]: expected an object with key and value, got %s", i, jsonKind(e))
		}
		var t types.Tag
		for k, fv := range m {
			s, ok := fv.(string)
			if !ok {
				return nil, fmt.Errorf("[%d].%s: expected a string, got %s", i, k, jsonKind(fv))
			}
			switch k {
			case "key":
				t.Key = &s
			case "value":
				t.Value = &s
			default:
				return nil, fmt.Errorf("[%d].%s: unknown field (expected key and value)", i, k)
			}
		}
		if t.Key == nil {
			return nil, fmt.Errorf("[%d].key: required", i)
		}
		tags = append(tags, t)
	}
	return tags, nil
}

// check validates a JSON value against the ECS API model member schema s at path.
func check(v any, s *smithy.Schema, path string) error {
	if v == nil {
		return nil // JSON null: the field is absent
	}
	switch s.Type() {
	case smithy.ShapeTypeString, smithy.ShapeTypeEnum, smithy.ShapeTypeBlob:
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: expected a string, got %s", path, jsonKind(v))
		}
	case smithy.ShapeTypeBoolean:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: expected a boolean, got %s", path, jsonKind(v))
		}
	case smithy.ShapeTypeInteger, smithy.ShapeTypeLong, smithy.ShapeTypeShort, smithy.ShapeTypeByte, smithy.ShapeTypeIntEnum:
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s: expected a number, got %s", path, jsonKind(v))
		}
		i, err := n.Int64()
		if err != nil {
			return fmt.Errorf("%s: expected a whole number, got %s", path, n)
		}
		if s.Type() != smithy.ShapeTypeLong && (i > 1<<31-1 || i < -1<<31) {
			return fmt.Errorf("%s: %d is out of range for a 32-bit integer", path, i)
		}
	case smithy.ShapeTypeFloat, smithy.ShapeTypeDouble, smithy.ShapeTypeBigDecimal, smithy.ShapeTypeBigInteger:
		if _, ok := v.(json.Number); !ok {
			return fmt.Errorf("%s: expected a number, got %s", path, jsonKind(v))
		}
	case smithy.ShapeTypeTimestamp:
		switch v.(type) {
		case json.Number, string:
		default:
			return fmt.Errorf("%s: expected a timestamp, got %s", path, jsonKind(v))
		}
	case smithy.ShapeTypeList, smithy.ShapeTypeSet:
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: expected a list, got %s", path, jsonKind(v))
		}
		for i, e := range list {
			if err := check(e, s.ListMember(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case smithy.ShapeTypeMap:
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: expected an object, got %s", path, jsonKind(v))
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if err := check(m[k], s.MapValue(), path+"."+k); err != nil {
				return err
			}
		}
	case smithy.ShapeTypeStructure, smithy.ShapeTypeUnion:
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: expected an object, got %s", path, jsonKind(v))
		}
		members := s.Members()
		for _, k := range slices.Sorted(maps.Keys(m)) {
			ms, ok := members[k]
			if !ok {
				return fmt.Errorf("%s.%s: unknown field%s", path, k, suggest(k, members))
			}
			if err := check(m[k], ms, path+"."+k); err != nil {
				return err
			}
		}
		if s.Type() == smithy.ShapeTypeUnion && len(m) != 1 {
			return fmt.Errorf("%s: expected exactly one member", path)
		}
	case smithy.ShapeTypeDocument:
	default:
		return fmt.Errorf("%s: unsupported field type", path)
	}
	return nil
}

func suggest(k string, members map[string]*smithy.Schema) string {
	for name := range members {
		if strings.EqualFold(name, k) {
			return fmt.Sprintf(" (did you mean %q? field names are case-sensitive)", name)
		}
	}
	return ""
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func syntaxPosition(data []byte, err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "the file is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of file (unclosed object or list?)"
	}
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 {
		return err.Error()
	}
	line, col := 1, 1
	for i := int64(0); i < off-1 && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}
