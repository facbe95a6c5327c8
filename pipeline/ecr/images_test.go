package ecr

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/ecrfake"
	"dagger/fargate/pipeline/internal/fakeaws"
)

func TestTagDigestAndCheckTag(t *testing.T) {
	c, fake, _ := setup(t)
	ctx := context.Background()
	fake.AddRepository(ecrfake.Repository{Name: "shop/api", TagMutability: "IMMUTABLE"})
	d1 := fake.AddImage("shop/api", `{"schemaVersion":2,"config":{"digest":"sha256:1"}}`, "1.0.0")
	d2 := fake.AddImage("shop/api", `{"schemaVersion":2,"config":{"digest":"sha256:2"}}`)

	got, found, err := c.TagDigest(ctx, "shop/api", "1.0.0")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, d1, got)

	_, found, err = c.TagDigest(ctx, "shop/api", "9.9.9")
	require.NoError(t, err)
	assert.False(t, found)
	_, found, err = c.TagDigest(ctx, "shop/none", "1.0.0")
	require.NoError(t, err)
	assert.False(t, found, "a missing repository has no tags")

	require.NoError(t, c.CheckTag(ctx, "shop/api", "1.0.0", d1), "same digest is idempotent")
	require.NoError(t, c.CheckTag(ctx, "shop/api", "1.0.1", d2), "a new tag is free")
	err = c.CheckTag(ctx, "shop/api", "1.0.0", d2)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrTagConflict))
	assert.Contains(t, err.Error(), "it points at "+d1+", the image to push is "+d2)

	assert.ErrorContains(t, c.CheckTag(ctx, "shop/api", "1.0.0", "sha256:short"), "expected sha256:<64 hex>")
	_, _, err = c.TagDigest(ctx, "shop/api", "-bad")
	assert.ErrorContains(t, err, `tag "-bad"`)
}

func TestTagDigestAccessDenied(t *testing.T) {
	c, fake, srv := setup(t)
	fake.AddRepository(ecrfake.Repository{Name: "shop/api"})
	srv.FailNext("ecr", "DescribeImages", fakeaws.Errorf("AccessDeniedException", "nope"))
	_, _, err := c.TagDigest(context.Background(), "shop/api", "1")
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrAccessDenied))
	assert.Contains(t, err.Error(), "needs ecr:DescribeImages")
}

func TestTagImage(t *testing.T) {
	c, fake, srv := setup(t)
	ctx := context.Background()
	fake.AddRepository(ecrfake.Repository{Name: "shop/api", TagMutability: "IMMUTABLE"})
	d1 := fake.AddImage("shop/api", `{"schemaVersion":2,"n":1}`, "build-41")
	d2 := fake.AddImage("shop/api", `{"schemaVersion":2,"n":2}`, "build-42")

	require.NoError(t, c.TagImage(ctx, "shop/api", d2, "prod"))
	got, _, err := c.TagDigest(ctx, "shop/api", "prod")
	require.NoError(t, err)
	assert.Equal(t, d2, got)
	// Again: idempotent, no second PutImage.
	require.NoError(t, c.TagImage(ctx, "shop/api", d2, "prod"))
	assert.Equal(t, 1, srv.Calls("ecr", "PutImage"))

	// Moving the tag is refused before any write.
	err = c.TagImage(ctx, "shop/api", d1, "prod")
	assert.True(t, errors.Is(err, ErrTagConflict))
	assert.Equal(t, 1, srv.Calls("ecr", "PutImage"))

	// A race where ECR itself rejects the immutable tag maps to the same error.
	srv.FailNext("ecr", "PutImage", fakeaws.Errorf("ImageTagAlreadyExistsException", "The image tag 'staging' already exists in the 'shop/api' repository and cannot be overwritten because the repository is immutable."))
	err = c.TagImage(ctx, "shop/api", d1, "staging")
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrTagConflict))
	assert.Contains(t, err.Error(), "the repository has immutable tags and staging is taken by another image")

	err = c.TagImage(ctx, "shop/api", "sha256:"+strings.Repeat("0", 64), "x")
	assert.ErrorContains(t, err, "ImageNotFound")

	srv.FailNext("ecr", "BatchGetImage", fakeaws.Errorf("AccessDeniedException", "nope"))
	err = c.TagImage(ctx, "shop/api", d1, "y")
	assert.ErrorContains(t, err, "needs ecr:BatchGetImage")
}

func TestScanFindings(t *testing.T) {
	c, fake, _ := setup(t)
	ctx := context.Background()
	fake.AddRepository(ecrfake.Repository{Name: "shop/api", ScanOnPush: true})
	d := fake.AddImage("shop/api", `{"schemaVersion":2}`, "1")

	_, found, err := c.ScanFindings(ctx, "shop/api", d)
	require.NoError(t, err)
	assert.False(t, found)

	fake.SetScanFindings("shop/api", d, map[string]int{"CRITICAL": 1, "HIGH": 4})
	s, found, err := c.ScanFindings(ctx, "shop/api", d)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "COMPLETE", s.Status)
	assert.Equal(t, map[string]int{"CRITICAL": 1, "HIGH": 4}, s.Counts)

	_, _, err = c.ScanFindings(ctx, "shop/api", "latest")
	assert.ErrorContains(t, err, "expected sha256:<64 hex>")
}
