package chain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/cosign"
	"dagger/fargate/pipeline/ecr"
	"dagger/fargate/pipeline/promote"
	"dagger/fargate/pipeline/report"
	"dagger/fargate/pipeline/scan"
)

const signatureGate = "signature"

// signer is cosign prepared for one registry and one signing setup.
type signer struct {
	run     Cosign
	sign    cosign.Signer
	verify  cosign.Verifier
	reg     cosign.Registry
	tlog    cosign.Transparency
	extra   []string // flags before the image reference (the local registry is plain HTTP)
	keyDesc string   // what signs, for the report (never key material)
}

// canSign reports whether a signing key or identity token was given.
func (sg *signer) canSign() bool { return sg.sign.Key != "" || sg.sign.IdentityTokenFile != "" }

// signingPlan decides what cosign needs for the file's signing mode and the keys given, and
// refuses missing material before anything runs. local forces the engine's local key pair.
func (s *Session) signingPlan(f *config.File, region string, local bool, wantSign bool) (SigningSetup, signer, error) {
	setup := SigningSetup{AWSEndpoint: s.Endpoint}
	sg := signer{tlog: cosign.Transparency{Private: f.Signing.Private || local}}
	mode := f.Signing.Mode
	if local {
		mode = config.SignKey
	}
	switch mode {
	case config.SignKey:
		switch {
		case local:
			setup.LocalKey, setup.PrivateKey, setup.PublicKey = true, true, PublicKeyDerived
		case s.Keys.PublicKey:
			setup.PublicKey = PublicKeyGiven
		case f.Signing.PublicKey != "":
			setup.PublicKey, setup.PublicKeyFile = PublicKeyFile, s.SourcePath(f.Signing.PublicKey)
		case s.Keys.PrivateKey:
			setup.PublicKey = PublicKeyDerived
		}
		if !local && s.Keys.PrivateKey {
			if !s.Keys.Password {
				return SigningSetup{}, signer{}, errors.New("signing mode key: --cosign-password is required with --cosign-key (cosign keys are encrypted)")
			}
			setup.PrivateKey = true
		}
		if wantSign && !setup.PrivateKey {
			return SigningSetup{}, signer{}, errors.New("signing mode key: pass --cosign-key and --cosign-password to sign")
		}
		if setup.PublicKey == NoPublicKey {
			return SigningSetup{}, signer{}, errors.New("signing mode key: pass --cosign-public-key (or --cosign-key), or set signing.publicKey in the environments file, to verify")
		}
		if setup.PrivateKey {
			sg.sign = cosign.Signer{Key: KeyPath}
		}
		sg.verify = cosign.Verifier{Key: PublicKeyPath}
		sg.keyDesc = "cosign key pair"
		if local {
			sg.keyDesc = "local key pair"
		}
	case config.SignKMS:
		session := s.Credentials.temporary()
		sg.sign = cosign.Signer{Key: f.Signing.KMSKey, AWSRegion: region, AWSSessionToken: session}
		sg.verify = cosign.Verifier{Key: f.Signing.KMSKey, AWSRegion: region, AWSSessionToken: session}
		sg.keyDesc = f.Signing.KMSKey
	case config.SignKeyless:
		if s.Keys.OIDCToken {
			setup.IdentityToken = true
			sg.sign = cosign.Signer{IdentityTokenFile: TokenPath}
		} else if wantSign {
			return SigningSetup{}, signer{}, errors.New("signing mode keyless: pass --oidc-token (in GitHub Actions, the ID token for audience sigstore) to sign")
		}
		sg.verify = cosign.Verifier{CertificateIdentity: f.Signing.CertificateIdentity, CertificateOIDCIssuer: f.Signing.CertificateOIDCIssuer}
		sg.keyDesc = f.Signing.CertificateIdentity
	default:
		return SigningSetup{}, signer{}, fmt.Errorf("signing.mode: %q is not key, kms or keyless", mode)
	}
	return setup, sg, nil
}

// prepareSigner prepares cosign for a registry: the local one, or ECR with a login. With a
// KMS key, cosign gets awsCreds' current credentials (renewed by the SDK when they are an
// assumed role's); nil gives it none.
func (s *Session) prepareSigner(ctx context.Context, setup SigningSetup, sg signer, login *ecr.Credentials, awsCreds aws.CredentialsProvider) (*signer, error) {
	insecure := []string{"--allow-insecure-registry", "--allow-http-registry"}
	if login != nil {
		setup.ECR = login
		sg.reg = cosign.Registry{DockerConfigDir: DockerConfigDir}
		// An AWS-compatible endpoint over plain HTTP (LocalStack, a fake) hands out a
		// plain-HTTP registry too; cosign tries HTTPS unless told otherwise.
		if strings.HasPrefix(s.Endpoint, "http://") {
			sg.extra = insecure
		}
	} else {
		setup.LocalRegistry = true
		sg.extra = insecure
	}
	if awsCreds != nil && (strings.HasPrefix(sg.sign.Key, "awskms://") || strings.HasPrefix(sg.verify.Key, "awskms://")) {
		c, err := awsCreds.Retrieve(ctx)
		if err != nil {
			return nil, fmt.Errorf("AWS credentials for cosign (KMS): %w", err)
		}
		setup.AWSEnv = map[string]ecr.Secret{cosign.EnvAWSAccessKeyID: ecr.Secret(c.AccessKeyID), cosign.EnvAWSSecretKey: ecr.Secret(c.SecretAccessKey)}
		if c.SessionToken != "" {
			setup.AWSEnv[cosign.EnvAWSSessionToken] = ecr.Secret(c.SessionToken)
		}
	}
	run, err := s.Steps.Cosign(ctx, setup)
	if err != nil {
		return nil, failedStep(report.FailedBeforeDeploy, fmt.Errorf("prepare cosign: %w", err))
	}
	sg.run = run
	return &sg, nil
}

