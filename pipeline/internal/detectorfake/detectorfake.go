// Package detectorfake fakes the account-level detective services a landing zone must have on,
// at the wire level: CloudTrail and AWS Config (JSON 1.1), GuardDuty, Security Hub and
// Inspector (REST-JSON), registered on a fakeaws.Server and answering from an Account value.
package detectorfake

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"dagger/fargate/pipeline/internal/fakeaws"
)

// Trail is one CloudTrail trail.
type Trail struct {
	Name, ARN, HomeRegion string
	MultiRegion           bool
	LogFileValidation     bool
	Logging               bool
}

// Detector is one GuardDuty detector; Status is ENABLED or DISABLED.
type Detector struct{ ID, Status string }

// Recorder is one AWS Config configuration recorder.
type Recorder struct {
	Name      string
	Recording bool
}

// Account is the state the fake answers from.
type Account struct {
	ID          string
	Trails      []Trail
	Detectors   []Detector
	SecurityHub bool
	Recorders   []Recorder
	// InspectorECR is the Inspector ECR scanning status (ENABLED, DISABLED, ...).
	InspectorECR string
	// Denied lists "service:Operation" pairs answered with AccessDenied, e.g.
	// "guardduty:ListDetectors".
	Denied map[string]bool
}

// AllOn returns an account where every detector is on.
func AllOn() *Account {
	return &Account{
		ID: "111122223333",
		Trails: []Trail{{
			Name: "org-trail", ARN: "arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail", HomeRegion: "eu-west-1",
			MultiRegion: true, LogFileValidation: true, Logging: true,
		}},
		Detectors:    []Detector{{ID: "12abc34d567e8fa901bc2d34e56789f0", Status: "ENABLED"}},
		SecurityHub:  true,
		Recorders:    []Recorder{{Name: "default", Recording: true}},
		InspectorECR: "ENABLED",
	}
}

// Fake serves one Account.
type Fake struct {
	mu   sync.Mutex
	acct *Account
}

// New registers the fake services on srv.
func New(srv *fakeaws.Server, acct *Account) *Fake {
	f := &Fake{acct: acct}
	srv.HandleJSON("cloudtrail", "DescribeTrails", f.describeTrails)
	srv.HandleJSON("cloudtrail", "GetTrailStatus", f.getTrailStatus)
	srv.HandleJSON("config", "DescribeConfigurationRecorders", f.describeRecorders)
	srv.HandleJSON("config", "DescribeConfigurationRecorderStatus", f.describeRecorderStatus)
	srv.HandleREST("guardduty", http.HandlerFunc(f.guardduty))
	srv.HandleREST("securityhub", http.HandlerFunc(f.securityhub))
	srv.HandleREST("inspector2", http.HandlerFunc(f.inspector))
	return f
}

func (f *Fake) denied(op string) *fakeaws.APIError {
	if f.acct.Denied[op] {
		return &fakeaws.APIError{Status: http.StatusForbidden, Code: "AccessDeniedException",
			Message: "User: arn:aws:sts::" + f.acct.ID + ":assumed-role/deploy/ci is not authorized to perform: " + op}
	}
	return nil
}

func (f *Fake) describeTrails(body []byte) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.denied("cloudtrail:DescribeTrails"); err != nil {
		return nil, err
	}
	type trail struct {
		Name                     string
		TrailARN                 string
		HomeRegion               string
		IsMultiRegionTrail       bool
		LogFileValidationEnabled bool
	}
	list := []trail{}
	for _, t := range f.acct.Trails {
		list = append(list, trail{t.Name, t.ARN, t.HomeRegion, t.MultiRegion, t.LogFileValidation})
	}
	return map[string]any{"trailList": list}, nil
}

func (f *Fake) getTrailStatus(body []byte) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.denied("cloudtrail:GetTrailStatus"); err != nil {
		return nil, err
	}
	var in struct{ Name string }
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fakeaws.Errorf("InvalidParameterValueException", "bad body")
	}
	for _, t := range f.acct.Trails {
		if t.Name == in.Name || t.ARN == in.Name {
			return map[string]any{"IsLogging": t.Logging}, nil
		}
	}
	return nil, fakeaws.Errorf("TrailNotFoundException", "Unknown trail: %s", in.Name)
}

