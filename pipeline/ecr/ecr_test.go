package ecr

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/ecrfake"
	"dagger/fargate/pipeline/internal/fakeaws"
)

const (
	account = "123456789012"
	region  = "eu-west-1"
	kmsKey  = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

func setup(t *testing.T) (*Client, *ecrfake.Fake, *fakeaws.Server) {
	t.Helper()
	srv := fakeaws.New(t)
	fake := ecrfake.New(srv, account, region)
	return New(srv.Config(t)), fake, srv
}

func TestLogin(t *testing.T) {
	c, fake, _ := setup(t)
	const password = "eyJwYXlsb2FkIjoiZmFrZS1lY3ItcGFzc3dvcmQifQ=="
	expires := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	fake.SetAuthorizationToken(base64.StdEncoding.EncodeToString([]byte("AWS:"+password)), expires)

	creds, err := c.Login(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "AWS", creds.Username)
	assert.Equal(t, password, creds.Password.Reveal())
	assert.Equal(t, "123456789012.dkr.ecr.eu-west-1.amazonaws.com", creds.Registry)
	assert.True(t, expires.Equal(creds.ExpiresAt))

	// No formatting path prints the password.
	js, err := json.Marshal(creds)
	require.NoError(t, err)
	for _, s := range []string{
		fmt.Sprint(creds), fmt.Sprintf("%v", creds), fmt.Sprintf("%+v", creds), fmt.Sprintf("%#v", creds), fmt.Sprintf("%s", creds),
		fmt.Sprint(creds.Password), fmt.Sprintf("%q", creds.Password), fmt.Sprintf("%x", creds.Password), fmt.Sprintf("%#v", creds.Password),
		fmt.Sprintf("%+v", struct{ C Credentials }{creds}), fmt.Sprintf("%v", []Secret{creds.Password}), string(js),
	} {
		assert.NotContains(t, s, password)
		assert.NotContains(t, s, "ZmFrZS1lY3ItcGFzc3dvcmQ") // nor a fragment of it
	}
	assert.Contains(t, fmt.Sprint(creds), "[REDACTED]")
	assert.Contains(t, string(js), `"Password":"[REDACTED]"`)
}

func TestDecodeAuthorizationDataErrors(t *testing.T) {
	const secretish = "super-secret-token-value"
	cases := []struct {
		name, token, endpoint, want string
	}{
		{"empty", "", "https://r", "authorization token is empty"},
		{"not base64", secretish + "!!", "https://r", "authorization token is not valid base64"},
		{"no colon", base64.StdEncoding.EncodeToString([]byte(secretish)), "https://r", "does not have the form USER:PASSWORD"},
		{"wrong user", base64.StdEncoding.EncodeToString([]byte("admin:" + secretish)), "https://r", `user is "admin", expected AWS`},
		{"empty password", base64.StdEncoding.EncodeToString([]byte("AWS:")), "https://r", "empty password"},
		{"no endpoint", base64.StdEncoding.EncodeToString([]byte("AWS:" + secretish)), "", "no proxy endpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeAuthorizationData(types.AuthorizationData{AuthorizationToken: aws.String(tc.token), ProxyEndpoint: aws.String(tc.endpoint)})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), secretish)
			if tc.token != "" {
				assert.NotContains(t, err.Error(), tc.token)
			}
		})
	}
	creds, err := DecodeAuthorizationData(types.AuthorizationData{
		AuthorizationToken: aws.String(base64.StdEncoding.EncodeToString([]byte("AWS:p"))), ProxyEndpoint: aws.String("localhost:5000"),
	})
	require.NoError(t, err)
	assert.Equal(t, "localhost:5000", creds.Registry, "an endpoint without scheme is kept as the host")
}

