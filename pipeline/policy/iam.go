package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// RoleKind says what an IAM policy is attached to, which decides the rules it meets.
type RoleKind string

// Role kinds.
const (
	RoleOther     RoleKind = ""
	RoleTask      RoleKind = "task"
	RoleExecution RoleKind = "execution"
)

// ParseRoleKind reads "task", "execution" or "" (any other role).
func ParseRoleKind(s string) (RoleKind, error) {
	switch k := RoleKind(strings.ToLower(strings.TrimSpace(s))); k {
	case RoleOther, RoleTask, RoleExecution:
		return k, nil
	}
	return "", fmt.Errorf("role kind %q: expected task, execution or empty", s)
}

// PolicyDocument is an IAM policy document.
type PolicyDocument struct {
	Version   string
	Statement []Statement
}

// Statement is one policy statement; Action, NotAction, Resource and NotResource accept a
// string or a list of strings in JSON.
type Statement struct {
	Sid         string
	Effect      string
	Action      []string
	NotAction   []string
	Resource    []string
	NotResource []string
	Line        int // 1-based line of the statement in its file, when known
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

// ParsePolicyDocument decodes an IAM policy document (a statement object or a list of them).
// Invalid JSON, a missing Statement, an Effect other than Allow/Deny, a statement with neither
// Action nor NotAction, and wrongly typed fields are errors.
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
	searchFrom := 0
	for i, rs := range rawStmts {
		var st struct {
			Sid                                      string
			Effect                                   string
			Action, NotAction, Resource, NotResource stringOrList
		}
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
				err = json.Unmarshal(v, &st.Action)
			case "NotAction":
				err = json.Unmarshal(v, &st.NotAction)
			case "Resource":
				err = json.Unmarshal(v, &st.Resource)
			case "NotResource":
				err = json.Unmarshal(v, &st.NotResource)
			case "Condition", "Principal", "NotPrincipal":
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
		// The statement's line is that of its "Effect" key (the i-th one in the file).
		line := 0
		if j := bytes.Index(content[searchFrom:], []byte(`"Effect"`)); j >= 0 {
			line = bytes.Count(content[:searchFrom+j], []byte("\n")) + 1
			searchFrom += j + len(`"Effect"`)
		}
		doc.Statement = append(doc.Statement, Statement{Sid: st.Sid, Effect: st.Effect, Action: st.Action, NotAction: st.NotAction,
			Resource: st.Resource, NotResource: st.NotResource, Line: line})
	}
	return doc, nil
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

// starResourceActions are actions that support no resource-level permissions, so a statement
// granting only these may use Resource "*". Each is documented as such in the AWS Service
// Authorization Reference.
var starResourceActions = map[string]bool{
	"ecr:getauthorizationtoken":          true,
	"logs:describeloggroups":             true,
	"cloudwatch:putmetricdata":           true,
	"xray:puttracesegments":              true,
	"xray:puttelemetryrecords":           true,
	"xray:getsamplingrules":              true,
	"xray:getsamplingtargets":            true,
	"xray:getsamplingstatisticsummaries": true,
	"ssmmessages:createcontrolchannel":   true,
	"ssmmessages:createdatachannel":      true,
	"ssmmessages:opencontrolchannel":     true,
	"ssmmessages:opendatachannel":        true,
	"sts:getcalleridentity":              true,
}

// StarResourceExceptions returns the actions allowed with Resource "*" (lower-case), sorted.
func StarResourceExceptions() []string {
	m := map[string]bool{}
	for k := range starResourceActions {
		m[k] = true
	}
	return sortedKeys(m)
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
	for i, s := range allows(v) {
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				out = append(out, hit{message: fmt.Sprintf("%s allows wildcard action %q", stmtName(i, s), a), line: s.Line})
			}
		}
	}
	return out
}

// wildcardResource reports whether a resource is "*" or an ARN whose resource part is "*",
// optionally after a resource type ("repository/*", "secret:*", "parameter/*").
var typedStar = regexp.MustCompile(`^([A-Za-z0-9-]+[:/])?\*$`)

func wildcardResource(r string) bool {
	if r == "*" {
		return true
	}
	parts := strings.SplitN(r, ":", 6)
	return len(parts) == 6 && typedStar.MatchString(parts[5])
}

func checkWildcardResources(v *iamView) []hit {
	var out []hit
	for i, s := range allows(v) {
		onlyExempt := len(s.Action) > 0
		for _, a := range s.Action {
			if !starResourceActions[strings.ToLower(a)] {
				onlyExempt = false
			}
		}
		if onlyExempt {
			continue
		}
		for _, r := range s.Resource {
			if wildcardResource(r) {
				out = append(out, hit{message: fmt.Sprintf("%s allows %s on wildcard resource %q", stmtName(i, s), strings.Join(s.Action, ", "), r), line: s.Line})
			}
		}
	}
	return out
}

func checkNotAction(v *iamView) []hit {
	var out []hit
	for i, s := range allows(v) {
		if len(s.NotAction) > 0 {
			out = append(out, hit{message: fmt.Sprintf("%s is an Allow with NotAction", stmtName(i, s)), line: s.Line})
		}
		if len(s.NotResource) > 0 {
			out = append(out, hit{message: fmt.Sprintf("%s is an Allow with NotResource", stmtName(i, s)), line: s.Line})
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
		if wildcardMatch(resource, base) || wildcardMatch(resource, ref) {
			return true
		}
		// ARN resources for SSM names: arn:…:parameter/name matches "name" or "/name".
		if !strings.HasPrefix(base, "arn:") {
			if i := strings.Index(resource, ":parameter/"); i >= 0 {
				name := resource[i+len(":parameter"):]
				if wildcardMatch(name, "/"+strings.TrimPrefix(base, "/")) {
					return true
				}
			}
		}
		// Secrets Manager ARNs end with a random 6-character suffix; policies often use -??????.
		if strings.HasSuffix(resource, "-??????") && strings.HasPrefix(base, strings.TrimSuffix(resource, "??????")) && len(base) == len(resource) {
			return true
		}
	}
	return false
}
