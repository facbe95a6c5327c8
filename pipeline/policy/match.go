package policy

import "unicode/utf8"

// The package's one wildcard matcher, in two dialects: IAM's (iamMatch: * and ?), for
// actions and resources, and the plain * of suppressions and ECR registry scanning filters
// (wildcardMatch), whose ? is a literal character.

// iamMatch matches s against an IAM pattern, character by character: * matches any run of
// characters (none included), ? exactly one; everything else only itself.
func iamMatch(pattern, s string) bool { return globMatch(pattern, s, true) }

// wildcardMatch matches s against a pattern where * matches any run of characters and every
// other character, ? included, only itself.
func wildcardMatch(pattern, s string) bool { return globMatch(pattern, s, false) }

// globMatch matches s against pattern character by character: * matches any run of
// characters (none included), ? exactly one when anyOne is set; everything else only itself.
func globMatch(pattern, s string, anyOne bool) bool {
	pi, ri := 0, 0
	star, resume := -1, 0 // the last * seen, and where in s its run ends so far
	for ri < len(s) {
		_, sw := utf8.DecodeRuneInString(s[ri:])
		pc, pw := utf8.RuneError, 0
		if pi < len(pattern) {
			pc, pw = utf8.DecodeRuneInString(pattern[pi:])
		}
		switch {
		case pw > 0 && pc == '*':
			star, resume = pi, ri
			pi += pw
		case pw > 0 && (anyOne && pc == '?' || pattern[pi:pi+pw] == s[ri:ri+sw]):
			pi += pw
			ri += sw
		case star >= 0:
			// Let the last * take one more character and match the rest from there.
			_, w := utf8.DecodeRuneInString(s[resume:])
			resume += w
			pi, ri = star+1, resume
		default:
			return false
		}
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}
