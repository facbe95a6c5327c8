package fakeaws_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/fakeaws"
)

// The services the pre-deploy and preflight steps call are routed by their SigV4 signing
// names (logs, secretsmanager, ssm), all JSON 1.1.
func TestRoutingOfTheLogsSecretsAndParameterServices(t *testing.T) {
	srv := fakeaws.New(t)
	cfg := srv.Config(t)
	ctx := context.Background()
	tests := []struct {
		service, op string
		call        func() error
	}{
		{"logs", "GetLogEvents", func() error {
			_, err := cloudwatchlogs.NewFromConfig(cfg).GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s")})
			return err
		}},
		{"secretsmanager", "DescribeSecret", func() error {
			_, err := secretsmanager.NewFromConfig(cfg).DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("x")})
			return err
		}},
		{"ssm", "DescribeParameters", func() error {
			_, err := ssm.NewFromConfig(cfg).DescribeParameters(ctx, &ssm.DescribeParametersInput{})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			srv.HandleJSON(tt.service, tt.op, func([]byte) (any, error) { return map[string]any{}, nil })
			require.NoError(t, tt.call())
			assert.Equal(t, 1, srv.Calls(tt.service, tt.op))
		})
	}
}
