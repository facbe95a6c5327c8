package sarif_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/findings"
	"dagger/fargate/pipeline/internal/sarif"
	"dagger/fargate/pipeline/internal/sarif/sarifschema"
)

// Everything the writer can express validates against the SARIF 2.1.0 schema.
func TestWriterOutputIsValidSARIF(t *testing.T) {
	b := sarif.NewBuilder("tool", "https://example.com/tool")
	b.AddRule(sarif.Rule{ID: "R1", Name: "RuleOne", ShortDescription: sarif.Message{Text: "one"},
		FullDescription: &sarif.Message{Text: "full"}, Help: &sarif.Message{Text: "fix", Markdown: "**fix**"},
		HelpURI: "https://example.com/r1", DefaultConfiguration: &sarif.Configuration{Level: "error"},
		Properties: map[string]any{"security-severity": "8.0", "tags": []string{"security"}}})
	b.AddRule(sarif.Rule{ID: "R2", ShortDescription: sarif.Message{Text: "two"}})
	require.NoError(t, b.AddResult(sarif.Result{RuleID: "R1", Level: findings.High.SARIFLevel(), Message: sarif.Message{Text: "m"},
		Locations: []sarif.Location{{
			PhysicalLocation: &sarif.PhysicalLocation{ArtifactLocation: sarif.ArtifactLocation{URI: "a/Dockerfile"}, Region: sarif.Lines(0, 0)},
			LogicalLocations: []sarif.LogicalLocation{{Name: "svc", FullyQualifiedName: "arn:aws:ecs:eu-west-1:1:service/c/svc", Kind: "resource"}},
		}},
		Suppressions:        []sarif.Suppression{{Kind: "external", Status: "accepted", Justification: "why"}},
		PartialFingerprints: map[string]string{"findingKey/v1": "x"}, Source: findings.SourcePolicy,
		Properties: map[string]any{"note": "kept"}}))
	require.NoError(t, b.AddResult(sarif.Result{RuleID: "R2", Level: findings.Low.SARIFLevel(), Message: sarif.Message{Text: "n"}, Source: findings.SourceScan}))

	v, err := sarifschema.New()
	require.NoError(t, err)
	for name, l := range map[string]*sarif.Log{"full": b.Log(), "empty": sarif.NewBuilder("tool", "").Log()} {
		var buf bytes.Buffer
		require.NoError(t, sarif.Encode(&buf, l))
		require.NoError(t, v.Validate(buf.Bytes()), name)
	}
}
