package chain_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/chain"
	"dagger/fargate/pipeline/internal/ecsfake"
)

func TestDeployPreprodHealthy(t *testing.T) {
	w := newWorld(t)
	out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
	require.NoError(t, err, reportOf(out, err))
	w.assertNoSecrets(out, err)

	assert.Equal(t, "**DEPLOYED: sample-app-preprod:2**", headline(t, out))
	assert.Contains(t, out, "| Source revision | `9f1c2e7b5d0a4c3e` |")
	assert.Contains(t, out, "| Signature | signed and verified | cosign key pair |")
	assert.Contains(t, out, "| Previous task definition | `sample-app-preprod:1` |")
	assert.NotContains(t, out, "0m0", "no progress line reads like a terminal colour code")
	assert.Regexp(t, `\| \+\d+s .*IN\\_PROGRESS`, out, "progress lines start with the time since the update")

	// The order of the chain, and every gate before the first change in ECS.
	w.steps.mu.Lock()
	calls := strings.Join(w.steps.calls, "\n")
	w.steps.mu.Unlock()
	assert.Regexp(t, `(?s)^build linux/amd64\n.*trivy image.*\npush 111122223333\.dkr\.ecr\.eu-west-1\.amazonaws\.com/sample-app:9f1c2e7b5d0a4c3e\ncosign sign [^\n]*(\ncosign (attest|verify) [^\n]*){3}$`, calls,
		"a digest pushed for the first time is signed without looking for a signature to reuse, then attested and verified")
	assert.Equal(t, 2, strings.Count(calls, "cosign attest "))
	assert.Equal(t, 1, strings.Count(calls, "cosign verify "))
	assert.Equal(t, []string{"ecr:CreateRepository", "ecr:PutLifecyclePolicy", "ecs:RegisterTaskDefinition", "ecs:UpdateService"}, w.mutations())

	// ECS runs the pushed digest, and the registration is tagged with what was deployed.
	primary := w.ecs.PrimaryTaskDefinition("sample-app-preprod", "sample-app")
	td, tags, ok := w.ecs.TaskDefinition(primary)
	require.True(t, ok)
	digest := w.ecr.Images("sample-app")[0].Digest
	assert.Equal(t, "111122223333.dkr.ecr.eu-west-1.amazonaws.com/sample-app@"+digest, *td.ContainerDefinitions[0].Image)
	assert.Contains(t, tagMap(tags), "deploy:git-revision")
	assert.Equal(t, "9f1c2e7b5d0a4c3e", tagMap(tags)["deploy:git-revision"])
	assert.True(t, w.steps.signed[digest])
}

