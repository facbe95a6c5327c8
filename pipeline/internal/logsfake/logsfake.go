// Package logsfake is a fake of the CloudWatch Logs read APIs the pipeline uses
// (DescribeLogGroups, GetLogEvents), speaking JSON 1.1 on a fakeaws server (signing name
// "logs"). Groups and streams are added by the test; a missing group or stream answers
// ResourceNotFoundException as CloudWatch Logs does.
package logsfake

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"dagger/fargate/pipeline/internal/fakeaws"
)

// Fake holds log groups and their streams' events.
type Fake struct {
	mu      sync.Mutex
	account string
	region  string
	groups  map[string]map[string][]event // group → stream → events, oldest first
	any     map[string][]event            // group + "\x00" + stream prefix → events of any such stream
}

type event struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

// New registers the fake's operations on srv; account and region appear in group ARNs.
func New(srv *fakeaws.Server, account, region string) *Fake {
	f := &Fake{account: account, region: region, groups: map[string]map[string][]event{}}
	srv.HandleJSON("logs", "DescribeLogGroups", f.describeLogGroups)
	srv.HandleJSON("logs", "GetLogEvents", f.getLogEvents)
	return f
}

// AddGroup creates a log group (no streams).
func (f *Fake) AddGroup(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.group(name)
}

// group is the streams of a log group, created if missing; f.mu is held.
func (f *Fake) group(name string) map[string][]event {
	if f.groups[name] == nil {
		f.groups[name] = map[string][]event{}
	}
	return f.groups[name]
}

// events are lines as events one second apart, starting at at.
func events(at time.Time, lines []string) []event {
	out := make([]event, len(lines))
	for i, l := range lines {
		ts := at.Add(time.Duration(i) * time.Second).UnixMilli()
		out[i] = event{Timestamp: ts, Message: l, IngestionTime: ts + 200}
	}
	return out
}

// Append adds lines to a stream (creating the group and the stream), one second apart
// starting at at.
func (f *Fake) Append(group, stream string, at time.Time, lines ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.group(group)
	g[stream] = append(g[stream], events(at, lines)...)
}

// AppendAny makes every stream of group whose name starts with prefix (e.g.
// "app/app/", the tasks of one container) answer with these lines, unless it has events of
// its own: the tasks a test cannot name in advance.
func (f *Fake) AppendAny(group, prefix string, at time.Time, lines ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.group(group)
	if f.any == nil {
		f.any = map[string][]event{}
	}
	key := group + "\x00" + prefix
	f.any[key] = append(f.any[key], events(at, lines)...)
}

func notFound(what string) error {
	return &fakeaws.APIError{Status: 400, Code: "ResourceNotFoundException", Message: "The specified " + what + " does not exist."}
}

func (f *Fake) describeLogGroups(body []byte) (any, error) {
	var req struct {
		LogGroupNamePrefix string `json:"logGroupNamePrefix"`
		Limit              int    `json:"limit"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fakeaws.Errorf("InvalidParameterException", "%v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for n := range f.groups {
		if strings.HasPrefix(n, req.LogGroupNamePrefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if req.Limit > 0 && len(names) > req.Limit {
		names = names[:req.Limit]
	}
	groups := []map[string]any{}
	for _, n := range names {
		groups = append(groups, map[string]any{
			"logGroupName": n, "creationTime": 1767225600000,
			"arn": fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", f.region, f.account, n),
		})
	}
	return map[string]any{"logGroups": groups}, nil
}

func (f *Fake) getLogEvents(body []byte) (any, error) {
	var req struct {
		LogGroupName  string `json:"logGroupName"`
		LogStreamName string `json:"logStreamName"`
		StartFromHead *bool  `json:"startFromHead"`
		Limit         int    `json:"limit"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fakeaws.Errorf("InvalidParameterException", "%v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	streams, ok := f.groups[req.LogGroupName]
	if !ok {
		return nil, notFound("log group")
	}
	evs, ok := streams[req.LogStreamName]
	if !ok {
		for key, e := range f.any {
			g, prefix, _ := strings.Cut(key, "\x00")
			if g == req.LogGroupName && strings.HasPrefix(req.LogStreamName, prefix) {
				evs, ok = e, true
			}
		}
	}
	if !ok {
		return nil, notFound("log stream")
	}
	limit := req.Limit
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	fromHead := req.StartFromHead != nil && *req.StartFromHead
	page := evs
	if len(page) > limit {
		if fromHead {
			page = page[:limit]
		} else {
			page = page[len(page)-limit:] // the newest, still oldest first
		}
	}
	return map[string]any{"events": page, "nextForwardToken": "f/end", "nextBackwardToken": "b/start"}, nil
}
