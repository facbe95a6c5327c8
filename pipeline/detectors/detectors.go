// Package detectors audits the account-level detective controls a landing zone must have on
// in the region the service runs in: a logging multi-Region CloudTrail trail with log file
// validation, GuardDuty, Security Hub, an AWS Config recorder that is recording, and Amazon
// Inspector scanning of ECR images. Each control that is off is a Finding with the related
// AWS Security Hub control and a remediation; a missing read permission is a finding too, so
// an audit with a narrow role says what it could not see instead of failing.
package detectors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/inspector2"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/smithy-go"

	"dagger/fargate/pipeline/findings"
	"dagger/fargate/pipeline/policy"
)

// Severities, on the pipeline's one scale (findings.Severity).
const (
	Critical = findings.Critical
	High     = findings.High
	Medium   = findings.Medium
	Low      = findings.Low
)

// Rule IDs, registered in the policy engine (policy.LookupRule; docs/rules.md) so the
// environments file's suppressions can name them. The Security Hub control each maps to is documented in the AWS Security Hub
// user guide: https://docs.aws.amazon.com/securityhub/latest/userguide/cloudtrail-controls.html
// (CloudTrail.1 High, CloudTrail.4 Low), .../guardduty-controls.html (GuardDuty.1 High),
// .../config-controls.html (Config.1 Critical), .../inspector-controls.html (Inspector.2 High).
// Security Hub has no control for itself being enabled.
const (
	RulePermission       = "FG-ACCT-000" // the audit role lacks a read permission
	RuleCloudTrail       = "FG-ACCT-001" // no logging multi-Region trail
	RuleTrailValidation  = "FG-ACCT-002" // a trail without log file validation
	RuleGuardDuty        = "FG-ACCT-003"
	RuleSecurityHub      = "FG-ACCT-004"
	RuleConfigRecorder   = "FG-ACCT-005"
	RuleInspectorECRScan = "FG-ACCT-006"
)

// Finding is one control that is off (or could not be checked): the pipeline's one findings
// model (findings.Finding); Findings readies them for the policy engine's report.
type Finding = findings.Finding

type check struct {
	name     string
	controls []string
	run      func(a *auditor, ctx context.Context) ([]Finding, error)
}

var checks = []check{
	{"CloudTrail", []string{"CloudTrail.1", "CloudTrail.4"}, (*auditor).cloudTrail},
	{"GuardDuty", []string{"GuardDuty.1"}, (*auditor).guardDuty},
	{"Security Hub", nil, (*auditor).securityHub},
	{"AWS Config", []string{"Config.1"}, (*auditor).config},
	{"Amazon Inspector", []string{"Inspector.2"}, (*auditor).inspector},
}

type auditor struct {
	cfg    aws.Config
	region string
}

// Audit checks the detective controls of the account cfg's credentials belong to, in region
// (empty means cfg.Region). It returns the findings sorted by rule; an empty list means every
// control is on. Errors other than missing permissions (throttling past the retries, network
// failures) stop the audit.
func Audit(ctx context.Context, cfg aws.Config, region string) ([]Finding, error) {
	if region == "" {
		region = cfg.Region
	}
	if region == "" {
		return nil, errors.New("detectors audit: region is required")
	}
	cfg = cfg.Copy()
	cfg.Region = region
	a := &auditor{cfg: cfg, region: region}
	var out []Finding
	for _, c := range checks {
		fs, err := c.run(a, ctx)
		if err != nil {
			var denied *deniedError
			if !errors.As(err, &denied) {
				return nil, fmt.Errorf("audit %s in %s: %w", c.name, region, err)
			}
			fs = append(fs, Finding{
				Rule: RulePermission, Severity: Medium, Controls: c.controls,
				Resource: a.resource(denied.service),
				Message: fmt.Sprintf("%s could not be checked in %s: the audit role may not call %s (%s)",
					c.name, region, denied.action, denied.code),
				Remediation: fmt.Sprintf("Grant the audit role %s (the AWS managed policy SecurityAudit covers every call the audit makes).", denied.action),
			})
		}
		out = append(out, fs...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Rule < out[j].Rule })
	return out, nil
}

func (a *auditor) resource(service string) string {
	return fmt.Sprintf("%s:%s", service, a.region)
}

// deniedError marks an AccessDenied answer.
type deniedError struct{ service, action, code string }

func (e *deniedError) Error() string { return e.action + ": " + e.code }

