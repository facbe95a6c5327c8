// Package healthcheck probes the service's own liveness endpoint. The runtime image has no
// shell or curl, so the ECS container health check runs the service binary itself with
// -healthcheck, which calls Probe.
package healthcheck

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Path is the liveness endpoint probed.
const Path = "/healthz"

// URL is the loopback address of the liveness endpoint on port.
func URL(port int) string {
	return "http://127.0.0.1:" + strconv.Itoa(port) + Path
}

// Probe sends GET url and returns nil on a 2xx answer. ctx bounds the whole probe; client nil
// means a client that ignores proxy settings (the probe must stay on loopback).
func Probe(ctx context.Context, client *http.Client, url string) error {
	if client == nil {
		client = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health check %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("health check %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("health check %s: status %d, want 2xx", url, resp.StatusCode)
	}
	return nil
}
