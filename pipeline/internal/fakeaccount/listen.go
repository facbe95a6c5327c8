package fakeaccount

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Running is an account serving on two addresses: the AWS APIs with the control API, and
// the registry.
type Running struct {
	// AWSAddr and RegistryAddr are the addresses listened on (host:port).
	AWSAddr, RegistryAddr string
	servers               []*http.Server
	errs                  chan error
}

// Listen serves the account's AWS and control APIs on awsAddr and its registry on
// registryAddr (host:port; port 0 picks a free one).
func (a *Account) Listen(awsAddr, registryAddr string) (*Running, error) {
	awsLn, err := net.Listen("tcp", awsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for the AWS APIs on %s: %w", awsAddr, err)
	}
	regLn, err := net.Listen("tcp", registryAddr)
	if err != nil {
		_ = awsLn.Close()
		return nil, fmt.Errorf("listen for the registry on %s: %w", registryAddr, err)
	}
	return a.Serve(awsLn, regLn), nil
}

// Serve is Listen on listeners the caller opened (e.g. to learn a free port before New).
func (a *Account) Serve(awsLn, regLn net.Listener) *Running {
	r := &Running{AWSAddr: awsLn.Addr().String(), RegistryAddr: regLn.Addr().String(), errs: make(chan error, 2)}
	for _, s := range []struct {
		ln net.Listener
		h  http.Handler
	}{{awsLn, a.Handler()}, {regLn, a.Registry()}} {
		srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 30 * time.Second}
		r.servers = append(r.servers, srv)
		go func(ln net.Listener) {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				r.errs <- err
			}
		}(s.ln)
	}
	return r
}

// Err delivers the first error that stopped a server.
func (r *Running) Err() <-chan error { return r.errs }

// Close stops both servers, letting requests in flight finish until ctx ends.
func (r *Running) Close(ctx context.Context) error {
	var errs []error
	for _, s := range r.servers {
		errs = append(errs, s.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
