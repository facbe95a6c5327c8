package chain

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/ecr"
	"dagger/fargate/pipeline/localrun"
	"dagger/fargate/pipeline/report"
	"dagger/fargate/pipeline/taskdef"
)

// deployLocal runs the chain with no AWS: a registry service, the engine's local signing key,
// and the app started with the task definition's settings, probed until healthy.
func (s *Session) deployLocal(ctx context.Context, r *report.Recorder, f *config.File, e config.Environment, def *taskdef.Definition, setup SigningSetup, sg signer, bg report.BreakGlassRequest) (string, error) {
	r.Service = "local (Dagger services)"
	spec, err := s.LocalSpec(def, e, f)
	if err != nil {
		return r.Finish(report.BadInput, err.Error(), err)
	}
	if err := s.policyGate(ctx, r, f, e, def, LocalRegistryHost+"/"+f.Registry.Repository+"@"+placeholderDigest, bg); err != nil {
		return r.Refuse(err)
	}
	scanned, err := s.buildAndScan(ctx, r, f, e, bg)
	if err != nil {
		return stopped(r, err)
	}
	pctx, endPublish := r.Phase(ctx, "publish")
	stopRegistry, err := s.Steps.StartLocalRegistry(pctx)
	if err != nil {
		endPublish(err)
		return stopped(r, failedStep(report.FailedBeforeDeploy, fmt.Errorf("start the local registry: %w", err)))
	}
	defer stopRegistry()
	repo := LocalRegistryHost + "/" + f.Registry.Repository
	digest, err := s.Steps.Push(pctx, PushTarget{Address: repo + ":" + ecr.ImageTag(s.GitRevision, s.now()), Local: true})
	endPublish(err)
	if err != nil {
		return stopped(r, failedStep(report.FailedBeforeDeploy, fmt.Errorf("push to the local registry: %w", err)))
	}
	// The local registry keeps its images between runs: an unchanged build is the same digest,
	// possibly signed already.
	ref := repo + "@" + digest
	r.Image = ref
	r.Logf("publish: pushed %s to the local registry", ref)
	sctx, endSign := r.Phase(ctx, "sign + verify")
	signer, err := s.prepareSigner(sctx, setup, sg, nil, nil)
	if err != nil {
		endSign(err)
		return stopped(r, err)
	}
	err = s.signAndVerify(sctx, r, signer, CosignLocalRef(ref), scanned, true, bg)
	endSign(err)
	if err != nil {
		return r.Refuse(err)
	}
	r.TaskDefinition = def.Family() + " (rendered, not registered)"

	for _, n := range spec.Notes {
		r.Logf("run: %s", n)
	}
	r.Logf("run: starting %s on port %d with the task definition's settings", e.Container, spec.Port)
	rctx, endRun := r.Phase(ctx, "run + probe")
	app, err := s.Steps.StartApp(rctx, AppSpec{Image: ref, Platform: f.App.Platforms[0], Spec: spec})
	if err != nil {
		endRun(err)
		return r.Finish(report.FailedLocally, "the app did not start: "+err.Error(), err)
	}
	defer app.Stop()
	attempts, err := s.probeUntilHealthy(rctx, app, f.App.HealthPath, e.Timeout())
	endRun(err)
	if err != nil {
		return r.Finish(report.FailedLocally, "the app did not become healthy: "+err.Error(), err)
	}
	r.Logf("run: %s answered %s after %d probe(s)", e.Container, f.App.HealthPath, attempts)
	return r.Finish(report.Deployed, "healthy locally: "+ref, nil)
}

// probeUntilHealthy probes the app's health path until it answers 2xx or timeout passes.
func (s *Session) probeUntilHealthy(ctx context.Context, app App, path string, timeout time.Duration) (int, error) {
	probe, err := localrun.NewProbe(path, timeout)
	if err != nil {
		return 0, err
	}
	deadline := s.now().Add(probe.Timeout)
	for attempt := 1; ; attempt++ {
		err := app.Probe(ctx, probe.URL(app.Endpoint(), attempt, nonce()))
		if err == nil {
			return attempt, nil
		}
		if !s.now().Before(deadline) {
			return attempt, fmt.Errorf("health check %s did not pass within %s (%d probes): %v", path, timeout, attempt, err)
		}
		if err := s.sleep(ctx, probe.Wait(attempt)); err != nil {
			return attempt, fmt.Errorf("health check %s: %w", path, err)
		}
	}
}

// nonce is a random string that makes a probe's URL unique.
func nonce() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// CosignLocalRef is a local image reference as cosign's container names the registry.
func CosignLocalRef(ref string) string {
	if len(ref) > len(LocalRegistryHost) && ref[:len(LocalRegistryHost)+1] == LocalRegistryHost+"/" {
		return LocalCosignHost + ref[len(LocalRegistryHost):]
	}
	return ref
}
