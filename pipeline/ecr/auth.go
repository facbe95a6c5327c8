package ecr

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

const redacted = "[REDACTED]"

// Secret is a credential value. Every way fmt, %v, %#v, JSON or text marshalling could
// print it yields [REDACTED]; call Reveal to use it.
type Secret string

// Reveal returns the secret value, for handing to a registry client or a Dagger secret.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string { return redacted }

// GoString redacts %#v.
func (s Secret) GoString() string { return redacted }

// Format redacts every verb (%s, %v, %q, %x, ...).
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalText redacts JSON, YAML and text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Credentials log in to an ECR registry.
type Credentials struct {
	Username string // always "AWS"
	Password Secret
	// Registry is the registry host (123456789012.dkr.ecr.eu-west-1.amazonaws.com).
	Registry string
	// ExpiresAt is when the token stops working (12 hours after issue).
	ExpiresAt time.Time
}

// String describes the credentials without the password.
func (c Credentials) String() string {
	return fmt.Sprintf("ECR credentials for %s (user %s, password %s, expires %s)", c.Registry, c.Username, redacted, c.ExpiresAt.UTC().Format(time.RFC3339))
}

// GoString redacts %#v too.
func (c Credentials) GoString() string { return c.String() }

// Login calls GetAuthorizationToken and decodes the first authorization data.
func (c *Client) Login(ctx context.Context) (Credentials, error) {
	out, err := c.api.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return Credentials{}, fmt.Errorf("get ECR authorization token: %w", explain("GetAuthorizationToken", err))
	}
	if len(out.AuthorizationData) == 0 {
		return Credentials{}, errors.New("get ECR authorization token: the answer has no authorization data")
	}
	creds, err := DecodeAuthorizationData(out.AuthorizationData[0])
	if err != nil {
		return Credentials{}, fmt.Errorf("get ECR authorization token: %w", err)
	}
	return creds, nil
}

// DecodeAuthorizationData turns ECR's authorization data into credentials. Errors
// describe what is wrong without including the token.
func DecodeAuthorizationData(d types.AuthorizationData) (Credentials, error) {
	token := aws.ToString(d.AuthorizationToken)
	if token == "" {
		return Credentials{}, errors.New("authorization token is empty")
	}
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return Credentials{}, errors.New("authorization token is not valid base64")
	}
	user, password, ok := strings.Cut(string(raw), ":")
	if !ok {
		return Credentials{}, errors.New("authorization token does not have the form USER:PASSWORD")
	}
	if user != "AWS" {
		return Credentials{}, fmt.Errorf("authorization token user is %q, expected AWS", user)
	}
	if password == "" {
		return Credentials{}, errors.New("authorization token has an empty password")
	}
	endpoint := aws.ToString(d.ProxyEndpoint)
	host := endpoint
	if strings.Contains(endpoint, "://") {
		u, err := url.Parse(endpoint)
		if err != nil || u.Host == "" {
			return Credentials{}, fmt.Errorf("proxy endpoint %q is not a URL", endpoint)
		}
		host = u.Host
	}
	host = strings.TrimSuffix(host, "/")
	if host == "" {
		return Credentials{}, errors.New("authorization data has no proxy endpoint")
	}
	return Credentials{Username: user, Password: Secret(password), Registry: host, ExpiresAt: aws.ToTime(d.ExpiresAt)}, nil
}
