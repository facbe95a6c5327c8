package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	user     = "AWS"
	password = "s3cr3t-registry-token-never-shown"
)

// testRegistry is a real in-process OCI registry behind basic auth, recording requests.
type testRegistry struct {
	host string
	mu   sync.Mutex
	reqs []string
}

func newTestRegistry(t *testing.T, referrers bool) *testRegistry {
	t.Helper()
	tr := &testRegistry{}
	reg := ggcrregistry.New(ggcrregistry.WithReferrersSupport(referrers), ggcrregistry.Logger(nullLogger()))
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.reqs = append(tr.reqs, r.Method+" "+r.URL.Path)
		tr.mu.Unlock()
		if r.Header.Get("Authorization") != want {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tr.host = strings.TrimPrefix(srv.URL, "http://")
	return tr
}

func (tr *testRegistry) requests() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.reqs...)
}

func auth() authn.Authenticator {
	return authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
}

func push(t *testing.T, ref string, img v1.Image) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	require.NoError(t, remote.Write(r, img, remote.WithAuth(auth())))
	d, err := img.Digest()
	require.NoError(t, err)
	return d.String()
}

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(256, 1)
	require.NoError(t, err)
	return img
}

// bundle builds a cosign-v3-like referrer: an artifact manifest whose config media type
// is the Sigstore bundle type, annotated with its predicate type, with subject set.
func bundle(t *testing.T, subject v1.Image, predicateType string) v1.Image {
	t.Helper()
	art := mutate.ConfigMediaType(randomImage(t), types.MediaType("application/vnd.dev.sigstore.bundle.v0.3+json"))
	ann := map[string]string{"dev.sigstore.bundle.content": "dsse-envelope"}
	if predicateType != "" {
		ann[PredicateTypeAnnotation] = predicateType
	}
	art = mutate.Annotations(art, ann).(v1.Image)
	desc, err := partialDescriptor(subject)
	require.NoError(t, err)
	return mutate.Subject(art, *desc).(v1.Image)
}

func partialDescriptor(img v1.Image) (*v1.Descriptor, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	size, err := img.Size()
	if err != nil {
		return nil, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	return &v1.Descriptor{Digest: d, Size: size, MediaType: mt}, nil
}

func TestResolve(t *testing.T) {
	reg := newTestRegistry(t, true)
	ctx := context.Background()
	img := randomImage(t)
	want := push(t, reg.host+"/shop/api:1.0.0", img)
	c := New(Options{Auth: auth()})

	got, found, err := c.Resolve(ctx, reg.host+"/shop/api:1.0.0")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, want, got)

	_, found, err = c.Resolve(ctx, reg.host+"/shop/api:2.0.0")
	require.NoError(t, err)
	assert.False(t, found, "missing tag")
	_, found, err = c.Resolve(ctx, reg.host+"/shop/nothing:1")
	require.NoError(t, err)
	assert.False(t, found, "missing repository")

	// Resolving uses HEAD, never downloads the manifest.
	for _, r := range reg.requests() {
		assert.False(t, strings.HasPrefix(r, "GET /v2/shop/api/manifests/"), r)
	}
	_, _, err = c.Resolve(ctx, "not a reference")
	assert.ErrorContains(t, err, `resolve "not a reference": bad image reference`)
}

