// Package infra applies the landing-zone CloudFormation templates through change sets: it
// validates the template, creates a change set (CREATE for a new stack, UPDATE otherwise),
// shows it as text, refuses to execute one that would replace or remove a stateful resource
// unless told to, executes it and waits for the stack to settle, reporting the failed
// resources' reasons when the stack rolls back. It also builds the Trivy command line that
// scans the templates for misconfigurations.
package infra

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"dagger/fargate/pipeline/internal/clock"
)

// MaxTemplateBody is the largest template CloudFormation accepts inline (TemplateBody).
const MaxTemplateBody = 51200

// statefulTypes are the resource types whose replacement or removal loses data or breaks
// what depends on their identity (image history, logs, keys that encrypt retained data,
// the network every endpoint lives in). A change set that replaces or removes one is not
// executed without Options.AllowReplacement. A trailing * matches a prefix.
var statefulTypes = []string{
	"AWS::ECR::Repository",
	"AWS::Logs::LogGroup",
	"AWS::KMS::Key",
	"AWS::KMS::Alias",
	"AWS::EC2::VPC",
	"AWS::S3::Bucket",
	"AWS::RDS::*",
	"AWS::DynamoDB::Table",
	"AWS::EFS::FileSystem",
	"AWS::SecretsManager::Secret",
	"AWS::IAM::OIDCProvider",
}

// Options says which stack to create or update and how.
type Options struct {
	// StackName is the CloudFormation stack, e.g. sample-app-preprod. Required.
	StackName string
	// TemplateBody is the template text (YAML or JSON, at most 51,200 bytes). Required.
	TemplateBody string
	// Parameters are the template parameters. On an update, template parameters not given
	// here and without a default keep their previous value.
	Parameters map[string]string
	// Tags are stack tags; CloudFormation propagates them to the resources it creates.
	Tags map[string]string
	// AllowReplacement lets a change set that replaces or removes a stateful resource run.
	AllowReplacement bool
	// PlanOnly shows the change set and deletes it without executing it.
	PlanOnly bool
	// TerminationProtection turns on the stack's termination protection after a successful
	// apply (recommended for prod). It is never turned off here.
	TerminationProtection bool
	// ChangeSetName names the change set; empty means "fargate-YYYYMMDD-HHMMSS" (UTC).
	ChangeSetName string
	// PollInterval is the delay between two Describe calls; 0 means 5s.
	PollInterval time.Duration
	// ChangeSetTimeout bounds the wait for the change set to be computed; 0 means 10m.
	ChangeSetTimeout time.Duration
	// StackTimeout bounds the wait for the stack operation; 0 means 60m.
	StackTimeout time.Duration
	// Now and Sleep replace the clock (tests). Sleep must return ctx.Err() when ctx ends.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives progress lines; nil discards them.
	Logger func(format string, args ...any)
}

// Change is one resource change of a change set.
type Change struct {
	Action       string   // Add, Modify, Remove, Import, Dynamic
	LogicalID    string   // logical resource ID in the template
	PhysicalID   string   // physical ID, empty for an Add
	ResourceType string   // e.g. AWS::ECR::Repository
	Replacement  string   // True, False, Conditional, or empty for Add/Remove
	Scope        []string // Properties, Tags, Metadata, ...
}

// Stateful reports whether the resource type is in StatefulTypes.
func (c Change) Stateful() bool { return IsStateful(c.ResourceType) }

// Destructive reports whether the change replaces (True or Conditional) or removes the
// resource.
func (c Change) Destructive() bool {
	return c.Action == "Remove" || c.Replacement == "True" || c.Replacement == "Conditional"
}

// Event is a stack event that explains a failure.
type Event struct {
	LogicalID    string
	ResourceType string
	Status       string
	Reason       string
	Time         time.Time
}