func TestLoginOverTheWireErrors(t *testing.T) {
	c, fake, srv := setup(t)
	fake.SetAuthorizationToken("%%%not-base64-secret%%%", time.Now())
	_, err := c.Login(context.Background())
	require.ErrorContains(t, err, "get ECR authorization token: authorization token is not valid base64")
	assert.NotContains(t, err.Error(), "not-base64-secret")

	srv.FailNext("ecr", "GetAuthorizationToken", fakeaws.Errorf("AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/ci is not authorized to perform: ecr:GetAuthorizationToken"))
	_, err = c.Login(context.Background())
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrAccessDenied))
	assert.Contains(t, err.Error(), "the pipeline's IAM role needs ecr:GetAuthorizationToken")
}

func TestValidateRepositoryName(t *testing.T) {
	for _, ok := range []string{"ab", "shop/api", "shop/api-v2", "a.b_c-d/e", strings.Repeat("a", 256)} {
		assert.NoError(t, ValidateRepositoryName(ok), ok)
	}
	cases := map[string]string{
		"":                       "repository name is required",
		"a":                      "must be 2 to 256 characters",
		strings.Repeat("a", 257): "must be 2 to 256 characters",
		"Shop/API":               "must be lowercase",
		"shop//api":              "expected lowercase letters and digits",
		"-shop":                  "expected lowercase letters and digits",
		"shop/api-":              "expected lowercase letters and digits",
		"shop api":               "expected lowercase letters and digits",
		"shop--api":              "expected lowercase letters and digits",
	}
	for name, want := range cases {
		err := ValidateRepositoryName(name)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), want, name)
	}
}

func TestLifecyclePolicy(t *testing.T) {
	text, err := LifecyclePolicy(30)
	require.NoError(t, err)
	var p struct {
		Rules []struct {
			RulePriority int
			Selection    struct {
				TagStatus      string
				TagPatternList []string
				CountType      string
				CountNumber    int
			}
			Action struct{ Type string }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(text), &p))
	require.Len(t, p.Rules, 1)
	r := p.Rules[0]
	assert.Equal(t, 1, r.RulePriority)
	assert.Equal(t, "tagged", r.Selection.TagStatus, "untagged cosign referrers are never expired by count")
	assert.Equal(t, []string{"*"}, r.Selection.TagPatternList)
	assert.Equal(t, "imageCountMoreThan", r.Selection.CountType)
	assert.Equal(t, 30, r.Selection.CountNumber)
	assert.Equal(t, "expire", r.Action.Type)

	_, err = LifecyclePolicy(-1)
	assert.ErrorContains(t, err, "keepImages -1: expected 1 to 10000")
}

