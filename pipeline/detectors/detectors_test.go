package detectors

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/detectorfake"
	"dagger/fargate/pipeline/internal/fakeaws"
	"dagger/fargate/pipeline/policy"

	"dagger/fargate/pipeline/findings"
)

func audit(t *testing.T, acct *detectorfake.Account) ([]Finding, *fakeaws.Server) {
	t.Helper()
	srv := fakeaws.New(t)
	detectorfake.New(srv, acct)
	fs, err := Audit(context.Background(), srv.Config(t), "eu-west-1")
	require.NoError(t, err)
	return fs, srv
}

func rules(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}

func TestAuditAllOn(t *testing.T) {
	fs, srv := audit(t, detectorfake.AllOn())
	assert.Empty(t, fs)
	for _, op := range []struct{ svc, op string }{
		{"cloudtrail", "DescribeTrails"}, {"cloudtrail", "GetTrailStatus"},
		{"config", "DescribeConfigurationRecorders"}, {"config", "DescribeConfigurationRecorderStatus"},
		{"guardduty", "GET /detector"}, {"guardduty", "GET /detector/12abc34d567e8fa901bc2d34e56789f0"},
		{"securityhub", "GET /accounts"}, {"inspector2", "POST /status/batch/get"},
	} {
		assert.Equal(t, 1, srv.Calls(op.svc, op.op), "%s %s", op.svc, op.op)
	}
}

func TestAuditEachOff(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mod      func(*detectorfake.Account)
		rule     string
		severity policy.Severity
		control  string
		message  string
	}{
		{"no trail", func(a *detectorfake.Account) { a.Trails = nil }, RuleCloudTrail, High, "CloudTrail.1", "no multi-Region CloudTrail trail is logging"},
		{"trail stopped", func(a *detectorfake.Account) { a.Trails[0].Logging = false }, RuleCloudTrail, High, "CloudTrail.1", "stopped: org-trail"},
		{"single-region trail only", func(a *detectorfake.Account) { a.Trails[0].MultiRegion = false }, RuleCloudTrail, High, "CloudTrail.1", "not recorded in every Region"},
		{"no log validation", func(a *detectorfake.Account) { a.Trails[0].LogFileValidation = false }, RuleTrailValidation, Low, "CloudTrail.4", "does not validate its log files"},
		{"no guardduty detector", func(a *detectorfake.Account) { a.Detectors = nil }, RuleGuardDuty, High, "GuardDuty.1", "no detector in eu-west-1"},
		{"guardduty suspended", func(a *detectorfake.Account) { a.Detectors[0].Status = "DISABLED" }, RuleGuardDuty, High, "GuardDuty.1", "is suspended"},
		{"security hub off", func(a *detectorfake.Account) { a.SecurityHub = false }, RuleSecurityHub, High, "", "Security Hub is not enabled"},
		{"no config recorder", func(a *detectorfake.Account) { a.Recorders = nil }, RuleConfigRecorder, Critical, "Config.1", "no configuration recorder"},
		{"config not recording", func(a *detectorfake.Account) { a.Recorders[0].Recording = false }, RuleConfigRecorder, Critical, "Config.1", "recorder default in eu-west-1 is not recording"},
		{"inspector ecr off", func(a *detectorfake.Account) { a.InspectorECR = "DISABLED" }, RuleInspectorECRScan, High, "Inspector.2", "ECR scanning is DISABLED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acct := detectorfake.AllOn()
			tc.mod(acct)
			fs, _ := audit(t, acct)
			require.Len(t, fs, 1, "exactly the control that is off: %v", rules(fs))
			f := fs[0]
			assert.Equal(t, tc.rule, f.Rule)
			assert.Equal(t, tc.severity, f.Severity)
			if tc.control != "" {
				assert.Equal(t, []string{tc.control}, f.Controls)
			} else {
				assert.Empty(t, f.Controls)
			}
			assert.Contains(t, f.Message, tc.message)
			assert.NotEmpty(t, f.Remediation)
			assert.NotEmpty(t, f.Resource)
		})
	}
}

func TestAuditEverythingOffSortedByRule(t *testing.T) {
	fs, _ := audit(t, &detectorfake.Account{ID: "111122223333"})
	assert.Equal(t, []string{RuleCloudTrail, RuleGuardDuty, RuleSecurityHub, RuleConfigRecorder, RuleInspectorECRScan}, rules(fs))
}

func TestAuditAccessDenied(t *testing.T) {
	for _, tc := range []struct {
		denied  string
		control string
		name    string
	}{
		{"cloudtrail:DescribeTrails", "CloudTrail.1", "CloudTrail"},
		{"cloudtrail:GetTrailStatus", "CloudTrail.1", "CloudTrail"},
		{"guardduty:ListDetectors", "GuardDuty.1", "GuardDuty"},
		{"guardduty:GetDetector", "GuardDuty.1", "GuardDuty"},
		{"securityhub:DescribeHub", "", "Security Hub"},
		{"config:DescribeConfigurationRecorders", "Config.1", "AWS Config"},
		{"config:DescribeConfigurationRecorderStatus", "Config.1", "AWS Config"},
		{"inspector2:BatchGetAccountStatus", "Inspector.2", "Amazon Inspector"},
	} {
		t.Run(tc.denied, func(t *testing.T) {
			acct := detectorfake.AllOn()
			acct.Denied = map[string]bool{tc.denied: true}
			fs, _ := audit(t, acct)
			require.Len(t, fs, 1, "%v", rules(fs))
			f := fs[0]
			assert.Equal(t, RulePermission, f.Rule)
			assert.Equal(t, Medium, f.Severity)
			assert.Contains(t, f.Message, tc.name+" could not be checked")
			assert.Contains(t, f.Message, tc.denied)
			assert.Contains(t, f.Remediation, tc.denied)
			if tc.control != "" {
				assert.Contains(t, f.Controls, tc.control)
			}
		})
	}
}

