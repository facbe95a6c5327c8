package ecsfake

import (
	"encoding/json"
	"fmt"

	smithy "github.com/aws/smithy-go"

	"dagger/fargate/pipeline/internal/ecsjson"
)

// The fake answers with the SDK's own ECS JSON codec (package ecsjson), so its wire shapes
// (member names, epoch-seconds timestamps) are exactly those the real client parses.

// encode serializes an SDK shape (an operation output or a type) described by schema.
func encode(v smithy.Serializable, schema *smithy.Schema) (json.RawMessage, error) {
	data, err := ecsjson.Encode(v, schema)
	if err != nil {
		return nil, fmt.Errorf("ecsfake: encode %s: %w", schema.ID().Name, err)
	}
	return json.RawMessage(data), nil
}

// decode deserializes a JSON document into an SDK shape.
func decode(data []byte, schema *smithy.Schema, out smithy.Deserializable) error {
	if err := ecsjson.Decode(data, schema, out); err != nil {
		return fmt.Errorf("ecsfake: decode %s: %w", schema.ID().Name, err)
	}
	return nil
}
