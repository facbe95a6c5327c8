package cosign

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Shapes as cosign prints them (stdout JSON; the "Verification for ..." lines go to
// stderr but are tolerated here in case both streams are combined).
const keylessOutput = `
Verification for 123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef --
The following checks were performed on each of these signatures:
  - The cosign claims were validated
[{"critical":{"identity":{"docker-reference":"123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api"},"image":{"docker-manifest-digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},"type":"https://sigstore.dev/cosign/sign/v1"},"optional":{"Issuer":"https://token.actions.githubusercontent.com","Subject":"https://github.com/acme/shop/.github/workflows/deploy.yml@refs/heads/main","githubWorkflowRepository":"acme/shop","githubWorkflowSha":"abc123"}}]
`

func TestParseVerifyOutput(t *testing.T) {
	sigs, err := ParseVerifyOutput([]byte(keylessOutput))
	require.NoError(t, err)
	require.Len(t, sigs, 1)
	s := sigs[0]
	assert.Equal(t, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api", s.DockerReference)
	assert.Equal(t, digest, s.ManifestDigest)
	assert.Equal(t, "https://token.actions.githubusercontent.com", s.Issuer)
	assert.Equal(t, "https://github.com/acme/shop/.github/workflows/deploy.yml@refs/heads/main", s.Subject)
	assert.Equal(t, "acme/shop", s.Optional["githubWorkflowRepository"])
	require.NoError(t, CheckSignedDigest(sigs, digest))
	assert.ErrorContains(t, CheckSignedDigest(sigs, "sha256:"+strings.Repeat("f", 64)), "not the deployed image")
	assert.ErrorContains(t, CheckSignedDigest(nil, digest), "no verified signature")

	keyOut := `[{"critical":{"identity":{"docker-reference":"r/a"},"image":{"docker-manifest-digest":"` + digest + `"},"type":"cosign container image signature"},"optional":null}]`
	sigs, err = ParseVerifyOutput([]byte(keyOut))
	require.NoError(t, err)
	assert.Empty(t, sigs[0].Subject)
	assert.Equal(t, "cosign container image signature", sigs[0].Type)
}

func TestParseVerifyOutputErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":      "",
		"only text":  "Error: no matching signatures\n",
		"empty list": "[]\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseVerifyOutput([]byte(in))
			assert.ErrorContains(t, err, "no verified signature")
		})
	}
	_, err := ParseVerifyOutput([]byte("[{broken\n"))
	assert.ErrorContains(t, err, "parse cosign verify output")
}

func TestParseAttestationOutput(t *testing.T) {
	stmt := `{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://cyclonedx.org/bom","subject":[{"name":"123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api","digest":{"sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}],"predicate":{}}`
	line := `{"payloadType":"application/vnd.in-toto+json","payload":"` + base64.StdEncoding.EncodeToString([]byte(stmt)) + `","signatures":[{"keyid":"","sig":"MEUCIQ"}]}`
	atts, err := ParseAttestationOutput([]byte("Verification for ...\n" + line + "\n"))
	require.NoError(t, err)
	require.Len(t, atts, 1)
	assert.Equal(t, "https://cyclonedx.org/bom", atts[0].PredicateType)
	assert.Equal(t, digest, atts[0].Subjects["123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api"])

	_, err = ParseAttestationOutput([]byte(`{"payload":"!!!"}`))
	assert.ErrorContains(t, err, "payload")
	_, err = ParseAttestationOutput(nil)
	assert.ErrorContains(t, err, "no verified attestation")
}
