package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"example.com/sample-app/internal/health"
	"example.com/sample-app/internal/kv"
)

const (
	token     = "current-token-0123456789"
	prevToken = "previous-token-987654321"
)

type fixture struct {
	h     http.Handler
	store *kv.Store
	state *health.State
	logs  *bytes.Buffer
}

func newFixture(t *testing.T, maxEntries, maxValue int, tokens ...string) fixture {
	t.Helper()
	logs := &bytes.Buffer{}
	store := kv.New(maxEntries, maxValue, func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) })
	state := &health.State{}
	state.Set(health.Serving)
	h, err := New(Options{
		Store:  store,
		Health: state,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Tokens: tokens,
	})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{h: h, store: store, state: state, logs: logs}
}

type req struct {
	method, path, body string
	header             map[string]string
}

func (f fixture) do(t *testing.T, r req) *httptest.ResponseRecorder {
	t.Helper()
	hr := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, hr)
	return rec
}

func authJSON(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
}

func errorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var b errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("error body %q is not JSON: %v", rec.Body, err)
	}
	return b.Error
}

func TestNewRequiresDependencies(t *testing.T) {
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "Options.Store") {
		t.Fatalf("New(Options{}) error = %v", err)
	}
}

func TestKVRoundTrip(t *testing.T) {
	f := newFixture(t, 10, 64, token)

	rec := f.do(t, req{"PUT", "/api/v1/kv/greeting", `{"value":"hello"}`, authJSON(token)})
	if rec.Code != http.StatusCreated || rec.Header().Get("ETag") != `"1"` || rec.Header().Get("Location") != "/api/v1/kv/greeting" {
		t.Fatalf("create: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	var e kv.Entry
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Key != "greeting" || e.Value != "hello" || e.Version != 1 {
		t.Fatalf("create body %s (%v)", rec.Body, err)
	}

	rec = f.do(t, req{"PUT", "/api/v1/kv/greeting", `{"value":"bonjour"}`, map[string]string{
		"Authorization": "bearer " + token, "Content-Type": "application/json; charset=utf-8", "If-Match": `"1"`,
	}})
	if rec.Code != http.StatusOK || rec.Header().Get("ETag") != `"2"` {
		t.Fatalf("update: %d %s", rec.Code, rec.Body)
	}

	rec = f.do(t, req{method: "GET", path: "/api/v1/kv/greeting"})
	if rec.Code != http.StatusOK || rec.Header().Get("ETag") != `"2"` || !strings.Contains(rec.Body.String(), `"value":"bonjour"`) {
		t.Fatalf("get: %d %s", rec.Code, rec.Body)
	}

	rec = f.do(t, req{method: "GET", path: "/api/v1/kv"})
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"keys":["greeting"],"count":1}` {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}

	rec = f.do(t, req{method: "DELETE", path: "/api/v1/kv/greeting", header: authJSON(token)})
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	rec = f.do(t, req{method: "GET", path: "/api/v1/kv/greeting"})
	if rec.Code != http.StatusNotFound || !strings.Contains(errorOf(t, rec), "key not found") {
		t.Fatalf("get after delete: %d %s", rec.Code, rec.Body)
	}
	rec = f.do(t, req{method: "GET", path: "/api/v1/kv"})
	if strings.TrimSpace(rec.Body.String()) != `{"keys":[],"count":0}` {
		t.Fatalf("empty list: %s", rec.Body)
	}
}

func TestClientErrors(t *testing.T) {
	big := strings.Repeat("x", 17)
	tests := []struct {
		name     string
		tokens   []string
		setup    func(s *kv.Store)
		req      req
		wantCode int
		wantMsg  string
		wantAuth string // expected WWW-Authenticate, if any
	}{
		{name: "writes disabled without a token", req: req{"PUT", "/api/v1/kv/a", `{"value":"v"}`, authJSON(token)}, wantCode: 503, wantMsg: "writes are disabled"},
		{name: "missing authorization", tokens: []string{token}, req: req{"PUT", "/api/v1/kv/a", `{"value":"v"}`, map[string]string{"Content-Type": "application/json"}}, wantCode: 401, wantMsg: "bearer token is required", wantAuth: `Bearer realm="sample-app"`},
		{name: "basic auth scheme", tokens: []string{token}, req: req{"PUT", "/api/v1/kv/a", `{"value":"v"}`, map[string]string{"Authorization": "Basic " + token, "Content-Type": "application/json"}}, wantCode: 401, wantMsg: "bearer token is required"},
		{name: "empty bearer", tokens: []string{token}, req: req{"DELETE", "/api/v1/kv/a", "", map[string]string{"Authorization": "Bearer "}}, wantCode: 401, wantMsg: "bearer token is required"},
		{name: "wrong token", tokens: []string{token}, req: req{"PUT", "/api/v1/kv/a", `{"value":"v"}`, authJSON("wrong-token-000000000")}, wantCode: 401, wantMsg: "not valid", wantAuth: `Bearer realm="sample-app", error="invalid_token"`},
		{name: "token prefix is not the token", tokens: []string{token}, req: req{"PUT", "/api/v1/kv/a", `{"value":"v"}`, authJSON(token[:10])}, wantCode: 401, wantMsg: "not valid"},
		{name: "delete needs a token", tokens: []string{token}, req: req{method: "DELETE", path: "/api/v1/kv/a"}, wantCode: 401},
		{name: "wrong content type", tokens: []string{token}, req: req{"PUT", "/api/v1/kv/a", `value=v`, map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/x-www-form-urlencoded"}}, wantCode: 415, wantMsg: "Content-Type: must be application/json"},
		{name: "missing content type", tokens: []string{token}, req: req{"PUT", "/api/v1/kv/a", `{"value":"v"}`, map[string]string{"Authorization": "Bearer " + token}}, wantCode: 415},
		{name: "malformed JSON", tokens: []string{token}, req: req{"PUT", "/api/v1/kv/a", `{"value":`, authJSON(token)}, wantCode: 400, wantMsg: "request body: must be a JSON object"},
		{name: "value of wrong type", tokens: []string{token}, req: req{"PUT", "/api/v1/kv/a", `{"value":42}`, authJSON(token)}, wantCode: 400, wantMsg: "request body"},
		{name: "unknown field", tokens: []string{token}, req: req{"PUT", "/api/v1/kv/a", `{"value":"v","ttl":3}`, authJSON(token)}, wantCode: 400, wantMsg: `unknown field "ttl"`},
		{name: "trailing data", tokens: []string{token}, req: req{"PUT", "/api/v1/kv/a", `{"value":"v"}{"value":"w"}`, authJSON(token)}, wantCode: 400, wantMsg: "single JSON object"},
		{name: "missing value", tokens: []string{token}, req: req{"PUT", "/api/v1/kv/a", `{}`, authJSON(token)}, wantCode: 400, wantMsg: "value: required"},
		{name: "value too large", tokens: []string{token}, req: req{"PUT", "/api/v1/kv/a", `{"value":"` + big + `"}`, authJSON(token)}, wantCode: 413, wantMsg: `put "a": value too large: 17 bytes, limit 16`},
		{name: "body too large", tokens: []string{token}, req: req{"PUT", "/api/v1/kv/a", `{"value":"` + strings.Repeat("y", 5000) + `"}`, authJSON(token)}, wantCode: 413, wantMsg: "request body: larger than"},
		{name: "invalid key on write", tokens: []string{token}, req: req{"PUT", "/api/v1/kv/.env", `{"value":"v"}`, authJSON(token)}, wantCode: 400, wantMsg: "key: invalid key: must not start with '.'"},
		{name: "invalid key on read", req: req{method: "GET", path: "/api/v1/kv/bad%20key"}, wantCode: 400, wantMsg: "key: invalid key"},
		{name: "key too long", req: req{method: "GET", path: "/api/v1/kv/" + strings.Repeat("k", 65)}, wantCode: 400, wantMsg: "1 to 64 characters"},
		{name: "missing key", req: req{method: "GET", path: "/api/v1/kv/nope"}, wantCode: 404, wantMsg: `get "nope": key not found`},
		{name: "delete missing key", tokens: []string{token}, req: req{method: "DELETE", path: "/api/v1/kv/nope", header: authJSON(token)}, wantCode: 404},
		{name: "malformed If-Match", tokens: []string{token}, req: req{"PUT", "/api/v1/kv/a", `{"value":"v"}`, map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json", "If-Match": "*"}}, wantCode: 400, wantMsg: "If-Match: must be a single quoted version"},
		{name: "stale If-Match", tokens: []string{token}, setup: func(s *kv.Store) { s.Put("a", "1", 0); s.Put("a", "2", 0) }, req: req{"PUT", "/api/v1/kv/a", `{"value":"v"}`, map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json", "If-Match": `"1"`}}, wantCode: 412, wantMsg: "current version is 2, not 1"},
		{name: "store full", tokens: []string{token}, setup: func(s *kv.Store) { s.Put("x", "", 0); s.Put("y", "", 0) }, req: req{"PUT", "/api/v1/kv/z", `{"value":"v"}`, authJSON(token)}, wantCode: 409, wantMsg: "limit of 2 keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 2, 16, tt.tokens...)
			if tt.setup != nil {
				tt.setup(f.store)
			}
			rec := f.do(t, tt.req)
			if rec.Code != tt.wantCode {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.wantCode, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if msg := errorOf(t, rec); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error %q does not contain %q", msg, tt.wantMsg)
			}
			if tt.wantAuth != "" && rec.Header().Get("WWW-Authenticate") != tt.wantAuth {
				t.Errorf("WWW-Authenticate %q, want %q", rec.Header().Get("WWW-Authenticate"), tt.wantAuth)
			}
			if tt.wantCode != 409 && tt.wantCode != 412 && len(f.store.Keys()) != 0 {
				t.Errorf("a rejected request changed the store: %v", f.store.Keys())
			}
		})
	}
}

func TestTokenRotationAcceptsBothTokens(t *testing.T) {
	f := newFixture(t, 10, 64, token, prevToken)
	for i, tok := range []string{token, prevToken} {
		rec := f.do(t, req{"PUT", "/api/v1/kv/k", `{"value":"v"}`, authJSON(tok)})
		if rec.Code != http.StatusCreated && rec.Code != http.StatusOK {
			t.Fatalf("token %d rejected: %d %s", i, rec.Code, rec.Body)
		}
	}
	// An empty previous token must not make an empty bearer valid.
	f = newFixture(t, 10, 64, token, "")
	if rec := f.do(t, req{"PUT", "/api/v1/kv/k", `{"value":"v"}`, authJSON(prevToken)}); rec.Code != http.StatusUnauthorized {
		t.Fatalf("unconfigured previous token accepted: %d", rec.Code)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t, 10, 64, token)
	rec := f.do(t, req{method: "POST", path: "/api/v1/kv/a", header: authJSON(token)})
	if rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Header().Get("Allow"), "PUT") {
		t.Fatalf("POST: %d Allow=%q", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestHealthRoutesFollowState(t *testing.T) {
	f := newFixture(t, 10, 64)
	if rec := f.do(t, req{method: "GET", path: "/readyz"}); rec.Code != http.StatusOK {
		t.Fatalf("readyz while serving: %d", rec.Code)
	}
	f.state.Set(health.Draining)
	if rec := f.do(t, req{method: "GET", path: "/readyz"}); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "draining") {
		t.Fatalf("readyz while draining: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do(t, req{method: "GET", path: "/healthz"}); rec.Code != http.StatusOK {
		t.Fatalf("healthz while draining: %d", rec.Code)
	}
	// A 503 from /readyz during a drain is expected and logged at debug, not as an error.
	if strings.Contains(f.logs.String(), `"level":"ERROR"`) {
		t.Fatalf("health probes logged as errors: %s", f.logs)
	}
}

func TestRequestLogsNeverContainCredentials(t *testing.T) {
	f := newFixture(t, 10, 64, token, prevToken)
	f.do(t, req{"PUT", "/api/v1/kv/k", `{"value":"v"}`, authJSON(token)})
	f.do(t, req{"PUT", "/api/v1/kv/k", `{"value":"v"}`, authJSON(prevToken)})
	f.do(t, req{"PUT", "/api/v1/kv/k?token=" + token, `{"value":"v"}`, authJSON("bad-" + token)})

	lines := strings.Split(strings.TrimSpace(f.logs.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want one log line per request, got %d: %s", len(lines), f.logs)
	}
	var first struct {
		Msg    string `json:"msg"`
		Method string `json:"method"`
		Path   string `json:"path"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatalf("log line is not JSON: %s", lines[0])
	}
	if first.Msg != "request" || first.Method != "PUT" || first.Path != "/api/v1/kv/k" || first.Status != 201 {
		t.Fatalf("first log line = %+v", first)
	}
	if strings.Contains(f.logs.String(), token[:12]) || strings.Contains(f.logs.String(), prevToken[:12]) {
		t.Fatalf("logs contain a token: %s", f.logs)
	}
}

func TestPanicBecomes500(t *testing.T) {
	f := newFixture(t, 10, 64)
	a := &api{logger: slog.New(slog.NewJSONHandler(f.logs, nil))}
	h := a.logRequests(a.recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != http.StatusInternalServerError || errorOf(t, rec) != "internal error" {
		t.Fatalf("panic: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(f.logs.String(), `"panic":"boom"`) || !strings.Contains(f.logs.String(), `"status":500`) {
		t.Fatalf("panic not logged: %s", f.logs)
	}
}

func BenchmarkGet(b *testing.B) {
	store := kv.New(10, 64, nil)
	store.Put("k", "value", 0)
	state := &health.State{}
	state.Set(health.Serving)
	h, _ := New(Options{Store: store, Health: state, Logger: slog.New(slog.DiscardHandler)})
	r := httptest.NewRequest("GET", "/api/v1/kv/k", nil)
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
