package fakeaws

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Start starts a server outside a test, for benchmark harnesses (package main); the caller
// closes it with Close.
func Start() *Server { return start() }

// Close stops a server made by Start.
func (s *Server) Close() { s.http.Close() }

// HarnessConfig is Config for servers made by Start.
func (s *Server) HarnessConfig(ctx context.Context) (aws.Config, error) { return s.load(ctx) }

// NewHandler makes a server that does not listen by itself: it is an http.Handler to mount
// in a server of the caller's (a standalone fake on a chosen address, next to other routes).
func NewHandler() *Server { return newServer() }

// ServeHTTP answers one AWS request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.serve(w, r) }

// RequireAccessKey makes the server refuse every request signed with another access key ID
// (UnrecognizedClientException), so a caller that drops or replaces its credentials fails
// as it would against AWS. Empty accepts any key.
func (s *Server) RequireAccessKey(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accessKey = id
}

// AllowAccessKey accepts id as well as the required key until expires (wall-clock time):
// temporary credentials the STS fake issued for an assumed role. After it, requests signed
// with id are refused as expired, as AWS refuses them.
func (s *Server) AllowAccessKey(id string, expires time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.allowed == nil {
		s.allowed = map[string]time.Time{}
	}
	s.allowed[id] = expires
}
