package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"dagger/fargate/internal/dagger"

	"dagger/fargate/pipeline/cosign"
	"dagger/fargate/pipeline/taskdef"
)

// The local registry is one service under two names. The engine pushes and pulls through
// localhost:5000 (bound with RegistryService): the engine speaks plain HTTP only to localhost
// registries unless its own configuration says otherwise. cosign, in a container, reaches the
// same service as registry:5000 (a service binding; "localhost" there is the container itself)
// with --allow-http-registry.
const (
	localRegistryHost  = "localhost:5000"
	cosignRegistryHost = "registry:5000"
)

// cosignLocalRef is the local image reference as cosign's container names it.
func cosignLocalRef(ref string) string {
	return strings.Replace(ref, localRegistryHost+"/", cosignRegistryHost+"/", 1)
}

// cosignBase is the cosign container with a writable working directory.
func (m *Fargate) cosignBase() *dagger.Container {
	return dag.Container().From(m.CosignImage).
		WithMountedDirectory("/work", dag.Directory(), dagger.ContainerWithMountedDirectoryOpts{Owner: "65532:65532"}).
		WithWorkdir("/work")
}

// runCosign runs one cosign command built by pipeline/cosign in ctr. secrets must hold every
// variable the command names in SecretEnv; they reach cosign as secret variables only.
func runCosign(ctx context.Context, ctr *dagger.Container, cmd cosign.Command, secrets map[string]*dagger.Secret, extraArgs ...string) (string, error) {
	for _, k := range sortedKeys(cmd.Env) {
		ctr = ctr.WithEnvVariable(k, cmd.Env[k])
	}
	for _, name := range cmd.SecretEnv {
		s, ok := secrets[name]
		if !ok || s == nil {
			return "", fmt.Errorf("%s: the secret %s is required (pass it as a Dagger secret)", strings.Join(cmd.Args[:2], " "), name)
		}
		ctr = ctr.WithSecretVariable(name, s)
	}
	args := cmd.Args[1:] // the image's entrypoint is cosign itself
	if len(extraArgs) > 0 {
		// Flags go before the final positional image reference.
		args = append(append(append([]string{}, args[:len(args)-1]...), extraArgs...), args[len(args)-1])
	}
	out, err := ctr.WithExec(args, dagger.ContainerWithExecOpts{UseEntrypoint: true}).Stdout(ctx)
	if err != nil {
		return "", fmt.Errorf("%s: %w", strings.Join(cmd.Args[:2], " "), err)
	}
	return out, nil
}

// ephemeralKeyPair generates a throwaway cosign key pair for local runs.
func (m *Fargate) ephemeralKeyPair(ctx context.Context) (*dagger.Directory, *dagger.Secret, error) {
	password := newSecret("fargate-local-cosign-password", randomHex(24))
	keys := m.cosignBase().
		WithSecretVariable(cosign.EnvPassword, password).
		WithEnvVariable("FARGATE_KEY_NONCE", randomHex(8)). // never reuse a cached key pair
		WithExec([]string{"generate-key-pair"}, dagger.ContainerWithExecOpts{UseEntrypoint: true}).
		Directory("/work")
	if _, err := keys.Sync(ctx); err != nil {
		return nil, nil, fmt.Errorf("generate an ephemeral cosign key pair: %w", err)
	}
	return keys, password, nil
}

// localRegistry is an OCI registry running as a Dagger service.
func (m *Fargate) localRegistry() *dagger.Service {
	// The storage is a cache volume, so every binding of the service sees the same images.
	return dag.Container().From(m.RegistryImage).
		WithMountedCache("/var/lib/registry", dag.CacheVolume("fargate-local-registry")).
		WithExposedPort(5000).
		AsService(dagger.ContainerAsServiceOpts{UseEntrypoint: true})
}

// localApp starts the image as a service with the settings of the task definition's
// container (user, environment, port, entry point and command). Secrets, which come from
// Secrets Manager or SSM on ECS, get random throwaway values.
func localApp(img *dagger.Container, def *taskdef.Definition, container string, defaultPort int) (*dagger.Service, int, []string, error) {
	td, err := def.TaskDefinition()
	if err != nil {
		return nil, 0, nil, err
	}
	var cd *types.ContainerDefinition
	for i := range td.ContainerDefinitions {
		if deref(td.ContainerDefinitions[i].Name) == container {
			cd = &td.ContainerDefinitions[i]
		}
	}
	if cd == nil {
		return nil, 0, nil, fmt.Errorf("run locally: container %q is not in %s (it has %s)", container, def.Source(), strings.Join(def.ContainerNames(), ", "))
	}
	var notes []string
	ctr := img
	if cd.User != nil {
		ctr = ctr.WithUser(*cd.User)
	}
	for _, kv := range cd.Environment {
		ctr = ctr.WithEnvVariable(deref(kv.Name), deref(kv.Value))
	}
	for _, s := range cd.Secrets {
		name := deref(s.Name)
		ctr = ctr.WithSecretVariable(name, newSecret("fargate-local-"+name, randomHex(16)))
		notes = append(notes, fmt.Sprintf("secret %s (from %s on ECS) set to a random local value", name, deref(s.ValueFrom)))
	}
	for _, mp := range cd.MountPoints {
		if mp.ReadOnly == nil || !*mp.ReadOnly {
			ctr = ctr.WithMountedTemp(deref(mp.ContainerPath))
		}
	}
	port := defaultPort
	if len(cd.PortMappings) > 0 && cd.PortMappings[0].ContainerPort != nil {
		port = int(*cd.PortMappings[0].ContainerPort)
	}
	ctr = ctr.WithExposedPort(port)
	if len(cd.EntryPoint) > 0 {
		ctr = ctr.WithEntrypoint(cd.EntryPoint)
	}
	if cd.ReadonlyRootFilesystem != nil && *cd.ReadonlyRootFilesystem {
		notes = append(notes, "readonlyRootFilesystem is enforced by ECS, not by the local run; only the task definition's writable mounts are tmpfs here")
	}
	svc := ctr.AsService(dagger.ContainerAsServiceOpts{Args: cd.Command, UseEntrypoint: true})
	return svc, port, notes, nil
}

// probeHealth polls the service's health path over HTTP until it answers 2xx or the
// timeout passes.
func probeHealth(ctx context.Context, svc *dagger.Service, port int, path string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := svc.Start(ctx); err != nil {
		return 0, fmt.Errorf("start the app: %w", err)
	}
	endpoint, err := svc.Endpoint(ctx, dagger.ServiceEndpointOpts{Port: port, Scheme: "http"})
	if err != nil {
		return 0, fmt.Errorf("app endpoint: %w", err)
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		url := fmt.Sprintf("%s%s?fargate-probe=%d-%s", endpoint, path, attempt, randomHex(4))
		if _, lastErr = dag.HTTP(url, dagger.HTTPOpts{ExperimentalServiceHost: svc}).Contents(ctx); lastErr == nil {
			return attempt, nil
		}
		select {
		case <-ctx.Done():
			return attempt, fmt.Errorf("health check %s did not pass within %s: %v", path, timeout, lastErr)
		case <-time.After(time.Second):
		}
	}
}

// newSecret hands a value to the engine as a secret, under a name no other value of the
// session shares (ECR tokens change between calls; a name reused with another value is
// ambiguous).
func newSecret(name, value string) *dagger.Secret {
	return dag.SetSecret(name+"-"+randomHex(6), value)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
