// Package cloudwatchfake is a stateful fake of CloudWatch's DescribeAlarms, speaking the
// protocol the aws-sdk-go-v2 CloudWatch client uses (Smithy RPC v2 CBOR: POST
// /service/GraniteServiceVersion20100801/operation/DescribeAlarms, signing name "monitoring")
// on a fakeaws server. Tests set alarms and their states with SetAlarm.
package cloudwatchfake

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"dagger/fargate/pipeline/internal/fakeaws"
)

// Service is CloudWatch's SigV4 signing name.
const Service = "monitoring"

// Alarm states (CloudWatch StateValue).
const (
	OK               = "OK"
	Alarm            = "ALARM"
	InsufficientData = "INSUFFICIENT_DATA"
)

// State is one alarm as DescribeAlarms returns it.
type State struct {
	Name      string
	Value     string // OK, ALARM or INSUFFICIENT_DATA
	Reason    string
	UpdatedAt time.Time
	// Composite marks a composite alarm (returned only when AlarmTypes asks for them).
	Composite bool
}

// Fake holds the account's alarms.
type Fake struct {
	account, region string

	mu     sync.Mutex
	alarms map[string]State
}

// New registers DescribeAlarms on srv.
func New(srv *fakeaws.Server, account, region string) *Fake {
	f := &Fake{account: account, region: region, alarms: map[string]State{}}
	srv.HandleCBOR(Service, "DescribeAlarms", f.describeAlarms)
	return f
}

// SetAlarm creates or updates an alarm.
func (f *Fake) SetAlarm(s State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	}
	f.alarms[s.Name] = s
}

func (f *Fake) describeAlarms(in cbor.Map) (cbor.Map, error) {
	names, err := stringList(in, "AlarmNames")
	if err != nil {
		return nil, err
	}
	if len(names) > 100 {
		return nil, &fakeaws.APIError{Status: http.StatusBadRequest, Code: "InvalidParameterValue", Message: "AlarmNames: at most 100 names"}
	}
	types, err := stringList(in, "AlarmTypes")
	if err != nil {
		return nil, err
	}
	// Without AlarmTypes, DescribeAlarms returns metric alarms only.
	wantMetric := len(types) == 0 || slices.Contains(types, "MetricAlarm")
	wantComposite := slices.Contains(types, "CompositeAlarm")

	f.mu.Lock()
	defer f.mu.Unlock()
	keys := make([]string, 0, len(f.alarms))
	for k := range f.alarms {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	metric, composite := cbor.List{}, cbor.List{}
	for _, k := range keys {
		a := f.alarms[k]
		if len(names) > 0 && !slices.Contains(names, a.Name) {
			continue
		}
		m := cbor.Map{
			"AlarmName":             cbor.String(a.Name),
			"AlarmArn":              cbor.String(fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", f.region, f.account, a.Name)),
			"StateValue":            cbor.String(a.Value),
			"StateReason":           cbor.String(a.Reason),
			"StateUpdatedTimestamp": &cbor.Tag{ID: 1, Value: cbor.Float64(float64(a.UpdatedAt.UnixMilli()) / 1000)},
		}
		switch {
		case a.Composite && wantComposite:
			composite = append(composite, m)
		case !a.Composite && wantMetric:
			metric = append(metric, m)
		}
	}
	return cbor.Map{"MetricAlarms": metric, "CompositeAlarms": composite}, nil
}

// stringList reads a list of strings member of a request.
func stringList(in cbor.Map, member string) ([]string, error) {
	v, ok := in[member]
	if !ok {
		return nil, nil
	}
	list, ok := v.(cbor.List)
	if !ok {
		return nil, &fakeaws.APIError{Status: http.StatusBadRequest, Code: "SerializationException", Message: member + ": expected a list"}
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		s, ok := item.(cbor.String)
		if !ok {
			return nil, &fakeaws.APIError{Status: http.StatusBadRequest, Code: "SerializationException", Message: member + ": expected strings"}
		}
		out = append(out, string(s))
	}
	return out, nil
}
