package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"dagger/fargate/pipeline/images"
)

// Suite is one run: the settings, the work directory, the fake and what the cases learnt.
type Suite struct {
	S    Settings
	Root string // the module's repository
	Work string
	P    Planted
	Fake *Fake
	R    *Runner
	Echo io.Writer
	Rev  string // --git-revision of the run

	preprodImage string // the digest reference preprod runs after the healthy deploy
}

// Src is the copy of the sample app the AWS cases deploy.
func (s *Suite) Src() string { return filepath.Join(s.Work, "src") }

// Out is where exported files go.
func (s *Suite) Out() string { return filepath.Join(s.Work, "out") }

// Keys holds the generated cosign key pair.
func (s *Suite) Keys() string { return filepath.Join(s.Work, "keys") }

// Case is one end-to-end check.
type Case struct {
	Name string
	Run  func(ctx context.Context, s *Suite) error
}

var (
	preprod = target{env: "preprod", cluster: "sample-app-preprod", service: "sample-app", family: "sample-app-preprod"}
	prod    = target{env: "prod", cluster: "sample-app-prod", service: "sample-app", family: "sample-app-prod"}
)

type target struct{ env, cluster, service, family string }

// call runs `dagger call` on the module with constructor flags (and E2E_FARGATE_FLAGS).
func (s *Suite) call(ctx context.Context, constructor []string, fn ...string) (Result, error) {
	args := []string{"--progress=plain", "-m", s.Root, "call"}
	args = append(args, constructor...)
	args = append(args, s.S.FargateFlags...)
	args = append(args, fn...)
	return s.R.Run(ctx, s.S.Dagger, args...)
}

// aws are the constructor flags of the AWS cases: the sample copy, an environments file,
// the planted credentials (as Dagger secrets) and the fake as endpoint.
func (s *Suite) aws(config string) []string {
	return []string{"--source", s.Src(), "--config", config,
		"--aws-access-key-id", "env:E2E_AWS_ACCESS_KEY_ID", "--aws-secret-access-key", "env:E2E_AWS_SECRET_ACCESS_KEY",
		"--aws-session-token", "env:E2E_AWS_SESSION_TOKEN", "--aws-endpoint", s.S.AWSEndpoint(), "--git-revision", s.Rev}
}

// signing are the deploy flags of key signing with the generated pair.
func (s *Suite) signing() []string {
	return []string{"--cosign-key", "file:" + filepath.Join(s.Keys(), "cosign.key"), "--cosign-password", "env:E2E_COSIGN_PASSWORD"}
}

// Cases are the suite's checks, in the order they run (later ones build on earlier state).
func Cases() []Case {
	return []Case{
		{"cosign key pair (dagger core)", keyPair},
		{"readme: dagger call deploy --env local", deployLocal},
		{"readme: dagger call serve up --ports", serve},
		{"environments", environments},
		{"check --format text", checkFormat("text")},
		{"check --format json", checkFormat("json")},
		{"check --format sarif", checkFormat("sarif")},
		{"build", build},
		{"scan (--trivy-db-repository)", scanCase},
		{"sbom", sbom},
		{"deploy --env preprod: healthy", deployPreprodHealthy},
		{"deploy --env preprod: failing, rolled back", deployPreprodFailing},
		{"deploy --env preprod: busy service refused", deployPreprodBusy},
		{"deploy --env preprod: scan gate failing, nothing changed", deployScanGate},
		{"deploy --env prod: refused without approval", deployProdUnapproved},
		{"deploy --env prod: promotes the preprod digest", deployProdApproved},
		{"status", status},
		{"diff", diff},
		{"rollback", rollback},
		{"audit", audit},
		{"broken environments file", brokenConfig},
		{"deploy --env preprod: failing migration, nothing rolled out", deployPreprodMigrationFails},
		{"deploy --env preprod: missing secret refused before registering", deployPreprodMissingSecret},
		{"deploy --env preprod: failing rollout quotes the app's last log line", deployPreprodFailingQuotesLogs},
		{"run-task --env preprod", runTaskPreprod},
		{"deploy --env preprod --report-json: a failed rollout hands CI the report", deployReportJSON},
	}
}

