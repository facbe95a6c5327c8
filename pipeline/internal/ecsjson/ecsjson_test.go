package ecsjson

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/schemas"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodeWritesTheWireShape(t *testing.T) {
	tests := []struct {
		name   string
		encode func() ([]byte, error)
		want   string
	}{
		{
			name: "task definition members",
			encode: func() ([]byte, error) {
				return Encode(&types.TaskDefinition{Family: aws.String("app"), Cpu: aws.String("256"),
					ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("web"), Essential: aws.Bool(true)}}}, schemas.TaskDefinition)
			},
			want: `{"containerDefinitions":[{"essential":true,"name":"web"}],"cpu":"256","family":"app"}`,
		},
		{
			name: "timestamps as epoch seconds",
			encode: func() ([]byte, error) {
				return Encode(&types.TaskDefinition{RegisteredAt: aws.Time(time.Unix(1767225600, 0))}, schemas.TaskDefinition)
			},
			want: `{"registeredAt":1767225600}`,
		},
		{
			name: "operation output",
			encode: func() ([]byte, error) {
				return Encode(&ecs.ListTasksOutput{TaskArns: []string{"arn:aws:ecs:eu-west-1:1:task/c/1"}}, schemas.ListTasksResponse)
			},
			want: `{"taskArns":["arn:aws:ecs:eu-west-1:1:task/c/1"]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.encode()
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(got))
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    types.TaskDefinition
		wantErr bool
	}{
		{
			name: "members and timestamps",
			doc:  `{"family":"app","revision":3,"registeredAt":1767225600,"containerDefinitions":[{"name":"web","portMappings":[{"containerPort":8080}]}]}`,
			want: types.TaskDefinition{Family: aws.String("app"), Revision: 3, RegisteredAt: aws.Time(time.Unix(1767225600, 0)),
				ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("web"), PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}}}}},
		},
		{name: "not JSON", doc: `{"family":`, wantErr: true},
		{name: "wrong member type", doc: `{"family":7}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got types.TaskDefinition
			err := Decode([]byte(tt.doc), schemas.TaskDefinition, &got)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want.Family, got.Family)
			assert.Equal(t, tt.want.Revision, got.Revision)
			assert.True(t, tt.want.RegisteredAt.Equal(*got.RegisteredAt))
			assert.Equal(t, tt.want.ContainerDefinitions, got.ContainerDefinitions)
		})
	}
}
