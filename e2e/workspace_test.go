package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/config"
	dockerfilepkg "dagger/fargate/pipeline/policy/dockerfile"
)

func TestPlantedSecretsAreFoundInEveryForm(t *testing.T) {
	p := NewPlanted()
	p.CosignKey = "eyJrZGYiOnsibmFtZSI6InNjcnlwdCIsInBhcmFtcyI6eyJOIjozMjc2OCwiciI6OCwicCI6MX19"
	assert.Regexp(t, `^AKIA[A-Z2-7]{16}$`, p.AccessKeyID)
	assert.NotEqual(t, p.AccessKeyID, NewPlanted().AccessKeyID, "fresh values every run")

	clean := "report: image pushed, AKIA****************, *** redacted"
	assert.Empty(t, p.Leaks(clean))

	tests := []struct {
		name, text, want string
	}{
		{"access key", "Credential=" + p.AccessKeyID + "/20261203", "AWS access key ID"},
		{"secret key", "secret=" + p.SecretAccessKey, "AWS secret access key"},
		{"session token", p.SessionToken, "AWS session token"},
		{"cosign password", "COSIGN_PASSWORD=" + p.CosignPassword, "cosign key password"},
		{"ECR password", p.ECRPassword, "ECR password"},
		{"ECR password in a Docker config", `{"auths":{"r":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("AWS:"+p.ECRPassword)) + `"}}}`, "ECR password (Docker config auth)"},
		{"cosign private key", "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n" + p.CosignKey, "cosign private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaks := p.Leaks(clean + "\n" + tt.text)
			assert.Contains(t, leaks, tt.want)
			for _, l := range leaks {
				assert.NotContains(t, l, p.ECRPassword, "a leak is named, never shown")
			}
		})
	}
	assert.Len(t, p.Env(), 4)
	for _, e := range p.Env() {
		assert.True(t, strings.HasPrefix(e, "E2E_"), e)
	}
}

func TestVariantsOfTheSamplesEnvironmentsFile(t *testing.T) {
	sample, err := os.ReadFile("../sample-app/fargate.yaml")
	require.NoError(t, err)
	files, err := Variants(sample)
	require.NoError(t, err)

	e2e, err := config.Parse(ConfigE2E, []byte(files[ConfigE2E]))
	require.NoError(t, err, "the e2e file loads strictly")
	assert.Equal(t, "key", e2e.Signing.Mode)
	assert.True(t, e2e.Signing.Private, "no upload to the public transparency log")
	for _, tg := range []target{preprod, prod} {
		e, err := e2e.Environment(tg.env)
		require.NoError(t, err)
		assert.Equal(t, tg.cluster, e.Cluster, "the fake account seeds the sample's names")
		assert.Equal(t, tg.service, e.Service)
	}
	p, err := e2e.Environment("prod")
	require.NoError(t, err)
	assert.True(t, p.Approval)
	assert.Equal(t, "preprod", p.PromoteFrom)

	scanFail, err := config.Parse(ConfigScanFail, []byte(files[ConfigScanFail]))
	require.NoError(t, err)
	assert.Equal(t, LeakDockerfile, scanFail.App.Dockerfile)
	pe, err := scanFail.Environment("preprod")
	require.NoError(t, err)
	gate := scanFail.ScanGate(pe)
	assert.Equal(t, []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}, gate.FailOn)
	assert.False(t, gate.IgnoreUnfixed)
	assert.Empty(t, gate.IgnoreFile)

	_, err = config.Parse(ConfigBroken, []byte(files[ConfigBroken]))
	require.Error(t, err)
	assert.Contains(t, err.Error(), BrokenKey)
	assert.Contains(t, err.Error(), ConfigBroken)
}

func TestPrepareSource(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "src")
	require.NoError(t, PrepareSource("../sample-app", dst))
	for _, f := range []string{"Dockerfile", "go.mod", "ecs/preprod.taskdef.json", ".trivyignore.yaml", ConfigE2E, ConfigScanFail, ConfigBroken, LeakDockerfile, "e2e-leaked-key.pem"} {
		assert.FileExists(t, filepath.Join(dst, f))
	}
	leak, err := os.ReadFile(filepath.Join(dst, LeakDockerfile))
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(strings.TrimSpace(string(leak)), "COPY e2e-leaked-key.pem /app-config/deploy_key"), "the key lands in the final stage")
	key, err := os.ReadFile(filepath.Join(dst, "e2e-leaked-key.pem"))
	require.NoError(t, err)
	assert.Contains(t, string(key), "-----BEGIN RSA PRIVATE KEY-----")
}

// TestFakeProcess builds and runs the fake as the suite does (a process of its own on
// loopback) and drives its control API through the suite's client.
func TestFakeProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the fake")
	}
	ports := freePorts(t, 2)
	s, err := LoadSettings(env(map[string]string{"E2E_HOST": "127.0.0.1", "E2E_FAKE_PORT": ports[0], "E2E_REGISTRY_PORT": ports[1]}),
		[]net.IP{net.ParseIP("127.0.0.1")}, "v0.21.8")
	require.NoError(t, err)
	ctx := context.Background()
	fake, err := StartFake(ctx, "..", t.TempDir(), s, NewPlanted(), io.Discard)
	require.NoError(t, err)
	t.Cleanup(fake.Stop)

	for _, tg := range []target{preprod, prod} {
		st, err := fake.Service(ctx, tg.cluster, tg.service)
		require.NoError(t, err)
		assert.Equal(t, tg.family+":1", st.TaskDefinition)
		assert.True(t, strings.HasPrefix(st.Image, s.Registry+"/sample-app@sha256:"), st.Image)
	}
	require.NoError(t, fake.NextRollouts(ctx, "healthy", "fail"))
	require.Error(t, fake.NextRollouts(ctx, "sideways"))
	require.NoError(t, fake.Busy(ctx, preprod.cluster, preprod.service))
	busy, err := fake.Service(ctx, preprod.cluster, preprod.service)
	require.NoError(t, err)
	assert.Equal(t, 2, busy.Deployments)
	settled, err := fake.Settle(ctx, preprod.cluster, preprod.service)
	require.NoError(t, err)
	assert.Equal(t, 1, settled.Deployments)
	assert.True(t, settled.Steady)
	calls, err := fake.Calls(ctx)
	require.NoError(t, err)
	assert.Zero(t, calls["ecs/UpdateService"], "settling stops a deployment; it does not update the service")
	assert.Equal(t, 1, calls["ecs/StopServiceDeployment"])
}

