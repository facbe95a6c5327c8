// Package cosign builds cosign v3 command lines (argv plus environment) to sign, attest
// and verify container images by digest, and reads cosign's verification output.
//
// Nothing here runs cosign and no secret value ever passes through this package:
// a Command lists the NAMES of the environment variables the caller must fill from
// secrets (COSIGN_PASSWORD, AWS credentials), and key material is referenced by a path
// where the caller mounts it. Registry credentials reach cosign through a Docker config
// directory (DOCKER_CONFIG) whose config.json DockerConfigJSON renders.
package cosign

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// The default cosign image is images.Defaults().Cosign (pipeline/images), pinned by digest.
// Its entrypoint is cosign; Command.Args start with "cosign" for runners that ignore it.

// GitHubActionsIssuer is the OIDC issuer of GitHub Actions identity tokens.
const GitHubActionsIssuer = "https://token.actions.githubusercontent.com"

// Environment variable names the caller sets from secrets.
const (
	EnvPassword        = "COSIGN_PASSWORD"
	EnvAWSAccessKeyID  = "AWS_ACCESS_KEY_ID"
	EnvAWSSecretKey    = "AWS_SECRET_ACCESS_KEY"
	EnvAWSSessionToken = "AWS_SESSION_TOKEN"
	EnvDockerConfig    = "DOCKER_CONFIG"
	EnvAWSRegion       = "AWS_REGION"
)

// Command is one cosign invocation.
type Command struct {
	// Args is the argv, starting with "cosign".
	Args []string
	// Env holds non-secret environment values (DOCKER_CONFIG, AWS_REGION).
	Env map[string]string
	// SecretEnv names the variables the caller must set from secrets (never values).
	SecretEnv []string
}

// Signer says which key signs. Exactly one of Key or IdentityTokenFile is set.
type Signer struct {
	// Key is a private key: an absolute path to a cosign.key file mounted in the
	// container (its password comes from COSIGN_PASSWORD), "env://NAME" (the PEM in a
	// secret variable NAME, password in COSIGN_PASSWORD), or an AWS KMS key
	// "awskms:///alias/NAME" / "awskms:///arn:aws:kms:REGION:ACCOUNT:key/ID" (three
	// slashes; AWS credentials from the AWS_* variables).
	Key string
	// IdentityTokenFile is keyless signing: the path of a file holding an OIDC identity
	// token (GitHub Actions' ACTIONS_ID_TOKEN), passed with --identity-token.
	IdentityTokenFile string
	// AWSRegion is set as AWS_REGION for KMS keys given by alias or key ID.
	AWSRegion string
	// AWSSessionToken adds AWS_SESSION_TOKEN to the secret variables (temporary creds).
	AWSSessionToken bool
}

// Registry says how cosign reaches the registry.
type Registry struct {
	// DockerConfigDir is where the caller mounts config.json (see DockerConfigJSON);
	// empty leaves cosign's default (anonymous or ~/.docker).
	DockerConfigDir string
}

// Transparency controls the public transparency log (Rekor).
type Transparency struct {
	// Private disables the transparency log: for key or KMS signing in private
	// environments where image names must not be published. Verify then needs Private
	// too. Keyless signing needs the log and rejects Private.
	Private bool
}

// SignOptions describe `cosign sign`.
type SignOptions struct {
	Ref         string // repo@sha256:<64 hex>
	Signer      Signer
	Registry    Registry
	Tlog        Transparency
	Annotations map[string]string // -a key=value, sorted by key
}

