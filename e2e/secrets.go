package main

import (
	"crypto/rand"
	"encoding/base64"
	"math/big"
	"sort"
	"strings"
)

// Planted are the secret values of one run: every output is searched for them.
type Planted struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	CosignPassword  string
	ECRPassword     string
	// CosignKey is the body of the generated private key (its longest base64 line).
	CosignKey string
}

// NewPlanted makes fresh random values, shaped like the real ones.
func NewPlanted() Planted {
	return Planted{
		AccessKeyID:     "AKIA" + randomString("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
		SecretAccessKey: randomString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40),
		SessionToken:    "IQoJb3JpZ2luX2VjE" + randomString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 80),
		CosignPassword:  "e2e-cosign-" + randomString("abcdefghijklmnopqrstuvwxyz0123456789", 24),
		ECRPassword:     "e2e-ecr-" + randomString("abcdefghijklmnopqrstuvwxyz0123456789", 32),
	}
}

// values names every planted value and the encodings in which it could leak (the ECR
// password travels base64-encoded in Docker configurations).
func (p Planted) values() map[string]string {
	out := map[string]string{
		"AWS access key ID":                      p.AccessKeyID,
		"AWS secret access key":                  p.SecretAccessKey,
		"AWS session token":                      p.SessionToken,
		"cosign key password":                    p.CosignPassword,
		"ECR password":                           p.ECRPassword,
		"ECR password (Docker config auth)":      base64.StdEncoding.EncodeToString([]byte("AWS:" + p.ECRPassword)),
		"cosign private key":                     p.CosignKey,
		"AWS secret access key (URL-encoded /+)": strings.NewReplacer("/", "%2F", "+", "%2B").Replace(p.SecretAccessKey),
	}
	for k, v := range out {
		if len(v) < 8 {
			delete(out, k) // unset, or too short to search for without false hits
		}
	}
	return out
}

// Leaks names the planted values found in text (never the values themselves).
func (p Planted) Leaks(text string) []string {
	var found []string
	for name, v := range p.values() {
		if strings.Contains(text, v) {
			found = append(found, name)
		}
	}
	sort.Strings(found)
	return dedupe(found)
}

// Env is the environment through which the values reach the dagger CLI (env:NAME secrets).
func (p Planted) Env() []string {
	return []string{
		"E2E_AWS_ACCESS_KEY_ID=" + p.AccessKeyID,
		"E2E_AWS_SECRET_ACCESS_KEY=" + p.SecretAccessKey,
		"E2E_AWS_SESSION_TOKEN=" + p.SessionToken,
		"E2E_COSIGN_PASSWORD=" + p.CosignPassword,
	}
}

// longestLine is the longest line of a PEM file: part of the key body.
func longestLine(pem string) string {
	best := ""
	for _, l := range strings.Split(pem, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "-----") && len(l) > len(best) {
			best = l
		}
	}
	return best
}

func dedupe(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func randomString(alphabet string, n int) string {
	var b strings.Builder
	max := big.NewInt(int64(len(alphabet)))
	for range n {
		i, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		b.WriteByte(alphabet[i.Int64()])
	}
	return b.String()
}