// Result is what Apply did.
type Result struct {
	StackName string
	StackID   string
	// Operation is CREATE or UPDATE.
	Operation     string
	ChangeSetName string
	Changes       []Change
	// NoChanges is true when the template and parameters match the stack (nothing to do).
	NoChanges bool
	// Executed is true when the change set ran; FinalStatus is then the stack status.
	Executed    bool
	FinalStatus string
	// Outputs are the stack outputs after a successful execution.
	Outputs map[string]string
}

// RefusedError is returned when a change set replaces or removes stateful resources and
// Options.AllowReplacement is false. The change set has been deleted; nothing ran.
type RefusedError struct {
	StackName string
	Changes   []Change // the offending changes
}

func (e *RefusedError) Error() string {
	var ids []string
	for _, c := range e.Changes {
		what := "replace"
		if c.Action == "Remove" {
			what = "remove"
		}
		ids = append(ids, fmt.Sprintf("%s %s (%s)", what, c.LogicalID, c.ResourceType))
	}
	return fmt.Sprintf("stack %s: change set would %s; not executed (pass --allow-replacement after checking that the data can be lost or is retained)",
		e.StackName, strings.Join(ids, ", "))
}

// StackFailedError is returned when the stack operation fails or rolls back.
type StackFailedError struct {
	StackName string
	Status    string
	Reason    string
	Events    []Event // failed resources of this operation, oldest first
}

func (e *StackFailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stack %s ended in %s", e.StackName, e.Status)
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	for _, ev := range e.Events {
		fmt.Fprintf(&b, "; %s (%s) %s: %s", ev.LogicalID, ev.ResourceType, ev.Status, ev.Reason)
	}
	return b.String()
}

// ChangeSetFailedError is returned when CloudFormation cannot compute the change set.
type ChangeSetFailedError struct {
	StackName, ChangeSetName, Reason string
}

func (e *ChangeSetFailedError) Error() string {
	return fmt.Sprintf("stack %s: change set %s failed: %s", e.StackName, e.ChangeSetName, e.Reason)
}

var (
	stackNameRE     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)
	changeSetNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)
)

// StatefulTypes returns the resource types Apply protects (a trailing * matches a prefix).
func StatefulTypes() []string { return append([]string(nil), statefulTypes...) }

// IsStateful reports whether resources of this type hold state (see StatefulTypes).
func IsStateful(resourceType string) bool {
	for _, t := range statefulTypes {
		if prefix, ok := strings.CutSuffix(t, "*"); ok {
			if strings.HasPrefix(resourceType, prefix) {
				return true
			}
		} else if t == resourceType {
			return true
		}
	}
	return false
}

func (o *Options) validate() error {
	if !stackNameRE.MatchString(o.StackName) {
		return fmt.Errorf("infra options: StackName %q: expected a letter then letters, digits or hyphens (at most 128)", o.StackName)
	}
	if strings.TrimSpace(o.TemplateBody) == "" {
		return errors.New("infra options: TemplateBody is empty: expected the template text")
	}
	if len(o.TemplateBody) > MaxTemplateBody {
		return fmt.Errorf("infra options: TemplateBody is %d bytes: CloudFormation accepts at most %d inline; split the template", len(o.TemplateBody), MaxTemplateBody)
	}
	if o.ChangeSetName != "" && !changeSetNameRE.MatchString(o.ChangeSetName) {
		return fmt.Errorf("infra options: ChangeSetName %q: expected a letter then letters, digits or hyphens", o.ChangeSetName)
	}
	for k := range o.Tags {
		if k == "" || strings.HasPrefix(strings.ToLower(k), "aws:") {
			return fmt.Errorf("infra options: tag key %q: expected a non-empty key without the aws: prefix", k)
		}
	}
	return nil
}

type runner struct {
	cfn  *cloudformation.Client
	opts Options
}

func (r *runner) logf(format string, args ...any) {
	if r.opts.Logger != nil {
		r.opts.Logger(format, args...)
	}
}

