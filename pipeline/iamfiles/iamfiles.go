// Package iamfiles reads the IAM policy documents shipped under deploy/iam and checks them
// against the repository's least-privilege rules: version 2012-10-17, no wildcard actions,
// Resource "*" only for the actions AWS gives no resource-level permissions (each in its own
// statement with a Sid), wildcard resource patterns only under a condition, and iam:PassRole
// always conditioned on the service it passes to.
package iamfiles

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Version is the only policy language version accepted.
const Version = "2012-10-17"

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	ID        string      `json:"Id,omitempty"`
	Statement []Statement `json:"Statement"`
}

// Statement is one policy statement. Action, NotAction, Resource and NotResource accept a
// string or a list, as IAM does.
type Statement struct {
	Sid         string                    `json:"Sid,omitempty"`
	Effect      string                    `json:"Effect"`
	Principal   json.RawMessage           `json:"Principal,omitempty"`
	Action      StringList                `json:"Action,omitempty"`
	NotAction   StringList                `json:"NotAction,omitempty"`
	Resource    StringList                `json:"Resource,omitempty"`
	NotResource StringList                `json:"NotResource,omitempty"`
	Condition   map[string]map[string]any `json:"Condition,omitempty"`
}

// StringList is a JSON string or array of strings.
type StringList []string

// UnmarshalJSON accepts "x" or ["x", "y"].
func (l *StringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = StringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("expected a string or a list of strings, got %s", b)
	}
	*l = many
	return nil
}

// Load reads and parses a policy file.
func Load(path string) (Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Document{}, fmt.Errorf("read policy %s: %w", path, err)
	}
	doc, err := Parse(data)
	if err != nil {
		return Document{}, fmt.Errorf("policy %s: %w", path, err)
	}
	return doc, nil
}

// Parse decodes a policy document strictly: unknown top-level or statement keys are errors.
func Parse(data []byte) (Document, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc Document
	if err := dec.Decode(&doc); err != nil {
		return Document{}, fmt.Errorf("parse: %w", err)
	}
	if dec.More() {
		return Document{}, fmt.Errorf("parse: trailing data after the policy document")
	}
	return doc, nil
}

// StarActions are the actions that may use Resource "*" because AWS's Service Authorization
// Reference lists no resource type for them (or, for ecs:ListTasks, only a container-instance
// type that Fargate tasks do not have; the statement is scoped with the ecs:cluster condition).
var StarActions = []string{
	"ecr:GetAuthorizationToken",
	"ecs:DescribeTaskDefinition",
	"ecs:ListTasks",
	"sts:GetCallerIdentity",
}

// Check returns the rule violations in a permissions policy (nil when it is clean).
func Check(doc Document) []string {
	var problems []string
	add := func(i int, s Statement, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("statement %d (%s): %s", i, orUnnamed(s.Sid), fmt.Sprintf(format, args...)))
	}
	if doc.Version != Version {
		problems = append(problems, fmt.Sprintf("Version is %q: %q expected", doc.Version, Version))
	}
	if len(doc.Statement) == 0 {
		problems = append(problems, "no statements")
	}
	sids := map[string]bool{}
	for i, s := range doc.Statement {
		if s.Sid != "" {
			if sids[s.Sid] {
				add(i, s, "duplicate Sid")
			}
			sids[s.Sid] = true
		}
		if s.Effect != "Allow" && s.Effect != "Deny" {
			add(i, s, "Effect is %q: Allow or Deny expected", s.Effect)
		}
		if len(s.NotAction) > 0 || len(s.NotResource) > 0 {
			add(i, s, "NotAction/NotResource grant everything else: list what is allowed instead")
		}
		if len(s.Action) == 0 {
			add(i, s, "no Action")
		}
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				add(i, s, "wildcard action %q", a)
			}
			if svc, name, ok := strings.Cut(a, ":"); !ok || svc == "" || name == "" {
				add(i, s, "action %q is not service:Action", a)
			}
		}
		if len(s.Resource) == 0 && s.Principal == nil {
			add(i, s, "no Resource")
		}
		if slices.Contains(s.Resource, "*") {
			if len(s.Resource) > 1 {
				add(i, s, `Resource "*" mixed with other resources`)
			}
			for _, a := range s.Action {
				if !slices.Contains(StarActions, a) {
					add(i, s, `Resource "*" for %s, which supports resource-level permissions`, a)
				}
			}
			if s.Sid == "" {
				add(i, s, `a Resource "*" statement needs a Sid saying why`)
			}
		}
		for _, r := range s.Resource {
			if r != "*" && strings.Contains(r, "*") && len(s.Condition) == 0 && !boundedPattern(r) {
				add(i, s, "resource pattern %q is unbounded and has no condition", r)
			}
		}
		if slices.Contains(s.Action, "iam:PassRole") {
			if passedTo := conditionValues(s.Condition, "iam:PassedToService"); len(passedTo) == 0 {
				add(i, s, "iam:PassRole without an iam:PassedToService condition")
			}
			if slices.Contains(s.Resource, "*") {
				add(i, s, "iam:PassRole on every role")
			}
		}
	}
	return problems
}

// boundedPattern accepts a single trailing wildcard after a fixed resource name, such as
// task-definition/family:* or task/cluster/*; "key/*" (every key) is not bounded.
func boundedPattern(arn string) bool {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || strings.Count(arn, "*") != 1 || !strings.HasSuffix(arn, "*") {
		return false
	}
	_, name, ok := strings.Cut(parts[5], "/")
	return ok && len(name) > 1
}

// conditionValues returns the values a condition key is tested against, whatever the operator.
func conditionValues(cond map[string]map[string]any, key string) []string {
	var out []string
	for _, keys := range cond {
		for k, v := range keys {
			if !strings.EqualFold(k, key) {
				continue
			}
			switch v := v.(type) {
			case string:
				out = append(out, v)
			case []any:
				for _, x := range v {
					if s, ok := x.(string); ok {
						out = append(out, s)
					}
				}
			}
		}
	}
	return out
}

// ConditionValues is conditionValues for callers checking trust policies.
func ConditionValues(s Statement, key string) []string { return conditionValues(s.Condition, key) }

func orUnnamed(sid string) string {
	if sid == "" {
		return "no Sid"
	}
	return sid
}
