package redact

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSecretReason(t *testing.T) {
	const (
		keyID   = "AKIAIOSFODNN7EXAMPLE"
		pem     = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
		random  = "q8Zr4Xw2LmN7vB1cK9sD3fG6hJ0pT5yU2iO8aE4rW7tY"
		ghp     = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
		smARN   = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:MyApp-Prod-DbCredentials-7hXq2B"
		aws     = "AWS credential variable"
		name    = "credential-like name"
		value   = "looks like a secret held in plain text"
		entropy = "high-entropy"
		token   = "API token"
	)
	tests := []struct {
		desc, name, value string
		want              string // a part of the reason; "" for no secret
	}{
		// AWS credential variables: whatever the value, empty included.
		{"AWS key ID variable", "AWS_ACCESS_KEY_ID", keyID, aws},
		{"AWS secret key variable", "AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", aws},
		{"AWS secret key, short value", "AWS_SECRET_ACCESS_KEY", "x", aws},
		{"AWS session token", "AWS_SESSION_TOKEN", "FwoGZXIvYXdzEJr", aws},
		{"AWS session token, empty", "AWS_SESSION_TOKEN", "", aws},
		{"ECS agent auth data", "ECS_ENGINE_AUTH_DATA", "{}", aws},
		{"AWS variable in lower case", "aws_access_key_id", "abc", aws},

		// A credential value is a secret whatever the name.
		{"key ID under an innocent name", "UPSTREAM", "key=" + keyID, "AWS access key ID"},
		{"key ID, bare", "CONFIG", "AKIAABCDEFGHIJKLMNOP", "AWS access key ID"},
		{"STS bearer token", "BEARER_CFG", "ABIAIOSFODNN7EXAMPLE", "AWS access key ID"},
		{"context credential", "CONTEXT_CFG", "id=ACCAIOSFODNN7EXAMPLE", "AWS access key ID"},
		{"key ID under a _FILE name", "TOKEN_FILE", keyID, "AWS access key ID"},
		{"key ID in an ARN", "SECRET_ARN", "arn:aws:iam::123456789012:user/" + keyID, "AWS access key ID"},
		{"private key", "TLS_CERT_BODY", pem, "PEM private key"},
		{"private key, short", "TLS", "-----BEGIN RSA PRIVATE KEY-----\nMIIE", "PEM private key"},
		{"private key under a _PATH name", "PRIVATE_KEY_PATH", pem, "PEM private key"},
		{"GitHub token", "CONFIG", ghp, token},
		{"GitHub OAuth token", "X", "gho_abcdefghijklmnopqrstuvwxyz0123456789", token},
		{"GitHub fine-grained token", "X", "github_pat_11ABCDEFG0123456789_abcdefghijkl", token},
		{"Slack bot token", "HOOK", "xoxb-123456789012-abcdefghij", token},
		{"GitLab token", "X", "glpat-abcdefghij0123456789", token},
		{"token under a _FILE name", "GITHUB_TOKEN_FILE", ghp, token},
		{"high entropy", "SIGNING", random, entropy},
		{"high entropy under a _FILE name", "CONFIG_FILE", random, entropy},
		{"high entropy under a _URL name", "TOKEN_URL", random, entropy},
		{"high entropy with a trailing newline", "SIGNING", random + "\n", entropy},
		{"high entropy, bare (log masking)", "", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY0aZ9", entropy},
		{"key ID, bare (log masking)", "", keyID, "AWS access key ID"},

		// Ordinary values under ordinary names.
		{"URL", "UPSTREAM_URL", "https://api.internal.example.com/v1/payments/endpoint", ""},
		{"git SHA", "GIT_SHA", "9fceb02d0ae598e95dc970b74767f19372d61af8", ""},
		{"image digest", "IMAGE", "registry.example.com/app@sha256:" + strings.Repeat("ab", 32), ""},
		{"word", "MODE", "production", ""},
		{"high-entropy ARN", "QUEUE", smARN, ""},
		{"role unique ID", "ROLE", "AROAIOSFODNN7EXAMPLE", ""},
		{"no name, word", "", "hunter2", ""},
		{"no name, empty", "", "", ""},
		{"xoxo is a word", "GREETING", "xoxo-everyone-here", ""},

		// Credential-like names hold a secret...
		{"password", "DB_PASSWORD", "hunter2-not-shown", "contains PASSWORD"},
		{"password, reason", "DB_PASSWORD", "hunter2", value},
		{"digits-only password", "DB_PASSWORD", "123456", "contains PASSWORD"},
		{"passwd", "MYSQL_PASSWD", "x", "contains PASSWD"},
		{"passphrase", "GPG_PASSPHRASE", "correct horse battery staple", "contains PASSPHRASE"},
		{"secret", "API_SECRET", "plain-value-xyz", "contains SECRET"},
		{"client secret in lower case", "oauth_client_secret", "abc", "contains SECRET"},
		{"token", "GITHUB_TOKEN", "ghp_value_abc", "contains TOKEN"},
		{"short token", "GITHUB_TOKEN", "abc123", "contains TOKEN"},
		{"API key", "STRIPE_API_KEY", "sk_live_abc", "contains API_KEY"},
		{"apikey", "SENDGRID_APIKEY", "SG.x", "contains APIKEY"},
		{"private key name", "JWT_PRIVATE_KEY", "k", "contains PRIVATE_KEY"},
		{"privatekey", "privateKey", "k", "contains PRIVATEKEY"},
		{"access key", "MINIO_ACCESS_KEY", "minioadmin", "contains ACCESS_KEY"},
		{"accesskey", "accessKey", "minioadmin", "contains ACCESSKEY"},
		{"credential", "DB_CREDENTIALS", "user:pass", "contains CREDENTIAL"},
		{"auth data", "REGISTRY_AUTH_DATA", "{}", "contains AUTH_DATA"},
		{"dashes read as underscores", "api-key", "abc", "contains API_KEY"},
		{"log key", "token", "s3cr3t-value", name},
		{"not a reference suffix", "SECRET_KEY_BASE", "abcdef", name},
		{"suffix in the middle", "TOKEN_URL_OVERRIDE", "abc", name},
		{"white space around a password", "DB_PASSWORD", " hunter2 ", name},
		{"not quite an ARN", "DB_SECRET", "arn:aws:x", name},
		{"ARN of another cloud", "DB_SECRET", "arn:gcp:secret:x:y:z", name},
		{"TTL that is no number", "TOKEN_TTL", "abc", name},
		{"timeout with a word", "TOKEN_TIMEOUT", "30s-or-so", name},
		{"URL with a password", "TOKEN_URL", "https://user:pass@auth.example.com/x", name},
		{"URL with a token as the user", "TOKEN_URL", "https://ghtoken@github.com/o/r.git", name},
		{"URL with a token parameter", "TOKEN_URL", "https://auth.example.com/cb?access_token=abc", name},
		{"identifier with user information", "DB_PASSWORD_ID", "app:hunter2@db", name},
		{"no reference suffix", "SECRET_HOST", "vault.internal", name},
		{"identifier with punctuation", "SECRET_NAME", "p@ss w0rd!", name},
		{"path with a space", "TOKEN_PATH", "/run/my secrets/t", name},
		{"two digits are a number, not a flag", "SECRETS_ENABLED", "10", name},

		// ... unless the value cannot be a secret held in plain text.
		{"empty", "DB_PASSWORD", "", ""},
		{"white space", "DB_PASSWORD", "  ", ""},
		{"true", "USE_SECRETS", "true", ""},
		{"1 is a flag", "SECRETS_ENABLED", "1", ""},
		{"0 is a flag", "TOKEN_AUTH", " 0 ", ""},
		{"TRUE", "USE_SECRETS", "TRUE", ""},
		{"false", "TOKEN_AUTH", "false", ""},
		{"yes", "TOKEN_AUTH", "yes", ""},
		{"no", "TOKEN_AUTH", "No", ""},
		{"on", "TOKEN_AUTH", "on", ""},
		{"off", "TOKEN_AUTH", "off", ""},
		{"none", "TOKEN_AUTH", "none", ""},
		{"null", "TOKEN_AUTH", "null", ""},
		{"Secrets Manager ARN", "DB_SECRET", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x", ""},
		{"high-entropy Secrets Manager ARN", "DB_SECRET", smARN, ""},
		{"SSM parameter ARN", "API_KEY", "arn:aws:ssm:eu-west-1:123456789012:parameter/app/k", ""},
		{"GovCloud ARN", "DB_PASSWORD", "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:db", ""},
		{"S3 ARN", "TOKEN_BUCKET", "arn:aws:s3:::bucket/key", ""},
		{"_FILE path", "TOKEN_FILE", "/run/secrets/t", ""},
		{"_FILE relative path", "DB_PASSWORD_FILE", "./secrets/db.txt", ""},
		{"_PATH", "SECRET_PATH", "secret/data/app", ""},
		{"_DIR is no reference suffix", "SECRETS_DIR", "/run/secrets", name},
		{"_ARN", "DB_SECRET_ARN", smARN, ""},
		{"_NAME", "DB_SECRET_NAME", "prod/db", ""},
		{"_ID", "SECRET_ID", "prod-db", ""},
		{"_ID digits", "API_KEY_ID", "12345", ""},
		{"_PARAM", "API_KEY_PARAM", "/app/api-key", ""},
		{"_PARAMETER", "API_KEY_PARAMETER", "/app/api-key", ""},
		{"_URL", "TOKEN_URL", "https://auth.example.com/oauth/token", ""},
		{"_URL with a harmless query", "TOKEN_URL", "https://auth.example.com/oauth/token?grant=client&token=", ""},
		{"_URI", "SECRETS_URI", "vault://secret/app", ""},
		{"_HEADER", "API_KEY_HEADER", "X-Api-Key", ""},
		{"_TTL", "TOKEN_TTL", "3600", ""},
		{"_TTL duration", "TOKEN_TTL", "1h30m", ""},
		{"_LENGTH", "PASSWORD_MIN_LENGTH", "12", ""},
		{"_TIMEOUT", "TOKEN_TIMEOUT", "30s", ""},
		{"_TIMEOUT decimal", "TOKEN_TIMEOUT", "2.5", ""},
		{"_EXPIRY", "TOKEN_EXPIRY", "-1", ""},
		{"_EXPIRY date", "TOKEN_EXPIRY", "2026-06-01T00:00:00Z", ""},
		{"_DAYS", "SECRET_ROTATION_DAYS", "30", ""},
		{"_PORT", "SECRETS_PORT", "8200", ""},
		{"lower-case suffix", "token_file", "/run/secrets/t", ""},
		{"a count of tokens", "MAX_TOKENS", "100", ""},
		{"a count of tokens, prefixed", "LLM_MAX_TOKENS", "4096", ""},
		{"NUM part", "NUM_TOKENS", "8", ""},
		{"a MAX name holds no word", "MAX_TOKENS", "abc", name},
		{"MAX inside a word is no part", "MAXTOKEN", "100", name},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got := SecretReason(tt.name, tt.value)
			if tt.want == "" {
				assert.Empty(t, got)
				return
			}
			assert.Contains(t, got, tt.want)
			if len(strings.TrimSpace(tt.value)) > 2 {
				assert.NotContains(t, got, strings.TrimSpace(tt.value), "the reason never shows the value")
			}
		})
	}
}

