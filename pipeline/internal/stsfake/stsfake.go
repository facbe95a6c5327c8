// Package stsfake is a wire-level fake of the STS actions the pipeline's credential chain
// calls — AssumeRole and AssumeRoleWithWebIdentity, in the Query protocol with XML answers —
// registered on a fakeaws server. It issues temporary credentials that expire after a set
// lifetime, so tests can watch the SDK renew them, and refuses an unknown role, a wrong
// external ID or an untrusted token with AccessDenied, naming the role but no secret.
package stsfake

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"dagger/fargate/pipeline/internal/fakeaws"
)

// Fake is the STS fake of one test.
type Fake struct {
	srv      *fakeaws.Server
	mu       sync.Mutex
	roles    map[string]string // role ARN → the external ID it requires ("" for none)
	tokens   map[string]bool   // trusted web identity tokens
	lifetime time.Duration
	issued   []Issue
}

// Issue is one set of temporary credentials the fake handed out.
type Issue struct {
	Action, RoleARN, SessionName, AccessKeyID string
	Expires                                   time.Time
}

// New registers the fake's actions on srv. Credentials last an hour unless SetLifetime says
// otherwise.
func New(srv *fakeaws.Server) *Fake {
	f := &Fake{srv: srv, roles: map[string]string{}, tokens: map[string]bool{}, lifetime: time.Hour}
	srv.HandleQuery("sts", "AssumeRole", f.assumeRole)
	srv.HandleQuery("sts", "AssumeRoleWithWebIdentity", f.assumeRoleWithWebIdentity)
	return f
}

// AddRole makes a role assumable; externalID, when set, must accompany AssumeRole.
func (f *Fake) AddRole(arn, externalID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.roles[arn] = externalID
}

// TrustToken makes a web identity token acceptable for every role.
func (f *Fake) TrustToken(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[token] = true
}

// SetLifetime sets how long the credentials issued from now on last (wall-clock time: the
// SDK's credential cache reads it).
func (f *Fake) SetLifetime(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lifetime = d
}

// Issued returns the credentials issued so far, in order.
func (f *Fake) Issued() []Issue {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Issue(nil), f.issued...)
}

func accessDenied(action, role string) error {
	return &fakeaws.APIError{Status: http.StatusForbidden, Code: "AccessDenied",
		Message: fmt.Sprintf("User is not authorized to perform: sts:%s on resource: %s", action, role)}
}

func (f *Fake) assumeRole(form url.Values) (string, error) {
	role := form.Get("RoleArn")
	f.mu.Lock()
	want, ok := f.roles[role]
	f.mu.Unlock()
	if !ok || want != form.Get("ExternalId") {
		return "", accessDenied("AssumeRole", role)
	}
	return f.issue("AssumeRole", role, form.Get("RoleSessionName"), "")
}

func (f *Fake) assumeRoleWithWebIdentity(form url.Values) (string, error) {
	role := form.Get("RoleArn")
	f.mu.Lock()
	_, known := f.roles[role]
	trusted := f.tokens[form.Get("WebIdentityToken")]
	f.mu.Unlock()
	if !known || !trusted {
		return "", accessDenied("AssumeRoleWithWebIdentity", role)
	}
	return f.issue("AssumeRoleWithWebIdentity", role, form.Get("RoleSessionName"),
		"<SubjectFromWebIdentityToken>repo:example/fargate:environment:production</SubjectFromWebIdentityToken><Audience>sts.amazonaws.com</Audience><Provider>token.actions.githubusercontent.com</Provider>")
}

func (f *Fake) issue(action, role, session, extra string) (string, error) {
	if session == "" {
		return "", &fakeaws.APIError{Status: http.StatusBadRequest, Code: "ValidationError", Message: "RoleSessionName is required"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.issued) + 1
	is := Issue{Action: action, RoleARN: role, SessionName: session, AccessKeyID: fmt.Sprintf("ASIAFAKE%012d", n), Expires: time.Now().Add(f.lifetime)}
	f.issued = append(f.issued, is)
	f.srv.AllowAccessKey(is.AccessKeyID, is.Expires) // accepted until it expires, then refused
	account, name := "000000000000", role
	if parts := strings.SplitN(role, ":", 6); len(parts) == 6 {
		account, name = parts[4], strings.TrimPrefix(parts[5], "role/")
	}
	return fmt.Sprintf(`<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>fake-secret-%d</SecretAccessKey><SessionToken>fake-session-%d</SessionToken><Expiration>%s</Expiration></Credentials>`+
		`<AssumedRoleUser><Arn>arn:aws:sts::%s:assumed-role/%s/%s</Arn><AssumedRoleId>AROAFAKE:%s</AssumedRoleId></AssumedRoleUser>%s`,
		is.AccessKeyID, n, n, is.Expires.UTC().Format(time.RFC3339Nano), account, fakeaws.XMLEscape(name), fakeaws.XMLEscape(session), fakeaws.XMLEscape(session), extra), nil
}