// TimingCases run only with E2E_TIMING=1: the inner loop's figures (README, "Inner loop").
func TimingCases() []Case {
	return []Case{{"timing: deploy --env local, warm and after a one-line change", timingLocal}}
}

// timingLocal deploys the sample copy locally twice: with nothing changed since the readme
// case (warm caches), then after a one-line change in main.go.
func timingLocal(ctx context.Context, s *Suite) error {
	flags := []string{"--source", s.Src()}
	res, err := s.call(ctx, flags, "deploy", "--env", "local")
	if err := expectExit(res, err, 0); err != nil {
		return err
	}
	s.timing("deploy --env local, nothing changed", res)
	main := filepath.Join(s.Src(), "main.go")
	orig, err := os.ReadFile(main)
	if err != nil {
		return err
	}
	defer func() { _ = os.WriteFile(main, orig, 0o644) }()
	if err := os.WriteFile(main, append(append([]byte{}, orig...), []byte("\n// e2e timing: a one-line change\n")...), 0o644); err != nil {
		return err
	}
	res, err = s.call(ctx, flags, "deploy", "--env", "local")
	if err := expectExit(res, err, 0); err != nil {
		return err
	}
	s.timing("deploy --env local after a one-line change in main.go", res)
	return expectHeadlinePrefix(res, "DEPLOYED")
}

func keyPair(ctx context.Context, s *Suite) error {
	defaults, err := images.Defaults()
	if err != nil {
		return err
	}
	image := flagValue(s.S.FargateFlags, "--cosign-image", defaults.Cosign)
	res, err := s.R.Run(ctx, s.S.Dagger, "--progress=plain", "core",
		"container", "from", "--address="+image,
		"with-user", "--name=0:0",
		"with-workdir", "--path=/keys",
		"with-secret-variable", "--name=COSIGN_PASSWORD", "--secret=env:E2E_COSIGN_PASSWORD",
		"with-exec", "--args=generate-key-pair", "--use-entrypoint",
		"directory", "--path=/keys",
		"export", "--path="+s.Keys())
	if err := expectExit(res, err, 0); err != nil {
		return err
	}
	key, err := os.ReadFile(filepath.Join(s.Keys(), "cosign.key"))
	if err != nil {
		return fmt.Errorf("the key pair was not exported: %w", err)
	}
	if !strings.Contains(string(key), "ENCRYPTED") {
		return fmt.Errorf("cosign.key is not an encrypted cosign key")
	}
	if _, err := os.Stat(filepath.Join(s.Keys(), "cosign.pub")); err != nil {
		return fmt.Errorf("cosign.pub was not exported: %w", err)
	}
	s.P.CosignKey = longestLine(string(key))
	return nil
}

// deployLocal runs the README's first command as written, from the repository root.
func deployLocal(ctx context.Context, s *Suite) error {
	res, err := s.call(ctx, nil, "deploy", "--env", "local")
	if err := expectExit(res, err, 0); err != nil {
		return err
	}
	s.timing("deploy --env local", res)
	return expectHeadlinePrefix(res, "DEPLOYED")
}

// serve runs `dagger call serve up --ports` on the sample copy, as the README says, and asks
// the app for its health path from this machine, as a person trying it would.
func serve(ctx context.Context, s *Suite) error {
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	var res Result
	go func() {
		defer close(done)
		res, _ = s.call(runCtx, []string{"--source", s.Src()}, "serve", "up", "--ports", fmt.Sprintf("%d:8080", s.S.ServePort))
	}()
	defer func() { stop(); <-done }()
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", s.S.ServePort)
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(10 * time.Minute) // the build is part of it
	var last string
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-done:
			return fmt.Errorf("serve up ended (exit %d) before %s answered 200: %s", res.ExitCode, url, last)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	return fmt.Errorf("%s did not answer 200 within 10m: %s", url, last)
}

