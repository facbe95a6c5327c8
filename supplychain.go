package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"dagger/fargate/internal/dagger"

	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/cosign"
	"dagger/fargate/pipeline/ecr"
	"dagger/fargate/pipeline/scan"
)

// Paths inside the cosign container.
const (
	cosignKeyPath      = "/cosign/cosign.key"
	cosignPubPath      = "/cosign/cosign.pub"
	cosignTokenPath    = "/cosign/oidc-token"
	cosignDockerDir    = "/cosign/docker"
	cosignSBOMPath     = "/cosign/sbom.cdx.json"
	cosignGatePath     = "/cosign/scan-gate.json"
	signatureGateLabel = "signature"
)

// signingKeys are the key material a function was given; which ones are needed depends on
// the environments file's signing mode.
type signingKeys struct {
	key       *dagger.Secret // cosign private key (PEM), mode key
	password  *dagger.Secret // its password
	publicKey *dagger.File   // cosign public key, mode key (verification)
	oidcToken *dagger.Secret // OIDC identity token, mode keyless
}

// registryAccess is how cosign reaches the registry holding the image.
type registryAccess struct {
	dockerConfig *dagger.Secret  // config.json with the registry's credentials
	service      *dagger.Service // the local registry, bound as "registry"
	insecure     bool            // plain HTTP (the local registry)
}

// cosignRun is a cosign container prepared for one registry and one signing setup.
type cosignRun struct {
	ctr     *dagger.Container
	secrets map[string]*dagger.Secret
	extra   []string
	signer  cosign.Signer
	verify  cosign.Verifier
	reg     cosign.Registry
	tlog    cosign.Transparency
	keyDesc string // what signed, for the report (never key material)
}

// prepareCosign mounts what the signing mode needs and describes signer and verifier.
func (m *Fargate) prepareCosign(ctx context.Context, f *config.File, region string, keys signingKeys, access registryAccess, forceKey bool) (*cosignRun, error) {
	run := &cosignRun{ctr: m.cosignBase(), secrets: map[string]*dagger.Secret{}, tlog: cosign.Transparency{Private: f.Signing.Private || forceKey}}
	if access.dockerConfig != nil {
		run.ctr = run.ctr.WithMountedSecret(cosignDockerDir+"/config.json", access.dockerConfig, dagger.ContainerWithMountedSecretOpts{Owner: "65532:65532"})
		run.reg = cosign.Registry{DockerConfigDir: cosignDockerDir}
	}
	if access.service != nil {
		run.ctr = run.ctr.WithServiceBinding("registry", access.service)
	}
	if access.insecure {
		run.extra = []string{"--allow-insecure-registry", "--allow-http-registry"}
	}
	if m.AwsEndpoint != "" {
		run.ctr = run.ctr.WithEnvVariable("AWS_ENDPOINT_URL", m.AwsEndpoint)
	}
	mode := f.Signing.Mode
	if forceKey {
		mode = config.SignKey
	}
	switch mode {
	case config.SignKey:
		if keys.key == nil && keys.publicKey == nil && f.Signing.PublicKey == "" {
			return nil, fmt.Errorf("signing mode key: pass --cosign-key (and --cosign-password) to sign, or --cosign-public-key to verify")
		}
		if keys.key != nil {
			if keys.password == nil {
				return nil, fmt.Errorf("signing mode key: --cosign-password is required with --cosign-key (cosign keys are encrypted)")
			}
			run.ctr = run.ctr.WithMountedSecret(cosignKeyPath, keys.key, dagger.ContainerWithMountedSecretOpts{Owner: "65532:65532"})
			run.secrets[cosign.EnvPassword] = keys.password
			run.signer = cosign.Signer{Key: cosignKeyPath}
		}
		pub := keys.publicKey
		if pub == nil && f.Signing.PublicKey != "" {
			pub = m.Source.File(sourcePath(m.Config, f.Signing.PublicKey))
		}
		if pub == nil {
			// Derive the public key from the private one.
			derived, err := run.ctr.WithSecretVariable(cosign.EnvPassword, keys.password).
				WithExec([]string{"public-key", "--key", cosignKeyPath, "--outfile", "/work/cosign.pub"}, dagger.ContainerWithExecOpts{UseEntrypoint: true}).
				File("/work/cosign.pub").Sync(ctx)
			if err != nil {
				return nil, fmt.Errorf("derive the cosign public key: %w", err)
			}
			pub = derived
		}
		run.ctr = run.ctr.WithMountedFile(cosignPubPath, pub)
		run.verify = cosign.Verifier{Key: cosignPubPath}
		run.keyDesc = "cosign key pair"
	case config.SignKMS:
		run.signer = cosign.Signer{Key: f.Signing.KMSKey, AWSRegion: region, AWSSessionToken: m.AwsSessionToken != nil}
		run.verify = cosign.Verifier{Key: f.Signing.KMSKey, AWSRegion: region, AWSSessionToken: m.AwsSessionToken != nil}
		run.secrets[cosign.EnvAWSAccessKeyID] = m.AwsAccessKeyID
		run.secrets[cosign.EnvAWSSecretKey] = m.AwsSecretAccessKey
		run.secrets[cosign.EnvAWSSessionToken] = m.AwsSessionToken
		run.keyDesc = f.Signing.KMSKey
	case config.SignKeyless:
		if keys.oidcToken != nil {
			run.ctr = run.ctr.WithMountedSecret(cosignTokenPath, keys.oidcToken, dagger.ContainerWithMountedSecretOpts{Owner: "65532:65532"})
			run.signer = cosign.Signer{IdentityTokenFile: cosignTokenPath}
		}
		run.verify = cosign.Verifier{CertificateIdentity: f.Signing.CertificateIdentity, CertificateOIDCIssuer: f.Signing.CertificateOIDCIssuer}
		run.keyDesc = f.Signing.CertificateIdentity
	}
	return run, nil
}

