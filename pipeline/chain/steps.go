package chain

import (
	"context"
	"path"

	"dagger/fargate/pipeline/cosign"
	"dagger/fargate/pipeline/ecr"
)

// Steps is the container work of a run. The module implements it with Dagger; tests
// implement it with fakes. An implementation holds the images it built between calls, so
// the order is the chain's: Build first, then Scan and SBOM, then Push.
type Steps interface {
	// Build builds the image for every platform, in order, and returns the user each
	// variant runs as (the chain refuses root). The build runs here: a build that fails
	// fails Build (the report says FAILED TO BUILD), not a later step that uses the image.
	Build(ctx context.Context, spec BuildSpec) ([]Built, error)
	// Trivy runs one Trivy command and returns the file it wrote.
	Trivy(ctx context.Context, run TrivyRun) ([]byte, error)
	// StartLocalRegistry starts the registry of --env local; stop ends it without waiting.
	StartLocalRegistry(ctx context.Context) (stop func(), err error)
	// Push pushes every variant (one image, or an index of several) to target and returns
	// the digest (sha256:...) the registry reports.
	Push(ctx context.Context, target PushTarget) (string, error)
	// Cosign prepares cosign for one registry and one signing setup.
	Cosign(ctx context.Context, setup SigningSetup) (Cosign, error)
	// StartApp starts the pushed image with the local run spec and returns the running app.
	StartApp(ctx context.Context, app AppSpec) (App, error)
}

// BuildSpec is what Build builds.
type BuildSpec struct {
	// Platforms to build, e.g. linux/amd64.
	Platforms []string
	// BuildArgs and Labels, in order.
	BuildArgs [][2]string
	Labels    [][2]string
	// Context and Dockerfile are paths in the source directory.
	Context    string
	Dockerfile string
}

// Built is one built variant.
type Built struct {
	Platform string
	// User is the image's configured user (empty means root).
	User string
}

// TrivyRun is one Trivy command and what its container needs.
type TrivyRun struct {
	// Args is the argv, starting with "trivy".
	Args []string
	// Output is the file Trivy writes; its directory must exist (Trivy fails otherwise).
	Output string
	// ImageInput mounts the first built variant's tarball at this path ("" for none).
	ImageInput string
	// SourceDir mounts this directory of the source at SourceMount ("" for none).
	SourceDir, SourceMount string
	// Inputs are files written into the container before Trivy runs (a report to convert).
	Inputs []TrivyInput
	// Cache is the name of the cache volume at Trivy's cache directory; two runs with the
	// same cache do not run at once.
	Cache string
	// Env are plain variables (FARGATE_SCAN_DAY makes a cached scan at most a day old).
	Env [][2]string
	// SBOM keeps Output as the run's SBOM, for the SBOM attestation.
	SBOM bool
}

// TrivyInput is a file of a Trivy run: its path in the container and its content.
type TrivyInput struct {
	Path string
	Data []byte
}

// Dirs are the directories the container must have before Trivy runs.
func (t TrivyRun) Dirs() []string { return []string{path.Dir(t.Output)} }

// PushTarget is where Push pushes.
type PushTarget struct {
	// Address is repository:tag, as the engine names it.
	Address string
	// Local is the registry started by StartLocalRegistry.
	Local bool
	// ECR holds the registry login for an ECR push (nil for the local registry).
	ECR *ecr.Credentials
}

// Cosign runs cosign commands built by pipeline/cosign, prepared by Steps.Cosign.
type Cosign interface {
	// Run runs cmd with files written at their paths and returns its standard output.
	// The variables named in cmd.SecretEnv are set from secrets, never from values.
	Run(ctx context.Context, cmd cosign.Command, files ...CosignFile) ([]byte, error)
}

// CosignFile is a file cosign reads: the SBOM the run produced, or bytes.
type CosignFile struct {
	Path string
	// SBOM mounts the SBOM produced by Steps.SBOM.
	SBOM bool
	Data []byte
}

// PublicKeySource is where the cosign public key of mode key comes from.
type PublicKeySource int

// Public key sources.
const (
	NoPublicKey PublicKeySource = iota
	// PublicKeyGiven is --cosign-public-key.
	PublicKeyGiven
	// PublicKeyFile is the environments file's signing.publicKey, a path in the source.
	PublicKeyFile
	// PublicKeyDerived is derived from --cosign-key with `cosign public-key`.
	PublicKeyDerived
)

// SigningSetup is what the cosign container needs, decided by the chain.
type SigningSetup struct {
	// Registry: the local registry (bound as LocalCosignHost, plain HTTP), or an ECR login
	// given to cosign as a Docker config.json at DockerConfigDir.
	LocalRegistry bool
	ECR           *ecr.Credentials
	// PrivateKey mounts the private key at KeyPath (the key given, or the local one).
	PrivateKey bool
	// LocalKey uses the engine's local signing key pair (created once and kept) instead of
	// the key given: --env local.
	LocalKey bool
	// PublicKey says where the public key mounted at PublicKeyPath comes from.
	PublicKey     PublicKeySource
	PublicKeyFile string
	// IdentityToken mounts the OIDC token at TokenPath (keyless).
	IdentityToken bool
	// AWSEndpoint is set as AWS_ENDPOINT_URL (KMS through an endpoint override).
	AWSEndpoint string
	// AWSEnv are the AWS credentials cosign signs and verifies with through KMS, by
	// variable name (AWS_ACCESS_KEY_ID, ...): the function's, or the role's it assumed.
	AWSEnv map[string]ecr.Secret
}

// Paths inside the cosign container.
const (
	KeyPath         = "/cosign/cosign.key"
	PublicKeyPath   = "/cosign/cosign.pub"
	TokenPath       = "/cosign/oidc-token"
	DockerConfigDir = "/cosign/docker"
	SBOMPath        = "/cosign/sbom.cdx.json"
	GatePath        = "/cosign/scan-gate.json"
)

// The local registry is one service under two names: the engine pushes and pulls through
// localhost:5000 (it speaks plain HTTP only to localhost registries unless its own
// configuration says otherwise), and cosign, in a container, reaches it as registry:5000.
const (
	LocalRegistryHost = "localhost:5000"
	LocalCosignHost   = "registry:5000"
)

// AppSpec is the app --env local runs: the pushed image with the task definition's settings.
type AppSpec struct {
	Image    string
	Platform string
	Spec     LocalSpec
}

// App is a running local app.
type App interface {
	// Endpoint is the app's address, scheme://host:port.
	Endpoint() string
	// Probe makes one HTTP GET of url and fails unless it answers 2xx.
	Probe(ctx context.Context, url string) error
	// Stop ends the app without waiting for a graceful shutdown.
	Stop()
}