var deniedCodes = map[string]bool{
	"AccessDenied": true, "AccessDeniedException": true, "UnauthorizedOperation": true,
	"UnauthorizedAccess": true, "NotAuthorized": true,
}

// classify turns an AccessDenied answer into a *deniedError and wraps the others.
func classify(service, action string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && deniedCodes[apiErr.ErrorCode()] {
		return &deniedError{service: service, action: service + ":" + action, code: apiErr.ErrorCode()}
	}
	return fmt.Errorf("%s:%s: %w", service, action, err)
}

func (a *auditor) cloudTrail(ctx context.Context) ([]Finding, error) {
	ct := cloudtrail.NewFromConfig(a.cfg)
	out, err := ct.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		return nil, classify("cloudtrail", "DescribeTrails", err)
	}
	var fs []Finding
	logging := false
	var notLogging []string
	for _, t := range out.TrailList {
		arn := aws.ToString(t.TrailARN)
		if arn == "" {
			arn = aws.ToString(t.Name)
		}
		if !aws.ToBool(t.LogFileValidationEnabled) {
			fs = append(fs, Finding{
				Rule: RuleTrailValidation, Severity: Low, Controls: []string{"CloudTrail.4"}, Resource: arn,
				Message:     fmt.Sprintf("CloudTrail trail %s does not validate its log files: tampered or deleted log files would go unnoticed", aws.ToString(t.Name)),
				Remediation: fmt.Sprintf("aws cloudtrail update-trail --name %s --enable-log-file-validation", aws.ToString(t.Name)),
			})
		}
		if !aws.ToBool(t.IsMultiRegionTrail) {
			continue
		}
		st, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(arn)})
		if err != nil {
			return nil, classify("cloudtrail", "GetTrailStatus", err)
		}
		if aws.ToBool(st.IsLogging) {
			logging = true
		} else {
			notLogging = append(notLogging, aws.ToString(t.Name))
		}
	}
	if !logging {
		msg := "no multi-Region CloudTrail trail is logging: API activity in this account is not recorded in every Region"
		if len(notLogging) > 0 {
			msg += fmt.Sprintf(" (multi-Region trails stopped: %s)", strings.Join(notLogging, ", "))
		}
		fs = append(fs, Finding{
			Rule: RuleCloudTrail, Severity: High, Controls: []string{"CloudTrail.1"}, Resource: a.resource("cloudtrail"),
			Message: msg,
			Remediation: "Create a multi-Region trail with log file validation and KMS encryption (aws cloudtrail create-trail --is-multi-region-trail " +
				"--enable-log-file-validation --kms-key-id ...), then aws cloudtrail start-logging; or use the organization trail.",
		})
	}
	return fs, nil
}

func (a *auditor) guardDuty(ctx context.Context) ([]Finding, error) {
	gd := guardduty.NewFromConfig(a.cfg)
	var ids []string
	p := guardduty.NewListDetectorsPaginator(gd, &guardduty.ListDetectorsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("guardduty", "ListDetectors", err)
		}
		ids = append(ids, page.DetectorIds...)
	}
	for _, id := range ids {
		d, err := gd.GetDetector(ctx, &guardduty.GetDetectorInput{DetectorId: aws.String(id)})
		if err != nil {
			return nil, classify("guardduty", "GetDetector", err)
		}
		if d.Status == "ENABLED" {
			return nil, nil
		}
	}
	msg := "GuardDuty has no detector in " + a.region
	if len(ids) > 0 {
		msg = fmt.Sprintf("GuardDuty detector %s in %s is suspended", strings.Join(ids, ", "), a.region)
	}
	return []Finding{{
		Rule: RuleGuardDuty, Severity: High, Controls: []string{"GuardDuty.1"}, Resource: a.resource("guardduty"),
		Message:     msg + ": threats against the account and the workloads (including ECS runtime monitoring) are not detected",
		Remediation: "aws guardduty create-detector --enable (or update-detector --enable on the existing detector), in every Region you use.",
	}}, nil
}

func (a *auditor) securityHub(ctx context.Context) ([]Finding, error) {
	sh := securityhub.NewFromConfig(a.cfg)
	_, err := sh.DescribeHub(ctx, &securityhub.DescribeHubInput{})
	if err == nil {
		return nil, nil
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode() == "InvalidAccessException" || apiErr.ErrorCode() == "ResourceNotFoundException") {
		return []Finding{{
			Rule: RuleSecurityHub, Severity: High, Resource: a.resource("securityhub"),
			Message: "Security Hub is not enabled in " + a.region + ": the controls this pipeline maps its findings to (ECS.*, ECR.*) are not evaluated continuously",
			Remediation: "aws securityhub enable-security-hub --enable-default-standards (AWS Foundational Security Best Practices); " +
				"it needs AWS Config recording. Security Hub has no control that reports on itself.",
		}}, nil
	}
	return nil, classify("securityhub", "DescribeHub", err)
}