// exec runs one cosign command, with the extra flags placed before the image reference.
func (sg *signer) exec(ctx context.Context, cmd cosign.Command, files ...CosignFile) ([]byte, error) {
	cmd.Args = WithFlagsBeforeRef(cmd.Args, sg.extra...)
	out, err := sg.run.Run(ctx, cmd, files...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(cmd.Args[:min(2, len(cmd.Args))], " "), err)
	}
	return out, nil
}

// WithFlagsBeforeRef inserts flags before the final positional argument (the image
// reference) of a cosign argv.
func WithFlagsBeforeRef(args []string, flags ...string) []string {
	if len(flags) == 0 || len(args) == 0 {
		return args
	}
	out := append([]string{}, args[:len(args)-1]...)
	out = append(out, flags...)
	return append(out, args[len(args)-1])
}

// signImage signs ref by digest.
func (sg *signer) signImage(ctx context.Context, ref string) error {
	if !sg.canSign() {
		return fmt.Errorf("sign %s: no signing key: pass --cosign-key and --cosign-password (mode key) or --oidc-token (mode keyless)", ref)
	}
	cmd, err := cosign.Sign(cosign.SignOptions{Ref: ref, Signer: sg.sign, Registry: sg.reg, Tlog: sg.tlog})
	if err != nil {
		return err
	}
	_, err = sg.exec(ctx, cmd)
	return err
}

// attestAll attaches the SBOM and the scan gate decision to ref, one after the other: cosign
// rewrites the image's referrers index (the sha256-<digest> fallback tag on registries
// without the OCI referrers API, such as the local registry) by read-modify-write, so two
// attestations at once can lose one (sigstore/cosign#2432).
func (sg *signer) attestAll(ctx context.Context, ref string, gate []byte) error {
	sbom, err := cosign.Attest(cosign.AttestOptions{Ref: ref, Signer: sg.sign, PredicatePath: SBOMPath, Type: "cyclonedx", Registry: sg.reg, Tlog: sg.tlog})
	if err != nil {
		return err
	}
	if _, err := sg.exec(ctx, sbom, CosignFile{Path: SBOMPath, SBOM: true}); err != nil {
		return fmt.Errorf("attest the SBOM: %w", err)
	}
	att, err := cosign.Attest(cosign.AttestOptions{Ref: ref, Signer: sg.sign, PredicatePath: GatePath, Type: scan.GatePredicateType, Registry: sg.reg, Tlog: sg.tlog})
	if err != nil {
		return err
	}
	if _, err := sg.exec(ctx, att, CosignFile{Path: GatePath, Data: gate}); err != nil {
		return fmt.Errorf("attest the scan result: %w", err)
	}
	return nil
}

// verifySignature verifies ref's signature against the configured identity and returns who
// signed it, as the report shows it.
func (sg *signer) verifySignature(ctx context.Context, ref string) (string, error) {
	cmd, err := cosign.Verify(cosign.VerifyOptions{Ref: ref, Verifier: sg.verify, Registry: sg.reg, Tlog: sg.tlog})
	if err != nil {
		return "", err
	}
	out, err := sg.exec(ctx, cmd)
	if err != nil {
		return "", err
	}
	sigs, err := cosign.ParseVerifyOutput(out)
	if err != nil {
		return "", fmt.Errorf("verify %s: %w", ref, err)
	}
	if err := cosign.CheckSignedDigest(sigs, ref[strings.LastIndex(ref, "@")+1:]); err != nil {
		return "", fmt.Errorf("verify %s: %w", ref, err)
	}
	if sigs[0].Subject != "" {
		return sigs[0].Subject, nil
	}
	return sg.keyDesc, nil
}