func environments(ctx context.Context, s *Suite) error {
	res, err := s.call(ctx, s.aws(ConfigE2E), "environments")
	if err := expectExit(res, err, 0); err != nil {
		return err
	}
	return expectContains(res.Stdout, "preprod", "prod", "sample-app-preprod", "sample-app-prod")
}

func checkFormat(format string) func(context.Context, *Suite) error {
	return func(ctx context.Context, s *Suite) error {
		res, err := s.call(ctx, s.aws(ConfigE2E), "check", "--format", format)
		if err := expectExit(res, err, 0); err != nil {
			return err
		}
		switch format {
		case "json":
			var rep policyReport
			if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
				return fmt.Errorf("check --format json is not JSON: %w", err)
			}
			if rep.failing() > 0 {
				return fmt.Errorf("check passed but reports %d unsuppressed high or critical findings", rep.failing())
			}
		case "sarif":
			var sarif struct {
				Version string `json:"version"`
				Runs    []struct {
					Tool struct {
						Driver struct {
							Name string `json:"name"`
						} `json:"driver"`
					} `json:"tool"`
				} `json:"runs"`
			}
			if err := json.Unmarshal([]byte(res.Stdout), &sarif); err != nil {
				return fmt.Errorf("check --format sarif is not JSON: %w", err)
			}
			if sarif.Version != "2.1.0" || len(sarif.Runs) == 0 || sarif.Runs[0].Tool.Driver.Name == "" {
				return fmt.Errorf("check --format sarif: expected SARIF 2.1.0 with a named tool, got version %q and %d runs", sarif.Version, len(sarif.Runs))
			}
		default:
			if strings.TrimSpace(res.Stdout) == "" {
				return fmt.Errorf("check --format text printed nothing")
			}
		}
		return nil
	}
}

func build(ctx context.Context, s *Suite) error {
	res, err := s.call(ctx, s.aws(ConfigE2E), "build", "user")
	if err := expectExit(res, err, 0); err != nil {
		return err
	}
	if user := strings.TrimSpace(res.Stdout); user != "65532:65532" {
		return fmt.Errorf("the image runs as %q, expected the sample's 65532:65532", user)
	}
	res, err = s.call(ctx, s.aws(ConfigE2E), "build", "label", "--name", "org.opencontainers.image.revision")
	if err := expectExit(res, err, 0); err != nil {
		return err
	}
	if got := strings.TrimSpace(res.Stdout); got != s.Rev {
		return fmt.Errorf("the image's revision label is %q, expected --git-revision %q", got, s.Rev)
	}
	return nil
}

// scanCase also proves the README's --trivy-db-repository spelling (with Trivy's defaults).
func scanCase(ctx context.Context, s *Suite) error {
	flags := s.aws(ConfigE2E)
	if flagValue(s.S.FargateFlags, "--trivy-db-repository", "") == "" {
		flags = append(flags, "--trivy-db-repository", "mirror.gcr.io/aquasec/trivy-db:2,ghcr.io/aquasecurity/trivy-db:2")
	}
	dir := filepath.Join(s.Out(), "scan")
	res, err := s.call(ctx, flags, "scan", "--env", "preprod", "export", "--path", dir)
	if err := expectExit(res, err, 0); err != nil {
		return err
	}
	var trivy struct {
		SchemaVersion int    `json:"SchemaVersion"`
		ArtifactName  string `json:"ArtifactName"`
	}
	if err := readJSONFile(s, filepath.Join(dir, "trivy.json"), &trivy); err != nil {
		return err
	}
	if trivy.SchemaVersion != 2 {
		return fmt.Errorf("trivy.json has SchemaVersion %d, expected 2", trivy.SchemaVersion)
	}
	var sarif struct {
		Version string `json:"version"`
	}
	if err := readJSONFile(s, filepath.Join(dir, "trivy.sarif"), &sarif); err != nil {
		return err
	}
	if sarif.Version != "2.1.0" {
		return fmt.Errorf("trivy.sarif has version %q, expected 2.1.0", sarif.Version)
	}
	summary, err := os.ReadFile(filepath.Join(dir, "summary.txt"))
	if err != nil || strings.TrimSpace(string(summary)) == "" {
		return fmt.Errorf("summary.txt is missing or empty (%v)", err)
	}
	s.R.Record(string(summary))
	return nil
}

