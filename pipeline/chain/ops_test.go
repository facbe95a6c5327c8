package chain_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/chain"
	"dagger/fargate/pipeline/internal/sarif/sarifschema"
	"dagger/fargate/pipeline/scan"
)

// Issue #10 item 1: Trivy's IaC scan writes its report under /scan, which must exist in its
// container. The fake container fails exactly like Trivy when it does not.
func TestCheckGivesTrivyItsOutputDirectory(t *testing.T) {
	w := newWorld(t)
	out, err := w.s.Check(context.Background(), chain.CheckOptions{Format: "json"})
	require.NoError(t, err)
	assert.Contains(t, out, `"findings"`)
	require.NotEmpty(t, w.steps.trivyRuns)
	for _, run := range w.steps.trivyRuns {
		assert.Contains(t, run.Dirs(), "/scan", "the output directory is created for %v", run.Args)
		assert.Equal(t, "infra", run.SourceDir)
	}
	assert.Empty(t, w.srv.CallLog(), "check makes no AWS call")
}

func TestCheckFailsOnFindingsUnlessReportOnly(t *testing.T) {
	w := newWorld(t)
	w.files["ecs/prod.taskdef.json"] = strings.Replace(w.file("ecs/prod.taskdef.json"), `"readonlyRootFilesystem": true`, `"readonlyRootFilesystem": false`, 1)
	_, err := w.s.Check(context.Background(), chain.CheckOptions{Format: "text", SkipIaCScan: true})
	require.ErrorContains(t, err, "policy check failed (threshold high)")
	require.ErrorContains(t, err, "FG-TD-004")
	out, err := w.s.Check(context.Background(), chain.CheckOptions{Format: "sarif", ReportOnly: true, SkipIaCScan: true})
	require.NoError(t, err)
	assert.Contains(t, out, `"version": "2.1.0"`)
	assert.Empty(t, w.steps.trivyRuns, "--skip-iac-scan runs no Trivy")

	_, err = w.s.Check(context.Background(), chain.CheckOptions{Format: "yaml"})
	require.ErrorContains(t, err, "yaml")
}

func TestBuildRefusesRootAndUnknownPlatforms(t *testing.T) {
	w := newWorld(t)
	w.steps.users = []string{"0:0"}
	err := w.s.BuildImage(context.Background(), "")
	require.ErrorContains(t, err, "USER 65532:65532")

	w = newWorld(t)
	err = w.s.BuildImage(context.Background(), "linux/s390x")
	require.ErrorContains(t, err, `platform "linux/s390x"`)
	assert.False(t, w.steps.called("build"), "refused before building")
}

func TestServeRunsTheTaskDefinitionsSettings(t *testing.T) {
	w := newWorld(t)
	spec, err := w.s.Serve(context.Background(), "local")
	require.NoError(t, err)
	assert.Equal(t, "65532:65532", spec.User)
	assert.Equal(t, 8080, spec.Port)
	assert.Contains(t, spec.TmpfsPaths, "/tmp")
	assert.True(t, w.steps.called("build linux/amd64"))

	_, err = w.s.Serve(context.Background(), "qa")
	require.ErrorContains(t, err, `"qa"`)
}

func TestAWSFunctionsRefuseTheLocalEnvironment(t *testing.T) {
	w := newWorld(t)
	for name, call := range map[string]func() error{
		"status": func() error { _, err := w.s.Status(context.Background(), "local"); return err },
		"diff":   func() error { _, err := w.s.Diff(context.Background(), "local", ""); return err },
		"audit": func() error {
			_, err := w.s.Audit(context.Background(), chain.AuditOptions{Env: "local", Format: "text"})
			return err
		},
		"publish": func() error { _, err := w.s.Publish(context.Background(), "local"); return err },
	} {
		err := call()
		require.ErrorContains(t, err, "--env local runs without AWS", name)
	}
	assert.Empty(t, w.srv.CallLog())
}

func TestStatusAndDiff(t *testing.T) {
	w := newWorld(t)
	out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
	require.NoError(t, err, reportOf(out, err))
	st, err := w.s.Status(context.Background(), "preprod")
	require.NoError(t, err)
	assert.Contains(t, st, "sample-app-preprod:2")
	diff, err := w.s.Diff(context.Background(), "preprod", "")
	require.NoError(t, err)
	assert.Equal(t, "no difference: the rendered task definition matches the one running", diff)
	before := len(w.mutations())
	_, err = w.s.Status(context.Background(), "preprod")
	require.NoError(t, err)
	assert.Len(t, w.mutations(), before, "status changes nothing")
}

