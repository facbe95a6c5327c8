package chain_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"dagger/fargate/pipeline/chain"
	"dagger/fargate/pipeline/cosign"
)

// fakeSteps is the container work of a run, played in memory. It models what the real
// containers need: a Trivy run whose output directory does not exist fails as Trivy does,
// cosign verifies only what it signed (by digest), an attestation carries its predicate.
type fakeSteps struct {
	mu sync.Mutex

	users       []string // the image's user per platform ("" is root)
	trivyReport []byte   // the image scan's JSON
	iacReport   []byte   // trivy config's JSON
	buildErr    error    // the build fails (an engine error: Dagger finds it with errors.As)
	trivyErr    error    // the image scan cannot run
	sbomErr     error
	pushErr     error
	// push stores an image in the registry (ECR fake or local) and returns its digest.
	push      func(t chain.PushTarget) (string, error)
	signErr   error
	healthy   func(attempt int) bool
	startErr  error
	verifyErr error

	// attestWaitsForVerify makes the first attestation wait (up to 2 s) for a signature
	// verification to start: it passes only when the chain verifies while it attests.
	attestWaitsForVerify bool
	verifying            chan struct{}
	verifyOnce           sync.Once

	calls      []string
	trivyRuns  []chain.TrivyRun
	setups     []chain.SigningSetup
	signed     map[string]bool              // digests with a signature
	attested   map[string]map[string][]byte // digest → predicate type → predicate
	probes     int
	probeURLs  []string
	cosignArgs [][]string
	appStopped bool
	regStopped bool
	app        chain.AppSpec
}

func newFakeSteps() *fakeSteps {
	return &fakeSteps{
		users:    []string{"65532:65532"},
		signed:   map[string]bool{},
		attested: map[string]map[string][]byte{},
		healthy:  func(int) bool { return true },
	}
}

func (f *fakeSteps) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

// called reports whether any call starts with prefix.
func (f *fakeSteps) called(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.ContainsFunc(f.calls, func(c string) bool { return strings.HasPrefix(c, prefix) })
}

func (f *fakeSteps) Build(_ context.Context, spec chain.BuildSpec) ([]chain.Built, error) {
	f.record("build " + strings.Join(spec.Platforms, ","))
	if f.buildErr != nil {
		return nil, f.buildErr
	}
	var out []chain.Built
	for i, p := range spec.Platforms {
		out = append(out, chain.Built{Platform: p, User: f.users[min(i, len(f.users)-1)]})
	}
	return out, nil
}

func (f *fakeSteps) Trivy(_ context.Context, run chain.TrivyRun) ([]byte, error) {
	f.mu.Lock()
	f.trivyRuns = append(f.trivyRuns, run)
	f.mu.Unlock()
	f.record("trivy " + run.Args[1])
	// The container has the directories the run asks for and the parents of its mounts;
	// Trivy cannot create the output file anywhere else.
	dirs := append([]string{}, run.Dirs()...)
	for _, m := range []string{run.ImageInput, run.SourceMount} {
		if m != "" {
			dirs = append(dirs, path.Dir(m))
		}
	}
	if run.SourceMount != "" {
		dirs = append(dirs, run.SourceMount)
	}
	if !slices.Contains(dirs, path.Dir(run.Output)) {
		return nil, fmt.Errorf("FATAL open %s: no such file or directory", run.Output)
	}
	if !slices.Contains(run.Args, run.Output) {
		return nil, fmt.Errorf("trivy was not told to write %s", run.Output)
	}
	if run.Args[1] == "convert" {
		// trivy convert reads the report named last; it must be in the container.
		in := run.Args[len(run.Args)-1]
		if !slices.ContainsFunc(run.Inputs, func(i chain.TrivyInput) bool { return i.Path == in && len(i.Data) > 0 }) {
			return nil, fmt.Errorf("FATAL open %s: no such file or directory", in)
		}
	}
	switch {
	case run.SBOM:
		return nil, f.sbomErr
	case run.Args[1] == "config":
		return f.iacReport, nil
	case f.trivyErr != nil:
		return nil, f.trivyErr
	default:
		return f.trivyReport, nil
	}
}

func (f *fakeSteps) StartLocalRegistry(context.Context) (func(), error) {
	f.record("registry")
	return func() { f.mu.Lock(); f.regStopped = true; f.mu.Unlock() }, nil
}

func (f *fakeSteps) Push(_ context.Context, t chain.PushTarget) (string, error) {
	f.record("push " + t.Address)
	if f.pushErr != nil {
		return "", f.pushErr
	}
	return f.push(t)
}

