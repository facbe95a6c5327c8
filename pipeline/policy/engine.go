package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"dagger/fargate/pipeline/policy/dockerfile"
)

// FileInput is a file given to Check: its path (as shown in reports and SARIF) and content.
type FileInput struct {
	Path    string
	Content []byte
}

// PolicyInput is an IAM policy document file and the role it belongs to.
type PolicyInput struct {
	Path    string
	Content []byte
	Role    RoleKind
	// Name labels the policy in findings as "iam/<Name>" (once, if it already starts with "iam/");
	// defaults to the path.
	Name string
}

// CheckInput is everything Check evaluates, all offline.
type CheckInput struct {
	Dockerfile      *FileInput
	TaskDefinitions []TaskDefinitionInput
	IAMPolicies     []PolicyInput
	// Service holds the service settings from the environments file; nil skips service rules.
	Service      *ServiceFacts
	RequiredTags []string
	Env          string
	// Production is the environment's production property (the stricter service rules).
	Production   bool
	Suppressions []Suppression
	// Now decides whether suppressions have expired; zero means time.Now().
	Now time.Time
}

// Check evaluates the inputs against every rule, with no AWS call. Malformed input (a
// Dockerfile, task definition or policy that does not parse, an invalid suppression) is an
// error, never a pass.
func Check(ctx context.Context, in CheckInput) (Report, error) {
	sup, err := ParseSuppressions(in.Suppressions)
	if err != nil {
		return Report{}, err
	}
	var findings []Finding
	var secretRefs []string
	if in.Dockerfile != nil {
		fs, err := DockerfileFindings(in.Dockerfile.Path, in.Dockerfile.Content)
		if err != nil {
			return Report{}, err
		}
		findings = append(findings, fs...)
	}
	for i, t := range in.TaskDefinitions {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return Report{}, fmt.Errorf("check task definitions: %w", err)
			}
		}
		td, tags := t.Definition, t.Tags
		if td == nil {
			if t.Content == nil {
				return Report{}, fmt.Errorf("task definition %d (%s): neither content nor a parsed definition given", i, t.Path)
			}
			td, tags, err = ParseTaskDefinition(t.Content)
			if err != nil {
				return Report{}, fmt.Errorf("task definition %s: %w", displayPath(t.Path, i), err)
			}
		}
		secretRefs = append(secretRefs, SecretARNs(td)...)
		findings = append(findings, taskDefinitionFindings(td, tags, in.RequiredTags, t.Path, t.Content)...)
	}
	for i, p := range in.IAMPolicies {
		doc, err := ParsePolicyDocument(p.Content)
		if err == nil {
			err = doc.checkKind(p.Role)
		}
		if err != nil {
			return Report{}, fmt.Errorf("IAM policy %s: %w", displayPath(p.Path, i), err)
		}
		name := p.Name
		if name == "" {
			name = p.Path
		}
		if !strings.HasPrefix(name, "iam/") {
			name = "iam/" + name // a file under iam/ is not named iam/iam/…
		}
		findings = append(findings, PolicyFindings(doc, p.Role, name, secretRefs, Location{Path: p.Path})...)
	}
	if in.Service != nil {
		findings = append(findings, evalService(viewFromFacts(*in.Service, in.Env, in.Production, in.RequiredTags))...)
	}
	return NewReport(findings, sup, in.Now), nil
}

func displayPath(path string, i int) string {
	if path == "" {
		return fmt.Sprintf("#%d", i)
	}
	return path
}

// TaskDefinitionFindings evaluates a task definition (e.g. the one the deploy engine rendered,
// or one read from AWS) against the FG-TD rules.
func TaskDefinitionFindings(td *ecstypes.TaskDefinition, tags []ecstypes.Tag, requiredTags []string, loc Location) []Finding {
	return taskDefinitionFindingsAt(td, tags, requiredTags, loc, nil)
}

func taskDefinitionFindings(td *ecstypes.TaskDefinition, tags []ecstypes.Tag, required []string, path string, content []byte) []Finding {
	return taskDefinitionFindingsAt(td, tags, required, Location{Path: path}, content)
}

func taskDefinitionFindingsAt(td *ecstypes.TaskDefinition, tags []ecstypes.Tag, required []string, loc Location, content []byte) []Finding {
	name := aws.ToString(td.Family)
	if name == "" {
		name = loc.Path
	}
	v := &taskDefView{td: td, tags: tags, requiredTags: required, resource: "task-definition/" + name, content: content}
	var out []Finding
	for i := range registry {
		r := &registry[i]
		if r.td == nil {
			continue
		}
		for _, h := range r.td(v) {
			out = append(out, finding(r, v.resource, loc, h))
		}
	}
	return out
}

