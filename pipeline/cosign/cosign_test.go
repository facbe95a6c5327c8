package cosign

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/images"
)

const (
	digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	ref    = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api@" + digest
)

func TestSign(t *testing.T) {
	cases := []struct {
		name string
		opts SignOptions
		want Command
	}{
		{"key file", SignOptions{Ref: ref, Signer: Signer{Key: "/cosign/cosign.key"}, Registry: Registry{DockerConfigDir: "/cosign/docker"}},
			Command{Args: []string{"cosign", "sign", "--yes", "--key", "/cosign/cosign.key", ref},
				Env: map[string]string{"DOCKER_CONFIG": "/cosign/docker"}, SecretEnv: []string{"COSIGN_PASSWORD"}}},
		{"env key, private, annotations", SignOptions{Ref: ref, Signer: Signer{Key: "env://COSIGN_PRIVATE_KEY"}, Tlog: Transparency{Private: true},
			Annotations: map[string]string{"git.sha": "abc123", "env": "prod"}},
			Command{Args: []string{"cosign", "sign", "--yes", "--key", "env://COSIGN_PRIVATE_KEY", "--use-signing-config=false", "--tlog-upload=false",
				"-a", "env=prod", "-a", "git.sha=abc123", ref}, Env: map[string]string{}, SecretEnv: []string{"COSIGN_PRIVATE_KEY", "COSIGN_PASSWORD"}}},
		{"kms alias", SignOptions{Ref: ref, Signer: Signer{Key: "awskms:///alias/cosign-prod", AWSRegion: "eu-west-1", AWSSessionToken: true}},
			Command{Args: []string{"cosign", "sign", "--yes", "--key", "awskms:///alias/cosign-prod", ref},
				Env: map[string]string{"AWS_REGION": "eu-west-1"}, SecretEnv: []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}}},
		{"kms arn needs no region", SignOptions{Ref: ref, Signer: Signer{Key: "awskms:///arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}},
			Command{Args: []string{"cosign", "sign", "--yes", "--key", "awskms:///arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", ref},
				Env: map[string]string{}, SecretEnv: []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}}},
		{"keyless", SignOptions{Ref: ref, Signer: Signer{IdentityTokenFile: "/cosign/oidc-token"}},
			Command{Args: []string{"cosign", "sign", "--yes", "--identity-token", "/cosign/oidc-token", ref}, Env: map[string]string{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Sign(tc.opts)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestSignValidation(t *testing.T) {
	cases := []struct {
		name string
		opts SignOptions
		want string
	}{
		{"tag reference", SignOptions{Ref: "registry.example.com/shop/api:1.2.3", Signer: Signer{Key: "/k"}},
			`cosign sign: cosign signs by digest; got tag reference "registry.example.com/shop/api:1.2.3"`},
		{"short digest", SignOptions{Ref: "r/a@sha256:abc", Signer: Signer{Key: "/k"}}, "expected repo@sha256:<64 lowercase hex digits>"},
		{"uppercase digest", SignOptions{Ref: "r/a@sha256:" + strings.Repeat("A", 64), Signer: Signer{Key: "/k"}}, "expected repo@sha256"},
		{"bad repository", SignOptions{Ref: "UPPER/a@" + digest, Signer: Signer{Key: "/k"}}, `image reference "UPPER/a@`},
		{"empty ref", SignOptions{Signer: Signer{Key: "/k"}}, "image reference is required"},
		{"no signer", SignOptions{Ref: ref}, "signer: a key (file path, env://NAME or awskms:///...) or an identityTokenFile (keyless) is required"},
		{"both signers", SignOptions{Ref: ref, Signer: Signer{Key: "/k", IdentityTokenFile: "/t"}}, "not both"},
		{"kms two slashes", SignOptions{Ref: ref, Signer: Signer{Key: "awskms://alias/cosign", AWSRegion: "eu-west-1"}},
			`KMS key "awskms://alias/cosign": AWS KMS URIs have three slashes`},
		{"kms garbage", SignOptions{Ref: ref, Signer: Signer{Key: "awskms:///mykey", AWSRegion: "eu-west-1"}}, "expected awskms:///alias/NAME"},
		{"kms alias without region", SignOptions{Ref: ref, Signer: Signer{Key: "awskms:///alias/cosign"}}, "an AWS region is required"},
		{"relative key", SignOptions{Ref: ref, Signer: Signer{Key: "cosign.key"}}, "must be an absolute path"},
		{"other kms", SignOptions{Ref: ref, Signer: Signer{Key: "gcpkms://projects/p"}}, "unsupported key reference"},
		{"bad env name", SignOptions{Ref: ref, Signer: Signer{Key: "env://1BAD"}}, "expected env://NAME"},
		{"keyless private", SignOptions{Ref: ref, Signer: Signer{IdentityTokenFile: "/t"}, Tlog: Transparency{Private: true}}, "keyless signing needs the transparency log"},
		{"relative token", SignOptions{Ref: ref, Signer: Signer{IdentityTokenFile: "token"}}, "identityTokenFile \"token\" must be an absolute path"},
		{"bad annotation", SignOptions{Ref: ref, Signer: Signer{Key: "/k"}, Annotations: map[string]string{"a=b": "c"}}, "annotation key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Sign(tc.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestVerify(t *testing.T) {
	cases := []struct {
		name string
		opts VerifyOptions
		want Command
	}{
		{"public key", VerifyOptions{Ref: ref, Verifier: Verifier{Key: "/cosign/cosign.pub"}},
			Command{Args: []string{"cosign", "verify", "--key", "/cosign/cosign.pub", "--output", "json", ref}, Env: map[string]string{}}},
		{"public key private infra", VerifyOptions{Ref: ref, Verifier: Verifier{Key: "/cosign/cosign.pub"}, Tlog: Transparency{Private: true}, Registry: Registry{DockerConfigDir: "/d"}},
			Command{Args: []string{"cosign", "verify", "--key", "/cosign/cosign.pub", "--insecure-ignore-tlog=true", "--output", "json", ref},
				Env: map[string]string{"DOCKER_CONFIG": "/d"}}},
		{"kms", VerifyOptions{Ref: ref, Verifier: Verifier{Key: "awskms:///alias/cosign-prod", AWSRegion: "eu-west-1"}},
			Command{Args: []string{"cosign", "verify", "--key", "awskms:///alias/cosign-prod", "--output", "json", ref},
				Env: map[string]string{"AWS_REGION": "eu-west-1"}, SecretEnv: []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}}},
		{"keyless", VerifyOptions{Ref: ref, Verifier: Verifier{CertificateIdentity: "https://github.com/acme/shop/.github/workflows/deploy.yml@refs/heads/main", CertificateOIDCIssuer: GitHubActionsIssuer}},
			Command{Args: []string{"cosign", "verify", "--certificate-identity", "https://github.com/acme/shop/.github/workflows/deploy.yml@refs/heads/main",
				"--certificate-oidc-issuer", "https://token.actions.githubusercontent.com", "--output", "json", ref}, Env: map[string]string{}}},
		{"keyless regexp", VerifyOptions{Ref: ref, Verifier: Verifier{CertificateIdentityRegexp: `^https://github\.com/acme/`, CertificateOIDCIssuer: GitHubActionsIssuer}},
			Command{Args: []string{"cosign", "verify", "--certificate-identity-regexp", `^https://github\.com/acme/`,
				"--certificate-oidc-issuer", "https://token.actions.githubusercontent.com", "--output", "json", ref}, Env: map[string]string{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Verify(tc.opts)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.NotContains(t, got.SecretEnv, "COSIGN_PASSWORD", "verifying needs no password")
		})
	}
}

func TestVerifyValidation(t *testing.T) {
	cases := []struct {
		name string
		v    Verifier
		tlog Transparency
		want string
	}{
		{"nothing", Verifier{}, Transparency{}, "a public key (path or awskms:///...) or certificateIdentity plus certificateOIDCIssuer is required"},
		{"identity without issuer", Verifier{CertificateIdentity: "x"}, Transparency{}, "keyless verification needs certificateOIDCIssuer"},
		{"issuer without identity", Verifier{CertificateOIDCIssuer: GitHubActionsIssuer}, Transparency{}, "keyless verification needs certificateIdentity"},
		{"identity and regexp", Verifier{CertificateIdentity: "a", CertificateIdentityRegexp: "b", CertificateOIDCIssuer: "i"}, Transparency{}, "not both"},
		{"bad regexp", Verifier{CertificateIdentityRegexp: "(", CertificateOIDCIssuer: "i"}, Transparency{}, "certificateIdentityRegexp"},
		{"key and identity", Verifier{Key: "/k.pub", CertificateIdentity: "a"}, Transparency{}, "not both"},
		{"env key for verify", Verifier{Key: "env://KEY"}, Transparency{}, "env:// keys are for signing"},
		{"keyless private", Verifier{CertificateIdentity: "a", CertificateOIDCIssuer: "i"}, Transparency{Private: true}, "always in the transparency log"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(VerifyOptions{Ref: ref, Verifier: tc.v, Tlog: tc.tlog})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "cosign verify: "))
		})
	}
	_, err := Verify(VerifyOptions{Ref: "shop/api:latest", Verifier: Verifier{Key: "/k.pub"}})
	assert.ErrorContains(t, err, `cosign signs by digest; got tag reference "shop/api:latest"`)
}

func TestAttest(t *testing.T) {
	got, err := Attest(AttestOptions{Ref: ref, Signer: Signer{Key: "/cosign/cosign.key"}, PredicatePath: "/scan/sbom.cdx.json", Type: "cyclonedx",
		Registry: Registry{DockerConfigDir: "/cosign/docker"}})
	require.NoError(t, err)
	assert.Equal(t, Command{Args: []string{"cosign", "attest", "--yes", "--key", "/cosign/cosign.key", "--type", "cyclonedx", "--predicate", "/scan/sbom.cdx.json", ref},
		Env: map[string]string{"DOCKER_CONFIG": "/cosign/docker"}, SecretEnv: []string{"COSIGN_PASSWORD"}}, got)

	got, err = Attest(AttestOptions{Ref: ref, Signer: Signer{IdentityTokenFile: "/t"}, PredicatePath: "/scan/vuln.json", Type: "vuln"})
	require.NoError(t, err)
	assert.Equal(t, []string{"cosign", "attest", "--yes", "--identity-token", "/t", "--type", "vuln", "--predicate", "/scan/vuln.json", ref}, got.Args)

	got, err = Attest(AttestOptions{Ref: ref, Signer: Signer{Key: "/k"}, PredicatePath: "/scan/gate.json", Type: "https://fargate.dev/scan-gate/v1"})
	require.NoError(t, err)
	assert.Contains(t, got.Args, "https://fargate.dev/scan-gate/v1")

	_, err = Attest(AttestOptions{Ref: ref, Signer: Signer{Key: "/k"}, PredicatePath: "/p", Type: "sbom"})
	assert.ErrorContains(t, err, `cosign attest: predicate type "sbom"`)
	_, err = Attest(AttestOptions{Ref: ref, Signer: Signer{Key: "/k"}, PredicatePath: "sbom.json", Type: "cyclonedx"})
	assert.ErrorContains(t, err, `predicatePath "sbom.json" must be an absolute path`)
	_, err = Attest(AttestOptions{Ref: "a/b:1", Signer: Signer{Key: "/k"}, PredicatePath: "/p", Type: "cyclonedx"})
	assert.ErrorContains(t, err, "cosign signs by digest")
}

func TestVerifyAttestation(t *testing.T) {
	got, err := VerifyAttestation(VerifyAttestationOptions{Ref: ref, Type: "cyclonedx", Verifier: Verifier{Key: "/cosign/cosign.pub"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"cosign", "verify-attestation", "--key", "/cosign/cosign.pub", "--type", "cyclonedx", ref}, got.Args)
	_, err = VerifyAttestation(VerifyAttestationOptions{Ref: ref, Type: "cyclonedx", Verifier: Verifier{CertificateIdentity: "x"}})
	assert.ErrorContains(t, err, "certificateOIDCIssuer")
}

func TestDockerConfigJSON(t *testing.T) {
	const password = "eyJwYXlsb2FkIjoic2VjcmV0LXBhc3N3b3JkIn0="
	data := DockerConfigJSON("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/", "AWS", password)
	var cfg struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	require.NoError(t, json.Unmarshal(data, &cfg))
	require.Contains(t, cfg.Auths, "123456789012.dkr.ecr.eu-west-1.amazonaws.com")
	raw, err := base64.StdEncoding.DecodeString(cfg.Auths["123456789012.dkr.ecr.eu-west-1.amazonaws.com"].Auth)
	require.NoError(t, err)
	assert.Equal(t, "AWS:"+password, string(raw))
	// The password is only present encoded.
	assert.NotContains(t, string(data), password)
}

func TestCommandsNeverCarrySecretValues(t *testing.T) {
	c, err := Sign(SignOptions{Ref: ref, Signer: Signer{Key: "awskms:///alias/k", AWSRegion: "eu-west-1", AWSSessionToken: true}})
	require.NoError(t, err)
	for _, name := range c.SecretEnv {
		assert.NotContains(t, c.Env, name, "a secret variable must not also get a plain value")
	}
}

func TestDefaultImageIsPinnedByDigest(t *testing.T) {
	set, err := images.Defaults()
	require.NoError(t, err)
	name, d, ok := strings.Cut(set.Cosign, "@")
	require.True(t, ok)
	assert.True(t, strings.HasPrefix(name, "ghcr.io/sigstore/cosign/cosign:v3."))
	require.NoError(t, ValidateDigestRef("ghcr.io/sigstore/cosign/cosign@"+d))
}
