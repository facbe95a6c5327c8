package ecrfake

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/fakeaws"
)

func TestFakeWithRealClient(t *testing.T) {
	srv := fakeaws.New(t)
	fake := New(srv, "123456789012", "eu-west-1")
	api := ecr.NewFromConfig(srv.Config(t))
	ctx := context.Background()

	_, err := api.CreateRepository(ctx, &ecr.CreateRepositoryInput{
		RepositoryName: aws.String("shop/api"), ImageTagMutability: types.ImageTagMutabilityImmutable,
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("shop")}},
	})
	require.NoError(t, err)
	_, err = api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("shop/api")})
	var exists *types.RepositoryAlreadyExistsException
	require.True(t, errors.As(err, &exists))
	_, err = api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("Bad")})
	var invalid *types.InvalidParameterException
	require.True(t, errors.As(err, &invalid))

	tags, err := api.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecr:eu-west-1:123456789012:repository/shop/api")})
	require.NoError(t, err)
	require.Len(t, tags.Tags, 1)
	assert.Equal(t, "team", aws.ToString(tags.Tags[0].Key))

	_, err = api.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("shop/api")})
	var noPolicy *types.LifecyclePolicyNotFoundException
	require.True(t, errors.As(err, &noPolicy))

	_, err = api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"nope"}})
	var notFound *types.RepositoryNotFoundException
	require.True(t, errors.As(err, &notFound))

	d := fake.AddImage("shop/api", `{"schemaVersion":2}`, "1.0.0")
	got, err := api.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("shop/api"), ImageIds: []types.ImageIdentifier{
		{ImageTag: aws.String("1.0.0")}, {ImageTag: aws.String("2.0.0")}, {ImageTag: aws.String("1.0.0"), ImageDigest: aws.String("sha256:" + "ab")},
	}})
	require.NoError(t, err)
	require.Len(t, got.Images, 1)
	assert.Equal(t, d, aws.ToString(got.Images[0].ImageId.ImageDigest))
	assert.Equal(t, `{"schemaVersion":2}`, aws.ToString(got.Images[0].ImageManifest))
	require.Len(t, got.Failures, 2)
	assert.Equal(t, types.ImageFailureCodeImageNotFound, got.Failures[0].FailureCode)

	_, err = api.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("shop/api"), ImageManifest: aws.String(`{"schemaVersion":2,"x":1}`), ImageTag: aws.String("1.0.0")})
	var immutable *types.ImageTagAlreadyExistsException
	require.True(t, errors.As(err, &immutable))

	_, err = api.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("shop/api"), ImageTagMutability: types.ImageTagMutabilityMutable})
	require.NoError(t, err)
	_, err = api.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("shop/api"), ImageManifest: aws.String(`{"schemaVersion":2,"x":1}`), ImageTag: aws.String("1.0.0")})
	require.NoError(t, err, "a mutable repository moves the tag")
	imgs, err := api.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("shop/api"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("1.0.0")}}})
	require.NoError(t, err)
	assert.NotEqual(t, d, aws.ToString(imgs.ImageDetails[0].ImageDigest))

	auth, err := api.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	require.NoError(t, err)
	assert.Equal(t, "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com", aws.ToString(auth.AuthorizationData[0].ProxyEndpoint))
	assert.Equal(t, 2030, aws.ToTime(auth.AuthorizationData[0].ExpiresAt).Year())
}

func TestRequestBodies(t *testing.T) {
	srv := fakeaws.New(t)
	New(srv, "123456789012", "eu-west-1").AddRepository(Repository{Name: "shop/api"})
	tests := []struct {
		name, op, body string
		status         int
		want           string
	}{
		{"decoded request", "GetLifecyclePolicy", `{"repositoryName":"shop/api"}`, http.StatusBadRequest, "LifecyclePolicyNotFoundException"},
		{"not JSON", "GetLifecyclePolicy", `{"repositoryName":`, http.StatusBadRequest, "SerializationException"},
		{"wrong member type", "DescribeRepositories", `{"repositoryNames":"shop/api"}`, http.StatusBadRequest, "SerializationException"},
		{"valid list", "DescribeRepositories", `{"repositoryNames":["shop/api"]}`, http.StatusOK, `"repositoryName":"shop/api"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, srv.URL(), strings.NewReader(tt.body))
			require.NoError(t, err)
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/ecr/aws4_request, SignedHeaders=host, Signature=0")
			req.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921."+tt.op)
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Contains(t, string(body), tt.want)
		})
	}
}
