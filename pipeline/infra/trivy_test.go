package infra

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/scan"
)

func TestTrivyConfigArgs(t *testing.T) {
	args, err := TrivyConfigArgs("/src/infra", "", scan.ConfigScanOptions{SkipCheckUpdate: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"trivy", "config", "--format", "json", "--output", DefaultIaCReportPath}, args[:6])
	assert.Equal(t, "/src/infra", args[len(args)-1], "the directory is the last argument")
	assert.Contains(t, args, "--skip-check-update")

	args, err = TrivyConfigArgs("/src/infra", "/out/iac.json", scan.ConfigScanOptions{Dir: "/ignored", Output: "/ignored.json"})
	require.NoError(t, err)
	assert.Equal(t, "/out/iac.json", args[5])
	assert.Equal(t, "/src/infra", args[len(args)-1])

	_, err = TrivyConfigArgs("", "", scan.ConfigScanOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "dir is required")
}

const iacReport = `{"SchemaVersion": 2, "ArtifactName": "infra", "ArtifactType": "filesystem", "Results": [
 {"Target": "service.yaml", "Class": "config", "Type": "cloudformation", "Misconfigurations": [
  {"Type": "CloudFormation Security Check", "ID": "AVD-AWS-0107", "AVDID": "AVD-AWS-0107", "Title": "An ingress security group rule allows traffic from /0.",
   "Message": "Security group rule allows ingress from public internet.", "Severity": "CRITICAL", "Status": "FAIL"},
  {"Type": "CloudFormation Security Check", "ID": "AVD-AWS-0053", "AVDID": "AVD-AWS-0053", "Title": "Load balancer is exposed publicly.",
   "Severity": "HIGH", "Status": "PASS"}
 ]}]}`

func TestEvaluateIaCReport(t *testing.T) {
	d, err := EvaluateIaCReport(strings.NewReader(iacReport), scan.Gate{Now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	assert.False(t, d.Pass)
	require.Len(t, d.Failing, 1, "only FAIL entries count")
	assert.Equal(t, scan.KindMisconfiguration, d.Failing[0].Kind)

	passing := strings.Replace(iacReport, `"Status": "FAIL"`, `"Status": "PASS"`, 1)
	d, err = EvaluateIaCReport(strings.NewReader(passing), scan.Gate{})
	require.NoError(t, err)
	assert.True(t, d.Pass)

	_, err = EvaluateIaCReport(strings.NewReader(`{"SchemaVersion": 1}`), scan.Gate{})
	require.Error(t, err)
}

// cfn-lint validates the template against the CloudFormation resource specification. It is
// optional tooling: the test is skipped where it is not installed.
func TestServiceTemplateCfnLint(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--regions", "eu-west-1", "--", serviceTemplate).CombinedOutput()
	assert.NoError(t, err, "cfn-lint:\n%s", out)
}
