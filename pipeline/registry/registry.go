// Package registry talks to OCI registries (Amazon ECR, or the plain registry that runs
// as a service in local mode) with go-containerregistry: it resolves tags to digests,
// refuses to move an existing tag to another digest, and lists the referrers of a digest
// to tell whether an image carries cosign v3 signatures and attestations (stored as OCI
// referrers bundles).
//
// Credentials are an authn.Authenticator supplied by the caller; they are never logged
// and never appear in errors (go-containerregistry's errors carry status codes and
// registry error codes, not request headers).
package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Media types and annotations of cosign artifacts.
const (
	// BundleArtifactTypePrefix starts the artifactType of Sigstore bundles
	// (application/vnd.dev.sigstore.bundle.v0.3+json).
	BundleArtifactTypePrefix = "application/vnd.dev.sigstore.bundle"
	// PredicateTypeAnnotation names what a bundle holds.
	PredicateTypeAnnotation = "dev.sigstore.bundle.predicateType"
	// SignPredicateType marks an image signature bundle.
	SignPredicateType = "https://sigstore.dev/cosign/sign/v1"
	// LegacySignatureArtifactType is cosign v2's OCI 1.1 signature artifact type.
	LegacySignatureArtifactType = "application/vnd.dev.cosign.artifact.sig.v1+json"
)

// ErrTagConflict is returned (wrapped) when a tag already points at another digest.
var ErrTagConflict = errors.New("tag already exists with another digest")

// Options say how to reach the registry.
type Options struct {
	// Auth authenticates (authn.FromConfig(authn.AuthConfig{Username, Password}) for
	// ECR's "AWS" user and token); nil means anonymous.
	Auth authn.Authenticator
	// Insecure allows plain HTTP and unverified TLS (the local registry service).
	// localhost and 127.0.0.1 registries use HTTP without it.
	Insecure bool
	// Transport replaces the HTTP transport (tests).
	Transport http.RoundTripper
}

// Client is a registry client. It holds no mutable state and is safe for concurrent use.
type Client struct {
	auth      authn.Authenticator
	insecure  bool
	transport http.RoundTripper
}

// New returns a client.
func New(o Options) *Client {
	auth := o.Auth
	if auth == nil {
		auth = authn.Anonymous
	}
	tr := o.Transport
	if tr == nil {
		tr = remote.DefaultTransport
	}
	return &Client{auth: auth, insecure: o.Insecure, transport: tr}
}

func (c *Client) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuth(c.auth), remote.WithTransport(c.transport)}
}