// sign signs ref by digest and attaches the SBOM and the scan gate decision as attestations.
func (r *cosignRun) sign(ctx context.Context, ref string, sbom *dagger.File, gate []byte) error {
	if r.signer.Key == "" && r.signer.IdentityTokenFile == "" {
		return fmt.Errorf("sign %s: no signing key: pass --cosign-key and --cosign-password (mode key) or --oidc-token (mode keyless)", ref)
	}
	cmd, err := cosign.Sign(cosign.SignOptions{Ref: ref, Signer: r.signer, Registry: r.reg, Tlog: r.tlog})
	if err != nil {
		return err
	}
	if _, err := runCosign(ctx, r.ctr, cmd, r.secrets, r.extra...); err != nil {
		return err
	}
	ctr := r.ctr
	if sbom != nil {
		ctr = ctr.WithMountedFile(cosignSBOMPath, sbom)
		cmd, err := cosign.Attest(cosign.AttestOptions{Ref: ref, Signer: r.signer, PredicatePath: cosignSBOMPath, Type: "cyclonedx", Registry: r.reg, Tlog: r.tlog})
		if err != nil {
			return err
		}
		if _, err := runCosign(ctx, ctr, cmd, r.secrets, r.extra...); err != nil {
			return fmt.Errorf("attest the SBOM: %w", err)
		}
	}
	if gate != nil {
		ctr = ctr.WithNewFile(cosignGatePath, string(gate))
		cmd, err := cosign.Attest(cosign.AttestOptions{Ref: ref, Signer: r.signer, PredicatePath: cosignGatePath, Type: scan.GatePredicateType, Registry: r.reg, Tlog: r.tlog})
		if err != nil {
			return err
		}
		if _, err := runCosign(ctx, ctr, cmd, r.secrets, r.extra...); err != nil {
			return fmt.Errorf("attest the scan result: %w", err)
		}
	}
	return nil
}

// verifySignature verifies ref's signature against the configured identity and returns who
// signed it, as the report shows it.
func (r *cosignRun) verifySignature(ctx context.Context, ref string) (string, error) {
	cmd, err := cosign.Verify(cosign.VerifyOptions{Ref: ref, Verifier: r.verify, Registry: r.reg, Tlog: r.tlog})
	if err != nil {
		return "", err
	}
	out, err := runCosign(ctx, r.ctr, cmd, r.secrets, r.extra...)
	if err != nil {
		return "", err
	}
	sigs, err := cosign.ParseVerifyOutput([]byte(out))
	if err != nil {
		return "", fmt.Errorf("verify %s: %w", ref, err)
	}
	digest := ref[strings.LastIndex(ref, "@")+1:]
	if err := cosign.CheckSignedDigest(sigs, digest); err != nil {
		return "", fmt.Errorf("verify %s: %w", ref, err)
	}
	if sigs[0].Subject != "" {
		return sigs[0].Subject, nil
	}
	return r.keyDesc, nil
}