// verifyAttestations checks that the SBOM and scan gate attestations verify, and returns the
// scan gate predicates they carry.
func (sg *signer) verifyAttestations(ctx context.Context, ref string) ([]scan.GatePredicate, error) {
	var gates []scan.GatePredicate
	for _, typ := range []string{"cyclonedx", scan.GatePredicateType} {
		cmd, err := cosign.VerifyAttestation(cosign.VerifyAttestationOptions{Ref: ref, Type: typ, Verifier: sg.verify, Registry: sg.reg, Tlog: sg.tlog})
		if err != nil {
			return nil, err
		}
		out, err := sg.exec(ctx, cmd)
		if err != nil {
			return nil, fmt.Errorf("verify the %s attestation of %s: %w", typ, ref, err)
		}
		atts, err := cosign.ParseAttestationOutput(out)
		if err != nil {
			return nil, fmt.Errorf("verify the %s attestation of %s: %w", typ, ref, err)
		}
		if typ == scan.GatePredicateType {
			for _, a := range atts {
				if p, err := scan.ParseGatePredicate(a.Predicate); err == nil {
					gates = append(gates, p)
				}
			}
		}
	}
	return gates, nil
}

// signAndVerify signs a freshly pushed image, then always verifies it before deploy. An image
// that may be signed already (its digest was in the registry before) is verified first: a
// valid signature of the same identity whose scan attestation matches this run's gate is
// reused, not signed again. A digest pushed for the first time cannot carry one, so it is not
// checked for one.
func (s *Session) signAndVerify(ctx context.Context, r *report.Recorder, sg *signer, ref string, scanned *ScanResult, mayBeSigned bool, bg report.BreakGlassRequest) error {
	gate, err := scan.Predicate(scanned.Decision, "trivy", s.now())
	if err != nil {
		return err
	}
	if mayBeSigned {
		if reused, identity := s.reusableSignature(ctx, sg, ref, scanned); reused {
			r.Signature = &report.Signature{Signed: true, Verified: true, Identity: identity, Reused: true}
			r.SBOM.Attached = true
			r.Logf("sign: %s already carries a valid signature by %s and attestations for this scan gate; reused, not signed again", ref, identity)
			return nil
		}
	}
	// Sign, then attest and verify the signature at the same time: verifying only reads, and
	// the signature it checks is in the registry before either attestation is written.
	err = sg.signImage(ctx, ref)
	var identity string
	var verifyErr error
	if err == nil {
		var wg sync.WaitGroup
		wg.Go(func() { identity, verifyErr = sg.verifySignature(ctx, ref) })
		err = sg.attestAll(ctx, ref, gate)
		wg.Wait()
	}
	if err != nil {
		if err := r.Gate(ctx, signatureGate, fmt.Errorf("sign %s: %w", ref, err), bg); err != nil {
			return err
		}
		// Break glass: the image goes out unsigned, and the report says so.
		r.Signature = &report.Signature{}
		return nil
	}
	r.Signature = &report.Signature{Signed: true}
	r.SBOM.Attached = true
	r.Logf("sign: signed %s and attached the SBOM and scan attestations", ref)
	err = verifyErr
	if err := r.Gate(ctx, signatureGate, err, bg); err != nil {
		return err
	}
	r.Signature.Verified = err == nil
	r.Signature.Identity = identity
	r.Logf("verify: signature of %s verified (%s)", ref, identity)
	return nil
}

// reusableSignature verifies an existing signature and attestations of ref: when both verify
// and a scan attestation records the same gate decision as this run's, signing again would
// add nothing. Any failure means: sign.
func (s *Session) reusableSignature(ctx context.Context, sg *signer, ref string, scanned *ScanResult) (bool, string) {
	identity, err := sg.verifySignature(ctx, ref)
	if err != nil {
		return false, ""
	}
	gates, err := sg.verifyAttestations(ctx, ref)
	if err != nil {
		return false, ""
	}
	for _, g := range gates {
		if scan.SameGate(g, scanned.Decision) {
			return true, identity
		}
	}
	return false, ""
}

// verifyExisting checks the signature and attestations of an image this run did not sign
// (--image, or a promotion).
func (s *Session) verifyExisting(ctx context.Context, r *report.Recorder, sg *signer, ref string, bg report.BreakGlassRequest) error {
	identity, err := sg.verifySignature(ctx, ref)
	if err == nil {
		_, err = sg.verifyAttestations(ctx, ref)
	}
	if err != nil {
		err = fmt.Errorf("%w: %v", promote.ErrUnsigned, err)
	}
	if err := r.Gate(ctx, signatureGate, err, bg); err != nil {
		return err
	}
	r.Signature = &report.Signature{Signed: identity != "", Verified: identity != "", Identity: identity}
	r.Logf("verify: %s is signed by %s, attestations verified", ref, orDefault(identity, "(unverified, break-glass)"))
	return nil
}

// requireDigest refuses an image reference that is not pinned by digest: signing and
// verifying a tag is deprecated in cosign and can name another image tomorrow.
func requireDigest(field, ref string) error {
	if _, _, err := promote.ParseDigestRef(ref); err != nil {
		return fmt.Errorf("--%s %q: %w", field, ref, err)
	}
	return nil
}
