package fakeaws_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/encoding/cbor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/fakeaws"
)

func TestJSONOperationAndFaults(t *testing.T) {
	srv := fakeaws.New(t)
	srv.HandleJSON("ecs", "ListClusters", func([]byte) (any, error) {
		return map[string]any{"clusterArns": []string{"arn:aws:ecs:eu-west-1:111122223333:cluster/a"}}, nil
	})
	client := ecs.NewFromConfig(srv.Config(t))

	// Two throttles then success: the SDK retries through them.
	srv.FailNext("ecs", "ListClusters", fakeaws.Throttling(), fakeaws.ServerError())
	out, err := client.ListClusters(context.Background(), &ecs.ListClustersInput{})
	require.NoError(t, err)
	assert.Equal(t, []string{"arn:aws:ecs:eu-west-1:111122223333:cluster/a"}, out.ClusterArns)
	assert.Equal(t, 3, srv.Calls("ecs", "ListClusters"))

	// A client error is not retried and keeps its code.
	srv.FailNext("ecs", "ListClusters", fakeaws.Errorf("AccessDeniedException", "not allowed"))
	_, err = client.ListClusters(context.Background(), &ecs.ListClustersInput{})
	var apiErr smithy.APIError
	require.True(t, errors.As(err, &apiErr))
	assert.Equal(t, "AccessDeniedException", apiErr.ErrorCode())
	assert.Equal(t, 4, srv.Calls("ecs", "ListClusters"))
}

func TestQueryOperationAndError(t *testing.T) {
	srv := fakeaws.New(t)
	srv.HandleQuery("sts", "GetCallerIdentity", func(url.Values) (string, error) {
		return `<Account>111122223333</Account><Arn>arn:aws:iam::111122223333:user/ci</Arn><UserId>AIDA</UserId>`, nil
	})
	client := sts.NewFromConfig(srv.Config(t))
	out, err := client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Equal(t, "111122223333", aws.ToString(out.Account))

	srv.FailNext("sts", "GetCallerIdentity", fakeaws.Errorf("ExpiredToken", "token expired"))
	_, err = client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	var apiErr smithy.APIError
	require.True(t, errors.As(err, &apiErr))
	assert.Equal(t, "ExpiredToken", apiErr.ErrorCode())
}

func TestUnknownOperationIsAnError(t *testing.T) {
	srv := fakeaws.New(t)
	client := ecs.NewFromConfig(srv.Config(t))
	_, err := client.ListClusters(context.Background(), &ecs.ListClustersInput{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "UnknownOperationException")
}

func TestQueryList(t *testing.T) {
	tests := []struct {
		name   string
		form   url.Values
		prefix string
		want   []string
	}{
		{"members in order", url.Values{"SubnetId.1": {"subnet-a"}, "SubnetId.2": {"subnet-b"}}, "SubnetId", []string{"subnet-a", "subnet-b"}},
		{"dotted prefix", url.Values{"Capabilities.member.1": {"CAPABILITY_IAM"}}, "Capabilities.member", []string{"CAPABILITY_IAM"}},
		{"stops at the first gap", url.Values{"SubnetId.1": {"subnet-a"}, "SubnetId.3": {"subnet-c"}}, "SubnetId", []string{"subnet-a"}},
		{"other members ignored", url.Values{"GroupId.1": {"sg-1"}, "Action": {"DescribeSubnets"}}, "SubnetId", nil},
		{"empty list", url.Values{}, "SubnetId", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, fakeaws.QueryList(tt.form, tt.prefix))
		})
	}
}

// Smithy RPC v2 CBOR (CloudWatch): the real client's request reaches the handler decoded, its
// answer and errors are read back, retries go through throttling.
func TestCBOROperationAndFaults(t *testing.T) {
	srv := fakeaws.New(t)
	var got cbor.Map
	srv.HandleCBOR("monitoring", "DescribeAlarms", func(in cbor.Map) (cbor.Map, error) {
		got = in
		return cbor.Map{"MetricAlarms": cbor.List{cbor.Map{"AlarmName": cbor.String("a"), "StateValue": cbor.String("ALARM")}}}, nil
	})
	client := cloudwatch.NewFromConfig(srv.Config(t))
	srv.FailNext("monitoring", "DescribeAlarms", fakeaws.Throttling())
	out, err := client.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"a"}})
	require.NoError(t, err)
	require.Len(t, out.MetricAlarms, 1)
	assert.Equal(t, "a", aws.ToString(out.MetricAlarms[0].AlarmName))
	assert.Equal(t, "ALARM", string(out.MetricAlarms[0].StateValue))
	assert.Equal(t, cbor.List{cbor.String("a")}, got["AlarmNames"])
	assert.Equal(t, 2, srv.Calls("monitoring", "DescribeAlarms"))

	_, err = client.DescribeAlarmHistory(context.Background(), &cloudwatch.DescribeAlarmHistoryInput{})
	var apiErr smithy.APIError
	require.True(t, errors.As(err, &apiErr), "%v", err)
	assert.Equal(t, "UnknownOperationException", apiErr.ErrorCode())
}