func (f *fakeSteps) Cosign(_ context.Context, setup chain.SigningSetup) (chain.Cosign, error) {
	f.mu.Lock()
	f.setups = append(f.setups, setup)
	f.mu.Unlock()
	return &fakeCosign{f: f}, nil
}

func (f *fakeSteps) StartApp(_ context.Context, app chain.AppSpec) (chain.App, error) {
	f.record("app " + app.Image)
	f.app = app
	if f.startErr != nil {
		return nil, f.startErr
	}
	return &fakeApp{f: f}, nil
}

type fakeApp struct{ f *fakeSteps }

func (a *fakeApp) Endpoint() string { return "http://app:8080" }

func (a *fakeApp) Probe(_ context.Context, url string) error {
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	a.f.probes++
	a.f.probeURLs = append(a.f.probeURLs, url)
	if a.f.healthy(a.f.probes) {
		return nil
	}
	return errors.New("connection refused")
}

func (a *fakeApp) Stop() { a.f.mu.Lock(); a.f.appStopped = true; a.f.mu.Unlock() }

// fakeCosign plays cosign: sign and attest record, verify answers in cosign's output formats.
type fakeCosign struct{ f *fakeSteps }

func flag(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func (c *fakeCosign) Run(_ context.Context, cmd cosign.Command, files ...chain.CosignFile) ([]byte, error) {
	f := c.f
	ref := cmd.Args[len(cmd.Args)-1]
	digest := ref[strings.LastIndex(ref, "@")+1:]
	f.record("cosign " + cmd.Args[1] + " " + ref)
	switch {
	case cmd.Args[1] == "verify" && f.verifying != nil:
		f.verifyOnce.Do(func() { close(f.verifying) })
	case cmd.Args[1] == "attest" && f.attestWaitsForVerify:
		select {
		case <-f.verifying:
		case <-time.After(2 * time.Second):
			return nil, errors.New("attest: no verification ran meanwhile (the chain waited for the attestations)")
		}
	}
	f.mu.Lock()
	f.cosignArgs = append(f.cosignArgs, cmd.Args)
	f.mu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	switch cmd.Args[1] {
	case "sign":
		if f.signErr != nil {
			return nil, f.signErr
		}
		f.signed[digest] = true
	case "attest":
		var data []byte
		for _, file := range files {
			if file.Path == flag(cmd.Args, "--predicate") {
				data = file.Data
				if file.SBOM {
					data = []byte(`{"bomFormat":"CycloneDX"}`)
				}
			}
		}
		if data == nil {
			return nil, fmt.Errorf("attest: predicate %s not mounted", flag(cmd.Args, "--predicate"))
		}
		if f.attested[digest] == nil {
			f.attested[digest] = map[string][]byte{}
		}
		f.attested[digest][flag(cmd.Args, "--type")] = data
	case "verify":
		if f.verifyErr != nil {
			return nil, f.verifyErr
		}
		if !f.signed[digest] {
			return nil, errors.New("no signatures found")
		}
		out, _ := json.Marshal([]map[string]any{{"critical": map[string]any{
			"identity": map[string]string{"docker-reference": ref[:strings.LastIndex(ref, "@")]},
			"image":    map[string]string{"docker-manifest-digest": digest},
			"type":     "cosign container image signature",
		}, "optional": map[string]any{}}})
		return append(out, '\n'), nil
	case "verify-attestation":
		typ := flag(cmd.Args, "--type")
		pred, ok := f.attested[digest][typ]
		if !ok {
			return nil, fmt.Errorf("no matching attestations of type %s", typ)
		}
		predicateType := typ
		if typ == "cyclonedx" {
			predicateType = "https://cyclonedx.org/bom"
		}
		st, _ := json.Marshal(map[string]any{"predicateType": predicateType, "predicate": json.RawMessage(pred),
			"subject": []map[string]any{{"name": ref[:strings.LastIndex(ref, "@")], "digest": map[string]string{"sha256": strings.TrimPrefix(digest, "sha256:")}}}})
		env, _ := json.Marshal(map[string]string{"payloadType": "application/vnd.in-toto+json", "payload": base64.StdEncoding.EncodeToString(st)})
		return append(env, '\n'), nil
	default:
		return nil, fmt.Errorf("unexpected cosign command %v", cmd.Args)
	}
	return nil, nil
}

// engineError stands for *dagger.ExecError: the generated Dagger dispatcher returns the
// message of such an error alone when errors.As finds it in a function's error.
type engineError struct{ msg string }

func (e *engineError) Error() string { return e.msg }