func tagMap(tags []types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// Every gate that can fail refuses with the exact headline and changes nothing in AWS after
// it (issue #10: "for every gate that can fail … assert that no AWS mutation happened after it").
func TestDeployGatesChangeNothing(t *testing.T) {
	tests := []struct {
		name     string
		env      string
		setup    func(w *world, req *chain.DeployRequest)
		headline string
		reason   string
		// awsCalls is false when the gate comes before any AWS call at all.
		awsCalls bool
		// built says whether the image was built before the gate refused.
		built bool
		// allowed are the mutations that happened before the gate (ECR push for signing).
		allowed []string
	}{
		{name: "unknown environment", env: "staging", headline: "**BAD INPUT: nothing was deployed**",
			reason: `environment "staging"`},
		{name: "a secret that cannot be read", env: "preprod", headline: "**BAD INPUT: nothing was deployed**", reason: "read --aws-access-key-id",
			setup: func(w *world, _ *chain.DeployRequest) {
				w.s.Invalid = fmt.Errorf("read --aws-access-key-id: %w", &engineError{"secret env var not found: \"AWS_ACCESS_KEY_ID\""})
			}},
		{name: "malformed environments file", env: "preprod", headline: "**BAD INPUT: nothing was deployed**", reason: "invalid environments file",
			setup: func(w *world, _ *chain.DeployRequest) {
				w.files["fargate.yaml"] = strings.Replace(w.files["fargate.yaml"], "failOn: [CRITICAL, HIGH]", "failOn: [CRITICAL, SEVERE]", 1)
			}},
		{name: "container missing from the task definition", env: "preprod", headline: "**BAD INPUT: nothing was deployed**", reason: `"web"`,
			setup: func(w *world, _ *chain.DeployRequest) {
				w.files["fargate.yaml"] = strings.Replace(w.files["fargate.yaml"], "container: app\n    approval: false", "container: web\n    approval: false", 1)
			}},
		{name: "malformed task definition", env: "preprod", headline: "**BAD INPUT: nothing was deployed**", reason: "ecs/preprod.taskdef.json",
			setup: func(w *world, _ *chain.DeployRequest) {
				w.files["ecs/preprod.taskdef.json"] = `{"family": "sample-app-preprod", "containerDefinitions": [{"name": "app", "cpu": "lots"}]}`
			}},
		{name: "break-glass without a real reason", env: "preprod", headline: "**BAD INPUT: nothing was deployed**", reason: "--break-glass",
			setup: func(_ *world, req *chain.DeployRequest) { req.BreakGlass = "yolo" }},
		{name: "no signing key", env: "preprod", headline: "**BAD INPUT: nothing was deployed**", reason: "--cosign-key",
			setup: func(w *world, _ *chain.DeployRequest) { w.s.Keys = chain.Keys{} }},
		{name: "approval missing", env: "prod", headline: "**REFUSED: nothing was deployed**", reason: "approval"},
		{name: "wrong account", env: "preprod", headline: "**REFUSED: nothing was deployed**", reason: "999988887777", awsCalls: true,
			setup: func(w *world, _ *chain.DeployRequest) { w.caller = "999988887777" }},
		{name: "busy service", env: "preprod", headline: "**REFUSED: nothing was deployed**", reason: "deployment in progress", awsCalls: true,
			setup: func(w *world, _ *chain.DeployRequest) {
				require.NoError(w.t, w.ecs.StartDeployment("sample-app-preprod", "sample-app", w.arns["preprod"], ecsfake.Rollout{Kind: ecsfake.Hang}))
			}},
		{name: "policy", env: "preprod", headline: "**REFUSED: nothing was deployed**", reason: "policy check failed", awsCalls: true,
			setup: func(w *world, _ *chain.DeployRequest) {
				w.files["ecs/preprod.taskdef.json"] = strings.Replace(w.file("ecs/preprod.taskdef.json"), `"privileged": false`, `"privileged": true`, 1)
			}},
		{name: "scan gate", env: "preprod", headline: "**REFUSED: nothing was deployed**", reason: "scan gate failed", awsCalls: true, built: true,
			setup: func(w *world, _ *chain.DeployRequest) { w.steps.trivyReport = w.testdata("report-mixed.json") }},
		{name: "build failure", env: "preprod", headline: "**FAILED TO BUILD: nothing was deployed**", reason: "lstat /e2e-leaked-key.pem", awsCalls: true, built: true,
			setup: func(w *world, _ *chain.DeployRequest) {
				w.steps.buildErr = fmt.Errorf("for linux/amd64: %w", &engineError{"lstat /e2e-leaked-key.pem: no such file or directory"})
			}},
		{name: "trivy cannot run", env: "preprod", headline: "**FAILED BEFORE DEPLOY: nothing was deployed**", reason: "trivy scan: FATAL", awsCalls: true, built: true,
			setup: func(w *world, _ *chain.DeployRequest) {
				w.steps.trivyErr = &engineError{"FATAL init error: DB error: failed to download vulnerability DB"}
			}},
		{name: "push failure", env: "preprod", headline: "**FAILED BEFORE DEPLOY: nothing was deployed**", reason: "push ", awsCalls: true, built: true,
			allowed: []string{"ecr:CreateRepository", "ecr:PutLifecyclePolicy"},
			setup: func(w *world, _ *chain.DeployRequest) {
				w.steps.pushErr = &engineError{"unexpected status 401 Unauthorized"}
			}},
		{name: "SBOM", env: "preprod", headline: "**FAILED BEFORE DEPLOY: nothing was deployed**", reason: "sbom", awsCalls: true, built: true,
			setup: func(w *world, _ *chain.DeployRequest) { w.steps.sbomErr = errors.New("trivy: out of memory") }},
		{name: "signing", env: "preprod", headline: "**REFUSED: nothing was deployed**", reason: "sign ", awsCalls: true, built: true,
			allowed: []string{"ecr:CreateRepository", "ecr:PutLifecyclePolicy"},
			setup:   func(w *world, _ *chain.DeployRequest) { w.steps.signErr = errors.New("KMS: access denied") }},
		{name: "signature verification", env: "preprod", headline: "**REFUSED: nothing was deployed**", reason: "no signatures", awsCalls: true, built: true,
			allowed: []string{"ecr:CreateRepository", "ecr:PutLifecyclePolicy"},
			setup:   func(w *world, _ *chain.DeployRequest) { w.steps.verifyErr = errors.New("no signatures found") }},
		{name: "promotion source runs a tag", env: "prod", headline: "**REFUSED: nothing was deployed**", reason: "not pinned by digest", awsCalls: true,
			setup: func(w *world, req *chain.DeployRequest) { req.ApprovedBy = "alice"; w.caller = prodAccount }},
		{name: "promotion source unsigned", env: "prod", headline: "**REFUSED: nothing was deployed**", reason: "image signature did not verify", awsCalls: true,
			setup: func(w *world, req *chain.DeployRequest) {
				req.ApprovedBy, w.caller = "alice", prodAccount
				unsigned := strings.Replace(w.file("ecs/preprod.taskdef.json"), "sample-app:placeholder", "sample-app@sha256:"+strings.Repeat("cd", 32), 1)
				arn, err := w.ecs.RegisterJSON(unsigned)
				require.NoError(w.t, err)
				require.NoError(w.t, w.ecs.StartDeployment("sample-app-preprod", "sample-app", arn, ecsfake.Rollout{}))
				require.NoError(w.t, w.clock.Sleep(context.Background(), 5*time.Minute))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			req := chain.DeployRequest{Env: tt.env}
			if tt.setup != nil {
				tt.setup(w, &req)
			}
			out, err := w.s.Deploy(context.Background(), req)
			require.Error(t, err)
			assert.Empty(t, out)
			w.assertNoSecrets(out, err)
			var engine *engineError
			assert.False(t, errors.As(err, &engine), "an engine error in the chain would replace the report in Dagger's output")
			rep := reportOf(out, err)
			assert.Equal(t, tt.headline, headline(t, rep))
			assert.Contains(t, rep, "| Outcome | ", "the report's summary")
			assert.Contains(t, err.Error(), tt.reason)
			assert.Equal(t, tt.allowed, w.mutations(), "no AWS change after the %s gate", tt.name)
			if !tt.awsCalls {
				assert.Empty(t, w.srv.CallLog(), "refused before any AWS call")
			}
			assert.Equal(t, tt.built, w.steps.called("build"), "build")
			if tt.allowed == nil {
				assert.False(t, w.steps.called("push"), "nothing pushed")
			}
			if !tt.built {
				assert.False(t, w.steps.called("cosign sign") || w.steps.called("cosign attest"), "nothing signed")
			}
		})
	}
}

func TestDeployBreakGlassBypassesAFailingGateLoudly(t *testing.T) {
	w := newWorld(t)
	w.steps.trivyReport = w.testdata("report-mixed.json")
	out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod", BreakGlass: "hotfix for INC-42, fix ships tomorrow", ApprovedBy: "alice"})
	require.NoError(t, err, reportOf(out, err))
	assert.Equal(t, "**DEPLOYED (break-glass): sample-app-preprod:2**", headline(t, out))
	assert.Contains(t, out, "| scan | alice |")
	assert.Contains(t, w.log.String(), "BREAK-GLASS: the scan gate failed and was bypassed by alice")
}

func TestDeployFailingRolloutIsRolledBack(t *testing.T) {
	w := newWorld(t)
	w.ecs.ScriptNext(ecsfake.Rollout{Kind: ecsfake.FailTasks})
	out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
	require.Error(t, err)
	w.assertNoSecrets(out, err)
	rep := reportOf(out, err)
	assert.Equal(t, "**FAILED: rolled back to sample-app-preprod:1**", headline(t, rep))
	assert.Contains(t, rep, "Essential container in task exited")
	assert.Equal(t, w.arns["preprod"], w.ecs.PrimaryTaskDefinition("sample-app-preprod", "sample-app"), "the service ends on the last good revision")
}

// Issue #10 item 6: a cancelled deploy is "cancelled", with where the service is and that
// ECS goes on, not "rollback failed".
func TestDeployCancelledSaysWhereTheServiceIs(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.s.ECS.Clock = &ecsfake.TriggerClock{VirtualClock: w.clock, At: t0.Add(20 * time.Second), Do: cancel}
	out, err := w.s.Deploy(ctx, chain.DeployRequest{Env: "preprod"})
	require.Error(t, err)
	rep := reportOf(out, err)
	assert.Equal(t, "**CANCELLED: service on sample-app-preprod:2; ECS continues the rollout on its own**", headline(t, rep))
	assert.Contains(t, rep, "| Outcome | cancelled |")
	assert.NotContains(t, rep, "rollback failed")
}

func TestDeployProdPromotesThePreprodDigestWithItsRevision(t *testing.T) {
	w := newWorld(t)
	out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
	require.NoError(t, err, reportOf(out, err))
	digest := w.ecr.Images("sample-app")[0].Digest

	// The prod run is another checkout: its own revision must not be reported (issue #10 item 4).
	w.s.GitRevision = "ffffffffffff"
	w.caller = prodAccount
	before := len(w.steps.calls)
	out, err = w.s.Deploy(context.Background(), chain.DeployRequest{Env: "prod", ApprovedBy: "alice", ApprovalReason: "release 1.4"})
	require.NoError(t, err, reportOf(out, err))
	w.assertNoSecrets(out, err)

	assert.Equal(t, "**DEPLOYED: sample-app-prod:2**", headline(t, out))
	assert.Contains(t, out, "| Source revision | `9f1c2e7b5d0a4c3e` |")
	assert.NotContains(t, out, "ffffffffffff")
	assert.Contains(t, out, "approved by alice")
	assert.Contains(t, out, "Progressive delivery", "prod deploys as a canary, and the report shows its stages")
	for _, c := range w.steps.calls[before:] {
		assert.False(t, strings.HasPrefix(c, "build") || strings.HasPrefix(c, "push") || strings.HasPrefix(c, "cosign sign"), "prod does not rebuild, push or sign: %s", c)
	}
	td, tags, ok := w.ecs.TaskDefinition(w.ecs.PrimaryTaskDefinition("sample-app-prod", "sample-app"))
	require.True(t, ok)
	assert.True(t, strings.HasSuffix(*td.ContainerDefinitions[0].Image, "@"+digest))
	m := tagMap(tags)
	assert.Equal(t, "9f1c2e7b5d0a4c3e", m["deploy:git-revision"])
	assert.Equal(t, "alice", m["fargate:approved-by"])
	assert.Equal(t, "preprod", m["fargate:promoted-from"])
}

func TestDeployLocal(t *testing.T) {
	w := newWorld(t)
	out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "local"})
	require.NoError(t, err, reportOf(out, err))
	assert.Equal(t, "**DEPLOYED: sample-app-preprod (rendered, not registered)**", headline(t, out))
	assert.Empty(t, w.srv.CallLog(), "--env local makes no AWS call")
	assert.True(t, w.steps.appStopped)
	assert.True(t, w.steps.regStopped)
	assert.Equal(t, "localhost:5000/sample-app@sha256:"+strings.Repeat("ab", 32), w.steps.app.Image)
	assert.Equal(t, "65532:65532", w.steps.app.Spec.User)
	assert.Equal(t, 8080, w.steps.app.Spec.Port)
	require.NotEmpty(t, w.steps.probeURLs)
	assert.Regexp(t, `^http://app:8080/healthz\?`, w.steps.probeURLs[0])
	// cosign reaches the local registry under its service name, with the local key.
	require.NotEmpty(t, w.steps.setups)
	assert.True(t, w.steps.setups[0].LocalRegistry && w.steps.setups[0].LocalKey)
	assert.True(t, w.steps.signed["sha256:"+strings.Repeat("ab", 32)])
	assert.True(t, w.steps.called("cosign verify registry:5000/sample-app@sha256:"))

	// Issue #13 item 4: the same digest, signed by the same key for the same scan decision,
	// is verified again and not signed again.
	w.steps.calls = nil
	out, err = w.s.Deploy(context.Background(), chain.DeployRequest{Env: "local"})
	require.NoError(t, err, reportOf(out, err))
	assert.False(t, w.steps.called("cosign sign"), "signature reused")
	assert.False(t, w.steps.called("cosign attest"), "attestations reused")
	assert.True(t, w.steps.called("cosign verify "), "never skip the verification")
	assert.Contains(t, out, "verified (existing signature reused)")

	// A different scan gate decision (the gate now also fails on HIGH) is signed and
	// attested anew.
	w.steps.calls = nil
	w.files["fargate.yaml"] = strings.Replace(w.files["fargate.yaml"], "failOn: [CRITICAL]\n", "failOn: [CRITICAL, HIGH]\n", 1)
	out, err = w.s.Deploy(context.Background(), chain.DeployRequest{Env: "local"})
	require.NoError(t, err, reportOf(out, err))
	assert.True(t, w.steps.called("cosign sign"))
	assert.Contains(t, out, "| Signature | signed and verified |")
}

