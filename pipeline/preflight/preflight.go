// Package preflight verifies, before a task definition is registered, that what it refers to
// exists where the task will look for it: every secret (secrets[].valueFrom, log
// configuration secret options, repositoryCredentials) in Secrets Manager or SSM Parameter
// Store, in the environment's region and account; the execution and task roles, trusted by
// ecs-tasks.amazonaws.com; the awslogs log groups (unless ECS is told to create them); and
// the image's ECR repository in the environment's region. Without this, each of these fails
// only when ECS starts a task, as a circuit-breaker rollback minutes later.
//
// Only metadata is read, never a secret value: DescribeSecret (Secrets Manager) and
// DescribeParameters with a Name filter (SSM; GetParameter would return the value of a
// String parameter, and the ciphertext of a SecureString, even without decryption). A read
// that fails for another reason than "not found" (access denied, throttling past the
// retries) is a problem too, "could not verify": the check fails closed, because a secret
// the pipeline's role may not describe is one the deploy cannot vouch for.
package preflight

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	smithy "github.com/aws/smithy-go"

	"dagger/fargate/pipeline/policy"
)

// SecretsAPI is the part of the Secrets Manager client preflight uses.
type SecretsAPI interface {
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

// SSMAPI is the part of the SSM client preflight uses.
type SSMAPI interface {
	DescribeParameters(ctx context.Context, in *ssm.DescribeParametersInput, optFns ...func(*ssm.Options)) (*ssm.DescribeParametersOutput, error)
}

// IAMAPI is the part of the IAM client preflight uses.
type IAMAPI interface {
	GetRole(ctx context.Context, in *iam.GetRoleInput, optFns ...func(*iam.Options)) (*iam.GetRoleOutput, error)
}

// LogsAPI is the part of the CloudWatch Logs client preflight uses.
type LogsAPI interface {
	DescribeLogGroups(ctx context.Context, in *cloudwatchlogs.DescribeLogGroupsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error)
}

// Clients reach the services checked. Logs returns the client of a region (a container's
// awslogs-region may differ from the environment's).
type Clients struct {
	Secrets SecretsAPI
	SSM     SSMAPI
	IAM     IAMAPI
	Logs    func(ctx context.Context, region string) (LogsAPI, error)
}

// Input is what to verify.
type Input struct {
	// Region is the environment's region; Account its account ID ("" skips the account check).
	Region, Account string
	// Definition is the task definition as it will be registered.
	Definition *awsecs.RegisterTaskDefinitionInput
}

// ECSTasksPrincipal is the service principal task and execution roles must trust.
const ECSTasksPrincipal = "ecs-tasks.amazonaws.com"

// maxLogGroupPages bounds the DescribeLogGroups pages read for one prefix.
const maxLogGroupPages = 5

// Problem is one thing the task would miss.
type Problem struct {
	// Resource is the exact ARN, name or image.
	Resource string
	// What is missing, or why it could not be verified.
	What string
}

func (p Problem) String() string { return p.Resource + ": " + p.What }

// Result is what was verified and what is missing.
type Result struct {
	Verified []string
	Problems []Problem

	// described is DescribeSecret's answer by secret ARN: the JSON keys of one secret are
	// as many references to it, and it is described once.
	described map[string]error
}

// Err is nil when nothing is missing; otherwise it lists every problem.
func (r *Result) Err() error {
	if len(r.Problems) == 0 {
		return nil
	}
	lines := make([]string, len(r.Problems))
	for i, p := range r.Problems {
		lines[i] = "  " + p.String()
	}
	return fmt.Errorf("preflight: the task definition refers to what its tasks could not find; nothing was registered:\n%s", strings.Join(lines, "\n"))
}

func (r *Result) miss(resource, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Resource: resource, What: fmt.Sprintf(format, args...)})
}

func (r *Result) ok(what string) { r.Verified = append(r.Verified, what) }

// Check verifies the definition's secrets, roles and log groups (see the package doc). It
// never fails: every problem, "could not verify" included, is in the Result.
func Check(ctx context.Context, c Clients, in Input) *Result {
	r := &Result{described: map[string]error{}}
	if in.Definition == nil {
		r.miss("task definition", "none given")
		return r
	}
	for _, ref := range secretRefs(in.Definition) {
		r.secret(ctx, c, in, ref)
	}
	for _, role := range []struct{ field, arn string }{
		{"executionRoleArn", aws.ToString(in.Definition.ExecutionRoleArn)},
		{"taskRoleArn", aws.ToString(in.Definition.TaskRoleArn)},
	} {
		if role.arn != "" {
			r.role(ctx, c, in, role.field, role.arn)
		}
	}
	seen := map[string]bool{}
	for _, cd := range in.Definition.ContainerDefinitions {
		lc := cd.LogConfiguration
		if lc == nil || lc.LogDriver != types.LogDriverAwslogs {
			continue
		}
		group, region := lc.Options["awslogs-group"], orDefault(lc.Options["awslogs-region"], in.Region)
		if group == "" || seen[region+" "+group] {
			continue
		}
		seen[region+" "+group] = true
		if strings.EqualFold(lc.Options["awslogs-create-group"], "true") {
			r.ok(fmt.Sprintf("log group %s (%s): created by ECS if missing (awslogs-create-group)", group, region))
			continue
		}
		r.logGroup(ctx, c, group, region)
	}
	return r
}

