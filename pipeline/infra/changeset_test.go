package infra

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/cfnfake"
	"dagger/fargate/pipeline/internal/fakeaws"
)

const tmplV1 = `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Environment:
    Type: String
  Owner:
    Type: String
    Default: platform
Resources:
  Repository:
    Type: AWS::ECR::Repository
    Properties:
      ImageTagMutability: IMMUTABLE
  LogGroup:
    Type: AWS::Logs::LogGroup
    Properties:
      RetentionInDays: 30
  TaskRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub app-${Environment}
Outputs:
  RepositoryUri:
    Value: !GetAtt Repository.RepositoryUri
`

// fixV2 adds a queue and changes the task role of tmplV1.
func fixV2() string {
	return strings.Replace(strings.Replace(tmplV1, "RoleName: !Sub app-${Environment}", "RoleName: !Sub app-${Environment}-v2", 1),
		"Outputs:", "  Queue:\n    Type: AWS::SQS::Queue\nOutputs:", 1)
}

type harness struct {
	srv    *fakeaws.Server
	fake   *cfnfake.Fake
	sleeps int
	logs   []string
}

func newHarness(t *testing.T) *harness {
	srv := fakeaws.New(t)
	return &harness{srv: srv, fake: cfnfake.New(srv)}
}

func (h *harness) opts(body string) Options {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	return Options{
		StackName:    "sample-app-preprod",
		TemplateBody: body,
		Parameters:   map[string]string{"Environment": "preprod"},
		Tags:         map[string]string{"env": "preprod", "owner": "platform", "cost-center": "cc-1234"},
		Now:          func() time.Time { return now },
		Sleep: func(ctx context.Context, d time.Duration) error {
			h.sleeps++
			now = now.Add(d)
			return ctx.Err()
		},
		Logger: func(format string, args ...any) { h.logs = append(h.logs, fmt.Sprintf(format, args...)) },
	}
}

func (h *harness) form(t *testing.T, op string, i int) url.Values {
	t.Helper()
	var seen int
	for _, c := range h.srv.CallLog() {
		if c.Service == "cloudformation" && c.Operation == op {
			if seen == i {
				f, err := url.ParseQuery(string(c.Body))
				require.NoError(t, err)
				return f
			}
			seen++
		}
	}
	t.Fatalf("no call %d of %s", i, op)
	return nil
}

func TestApplyCreatesThenUpdates(t *testing.T) {
	h := newHarness(t)
	cfg := h.srv.Config(t)
	ctx := context.Background()

	res, err := Apply(ctx, cfg, h.opts(tmplV1))
	require.NoError(t, err)
	assert.Equal(t, "CREATE", res.Operation)
	assert.True(t, res.Executed)
	assert.Equal(t, "CREATE_COMPLETE", res.FinalStatus)
	assert.Equal(t, "CREATE_COMPLETE", h.fake.StackStatus("sample-app-preprod"))
	assert.Equal(t, []string{"LogGroup", "Repository", "TaskRole"}, h.fake.StackResources("sample-app-preprod"))
	assert.Equal(t, map[string]string{"RepositoryUri": "fake-RepositoryUri"}, res.Outputs)
	require.Len(t, res.Changes, 3)
	for _, c := range res.Changes {
		assert.Equal(t, "Add", c.Action)
	}
	assert.Positive(t, h.sleeps, "change set and stack are polled")

	create := h.form(t, "CreateChangeSet", 0)
	assert.Equal(t, "CREATE", create.Get("ChangeSetType"))
	assert.Equal(t, "CAPABILITY_NAMED_IAM", create.Get("Capabilities.member.1"))
	assert.Equal(t, "Environment", create.Get("Parameters.member.1.ParameterKey"))
	assert.Equal(t, "preprod", create.Get("Parameters.member.1.ParameterValue"))
	assert.Equal(t, "cost-center", create.Get("Tags.member.1.Key"))

	// Second apply with a changed template: an UPDATE with Add + Modify.
	opts := h.opts(fixV2())
	opts.ChangeSetName = "second"
	res, err = Apply(ctx, cfg, opts)
	require.NoError(t, err)
	assert.Equal(t, "UPDATE", res.Operation)
	assert.Equal(t, "UPDATE_COMPLETE", res.FinalStatus)
	assert.Equal(t, []Change{
		{Action: "Add", LogicalID: "Queue", ResourceType: "AWS::SQS::Queue"},
		{Action: "Modify", LogicalID: "TaskRole", PhysicalID: "phys-TaskRole", ResourceType: "AWS::IAM::Role", Replacement: "False", Scope: []string{"Properties"}},
	}, res.Changes)
	assert.Equal(t, "UPDATE", h.form(t, "CreateChangeSet", 1).Get("ChangeSetType"))
	assert.Equal(t, 2, h.fake.Executions)
	assert.Zero(t, h.fake.ChangeSetCount())
	assert.Contains(t, strings.Join(h.logs, "\n"), "Modify  TaskRole")
}

