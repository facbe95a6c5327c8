package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// RoleKind says what an IAM policy is attached to, which decides the rules it meets.
type RoleKind string

// Role kinds.
const (
	// RoleOther is any other role's permissions policy (e.g. the pipeline's).
	RoleOther RoleKind = ""
	// RoleTask is the permissions policy of an ECS task role (the application's).
	RoleTask RoleKind = "task"
	// RoleExecution is the permissions policy of an ECS task execution role (the agent's).
	RoleExecution RoleKind = "execution"
	// RoleTrust is a role's trust policy (AssumeRolePolicyDocument): who may assume it.
	RoleTrust RoleKind = "trust"
)

// ParseRoleKind reads "task", "execution", "trust", "other" or "" (other).
func ParseRoleKind(s string) (RoleKind, error) {
	switch k := strings.ToLower(strings.TrimSpace(s)); k {
	case "", "other":
		return RoleOther, nil
	case string(RoleTask), string(RoleExecution), string(RoleTrust):
		return RoleKind(k), nil
	}
	return "", fmt.Errorf("role kind %q: expected task, execution, trust, other or empty", s)
}

// PolicyVersion is the current IAM policy language version.
const PolicyVersion = "2012-10-17"

// PolicyDocument is an IAM policy document.
type PolicyDocument struct {
	Version   string
	Statement []Statement
}

// Statement is one policy statement; Action, NotAction, Resource and NotResource accept a
// string or a list of strings in JSON.
type Statement struct {
	Sid          string
	Effect       string
	Principal    *Principal
	NotPrincipal *Principal
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	Condition    Condition
	Line         int // 1-based line of the statement in its file, when known
}

// Principal is a statement's Principal or NotPrincipal: "*" (Any), or principals by type
// ("AWS", "Service", "Federated", "CanonicalUser").
type Principal struct {
	Any    bool
	ByType map[string][]string
}

// Values returns the principals of one type (e.g. "Federated").
func (p *Principal) Values(typ string) []string {
	if p == nil {
		return nil
	}
	for k, v := range p.ByType {
		if strings.EqualFold(k, typ) {
			return v
		}
	}
	return nil
}

// Everyone reports whether the principal is anyone: "*" or a "*" of any type ({"AWS": "*"}).
func (p *Principal) Everyone() bool {
	if p == nil {
		return false
	}
	if p.Any {
		return true
	}
	for _, vs := range p.ByType {
		for _, v := range vs {
			if v == "*" {
				return true
			}
		}
	}
	return false
}

func (p *Principal) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		if one != "*" {
			return fmt.Errorf(`expected "*" or an object of principals by type, got %q`, one)
		}
		p.Any = true
		return nil
	}
	var byType map[string]stringOrList
	if err := json.Unmarshal(b, &byType); err != nil || byType == nil {
		return fmt.Errorf(`expected "*" or an object of principals by type ({"AWS": …, "Service": …, "Federated": …})`)
	}
	p.ByType = map[string][]string{}
	for k, v := range byType {
		p.ByType[k] = v
	}
	return nil
}

// Condition is a statement's Condition block: operator → condition key → values. Boolean and
// number values are kept as their JSON text.
type Condition map[string]map[string][]string

// Values returns every value a condition key (compared case-insensitively) is tested against,
// under any operator, sorted.
func (c Condition) Values(key string) []string {
	var out []string
	for _, keys := range c {
		for k, vs := range keys {
			if strings.EqualFold(k, key) {
				out = append(out, vs...)
			}
		}
	}
	sort.Strings(out)
	return out
}

// condValue is one value a condition key must match for the statement to apply.
type condValue struct {
	value string
	like  bool // the operator is a *Like one: "*" and "?" are wildcards
}

// requires returns the values a key must match under a positive operator (StringEquals,
// StringLike, ArnEquals, ArnLike, optionally ForAnyValue:), i.e. the ways the condition narrows
// the statement by that key. Negated operators, …IfExists (true when the key is absent) and
// ForAllValues: (true for an empty set) do not narrow and are left out.
func (c Condition) requires(key string) []condValue {
	var out []condValue
	for op, keys := range c {
		base := strings.TrimPrefix(op, "ForAnyValue:")
		var like bool
		switch strings.ToLower(base) {
		case "stringequals", "stringequalsignorecase", "arnequals":
		case "stringlike", "arnlike":
			like = true
		default:
			continue
		}
		for k, vs := range keys {
			if !strings.EqualFold(k, key) {
				continue
			}
			for _, v := range vs {
				out = append(out, condValue{value: v, like: like})
			}
		}
	}
	return out
}

type conditionValues []string

