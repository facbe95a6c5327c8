package moduleflags

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const root = "../.."

func moduleArgs(t *testing.T) []Arg {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "main.go"))
	require.NoError(t, err)
	args, problems, err := Parse("main.go", src)
	require.NoError(t, err)
	require.Empty(t, problems)
	return args
}

func TestParse(t *testing.T) {
	src := []byte(`package main
import "context"
type Fargate struct{}
func New(awsAccessKeyId string, trivyDBRepository string) *Fargate { return nil }
func (m *Fargate) Deploy(ctx context.Context, env string, waitForInProgress bool) (string, error) { return "", nil }
func (m *Fargate) helper(x string) {}
`)
	args, problems, err := Parse("main.go", src)
	require.NoError(t, err)
	assert.Equal(t, []Arg{
		{Function: "", Name: "awsAccessKeyId", Flag: "--aws-access-key-id"},
		{Function: "", Name: "trivyDBRepository", Flag: "--trivy-d-b-repository"},
		{Function: "deploy", Name: "env", Flag: "--env"},
		{Function: "deploy", Name: "waitForInProgress", Flag: "--wait-for-in-progress"},
	}, args)
	require.Len(t, problems, 1, "issue #10 item 8: --trivy-db-repository was documented but Dagger made it --trivy-dbrepository")
	assert.Contains(t, problems[0], "trivyDBRepository")
}

// cliFlags are the dagger CLI's own flags that the documentation uses after `dagger call`.
var cliFlags = map[string]bool{"--output": true, "-o": true, "--progress": true, "--help": true, "--ports": true, "--path": true, "--mod": true, "-m": true}

var flagRE = regexp.MustCompile(`(?:^|\s)(--?[a-z][a-z0-9-]*)`)

// documentedCalls returns the `dagger call` command lines of a document, with their
// backslash-continued lines joined, and the workflow `call:` inputs.
func documentedCalls(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var calls []string
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		var cmd string
		switch {
		case strings.Contains(line, "dagger call"):
			cmd = line[strings.Index(line, "dagger call")+len("dagger call"):]
		case strings.HasPrefix(strings.TrimSpace(line), "call: "):
			cmd = strings.TrimPrefix(strings.TrimSpace(line), "call: ")
		default:
			continue
		}
		for strings.HasSuffix(strings.TrimSpace(cmd), `\`) && i+1 < len(lines) {
			i++
			cmd = strings.TrimSuffix(strings.TrimSpace(cmd), `\`) + " " + lines[i]
		}
		calls = append(calls, cmd)
	}
	return calls
}

// Every flag the README, the docs and the workflows pass to `dagger call` is one the module
// has: the documented spelling is the one that works.
func TestDocumentedFlagsExist(t *testing.T) {
	known := map[string]bool{}
	for _, a := range moduleArgs(t) {
		known[a.Flag] = true
	}
	files := []string{filepath.Join(root, "README.md"), filepath.Join(root, "e2e", "README.md")}
	for _, pattern := range []string{"docs/*.md", ".github/workflows/*.yml"} {
		matches, err := filepath.Glob(filepath.Join(root, pattern))
		require.NoError(t, err)
		files = append(files, matches...)
	}
	seen := 0
	for _, f := range files {
		for _, call := range documentedCalls(t, f) {
			// Shell substitutions and quoted values are values, not flags.
			call = regexp.MustCompile(`"[^"]*"|\$\([^)]*\)|\$\{\{[^}]*\}\}`).ReplaceAllString(call, "X")
			for _, m := range flagRE.FindAllStringSubmatch(call, -1) {
				flag := m[1]
				seen++
				assert.True(t, known[flag] || cliFlags[flag], "%s: `dagger call … %s`: the module has no such flag", f, flag)
			}
		}
	}
	assert.Greater(t, seen, 20, "the documentation's dagger call commands were found")
	for _, want := range []string{"--trivy-db-repository", "--trivy-skip-db-update", "--aws-access-key-id", "--git-commit-time"} {
		assert.True(t, known[want], want)
	}
}

// Issue #18: every function that acts on an environment takes --env, and the module takes
// --environment for Dagger 1.0, whose global --env selects its own environments; no
// constructor flag is a Dagger 1.0 global flag.
func TestEnvironmentFlags(t *testing.T) {
	args := moduleArgs(t)
	flags := map[string]map[string]bool{}
	for _, a := range args {
		if flags[a.Function] == nil {
			flags[a.Function] = map[string]bool{}
		}
		flags[a.Function][a.Flag] = true
	}
	for _, fn := range []string{"deploy", "scan", "status", "diff", "rollback", "audit", "publish", "sign", "verify", "infra", "serve", "render"} {
		assert.True(t, flags[fn]["--env"], "%s --env", fn)
		assert.False(t, flags[fn]["--environment"], "%s: --environment is the module's, given once before the function", fn)
	}
	assert.True(t, flags[""]["--environment"], "dagger call --environment NAME FUNCTION")
	assert.Empty(t, Collisions(args, Dagger10GlobalFlags))
	for _, want := range []string{"--aws-role-arn", "--aws-external-id", "--aws-role-session-name", "--aws-web-identity-token"} {
		assert.True(t, flags[""][want], want)
	}
	assert.True(t, flags["deploy"]["--source-aws-role-arn"])
	assert.False(t, flags["deploy"]["--source-aws-access-key-id"], "promotion reads its source through a role, not a second set of keys")

	// The check itself: a constructor argument named env is caught.
	bad, _, err := Parse("main.go", []byte("package main\nfunc New(env string, awsRoleArn string) *Fargate { return nil }\n"))
	require.NoError(t, err)
	assert.Equal(t, []Arg{{Name: "env", Flag: "--env"}}, Collisions(bad, Dagger10GlobalFlags))
}

// Issue #17 item 4: package main is a thin shell (signatures, docs, the Dagger steps); what
// the functions decide lives in pipeline/chain. Its hand-written files stay within budget.
func TestPackageMainStaysThin(t *testing.T) {
	const budget = 900
	files, err := filepath.Glob(filepath.Join(root, "*.go"))
	require.NoError(t, err)
	total := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.HasSuffix(f, ".gen.go") {
			continue
		}
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		total += strings.Count(string(data), "\n")
	}
	require.NotZero(t, total, "main.go was found")
	assert.LessOrEqual(t, total, budget, "package main has %d lines in %v", total, files)
}