func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns = append(lns, ln)
		out = append(out, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	for _, ln := range lns {
		require.NoError(t, ln.Close())
	}
	return out
}

// contextProblems lists the COPY and ADD sources of dir's Dockerfile that the build context
// does not admit, with BuildKit's rules: the context is dir filtered by <Dockerfile>.dockerignore
// when it exists, else by .dockerignore (github.com/moby/patternmatcher semantics); a literal
// source must be in the filtered context; a wildcard may match nothing.
func contextProblems(t *testing.T, dir, dockerfile string) []string {
	t.Helper()
	content, err := os.ReadFile(filepath.Join(dir, dockerfile))
	require.NoError(t, err)
	df, err := dockerfilepkg.Parse(content)
	require.NoError(t, err)
	ignorePath := filepath.Join(dir, dockerfile+".dockerignore")
	if _, err := os.Stat(ignorePath); err != nil {
		ignorePath = filepath.Join(dir, ".dockerignore")
	}
	var patterns []string
	if f, err := os.Open(ignorePath); err == nil {
		patterns, err = ignorefile.ReadAll(f)
		require.NoError(t, f.Close())
		require.NoError(t, err)
	}
	pm, err := patternmatcher.New(patterns)
	require.NoError(t, err)
	admitted := func(rel string) bool {
		excluded, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		require.NoError(t, err)
		return !excluded
	}
	var problems []string
	for _, st := range df.Stages {
		for _, c := range st.Commands {
			var sources []string
			switch c := c.(type) {
			case *instructions.CopyCommand:
				if c.From != "" {
					continue // from another stage or image, not the context
				}
				sources = c.SourcePaths
			case *instructions.AddCommand:
				sources = c.SourcePaths
			}
			for _, src := range sources {
				rel := filepath.Clean(strings.TrimPrefix(src, "/"))
				if rel == "." || strings.Contains(src, "://") {
					continue
				}
				if strings.ContainsAny(rel, "*?[") {
					matches, err := filepath.Glob(filepath.Join(dir, rel))
					require.NoError(t, err)
					for _, m := range matches {
						r, _ := filepath.Rel(dir, m)
						if !admitted(r) {
							t.Logf("%s: %s is left out of the context (it matches nothing)", dockerfile, r)
						}
					}
					continue
				}
				if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
					problems = append(problems, fmt.Sprintf("%s: COPY %s: not in the source directory", dockerfile, src))
					continue
				}
				if !admitted(rel) {
					problems = append(problems, fmt.Sprintf("%s: COPY %s: excluded from the build context by %s", dockerfile, src, filepath.Base(ignorePath)))
				}
			}
		}
	}
	return problems
}

func TestEveryVariantDockerfileCopiesOnlyWhatItsContextAdmits(t *testing.T) {
	dst := t.TempDir()
	require.NoError(t, PrepareSource("../sample-app", dst))
	for _, df := range []string{"Dockerfile", LeakDockerfile} {
		t.Run(df, func(t *testing.T) {
			assert.Empty(t, contextProblems(t, dst, df))
		})
	}
	key, err := os.ReadFile(filepath.Join(dst, LeakedKeyFile))
	require.NoError(t, err)
	assert.Contains(t, string(key), "PRIVATE KEY")
}

func TestContextProblemsFindsACopyTheDockerignoreExcludes(t *testing.T) {
	tests := []struct {
		name, ignore, perDockerfile string
		want                        []string
	}{
		{name: "the sample's .dockerignore (go sources only) keeps the key out", ignore: "*\n!**/*.go\n",
			want: []string{"Dockerfile.x: COPY key.pem: excluded from the build context by .dockerignore"}},
		{name: "an exception admits it", ignore: "*\n!**/*.go\n!key.pem\n"},
		{name: "a Dockerfile's own ignore file wins over .dockerignore", ignore: "*\n!**/*.go\n!key.pem\n", perDockerfile: "*\n!main.go\n",
			want: []string{"Dockerfile.x: COPY key.pem: excluded from the build context by Dockerfile.x.dockerignore"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name, content string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
			}
			write("Dockerfile.x", "FROM scratch AS b\nCOPY main.go go.sum* /src/\nFROM scratch\nCOPY --from=b /src /src\nCOPY key.pem /k\n")
			write("main.go", "package main\n")
			write("key.pem", "k")
			write(".dockerignore", tt.ignore)
			if tt.perDockerfile != "" {
				write("Dockerfile.x.dockerignore", tt.perDockerfile)
			}
			assert.Equal(t, tt.want, contextProblems(t, dir, "Dockerfile.x"))
		})
	}
}