// Issue #10 item 6: an app that never becomes healthy locally is "failed locally".
func TestDeployLocalUnhealthy(t *testing.T) {
	w := newWorld(t)
	w.files["fargate.yaml"] = strings.Replace(w.files["fargate.yaml"], "waitTimeout: 2m", "waitTimeout: 30s", 1)
	w.steps.healthy = func(int) bool { return false }
	out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "local"})
	require.Error(t, err)
	rep := reportOf(out, err)
	assert.Equal(t, "**FAILED LOCALLY: the app did not become healthy**", headline(t, rep))
	assert.Contains(t, rep, "| Outcome | failed locally |")
	assert.NotContains(t, rep, "rollback")
	assert.True(t, w.steps.appStopped)
}

// Issue #10 item 5: the rollback function's headline says what happened.
func TestRollbackHeadline(t *testing.T) {
	w := newWorld(t)
	out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
	require.NoError(t, err, reportOf(out, err))
	out, err = w.s.Rollback(context.Background(), "preprod", "")
	require.NoError(t, err, reportOf(out, err))
	w.assertNoSecrets(out, err)
	assert.Equal(t, "## Rollback of preprod: sample-app-preprod/sample-app", strings.Split(out, "\n")[0])
	assert.Equal(t, "**ROLLED BACK to sample-app-preprod:1 (from sample-app-preprod:2)**", headline(t, out))
	assert.NotContains(t, out, "DEPLOYED")
	assert.Equal(t, w.arns["preprod"], w.ecs.PrimaryTaskDefinition("sample-app-preprod", "sample-app"))
}

