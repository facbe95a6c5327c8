package sarifschema

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const valid = `{"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": [{
  "tool": {"driver": {"name": "t", "rules": [{"id": "R1", "shortDescription": {"text": "r"}, "properties": {"security-severity": "8.0", "tags": ["security"]}}]}},
  "results": [{"ruleId": "R1", "ruleIndex": 0, "level": "error", "message": {"text": "m"},
    "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a/b"}, "region": {"startLine": 3, "endLine": 4}},
                   "logicalLocations": [{"name": "svc", "kind": "resource"}]}],
    "suppressions": [{"kind": "external", "status": "accepted", "justification": "why"}],
    "partialFingerprints": {"k/v1": "x"}}]}]}`

func TestValidateAcceptsAValidLog(t *testing.T) {
	v, err := New()
	require.NoError(t, err)
	require.NoError(t, v.Validate([]byte(valid)))
}

func TestValidateRejects(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"not JSON", `{`, "validate sarif"},
		{"wrong version", `{"version": "2.0.0", "runs": []}`, "schema"},
		{"no version", `{"runs": []}`, "schema"},
		{"level not in the enum", replace(`"level": "error"`, `"level": "fatal"`), "schema"},
		{"line 0", replace(`"startLine": 3`, `"startLine": 0`), "schema"},
		{"result without message", replace(`"message": {"text": "m"},`, ``), "schema"},
		{"driver without name", replace(`"driver": {"name": "t",`, `"driver": {`), "schema"},
		{"suppression kind not in the enum", replace(`"kind": "external"`, `"kind": "waived"`), "schema"},
		{"misspelt field", replace(`"message": {"text": "m"}`, `"messages": {"text": "m"}, "message": {"text": "m"}`), "messages"},
		{"misspelt nested field", replace(`"startLine": 3`, `"startLine": 3, "startColum": 1`), "startColum"},
		{"string where a number goes", replace(`"ruleIndex": 0`, `"ruleIndex": "0"`), "ruleIndex"},
	}
	v, err := New()
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Validate([]byte(tt.doc))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func replace(old, new string) string {
	if !strings.Contains(valid, old) {
		panic("fixture lacks " + old)
	}
	return strings.Replace(valid, old, new, 1)
}