// Plan creates a change set for opts, shows it and deletes it; nothing is executed.
func Plan(ctx context.Context, cfg aws.Config, opts Options) (Result, error) {
	opts.PlanOnly = true
	return Apply(ctx, cfg, opts)
}

// Apply creates the stack or updates it through a change set and waits for the outcome.
// With opts.PlanOnly it stops after showing the change set. Errors are *RefusedError,
// *ChangeSetFailedError, *StackFailedError, or wrapped API errors.
func Apply(ctx context.Context, cfg aws.Config, opts Options) (Result, error) {
	if err := opts.validate(); err != nil {
		return Result{}, err
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 5 * time.Second
	}
	if opts.ChangeSetTimeout <= 0 {
		opts.ChangeSetTimeout = 10 * time.Minute
	}
	if opts.StackTimeout <= 0 {
		opts.StackTimeout = 60 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = clock.Sleep
	}
	if opts.ChangeSetName == "" {
		opts.ChangeSetName = "fargate-" + opts.Now().UTC().Format("20060102-150405")
	}
	r := &runner{cfn: cloudformation.NewFromConfig(cfg), opts: opts}
	return r.apply(ctx)
}

func (r *runner) apply(ctx context.Context) (Result, error) {
	o := r.opts
	res := Result{StackName: o.StackName, ChangeSetName: o.ChangeSetName}

	tmplParams, err := r.validateTemplate(ctx)
	if err != nil {
		return res, err
	}
	status, err := r.stackStatus(ctx)
	if err != nil {
		return res, err
	}
	switch {
	case status == "" || status == "REVIEW_IN_PROGRESS":
		res.Operation = "CREATE"
	case status == "ROLLBACK_COMPLETE" || status == "ROLLBACK_FAILED" || status == "DELETE_FAILED":
		return res, fmt.Errorf("stack %s is in %s after a failed creation: it cannot be updated; delete it (aws cloudformation delete-stack --stack-name %s) and apply again",
			o.StackName, status, o.StackName)
	case status == "UPDATE_ROLLBACK_FAILED":
		return res, fmt.Errorf("stack %s is in UPDATE_ROLLBACK_FAILED: fix the resources named in its events, run aws cloudformation continue-update-rollback --stack-name %s, and apply again",
			o.StackName, o.StackName)
	case strings.HasSuffix(status, "_IN_PROGRESS"):
		return res, fmt.Errorf("stack %s is busy (%s): wait for the running operation to finish and apply again", o.StackName, status)
	default:
		res.Operation = "UPDATE"
	}

	params, err := r.parameters(tmplParams, res.Operation)
	if err != nil {
		return res, err
	}
	in := &cloudformation.CreateChangeSetInput{
		StackName:     aws.String(o.StackName),
		ChangeSetName: aws.String(o.ChangeSetName),
		ChangeSetType: types.ChangeSetType(res.Operation),
		TemplateBody:  aws.String(o.TemplateBody),
		Parameters:    params,
		Capabilities:  []types.Capability{types.CapabilityCapabilityNamedIam},
		Tags:          stackTags(o.Tags),
		Description:   aws.String("fargate infra " + strings.ToLower(res.Operation)),
	}
	out, err := r.cfn.CreateChangeSet(ctx, in)
	if err != nil {
		return res, fmt.Errorf("create change set %s for stack %s: %w", o.ChangeSetName, o.StackName, err)
	}
	csID := aws.ToString(out.Id)
	res.StackID = aws.ToString(out.StackId)
	r.logf("change set %s (%s) created for stack %s", o.ChangeSetName, res.Operation, o.StackName)

	changes, err := r.waitChangeSet(ctx, csID)
	if err != nil {
		var cf *ChangeSetFailedError
		if errors.As(err, &cf) && isNoChanges(cf.Reason) {
			r.logf("stack %s is up to date: no changes", o.StackName)
			res.NoChanges = true
			return res, r.deleteChangeSet(ctx, csID)
		}
		if cf != nil {
			// A failed change set cannot be executed; remove it so it does not pile up.
			if derr := r.deleteChangeSet(ctx, csID); derr != nil {
				r.logf("%v", derr)
			}
		}
		return res, err
	}
	res.Changes = changes
	r.logf("%s", FormatChanges(changes))

	if o.PlanOnly {
		r.logf("plan only: change set %s deleted without executing it", o.ChangeSetName)
		return res, r.deleteChangeSet(ctx, csID)
	}
	if bad := destructiveStateful(changes); len(bad) > 0 && !o.AllowReplacement {
		if err := r.deleteChangeSet(ctx, csID); err != nil {
			return res, err
		}
		return res, &RefusedError{StackName: o.StackName, Changes: bad}
	}

	if _, err := r.cfn.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{
		ChangeSetName: aws.String(csID),
		StackName:     aws.String(o.StackName),
	}); err != nil {
		return res, fmt.Errorf("execute change set %s on stack %s: %w", o.ChangeSetName, o.StackName, err)
	}
	res.Executed = true
	r.logf("executing change set %s on stack %s", o.ChangeSetName, o.StackName)

	final, err := r.waitStack(ctx)
	if err != nil {
		return res, err
	}
	res.FinalStatus = final.status
	res.Outputs = final.outputs
	if final.status == "CREATE_COMPLETE" || final.status == "UPDATE_COMPLETE" {
		r.logf("stack %s: %s", o.StackName, final.status)
		if o.TerminationProtection {
			if _, err := r.cfn.UpdateTerminationProtection(ctx, &cloudformation.UpdateTerminationProtectionInput{
				StackName: aws.String(o.StackName), EnableTerminationProtection: aws.Bool(true),
			}); err != nil {
				return res, fmt.Errorf("enable termination protection on stack %s: %w", o.StackName, err)
			}
		}
		return res, nil
	}
	events, err := r.failedEvents(ctx)
	if err != nil {
		return res, err
	}
	return res, &StackFailedError{StackName: o.StackName, Status: final.status, Reason: final.reason, Events: events}
}