func (c *conditionValues) UnmarshalJSON(b []byte) error {
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	scalar := func(v any) (string, bool) {
		switch v := v.(type) {
		case string:
			return v, true
		case bool, float64:
			return fmt.Sprint(v), true
		}
		return "", false
	}
	if s, ok := scalar(raw); ok {
		*c = []string{s}
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		return fmt.Errorf("expected a value or a list of values")
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		s, ok := scalar(v)
		if !ok {
			return fmt.Errorf("expected a value or a list of values")
		}
		out = append(out, s)
	}
	*c = out
	return nil
}

type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("expected a string or a list of strings")
	}
	*s = many
	return nil
}

// actionPattern is "*" or "service:Action", where the action may hold * and ? wildcards.
var actionPattern = regexp.MustCompile(`^(\*|[A-Za-z0-9-]+:[A-Za-z0-9_*?-]+)$`)

// ParsePolicyDocument decodes an IAM policy document (a statement object or a list of them).
// Invalid JSON, a missing Statement, an Effect other than Allow/Deny, a statement with neither
// Action nor NotAction, an action that is not "service:Action", a statement with neither a
// Resource nor a Principal, duplicate Sids, and wrongly typed fields are errors.
func ParsePolicyDocument(content []byte) (*PolicyDocument, error) {
	var raw struct {
		Version   string          `json:"Version"`
		ID        string          `json:"Id"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := decodeStrict(content, &raw); err != nil {
		return nil, fmt.Errorf("decode IAM policy document: %w", err)
	}
	if len(raw.Statement) == 0 || string(raw.Statement) == "null" {
		return nil, fmt.Errorf("decode IAM policy document: field \"Statement\" is missing")
	}
	var rawStmts []json.RawMessage
	if trimmed := bytes.TrimSpace(raw.Statement); len(trimmed) > 0 && trimmed[0] == '{' {
		rawStmts = []json.RawMessage{raw.Statement}
	} else if err := json.Unmarshal(raw.Statement, &rawStmts); err != nil {
		return nil, fmt.Errorf("decode IAM policy document: field \"Statement\": expected an object or a list of objects")
	}
	doc := &PolicyDocument{Version: raw.Version}
	sids := map[string]int{}
	searchFrom := 0
	for i, rs := range rawStmts {
		var st Statement
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(rs, &fields); err != nil || fields == nil {
			return nil, fmt.Errorf("decode IAM policy document: Statement[%d]: expected an object", i)
		}
		for k, v := range fields {
			var err error
			switch k {
			case "Sid":
				err = json.Unmarshal(v, &st.Sid)
			case "Effect":
				err = json.Unmarshal(v, &st.Effect)
			case "Action":
				err = json.Unmarshal(v, (*stringOrList)(&st.Action))
			case "NotAction":
				err = json.Unmarshal(v, (*stringOrList)(&st.NotAction))
			case "Resource":
				err = json.Unmarshal(v, (*stringOrList)(&st.Resource))
			case "NotResource":
				err = json.Unmarshal(v, (*stringOrList)(&st.NotResource))
			case "Principal":
				st.Principal = &Principal{}
				err = json.Unmarshal(v, st.Principal)
			case "NotPrincipal":
				st.NotPrincipal = &Principal{}
				err = json.Unmarshal(v, st.NotPrincipal)
			case "Condition":
				err = decodeCondition(v, &st.Condition)
			default:
				err = fmt.Errorf("unknown field")
			}
			if err != nil {
				return nil, fmt.Errorf("decode IAM policy document: Statement[%d].%s: %w", i, k, err)
			}
		}
		if st.Effect != "Allow" && st.Effect != "Deny" {
			return nil, fmt.Errorf("decode IAM policy document: Statement[%d].Effect is %q, expected Allow or Deny", i, st.Effect)
		}
		if len(st.Action) == 0 && len(st.NotAction) == 0 {
			return nil, fmt.Errorf("decode IAM policy document: Statement[%d] has neither Action nor NotAction", i)
		}
		for _, a := range append(append([]string(nil), st.Action...), st.NotAction...) {
			if !actionPattern.MatchString(a) {
				return nil, fmt.Errorf("decode IAM policy document: Statement[%d]: action %q is not \"service:Action\" or \"*\"", i, a)
			}
		}
		if len(st.Resource) == 0 && len(st.NotResource) == 0 && st.Principal == nil && st.NotPrincipal == nil {
			return nil, fmt.Errorf("decode IAM policy document: Statement[%d] has neither Resource nor Principal", i)
		}
		if st.Sid != "" {
			if j, dup := sids[st.Sid]; dup {
				return nil, fmt.Errorf("decode IAM policy document: Statement[%d].Sid %q is also the Sid of Statement[%d]; Sids must be unique within a policy", i, st.Sid, j)
			}
			sids[st.Sid] = i
		}
		// The statement's line is that of its "Effect" key (the i-th one in the file).
		if j := bytes.Index(content[searchFrom:], []byte(`"Effect"`)); j >= 0 {
			st.Line = bytes.Count(content[:searchFrom+j], []byte("\n")) + 1
			searchFrom += j + len(`"Effect"`)
		}
		doc.Statement = append(doc.Statement, st)
	}
	return doc, nil
}

func decodeCondition(b []byte, out *Condition) error {
	var raw map[string]map[string]conditionValues
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		return fmt.Errorf("expected an object of operators, each an object of condition keys and values")
	}
	c := Condition{}
	for op, keys := range raw {
		c[op] = map[string][]string{}
		for k, vs := range keys {
			c[op][k] = vs
		}
	}
	*out = c
	return nil
}

// checkKind reports a document that does not fit the role kind it was given as: a trust policy
// names who may assume the role (Principal, no Resource); a permissions policy names resources
// and no Principal.
func (d *PolicyDocument) checkKind(kind RoleKind) error {
	for i, s := range d.Statement {
		hasPrincipal := s.Principal != nil || s.NotPrincipal != nil
		hasResource := len(s.Resource) > 0 || len(s.NotResource) > 0
		if kind == RoleTrust {
			if !hasPrincipal {
				return fmt.Errorf("role trust: Statement[%d] has no Principal: a trust policy names who may assume the role (is this a permissions policy?)", i)
			}
			if hasResource {
				return fmt.Errorf("role trust: Statement[%d] has a Resource, which a trust policy cannot have", i)
			}
			continue
		}
		if hasPrincipal {
			return fmt.Errorf("role %s: Statement[%d] has a Principal, which a role's permissions policy cannot have (is this a trust policy? use role: trust)", kindLabel(kind), i)
		}
	}
	return nil
}

func kindLabel(k RoleKind) string {
	if k == RoleOther {
		return "other"
	}
	return string(k)
}

// iamView is a policy document under evaluation.
type iamView struct {
	doc      *PolicyDocument
	kind     RoleKind
	resource string
	// secretARNs are the task's secrets (valueFrom); when non-empty, the execution role's
	// secret reads must target them.
	secretARNs []string
}

// resourceScopingConditions are, by service, condition keys that name the resource an action
// acts on. A statement whose actions all belong to such services may use a wildcard resource
// when its Condition requires one of those keys to match named values: ecs:ListTasks only has
// a resource type Fargate tasks lack, and KMS key ARNs are random, so keys are named by alias.
var resourceScopingConditions = map[string][]string{
	"ecs": {"ecs:cluster"},
	"kms": {"kms:ResourceAliases"},
}

// ResourceScopingConditions returns, by service, the condition keys that may stand in for a
// resource ARN (see FG-IAM-002).
func ResourceScopingConditions() map[string][]string {
	out := make(map[string][]string, len(resourceScopingConditions))
	for k, v := range resourceScopingConditions {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// scopedByCondition reports whether every action of the statement is narrowed by a condition
// key that names its resource, tested against named (not match-all) values.
func scopedByCondition(s Statement) bool {
	if len(s.Action) == 0 {
		return false
	}
	for _, a := range s.Action {
		svc, _, _ := strings.Cut(strings.ToLower(a), ":")
		scoped := false
		for _, key := range resourceScopingConditions[svc] {
			vals := s.Condition.requires(key)
			scoped = len(vals) > 0
			for _, v := range vals {
				if matchesAll(v) {
					scoped = false
				}
			}
			if scoped {
				break
			}
		}
		if !scoped {
			return false
		}
	}
	return true
}

// matchesAll reports whether a condition value, under a Like operator, matches any name: "*",
// or a value whose last path or ARN segment is only wildcards ("alias/*", "arn:…:cluster/*").
func matchesAll(v condValue) bool {
	if !v.like {
		return false
	}
	last := v.value
	if i := strings.LastIndexAny(last, ":/"); i >= 0 {
		last = last[i+1:]
	}
	return strings.Trim(last, "*?") == ""
}

// executionActions are the actions an execution role may have.
var executionActions = map[string]bool{
	"ecr:batchgetimage":               true,
	"ecr:getdownloadurlforlayer":      true,
	"ecr:batchchecklayeravailability": true,
	"ecr:getauthorizationtoken":       true,
	"logs:createlogstream":            true,
	"logs:putlogevents":               true,
	"secretsmanager:getsecretvalue":   true,
	"ssm:getparameters":               true,
	"kms:decrypt":                     true,
}

func allows(v *iamView) []Statement {
	var out []Statement
	for _, s := range v.doc.Statement {
		if s.Effect == "Allow" {
			out = append(out, s)
		}
	}
	return out
}

func stmtName(i int, s Statement) string {
	if s.Sid != "" {
		return fmt.Sprintf("statement %q", s.Sid)
	}
	return fmt.Sprintf("statement %d", i)
}

func checkWildcardActions(v *iamView) []hit {
	var out []hit
	stmts := allows(v)
	for _, is := range LeastPrivilege(stmts, LeastPrivilegeOptions{ExecChannels: true}) {
		if s := stmts[is.Statement]; is.Kind == IssueWildcardAction {
			out = append(out, hit{message: fmt.Sprintf("%s allows wildcard action %q", stmtName(is.Statement, s), is.Action), line: s.Line})
		}
	}
	return out
}

// wildcardResource reports whether a resource is "*" or an ARN whose resource part starts with
// a wildcard, optionally after a resource type ("repository/*", "secret:*", "role/*-task"): a
// pattern that does not name the resource.
var typedStar = regexp.MustCompile(`^([A-Za-z0-9-]+[:/])?[*?]`)

func wildcardResource(r string) bool {
	if r == "*" {
		return true
	}
	parts := strings.SplitN(r, ":", 6)
	return len(parts) == 6 && typedStar.MatchString(parts[5])
}

func checkWildcardResources(v *iamView) []hit {
	var out []hit
	stmts := allows(v)
	for _, is := range LeastPrivilege(stmts, LeastPrivilegeOptions{ExecChannels: true}) {
		if s := stmts[is.Statement]; is.Kind == IssueWildcardResource {
			out = append(out, hit{message: fmt.Sprintf("%s allows %s on wildcard resource %q", stmtName(is.Statement, s), strings.Join(s.Action, ", "), is.Resource), line: s.Line})
		}
	}
	return out
}

func checkNotAction(v *iamView) []hit {
	var out []hit
	stmts := allows(v)
	for _, is := range LeastPrivilege(stmts, LeastPrivilegeOptions{ExecChannels: true}) {
		s := stmts[is.Statement]
		switch is.Kind {
		case IssueNotAction:
			out = append(out, hit{message: fmt.Sprintf("%s is an Allow with NotAction", stmtName(is.Statement, s)), line: s.Line})
		case IssueNotResource:
			out = append(out, hit{message: fmt.Sprintf("%s is an Allow with NotResource", stmtName(is.Statement, s)), line: s.Line})
		}
	}
	return out
}

func checkExecutionRole(v *iamView) []hit {
	if v.kind != RoleExecution {
		return nil
	}
	var out []hit
	for i, s := range allows(v) {
		for _, a := range s.Action {
			la := strings.ToLower(a)
			if !executionActions[la] {
				out = append(out, hit{message: fmt.Sprintf("%s grants %q, beyond image pull, logs and secrets", stmtName(i, s), a), line: s.Line})
				continue
			}
			if (la == "secretsmanager:getsecretvalue" || la == "ssm:getparameters") && len(v.secretARNs) > 0 {
				for _, r := range s.Resource {
					if wildcardResource(r) {
						continue // FG-IAM-002 reports it
					}
					if !matchesAnySecret(r, v.secretARNs) {
						out = append(out, hit{message: fmt.Sprintf("%s grants %s on %s, which no container references", stmtName(i, s), a, r), line: s.Line})
					}
				}
			}
		}
	}
	return out
}

// matchesAnySecret reports whether a policy resource covers one of the task's secret references.
// A Secrets Manager valueFrom may carry a JSON key suffix (":key:stage:version") and SSM
// references may be names; both are compared by their secret/parameter ARN or name.
func matchesAnySecret(resource string, refs []string) bool {
	for _, ref := range refs {
		base := ref
		if strings.Contains(ref, ":secretsmanager:") {
			parts := strings.Split(ref, ":")
			if len(parts) > 7 {
				base = strings.Join(parts[:7], ":")
			}
		}
		// IAM's resource matching (* and ?), as GrantsActionOn: the random 6-character suffix of
		// a Secrets Manager ARN is often written -??????.
		if iamMatch(resource, base) || iamMatch(resource, ref) {
			return true
		}
		// ARN resources for SSM names: arn:…:parameter/name matches "name" or "/name".
		if !strings.HasPrefix(base, "arn:") {
			if i := strings.Index(resource, ":parameter/"); i >= 0 {
				name := resource[i+len(":parameter"):]
				if iamMatch(name, "/"+strings.TrimPrefix(base, "/")) {
					return true
				}
			}
		}
	}
	return false
}
