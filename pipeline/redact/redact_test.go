package redact

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAccessKeyIDs(t *testing.T) {
	tests := []struct {
		name, in, masked string
	}{
		{"long-term key", "AKIAIOSFODNN7EXAMPLE", "AKIA****************"},
		{"temporary key", "key=ASIAIOSFODNN7EXAMPLE;", "key=ASIA****************;"},
		{"STS bearer token", "ABIAIOSFODNN7EXAMPLE", "ABIA****************"},
		{"context credential", "x ACCAIOSFODNN7EXAMPLE y", "x ACCA**************** y"},
		{"two keys", "AKIAIOSFODNN7EXAMPLE,ASIAIOSFODNN7EXAMPL2", "AKIA****************,ASIA****************"},
		{"role unique ID is no credential", "AROAIOSFODNN7EXAMPLE", "AROAIOSFODNN7EXAMPLE"},
		{"part of a longer word", "XAKIAIOSFODNN7EXAMPLE", "XAKIAIOSFODNN7EXAMPLE"},
		{"too long", "AKIAIOSFODNN7EXAMPLE1", "AKIAIOSFODNN7EXAMPLE1"},
		{"too short", "AKIAIOSFODNN7EXAMPL", "AKIAIOSFODNN7EXAMPL"},
		{"lower case", "akiaiosfodnn7example", "akiaiosfodnn7example"},
		{"followed by underscore", "AKIAIOSFODNN7EXAMPLE_x", "AKIAIOSFODNN7EXAMPLE_x"},
		{"empty", "", ""},
	}
	// The regular expression the report masking used, which the scanner must agree with.
	ref := regexp.MustCompile(`\b(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.masked, MaskAccessKeyIDs(tt.in))
			assert.Equal(t, tt.masked != tt.in, ContainsAccessKeyID(tt.in))
			assert.Equal(t, ref.ReplaceAllString(tt.in, "$1****************"), MaskAccessKeyIDs(tt.in))
			assert.Len(t, AccessKeyIDs(tt.in), len(ref.FindAllStringIndex(tt.in, -1)))
		})
	}
}

func TestContainsPrivateKey(t *testing.T) {
	ref := regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`)
	for _, in := range []string{
		"-----BEGIN RSA PRIVATE KEY-----\nMIIE",
		"x -----BEGIN PRIVATE KEY-----",
		"-----BEGIN ENCRYPTED PRIVATE KEY-----",
		"-----BEGIN OPENSSH PRIVATE KEY-----",
		"-----BEGIN PUBLIC KEY-----",
		"-----BEGIN CERTIFICATE----- -----BEGIN EC PRIVATE KEY-----",
		"-----BEGIN rsa PRIVATE KEY-----",
		"-----BEGIN RSA PRIVATE KEY----",
		"-----BEGIN RSA PRIVATE KEYS-----",
		"-----BEGIN -----BEGIN RSA PRIVATE KEY-----",
		"",
	} {
		t.Run(in, func(t *testing.T) {
			assert.Equal(t, ref.MatchString(in), ContainsPrivateKey(in))
		})
	}
	assert.True(t, ContainsPrivateKey("-----BEGIN EC PRIVATE KEY-----"))
	assert.False(t, ContainsPrivateKey("-----BEGIN PUBLIC KEY-----"))
}