func TestAuditOtherErrorsStop(t *testing.T) {
	srv := fakeaws.New(t)
	detectorfake.New(srv, detectorfake.AllOn())
	srv.FailNext("config", "DescribeConfigurationRecorders", fakeaws.Errorf("ValidationException", "bad request"))
	_, err := Audit(context.Background(), srv.Config(t), "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "audit AWS Config in eu-west-1")
	assert.Contains(t, err.Error(), "ValidationException")
	assert.NotContains(t, err.Error(), "fake-secret-never-printed")
}

func TestAuditRetriesThrottling(t *testing.T) {
	srv := fakeaws.New(t)
	detectorfake.New(srv, detectorfake.AllOn())
	srv.FailNext("cloudtrail", "DescribeTrails", fakeaws.Throttling(), fakeaws.ServerError())
	fs, err := Audit(context.Background(), srv.Config(t), "eu-west-1")
	require.NoError(t, err)
	assert.Empty(t, fs)
	assert.Equal(t, 3, srv.Calls("cloudtrail", "DescribeTrails"))
}

func TestAuditNeedsRegion(t *testing.T) {
	srv := fakeaws.New(t)
	cfg := srv.Config(t)
	cfg.Region = ""
	_, err := Audit(context.Background(), cfg, "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "region is required")
}

// The FG-ACCT rules are registered in the policy engine as evaluated here; each has a
// failing fixture (an account with that control off, or the read denied) and a passing one
// (every control on), and the converted findings carry the registry's metadata.
func TestFindingsMatchTheRegistry(t *testing.T) {
	fixtures := map[string]func(*detectorfake.Account){
		RulePermission:       func(a *detectorfake.Account) { a.Denied = map[string]bool{"guardduty:ListDetectors": true} },
		RuleCloudTrail:       func(a *detectorfake.Account) { a.Trails = nil },
		RuleTrailValidation:  func(a *detectorfake.Account) { a.Trails[0].LogFileValidation = false },
		RuleGuardDuty:        func(a *detectorfake.Account) { a.Detectors = nil },
		RuleSecurityHub:      func(a *detectorfake.Account) { a.SecurityHub = false },
		RuleConfigRecorder:   func(a *detectorfake.Account) { a.Recorders = nil },
		RuleInspectorECRScan: func(a *detectorfake.Account) { a.InspectorECR = "DISABLED" },
	}
	pass, _ := audit(t, detectorfake.AllOn())
	assert.Empty(t, Findings(pass))
	n := 0
	for _, r := range policy.Rules() {
		if r.CheckedIn != policy.CheckedInDetectors {
			continue
		}
		n++
		t.Run(r.ID, func(t *testing.T) {
			assert.Equal(t, policy.TargetAccount, r.Target)
			mod, ok := fixtures[r.ID]
			require.True(t, ok, "rule %s has no fixture", r.ID)
			acct := detectorfake.AllOn()
			mod(acct)
			raw, _ := audit(t, acct)
			fs := Findings(raw)
			require.Len(t, fs, len(raw))
			require.Equal(t, []string{r.ID}, policyRules(fs))
			f, d := fs[0], raw[0]
			assert.Equal(t, r.Severity, f.Severity)
			assert.Equal(t, r.Severity, d.Severity, "detectors.go and the registry agree on the severity")
			if r.ID == RulePermission {
				assert.Equal(t, []string{"GuardDuty.1"}, f.Controls, "the controls of the check that could not run")
			} else {
				assert.Equal(t, r.Controls, f.Controls)
			}
			assert.Equal(t, d.Message, f.Message)
			assert.Equal(t, d.Remediation, f.Remediation)
			assert.Equal(t, d.Resource, f.Resource)
			assert.Equal(t, findings.SourceAudit, f.Source)
			assert.Equal(t, policy.Location{Logical: d.Resource}, f.Location)
			assert.False(t, f.Suppressed)
		})
	}
	assert.Equal(t, len(fixtures), n)
}

// The environments file's suppressions can name the FG-ACCT rules.
func TestFindingsCanBeSuppressed(t *testing.T) {
	raw, _ := audit(t, &detectorfake.Account{ID: "111122223333"})
	sup, err := policy.ParseSuppressions([]policy.Suppression{
		{Rule: RuleSecurityHub, Resource: "securityhub:*", Reason: "Security Hub is run from the org's delegated admin account", Expires: "2999-12-31"},
	})
	require.NoError(t, err)
	rep := policy.NewReport(Findings(raw), sup, time.Time{})
	require.Len(t, rep.Findings, 5)
	assert.Equal(t, 1, rep.Summary.Suppressed)
	assert.Equal(t, 1, rep.Summary.Critical, "AWS Config")
	assert.Equal(t, 3, rep.Summary.High, "CloudTrail, GuardDuty, Inspector")
	for _, f := range rep.Findings {
		assert.Equal(t, f.Rule == RuleSecurityHub, f.Suppressed, f.Rule)
	}
}

func policyRules(fs []policy.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}