// secretRef is one reference to a secret, with where the definition makes it.
type secretRef struct {
	where, valueFrom string
}

func secretRefs(def *awsecs.RegisterTaskDefinitionInput) []secretRef {
	var out []secretRef
	for _, cd := range def.ContainerDefinitions {
		name := aws.ToString(cd.Name)
		for _, s := range cd.Secrets {
			out = append(out, secretRef{where: fmt.Sprintf("container %s secret %s", name, aws.ToString(s.Name)), valueFrom: aws.ToString(s.ValueFrom)})
		}
		if cd.LogConfiguration != nil {
			for _, s := range cd.LogConfiguration.SecretOptions {
				out = append(out, secretRef{where: fmt.Sprintf("container %s log option %s", name, aws.ToString(s.Name)), valueFrom: aws.ToString(s.ValueFrom)})
			}
		}
		if cd.RepositoryCredentials != nil && aws.ToString(cd.RepositoryCredentials.CredentialsParameter) != "" {
			out = append(out, secretRef{where: fmt.Sprintf("container %s repositoryCredentials", name), valueFrom: aws.ToString(cd.RepositoryCredentials.CredentialsParameter)})
		}
	}
	return out
}

// SecretARN is the secret a Secrets Manager valueFrom names: the ARN without the
// json-key:version-stage:version-id suffix ECS accepts after it
// (arn:aws:secretsmanager:region:account:secret:name-AbCdEf:json-key:version-stage:version-id).
func SecretARN(valueFrom string) string {
	parts := strings.Split(valueFrom, ":")
	if len(parts) > 7 {
		parts = parts[:7]
	}
	return strings.Join(parts, ":")
}

// arnParts splits arn:partition:service:region:account:resource.
func arnParts(arn string) (service, region, account, resource string, ok bool) {
	p := strings.SplitN(arn, ":", 6)
	if len(p) < 6 || p[0] != "arn" {
		return "", "", "", "", false
	}
	return p[2], p[3], p[4], p[5], true
}

// where checks that an ARN is in the environment's region and account.
func (r *Result) where(in Input, what, arn, region, account string) bool {
	switch {
	case region != "" && region != in.Region:
		r.miss(arn, "%s is in region %s; the environment (and its execution role) is in %s", what, region, in.Region)
		return false
	case in.Account != "" && account != "" && account != in.Account:
		r.miss(arn, "%s is in account %s; the environment's account is %s", what, account, in.Account)
		return false
	}
	return true
}

func (r *Result) secret(ctx context.Context, c Clients, in Input, ref secretRef) {
	v := ref.valueFrom
	service, region, account, resource, isARN := arnParts(v)
	switch {
	case isARN && service == "secretsmanager":
		arn := SecretARN(v)
		if !r.where(in, "the secret of "+ref.where, arn, region, account) {
			return
		}
		err, described := r.described[arn]
		if !described {
			_, err = c.Secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
			r.described[arn] = err
		}
		switch {
		case isCode(err, "ResourceNotFoundException"):
			r.miss(arn, "%s: no such secret in Secrets Manager (%s)", ref.where, in.Region)
		case err != nil:
			r.miss(arn, "%s: could not verify the secret: %s", ref.where, short(err))
		default:
			r.ok("secret " + arn)
		}
	case isARN && service == "ssm":
		if !strings.HasPrefix(resource, "parameter/") {
			r.miss(v, "%s: expected an SSM parameter ARN (arn:aws:ssm:region:account:parameter/name)", ref.where)
			return
		}
		if !r.where(in, "the parameter of "+ref.where, v, region, account) {
			return
		}
		// parameter/app/env/x is the parameter /app/env/x; parameter/x (no path) is x.
		name := strings.TrimPrefix(resource, "parameter/")
		if strings.Contains(name, "/") {
			name = "/" + name
		}
		r.parameter(ctx, c, ref, v, name)
	case isARN:
		r.miss(v, "%s: expected a Secrets Manager or SSM Parameter Store ARN", ref.where)
	default:
		// A parameter name, in the environment's region and account.
		r.parameter(ctx, c, ref, v, v)
	}
}