func TestAWSCredentialVariable(t *testing.T) {
	for _, n := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "ECS_ENGINE_AUTH_DATA", "aws_session_token"} {
		assert.True(t, AWSCredentialVariable(n), n)
	}
	for _, n := range []string{"AWS_REGION", "AWS_ROLE_ARN", "AWS_ACCESS_KEY_ID_FILE", "", "ACCESS_KEY_ID"} {
		assert.False(t, AWSCredentialVariable(n), n)
	}
}

func TestMaskURLCredentials(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"no URL", "applying migration 0003", "applying migration 0003"},
		{"plain URL", "GET https://api.example.com/v1/items?page=2", "GET https://api.example.com/v1/items?page=2"},
		{"password", "connecting to postgres://admin:hunter2@db:5432/app now", "connecting to postgres://***@db:5432/app now"},
		{"token as the user", "cloning https://ghp_x@github.com/o/r.git", "cloning https://***@github.com/o/r.git"},
		{"credential parameter", "callback https://auth.example.com/cb?state=1&access_token=abc&x=", "callback https://auth.example.com/cb?state=1&access_token=***&x="},
		{"empty credential parameter", "https://h/x?token=", "https://h/x?token="},
		{"two URLs", "a=https://u:p@h1/x b=redis://:pw@h2", "a=https://***@h1/x b=redis://***@h2"},
		{"@ in the path is no user", "https://h/users/@me", "https://h/users/@me"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, MaskURLCredentials(tt.in))
		})
	}
}
