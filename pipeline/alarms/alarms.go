// Package alarms reads the state of an environment's deployment alarms before a deploy. ECS
// ignores an alarm that is already in ALARM when a deployment starts (it watches for alarms
// that go into ALARM during the deployment), so such an alarm protects nothing: the pipeline
// warns about it instead of trusting it.
package alarms

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// Client is the CloudWatch API the check uses.
type Client interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

// State is one alarm's state.
type State struct {
	Name   string
	Value  string // OK, ALARM or INSUFFICIENT_DATA
	Reason string
	Since  time.Time
}

// Firing reports whether the alarm is in ALARM.
func (s State) Firing() bool { return s.Value == string(types.StateValueAlarm) }

// Result is the states of the alarms asked for, and the names CloudWatch does not know.
type Result struct {
	States  []State
	Missing []string
}

// maxNames is how many alarm names DescribeAlarms takes at once.
const maxNames = 100

// Read reads the states of the named alarms, metric and composite alike.
func Read(ctx context.Context, c Client, names []string) (Result, error) {
	var res Result
	seen := map[string]bool{}
	for chunk := range slices.Chunk(names, maxNames) {
		in := &cloudwatch.DescribeAlarmsInput{
			AlarmNames: chunk,
			AlarmTypes: []types.AlarmType{types.AlarmTypeMetricAlarm, types.AlarmTypeCompositeAlarm},
		}
		for p := cloudwatch.NewDescribeAlarmsPaginator(c, in); p.HasMorePages(); {
			out, err := p.NextPage(ctx)
			if err != nil {
				return Result{}, fmt.Errorf("describe alarms %v: %w", chunk, err)
			}
			for _, a := range out.MetricAlarms {
				res.States = append(res.States, state(a.AlarmName, a.StateValue, a.StateReason, a.StateUpdatedTimestamp))
			}
			for _, a := range out.CompositeAlarms {
				res.States = append(res.States, state(a.AlarmName, a.StateValue, a.StateReason, a.StateUpdatedTimestamp))
			}
		}
	}
	for _, s := range res.States {
		seen[s.Name] = true
	}
	for _, n := range names {
		if !seen[n] {
			res.Missing = append(res.Missing, n)
		}
	}
	return res, nil
}

func state(name *string, value types.StateValue, reason *string, since *time.Time) State {
	s := State{Value: string(value)}
	if name != nil {
		s.Name = *name
	}
	if reason != nil {
		s.Reason = *reason
	}
	if since != nil {
		s.Since = since.UTC()
	}
	return s
}