func TestApplyUpdateKeepsPreviousValueOfUngivenParameter(t *testing.T) {
	h := newHarness(t)
	cfg := h.srv.Config(t)
	_, err := Apply(context.Background(), cfg, h.opts(tmplV1))
	require.NoError(t, err)
	opts := h.opts(fixV2())
	opts.Parameters = nil
	_, err = Apply(context.Background(), cfg, opts)
	require.NoError(t, err)
	f := h.form(t, "CreateChangeSet", 1)
	assert.Equal(t, "Environment", f.Get("Parameters.member.1.ParameterKey"))
	assert.Equal(t, "true", f.Get("Parameters.member.1.UsePreviousValue"))
	assert.Empty(t, f.Get("Parameters.member.2.ParameterKey"), "Owner has a default and is not sent")
}

func TestApplyNoChangesIsSuccess(t *testing.T) {
	h := newHarness(t)
	cfg := h.srv.Config(t)
	_, err := Apply(context.Background(), cfg, h.opts(tmplV1))
	require.NoError(t, err)

	res, err := Apply(context.Background(), cfg, h.opts(tmplV1))
	require.NoError(t, err)
	assert.True(t, res.NoChanges)
	assert.False(t, res.Executed)
	assert.Equal(t, 1, h.fake.Executions, "nothing executed the second time")
	assert.Equal(t, 1, h.srv.Calls("cloudformation", "DeleteChangeSet"), "empty change set cleaned up")
	assert.Zero(t, h.fake.ChangeSetCount())
}

func TestApplyFailedChangeSet(t *testing.T) {
	h := newHarness(t)
	h.fake.FailNextChangeSet("Template error: instance of Fn::GetAtt references undefined resource Nope")
	_, err := Apply(context.Background(), h.srv.Config(t), h.opts(tmplV1))
	var cf *ChangeSetFailedError
	require.ErrorAs(t, err, &cf)
	assert.Contains(t, err.Error(), "undefined resource Nope")
	assert.Zero(t, h.fake.Executions)
	assert.Zero(t, h.srv.Calls("cloudformation", "ExecuteChangeSet"))
	assert.Zero(t, h.fake.ChangeSetCount(), "failed change set removed")
}