func TestWrongCredentialsAreExplainedWithoutTheSecret(t *testing.T) {
	reg := newTestRegistry(t, true)
	push(t, reg.host+"/shop/api:1", randomImage(t))
	bad := New(Options{Auth: authn.FromConfig(authn.AuthConfig{Username: user, Password: "wrong-" + password})})
	_, _, err := bad.Resolve(context.Background(), reg.host+"/shop/api:1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "registry rejected the credentials (HTTP 401")
	assert.NotContains(t, err.Error(), password)
}

func TestCheckTag(t *testing.T) {
	reg := newTestRegistry(t, true)
	ctx := context.Background()
	c := New(Options{Auth: auth()})
	first := randomImage(t)
	firstDigest := push(t, reg.host+"/shop/api:1.0.0", first)
	second := randomImage(t)
	secondDigest, err := second.Digest()
	require.NoError(t, err)

	// New tag: free. Same digest: idempotent.
	require.NoError(t, c.CheckTag(ctx, reg.host+"/shop/api", "1.0.1", secondDigest.String()))
	require.NoError(t, c.CheckTag(ctx, reg.host+"/shop/api", "1.0.0", firstDigest))

	// Another digest: a conflict naming both digests, never an overwrite.
	err = c.CheckTag(ctx, reg.host+"/shop/api", "1.0.0", secondDigest.String())
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrTagConflict))
	assert.Contains(t, err.Error(), firstDigest)
	assert.Contains(t, err.Error(), secondDigest.String())

	assert.ErrorContains(t, c.CheckTag(ctx, reg.host+"/shop/api", "1.0.0", "latest"), `digest "latest": expected sha256:<64 hex>`)
}

func TestAttachedWithReferrersAPI(t *testing.T) {
	for _, referrersAPI := range []bool{true, false} {
		name := "referrers API"
		if !referrersAPI {
			name = "fallback tag"
		}
		t.Run(name, func(t *testing.T) {
			reg := newTestRegistry(t, referrersAPI)
			ctx := context.Background()
			c := New(Options{Auth: auth()})
			img := randomImage(t)
			digest := push(t, reg.host+"/shop/api:1.0.0", img)
			digestRef := reg.host + "/shop/api@" + digest

			a, err := c.Attached(ctx, digestRef)
			require.NoError(t, err)
			assert.False(t, a.Signed(), "a fresh image has no signature")
			assert.Empty(t, a.Attestations)

			repo := reg.host + "/shop/api"
			sig := pushByDigest(t, repo, bundle(t, img, SignPredicateType))
			pushByDigest(t, repo, bundle(t, img, "https://cyclonedx.org/bom"))
			pushByDigest(t, repo, bundle(t, img, "https://cosign.sigstore.dev/attestation/vuln/v1"))
			// A referrer of another image is not ours.
			other := randomImage(t)
			push(t, repo+":other", other)
			pushByDigest(t, repo, bundle(t, other, SignPredicateType))

			refs, err := c.Referrers(ctx, digestRef)
			require.NoError(t, err)
			assert.Len(t, refs, 3)

			a, err = c.Attached(ctx, digestRef)
			require.NoError(t, err)
			assert.True(t, a.Signed())
			require.Len(t, a.Signatures, 1)
			assert.Equal(t, sig, a.Signatures[0].Digest)
			assert.Equal(t, []string{"https://cosign.sigstore.dev/attestation/vuln/v1", "https://cyclonedx.org/bom"}, a.PredicateTypes())
			assert.False(t, a.LegacySignatureTag)
		})
	}
}

func TestAttachedLegacyAndUnknownBundles(t *testing.T) {
	reg := newTestRegistry(t, true)
	ctx := context.Background()
	c := New(Options{Auth: auth()})
	img := randomImage(t)
	digest := push(t, reg.host+"/shop/api:1", img)
	digestRef := reg.host + "/shop/api@" + digest

	push(t, reg.host+"/shop/api:"+strings.Replace(digest, ":", "-", 1)+".sig", randomImage(t))
	pushByDigest(t, reg.host+"/shop/api", bundle(t, img, ""))

	a, err := c.Attached(ctx, digestRef)
	require.NoError(t, err)
	assert.True(t, a.LegacySignatureTag)
	assert.Len(t, a.UnknownBundles, 1)
	assert.True(t, a.Signed())

	_, err = c.Referrers(ctx, reg.host+"/shop/api:1")
	assert.ErrorContains(t, err, "expected repo@sha256:<digest>")
}

// pushByDigest pushes an artifact untagged, as cosign pushes referrers.
func pushByDigest(t *testing.T, repo string, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	require.NoError(t, err)
	return push(t, repo+"@"+d.String(), img)
}