func TestSignAndVerifyRequireADigest(t *testing.T) {
	w := newWorld(t)
	_, err := w.s.Sign(context.Background(), "preprod", "111122223333.dkr.ecr.eu-west-1.amazonaws.com/sample-app:latest")
	require.ErrorContains(t, err, `--image "111122223333.dkr.ecr.eu-west-1.amazonaws.com/sample-app:latest"`)
	_, err = w.s.Verify(context.Background(), "preprod", "sample-app:latest")
	require.ErrorContains(t, err, "digest")
	assert.Empty(t, w.srv.CallLog())
}

func TestInfraRejectsABadParameterBeforeAWS(t *testing.T) {
	w := newWorld(t)
	_, err := w.s.Infra(context.Background(), chain.InfraOptions{Env: "preprod", Plan: true, Parameters: []string{"CertificateArn"}})
	require.ErrorContains(t, err, `--parameter[0] "CertificateArn": expected Key=Value`)
	assert.Empty(t, w.srv.CallLog())
}

// Issue #10 item 2: a suppression that matches nothing (the sample's AWS-0107) is said, so an
// accepted risk cannot outlive its finding unnoticed.
func TestCheckNamesSuppressionsThatMatchNothing(t *testing.T) {
	w := newWorld(t)
	w.files["fargate.yaml"] = strings.Replace(w.files["fargate.yaml"], "  iamPolicies:", `    - rule: FG-IAC-001
      resource: "*#*AWS-9999"
      reason: a check Trivy does not report
      expires: 2027-06-30
  iamPolicies:`, 1)
	out, err := w.s.Check(context.Background(), chain.CheckOptions{Format: "text"})
	require.NoError(t, err)
	assert.Contains(t, out, `note: the suppression of FG-IAC-001 on "*#*AWS-9999" matched no finding`)
	assert.Contains(t, w.log.String(), `"*#*AWS-9999" matched no finding`)

	// Without the IaC scan, the IaC suppressions are not judged.
	out, err = w.s.Check(context.Background(), chain.CheckOptions{Format: "text", SkipIaCScan: true})
	require.NoError(t, err)
	assert.NotContains(t, out, "AWS-9999")
}

// Issue #10 item 2: what real Trivy (v0.74) reports on the sample's landing zone — AWS-0035
// (HIGH, the Fargate task-storage volume taken for EFS), AWS-0053 and AWS-0104 — is accepted
// with a reason and an expiry, so `check` passes out of the box, and no accepted risk is stale.
func TestSampleCheckPassesOnWhatTrivyReports(t *testing.T) {
	w := newWorld(t)
	delete(w.files, "fargate.yaml") // the sample's own file, KMS signing and all
	report, err := os.ReadFile(filepath.Join("testdata", "trivy-config-sample.json"))
	require.NoError(t, err)
	w.steps.iacReport = report
	out, err := w.s.Check(context.Background(), chain.CheckOptions{Format: "text"})
	require.NoError(t, err)
	assert.NotContains(t, out, "matched no finding")
	assert.NotContains(t, w.log.String(), "matched no finding")
}