type tmplParam struct {
	key        string
	hasDefault bool
}

func (r *runner) validateTemplate(ctx context.Context) ([]tmplParam, error) {
	out, err := r.cfn.ValidateTemplate(ctx, &cloudformation.ValidateTemplateInput{TemplateBody: aws.String(r.opts.TemplateBody)})
	if err != nil {
		return nil, fmt.Errorf("validate template for stack %s: %w", r.opts.StackName, err)
	}
	var ps []tmplParam
	for _, p := range out.Parameters {
		ps = append(ps, tmplParam{key: aws.ToString(p.ParameterKey), hasDefault: p.DefaultValue != nil})
	}
	return ps, nil
}

// parameters checks the given parameters against the template's and builds the list.
func (r *runner) parameters(tmpl []tmplParam, op string) ([]types.Parameter, error) {
	known := map[string]bool{}
	for _, p := range tmpl {
		known[p.key] = true
	}
	var unknown []string
	for k := range r.opts.Parameters {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("infra options: Parameters %s: not declared by the template", strings.Join(unknown, ", "))
	}
	var out []types.Parameter
	var missing []string
	for _, p := range tmpl {
		if v, ok := r.opts.Parameters[p.key]; ok {
			out = append(out, types.Parameter{ParameterKey: aws.String(p.key), ParameterValue: aws.String(v)})
			continue
		}
		if p.hasDefault {
			continue
		}
		if op == "UPDATE" {
			out = append(out, types.Parameter{ParameterKey: aws.String(p.key), UsePreviousValue: aws.Bool(true)})
			continue
		}
		missing = append(missing, p.key)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("infra options: Parameters: %s required by the template (no default) for a new stack", strings.Join(missing, ", "))
	}
	return out, nil
}