func TestApplyRefusesStatefulReplacement(t *testing.T) {
	for _, tc := range []struct {
		name        string
		replacement string
		allow       bool
		wantRefused bool
	}{
		{"replacement true refused", "True", false, true},
		{"conditional refused", "Conditional", false, true},
		{"allowed with flag", "True", true, false},
		{"in-place update runs", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			cfg := h.srv.Config(t)
			_, err := Apply(context.Background(), cfg, h.opts(tmplV1))
			require.NoError(t, err)
			if tc.replacement != "" {
				h.fake.SetReplacement("Repository", tc.replacement)
			}
			opts := h.opts(strings.Replace(tmplV1, "IMMUTABLE", "IMMUTABLE\n      EncryptionConfiguration: {EncryptionType: KMS}", 1))
			opts.AllowReplacement = tc.allow
			res, err := Apply(context.Background(), cfg, opts)
			if tc.wantRefused {
				var refused *RefusedError
				require.ErrorAs(t, err, &refused)
				assert.Equal(t, "Repository", refused.Changes[0].LogicalID)
				assert.Contains(t, err.Error(), "replace Repository (AWS::ECR::Repository)")
				assert.Equal(t, 1, h.fake.Executions, "only the creation ran")
				assert.Zero(t, h.fake.ChangeSetCount(), "refused change set deleted")
				assert.False(t, res.Executed)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 2, h.fake.Executions)
		})
	}
}

func TestApplyRefusesStatefulRemoval(t *testing.T) {
	h := newHarness(t)
	cfg := h.srv.Config(t)
	_, err := Apply(context.Background(), cfg, h.opts(tmplV1))
	require.NoError(t, err)
	without := strings.Replace(tmplV1, "  LogGroup:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      RetentionInDays: 30\n", "", 1)
	_, err = Apply(context.Background(), cfg, h.opts(without))
	var refused *RefusedError
	require.ErrorAs(t, err, &refused)
	assert.Contains(t, err.Error(), "remove LogGroup (AWS::Logs::LogGroup)")
	assert.Equal(t, 1, h.fake.Executions)
}

func TestPlanOnlyExecutesNothing(t *testing.T) {
	h := newHarness(t)
	res, err := Plan(context.Background(), h.srv.Config(t), h.opts(tmplV1))
	require.NoError(t, err)
	assert.Len(t, res.Changes, 3)
	assert.False(t, res.Executed)
	assert.Zero(t, h.fake.Executions)
	assert.Zero(t, h.fake.ChangeSetCount())
	assert.Equal(t, "REVIEW_IN_PROGRESS", h.fake.StackStatus("sample-app-preprod"))

	// The following apply still creates (the empty stack is in review).
	res, err = Apply(context.Background(), h.srv.Config(t), h.opts(tmplV1))
	require.NoError(t, err)
	assert.Equal(t, "CREATE", res.Operation)
	assert.Equal(t, "CREATE_COMPLETE", res.FinalStatus)
}

func TestApplyRollbackIsFailure(t *testing.T) {
	t.Run("update rollback", func(t *testing.T) {
		h := newHarness(t)
		h.fake.PageSize = 2 // exercise paging of changes and events
		cfg := h.srv.Config(t)
		_, err := Apply(context.Background(), cfg, h.opts(tmplV1))
		require.NoError(t, err)
		h.fake.FailNextExecution("Queue", "Resource handler returned message: \"Access denied for sqs:CreateQueue\"")
		res, err := Apply(context.Background(), cfg, h.opts(fixV2()))
		var failed *StackFailedError
		require.ErrorAs(t, err, &failed)
		assert.Equal(t, "UPDATE_ROLLBACK_COMPLETE", failed.Status)
		require.Len(t, failed.Events, 1, "only this operation's failures")
		assert.Equal(t, "Queue", failed.Events[0].LogicalID)
		assert.Equal(t, "UPDATE_FAILED", failed.Events[0].Status)
		assert.Contains(t, err.Error(), "Access denied for sqs:CreateQueue")
		assert.True(t, res.Executed)
		assert.Len(t, res.Changes, 2)
	})
	t.Run("create rollback then refuse to update", func(t *testing.T) {
		h := newHarness(t)
		cfg := h.srv.Config(t)
		h.fake.FailNextExecution("Repository", "Resource handler returned message: \"KMS key is disabled\"")
		_, err := Apply(context.Background(), cfg, h.opts(tmplV1))
		var failed *StackFailedError
		require.ErrorAs(t, err, &failed)
		assert.Equal(t, "ROLLBACK_COMPLETE", failed.Status)
		assert.Equal(t, "CREATE_FAILED", failed.Events[0].Status)

		_, err = Apply(context.Background(), cfg, h.opts(tmplV1))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "ROLLBACK_COMPLETE after a failed creation")
		assert.Equal(t, 1, h.fake.Executions)
	})
}

