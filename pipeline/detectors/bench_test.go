package detectors

import (
	"context"
	"testing"

	"dagger/fargate/pipeline/internal/detectorfake"
	"dagger/fargate/pipeline/internal/fakeaws"
)

// BenchmarkAudit measures one audit (8 calls over 5 services) against the local fakes.
func BenchmarkAudit(b *testing.B) {
	srv := fakeaws.New(b)
	detectorfake.New(srv, detectorfake.AllOn())
	cfg := srv.Config(b)
	for b.Loop() {
		if _, err := Audit(context.Background(), cfg, "eu-west-1"); err != nil {
			b.Fatal(err)
		}
	}
}
