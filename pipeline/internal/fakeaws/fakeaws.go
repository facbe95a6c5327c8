// Package fakeaws is the test support shared by the pipeline's wire-level tests: one local
// HTTP endpoint that answers the real aws-sdk-go-v2 clients in the AWS protocols they speak
// (JSON 1.1 with X-Amz-Target, the Query and EC2 Query XML protocols, Smithy RPC v2 CBOR, and
// REST-JSON), routed
// by the service name in the SigV4 credential scope, as LocalStack does on a single port.
// Each service's fake registers its operations here; the core adds call counting and
// scripted faults (throttling bursts, 5xx answers) for any operation.
package fakeaws

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/encoding/cbor"

	"dagger/fargate/pipeline/awsconf"
)

// APIError is an AWS error answer: an HTTP status, an error code and a message.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Throttling is the error AWS returns when a caller exceeds its request rate.
func Throttling() *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: "ThrottlingException", Message: "Rate exceeded"}
}

// ServerError is an internal error answer (HTTP 500).
func ServerError() *APIError {
	return &APIError{Status: http.StatusInternalServerError, Code: "ServerException", Message: "internal failure"}
}

// Errorf builds a client error (HTTP 400) with the given code.
func Errorf(code, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// JSONHandler answers one JSON-protocol operation: it receives the request body and returns
// a value marshalled as the response, or an error (an *APIError, or any error as a 500).
type JSONHandler func(body []byte) (any, error)

// CBORHandler answers one Smithy RPC v2 CBOR operation (CloudWatch): it receives the decoded
// request (an empty map when the request had no body) and returns the response's members,
// or an error (an *APIError, or any error as a 500).
type CBORHandler func(in cbor.Map) (cbor.Map, error)

// QueryHandler answers one Query-protocol action: it receives the form values and returns
// the XML that goes inside the action's result element.
type QueryHandler func(form url.Values) (string, error)

// Call is one request the server received.
type Call struct {
	Service   string
	Operation string
	Body      []byte
}

// Server is the local AWS endpoint. Create it with New; it closes when the test ends.
type Server struct {
	http *httptest.Server

	mu     sync.Mutex
	json   map[string]JSONHandler // "ecs/DescribeServices"
	query  map[string]QueryHandler
	cbor   map[string]CBORHandler
	rest   map[string]http.Handler // by service
	faults map[string][]*APIError
	calls  []Call
	// accessKey, when set, is the only access key ID the server accepts (RequireAccessKey).
	accessKey string
	allowed   map[string]time.Time // AllowAccessKey: temporary key → expiry
}

// New starts a server on the loopback interface.
func New(t testing.TB) *Server {
	t.Helper()
	s := start()
	t.Cleanup(s.http.Close)
	return s
}

func start() *Server {
	s := newServer()
	s.http = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func newServer() *Server {
	return &Server{
		json:   map[string]JSONHandler{},
		query:  map[string]QueryHandler{},
		cbor:   map[string]CBORHandler{},
		rest:   map[string]http.Handler{},
		faults: map[string][]*APIError{},
	}
}

// URL is the endpoint to give the SDK (awsconf.Options.Endpoint, AWS_ENDPOINT_URL); empty
// for a server made by NewHandler, which listens wherever its owner mounts it.
func (s *Server) URL() string {
	if s.http == nil {
		return ""
	}
	return s.http.URL
}

// HandleJSON registers a JSON 1.0/1.1 operation of a service (its SigV4 signing name, e.g. "ecs").
func (s *Server) HandleJSON(service, operation string, h JSONHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.json[service+"/"+operation] = h
}

// HandleQuery registers a Query-protocol action (sts, iam, ec2, cloudformation).
func (s *Server) HandleQuery(service, action string, h QueryHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.query[service+"/"+action] = h
}

// HandleCBOR registers a Smithy RPC v2 CBOR operation of a service (its SigV4 signing name,
// e.g. "monitoring" for CloudWatch).
func (s *Server) HandleCBOR(service, operation string, h CBORHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cbor[service+"/"+operation] = h
}

// HandleREST registers a handler for every request of a REST-JSON service (guardduty, ...).
func (s *Server) HandleREST(service string, h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rest[service] = h
}

// FailNext makes the next len(errs) calls of an operation answer with these errors, in order.
func (s *Server) FailNext(service, operation string, errs ...*APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := service + "/" + operation
	s.faults[key] = append(s.faults[key], errs...)
}

// Calls returns how many requests an operation received (faulted ones included).
func (s *Server) Calls(service, operation string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Service == service && c.Operation == operation {
			n++
		}
	}
	return n
}

// CallLog returns a copy of every request received, in order.
func (s *Server) CallLog() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Config returns an aws.Config whose clients talk to this server with dummy credentials and
// a short retry backoff, so fault-injection tests stay fast.
func (s *Server) Config(t testing.TB) aws.Config {
	t.Helper()
	cfg, err := s.load(context.Background())
	if err != nil {
		t.Fatalf("fake aws config: %v", err)
	}
	return cfg
}

// load builds the SDK config Config and HarnessConfig return.
func (s *Server) load(ctx context.Context) (aws.Config, error) {
	return awsconf.Load(ctx, awsconf.Options{
		Region:          "eu-west-1",
		AccessKeyID:     "AKIAFAKEFAKEFAKEFAKE",
		SecretAccessKey: "fake-secret-never-printed",
		Endpoint:        s.URL(),
		MaxBackoff:      5 * time.Millisecond,
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	service := signingService(r.Header.Get("Authorization"))
	// AssumeRoleWithWebIdentity is the one unsigned call: the OIDC token is the credential.
	webIdentity := r.Header.Get("Authorization") == "" && strings.Contains(string(body), "Action=AssumeRoleWithWebIdentity")
	if webIdentity {
		service = "sts"
	}
	rpcv2 := r.Header.Get("Smithy-Protocol") == "rpc-v2-cbor"
	if err := s.checkAccessKey(r.Header.Get("Authorization")); err != nil && !webIdentity {
		switch {
		case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
			writeQueryError(w, service, err)
		case rpcv2:
			writeCBORError(w, err)
		default:
			writeJSONError(w, err)
		}
		return
	}
	switch {
	case rpcv2:
		// POST /service/{ServiceName}/operation/{Operation}
		s.serveCBOR(w, service, r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:], body)
	case r.Header.Get("X-Amz-Target") != "":
		target := r.Header.Get("X-Amz-Target")
		op := target[strings.LastIndex(target, ".")+1:]
		s.serveJSON(w, service, op, body)
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		form, err := url.ParseQuery(string(body))
		if err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		s.serveQuery(w, service, form)
	default:
		s.mu.Lock()
		h := s.rest[service]
		s.calls = append(s.calls, Call{Service: service, Operation: r.Method + " " + r.URL.Path, Body: body})
		s.mu.Unlock()
		if h == nil {
			writeJSONError(w, &APIError{Status: http.StatusNotFound, Code: "UnknownOperationException", Message: "no fake for " + service + " " + r.URL.Path})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	}
}

func (s *Server) record(service, op string, body []byte) *APIError {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Service: service, Operation: op, Body: body})
	key := service + "/" + op
	if q := s.faults[key]; len(q) > 0 {
		s.faults[key] = q[1:]
		return q[0]
	}
	return nil
}

func (s *Server) serveJSON(w http.ResponseWriter, service, op string, body []byte) {
	if fault := s.record(service, op, body); fault != nil {
		writeJSONError(w, fault)
		return
	}
	s.mu.Lock()
	h := s.json[service+"/"+op]
	s.mu.Unlock()
	if h == nil {
		writeJSONError(w, &APIError{Status: http.StatusBadRequest, Code: "UnknownOperationException", Message: "no fake for " + service + " " + op})
		return
	}
	out, err := h(body)
	if err != nil {
		writeJSONError(w, asAPIError(err))
		return
	}
	if out == nil {
		out = struct{}{}
	}
	data, err := json.Marshal(out)
	if err != nil {
		writeJSONError(w, &APIError{Status: 500, Code: "FakeMarshalError", Message: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", "fake-request")
	_, _ = w.Write(data)
}

func (s *Server) serveCBOR(w http.ResponseWriter, service, op string, body []byte) {
	if fault := s.record(service, op, body); fault != nil {
		writeCBORError(w, fault)
		return
	}
	s.mu.Lock()
	h := s.cbor[service+"/"+op]
	s.mu.Unlock()
	if h == nil {
		writeCBORError(w, &APIError{Status: http.StatusBadRequest, Code: "UnknownOperationException", Message: "no fake for " + service + " " + op})
		return
	}
	in := cbor.Map{}
	if len(body) > 0 {
		v, err := cbor.Decode(body)
		m, ok := v.(cbor.Map)
		if err != nil || !ok {
			writeCBORError(w, &APIError{Status: http.StatusBadRequest, Code: "SerializationException", Message: fmt.Sprintf("the request body is not a CBOR map (%v)", err)})
			return
		}
		in = m
	}
	out, err := h(in)
	if err != nil {
		writeCBORError(w, asAPIError(err))
		return
	}
	if out == nil {
		out = cbor.Map{}
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("X-Amzn-Requestid", "fake-request")
	_, _ = w.Write(cbor.Encode(out))
}

// writeCBORError answers an RPC v2 CBOR request with an error: the status, and a CBOR map
// with the error's shape name in __type and its message.
func writeCBORError(w http.ResponseWriter, e *APIError) {
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.WriteHeader(e.Status)
	_, _ = w.Write(cbor.Encode(cbor.Map{"__type": cbor.String(e.Code), "message": cbor.String(e.Message)}))
}

func (s *Server) serveQuery(w http.ResponseWriter, service string, form url.Values) {
	action := form.Get("Action")
	if fault := s.record(service, action, []byte(form.Encode())); fault != nil {
		writeQueryError(w, service, fault)
		return
	}
	s.mu.Lock()
	h := s.query[service+"/"+action]
	s.mu.Unlock()
	if h == nil {
		writeQueryError(w, service, &APIError{Status: http.StatusBadRequest, Code: "InvalidAction", Message: "no fake for " + service + " " + action})
		return
	}
	inner, err := h(form)
	if err != nil {
		writeQueryError(w, service, asAPIError(err))
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	if service == "ec2" {
		// EC2's Query dialect has no Result wrapper.
		fmt.Fprintf(w, `<%sResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>fake-request</requestId>%s</%sResponse>`, action, inner, action)
		return
	}
	fmt.Fprintf(w, `<%sResponse><%sResult>%s</%sResult><ResponseMetadata><RequestId>fake-request</RequestId></ResponseMetadata></%sResponse>`,
		action, action, inner, action, action)
}

func asAPIError(err error) *APIError {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr
	}
	return &APIError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: err.Error()}
}

func writeJSONError(w http.ResponseWriter, e *APIError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Errortype", e.Code)
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.Code, "message": e.Message})
}

func writeQueryError(w http.ResponseWriter, service string, e *APIError) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	msg := XMLEscape(e.Message)
	if service == "ec2" {
		fmt.Fprintf(w, `<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>fake-request</RequestID></Response>`, e.Code, msg)
		return
	}
	kind := "Sender"
	if e.Status >= 500 {
		kind = "Receiver"
	}
	fmt.Fprintf(w, `<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>fake-request</RequestId></ErrorResponse>`, kind, e.Code, msg)
}

// QueryList reads a list member of a Query request: the values of prefix.1, prefix.2, … up
// to the first missing index ("SubnetId" in EC2, "Capabilities.member" in CloudFormation).
func QueryList(form url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[prefix+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v...)
	}
}

// XMLEscape escapes s for use as XML character data in a Query answer.
func XMLEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// checkAccessKey refuses a request signed with another access key than the required one,
// as AWS refuses unknown credentials (the message never repeats the key).
func (s *Server) checkAccessKey(auth string) *APIError {
	key := accessKeyID(auth)
	s.mu.Lock()
	want := s.accessKey
	expires, temporary := s.allowed[key]
	s.mu.Unlock()
	if temporary && time.Now().After(expires) {
		return &APIError{Status: http.StatusBadRequest, Code: "ExpiredTokenException", Message: "The security token included in the request is expired"}
	}
	if want == "" || temporary || key == want {
		return nil
	}
	return &APIError{Status: http.StatusForbidden, Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid."}
}

// accessKeyID extracts the access key ID from a SigV4 Authorization header.
func accessKeyID(auth string) string {
	_, rest, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	key, _, _ := strings.Cut(rest, "/")
	return key
}

// signingService extracts the service name from a SigV4 Authorization header:
// "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/ecs/aws4_request, ...".
func signingService(auth string) string {
	_, rest, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ := strings.Cut(rest, ",")
	parts := strings.Split(cred, "/")
	if len(parts) < 5 {
		return ""
	}
	return parts[3]
}