// parameter checks an SSM parameter's metadata (DescribeParameters, Name Equals): never
// its value.
func (r *Result) parameter(ctx context.Context, c Clients, ref secretRef, resource, name string) {
	out, err := c.SSM.DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: []ssmtypes.ParameterStringFilter{
		{Key: aws.String("Name"), Option: aws.String("Equals"), Values: []string{name}},
	}})
	switch {
	case err != nil:
		r.miss(resource, "%s: could not verify the parameter: %s", ref.where, short(err))
	case !slices.ContainsFunc(out.Parameters, func(p ssmtypes.ParameterMetadata) bool { return aws.ToString(p.Name) == name }):
		r.miss(resource, "%s: no such parameter %s in SSM Parameter Store", ref.where, name)
	default:
		r.ok("parameter " + resource)
	}
}

func (r *Result) role(ctx context.Context, c Clients, in Input, field, arn string) {
	service, _, account, resource, ok := arnParts(arn)
	if !ok || service != "iam" || !strings.HasPrefix(resource, "role/") {
		r.miss(arn, "%s: expected an IAM role ARN (arn:aws:iam::account:role/name)", field)
		return
	}
	if !r.where(in, field, arn, "", account) {
		return
	}
	name := resource[strings.LastIndex(resource, "/")+1:]
	out, err := c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	switch {
	case isCode(err, "NoSuchEntity"):
		r.miss(arn, "%s: no such role", field)
		return
	case err != nil:
		r.miss(arn, "%s: could not verify the role: %s", field, short(err))
		return
	}
	doc, err := url.QueryUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument))
	if err != nil {
		r.miss(arn, "%s: could not verify the role's trust policy: %v", field, err)
		return
	}
	parsed, err := policy.ParsePolicyDocument([]byte(doc))
	if err != nil {
		r.miss(arn, "%s: could not verify the role's trust policy: %v", field, err)
		return
	}
	if !Trusts(parsed, ECSTasksPrincipal) {
		r.miss(arn, "%s: the role's trust policy does not let %s assume it (expected an Allow of sts:AssumeRole for the service principal %s)", field, ECSTasksPrincipal, ECSTasksPrincipal)
		return
	}
	r.ok(fmt.Sprintf("role %s (%s), trusted by %s", arn, field, ECSTasksPrincipal))
}

// Trusts reports whether a trust policy allows the service principal to assume the role
// (an Allow statement naming it, with sts:AssumeRole, sts:* or *; conditions are not
// evaluated).
func Trusts(doc *policy.PolicyDocument, principal string) bool {
	for _, s := range doc.Statement {
		if !strings.EqualFold(s.Effect, "Allow") || !slices.Contains(s.Principal.Values("Service"), principal) {
			continue
		}
		for _, a := range s.Action {
			if a == "*" || strings.EqualFold(a, "sts:*") || strings.EqualFold(a, "sts:AssumeRole") {
				return true
			}
		}
	}
	return false
}

func (r *Result) logGroup(ctx context.Context, c Clients, group, region string) {
	api, err := c.Logs(ctx, region)
	if err != nil {
		r.miss(group, "could not verify the log group in %s: %v", region, err)
		return
	}
	var token *string
	for range maxLogGroupPages {
		out, err := api.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(group), NextToken: token})
		if err != nil {
			r.miss(group, "could not verify the log group in %s: %s", region, short(err))
			return
		}
		for _, g := range out.LogGroups {
			if aws.ToString(g.LogGroupName) == group {
				r.ok(fmt.Sprintf("log group %s (%s)", group, region))
				return
			}
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	r.miss(group, "no such log group in %s (awslogs-group); create it, or set awslogs-create-group to \"true\" and allow logs:CreateLogGroup", region)
}

// ImageRegions checks that every container image in an ECR repository is in the
// environment's region (images elsewhere, in another registry, are not checked).
func ImageRegions(def *awsecs.RegisterTaskDefinitionInput, region string) []Problem {
	var out []Problem
	for _, cd := range def.ContainerDefinitions {
		img := aws.ToString(cd.Image)
		host, _, _ := strings.Cut(img, "/")
		// account.dkr.ecr.region.amazonaws.com(.cn)
		p := strings.Split(host, ".")
		if len(p) < 5 || p[1] != "dkr" || p[2] != "ecr" {
			continue
		}
		if p[3] != region {
			out = append(out, Problem{Resource: img, What: fmt.Sprintf("container %s: the image's ECR repository is in region %s; the environment is in %s", aws.ToString(cd.Name), p[3], region)})
		}
	}
	return out
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return err != nil && errors.As(err, &ae) && ae.ErrorCode() == code
}

// short is an AWS error as code: message, without the SDK's operation and request ID.
func short(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