func sbom(ctx context.Context, s *Suite) error {
	path := filepath.Join(s.Out(), "sbom.cdx.json")
	res, err := s.call(ctx, s.aws(ConfigE2E), "sbom", "export", "--path", path)
	if err := expectExit(res, err, 0); err != nil {
		return err
	}
	var bom struct {
		BOMFormat  string `json:"bomFormat"`
		Components []any  `json:"components"`
	}
	if err := readJSONFile(s, path, &bom); err != nil {
		return err
	}
	if bom.BOMFormat != "CycloneDX" || len(bom.Components) == 0 {
		return fmt.Errorf("the SBOM is not CycloneDX with components (bomFormat %q, %d components)", bom.BOMFormat, len(bom.Components))
	}
	return nil
}

func deployPreprodHealthy(ctx context.Context, s *Suite) error {
	if err := s.Fake.NextRollouts(ctx, "healthy"); err != nil {
		return err
	}
	res, err := s.call(ctx, s.aws(ConfigE2E), append([]string{"deploy", "--env", "preprod"}, s.signing()...)...)
	if err := expectExit(res, err, 0); err != nil {
		return err
	}
	s.timing("deploy --env preprod", res)
	st, err := s.Fake.Service(ctx, preprod.cluster, preprod.service)
	if err != nil {
		return err
	}
	if err := expectHeadline(res, "DEPLOYED: "+st.TaskDefinition); err != nil {
		return err
	}
	if st.TaskDefinition != preprod.family+":2" || !st.Steady {
		return fmt.Errorf("preprod runs %s (steady %v), expected %s:2, steady", st.TaskDefinition, st.Steady, preprod.family)
	}
	if !strings.HasPrefix(st.Image, s.S.Registry+"/sample-app@sha256:") {
		return fmt.Errorf("preprod runs image %q, expected %s/sample-app@sha256:... (pushed by digest)", st.Image, s.S.Registry)
	}
	if img, _ := Field(res.Output(), "Image"); img != st.Image {
		return fmt.Errorf("the report's image %q is not the one the service runs (%q)", img, st.Image)
	}
	s.preprodImage = st.Image
	return nil
}

func deployPreprodFailing(ctx context.Context, s *Suite) error {
	if err := s.Fake.NextRollouts(ctx, "fail"); err != nil {
		return err
	}
	res, err := s.call(ctx, s.aws(ConfigE2E), append([]string{"deploy", "--env", "preprod"}, s.signing()...)...)
	if err := expectFailure(res, err); err != nil {
		return err
	}
	if err := expectHeadline(res, "FAILED: rolled back to "+preprod.family+":2"); err != nil {
		return err
	}
	st, err := s.Fake.Settle(ctx, preprod.cluster, preprod.service)
	if err != nil {
		return err
	}
	if st.TaskDefinition != preprod.family+":2" || len(st.Revisions) != 3 {
		return fmt.Errorf("after the rollback preprod runs %s with revisions %v; expected %s:2 and a third revision registered", st.TaskDefinition, st.Revisions, preprod.family)
	}
	return nil
}

// unchanged runs fn and fails if any of the named AWS operations was called meanwhile.
func (s *Suite) unchanged(ctx context.Context, ops []string, fn func() error) error {
	before, err := s.Fake.Calls(ctx)
	if err != nil {
		return err
	}
	if err := fn(); err != nil {
		return err
	}
	after, err := s.Fake.Calls(ctx)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if after[op] != before[op] {
			return fmt.Errorf("%s was called %d time(s): something changed although the deploy was refused", op, after[op]-before[op])
		}
	}
	return nil
}

// mutations are the AWS operations that change something; a refused deploy calls none.
var mutations = []string{"ecs/RegisterTaskDefinition", "ecs/UpdateService", "ecr/CreateRepository", "ecr/PutImage"}

// mutationsAnd is mutations plus more operations that must not be called.
func mutationsAnd(ops ...string) []string { return append(slices.Clone(mutations), ops...) }

