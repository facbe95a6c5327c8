package redact

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"
)

// awsCredentialVariables are the environment variables the AWS SDKs and the ECS agent read
// credentials from: the three Security Hub ECS.8 checks (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, ECS_ENGINE_AUTH_DATA) and the session token that goes with a
// temporary key.
var awsCredentialVariables = map[string]bool{
	"AWS_ACCESS_KEY_ID":     true,
	"AWS_SECRET_ACCESS_KEY": true,
	"AWS_SESSION_TOKEN":     true,
	"ECS_ENGINE_AUTH_DATA":  true,
}

// AWSCredentialVariable reports whether name (in any case) is an environment variable that
// carries AWS credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN or
// ECS_ENGINE_AUTH_DATA.
func AWSCredentialVariable(name string) bool {
	return awsCredentialVariables[strings.ToUpper(name)]
}

// credentialWords are the name parts that say a variable holds a credential, most specific
// first (the reason names the first that matches).
var credentialWords = []string{
	"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN",
	"PRIVATE_KEY", "PRIVATEKEY", "API_KEY", "APIKEY", "ACCESS_KEY", "ACCESSKEY",
	"CREDENTIAL", "AUTH_DATA",
}

// Reference suffixes: a credential-like name ending in one of them points at a secret (or
// describes one) rather than holding it, provided its value looks like what the suffix names.
var (
	// locationSuffixes name where a secret is or what it is called: their value is a URL,
	// a path or an identifier.
	locationSuffixes = []string{"ARN", "FILE", "PATH", "NAME", "ID", "PARAM", "PARAMETER", "URL", "URI", "HEADER"}
	// quantitySuffixes describe a secret's lifetime or shape: their value is a number, a
	// duration or a date.
	quantitySuffixes = []string{"TTL", "TIMEOUT", "EXPIRY", "EXPIRES", "EXPIRATION", "LIFETIME",
		"AGE", "INTERVAL", "DURATION", "SECONDS", "MINUTES", "HOURS", "DAYS",
		"LENGTH", "LEN", "SIZE", "COUNT", "LIMIT", "PORT"}
	// quantityWords, as a whole part of a name, make it a quantity too: MAX_TOKENS,
	// LLM_MIN_TOKENS, NUM_TOKENS count tokens, they hold none.
	quantityWords = []string{"MAX", "MIN", "NUM"}
)

