// Package ecsjson converts between ECS JSON documents and the aws-sdk-go-v2 ECS types with
// the SDK's own ECS JSON codec (the one its client uses on the wire), so every member of the
// API model maps exactly as the real client maps it: member names, epoch-second timestamps.
package ecsjson

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/ecs/schemas"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
)

func codec() *awsjson.Protocol { return awsjson.New11(schemas.AmazonEC2ContainerServiceV20141113) }

// operation wraps a shape's schema as the input or output of an operation, which the codec
// needs; the operation itself only names the X-Amz-Target header, which is not kept.
func operation(input, output *smithy.Schema) *smithy.OperationSchema {
	return smithy.NewOperationSchema(schemas.DescribeServices, input, output)
}

// Encode serializes an SDK value (an operation's input or output, or a type) that schema
// describes into its ECS JSON document.
func Encode(v smithy.Serializable, schema *smithy.Schema) ([]byte, error) {
	req := smithyhttp.NewStackRequest().(*smithyhttp.Request)
	if err := codec().SerializeRequest(context.Background(), operation(schema, nil), v, req); err != nil {
		return nil, err
	}
	return io.ReadAll(req.GetStream())
}

// Decode deserializes an ECS JSON document into out, an SDK value that schema describes.
func Decode(data []byte, schema *smithy.Schema, out smithy.Deserializable) error {
	resp := &smithyhttp.Response{Response: &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(data)),
	}}
	return codec().DeserializeResponse(context.Background(), operation(nil, schema), nil, resp, out)
}