// refused runs a deploy that must stop before anything changes: it exits non-zero with the
// given status, its output says why (reason, any case), and none of ops is called meanwhile.
func (s *Suite) refused(ctx context.Context, ops []string, headline, reason string, constructor []string, fn ...string) error {
	return s.unchanged(ctx, ops, func() error {
		res, err := s.call(ctx, constructor, fn...)
		if err := expectFailure(res, err); err != nil {
			return err
		}
		if err := expectHeadline(res, headline); err != nil {
			return err
		}
		return expectContains(strings.ToLower(res.Output()), strings.ToLower(reason))
	})
}

func deployPreprodBusy(ctx context.Context, s *Suite) error {
	if err := s.Fake.Busy(ctx, preprod.cluster, preprod.service); err != nil {
		return err
	}
	defer func() { _, _ = s.Fake.Settle(context.WithoutCancel(ctx), preprod.cluster, preprod.service) }()
	// Refused before building: no ECR login either.
	return s.refused(ctx, mutationsAnd("ecr/GetAuthorizationToken"), "REFUSED: nothing was deployed", "in progress",
		s.aws(ConfigE2E), append([]string{"deploy", "--env", "preprod"}, s.signing()...)...)
}

func deployScanGate(ctx context.Context, s *Suite) error {
	// The gate runs before the push: no ECR login either.
	return s.refused(ctx, mutationsAnd("ecr/GetAuthorizationToken"), "REFUSED: nothing was deployed", "scan gate failed",
		s.aws(ConfigScanFail), append([]string{"deploy", "--env", "preprod"}, s.signing()...)...)
}

func deployProdUnapproved(ctx context.Context, s *Suite) error {
	// Refused before any AWS call.
	return s.refused(ctx, mutationsAnd("ecs/DescribeServices", "ecr/GetAuthorizationToken"), "REFUSED: nothing was deployed", "approv",
		s.aws(ConfigE2E), "deploy", "--env", "prod", "--cosign-public-key", filepath.Join(s.Keys(), "cosign.pub"))
}

func deployProdApproved(ctx context.Context, s *Suite) error {
	if s.preprodImage == "" {
		return fmt.Errorf("needs the healthy preprod deploy")
	}
	if err := s.Fake.NextRollouts(ctx, "healthy"); err != nil {
		return err
	}
	res, err := s.call(ctx, s.aws(ConfigE2E), "deploy", "--env", "prod", "--approved-by", "e2e-alice",
		"--approval-reason", "e2e promotion", "--cosign-public-key", filepath.Join(s.Keys(), "cosign.pub"))
	if err := expectExit(res, err, 0); err != nil {
		return err
	}
	s.timing("deploy --env prod", res)
	if err := expectHeadline(res, "DEPLOYED: "+prod.family+":2"); err != nil {
		return err
	}
	st, err := s.Fake.Service(ctx, prod.cluster, prod.service)
	if err != nil {
		return err
	}
	if st.Image != s.preprodImage {
		return fmt.Errorf("prod runs %q, expected the digest preprod runs, %q", st.Image, s.preprodImage)
	}
	// The sample's prod deploys as a canary with alarms: the report shows its stages.
	return expectContains(res.Output(), "e2e-alice", "### Progressive delivery", "| Strategy | canary |")
}

// deployRole is the fake account's assumable role (fakeaccount.DeployRoleARN).
const deployRole = "arn:aws:iam::111122223333:role/e2e-deploy"

func status(ctx context.Context, s *Suite) error {
	res, err := s.call(ctx, s.aws(ConfigE2E), "status", "--env", "preprod")
	if err := expectExit(res, err, 0); err != nil {
		return err
	}
	if err := expectContains(res.Stdout, preprod.family+":2"); err != nil {
		return err
	}
	// What Dagger 1.0 users type: the environment before the function name; and acting as a
	// role the keys assume.
	res, err = s.call(ctx, append(s.aws(ConfigE2E), "--environment", "preprod", "--aws-role-arn", deployRole, "--aws-role-session-name", "e2e-status"), "status")
	if err := expectExit(res, err, 0); err != nil {
		return err
	}
	if err := expectContains(res.Stdout, preprod.family+":2"); err != nil {
		return err
	}
	// --env and --environment naming different environments is bad input.
	res, err = s.call(ctx, append(s.aws(ConfigE2E), "--environment", "prod"), "status", "--env", "preprod")
	if err := expectExit(res, err, 1); err != nil {
		return err
	}
	return expectContains(res.Output(), "name different environments")
}