// Sign returns the command that signs an image by digest.
func Sign(o SignOptions) (Command, error) {
	if err := ValidateDigestRef(o.Ref); err != nil {
		return Command{}, fmt.Errorf("cosign sign: %w", err)
	}
	c := newCommand("sign", o.Registry)
	if err := c.addSigner(o.Signer, o.Tlog); err != nil {
		return Command{}, fmt.Errorf("cosign sign: %w", err)
	}
	keys := make([]string, 0, len(o.Annotations))
	for k := range o.Annotations {
		if k == "" || strings.Contains(k, "=") {
			return Command{}, fmt.Errorf("cosign sign: annotation key %q must be non-empty and contain no '='", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c.Args = append(c.Args, "-a", k+"="+o.Annotations[k])
	}
	c.Args = append(c.Args, o.Ref)
	return c, nil
}

// Predicate types cosign attest accepts by short name.
var predicateTypes = map[string]bool{
	"cyclonedx": true, "spdx": true, "spdxjson": true, "vuln": true, "openvex": true, "link": true,
	"slsaprovenance": true, "slsaprovenance02": true, "slsaprovenance1": true, "custom": true,
}

// AttestOptions describe `cosign attest`.
type AttestOptions struct {
	Ref    string
	Signer Signer
	// PredicatePath is the absolute path of the predicate file in the container (the
	// CycloneDX SBOM, the Trivy report as a cosign-vuln predicate, ...).
	PredicatePath string
	// Type is the predicate type: cyclonedx, spdxjson, vuln, openvex, slsaprovenance1,
	// custom, ... or a predicate type URI (https://...).
	Type     string
	Registry Registry
	Tlog     Transparency
}

// Attest returns the command that attaches a signed in-toto attestation to an image.
func Attest(o AttestOptions) (Command, error) {
	if err := ValidateDigestRef(o.Ref); err != nil {
		return Command{}, fmt.Errorf("cosign attest: %w", err)
	}
	if err := validateType(o.Type); err != nil {
		return Command{}, fmt.Errorf("cosign attest: %w", err)
	}
	if !path.IsAbs(o.PredicatePath) {
		return Command{}, fmt.Errorf("cosign attest: predicatePath %q must be an absolute path in the cosign container", o.PredicatePath)
	}
	c := newCommand("attest", o.Registry)
	if err := c.addSigner(o.Signer, o.Tlog); err != nil {
		return Command{}, fmt.Errorf("cosign attest: %w", err)
	}
	c.Args = append(c.Args, "--type", o.Type, "--predicate", o.PredicatePath, o.Ref)
	return c, nil
}

// Verifier says what a valid signature is. Set Key for key/KMS signatures, or both
// CertificateIdentity (or CertificateIdentityRegexp) and CertificateOIDCIssuer for keyless.
type Verifier struct {
	// Key is the public key: an absolute path to cosign.pub in the container, or an AWS
	// KMS key URI (awskms:///...).
	Key                       string
	CertificateIdentity       string
	CertificateIdentityRegexp string
	CertificateOIDCIssuer     string
	AWSRegion                 string
	AWSSessionToken           bool
}

// VerifyOptions describe `cosign verify`.
type VerifyOptions struct {
	Ref      string
	Verifier Verifier
	Registry Registry
	Tlog     Transparency
}

// Verify returns the command that verifies an image's signatures; its stdout is the
// JSON ParseVerifyOutput reads.
func Verify(o VerifyOptions) (Command, error) {
	if err := ValidateDigestRef(o.Ref); err != nil {
		return Command{}, fmt.Errorf("cosign verify: %w", err)
	}
	c := newCommand("verify", o.Registry)
	if err := c.addVerifier(o.Verifier, o.Tlog); err != nil {
		return Command{}, fmt.Errorf("cosign verify: %w", err)
	}
	c.Args = append(c.Args, "--output", "json", o.Ref)
	return c, nil
}

// VerifyAttestationOptions describe `cosign verify-attestation`.
type VerifyAttestationOptions struct {
	Ref      string
	Type     string
	Verifier Verifier
	Registry Registry
	Tlog     Transparency
}

// VerifyAttestation returns the command that verifies an image's attestations of a type;
// its stdout is read by ParseAttestationOutput.
func VerifyAttestation(o VerifyAttestationOptions) (Command, error) {
	if err := ValidateDigestRef(o.Ref); err != nil {
		return Command{}, fmt.Errorf("cosign verify-attestation: %w", err)
	}
	if err := validateType(o.Type); err != nil {
		return Command{}, fmt.Errorf("cosign verify-attestation: %w", err)
	}
	c := newCommand("verify-attestation", o.Registry)
	if err := c.addVerifier(o.Verifier, o.Tlog); err != nil {
		return Command{}, fmt.Errorf("cosign verify-attestation: %w", err)
	}
	c.Args = append(c.Args, "--type", o.Type, o.Ref)
	return c, nil
}

func newCommand(verb string, r Registry) Command {
	c := Command{Args: []string{"cosign", verb}, Env: map[string]string{}}
	if r.DockerConfigDir != "" {
		c.Env[EnvDockerConfig] = r.DockerConfigDir
	}
	return c
}

func (c *Command) addSigner(s Signer, t Transparency) error {
	switch {
	case s.Key != "" && s.IdentityTokenFile != "":
		return fmt.Errorf("signer: set either key or identityTokenFile (keyless), not both")
	case s.Key == "" && s.IdentityTokenFile == "":
		return fmt.Errorf("signer: a key (file path, env://NAME or awskms:///...) or an identityTokenFile (keyless) is required")
	}
	c.Args = append(c.Args, "--yes")
	if s.IdentityTokenFile != "" {
		if !path.IsAbs(s.IdentityTokenFile) {
			return fmt.Errorf("signer: identityTokenFile %q must be an absolute path in the cosign container", s.IdentityTokenFile)
		}
		if t.Private {
			return fmt.Errorf("signer: keyless signing needs the transparency log; private mode works only with a key or KMS")
		}
		c.Args = append(c.Args, "--identity-token", s.IdentityTokenFile)
		return nil
	}
	if err := c.addKey(s.Key, true, s.AWSRegion, s.AWSSessionToken); err != nil {
		return fmt.Errorf("signer: %w", err)
	}
	if t.Private {
		c.Args = append(c.Args, "--use-signing-config=false", "--tlog-upload=false")
	}
	return nil
}

func (c *Command) addVerifier(v Verifier, t Transparency) error {
	keyless := v.CertificateIdentity != "" || v.CertificateIdentityRegexp != "" || v.CertificateOIDCIssuer != ""
	switch {
	case v.Key != "" && keyless:
		return fmt.Errorf("verifier: set either key or certificate identity and issuer, not both")
	case v.Key != "":
		if err := c.addKey(v.Key, false, v.AWSRegion, v.AWSSessionToken); err != nil {
			return fmt.Errorf("verifier: %w", err)
		}
	case keyless:
		if v.CertificateIdentity != "" && v.CertificateIdentityRegexp != "" {
			return fmt.Errorf("verifier: set certificateIdentity or certificateIdentityRegexp, not both")
		}
		if v.CertificateIdentity == "" && v.CertificateIdentityRegexp == "" {
			return fmt.Errorf("verifier: keyless verification needs certificateIdentity (e.g. https://github.com/OWNER/REPO/.github/workflows/deploy.yml@refs/heads/main) as well as the issuer")
		}
		if v.CertificateOIDCIssuer == "" {
			return fmt.Errorf("verifier: keyless verification needs certificateOIDCIssuer (e.g. %s) as well as the identity", GitHubActionsIssuer)
		}
		if v.CertificateIdentityRegexp != "" {
			if _, err := regexp.Compile(v.CertificateIdentityRegexp); err != nil {
				return fmt.Errorf("verifier: certificateIdentityRegexp: %w", err)
			}
			c.Args = append(c.Args, "--certificate-identity-regexp", v.CertificateIdentityRegexp)
		} else {
			c.Args = append(c.Args, "--certificate-identity", v.CertificateIdentity)
		}
		c.Args = append(c.Args, "--certificate-oidc-issuer", v.CertificateOIDCIssuer)
		if t.Private {
			return fmt.Errorf("verifier: keyless signatures are always in the transparency log; private mode works only with a key or KMS")
		}
		return nil
	default:
		return fmt.Errorf("verifier: a public key (path or awskms:///...) or certificateIdentity plus certificateOIDCIssuer is required")
	}
	if t.Private {
		c.Args = append(c.Args, "--insecure-ignore-tlog=true")
	}
	return nil
}

// addKey adds --key and the variables the key needs.
func (c *Command) addKey(key string, private bool, region string, session bool) error {
	switch {
	case strings.HasPrefix(key, "awskms:"):
		if err := ValidateKMSURI(key); err != nil {
			return err
		}
		c.SecretEnv = append(c.SecretEnv, EnvAWSAccessKeyID, EnvAWSSecretKey)
		if session {
			c.SecretEnv = append(c.SecretEnv, EnvAWSSessionToken)
		}
		if region != "" {
			c.Env[EnvAWSRegion] = region
		} else if !strings.HasPrefix(key, "awskms:///arn:") {
			return fmt.Errorf("key %q: an AWS region is required for a KMS alias or key ID (an ARN carries its own)", key)
		}
	case strings.HasPrefix(key, "env://"):
		if !private {
			return fmt.Errorf("key %q: env:// keys are for signing; verify with the public key file", key)
		}
		v := strings.TrimPrefix(key, "env://")
		if !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(v) {
			return fmt.Errorf("key %q: expected env://NAME with NAME an environment variable name", key)
		}
		c.SecretEnv = append(c.SecretEnv, v, EnvPassword)
	case strings.Contains(key, "://"):
		return fmt.Errorf("key %q: unsupported key reference (expected a file path, env://NAME or awskms:///...)", key)
	default:
		if !path.IsAbs(key) {
			return fmt.Errorf("key %q must be an absolute path in the cosign container (mount the key file there)", key)
		}
		if private {
			c.SecretEnv = append(c.SecretEnv, EnvPassword)
		}
	}
	c.Args = append(c.Args, "--key", key)
	return nil
}

var (
	digestRefRe = regexp.MustCompile(`^[^@\s]+@sha256:[0-9a-f]{64}$`)
	kmsAliasRe  = regexp.MustCompile(`^alias/[A-Za-z0-9/_-]+$`)
	kmsARNRe    = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)$`)
	kmsKeyIDRe  = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// ValidateDigestRef accepts only digest references, repo@sha256:<64 lowercase hex>.
func ValidateDigestRef(ref string) error {
	if ref == "" {
		return fmt.Errorf("image reference is required (repo@sha256:<digest>)")
	}
	if !strings.Contains(ref, "@") {
		return fmt.Errorf("cosign signs by digest; got tag reference %q (use repo@sha256:<digest>)", ref)
	}
	if !digestRefRe.MatchString(ref) {
		return fmt.Errorf("image reference %q: expected repo@sha256:<64 lowercase hex digits>", ref)
	}
	if _, err := name.NewDigest(ref); err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	return nil
}

// ValidateKMSURI checks an AWS KMS key URI: awskms:/// followed by alias/NAME, a key ID,
// or a key or alias ARN.
func ValidateKMSURI(uri string) error {
	rest, ok := strings.CutPrefix(uri, "awskms:///")
	if !ok {
		return fmt.Errorf("KMS key %q: AWS KMS URIs have three slashes: awskms:///alias/NAME or awskms:///arn:aws:kms:REGION:ACCOUNT:key/ID", uri)
	}
	if kmsAliasRe.MatchString(rest) || kmsARNRe.MatchString(rest) || kmsKeyIDRe.MatchString(rest) {
		return nil
	}
	return fmt.Errorf("KMS key %q: expected awskms:///alias/NAME, awskms:///KEY-ID or awskms:///arn:aws:kms:REGION:ACCOUNT:key/ID", uri)
}

func validateType(t string) error {
	if predicateTypes[t] || strings.HasPrefix(t, "https://") {
		return nil
	}
	return fmt.Errorf("predicate type %q: expected cyclonedx, spdxjson, vuln, openvex, slsaprovenance1, custom (or another cosign type) or a predicate type URI", t)
}

// DockerConfigJSON renders a Docker config.json with one registry's credentials, for the
// caller to mount (as a secret) at Registry.DockerConfigDir/config.json. The registry
// may be given as a URL; only its host is kept.
func DockerConfigJSON(registry, user, password string) []byte {
	host := strings.TrimPrefix(strings.TrimPrefix(registry, "https://"), "http://")
	host, _, _ = strings.Cut(host, "/")
	cfg := map[string]map[string]map[string]string{"auths": {host: {
		"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password)),
	}}}
	data, _ := json.Marshal(cfg) // a map of strings always marshals
	return data
}