func TestEnsureRepositoryCreates(t *testing.T) {
	c, fake, srv := setup(t)
	ctx := context.Background()
	res, err := c.EnsureRepository(ctx, RepositoryOptions{Name: "shop/api", KMSKey: kmsKey, KeepImages: 20, Tags: map[string]string{"team": "shop", "env": "prod"}})
	require.NoError(t, err)
	assert.True(t, res.Created)
	assert.Equal(t, "arn:aws:ecr:eu-west-1:123456789012:repository/shop/api", res.ARN)
	assert.Equal(t, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api", res.URI)
	assert.Equal(t, []string{"created repository", "put lifecycle policy (keep 20 tagged images)"}, res.Changes)
	assert.Empty(t, res.Findings)

	repo, ok := fake.Repository("shop/api")
	require.True(t, ok)
	assert.Equal(t, "IMMUTABLE", repo.TagMutability)
	assert.True(t, repo.ScanOnPush)
	assert.Equal(t, "KMS", repo.EncryptionType)
	assert.Equal(t, kmsKey, repo.KMSKey)
	assert.Equal(t, map[string]string{"team": "shop", "env": "prod"}, repo.Tags)
	want, _ := LifecyclePolicy(20)
	assert.Equal(t, want, repo.LifecyclePolicy)

	// A second run changes nothing.
	res, err = c.EnsureRepository(ctx, RepositoryOptions{Name: "shop/api", KMSKey: kmsKey, KeepImages: 20})
	require.NoError(t, err)
	assert.False(t, res.Created)
	assert.Empty(t, res.Changes)
	assert.Empty(t, res.Findings)
	assert.Equal(t, 1, srv.Calls("ecr", "CreateRepository"))
	assert.Equal(t, 1, srv.Calls("ecr", "PutLifecyclePolicy"))
}

func TestEnsureRepositoryDefaultsToAWSManagedKMSWithFinding(t *testing.T) {
	c, fake, _ := setup(t)
	res, err := c.EnsureRepository(context.Background(), RepositoryOptions{Name: "shop/web"})
	require.NoError(t, err)
	repo, _ := fake.Repository("shop/web")
	assert.Equal(t, "KMS", repo.EncryptionType)
	assert.Empty(t, repo.KMSKey)
	assert.Contains(t, repo.LifecyclePolicy, fmt.Sprintf(`"countNumber":%d`, DefaultKeepImages))
	require.Len(t, res.Findings, 1)
	assert.Equal(t, []string{"ECR.5"}, res.Findings[0].Controls)
	assert.Contains(t, res.Findings[0].Message, "encrypted with the AWS-managed KMS key, not a customer-managed KMS key")
}

func TestEnsureRepositoryReportsAES256OnExistingRepository(t *testing.T) {
	c, fake, _ := setup(t)
	fake.AddRepository(ecrfake.Repository{Name: "old/app", TagMutability: "IMMUTABLE", ScanOnPush: true, EncryptionType: "AES256", LifecyclePolicy: `{"rules":[]}`})
	res, err := c.EnsureRepository(context.Background(), RepositoryOptions{Name: "old/app"})
	require.NoError(t, err)
	require.Len(t, res.Findings, 1)
	assert.Contains(t, res.Findings[0].Message, "encrypted with AES256")
}

func TestEnsureRepositoryReportsDrift(t *testing.T) {
	c, fake, srv := setup(t)
	fake.AddRepository(ecrfake.Repository{Name: "legacy/app", TagMutability: "MUTABLE", ScanOnPush: false, EncryptionType: "AES256", LifecyclePolicy: `{"rules":[]}`})

	res, err := c.EnsureRepository(context.Background(), RepositoryOptions{Name: "legacy/app", KMSKey: kmsKey})
	require.NoError(t, err)
	assert.Empty(t, res.Changes, "drift is reported, not changed, without FixDrift")
	var controls []string
	for _, f := range res.Findings {
		controls = append(controls, strings.Join(f.Controls, ", ")+": "+f.Message)
	}
	assert.Equal(t, []string{
		"ECR.1: existing repository has scan on push disabled (set fixDrift to enable it)",
		"ECR.2: existing repository has MUTABLE tags, expected IMMUTABLE (set fixDrift to correct it)",
		"ECR.5: existing repository is encrypted with AES256, not the configured KMS key " + kmsKey + "; encryption cannot be changed after creation",
	}, controls)
	// The findings are the one model's: the policy rule of each control, its severity, the
	// repository as resource, from the audit source.
	var rules []string
	for _, f := range res.Findings {
		rules = append(rules, f.Rule+" "+f.Severity.String()+" "+f.Resource+" "+string(f.Source))
	}
	assert.Equal(t, []string{
		"FG-ECR-001 high ecr/legacy/app audit", "FG-ECR-002 medium ecr/legacy/app audit", "FG-ECR-004 low ecr/legacy/app audit",
	}, rules)
	repo, _ := fake.Repository("legacy/app")
	assert.Equal(t, "MUTABLE", repo.TagMutability)
	assert.Equal(t, `{"rules":[]}`, repo.LifecyclePolicy, "an existing lifecycle policy is kept")
	assert.Zero(t, srv.Calls("ecr", "PutImageTagMutability"))

	// With FixDrift the fixable drift is corrected; encryption is still only reported.
	res, err = c.EnsureRepository(context.Background(), RepositoryOptions{Name: "legacy/app", KMSKey: kmsKey, FixDrift: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"set image tags to IMMUTABLE", "enabled scan on push"}, res.Changes)
	require.Len(t, res.Findings, 1)
	assert.Equal(t, []string{"ECR.5"}, res.Findings[0].Controls)
	repo, _ = fake.Repository("legacy/app")
	assert.Equal(t, "IMMUTABLE", repo.TagMutability)
	assert.True(t, repo.ScanOnPush)
	assert.Equal(t, "AES256", repo.EncryptionType)
}

func TestEnsureRepositoryErrors(t *testing.T) {
	c, _, srv := setup(t)
	ctx := context.Background()

	_, err := c.EnsureRepository(ctx, RepositoryOptions{Name: "Bad Name"})
	assert.ErrorContains(t, err, `ensure ECR repository: repository name "Bad Name": must be lowercase`)
	assert.Zero(t, len(srv.CallLog()), "a bad name is rejected before any call")

	_, err = c.EnsureRepository(ctx, RepositoryOptions{Name: "shop/api", KeepImages: 20000})
	assert.ErrorContains(t, err, "keepImages 20000: expected 1 to 10000")

	srv.FailNext("ecr", "CreateRepository", fakeaws.Errorf("AccessDeniedException", "not authorized to perform: ecr:CreateRepository"))
	_, err = c.EnsureRepository(ctx, RepositoryOptions{Name: "shop/api"})
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrAccessDenied))
	assert.Contains(t, err.Error(), `ensure ECR repository "shop/api": create repository: access denied: the pipeline's IAM role needs ecr:CreateRepository`)

	srv.FailNext("ecr", "CreateRepository", fakeaws.Errorf("AccessDeniedException", "not authorized to perform: ecr:TagResource"))
	_, err = c.EnsureRepository(ctx, RepositoryOptions{Name: "shop/api", Tags: map[string]string{"team": "shop"}})
	assert.ErrorContains(t, err, "needs ecr:CreateRepository and ecr:TagResource (for the repository tags)")

	srv.FailNext("ecr", "CreateRepository", fakeaws.Errorf("KmsException", "User is not authorized to perform kms:CreateGrant"))
	_, err = c.EnsureRepository(ctx, RepositoryOptions{Name: "shop/api", KMSKey: kmsKey})
	assert.ErrorContains(t, err, "ECR could not use the KMS key (the role needs kms:DescribeKey and kms:CreateGrant")

	srv.FailNext("ecr", "DescribeRepositories", fakeaws.Errorf("AccessDeniedException", "denied"))
	_, err = c.EnsureRepository(ctx, RepositoryOptions{Name: "shop/api"})
	assert.ErrorContains(t, err, "needs ecr:DescribeRepositories")

	// Throttling is retried by the SDK and the call succeeds.
	srv.FailNext("ecr", "DescribeRepositories", fakeaws.Throttling(), fakeaws.Throttling())
	_, err = c.EnsureRepository(ctx, RepositoryOptions{Name: "shop/api"})
	require.NoError(t, err)

	srv.FailNext("ecr", "GetLifecyclePolicy", fakeaws.Errorf("AccessDeniedException", "denied"))
	_, err = c.EnsureRepository(ctx, RepositoryOptions{Name: "shop/api"})
	assert.ErrorContains(t, err, "needs ecr:GetLifecyclePolicy")
}

func TestEnsureRepositoryCreatedConcurrently(t *testing.T) {
	c, fake, srv := setup(t)
	// Another run creates the repository between our describe and create.
	srv.FailNext("ecr", "CreateRepository", fakeaws.Errorf("RepositoryAlreadyExistsException", "exists"))
	fake.AddRepository(ecrfake.Repository{Name: "shop/race", TagMutability: "IMMUTABLE", ScanOnPush: true})
	srv.FailNext("ecr", "DescribeRepositories", fakeaws.Errorf("RepositoryNotFoundException", "not yet"))
	res, err := c.EnsureRepository(context.Background(), RepositoryOptions{Name: "shop/race"})
	require.NoError(t, err)
	assert.True(t, res.Created)
	assert.Equal(t, "arn:aws:ecr:eu-west-1:123456789012:repository/shop/race", res.ARN)
}
