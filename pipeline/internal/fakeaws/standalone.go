package fakeaws

import (
	"context"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"dagger/fargate/pipeline/awsconf"
)

// Start starts a server outside a test, for benchmark harnesses (package main); the caller
// closes it with Close.
func Start() *Server {
	s := &Server{
		json:   map[string]JSONHandler{},
		query:  map[string]QueryHandler{},
		rest:   map[string]http.Handler{},
		faults: map[string][]*APIError{},
	}
	s.http = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops a server made by Start.
func (s *Server) Close() { s.http.Close() }

// HarnessConfig is Config for servers made by Start.
func (s *Server) HarnessConfig(ctx context.Context) (aws.Config, error) {
	return awsconf.Load(ctx, awsconf.Options{
		Region:          "eu-west-1",
		AccessKeyID:     "AKIAFAKEFAKEFAKEFAKE",
		SecretAccessKey: "fake-secret-never-printed",
		Endpoint:        s.URL(),
		MaxBackoff:      5 * time.Millisecond,
	})
}
