// Package api is the service's HTTP surface: the health endpoints, a small key/value JSON API
// whose writes are protected by a bearer token, and request logging that never records
// credentials.
//
// Routes:
//
//	GET    /healthz             liveness (always 200 while serving HTTP)
//	GET    /readyz              readiness (503 while starting or draining)
//	GET    /api/v1/kv           list keys
//	GET    /api/v1/kv/{key}     read one entry (ETag is its version)
//	PUT    /api/v1/kv/{key}     create or replace; bearer token; optional If-Match
//	DELETE /api/v1/kv/{key}     delete; bearer token
package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"example.com/sample-app/internal/health"
	"example.com/sample-app/internal/kv"
)

// Options configures the handler built by New.
type Options struct {
	Store  *kv.Store
	Health *health.State
	Logger *slog.Logger
	// Tokens are the bearer tokens accepted by write endpoints (current first, then any
	// previous token kept during rotation). Empty strings are ignored; with no token at all,
	// write endpoints answer 503.
	Tokens []string
}

type api struct {
	store  *kv.Store
	logger *slog.Logger
	tokens [][sha256.Size]byte
}

// New returns the service's root handler.
func New(opts Options) (http.Handler, error) {
	if opts.Store == nil || opts.Health == nil || opts.Logger == nil {
		return nil, errors.New("api: Options.Store, Options.Health and Options.Logger are required")
	}
	a := &api{store: opts.Store, logger: opts.Logger}
	for _, t := range opts.Tokens {
		if t != "" {
			a.tokens = append(a.tokens, sha256.Sum256([]byte(t)))
		}
	}

	mux := http.NewServeMux()
	mux.Handle("GET /healthz", opts.Health.Liveness())
	mux.Handle("GET /readyz", opts.Health.Readiness())
	mux.HandleFunc("GET /api/v1/kv", a.list)
	mux.HandleFunc("GET /api/v1/kv/{key}", a.get)
	mux.Handle("PUT /api/v1/kv/{key}", a.requireToken(http.HandlerFunc(a.put)))
	mux.Handle("DELETE /api/v1/kv/{key}", a.requireToken(http.HandlerFunc(a.delete)))
	return a.logRequests(a.recoverPanics(mux)), nil
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, errorBody{Error: fmt.Sprintf(format, args...)})
}

type keyList struct {
	Keys  []string `json:"keys"`
	Count int      `json:"count"`
}

func (a *api) list(w http.ResponseWriter, _ *http.Request) {
	keys := a.store.Keys()
	writeJSON(w, http.StatusOK, keyList{Keys: keys, Count: len(keys)})
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	e, err := a.store.Get(r.PathValue("key"))
	if err != nil {
		a.storeError(w, err)
		return
	}
	w.Header().Set("ETag", etag(e.Version))
	writeJSON(w, http.StatusOK, e)
}

type putBody struct {
	Value *string `json:"value"`
}

func (a *api) put(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if err := kv.ValidateKey(key); err != nil {
		a.storeError(w, err)
		return
	}
	ifVersion, err := parseIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "If-Match: %v", err)
		return
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type: must be application/json, got %q", ct)
		return
	}
	// JSON escaping can take up to 6 bytes per value byte (\u00XX); allow for it and the envelope.
	limit := int64(a.store.MaxValueBytes())*6 + 1024
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	var body putBody
	if err := dec.Decode(&body); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body: larger than %d bytes", limit)
			return
		}
		writeError(w, http.StatusBadRequest, "request body: must be a JSON object {\"value\": string}: %v", err)
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "request body: must contain a single JSON object")
		return
	}
	if body.Value == nil {
		writeError(w, http.StatusBadRequest, "value: required")
		return
	}
	e, created, err := a.store.Put(key, *body.Value, ifVersion)
	if err != nil {
		a.storeError(w, err)
		return
	}
	w.Header().Set("ETag", etag(e.Version))
	code := http.StatusOK
	if created {
		w.Header().Set("Location", "/api/v1/kv/"+key)
		code = http.StatusCreated
	}
	writeJSON(w, code, e)
}

func (a *api) delete(w http.ResponseWriter, r *http.Request) {
	if err := a.store.Delete(r.PathValue("key")); err != nil {
		a.storeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// storeError maps a kv error to its HTTP status; the message comes from the store and names
// the key and the limit involved.
func (a *api) storeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, kv.ErrInvalidKey):
		writeError(w, http.StatusBadRequest, "key: %v", err)
	case errors.Is(err, kv.ErrNotFound):
		writeError(w, http.StatusNotFound, "%v", err)
	case errors.Is(err, kv.ErrValueTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "%v", err)
	case errors.Is(err, kv.ErrVersionMismatch):
		writeError(w, http.StatusPreconditionFailed, "%v", err)
	case errors.Is(err, kv.ErrFull):
		writeError(w, http.StatusConflict, "%v", err)
	default:
		a.logger.Error("store operation failed", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// parseIfMatch accepts an absent header (0: any version) or one strong ETag with a positive version.
func parseIfMatch(h string) (int64, error) {
	if h == "" {
		return 0, nil
	}
	if len(h) < 3 || h[0] != '"' || h[len(h)-1] != '"' {
		return 0, fmt.Errorf("must be a single quoted version such as \"3\", got %q", h)
	}
	v, err := strconv.ParseInt(h[1:len(h)-1], 10, 64)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("must be a single quoted version such as \"3\", got %q", h)
	}
	return v, nil
}

// requireToken lets a request through only with a valid "Authorization: Bearer <token>".
// Tokens are compared as SHA-256 digests in constant time, so neither content nor length leaks.
func (a *api) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(a.tokens) == 0 {
			writeError(w, http.StatusServiceUnavailable, "writes are disabled: API_TOKEN is not configured")
			return
		}
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sample-app"`)
			writeError(w, http.StatusUnauthorized, "Authorization: a bearer token is required")
			return
		}
		got := sha256.Sum256([]byte(tok))
		match := 0
		for _, want := range a.tokens {
			match |= subtle.ConstantTimeCompare(got[:], want[:])
		}
		if match != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sample-app", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "Authorization: the bearer token is not valid")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *api) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.logger.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests writes one structured line per request. It records method, path (never the
// query string), status, size, duration and client, and never any header: Authorization stays
// out of the logs. Health probes are logged at debug level to keep the log readable.
func (a *api) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		level := slog.LevelInfo
		switch {
		case r.URL.Path == "/healthz" || r.URL.Path == "/readyz":
			level = slog.LevelDebug // a 503 from /readyz while draining is expected, not an error
		case rec.status >= 500:
			level = slog.LevelError
		}
		a.logger.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int("bytes", rec.bytes),
			slog.Float64("durationMs", float64(time.Since(start).Microseconds())/1000),
			slog.String("remote", r.RemoteAddr),
		)
	})
}
