package healthcheck

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestURL(t *testing.T) {
	if got := URL(8080); got != "http://127.0.0.1:8080/healthz" {
		t.Fatalf("URL(8080) = %q", got)
	}
}

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.WriteHeader(http.StatusOK)
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		case "/unavailable":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/redirect":
			http.Redirect(w, r, "/unavailable", http.StatusFound)
		case "/hang":
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closed.Addr().String() + Path
	closed.Close()

	tests := []struct {
		name    string
		url     string
		timeout time.Duration
		wantErr string // "" means healthy
	}{
		{"healthy", srv.URL + "/healthz", time.Minute, ""},
		{"any 2xx is healthy", srv.URL + "/nocontent", time.Minute, ""},
		{"503 is unhealthy", srv.URL + "/unavailable", time.Minute, "status 503, want 2xx"},
		{"404 is unhealthy", srv.URL + "/missing", time.Minute, "status 404"},
		{"redirect to failure is unhealthy", srv.URL + "/redirect", time.Minute, "status 503"},
		{"nothing listening", closedURL, time.Minute, "connection refused"},
		{"hung server times out", srv.URL + "/hang", 20 * time.Millisecond, "context deadline exceeded"},
		{"malformed URL", "http://[::1", time.Minute, "health check http://[::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			err := Probe(ctx, nil, tt.url)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Probe = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Probe = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}