func diff(ctx context.Context, s *Suite) error {
	res, err := s.call(ctx, s.aws(ConfigE2E), "diff", "--env", "preprod")
	if err := expectExit(res, err, 0); err != nil {
		return err
	}
	if err := expectContains(res.Stdout, "no difference"); err != nil {
		return err
	}
	other := s.S.Registry + "/sample-app@sha256:" + strings.Repeat("0", 64)
	res, err = s.call(ctx, s.aws(ConfigE2E), "diff", "--env", "preprod", "--image", other)
	if err := expectExit(res, err, 0); err != nil {
		return err
	}
	return expectContains(res.Stdout, strings.Repeat("0", 64))
}

func rollback(ctx context.Context, s *Suite) error {
	res, err := s.call(ctx, s.aws(ConfigE2E), "rollback", "--env", "preprod")
	if err := expectExit(res, err, 0); err != nil {
		return err
	}
	// "ROLLED BACK to family:1 (from family:2)"
	if err := expectHeadlinePrefix(res, "ROLLED BACK to "+preprod.family+":1"); err != nil {
		return err
	}
	st, err := s.Fake.Service(ctx, preprod.cluster, preprod.service)
	if err != nil {
		return err
	}
	if st.TaskDefinition != preprod.family+":1" {
		return fmt.Errorf("after the rollback preprod runs %s, expected %s:1", st.TaskDefinition, preprod.family)
	}
	return nil
}

// policyReport is the JSON contract of check and audit.
type policyReport struct {
	Findings []struct {
		Rule       string `json:"rule"`
		Severity   string `json:"severity"`
		Resource   string `json:"resource"`
		Suppressed bool   `json:"suppressed"`
	} `json:"findings"`
	Summary map[string]int `json:"summary"`
}

// failing counts the unsuppressed findings at or above high (the sample's threshold).
func (r policyReport) failing() int {
	n := 0
	for _, f := range r.Findings {
		sev := strings.ToLower(f.Severity)
		if !f.Suppressed && (sev == "high" || sev == "critical") {
			n++
		}
	}
	return n
}

func audit(ctx context.Context, s *Suite) error {
	return s.unchanged(ctx, mutations, func() error {
		res, err := s.call(ctx, s.aws(ConfigE2E), "audit", "--env", "preprod", "--format", "json", "--report-only")
		if err := expectExit(res, err, 0); err != nil {
			return err
		}
		var rep policyReport
		if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
			return fmt.Errorf("audit --format json is not JSON: %w", err)
		}
		if rep.Summary == nil {
			return fmt.Errorf("audit --format json has no summary")
		}
		res, err = s.call(ctx, s.aws(ConfigE2E), "audit", "--env", "preprod")
		if err != nil {
			return err
		}
		if failing := rep.failing(); (failing > 0) != (res.ExitCode != 0) {
			return fmt.Errorf("audit exited %d with %d unsuppressed high or critical finding(s): the exit code must say whether the threshold was crossed", res.ExitCode, failing)
		}
		return nil
	})
}

func brokenConfig(ctx context.Context, s *Suite) error {
	res, err := s.call(ctx, s.aws(ConfigBroken), "environments")
	if err := expectFailure(res, err); err != nil {
		return err
	}
	if err := expectContains(res.Output(), BrokenKey, ConfigBroken); err != nil {
		return err
	}
	return s.refused(ctx, mutationsAnd("ecs/DescribeServices", "ecr/GetAuthorizationToken"), "BAD INPUT: nothing was deployed", BrokenKey,
		s.aws(ConfigBroken), append([]string{"deploy", "--env", "preprod"}, s.signing()...)...)
}