func stackTags(tags map[string]string) []types.Tag {
	keys := slices.Sorted(maps.Keys(tags))
	var out []types.Tag
	for _, k := range keys {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}

// stackStatus returns the stack's status, or "" when it does not exist.
func (r *runner) stackStatus(ctx context.Context) (string, error) {
	st, err := r.describeStack(ctx)
	if err != nil {
		return "", err
	}
	return st.status, nil
}

type stackState struct {
	status, reason string
	outputs        map[string]string
}

func (r *runner) describeStack(ctx context.Context) (stackState, error) {
	out, err := r.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(r.opts.StackName)})
	if err != nil {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" && strings.Contains(apiErr.ErrorMessage(), "does not exist") {
			return stackState{}, nil
		}
		return stackState{}, fmt.Errorf("describe stack %s: %w", r.opts.StackName, err)
	}
	if len(out.Stacks) == 0 {
		return stackState{}, nil
	}
	s := out.Stacks[0]
	st := stackState{status: string(s.StackStatus), reason: aws.ToString(s.StackStatusReason)}
	if len(s.Outputs) > 0 {
		st.outputs = map[string]string{}
		for _, o := range s.Outputs {
			st.outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
		}
	}
	return st, nil
}

func (r *runner) waitChangeSet(ctx context.Context, csID string) ([]Change, error) {
	deadline := r.opts.Now().Add(r.opts.ChangeSetTimeout)
	for {
		var changes []Change
		var status, reason string
		var token *string
		for {
			out, err := r.cfn.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{
				ChangeSetName: aws.String(csID), StackName: aws.String(r.opts.StackName), NextToken: token,
			})
			if err != nil {
				return nil, fmt.Errorf("describe change set %s of stack %s: %w", r.opts.ChangeSetName, r.opts.StackName, err)
			}
			status, reason = string(out.Status), aws.ToString(out.StatusReason)
			for _, c := range out.Changes {
				if c.ResourceChange == nil {
					continue
				}
				rc := c.ResourceChange
				ch := Change{
					Action: string(rc.Action), LogicalID: aws.ToString(rc.LogicalResourceId),
					PhysicalID: aws.ToString(rc.PhysicalResourceId), ResourceType: aws.ToString(rc.ResourceType),
					Replacement: string(rc.Replacement),
				}
				for _, s := range rc.Scope {
					ch.Scope = append(ch.Scope, string(s))
				}
				changes = append(changes, ch)
			}
			token = out.NextToken
			if token == nil || status != "CREATE_COMPLETE" {
				break
			}
		}
		switch status {
		case "CREATE_COMPLETE":
			return changes, nil
		case "FAILED":
			return nil, &ChangeSetFailedError{StackName: r.opts.StackName, ChangeSetName: r.opts.ChangeSetName, Reason: reason}
		case "DELETE_COMPLETE", "DELETE_FAILED", "DELETE_IN_PROGRESS", "DELETE_PENDING":
			return nil, fmt.Errorf("change set %s of stack %s was deleted while waiting (%s)", r.opts.ChangeSetName, r.opts.StackName, status)
		}
		if !r.opts.Now().Before(deadline) {
			return nil, fmt.Errorf("change set %s of stack %s still %s after %s", r.opts.ChangeSetName, r.opts.StackName, status, r.opts.ChangeSetTimeout)
		}
		if err := r.opts.Sleep(ctx, r.opts.PollInterval); err != nil {
			return nil, fmt.Errorf("wait for change set %s of stack %s: %w", r.opts.ChangeSetName, r.opts.StackName, err)
		}
	}
}

func isNoChanges(reason string) bool {
	return strings.Contains(reason, "didn't contain changes") || strings.Contains(reason, "No updates are to be performed")
}