func (a *auditor) config(ctx context.Context) ([]Finding, error) {
	cs := configservice.NewFromConfig(a.cfg)
	recs, err := cs.DescribeConfigurationRecorders(ctx, &configservice.DescribeConfigurationRecordersInput{})
	if err != nil {
		return nil, classify("config", "DescribeConfigurationRecorders", err)
	}
	finding := func(msg string) []Finding {
		return []Finding{{
			Rule: RuleConfigRecorder, Severity: Critical, Controls: []string{"Config.1"}, Resource: a.resource("config"),
			Message: msg + ": resource configuration changes are not recorded and Security Hub controls cannot be evaluated",
			Remediation: "Set up AWS Config with a recorder for all supported resource types and a delivery channel " +
				"(aws configservice put-configuration-recorder, put-delivery-channel, start-configuration-recorder).",
		}}
	}
	if len(recs.ConfigurationRecorders) == 0 {
		return finding("AWS Config has no configuration recorder in " + a.region), nil
	}
	st, err := cs.DescribeConfigurationRecorderStatus(ctx, &configservice.DescribeConfigurationRecorderStatusInput{})
	if err != nil {
		return nil, classify("config", "DescribeConfigurationRecorderStatus", err)
	}
	var stopped []string
	for _, s := range st.ConfigurationRecordersStatus {
		if s.Recording {
			return nil, nil
		}
		stopped = append(stopped, aws.ToString(s.Name))
	}
	return finding(fmt.Sprintf("AWS Config recorder %s in %s is not recording", strings.Join(stopped, ", "), a.region)), nil
}

func (a *auditor) inspector(ctx context.Context) ([]Finding, error) {
	in := inspector2.NewFromConfig(a.cfg)
	out, err := in.BatchGetAccountStatus(ctx, &inspector2.BatchGetAccountStatusInput{})
	if err != nil {
		return nil, classify("inspector2", "BatchGetAccountStatus", err)
	}
	for _, f := range out.FailedAccounts {
		if f.ErrorCode == "ACCESS_DENIED" {
			return nil, &deniedError{service: "inspector2", action: "inspector2:BatchGetAccountStatus", code: string(f.ErrorCode)}
		}
		return nil, fmt.Errorf("inspector2:BatchGetAccountStatus: account %s: %s: %s", aws.ToString(f.AccountId), f.ErrorCode, aws.ToString(f.ErrorMessage))
	}
	status := "DISABLED"
	if len(out.Accounts) > 0 && out.Accounts[0].ResourceState != nil && out.Accounts[0].ResourceState.Ecr != nil {
		status = string(out.Accounts[0].ResourceState.Ecr.Status)
	}
	if status == "ENABLED" {
		return nil, nil
	}
	return []Finding{{
		Rule: RuleInspectorECRScan, Severity: High, Controls: []string{"Inspector.2"}, Resource: a.resource("inspector2"),
		Message:     fmt.Sprintf("Amazon Inspector ECR scanning is %s in %s: pushed images are not rescanned continuously when new CVEs are published", status, a.region),
		Remediation: "aws inspector2 enable --resource-types ECR (enhanced scanning replaces ECR basic scan-on-push for the registry).",
	}}, nil
}

// Findings readies audit findings for the policy engine (policy.NewReport, policy.Merge): the
// rule's registered severity, the finding's own controls (for FG-ACCT-000, those of the check
// that could not run), message and remediation (which names the trail or permission), the
// resource as its logical location, and the audit as its source.
func Findings(in []Finding) []policy.Finding {
	out := make([]policy.Finding, 0, len(in))
	for _, d := range in {
		f := d
		if r, ok := policy.LookupRule(d.Rule); ok {
			f.Severity = r.Severity
		} else if f.Severity == findings.Unknown {
			f.Severity = policy.High // not reachable for the rules above (TestFindingsMatchTheRegistry); never drop a finding
		}
		f.Controls = append([]string(nil), d.Controls...)
		f.Source = findings.SourceAudit
		f.Location = policy.Location{Logical: d.Resource}
		out = append(out, f)
	}
	return out
}
