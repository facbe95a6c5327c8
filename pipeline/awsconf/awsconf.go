// Package awsconf builds the aws.Config every AWS client in the pipeline uses: explicit
// credentials (never read from the environment of the Dagger runtime) — static keys, a role
// assumed with them (STS AssumeRole), or a role assumed with an OIDC token (STS
// AssumeRoleWithWebIdentity), refreshed before they expire — an optional endpoint
// override for LocalStack-style fakes, and a retryer tuned for deploy pipelines (throttling
// and 5xx answers back off; the retry quota never stops a long wait).
package awsconf

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Options says where and as whom the pipeline talks to AWS.
type Options struct {
	// Region is the AWS region, e.g. eu-west-1. Required.
	Region string
	// AccessKeyID, SecretAccessKey and SessionToken are static credentials. When the key ID
	// is empty the SDK's default chain is used (useful in tests and on EC2/ECS runners).
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// RoleARN, when set, is the role to act as: assumed with the static credentials above
	// (AssumeRole, with ExternalID), or with WebIdentityToken (AssumeRoleWithWebIdentity)
	// when that is set. Temporary credentials are refreshed RefreshBefore they expire, so a
	// long wait never signs with expired ones.
	RoleARN          string
	ExternalID       string
	RoleSessionName  string
	WebIdentityToken string
	// RefreshBefore is how long before expiry assumed credentials are renewed; 0 means 1m.
	RefreshBefore time.Duration
	// Endpoint overrides every service's endpoint (http://localstack:4566). Empty means AWS.
	Endpoint string
	// MaxAttempts bounds retries of one call (throttling, 5xx); 0 means 10.
	MaxAttempts int
	// MaxBackoff caps the delay between two attempts; 0 means 20s.
	MaxBackoff time.Duration
	// HTTPClient replaces the SDK's HTTP client (tests).
	HTTPClient *http.Client
}

// Load returns the aws.Config for opts. It reads no shared config or credentials files, so
// the result depends only on opts.
func Load(ctx context.Context, opts Options) (aws.Config, error) {
	if opts.Region == "" {
		return aws.Config{}, errors.New("aws config: region is required")
	}
	if opts.Endpoint != "" {
		u, err := url.Parse(opts.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return aws.Config{}, fmt.Errorf("aws config: endpoint %q: expected an absolute http(s) URL such as http://localhost:4566", opts.Endpoint)
		}
	}
	if (opts.AccessKeyID == "") != (opts.SecretAccessKey == "") {
		return aws.Config{}, errors.New("aws config: access key ID and secret access key must be given together")
	}
	if opts.WebIdentityToken != "" && opts.RoleARN == "" {
		return aws.Config{}, errors.New("aws config: a web identity token needs the role to assume (--aws-role-arn)")
	}
	if opts.RoleSessionName != "" && !sessionNamePattern.MatchString(opts.RoleSessionName) {
		return aws.Config{}, fmt.Errorf("aws config: --aws-role-session-name %q: expected 2 to 64 letters, digits and +=,.@_-", opts.RoleSessionName)
	}
	if opts.RoleARN != "" && !roleARNPattern.MatchString(opts.RoleARN) {
		return aws.Config{}, fmt.Errorf("aws config: --aws-role-arn %q: expected an IAM role ARN such as arn:aws:iam::123456789012:role/deploy", opts.RoleARN)
	}
	attempts := opts.MaxAttempts
	if attempts <= 0 {
		attempts = 10
	}
	backoff := opts.MaxBackoff
	if backoff <= 0 {
		backoff = 20 * time.Second
	}
	loaders := []func(*config.LoadOptions) error{
		config.WithRegion(opts.Region),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.MaxBackoff = backoff
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if opts.AccessKeyID != "" {
		loaders = append(loaders, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, opts.SessionToken)))
	}
	if opts.Endpoint != "" {
		loaders = append(loaders, config.WithBaseEndpoint(opts.Endpoint))
	}
	if opts.HTTPClient != nil {
		loaders = append(loaders, config.WithHTTPClient(opts.HTTPClient))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loaders...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config: %w", err)
	}
	if opts.RoleARN != "" {
		cfg.Credentials = assumeRole(cfg, opts)
	}
	return cfg, nil
}

// roleARNPattern is an IAM role ARN in any partition; sessionNamePattern is STS's
// RoleSessionName.
var (
	roleARNPattern     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

// assumeRole returns the credentials of opts.RoleARN, assumed through STS with cfg's
// credentials (AssumeRole) or with the web identity token (AssumeRoleWithWebIdentity), in a
// cache that renews them before they expire. Errors name the role, never a secret.
func assumeRole(cfg aws.Config, opts Options) aws.CredentialsProvider {
	client := sts.NewFromConfig(cfg)
	var p aws.CredentialsProvider
	if opts.WebIdentityToken != "" {
		p = stscreds.NewWebIdentityRoleProvider(client, opts.RoleARN, identityToken(opts.WebIdentityToken), func(o *stscreds.WebIdentityRoleOptions) {
			o.RoleSessionName = opts.RoleSessionName
		})
	} else {
		p = stscreds.NewAssumeRoleProvider(client, opts.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = opts.RoleSessionName
			if opts.ExternalID != "" {
				o.ExternalID = aws.String(opts.ExternalID)
			}
		})
	}
	before := opts.RefreshBefore
	if before <= 0 {
		before = time.Minute
	}
	return aws.NewCredentialsCache(roleProvider{p: p, role: opts.RoleARN}, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = before
	})
}

// identityToken hands the OIDC token to the web identity provider.
type identityToken string

func (t identityToken) GetIdentityToken() ([]byte, error) { return []byte(t), nil }

// roleProvider says which role could not be assumed.
type roleProvider struct {
	p    aws.CredentialsProvider
	role string
}

func (r roleProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := r.p.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("assume role %s: %w", r.role, err)
	}
	return c, nil
}

// throttleCheck recognises the throttling answers the SDK's standard retryer backs off on.
var throttleCheck = retry.IsErrorThrottles(retry.DefaultThrottles)

// IsThrottle reports whether err is a throttling answer (ThrottlingException and the
// others the SDK's standard retryer knows) that outlasted the client's own retries.
func IsThrottle(err error) bool {
	return err != nil && throttleCheck.IsErrorThrottle(err) == aws.TrueTernary
}