func (c *Client) nameOptions() []name.Option {
	if c.insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// Resolve returns the digest (sha256:...) a tag or digest reference points at, with a
// HEAD request. found is false when the registry has no such tag or repository.
func (c *Client) Resolve(ctx context.Context, ref string) (digest string, found bool, err error) {
	r, err := name.ParseReference(ref, c.nameOptions()...)
	if err != nil {
		return "", false, fmt.Errorf("resolve %q: bad image reference: %w", ref, err)
	}
	desc, err := remote.Head(r, c.remoteOptions(ctx)...)
	if err != nil {
		if isNotFound(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("resolve %s: %w", ref, explain(err))
	}
	return desc.Digest.String(), true, nil
}

// CheckTag is the guard before a push: nil when repo:tag does not exist yet or already
// points at digest (pushing again is idempotent); an ErrTagConflict error naming both
// digests when it points elsewhere (tags are never silently moved).
func (c *Client) CheckTag(ctx context.Context, repo, tag, digest string) error {
	if _, err := v1.NewHash(digest); err != nil {
		return fmt.Errorf("check tag %s:%s: digest %q: expected sha256:<64 hex>", repo, tag, digest)
	}
	ref := repo + ":" + tag
	got, found, err := c.Resolve(ctx, ref)
	if err != nil {
		return fmt.Errorf("check tag: %w", err)
	}
	if !found || got == digest {
		return nil
	}
	return fmt.Errorf("%s: %w: it points at %s, the image to push is %s; push a new tag instead of moving this one", ref, ErrTagConflict, got, digest)
}

// Referrer is one artifact that refers to an image (OCI 1.1 subject).
type Referrer struct {
	Digest        string
	MediaType     string
	ArtifactType  string
	PredicateType string // dev.sigstore.bundle.predicateType, when present
	Annotations   map[string]string
}

// Referrers lists the artifacts referring to a digest reference (repo@sha256:...), via
// the Referrers API or, on registries without it, the sha256-<hex> fallback tag.
func (c *Client) Referrers(ctx context.Context, digestRef string) ([]Referrer, error) {
	d, err := name.NewDigest(digestRef, c.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("list referrers of %q: expected repo@sha256:<digest>: %w", digestRef, err)
	}
	idx, err := remote.Referrers(d, c.remoteOptions(ctx)...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list referrers of %s: %w", digestRef, explain(err))
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("list referrers of %s: %w", digestRef, err)
	}
	out := make([]Referrer, 0, len(im.Manifests))
	for _, m := range im.Manifests {
		out = append(out, Referrer{
			Digest: m.Digest.String(), MediaType: string(m.MediaType), ArtifactType: m.ArtifactType,
			PredicateType: m.Annotations[PredicateTypeAnnotation], Annotations: m.Annotations,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out, nil
}

// Attachments summarises what is attached to an image.
type Attachments struct {
	// Signatures are cosign signature bundles (and cosign v2 OCI 1.1 signatures).
	Signatures []Referrer
	// Attestations are bundles of in-toto attestations, by predicate type.
	Attestations []Referrer
	// UnknownBundles are Sigstore bundles without a predicate type annotation (cosign's
	// fallback-tag index drops it): signed material whose kind verify must establish.
	UnknownBundles []Referrer
	// LegacySignatureTag is true when the pre-v3 sha256-<hex>.sig tag exists.
	LegacySignatureTag bool
}

// Signed reports whether anything signs the image. It is a presence check for reports
// and preflight, not a verification: only cosign verify establishes trust.
func (a Attachments) Signed() bool {
	return len(a.Signatures) > 0 || len(a.UnknownBundles) > 0 || a.LegacySignatureTag
}

// PredicateTypes lists the attested predicate types, sorted and deduplicated.
func (a Attachments) PredicateTypes() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range a.Attestations {
		if !seen[r.PredicateType] {
			seen[r.PredicateType] = true
			out = append(out, r.PredicateType)
		}
	}
	sort.Strings(out)
	return out
}

// Attached classifies the referrers of digestRef and checks the legacy .sig tag.
func (c *Client) Attached(ctx context.Context, digestRef string) (Attachments, error) {
	refs, err := c.Referrers(ctx, digestRef)
	if err != nil {
		return Attachments{}, err
	}
	var a Attachments
	for _, r := range refs {
		switch {
		case r.ArtifactType == LegacySignatureArtifactType:
			a.Signatures = append(a.Signatures, r)
		case strings.HasPrefix(r.ArtifactType, BundleArtifactTypePrefix):
			switch r.PredicateType {
			case SignPredicateType:
				a.Signatures = append(a.Signatures, r)
			case "":
				a.UnknownBundles = append(a.UnknownBundles, r)
			default:
				a.Attestations = append(a.Attestations, r)
			}
		}
	}
	repo, dig, _ := strings.Cut(digestRef, "@")
	legacy := repo + ":" + strings.Replace(dig, ":", "-", 1) + ".sig"
	_, found, err := c.Resolve(ctx, legacy)
	if err != nil {
		return Attachments{}, fmt.Errorf("check legacy signature tag: %w", err)
	}
	a.LegacySignatureTag = found
	return a, nil
}

func isNotFound(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	if terr.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range terr.Errors {
		switch d.Code {
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode:
			return true
		}
	}
	return false
}

// explain adds what to do about authentication failures.
func explain(err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("registry rejected the credentials (HTTP 401; an ECR token expires after 12 hours): %w", err)
		case http.StatusForbidden:
			return fmt.Errorf("registry denied access (HTTP 403; check the repository policy and IAM permissions such as ecr:BatchGetImage): %w", err)
		}
	}
	return err
}