func (f *Fake) describeRecorders(body []byte) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.denied("config:DescribeConfigurationRecorders"); err != nil {
		return nil, err
	}
	list := []map[string]any{}
	for _, r := range f.acct.Recorders {
		list = append(list, map[string]any{"name": r.Name, "roleARN": "arn:aws:iam::" + f.acct.ID + ":role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
			"recordingGroup": map[string]any{"allSupported": true, "includeGlobalResourceTypes": true}})
	}
	return map[string]any{"ConfigurationRecorders": list}, nil
}

func (f *Fake) describeRecorderStatus(body []byte) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.denied("config:DescribeConfigurationRecorderStatus"); err != nil {
		return nil, err
	}
	list := []map[string]any{}
	for _, r := range f.acct.Recorders {
		status := "SUCCESS"
		if !r.Recording {
			status = "NotApplicable"
		}
		list = append(list, map[string]any{"name": r.Name, "recording": r.Recording, "lastStatus": status})
	}
	return map[string]any{"ConfigurationRecordersStatus": list}, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, e *fakeaws.APIError) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", e.Code)
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": e.Message, "__type": e.Code})
}

func (f *Fake) guardduty(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case r.Method == http.MethodGet && path == "/detector":
		if err := f.denied("guardduty:ListDetectors"); err != nil {
			writeErr(w, err)
			return
		}
		ids := []string{}
		for _, d := range f.acct.Detectors {
			ids = append(ids, d.ID)
		}
		writeJSON(w, map[string]any{"detectorIds": ids})
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/detector/"):
		if err := f.denied("guardduty:GetDetector"); err != nil {
			writeErr(w, err)
			return
		}
		id := strings.TrimPrefix(path, "/detector/")
		for _, d := range f.acct.Detectors {
			if d.ID == id {
				writeJSON(w, map[string]any{"status": d.Status, "serviceRole": "arn:aws:iam::" + f.acct.ID + ":role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty",
					"createdAt": "2026-01-01T00:00:00.000Z", "findingPublishingFrequency": "SIX_HOURS"})
				return
			}
		}
		writeErr(w, &fakeaws.APIError{Status: 400, Code: "BadRequestException", Message: "The request is rejected because the input detectorId is not owned by the current account."})
	default:
		writeErr(w, &fakeaws.APIError{Status: 404, Code: "UnknownOperationException", Message: r.Method + " " + path})
	}
}

func (f *Fake) securityhub(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != http.MethodGet || strings.TrimSuffix(r.URL.Path, "/") != "/accounts" {
		writeErr(w, &fakeaws.APIError{Status: 404, Code: "UnknownOperationException", Message: r.Method + " " + r.URL.Path})
		return
	}
	if err := f.denied("securityhub:DescribeHub"); err != nil {
		writeErr(w, err)
		return
	}
	if !f.acct.SecurityHub {
		writeErr(w, &fakeaws.APIError{Status: http.StatusUnauthorized, Code: "InvalidAccessException",
			Message: "Account " + f.acct.ID + " is not subscribed to AWS Security Hub"})
		return
	}
	writeJSON(w, map[string]any{"HubArn": "arn:aws:securityhub:eu-west-1:" + f.acct.ID + ":hub/default",
		"SubscribedAt": "2026-01-01T00:00:00.000Z", "AutoEnableControls": true, "ControlFindingGenerator": "SECURITY_CONTROL"})
}

func (f *Fake) inspector(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/status/batch/get" {
		writeErr(w, &fakeaws.APIError{Status: 404, Code: "UnknownOperationException", Message: r.Method + " " + r.URL.Path})
		return
	}
	if err := f.denied("inspector2:BatchGetAccountStatus"); err != nil {
		writeErr(w, err)
		return
	}
	ecr := f.acct.InspectorECR
	if ecr == "" {
		ecr = "DISABLED"
	}
	overall := "ENABLED"
	if ecr != "ENABLED" {
		overall = "DISABLED"
	}
	st := func(s string) map[string]any { return map[string]any{"status": s} }
	writeJSON(w, map[string]any{
		"accounts": []any{map[string]any{
			"accountId": f.acct.ID,
			"state":     st(overall),
			"resourceState": map[string]any{
				"ec2": st("DISABLED"), "ecr": st(ecr), "lambda": st("DISABLED"),
			},
		}},
		"failedAccounts": []any{},
	})
}