// ServiceFindings evaluates a live (or rendered) service with optional network facts against
// the FG-SVC rules.
func ServiceFindings(svc ecstypes.Service, net *NetworkFacts, opts ServiceOptions) []Finding {
	return evalService(viewFromService(svc, net, opts))
}

func evalService(v *serviceView) []Finding {
	var out []Finding
	for i := range registry {
		r := &registry[i]
		if r.svc == nil {
			continue
		}
		for _, h := range r.svc(v) {
			out = append(out, finding(r, v.resource, Location{}, h))
		}
	}
	return out
}

// ClusterFindings evaluates a cluster (described with SETTINGS and TAGS) against the FG-CL rules.
func ClusterFindings(c ecstypes.Cluster, requiredTags []string) []Finding {
	v := &clusterView{cluster: c, resource: "cluster/" + aws.ToString(c.ClusterName), requiredTags: requiredTags}
	var out []Finding
	for i := range registry {
		r := &registry[i]
		if r.cl == nil {
			continue
		}
		for _, h := range r.cl(v) {
			out = append(out, finding(r, v.resource, Location{Logical: aws.ToString(c.ClusterArn)}, h))
		}
	}
	return out
}

// RepositoryFindings evaluates an ECR repository against the FG-ECR rules.
func RepositoryFindings(f RepositoryFacts) []Finding {
	v := &repoView{facts: f, resource: "ecr/" + aws.ToString(f.Repository.RepositoryName)}
	var out []Finding
	for i := range registry {
		r := &registry[i]
		if r.repo == nil {
			continue
		}
		for _, h := range r.repo(v) {
			out = append(out, finding(r, v.resource, Location{Logical: aws.ToString(f.Repository.RepositoryArn)}, h))
		}
	}
	return out
}

// DockerfileFindings parses a Dockerfile and evaluates it against the FG-DF rules; a
// Dockerfile that does not parse is an error.
func DockerfileFindings(path string, content []byte) ([]Finding, error) {
	f, err := dockerfile.Parse(content)
	if err != nil {
		return nil, fmt.Errorf("parse Dockerfile %s: %w", path, err)
	}
	if path == "" {
		path = "Dockerfile"
	}
	v := &dockerfileView{f: f, resource: path}
	var out []Finding
	for i := range registry {
		r := &registry[i]
		if r.df == nil {
			continue
		}
		for _, h := range r.df(v) {
			out = append(out, finding(r, v.resource, Location{Path: path}, h))
		}
	}
	return out, nil
}

// PolicyFindings evaluates an IAM policy document against the FG-IAM rules: a trust policy
// (RoleTrust) against the trust rules, any other kind against the permissions rules. resource
// names the policy (e.g. "iam/role/NAME/policy/POLICY"); secretARNs are the task's secret
// references, which an execution role's secret reads must target (ignored when empty).
func PolicyFindings(doc *PolicyDocument, kind RoleKind, resource string, secretARNs []string, loc Location) []Finding {
	v := &iamView{doc: doc, kind: kind, resource: resource, secretARNs: secretARNs}
	var out []Finding
	for i := range registry {
		r := &registry[i]
		check := r.iam
		if kind == RoleTrust {
			check = r.trust
		}
		if check == nil {
			continue
		}
		for _, h := range check(v) {
			out = append(out, finding(r, v.resource, loc, h))
		}
	}
	return out
}

// AuditReadFinding reports a resource the audit could not read (e.g. AccessDenied), naming the
// IAM permission that is missing. The error text is included; it never carries credentials.
func AuditReadFinding(resource, permission string, err error) Finding {
	r := lookup(RuleAuditReadFailed)
	msg := fmt.Sprintf("could not read %s (%s)", resource, permission)
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr) && isAccessDeniedCode(apiErr.ErrorCode()):
		msg = fmt.Sprintf("could not read %s: missing permission %s (%s: %s)", resource, permission, apiErr.ErrorCode(), firstLine(apiErr.ErrorMessage()))
	case errors.As(err, &apiErr):
		msg += fmt.Sprintf(": %s: %s", apiErr.ErrorCode(), firstLine(apiErr.ErrorMessage()))
	case err != nil:
		msg += ": " + firstLine(err.Error())
	}
	return finding(r, resource, Location{}, hit{message: msg})
}

// isAccessDeniedCode reports whether an AWS error code means a missing permission.
func isAccessDeniedCode(code string) bool {
	switch code {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess", "UnrecognizedClientException":
		return true
	}
	return false
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// NewReport applies suppressions (nil: none) at time now (zero: time.Now()) and counts the findings.
func NewReport(findings []Finding, sup *Suppressions, now time.Time) Report {
	if now.IsZero() {
		now = time.Now()
	}
	if sup != nil {
		findings = sup.Apply(findings, now)
	}
	return newReport(findings)
}
