package policy

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite docs/rules.md from the rule registry")

const rulesDocPath = "../../docs/rules.md"

// TestRulesDoc fails when docs/rules.md is not what the registry generates; run with -update
// to regenerate it.
func TestRulesDoc(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteRulesMarkdown(&buf))
	if *update {
		require.NoError(t, os.WriteFile(rulesDocPath, buf.Bytes(), 0o644))
	}
	got, err := os.ReadFile(rulesDocPath)
	require.NoError(t, err, "docs/rules.md missing: run go test ./pipeline/policy -run TestRulesDoc -update")
	require.Equal(t, buf.String(), string(got), "docs/rules.md is out of date: run go test ./pipeline/policy -run TestRulesDoc -update")
	for _, r := range Rules() {
		require.Contains(t, string(got), "## "+r.ID)
	}
}
