// Package awsconf builds the aws.Config every AWS client in the pipeline uses: explicit
// credentials (never read from the environment of the Dagger runtime), an optional endpoint
// override for LocalStack-style fakes, and a retryer tuned for deploy pipelines (throttling
// and 5xx answers back off; the retry quota never stops a long wait).
package awsconf

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
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
	return cfg, nil
}