// The module's --environment names the environment of a rollback as --env does, in its
// report too.
func TestRollbackReportNamesTheModulesEnvironment(t *testing.T) {
	w := newWorld(t)
	out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
	require.NoError(t, err, reportOf(out, err))
	w.s.Environment = "preprod"
	out, err = w.s.Rollback(context.Background(), "", "")
	require.NoError(t, err, reportOf(out, err))
	assert.Equal(t, "## Rollback of preprod: sample-app-preprod/sample-app", strings.Split(out, "\n")[0])
	assert.Contains(t, out, "| Environment | preprod |")
}

// An AWS-compatible endpoint over plain HTTP hands out a plain-HTTP registry: cosign is told
// so (it would try HTTPS otherwise); against AWS it is not.
func TestCosignReachesAPlainHTTPRegistryOnlyBehindAnHTTPEndpoint(t *testing.T) {
	for _, tt := range []struct {
		endpoint string
		insecure bool
	}{{"", false}, {"https://aws.example.internal", false}, {"http://172.17.0.1:4566", true}} {
		w := newWorld(t)
		w.s.Endpoint = tt.endpoint
		out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
		require.NoError(t, err, reportOf(out, err))
		require.NotEmpty(t, w.steps.cosignArgs)
		for _, args := range w.steps.cosignArgs {
			assert.Equal(t, tt.insecure, slices.Contains(args, "--allow-http-registry"), "%s: %v", tt.endpoint, args)
			assert.True(t, strings.Contains(args[len(args)-1], "@sha256:"), "the image reference stays last: %v", args)
		}
	}
}

