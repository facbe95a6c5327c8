package policy

import (
	"fmt"
	"strings"
)

// Checks of iam:PassRole grants and of role trust policies.

func checkPassRoleCondition(v *iamView) []hit {
	var out []hit
	for i, s := range allows(v) {
		if !GrantsAction(s, "iam:PassRole") {
			continue
		}
		vals := s.Condition.requires("iam:PassedToService")
		named := len(vals) > 0
		for _, cv := range vals {
			if matchesAll(cv) {
				named = false
			}
		}
		if !named {
			out = append(out, hit{message: fmt.Sprintf("%s allows iam:PassRole without an iam:PassedToService condition naming the service", stmtName(i, s)), line: s.Line})
		}
	}
	return out
}

func checkPassRoleResource(v *iamView) []hit {
	var out []hit
	for i, s := range allows(v) {
		if !GrantsAction(s, "iam:PassRole") {
			continue
		}
		for _, r := range s.Resource {
			if wildcardResource(r) {
				out = append(out, hit{message: fmt.Sprintf("%s allows iam:PassRole on %q, i.e. on every role", stmtName(i, s), r), line: s.Line})
			}
		}
	}
	return out
}

// gitHubOIDCHost is the issuer of GitHub Actions OIDC tokens. A GitHub Enterprise Cloud
// organisation may use "token.actions.githubusercontent.com/<enterprise>"; the condition keys
// are then prefixed with that whole path.
const gitHubOIDCHost = "token.actions.githubusercontent.com"

// gitHubProvider returns the condition-key prefix of the GitHub OIDC provider a statement
// trusts, if it trusts one.
func gitHubProvider(s Statement) (string, bool) {
	for _, f := range s.Principal.Values("Federated") {
		p := f
		if _, after, ok := strings.Cut(f, ":oidc-provider/"); ok {
			p = after
		}
		if p == gitHubOIDCHost || strings.HasPrefix(p, gitHubOIDCHost+"/") {
			return p, true
		}
	}
	return "", false
}

func checkGitHubAudience(v *iamView) []hit {
	var out []hit
	for i, s := range allows(v) {
		prefix, ok := gitHubProvider(s)
		if !ok {
			continue
		}
		vals := s.Condition.requires(prefix + ":aud")
		good := len(vals) > 0
		for _, cv := range vals {
			if cv.value != "sts.amazonaws.com" {
				good = false
			}
		}
		if !good {
			out = append(out, hit{message: fmt.Sprintf("%s trusts GitHub Actions OIDC tokens without requiring %s:aud to be sts.amazonaws.com", stmtName(i, s), prefix), line: s.Line})
		}
	}
	return out
}

// subjectScope says how much of GitHub a sub condition value admits.
type subjectScope int

const (
	subjectNamed   subjectScope = iota // one repository (any wildcard comes after it)
	subjectAnyRepo                     // any repository of a named owner: repo:org/*
	subjectAnyone                      // any owner: *, repo:*, repo:o*/x
)

// scopeOfSubject classifies a sub value. GitHub's subjects start with "repo:OWNER/REPO:"; a
// value whose wildcard comes before the owner is complete admits every GitHub user's workflows.
func scopeOfSubject(v condValue) subjectScope {
	if !v.like || !strings.ContainsAny(v.value, "*?") {
		return subjectNamed
	}
	lit := v.value[:strings.IndexAny(v.value, "*?")]
	if strings.HasPrefix("repo:", lit) {
		return subjectAnyone // "*", "rep*", "repo:*"
	}
	rest, ok := strings.CutPrefix(v.value, "repo:")
	if !ok {
		return subjectNamed // a customised subject format this check does not interpret
	}
	ownerRepo, _, _ := strings.Cut(rest, ":")
	owner, repo, ok := strings.Cut(ownerRepo, "/")
	switch {
	case !ok || strings.ContainsAny(owner, "*?"):
		return subjectAnyone
	case strings.ContainsAny(repo, "*?"):
		return subjectAnyRepo
	}
	return subjectNamed
}

func checkGitHubSubject(v *iamView) []hit {
	var out []hit
	for i, s := range allows(v) {
		prefix, ok := gitHubProvider(s)
		if !ok {
			continue
		}
		vals := s.Condition.requires(prefix + ":sub")
		if len(vals) == 0 {
			out = append(out, hit{message: fmt.Sprintf("%s trusts GitHub Actions OIDC tokens with no %s:sub condition: a workflow of any GitHub repository can assume the role", stmtName(i, s), prefix), line: s.Line})
			continue
		}
		for _, cv := range vals {
			if scopeOfSubject(cv) == subjectAnyone {
				out = append(out, hit{message: fmt.Sprintf("%s admits GitHub subject %q, which matches repositories of any owner", stmtName(i, s), cv.value), line: s.Line})
			}
		}
	}
	return out
}

func checkGitHubSubjectRepository(v *iamView) []hit {
	var out []hit
	for i, s := range allows(v) {
		prefix, ok := gitHubProvider(s)
		if !ok {
			continue
		}
		for _, cv := range s.Condition.requires(prefix + ":sub") {
			if scopeOfSubject(cv) == subjectAnyRepo {
				out = append(out, hit{message: fmt.Sprintf("%s admits GitHub subject %q, which matches every repository of the owner", stmtName(i, s), cv.value), line: s.Line})
			}
		}
	}
	return out
}

func checkTrustEveryone(v *iamView) []hit {
	var out []hit
	for i, s := range allows(v) {
		if len(s.Condition) > 0 {
			continue
		}
		switch {
		case s.Principal.Everyone():
			out = append(out, hit{message: fmt.Sprintf("%s lets any principal assume the role, with no condition", stmtName(i, s)), line: s.Line})
		case s.NotPrincipal != nil:
			out = append(out, hit{message: fmt.Sprintf("%s lets every principal but the NotPrincipal assume the role, with no condition", stmtName(i, s)), line: s.Line})
		}
	}
	return out
}

func checkPolicyVersion(v *iamView) []hit {
	switch v.doc.Version {
	case PolicyVersion:
		return nil
	case "":
		return []hit{{message: fmt.Sprintf("the policy has no Version: IAM reads it as 2008-10-17; set %q", PolicyVersion)}}
	}
	return []hit{{message: fmt.Sprintf("the policy's Version is %q; set %q", v.doc.Version, PolicyVersion)}}
}