func TestApplyBadInput(t *testing.T) {
	h := newHarness(t)
	cfg := h.srv.Config(t)
	for _, tc := range []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"stack name", func(o *Options) { o.StackName = "1bad_name" }, "StackName"},
		{"empty template", func(o *Options) { o.TemplateBody = " " }, "TemplateBody is empty"},
		{"template too big", func(o *Options) { o.TemplateBody = strings.Repeat("#", MaxTemplateBody+1) }, "at most 51200"},
		{"change set name", func(o *Options) { o.ChangeSetName = "bad name" }, "ChangeSetName"},
		{"aws tag", func(o *Options) { o.Tags = map[string]string{"aws:x": "y"} }, "tag key"},
		{"unknown parameter", func(o *Options) { o.Parameters = map[string]string{"Environment": "p", "Nope": "x"} }, "Parameters Nope: not declared"},
		{"missing parameter on create", func(o *Options) { o.Parameters = nil }, "Environment required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := h.opts(tmplV1)
			tc.mod(&o)
			_, err := Apply(context.Background(), cfg, o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	assert.Zero(t, h.srv.Calls("cloudformation", "CreateChangeSet"))
}

func TestApplyAPIErrorsAreWrapped(t *testing.T) {
	h := newHarness(t)
	h.srv.FailNext("cloudformation", "CreateChangeSet", fakeaws.Errorf("AccessDenied", "not authorized to perform cloudformation:CreateChangeSet"))
	_, err := Apply(context.Background(), h.srv.Config(t), h.opts(tmplV1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "create change set")
	assert.Contains(t, err.Error(), "AccessDenied")
	assert.NotContains(t, err.Error(), "fake-secret-never-printed")
}

func TestApplyRetriesThrottling(t *testing.T) {
	h := newHarness(t)
	h.srv.FailNext("cloudformation", "DescribeStacks", fakeaws.Throttling(), fakeaws.Throttling())
	res, err := Apply(context.Background(), h.srv.Config(t), h.opts(tmplV1))
	require.NoError(t, err)
	assert.Equal(t, "CREATE_COMPLETE", res.FinalStatus)
}

func TestApplyWaitTimesOut(t *testing.T) {
	h := newHarness(t)
	h.fake.Steps = 1000
	o := h.opts(tmplV1)
	o.ChangeSetTimeout = 30 * time.Second
	_, err := Apply(context.Background(), h.srv.Config(t), o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "still CREATE_IN_PROGRESS after 30s")
	assert.Equal(t, 6, h.sleeps, "30s at 5s a poll")
}

func TestApplyContextCancelled(t *testing.T) {
	h := newHarness(t)
	h.fake.Steps = 1000
	ctx, cancel := context.WithCancel(context.Background())
	o := h.opts(tmplV1)
	o.Sleep = func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }
	_, err := Apply(ctx, h.srv.Config(t), o)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled))
}

func TestFormatChanges(t *testing.T) {
	got := FormatChanges([]Change{
		{Action: "Modify", LogicalID: "Repository", ResourceType: "AWS::ECR::Repository", Replacement: "True", Scope: []string{"Properties"}},
		{Action: "Add", LogicalID: "Queue", ResourceType: "AWS::SQS::Queue"},
	})
	assert.Equal(t, ""+
		"   ACTION  LOGICAL ID  TYPE                  REPLACEMENT  SCOPE\n"+
		"!  Modify  Repository  AWS::ECR::Repository  True         Properties\n"+
		"   Add     Queue       AWS::SQS::Queue       -            -\n", got)
	assert.Equal(t, "no changes\n", FormatChanges(nil))
}