// verifyAttestations checks that the SBOM and scan gate attestations verify.
func (r *cosignRun) verifyAttestations(ctx context.Context, ref string) error {
	for _, typ := range []string{"cyclonedx", scan.GatePredicateType} {
		cmd, err := cosign.VerifyAttestation(cosign.VerifyAttestationOptions{Ref: ref, Type: typ, Verifier: r.verify, Registry: r.reg, Tlog: r.tlog})
		if err != nil {
			return err
		}
		out, err := runCosign(ctx, r.ctr, cmd, r.secrets, r.extra...)
		if err != nil {
			return fmt.Errorf("verify the %s attestation of %s: %w", typ, ref, err)
		}
		if _, err := cosign.ParseAttestationOutput([]byte(out)); err != nil {
			return fmt.Errorf("verify the %s attestation of %s: %w", typ, ref, err)
		}
	}
	return nil
}

// ecrLogin is one ECR login: the registry host and user, the password as a Dagger secret
// (for the engine's pushes), and cosign's access to the registry.
type ecrLogin struct {
	creds    ecr.Credentials
	password *dagger.Secret
	access   registryAccess
}

// loginECR logs in to ECR (GetAuthorizationToken) once for everything that follows.
func (m *Fargate) loginECR(ctx context.Context, cfg aws.Config) (*ecrLogin, error) {
	creds, err := ecr.New(cfg).Login(ctx)
	if err != nil {
		return nil, err
	}
	dockerConfig := newSecret("fargate-ecr-docker-config", string(cosign.DockerConfigJSON(creds.Registry, creds.Username, creds.Password.Reveal())))
	return &ecrLogin{
		creds:    creds,
		password: newSecret("fargate-ecr-password", creds.Password.Reveal()),
		access:   registryAccess{dockerConfig: dockerConfig, insecure: strings.HasPrefix(m.AwsEndpoint, "http://")},
	}, nil
}

// cosignForECR logs in to an environment's ECR and prepares cosign for it.
func (m *Fargate) cosignForECR(ctx context.Context, f *config.File, region string, cfg aws.Config, keys signingKeys) (*cosignRun, error) {
	login, err := m.loginECR(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return m.prepareCosign(ctx, f, region, keys, login.access, false)
}

// publishECR makes sure the repository exists as policy wants it, then pushes the image (all
// its platforms) with the revision as tag and returns the digest reference. A revision
// already published is not pushed again: its digest is reused, never overwritten.
func (m *Fargate) publishECR(ctx context.Context, f *config.File, e config.Environment, cfg aws.Config, login *ecrLogin, variants []*dagger.Container, log func(string, ...any)) (string, error) {
	client := ecr.New(cfg)
	repo, err := client.EnsureRepository(ctx, ecr.RepositoryOptions{
		Name:       f.Registry.Repository,
		KMSKey:     f.Registry.KMSKey,
		KeepImages: f.Registry.KeepImages,
		Tags:       e.Tags,
	})
	if err != nil {
		return "", err
	}
	for _, c := range repo.Changes {
		log("ecr: %s", c)
	}
	for _, fd := range repo.Findings {
		log("ecr: %s: %s", fd.Control, fd.Message)
	}
	creds := login.creds
	repoRef := creds.Registry + "/" + f.Registry.Repository
	tag := ecr.ImageTag(m.GitRevision, time.Now())
	if digest, found, err := client.TagDigest(ctx, f.Registry.Repository, tag); err != nil {
		return "", err
	} else if found {
		log("ecr: %s:%s already exists as %s; reusing it (tags are immutable; a second build of one revision is not pushed)", repoRef, tag, digest)
		return repoRef + "@" + digest, nil
	}
	published, err := publish(ctx, variants, repoRef+":"+tag, func(c *dagger.Container) *dagger.Container {
		return c.WithRegistryAuth(creds.Registry, creds.Username, login.password)
	}, nil)
	if err != nil {
		return "", fmt.Errorf("push %s:%s: %w", repoRef, tag, err)
	}
	digest := published[strings.LastIndex(published, "@")+1:]
	if err := client.CheckTag(ctx, f.Registry.Repository, tag, digest); err != nil {
		return "", err
	}
	log("ecr: pushed %s:%s as %s", repoRef, tag, digest)
	return repoRef + "@" + digest, nil
}

// publish pushes one image, or a multi-platform index, and returns repo@sha256:... .
func publish(ctx context.Context, variants []*dagger.Container, address string, auth func(*dagger.Container) *dagger.Container, registry *dagger.Service) (string, error) {
	opts := dagger.ContainerPublishOpts{RegistryService: registry}
	base := variants[0]
	if len(variants) > 1 {
		base = dag.Container()
		opts.PlatformVariants = variants
	}
	out, err := auth(base).Publish(ctx, address, opts)
	if err != nil {
		return "", err
	}
	at := strings.LastIndex(out, "@")
	if at < 0 {
		return "", fmt.Errorf("push %s: the registry returned no digest (%q)", address, out)
	}
	repo := address
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return repo + out[at:], nil
}