// timing prints a deploy's phases (E2E_TIMING=1): from the report's timeline, and the time
// between the command's start and the report's (module load and constructor).
func (s *Suite) timing(title string, res Result) {
	if !s.S.Timing {
		return
	}
	// The pipeline's own phase timings when the report has them, else the timeline's.
	phases, recorded, err := RecordedPhases(res.Output())
	if !recorded && err == nil {
		phases, err = Phases(res.Output())
	}
	if err != nil {
		fmt.Fprintf(s.Echo, "timing %s: %v\n", title, err)
		return
	}
	if started, _, err := Timeline(res.Output()); err == nil && started.After(res.Started.Truncate(time.Second)) {
		phases = append([]Phase{{Name: "module load + constructor", Duration: started.Sub(res.Started.Truncate(time.Second))}}, phases...)
	}
	var inReport, rollout time.Duration
	for _, p := range phases {
		inReport += p.Duration
		if p.Name == "UpdateService and wait" || p.Name == "ECS deploy" {
			rollout = p.Duration
		}
	}
	if rollout > 0 {
		phases = append(phases, Phase{Name: "outside the rollout", Duration: inReport - rollout})
	}
	phases = append(phases, Phase{Name: "total (command)", Duration: res.Elapsed})
	fmt.Fprint(s.Echo, FormatPhases(title, phases))
}

func readJSONFile(s *Suite, path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	s.R.Record(string(data))
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s is not JSON: %w", filepath.Base(path), err)
	}
	return nil
}

// flagValue is the value of --name (as "--name value" or "--name=value") in flags, or d.
func flagValue(flags []string, name, d string) string {
	for i, f := range flags {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return v
		}
		if f == name && i+1 < len(flags) {
			return flags[i+1]
		}
	}
	return d
}

// deployReportJSON is the CI form of deploy (docs/ci.md): a rollout that fails still exits 0
// with the JSON report saved by -o, which says it did not succeed and carries the Markdown.
func deployReportJSON(ctx context.Context, s *Suite) error {
	if err := s.Fake.NextRollouts(ctx, "fail"); err != nil {
		return err
	}
	out := filepath.Join(s.Work, "report.json")
	res, err := s.call(ctx, s.aws(ConfigE2E), append(append([]string{"deploy", "--env", "preprod"}, s.signing()...), "--report-json", "-o", out)...)
	if err := expectExit(res, err, 0); err != nil {
		return err
	}
	var rep struct {
		Outcome        string `json:"outcome"`
		Succeeded      bool   `json:"succeeded"`
		ExitCode       int    `json:"exitCode"`
		Headline       string `json:"headline"`
		Digest         string `json:"digest"`
		TaskDefinition struct {
			Registered, Previous string
		} `json:"taskDefinition"`
		Phases []struct {
			Name string `json:"name"`
		} `json:"phases"`
		Markdown string `json:"markdown"`
	}
	if err := readJSONFile(s, out, &rep); err != nil {
		return err
	}
	switch {
	case rep.Outcome != "rolled back" || rep.Succeeded || rep.ExitCode != 1:
		return fmt.Errorf("report.json: outcome %q, succeeded %v, exitCode %d; expected rolled back, false, 1", rep.Outcome, rep.Succeeded, rep.ExitCode)
	case !strings.HasPrefix(rep.Headline, "FAILED: rolled back to "+preprod.family+":"):
		return fmt.Errorf("report.json: headline %q", rep.Headline)
	case !strings.HasPrefix(rep.Digest, "sha256:") || rep.TaskDefinition.Registered == "" || rep.TaskDefinition.Previous == "":
		return fmt.Errorf("report.json: digest %q, task definitions %+v", rep.Digest, rep.TaskDefinition)
	case len(rep.Phases) == 0 || rep.Phases[len(rep.Phases)-1].Name != "ECS deploy":
		return fmt.Errorf("report.json: phases %+v, expected them to end with the ECS deploy", rep.Phases)
	}
	return expectContains(rep.Markdown, "**"+rep.Headline+"**")
}