// The prod canary, rolled back by an alarm during its bake: the chain reports the alarm and
// ends on the last good revision (issue #12 through the chain).
func TestDeployProdCanaryRolledBackByAlarm(t *testing.T) {
	w := newWorld(t)
	out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
	require.NoError(t, err, reportOf(out, err))
	w.caller = prodAccount
	w.ecs.FireAlarm("sample-app-prod-5xx-rate", w.clock.Now().Add(3*time.Minute))
	out, err = w.s.Deploy(context.Background(), chain.DeployRequest{Env: "prod", ApprovedBy: "alice"})
	require.Error(t, err)
	rep := reportOf(out, err)
	assert.Equal(t, "**FAILED: rolled back to sample-app-prod:1**", headline(t, rep))
	assert.Contains(t, rep, "sample-app-prod-5xx-rate")
	assert.Equal(t, w.arns["prod"], w.ecs.PrimaryTaskDefinition("sample-app-prod", "sample-app"))
}

// A revision already published (its tag is immutable) is not pushed again, and its valid
// signature is verified and reused rather than signed again (issue #13 item 4).
func TestDeploySameRevisionReusesImageAndSignature(t *testing.T) {
	w := newWorld(t)
	out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
	require.NoError(t, err, reportOf(out, err))
	w.steps.calls = nil
	out, err = w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
	require.NoError(t, err, reportOf(out, err))
	assert.False(t, w.steps.called("push"), "the tag exists: nothing pushed")
	assert.False(t, w.steps.called("cosign sign") || w.steps.called("cosign attest"), "nothing signed again")
	assert.True(t, w.steps.called("cosign verify "), "verified before deploy")
	assert.Contains(t, out, "| Signature | verified (existing signature reused) |")
	assert.Contains(t, out, "reused, not signed again")
}