// Issue #17 item 3: CI runs check and scan once each, with --report-only, and fails the job
// from the decision recorded in what they return.
func TestReportOnlyRunsRecordTheGateDecision(t *testing.T) {
	sarifGate := func(t *testing.T, out string) map[string]any {
		v, err := sarifschema.New()
		require.NoError(t, err)
		require.NoError(t, v.Validate([]byte(out)), "still valid SARIF 2.1.0 with the gate in the run's property bag")
		var log struct {
			Runs []struct {
				Properties map[string]any `json:"properties"`
			} `json:"runs"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &log))
		require.Len(t, log.Runs, 1)
		gate, ok := log.Runs[0].Properties["gate"].(map[string]any)
		require.True(t, ok, "runs[0].properties.gate: %v", log.Runs[0].Properties)
		return gate
	}
	t.Run("check passes", func(t *testing.T) {
		w := newWorld(t)
		out, err := w.s.Check(context.Background(), chain.CheckOptions{Format: "sarif", ReportOnly: true, SkipIaCScan: true})
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"threshold": "high", "passed": true}, sarifGate(t, out))
	})
	t.Run("check fails", func(t *testing.T) {
		w := newWorld(t)
		w.files["ecs/prod.taskdef.json"] = strings.Replace(w.file("ecs/prod.taskdef.json"), `"readonlyRootFilesystem": true`, `"readonlyRootFilesystem": false`, 1)
		out, err := w.s.Check(context.Background(), chain.CheckOptions{Format: "sarif", ReportOnly: true, SkipIaCScan: true})
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"threshold": "high", "passed": false}, sarifGate(t, out))
		assert.Contains(t, out, "FG-TD-004")
	})
	for _, tt := range []struct {
		name   string
		report string
		pass   bool
	}{{"scan passes", "report-clean.json", true}, {"scan fails", "report-mixed.json", false}} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.steps.trivyReport = w.testdata(tt.report)
			res, err := w.s.ScanImage(context.Background(), "preprod", "", true)
			require.NoError(t, err)
			var gate scan.GatePredicate
			require.NoError(t, json.Unmarshal(res.GateJSON, &gate))
			assert.Equal(t, tt.pass, gate.Pass)
		})
	}
}

// An input the module could not read (a secret, --git-commit-time) fails every function
// with that error, before a build, a container step or an AWS call.
func TestEveryFunctionFailsOnAnUnreadableInput(t *testing.T) {
	invalid := errors.New("read --aws-access-key-id: secret env var not found")
	calls := map[string]func(ctx context.Context, s *chain.Session) error{
		"environments": func(ctx context.Context, s *chain.Session) error { _, err := s.Environments(ctx); return err },
		"build":        func(ctx context.Context, s *chain.Session) error { return s.BuildImage(ctx, "") },
		"sbom":         func(ctx context.Context, s *chain.Session) error { return s.BuildSBOM(ctx, "") },
		"scan": func(ctx context.Context, s *chain.Session) error {
			_, err := s.ScanImage(ctx, "", "", true)
			return err
		},
		"render": func(ctx context.Context, s *chain.Session) error {
			_, err := s.Render(ctx, "preprod", "r@sha256:"+strings.Repeat("a", 64))
			return err
		},
		"check": func(ctx context.Context, s *chain.Session) error {
			_, err := s.Check(ctx, chain.CheckOptions{Format: "text"})
			return err
		},
		"audit": func(ctx context.Context, s *chain.Session) error {
			_, err := s.Audit(ctx, chain.AuditOptions{Env: "preprod", Format: "text"})
			return err
		},
		"status":  func(ctx context.Context, s *chain.Session) error { _, err := s.Status(ctx, "preprod"); return err },
		"diff":    func(ctx context.Context, s *chain.Session) error { _, err := s.Diff(ctx, "preprod", ""); return err },
		"publish": func(ctx context.Context, s *chain.Session) error { _, err := s.Publish(ctx, "preprod"); return err },
		"sign": func(ctx context.Context, s *chain.Session) error {
			_, err := s.Sign(ctx, "preprod", "111122223333.dkr.ecr.eu-west-1.amazonaws.com/sample-app@sha256:"+strings.Repeat("a", 64))
			return err
		},
		"verify": func(ctx context.Context, s *chain.Session) error {
			_, err := s.Verify(ctx, "preprod", "111122223333.dkr.ecr.eu-west-1.amazonaws.com/sample-app@sha256:"+strings.Repeat("a", 64))
			return err
		},
		"rollback": func(ctx context.Context, s *chain.Session) error {
			_, err := s.Rollback(ctx, "preprod", "")
			return err
		},
		"run-task": func(ctx context.Context, s *chain.Session) error {
			_, err := s.RunTask(ctx, chain.RunTaskRequest{Env: "preprod"})
			return err
		},
		"infra": func(ctx context.Context, s *chain.Session) error {
			_, err := s.Infra(ctx, chain.InfraOptions{Env: "preprod", Plan: true})
			return err
		},
		"serve": func(ctx context.Context, s *chain.Session) error { _, err := s.Serve(ctx, ""); return err },
		"deploy": func(ctx context.Context, s *chain.Session) error {
			_, err := s.Deploy(ctx, chain.DeployRequest{Env: "preprod"})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.s.Invalid = invalid
			err := call(context.Background(), w.s)
			require.ErrorContains(t, err, invalid.Error()) // deploy and rollback keep it as text, with the report
			assert.Empty(t, w.steps.calls, "no container step ran")
			assert.Empty(t, w.srv.CallLog(), "no AWS call was made")
		})
	}
}
