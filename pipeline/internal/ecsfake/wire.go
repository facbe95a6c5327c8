package ecsfake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/ecs/schemas"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
)

// The fake answers with the SDK's own ECS JSON serializer, so its wire shapes (member names,
// epoch-seconds timestamps) are exactly those the real client parses.
func codec() *awsjson.Protocol { return awsjson.New11(schemas.AmazonEC2ContainerServiceV20141113) }

// encode serializes an SDK shape (an operation output or a type) described by schema.
func encode(v smithy.Serializable, schema *smithy.Schema) (json.RawMessage, error) {
	req := smithyhttp.NewStackRequest().(*smithyhttp.Request)
	op := smithy.NewOperationSchema(schemas.DescribeServices, schema, nil)
	if err := codec().SerializeRequest(context.Background(), op, v, req); err != nil {
		return nil, fmt.Errorf("ecsfake: encode %s: %w", schema.ID().Name, err)
	}
	data, err := io.ReadAll(req.GetStream())
	if err != nil {
		return nil, err
	}
	return json.RawMessage(data), nil
}

// decode deserializes a JSON document into an SDK shape.
func decode(data []byte, schema *smithy.Schema, out smithy.Deserializable) error {
	resp := &smithyhttp.Response{Response: &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(data)),
	}}
	op := smithy.NewOperationSchema(schemas.DescribeServices, nil, schema)
	if err := codec().DeserializeResponse(context.Background(), op, nil, resp, out); err != nil {
		return fmt.Errorf("ecsfake: decode %s: %w", schema.ID().Name, err)
	}
	return nil
}
