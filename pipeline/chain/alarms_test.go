package chain_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/chain"
	"dagger/fargate/pipeline/internal/cloudwatchfake"
	"dagger/fargate/pipeline/internal/fakeaws"
)

// Issue #17 item 6c: ECS ignores an alarm already in ALARM when a deployment starts. The
// deploy reads the alarms' states first (CloudWatch DescribeAlarms, on the wire) and warns,
// naming the alarm; a read failure is a warning too, and the deploy goes on.
func TestDeployWarnsAboutAlarmsAlreadyFiring(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(w *world)
		want    []string
		notWant string
	}{
		{name: "quiet alarms", want: []string{"alarms: 2 deployment alarm(s), none in ALARM"}, notWant: "WARNING"},
		{name: "one alarm firing",
			setup: func(w *world) {
				w.cw.SetAlarm(cloudwatchfake.State{Name: "sample-app-prod-5xx-rate", Value: cloudwatchfake.Alarm, Reason: "Threshold Crossed"})
			},
			want: []string{"WARNING: alarm sample-app-prod-5xx-rate is already in ALARM", "Threshold Crossed", "ECS ignores an alarm that is already in ALARM"}},
		{name: "alarms cannot be read",
			setup: func(w *world) {
				w.srv.FailNext(cloudwatchfake.Service, "DescribeAlarms", fakeaws.Errorf("AccessDenied", "not authorized to perform cloudwatch:DescribeAlarms"))
			},
			want: []string{"WARNING: could not read the deployment alarms (sample-app-prod-5xx-rate, sample-app-prod-target-latency)", "AccessDenied"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
			require.NoError(t, err, reportOf(out, err))
			assert.Zero(t, w.srv.Calls(cloudwatchfake.Service, "DescribeAlarms"), "preprod has no deployment alarms")
			if tt.setup != nil {
				tt.setup(w)
			}
			w.caller = prodAccount
			w.log.Reset()
			out, err = w.s.Deploy(context.Background(), chain.DeployRequest{Env: "prod", ApprovedBy: "alice"})
			require.NoError(t, err, "a warning does not stop the deploy: %s", reportOf(out, err))
			w.assertNoSecrets(out, err)
			assert.Equal(t, "**DEPLOYED: sample-app-prod:2**", headline(t, out))
			for _, s := range tt.want {
				assert.Contains(t, w.log.String(), s)
				assert.Contains(t, out, s[len("WARNING: "):min(len(s), 60)], "the report says it too")
			}
			if tt.notWant != "" {
				assert.NotContains(t, w.log.String(), tt.notWant)
				assert.NotContains(t, out, "[!WARNING]")
			} else {
				assert.Contains(t, out, "> [!WARNING]")
			}
			assert.Equal(t, 1, w.srv.Calls(cloudwatchfake.Service, "DescribeAlarms"))
		})
	}
}
