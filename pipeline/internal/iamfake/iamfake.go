// Package iamfake is a stateful fake of the IAM read APIs the policy audit uses (GetRole,
// ListRolePolicies, GetRolePolicy, ListAttachedRolePolicies, GetPolicy, GetPolicyVersion),
// speaking the Query protocol on a fakeaws server. Like IAM, it returns policy documents
// URL-encoded, and pages list results (PageSize, Marker/IsTruncated).
package iamfake

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"dagger/fargate/pipeline/internal/fakeaws"
)

// Role is an IAM role with its inline policies (name → document JSON) and attached managed
// policy ARNs.
type Role struct {
	Name     string
	Inline   map[string]string
	Attached []string
	// Trust is the trust policy (AssumeRolePolicyDocument) JSON; empty: ecs-tasks.amazonaws.com may assume it.
	Trust string
}

// ManagedPolicy is a managed policy with its default version's document.
type ManagedPolicy struct {
	Arn      string
	Document string
	// Versions holds non-default versions (ID → document); the default is "v1" unless DefaultVersion is set.
	Versions       map[string]string
	DefaultVersion string
}

// Fake holds the IAM state.
type Fake struct {
	// PageSize caps list results per page (IAM's MaxItems default is 100).
	PageSize int

	mu       sync.Mutex
	roles    map[string]Role
	policies map[string]ManagedPolicy
	account  string
}

// New registers the fake's actions on srv.
func New(srv *fakeaws.Server) *Fake {
	f := &Fake{PageSize: 100, roles: map[string]Role{}, policies: map[string]ManagedPolicy{}, account: "123456789012"}
	srv.HandleQuery("iam", "GetRole", f.getRole)
	srv.HandleQuery("iam", "ListRolePolicies", f.listRolePolicies)
	srv.HandleQuery("iam", "GetRolePolicy", f.getRolePolicy)
	srv.HandleQuery("iam", "ListAttachedRolePolicies", f.listAttachedRolePolicies)
	srv.HandleQuery("iam", "GetPolicy", f.getPolicy)
	srv.HandleQuery("iam", "GetPolicyVersion", f.getPolicyVersion)
	return f
}

// AddRole stores a role.
func (f *Fake) AddRole(r Role) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.roles[r.Name] = r
}

// AddPolicy stores a managed policy.
func (f *Fake) AddPolicy(p ManagedPolicy) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p.DefaultVersion == "" {
		p.DefaultVersion = "v1"
	}
	f.policies[p.Arn] = p
}

// RoleArn is the ARN the fake gives a role name.
func (f *Fake) RoleArn(name string) string {
	return fmt.Sprintf("arn:aws:iam::%s:role/%s", f.account, name)
}

// encode URL-encodes a policy document as IAM does (RFC 3986, spaces as %20).
func encode(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

func noSuchEntity(format string, args ...any) error {
	return &fakeaws.APIError{Status: http.StatusNotFound, Code: "NoSuchEntity", Message: fmt.Sprintf(format, args...)}
}

func (f *Fake) role(form url.Values) (Role, error) {
	name := form.Get("RoleName")
	r, ok := f.roles[name]
	if !ok {
		return Role{}, noSuchEntity("The role with name %s cannot be found.", name)
	}
	return r, nil
}

func (f *Fake) getRole(form url.Values) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.role(form)
	if err != nil {
		return "", err
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	if r.Trust != "" {
		trust = r.Trust
	}
	return fmt.Sprintf("<Role><Path>/</Path><RoleName>%s</RoleName><RoleId>AROAFAKE%s</RoleId><Arn>%s</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate><AssumeRolePolicyDocument>%s</AssumeRolePolicyDocument></Role>",
		x(r.Name), x(strings.ToUpper(r.Name)), x(f.RoleArn(r.Name)), x(encode(trust))), nil
}

// page returns the slice of items for the request's Marker/MaxItems and the next marker.
func (f *Fake) page(form url.Values, items []string) ([]string, string, error) {
	start := 0
	if m := form.Get("Marker"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 || n > len(items) {
			return nil, "", fakeaws.Errorf("ValidationError", "invalid marker %q", m)
		}
		start = n
	}
	size := f.PageSize
	if mi := form.Get("MaxItems"); mi != "" {
		if n, err := strconv.Atoi(mi); err == nil && n > 0 && n < size {
			size = n
		}
	}
	end := start + size
	if end >= len(items) {
		return items[start:], "", nil
	}
	return items[start:end], strconv.Itoa(end), nil
}

func truncation(next string) string {
	if next == "" {
		return "<IsTruncated>false</IsTruncated>"
	}
	return "<IsTruncated>true</IsTruncated><Marker>" + next + "</Marker>"
}

func (f *Fake) listRolePolicies(form url.Values) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.role(form)
	if err != nil {
		return "", err
	}
	names := slices.Sorted(maps.Keys(r.Inline))
	items, next, err := f.page(form, names)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("<PolicyNames>")
	for _, n := range items {
		fmt.Fprintf(&b, "<member>%s</member>", x(n))
	}
	b.WriteString("</PolicyNames>" + truncation(next))
	return b.String(), nil
}

func (f *Fake) getRolePolicy(form url.Values) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.role(form)
	if err != nil {
		return "", err
	}
	name := form.Get("PolicyName")
	doc, ok := r.Inline[name]
	if !ok {
		return "", noSuchEntity("The role policy with name %s cannot be found.", name)
	}
	return fmt.Sprintf("<RoleName>%s</RoleName><PolicyName>%s</PolicyName><PolicyDocument>%s</PolicyDocument>", x(r.Name), x(name), x(encode(doc))), nil
}

func (f *Fake) listAttachedRolePolicies(form url.Values) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.role(form)
	if err != nil {
		return "", err
	}
	items, next, err := f.page(form, r.Attached)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("<AttachedPolicies>")
	for _, arn := range items {
		fmt.Fprintf(&b, "<member><PolicyName>%s</PolicyName><PolicyArn>%s</PolicyArn></member>", x(arn[strings.LastIndex(arn, "/")+1:]), x(arn))
	}
	b.WriteString("</AttachedPolicies>" + truncation(next))
	return b.String(), nil
}

func (f *Fake) policy(form url.Values) (ManagedPolicy, error) {
	arn := form.Get("PolicyArn")
	p, ok := f.policies[arn]
	if !ok {
		return ManagedPolicy{}, noSuchEntity("Policy %s does not exist or is not attachable.", arn)
	}
	return p, nil
}

func (f *Fake) getPolicy(form url.Values) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.policy(form)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("<Policy><PolicyName>%s</PolicyName><Arn>%s</Arn><DefaultVersionId>%s</DefaultVersionId><AttachmentCount>1</AttachmentCount><IsAttachable>true</IsAttachable></Policy>",
		x(p.Arn[strings.LastIndex(p.Arn, "/")+1:]), x(p.Arn), x(p.DefaultVersion)), nil
}

func (f *Fake) getPolicyVersion(form url.Values) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.policy(form)
	if err != nil {
		return "", err
	}
	v := form.Get("VersionId")
	doc, ok := p.Versions[v]
	if v == p.DefaultVersion {
		doc, ok = p.Document, true
	}
	if !ok {
		return "", noSuchEntity("Policy %s version %s does not exist.", p.Arn, v)
	}
	return fmt.Sprintf("<PolicyVersion><Document>%s</Document><VersionId>%s</VersionId><IsDefaultVersion>%t</IsDefaultVersion></PolicyVersion>",
		x(encode(doc)), x(v), v == p.DefaultVersion), nil
}

func x(s string) string { return fakeaws.XMLEscape(s) }
