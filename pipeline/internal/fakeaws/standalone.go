package fakeaws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Start starts a server outside a test, for benchmark harnesses (package main); the caller
// closes it with Close.
func Start() *Server { return start() }

// Close stops a server made by Start.
func (s *Server) Close() { s.http.Close() }

// HarnessConfig is Config for servers made by Start.
func (s *Server) HarnessConfig(ctx context.Context) (aws.Config, error) { return s.load(ctx) }
