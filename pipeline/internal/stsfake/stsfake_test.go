package stsfake_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/fakeaws"
	"dagger/fargate/pipeline/internal/stsfake"
)

const role = "arn:aws:iam::444455556666:role/deploy"

// The fake answers both actions in the Query protocol, refuses what AWS refuses, and its
// server refuses a temporary key once it has expired.
func TestFake(t *testing.T) {
	srv := fakeaws.New(t)
	f := stsfake.New(srv)
	f.AddRole(role, "ext-1")
	f.TrustToken("good-token")
	f.SetLifetime(80 * time.Millisecond)
	srv.HandleQuery("sts", "GetCallerIdentity", func(url.Values) (string, error) { return "<Account>444455556666</Account>", nil })
	client := sts.NewFromConfig(srv.Config(t))

	out, err := client.AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("s1"), ExternalId: aws.String("ext-1")})
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:sts::444455556666:assumed-role/deploy/s1", aws.ToString(out.AssumedRoleUser.Arn))
	assert.WithinDuration(t, time.Now().Add(80*time.Millisecond), aws.ToTime(out.Credentials.Expiration), 50*time.Millisecond)

	web, err := client.AssumeRoleWithWebIdentity(t.Context(), &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(role), RoleSessionName: aws.String("s2"), WebIdentityToken: aws.String("good-token")})
	require.NoError(t, err)
	assert.NotEqual(t, aws.ToString(out.Credentials.AccessKeyId), aws.ToString(web.Credentials.AccessKeyId))

	for _, call := range []func() error{
		func() error {
			_, err := client.AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("s"), ExternalId: aws.String("ext-2")})
			return err
		},
		func() error {
			_, err := client.AssumeRoleWithWebIdentity(t.Context(), &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(role), RoleSessionName: aws.String("s"), WebIdentityToken: aws.String("bad-token")})
			return err
		},
	} {
		err := call()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "AccessDenied")
		assert.Contains(t, err.Error(), role)
		assert.NotContains(t, err.Error(), "bad-token")
		assert.NotContains(t, err.Error(), "ext-2")
	}

	// The issued key works until it expires.
	c := out.Credentials
	cfg := srv.Config(t)
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	_, err = sts.NewFromConfig(cfg).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	_, err = sts.NewFromConfig(cfg).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ExpiredTokenException")
	assert.Len(t, f.Issued(), 2)
}