var (
	tokenRE      = regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,}|xox[abeprs]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{20,})`)
	arnRE        = regexp.MustCompile(`^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:([0-9]{12})?:\S+$`)
	flagRE       = regexp.MustCompile(`(?i)^(true|false|yes|no|on|off|none|null|0|1)$`)
	identifierRE = regexp.MustCompile(`^[A-Za-z0-9_.:/@+~-]+$`)
	urlRE        = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://\S+$`)
	quantityRE   = regexp.MustCompile(`(?i)^-?([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h|d|w|sec|secs|min|mins|hours?|days?|seconds?|minutes?)?)+$`)
	userinfoRE   = regexp.MustCompile(`^[^/@]*:[^/@]*@`)
	dateRE       = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$`)
)

// SecretReason says why a variable (a container environment variable, a Dockerfile ARG or
// ENV, a key=value pair in a log line) looks like a credential held in plain text, or ""
// when it does not. The reason follows the variable's name in a message ("DB_PASSWORD has a
// credential-like name (contains PASSWORD) ...") and never contains the value. name may be
// empty, to judge a bare value.
//
// It is the pipeline's one heuristic: the task definition renderer refuses what it reports,
// the policy rules FG-TD-013, FG-TD-014 and FG-DF-005 flag it, and the canonical task
// definition and the task log excerpts mask it. The decision, in order:
//
//  1. An AWS credential variable (AWSCredentialVariable) is a secret whatever its value,
//     empty included: Security Hub ECS.8 reports the name alone.
//  2. A value that holds a credential is a secret whatever the name, a reference suffix
//     such as _FILE or _ARN included: an AWS access key ID (ContainsAccessKeyID); a PEM
//     private key (ContainsPrivateKey); a GitHub (ghp_, gho_, ghu_, ghs_, ghr_,
//     github_pat_), Slack (xoxb-, xoxp-, xoxa-, xoxe-, xoxr-, xoxs-) or GitLab (glpat-)
//     token; or a long high-entropy value: once trimmed, 32 or more characters without
//     white space, with lower-case and upper-case letters and digits, and at least 4.5 bits
//     of entropy per character (hex digests, words, most URLs and paths fall below). An ARN
//     is not held to the entropy test: its resource part routinely ends in random
//     characters (Secrets Manager's "-AbCdEf"), and an ARN is what secrets[].valueFrom holds.
//  3. A name that contains a credential word (PASSWORD, PASSWD, PASSPHRASE, SECRET, TOKEN,
//     PRIVATE_KEY, PRIVATEKEY, API_KEY, APIKEY, ACCESS_KEY, ACCESSKEY, CREDENTIAL,
//     AUTH_DATA; in any case, "-" read as "_") is a secret unless its trimmed value cannot
//     be a secret held in plain text: it is empty, a flag word (true, false, yes, no, on,
//     off, none, null, in any case, or a lone 0 or 1: SECRETS_ENABLED=1) or an ARN
//     (arn:partition:service:region:account:...); after a location suffix (_ARN, _FILE, _PATH, _NAME, _ID, _PARAM,
//     _PARAMETER, _URL, _URI, _HEADER) it is a URL with no user information and no
//     credential-named query parameter with a value, or a path or identifier (letters,
//     digits and _ . : / @ + ~ -, not shaped like user:password@host); after a quantity
//     suffix (_TTL, _TIMEOUT, _EXPIRY, _EXPIRES, _EXPIRATION, _LIFETIME, _AGE, _INTERVAL,
//     _DURATION, _SECONDS, _MINUTES, _HOURS, _DAYS, _LENGTH, _LEN, _SIZE, _COUNT, _LIMIT,
//     _PORT), or in a name with a part MAX, MIN or NUM (MAX_TOKENS counts tokens), it is a
//     number, a duration (30s, 1h30m) or a date.
//     Anything else is a secret: a digits-only DB_PASSWORD is one (a PIN is a password),
//     and so is TOKEN_TTL=hunter2.
//  4. Any other variable is not a secret.
func SecretReason(name, value string) string {
	if AWSCredentialVariable(name) {
		return "is an AWS credential variable (Security Hub ECS.8)"
	}
	if why := secretValueReason(value); why != "" {
		return why
	}
	norm := strings.ReplaceAll(strings.ToUpper(name), "-", "_")
	word := credentialWord(norm)
	if word == "" || harmless(norm, strings.TrimSpace(value)) {
		return ""
	}
	return fmt.Sprintf("has a credential-like name (contains %s) and looks like a secret held in plain text", word)
}

// secretValueReason is rule 2 of SecretReason: the value alone holds a credential.
func secretValueReason(value string) string {
	v := strings.TrimSpace(value)
	switch {
	case ContainsAccessKeyID(value):
		return "has a value shaped like an AWS access key ID"
	case ContainsPrivateKey(value):
		return "has a value containing a PEM private key"
	case tokenRE.MatchString(value):
		return "has a value shaped like an API token (GitHub, GitLab or Slack)"
	case !arnRE.MatchString(v) && highEntropy(v):
		return "has a long high-entropy value that looks like a secret"
	}
	return ""
}

// credentialWord is the first credential word in an upper-case name, or "".
func credentialWord(upper string) string {
	for _, w := range credentialWords {
		if strings.Contains(upper, w) {
			return w
		}
	}
	return ""
}

// harmless is rule 3's exemptions: the trimmed value of a credential-like name (upper case,
// "-" read as "_") cannot be a secret held in plain text.
func harmless(upper, v string) bool {
	switch {
	case v == "", flagRE.MatchString(v), arnRE.MatchString(v):
		return true
	case hasSuffix(upper, locationSuffixes):
		return identifierRE.MatchString(v) && !urlRE.MatchString(v) && !userinfoRE.MatchString(v) || plainURL(v)
	case hasSuffix(upper, quantitySuffixes) || hasPart(upper, quantityWords):
		return quantityRE.MatchString(v) || dateRE.MatchString(v)
	}
	return false
}

// hasPart reports whether one of the "_"-separated parts of upper is one of words.
func hasPart(upper string, words []string) bool {
	for _, p := range strings.Split(upper, "_") {
		for _, w := range words {
			if p == w {
				return true
			}
		}
	}
	return false
}

func hasSuffix(upper string, suffixes []string) bool {
	for _, s := range suffixes {
		if strings.HasSuffix(upper, "_"+s) {
			return true
		}
	}
	return false
}

// plainURL reports whether v is a URL that carries no credential: no user information
// (https://user:password@host, or a token as the user) and no query parameter with a
// credential-like name and a value (?access_token=...).
func plainURL(v string) bool {
	if !urlRE.MatchString(v) {
		return false
	}
	u, err := url.Parse(v)
	if err != nil || u.User != nil {
		return false
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return false
	}
	for k, vals := range q {
		if credentialWord(strings.ReplaceAll(strings.ToUpper(k), "-", "_")) == "" {
			continue
		}
		for _, x := range vals {
			if x != "" {
				return false
			}
		}
	}
	return true
}

// highEntropy is true for long strings without white space whose characters are close to
// random (base64-like secrets). Hex digests (at most 4 bits per character) and ordinary
// words, URLs and paths fall below the threshold.
func highEntropy(s string) bool {
	if len(s) < 32 || strings.ContainsAny(s, " \t\n\r") {
		return false
	}
	var classes int
	for _, set := range []string{"abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789"} {
		if strings.ContainsAny(s, set) {
			classes++
		}
	}
	if classes < 3 {
		return false
	}
	counts := map[rune]int{}
	for _, r := range s {
		counts[r]++
	}
	var h float64
	n := float64(len([]rune(s)))
	for _, c := range counts {
		p := float64(c) / n
		h -= p * math.Log2(p)
	}
	return h >= 4.5
}

// urlInTextRE finds URLs in free text (a log line, a message).
var urlInTextRE = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+`)

// MaskURLCredentials replaces the credentials URLs in s carry with ***: the user
// information (https://user:password@host, or a token as the user) and the value of each
// query parameter with a credential-like name (?access_token=...). The rest of s, and of
// each URL, is left as it is.
func MaskURLCredentials(s string) string {
	return urlInTextRE.ReplaceAllStringFunc(s, func(raw string) string {
		scheme, rest, _ := strings.Cut(raw, "://")
		authority, path, hasPath := strings.Cut(rest, "/")
		if at := strings.LastIndex(authority, "@"); at >= 0 {
			authority = "***" + authority[at:]
		}
		out := scheme + "://" + authority
		if hasPath {
			out += "/" + path
		}
		base, query, hasQuery := strings.Cut(out, "?")
		if !hasQuery {
			return out
		}
		params := strings.Split(query, "&")
		for i, p := range params {
			k, v, ok := strings.Cut(p, "=")
			if ok && v != "" && credentialWord(strings.ReplaceAll(strings.ToUpper(k), "-", "_")) != "" {
				params[i] = k + "=***"
			}
		}
		return base + "?" + strings.Join(params, "&")
	})
}
