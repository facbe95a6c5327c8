package redact

import "strings"

// MaskText replaces what looks like a credential in free text (a task's log line, a command
// line) with ***: the whole text when it holds a PEM private key; the user information and
// credential parameters of a URL (MaskURLCredentials); a word shaped like an access key ID,
// an API token or a long random string; and the value of a key=value, key = value,
// key: value or --key value pair whose key names a credential (password, token, secret, ...) unless the
// value cannot be one (true, a path after token_file=, ...). The rules are the task
// definition checks' (SecretReason).
func MaskText(line string) string {
	if ContainsPrivateKey(line) {
		return "*** (a private key)"
	}
	line = MaskURLCredentials(line)
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return line
	}
	masked := false
	nextIsValue, prev := "", ""
	for i, f := range fields {
		word := strings.Trim(f, `"',;{}[]()`)
		switch {
		case nextIsValue != "":
			if SecretReason(nextIsValue, word) != "" {
				fields[i], masked = "***", true
			}
			nextIsValue = ""
			continue
		case word == "=" || word == ":": // key = value, key : value
			nextIsValue = strings.Trim(prev, `"`)
			continue
		case strings.HasPrefix(word, "-") && !strings.Contains(word, "=") && credentialWord(strings.ToUpper(strings.ReplaceAll(word, "-", "_"))) != "":
			nextIsValue = word // a command line's --password value
			continue
		case strings.HasSuffix(word, ":") || strings.HasSuffix(f, `":`) || strings.HasSuffix(word, "="):
			nextIsValue = strings.Trim(strings.TrimRight(word, ":="), `"`)
			continue
		}
		prev = word
		// A field may hold several pairs: {"a":"b","token":"c"} or a=b,c=d.
		parts := strings.Split(f, ",")
		for j, part := range parts {
			if m, ok := maskWord(part); ok {
				parts[j], masked = m, true
			}
		}
		fields[i] = strings.Join(parts, ",")
	}
	if !masked {
		return line
	}
	return strings.Join(fields, " ")
}

// maskWord masks one word or key=value pair; ok is false when nothing looked like a secret.
func maskWord(part string) (string, bool) {
	word := strings.Trim(part, `"',;{}[]()`)
	if k, v, ok := cutPair(word); ok && v != "" && SecretReason(k, v) != "" {
		return strings.Trim(k, `"`) + "=***", true
	}
	if word != "" && SecretReason("", word) != "" {
		return "***", true
	}
	return part, false
}

// cutPair splits key=value or "key":"value".
func cutPair(word string) (string, string, bool) {
	if k, v, ok := strings.Cut(word, "="); ok {
		return k, strings.Trim(v, `"`), true
	}
	if k, v, ok := strings.Cut(word, `":`); ok {
		return strings.Trim(k, `"`), strings.Trim(v, `"`), true
	}
	return "", "", false
}
