package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"dagger/fargate/internal/dagger"

	"dagger/fargate/pipeline/buildspec"
	"dagger/fargate/pipeline/chain"
	"dagger/fargate/pipeline/cosign"
	"dagger/fargate/pipeline/scan"
)

// keys are the signing material and source-account credentials a function was given.
type keys struct {
	key, password, oidcToken *dagger.Secret
	publicKey                *dagger.File

	sourceRoleArn string
}

// session wires one function call (see wire).
func (m *Fargate) session(ctx context.Context, k keys) *chain.Session {
	s, _ := m.wire(ctx, k)
	return s
}

// wire wires one function call: the source directory, the credentials (read from their
// secrets, never logged), the settings, and the Dagger steps. An input it cannot read is
// the session's Invalid, with which every function fails.
func (m *Fargate) wire(ctx context.Context, k keys) (*chain.Session, *steps) {
	creds := chain.Credentials{RoleARN: m.AwsRoleArn, ExternalID: m.AwsExternalId, RoleSessionName: m.AwsRoleSessionName}
	secretsErr := m.readSecrets(ctx, &creds)
	commitTime, timeErr := buildspec.ParseCreated(m.GitCommitTime)
	st := &steps{m: m, k: k}
	s := &chain.Session{
		Invalid:    errors.Join(secretsErr, chain.FieldError("--git-commit-time", timeErr)),
		ConfigPath: m.Config, Environment: m.Environment,
		ReadFile: func(ctx context.Context, path string) ([]byte, error) {
			data, err := m.Source.File(path).Contents(ctx)
			return []byte(data), err
		},
		Steps: st, Log: os.Stderr,
		Credentials: creds, SourceRoleARN: k.sourceRoleArn, Endpoint: m.AwsEndpoint, Region: m.AwsRegion,
		GitRevision: m.GitRevision, CommitTime: commitTime, SourceURL: m.SourceUrl,
		BuilderImage: m.BuilderImage, RuntimeImage: m.RuntimeImage,
		Keys:  chain.Keys{PrivateKey: k.key != nil, Password: k.password != nil, PublicKey: k.publicKey != nil, OIDCToken: k.oidcToken != nil},
		Trivy: scan.TrivyOptions{SkipDBUpdate: m.TrivySkipDbUpdate, DBRepositories: chain.SplitList(m.TrivyDbRepository)},
	}
	return s, st
}

// readSecrets reads the AWS secrets the module was given into c.
func (m *Fargate) readSecrets(ctx context.Context, c *chain.Credentials) error {
	read := func(flag string, secret *dagger.Secret, to *string) (err error) {
		if secret != nil {
			if *to, err = secret.Plaintext(ctx); err != nil {
				return fmt.Errorf("read --%s: %w", flag, err)
			}
		}
		return nil
	}
	return errors.Join(read("aws-access-key-id", m.AwsAccessKeyId, &c.AccessKeyID), read("aws-secret-access-key", m.AwsSecretAccessKey, &c.SecretAccessKey),
		read("aws-session-token", m.AwsSessionToken, &c.SessionToken), read("aws-web-identity-token", m.AwsWebIdentityToken, &c.WebIdentityToken))
}

// steps is the Dagger implementation of chain.Steps: it keeps the images it built, the SBOM
// and the local registry between calls.
type steps struct {
	m        *Fargate
	k        keys
	mu       sync.Mutex
	variants []*dagger.Container
	sbom     *dagger.File
	registry *dagger.Service
}