// Issue #17 item 2: every early failure of --env local ends with a headline and the report.
func TestDeployLocalStepFailuresCarryTheReport(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(w *world)
		headline string
		reason   string
		pushed   bool
	}{
		{"build", func(w *world) {
			w.steps.buildErr = &engineError{"process \"go build\" did not complete successfully: exit code: 1"}
		},
			"**FAILED TO BUILD: nothing was deployed**", "build sample-app: process", false},
		{"trivy", func(w *world) { w.steps.trivyErr = &engineError{"FATAL image scan error"} },
			"**FAILED BEFORE DEPLOY: nothing was deployed**", "trivy scan: FATAL image scan error", false},
		{"push", func(w *world) { w.steps.pushErr = &engineError{"connection refused"} },
			"**FAILED BEFORE DEPLOY: nothing was deployed**", "push to the local registry: connection refused", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			tt.setup(w)
			out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "local"})
			require.Error(t, err)
			assert.Empty(t, out)
			var engine *engineError
			assert.False(t, errors.As(err, &engine), "an engine error in the chain would replace the report in Dagger's output")
			rep := reportOf(out, err)
			assert.Equal(t, tt.headline, headline(t, rep))
			assert.Contains(t, err.Error(), tt.reason)
			assert.Contains(t, rep, "| Outcome | ")
			assert.Equal(t, tt.pushed, w.steps.called("push"))
			assert.False(t, w.steps.called("app "), "the app is not started")
			assert.Empty(t, w.srv.CallLog())
		})
	}
}

// Issue #17 item 5: a deploy analyses the image once. The SBOM is rendered from the scan's
// report (trivy convert, no image tarball), and the scan keeps every package for it.
func TestDeployAnalysesTheImageOnce(t *testing.T) {
	for _, env := range []string{"local", "preprod"} {
		t.Run(env, func(t *testing.T) {
			w := newWorld(t)
			out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: env})
			require.NoError(t, err, reportOf(out, err))
			var analyses, converts []chain.TrivyRun
			for _, run := range w.steps.trivyRuns {
				if run.ImageInput != "" {
					analyses = append(analyses, run)
				}
				if run.Args[1] == "convert" {
					converts = append(converts, run)
				}
			}
			require.Len(t, analyses, 1, "one Trivy analysis of the image tarball per run")
			assert.Contains(t, analyses[0].Args, "--list-all-pkgs", "the report lists every package, for the SBOM")
			require.Len(t, converts, 1)
			assert.True(t, converts[0].SBOM, "the converted file is the run's SBOM, attested by cosign")
			assert.Contains(t, converts[0].Args, "cyclonedx")
			require.Len(t, converts[0].Inputs, 1)
			assert.Equal(t, w.steps.trivyReport, converts[0].Inputs[0].Data, "converted from this run's scan report")
			assert.Contains(t, out, "| SBOM | produced | cyclonedx, attached as attestation |")
		})
	}
}

// Issue #17 item 5: after signing, the signature is verified while the two attestations are
// written (one after the other: cosign's referrers index is read-modify-write).
func TestDeployVerifiesWhileItAttests(t *testing.T) {
	w := newWorld(t)
	w.steps.attestWaitsForVerify = true
	w.steps.verifying = make(chan struct{})
	out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
	require.NoError(t, err, reportOf(out, err))
	assert.Contains(t, out, "| Signature | signed and verified | cosign key pair |")
	var order []string
	for _, c := range w.steps.calls {
		if strings.HasPrefix(c, "cosign ") {
			order = append(order, strings.Fields(c)[1])
		}
	}
	require.NotEmpty(t, order)
	assert.Equal(t, "sign", order[0], "the signature comes first")
	attests := 0
	for _, op := range order {
		if op == "attest" {
			attests++
		}
	}
	assert.Equal(t, 2, attests)
}
