// Package redact recognises credentials: AWS access key IDs, PEM private keys and, in
// SecretReason, variables that hold a credential in plain text, for the checks that refuse them
// (the task definition renderer, the policy rules on container environments and Dockerfiles)
// and the outputs that mask them (the deployment report, task log excerpts). It is the
// pipeline's one definition of what a key ID, a private key and a plaintext secret look like.
package redact

import "strings"

// keyIDLen is the length of an access key ID: a four-letter prefix and 16 characters.
const keyIDLen = 20

// credentialPrefixes are the unique-ID prefixes of AWS identifiers that are credentials:
// AKIA (access key), ASIA (temporary, STS-issued access key), ABIA (AWS STS service bearer
// token) and ACCA (context-specific credential), per "IAM identifiers: unique identifier
// prefixes", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-prefixes.
// Other prefixes (AIDA users, AROA roles, ANPA policies, ...) name principals and are not secret.
// The task definition checks used to know only AKIA and ASIA, the report masking all four.
func credentialPrefixes() [4]string { return [4]string{"AKIA", "ASIA", "ABIA", "ACCA"} }

// AccessKeyIDs returns the byte ranges [start, end) of the access key IDs in s: a credential
// prefix and 16 upper-case letters or digits, as a whole word.
func AccessKeyIDs(s string) [][2]int {
	var out [][2]int
	for i := 0; i+keyIDLen <= len(s); i++ {
		if isKeyAt(s, i) {
			out = append(out, [2]int{i, i + keyIDLen})
			i += keyIDLen - 1
		}
	}
	return out
}

// ContainsAccessKeyID reports whether s holds an access key ID.
func ContainsAccessKeyID(s string) bool {
	for i := 0; i+keyIDLen <= len(s); i++ {
		if isKeyAt(s, i) {
			return true
		}
	}
	return false
}

// MaskAccessKeyIDs replaces the 16 characters after the prefix of every access key ID in s with
// "*", keeping the prefix so a reader can tell which kind of credential leaked.
func MaskAccessKeyIDs(s string) string {
	spans := AccessKeyIDs(s)
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last : sp[0]+4])
		b.WriteString(strings.Repeat("*", keyIDLen-4))
		last = sp[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

func isKeyAt(s string, i int) bool {
	if i > 0 && isWord(s[i-1]) || i+keyIDLen < len(s) && isWord(s[i+keyIDLen]) {
		return false
	}
	prefixed := false
	for _, p := range credentialPrefixes() {
		prefixed = prefixed || s[i:i+4] == p
	}
	if !prefixed {
		return false
	}
	for j := i + 4; j < i+keyIDLen; j++ {
		if c := s[j]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isWord is regexp's \w: an ASCII letter, digit or underscore.
func isWord(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// ContainsPrivateKey reports whether s holds a PEM private key: a "-----BEGIN … PRIVATE
// KEY-----" line of any key type (RSA, EC, OPENSSH, ENCRYPTED, or none): after "-----BEGIN ",
// a run of upper-case letters and spaces that ends in "PRIVATE KEY", then "-----".
func ContainsPrivateKey(s string) bool {
	const begin = "-----BEGIN "
	for rest := s; ; {
		i := strings.Index(rest, begin)
		if i < 0 {
			return false
		}
		rest = rest[i+len(begin):]
		after := strings.TrimLeft(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZ ")
		if strings.HasSuffix(rest[:len(rest)-len(after)], "PRIVATE KEY") && strings.HasPrefix(after, "-----") {
			return true
		}
	}
}
