package taskdef

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/schemas"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	smithy "github.com/aws/smithy-go"

	"dagger/fargate/pipeline/internal/ecsjson"
)

// The SDK's own ECS JSON codec (package ecsjson) converts between the JSON document and the
// SDK types, so every member of the API model maps losslessly.

// decodeTaskDefinition turns a task definition JSON document into the SDK type.
func decodeTaskDefinition(data []byte) (types.TaskDefinition, error) {
	var td types.TaskDefinition
	err := ecsjson.Decode(data, schemas.TaskDefinition, &td)
	return td, err
}

// encodeShape turns an SDK value into its ECS JSON document.
func encodeShape(v smithy.Serializable, schema *smithy.Schema) (map[string]any, error) {
	data, err := ecsjson.Encode(v, schema)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// TaskDefinition returns the definition as the SDK's task definition type (the shape the
// policy engine evaluates). Read-only fields are empty.
func (d *Definition) TaskDefinition() (types.TaskDefinition, error) {
	data, err := json.Marshal(d.doc)
	if err != nil {
		return types.TaskDefinition{}, fmt.Errorf("%s: encode task definition: %w", d.source, err)
	}
	td, err := decodeTaskDefinition(data)
	if err != nil {
		return types.TaskDefinition{}, fmt.Errorf("%s: decode task definition: %w", d.source, err)
	}
	return td, nil
}

// RegisterInput returns the ecs.RegisterTaskDefinitionInput that registers this definition,
// with the file's tags followed by extra (a later key replaces an earlier one).
func (d *Definition) RegisterInput(extra ...types.Tag) (*ecs.RegisterTaskDefinitionInput, error) {
	td, err := d.TaskDefinition()
	if err != nil {
		return nil, err
	}
	in := &ecs.RegisterTaskDefinitionInput{}
	copySameNamedFields(reflect.ValueOf(in).Elem(), reflect.ValueOf(td))
	in.Tags = MergeTags(d.tags, extra)
	return in, nil
}

// copySameNamedFields copies every exported field of src into the field of dst with the same
// name and type. RegisterTaskDefinitionInput's members are a subset of TaskDefinition's
// (tags aside), which a test keeps true for new SDK versions.
func copySameNamedFields(dst, src reflect.Value) {
	st := src.Type()
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		if !f.IsExported() {
			continue
		}
		df := dst.FieldByName(f.Name)
		if df.IsValid() && df.CanSet() && df.Type() == f.Type {
			df.Set(src.Field(i))
		}
	}
}

// FromSDK builds a Definition from a task definition read from ECS (DescribeTaskDefinition),
// dropping read-only fields, so that it can be compared with a rendered one.
func FromSDK(source string, td *types.TaskDefinition, tags []types.Tag) (*Definition, error) {
	if td == nil {
		return nil, fmt.Errorf("%s: no task definition", source)
	}
	m, err := encodeShape(td, schemas.TaskDefinition)
	if err != nil {
		return nil, fmt.Errorf("%s: encode task definition: %w", source, err)
	}
	request := schemas.RegisterTaskDefinitionRequest.Members()
	d := &Definition{source: source, doc: map[string]any{}, tags: append([]types.Tag(nil), tags...)}
	for k, v := range m {
		if _, ok := request[k]; ok && k != "tags" {
			d.doc[k] = v
		}
	}
	return d, nil
}

// MergeTags returns base followed by over, where a key in over replaces the same key in base.
func MergeTags(base, over []types.Tag) []types.Tag {
	idx := map[string]int{}
	var out []types.Tag
	for _, list := range [][]types.Tag{base, over} {
		for _, t := range list {
			k := deref(t.Key)
			if i, ok := idx[k]; ok {
				out[i] = t
				continue
			}
			idx[k] = len(out)
			out = append(out, t)
		}
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
