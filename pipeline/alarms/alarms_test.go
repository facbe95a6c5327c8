package alarms_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/alarms"
	"dagger/fargate/pipeline/internal/cloudwatchfake"
	"dagger/fargate/pipeline/internal/fakeaws"
)

// The real CloudWatch client (Smithy RPC v2 CBOR) against the wire-level fake.
func TestReadAlarmStates(t *testing.T) {
	since := time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name    string
		alarms  []cloudwatchfake.State
		ask     []string
		want    []alarms.State
		missing []string
	}{
		{name: "all OK",
			alarms: []cloudwatchfake.State{{Name: "5xx", Value: cloudwatchfake.OK, Reason: "fine", UpdatedAt: since}, {Name: "latency", Value: cloudwatchfake.OK, UpdatedAt: since}},
			ask:    []string{"5xx", "latency"},
			want:   []alarms.State{{Name: "5xx", Value: "OK", Reason: "fine", Since: since}, {Name: "latency", Value: "OK", Since: since}}},
		{name: "one firing, one composite firing, one missing",
			alarms: []cloudwatchfake.State{
				{Name: "5xx", Value: cloudwatchfake.Alarm, Reason: "Threshold Crossed: 1 datapoint [12.0] was greater than 5.0", UpdatedAt: since},
				{Name: "health", Value: cloudwatchfake.Alarm, Composite: true, UpdatedAt: since},
				{Name: "unrelated", Value: cloudwatchfake.Alarm, UpdatedAt: since},
			},
			ask: []string{"5xx", "health", "gone"},
			want: []alarms.State{
				{Name: "5xx", Value: "ALARM", Reason: "Threshold Crossed: 1 datapoint [12.0] was greater than 5.0", Since: since},
				{Name: "health", Value: "ALARM", Since: since},
			},
			missing: []string{"gone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeaws.New(t)
			fake := cloudwatchfake.New(srv, "111122223333", "eu-west-1")
			for _, a := range tt.alarms {
				fake.SetAlarm(a)
			}
			res, err := alarms.Read(context.Background(), cloudwatch.NewFromConfig(srv.Config(t)), tt.ask)
			require.NoError(t, err)
			assert.Equal(t, tt.want, res.States)
			assert.Equal(t, tt.missing, res.Missing)
			for _, s := range res.States {
				assert.Equal(t, s.Value == "ALARM", s.Firing())
			}
			assert.Equal(t, 1, srv.Calls(cloudwatchfake.Service, "DescribeAlarms"))
		})
	}
}

func TestReadAlarmStatesFailure(t *testing.T) {
	srv := fakeaws.New(t)
	cloudwatchfake.New(srv, "111122223333", "eu-west-1")
	srv.FailNext(cloudwatchfake.Service, "DescribeAlarms", fakeaws.Errorf("AccessDenied", "not authorized to perform cloudwatch:DescribeAlarms"))
	_, err := alarms.Read(context.Background(), cloudwatch.NewFromConfig(srv.Config(t)), []string{"5xx"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AccessDenied")
	assert.Contains(t, err.Error(), "describe alarms [5xx]")
}