func TestIsStateful(t *testing.T) {
	for typ, want := range map[string]bool{
		"AWS::ECR::Repository": true, "AWS::RDS::DBCluster": true, "AWS::Logs::LogGroup": true,
		"AWS::IAM::Role": false, "AWS::ECS::Service": false, "AWS::RDSX::Foo": false,
	} {
		assert.Equal(t, want, IsStateful(typ), typ)
	}
}

func TestApplyParameterChangeUpdatesReferringResources(t *testing.T) {
	h := newHarness(t)
	cfg := h.srv.Config(t)
	_, err := Apply(context.Background(), cfg, h.opts(tmplV1))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"Environment": "preprod"}, h.fake.StackParameters("sample-app-preprod"))

	o := h.opts(tmplV1)
	o.Parameters = map[string]string{"Environment": "prod"}
	res, err := Apply(context.Background(), cfg, o)
	require.NoError(t, err)
	require.Len(t, res.Changes, 1)
	assert.Equal(t, "TaskRole", res.Changes[0].LogicalID, "only the resource that refers to Environment")
	assert.Equal(t, map[string]string{"Environment": "prod"}, h.fake.StackParameters("sample-app-preprod"))
}

func TestApplyTerminationProtection(t *testing.T) {
	h := newHarness(t)
	o := h.opts(tmplV1)
	o.TerminationProtection = true
	_, err := Apply(context.Background(), h.srv.Config(t), o)
	require.NoError(t, err)
	assert.True(t, h.fake.TerminationProtected("sample-app-preprod"))

	h2 := newHarness(t)
	_, err = Apply(context.Background(), h2.srv.Config(t), h2.opts(tmplV1))
	require.NoError(t, err)
	assert.False(t, h2.fake.TerminationProtected("sample-app-preprod"))
	assert.Zero(t, h2.srv.Calls("cloudformation", "UpdateTerminationProtection"))
}

func TestApplyRealTemplateBootstrap(t *testing.T) {
	// The landing-zone template goes through the whole flow: every resource is added on
	// create, and a DesiredCount change later only modifies the service.
	body, err := os.ReadFile(serviceTemplate)
	require.NoError(t, err)
	h := newHarness(t)
	o := h.opts(string(body))
	o.Parameters = map[string]string{
		"Environment": "preprod", "CertificateArn": "arn:aws:acm:eu-west-1:111122223333:certificate/x",
		"ContainerImage": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/sample-app@sha256:" + strings.Repeat("b", 64),
		"DesiredCount":   "0", "GitHubOrg": "example", "GitHubRepo": "fargate",
	}
	res, err := Apply(context.Background(), h.srv.Config(t), o)
	require.NoError(t, err)
	assert.Greater(t, len(res.Changes), 50)
	assert.Contains(t, res.Outputs, "RepositoryUri")

	o.Parameters = map[string]string{"DesiredCount": "2"}
	res, err = Apply(context.Background(), h.srv.Config(t), o)
	require.NoError(t, err)
	var ids []string
	for _, c := range res.Changes {
		ids = append(ids, c.LogicalID)
	}
	assert.Equal(t, []string{"Service"}, ids)
	f := h.form(t, "CreateChangeSet", 1)
	assert.Contains(t, f.Encode(), "UsePreviousValue", "other parameters keep their values")
}

func TestApplyDefaultChangeSetName(t *testing.T) {
	h := newHarness(t)
	res, err := Apply(context.Background(), h.srv.Config(t), h.opts(tmplV1))
	require.NoError(t, err)
	assert.Equal(t, "fargate-20260301-000000", res.ChangeSetName)
	assert.Equal(t, "fargate-20260301-000000", h.form(t, "CreateChangeSet", 0).Get("ChangeSetName"))
}