func (s *steps) Build(ctx context.Context, spec chain.BuildSpec) ([]chain.Built, error) {
	args := make([]dagger.BuildArg, 0, len(spec.BuildArgs))
	for _, a := range spec.BuildArgs {
		args = append(args, dagger.BuildArg{Name: a[0], Value: a[1]})
	}
	variants := make([]*dagger.Container, len(spec.Platforms))
	built := make([]chain.Built, len(spec.Platforms))
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range spec.Platforms {
		g.Go(func() error {
			img := s.m.Source.Directory(spec.Context).DockerBuild(dagger.DirectoryDockerBuildOpts{
				Dockerfile: spec.Dockerfile, Platform: dagger.Platform(p), BuildArgs: args,
			})
			for _, l := range spec.Labels {
				img = img.WithLabel(l[0], l[1])
			}
			if _, err := img.Sync(gctx); err != nil { // a failing build fails here, not in the scan
				return fmt.Errorf("for %s: %w", p, err)
			}
			user, err := img.User(gctx)
			if err != nil {
				return fmt.Errorf("for %s: %w", p, err)
			}
			variants[i], built[i] = img, chain.Built{Platform: p, User: user}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	s.variants = variants
	return built, nil
}

func (s *steps) Trivy(ctx context.Context, run chain.TrivyRun) ([]byte, error) {
	ctr := dag.Container().From(s.m.TrivyImage).
		WithMountedCache(scan.DefaultCacheDir, dag.CacheVolume(run.Cache), dagger.ContainerWithMountedCacheOpts{Sharing: dagger.CacheSharingModeLocked})
	for _, d := range run.Dirs() {
		ctr = ctr.WithDirectory(d, dag.Directory())
	}
	if run.ImageInput != "" {
		ctr = ctr.WithMountedFile(run.ImageInput, s.variants[0].AsTarball())
	}
	if run.SourceDir != "" {
		ctr = ctr.WithMountedDirectory(run.SourceMount, s.m.Source.Directory(run.SourceDir))
	}
	for _, in := range run.Inputs {
		ctr = ctr.WithNewFile(in.Path, string(in.Data))
	}
	for _, e := range run.Env {
		ctr = ctr.WithEnvVariable(e[0], e[1])
	}
	out := ctr.WithExec(run.Args).File(run.Output)
	if run.SBOM {
		file, err := out.Sync(ctx)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.sbom = file
		s.mu.Unlock()
		return nil, nil
	}
	data, err := out.Contents(ctx)
	return []byte(data), err
}

func (s *steps) StartLocalRegistry(ctx context.Context) (func(), error) {
	// The storage is a cache volume, so every binding of the service sees the same images.
	svc, err := dag.Container().From(s.m.RegistryImage).
		WithMountedCache("/var/lib/registry", dag.CacheVolume("fargate-local-registry")).
		WithExposedPort(5000).
		AsService(dagger.ContainerAsServiceOpts{UseEntrypoint: true}).
		Start(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.m.RegistryImage, err)
	}
	s.registry = svc
	return func() { stopNow(ctx, svc) }, nil
}

// stopNow stops a service without waiting for a graceful shutdown.
func stopNow(ctx context.Context, svc *dagger.Service) {
	_, _ = svc.Stop(context.WithoutCancel(ctx), dagger.ServiceStopOpts{Kill: true})
}

func (s *steps) Push(ctx context.Context, t chain.PushTarget) (string, error) {
	opts := dagger.ContainerPublishOpts{}
	base := s.variants[0]
	if len(s.variants) > 1 {
		base = dag.Container()
		opts.PlatformVariants = s.variants
	}
	if t.Local {
		opts.RegistryService = s.registry
	}
	if t.ECR != nil {
		base = base.WithRegistryAuth(t.ECR.Registry, t.ECR.Username, newSecret("fargate-ecr-password", t.ECR.Password.Reveal()))
	}
	out, err := base.Publish(ctx, t.Address, opts)
	if err != nil {
		return "", err
	}
	at := strings.LastIndex(out, "@")
	if at < 0 {
		return "", fmt.Errorf("the registry returned no digest (%q)", out)
	}
	return out[at+1:], nil
}

func (s *steps) Cosign(ctx context.Context, setup chain.SigningSetup) (chain.Cosign, error) {
	owner := dagger.ContainerWithMountedSecretOpts{Owner: "65532:65532"}
	c := &cosignRun{ctr: s.cosignBase(), secrets: map[string]*dagger.Secret{}}
	for name, v := range setup.AWSEnv {
		c.secrets[name] = newSecret("fargate-"+strings.ToLower(name), v.Reveal())
	}
	if setup.ECR != nil {
		config := newSecret("fargate-ecr-docker-config", string(cosign.DockerConfigJSON(setup.ECR.Registry, setup.ECR.Username, setup.ECR.Password.Reveal())))
		c.ctr = c.ctr.WithMountedSecret(chain.DockerConfigDir+"/config.json", config, owner)
	}
	if setup.LocalRegistry {
		c.ctr = c.ctr.WithServiceBinding(strings.Split(chain.LocalCosignHost, ":")[0], s.registry)
	}
	if setup.AWSEndpoint != "" {
		c.ctr = c.ctr.WithEnvVariable("AWS_ENDPOINT_URL", setup.AWSEndpoint)
	}
	key, password := s.k.key, s.k.password
	if setup.LocalKey {
		var err error
		if key, password, err = s.localKeyPair(ctx); err != nil {
			return nil, err
		}
	}
	if setup.PrivateKey {
		c.ctr = c.ctr.WithMountedSecret(chain.KeyPath, key, owner)
		c.secrets[cosign.EnvPassword] = password
	}
	switch setup.PublicKey {
	case chain.PublicKeyGiven:
		c.ctr = c.ctr.WithMountedFile(chain.PublicKeyPath, s.k.publicKey)
	case chain.PublicKeyFile:
		c.ctr = c.ctr.WithMountedFile(chain.PublicKeyPath, s.m.Source.File(setup.PublicKeyFile))
	case chain.PublicKeyDerived:
		derived, err := c.ctr.WithSecretVariable(cosign.EnvPassword, password).
			WithExec([]string{"public-key", "--key", chain.KeyPath, "--outfile", "/work/cosign.pub"}, dagger.ContainerWithExecOpts{UseEntrypoint: true}).
			File("/work/cosign.pub").Sync(ctx)
		if err != nil {
			return nil, fmt.Errorf("derive the cosign public key: %w", err)
		}
		c.ctr = c.ctr.WithMountedFile(chain.PublicKeyPath, derived)
	}
	if setup.IdentityToken {
		c.ctr = c.ctr.WithMountedSecret(chain.TokenPath, s.k.oidcToken, owner)
	}
	c.sbom = s.sbom
	return c, nil
}

// cosignBase is the cosign container with a writable working directory.
func (s *steps) cosignBase() *dagger.Container {
	return dag.Container().From(s.m.CosignImage).
		WithMountedDirectory("/work", dag.Directory(), dagger.ContainerWithMountedDirectoryOpts{Owner: "65532:65532"}).
		WithWorkdir("/work")
}

// localKeyPair is the engine's local signing key pair for --env local: generated once with a
// fixed throwaway password and then taken from the engine's cache, so that an image already
// signed by it is recognised and not signed again. It signs nothing outside this engine.
func (s *steps) localKeyPair(ctx context.Context) (*dagger.Secret, *dagger.Secret, error) {
	password := dag.SetSecret("fargate-local-cosign-password", "fargate-local-signing-key")
	keys := s.cosignBase().
		WithSecretVariable(cosign.EnvPassword, password).
		WithExec([]string{"generate-key-pair"}, dagger.ContainerWithExecOpts{UseEntrypoint: true}).
		Directory("/work")
	private, err := keys.File("cosign.key").Contents(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("generate the local cosign key pair: %w", err)
	}
	return dag.SetSecret("fargate-local-cosign-key", private), password, nil
}

// cosignRun runs cosign commands in a prepared container.
type cosignRun struct {
	ctr     *dagger.Container
	secrets map[string]*dagger.Secret
	sbom    *dagger.File
}

func (c *cosignRun) Run(ctx context.Context, cmd cosign.Command, files ...chain.CosignFile) ([]byte, error) {
	ctr := c.ctr
	for _, f := range files {
		switch {
		case f.SBOM && c.sbom != nil:
			ctr = ctr.WithMountedFile(f.Path, c.sbom)
		case f.SBOM:
			return nil, fmt.Errorf("%s: no SBOM was produced in this run", f.Path)
		default:
			ctr = ctr.WithNewFile(f.Path, string(f.Data))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(cmd.Env)) {
		ctr = ctr.WithEnvVariable(k, cmd.Env[k])
	}
	for _, name := range cmd.SecretEnv {
		secret := c.secrets[name]
		if secret == nil {
			return nil, fmt.Errorf("the secret %s is required (pass it as a Dagger secret)", name)
		}
		ctr = ctr.WithSecretVariable(name, secret)
	}
	// The image's entrypoint is cosign itself.
	out, err := ctr.WithExec(cmd.Args[1:], dagger.ContainerWithExecOpts{UseEntrypoint: true}).Stdout(ctx)
	return []byte(out), err
}

func (s *steps) StartApp(ctx context.Context, app chain.AppSpec) (chain.App, error) {
	pulled := dag.Container(dagger.ContainerOpts{Platform: dagger.Platform(app.Platform)}).From(app.Image, dagger.ContainerFromOpts{RegistryService: s.registry})
	svc, err := applyLocalSpec(pulled, app.Spec).Start(ctx)
	if err != nil {
		return nil, err
	}
	endpoint, err := svc.Endpoint(ctx, dagger.ServiceEndpointOpts{Port: app.Spec.Port, Scheme: "http"})
	if err != nil {
		stopNow(ctx, svc)
		return nil, fmt.Errorf("app endpoint: %w", err)
	}
	return &runningApp{svc: svc, endpoint: endpoint, ctx: ctx}, nil
}

// applyLocalSpec sets the task definition's settings on the image and makes it a service.
func applyLocalSpec(img *dagger.Container, spec chain.LocalSpec) *dagger.Service {
	ctr := img
	if spec.User != "" {
		ctr = ctr.WithUser(spec.User)
	}
	if spec.Workdir != "" {
		ctr = ctr.WithWorkdir(spec.Workdir)
	}
	for _, kv := range spec.Env {
		ctr = ctr.WithEnvVariable(kv.Name, kv.Value)
	}
	for _, sec := range spec.Secrets {
		ctr = ctr.WithSecretVariable(sec.Name, newSecret("fargate-local-"+sec.Name, randomHex(16)))
	}
	for _, p := range spec.TmpfsPaths {
		ctr = ctr.WithMountedTemp(p)
	}
	ctr = ctr.WithExposedPort(spec.Port)
	if len(spec.Entrypoint) > 0 {
		ctr = ctr.WithEntrypoint(spec.Entrypoint)
	}
	return ctr.AsService(dagger.ContainerAsServiceOpts{Args: spec.Command, UseEntrypoint: true})
}

// runningApp is the local app, probed over HTTP through the engine.
type runningApp struct {
	svc      *dagger.Service
	endpoint string
	ctx      context.Context
}

func (a *runningApp) Endpoint() string { return a.endpoint }

func (a *runningApp) Probe(ctx context.Context, url string) error {
	_, err := dag.HTTP(url, dagger.HTTPOpts{ExperimentalServiceHost: a.svc}).Contents(ctx)
	return err
}

func (a *runningApp) Stop() { stopNow(a.ctx, a.svc) }

// newSecret hands a value to the engine as a secret, under a name no other value of the
// session shares (ECR tokens change between calls; a name reused with another value is
// ambiguous).
func newSecret(name, value string) *dagger.Secret {
	return dag.SetSecret(name+"-"+randomHex(6), value)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