func (r *runner) deleteChangeSet(ctx context.Context, csID string) error {
	if _, err := r.cfn.DeleteChangeSet(ctx, &cloudformation.DeleteChangeSetInput{
		ChangeSetName: aws.String(csID), StackName: aws.String(r.opts.StackName),
	}); err != nil {
		return fmt.Errorf("delete change set %s of stack %s: %w", r.opts.ChangeSetName, r.opts.StackName, err)
	}
	return nil
}

func destructiveStateful(changes []Change) []Change {
	var bad []Change
	for _, c := range changes {
		if c.Stateful() && c.Destructive() {
			bad = append(bad, c)
		}
	}
	return bad
}

func (r *runner) waitStack(ctx context.Context) (stackState, error) {
	deadline := r.opts.Now().Add(r.opts.StackTimeout)
	last := ""
	for {
		st, err := r.describeStack(ctx)
		if err != nil {
			return st, err
		}
		if st.status == "" {
			return st, fmt.Errorf("stack %s disappeared while its change set was executing", r.opts.StackName)
		}
		if st.status != last {
			r.logf("stack %s: %s", r.opts.StackName, st.status)
			last = st.status
		}
		if !strings.HasSuffix(st.status, "_IN_PROGRESS") {
			return st, nil
		}
		if !r.opts.Now().Before(deadline) {
			return st, fmt.Errorf("stack %s still %s after %s", r.opts.StackName, st.status, r.opts.StackTimeout)
		}
		if err := r.opts.Sleep(ctx, r.opts.PollInterval); err != nil {
			return st, fmt.Errorf("wait for stack %s: %w", r.opts.StackName, err)
		}
	}
}

// maxEventPages bounds how far back failedEvents reads.
const maxEventPages = 10

// failedEvents returns the failed resource events of the latest operation, oldest first:
// events are read newest first until the stack-level "User Initiated" event that started it.
func (r *runner) failedEvents(ctx context.Context) ([]Event, error) {
	var out []Event
	var token *string
	for page := 0; page < maxEventPages; page++ {
		resp, err := r.cfn.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{
			StackName: aws.String(r.opts.StackName), NextToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("describe events of stack %s: %w", r.opts.StackName, err)
		}
		for _, e := range resp.StackEvents {
			status := string(e.ResourceStatus)
			if aws.ToString(e.LogicalResourceId) == r.opts.StackName && strings.HasSuffix(status, "_IN_PROGRESS") &&
				aws.ToString(e.ResourceStatusReason) == "User Initiated" {
				reverse(out)
				return out, nil
			}
			if strings.HasSuffix(status, "_FAILED") && aws.ToString(e.ResourceType) != "AWS::CloudFormation::Stack" {
				out = append(out, Event{
					LogicalID: aws.ToString(e.LogicalResourceId), ResourceType: aws.ToString(e.ResourceType),
					Status: status, Reason: aws.ToString(e.ResourceStatusReason), Time: aws.ToTime(e.Timestamp),
				})
			}
		}
		token = resp.NextToken
		if token == nil {
			break
		}
	}
	reverse(out)
	return out, nil
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// FormatChanges renders a change set as an aligned table, one change a line, with
// stateful resources that would be replaced or removed marked "!".
func FormatChanges(changes []Change) string {
	if len(changes) == 0 {
		return "no changes\n"
	}
	rows := [][]string{{"", "ACTION", "LOGICAL ID", "TYPE", "REPLACEMENT", "SCOPE"}}
	for _, c := range changes {
		mark := ""
		if c.Stateful() && c.Destructive() {
			mark = "!"
		}
		repl := c.Replacement
		if repl == "" {
			repl = "-"
		}
		scope := strings.Join(c.Scope, ",")
		if scope == "" {
			scope = "-"
		}
		rows = append(rows, []string{mark, c.Action, c.LogicalID, c.ResourceType, repl, scope})
	}
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], len(cell))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		var line strings.Builder
		for i, cell := range row {
			if i > 0 {
				line.WriteString("  ")
			}
			fmt.Fprintf(&line, "%-*s", widths[i], cell)
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	return b.String()
}
