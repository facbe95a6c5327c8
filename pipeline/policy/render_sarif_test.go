package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/sarif/sarifschema"
)

// The policy SARIF validates against the official SARIF 2.1.0 schema: every rule, file and
// resource locations, suppressed findings, and an empty report.
func TestRenderSARIFIsValidSARIF(t *testing.T) {
	schema, err := sarifschema.New()
	require.NoError(t, err)
	suppressed := mustCheck(t, CheckInput{
		Dockerfile:   &FileInput{Path: "app/Dockerfile", Content: readTestdata(t, "unhardened.Dockerfile")},
		Suppressions: []Suppression{{Rule: "FG-DF-003", Resource: "*", Reason: "single stage on purpose", Expires: "2099-01-01"}},
	})
	reports := map[string]Report{
		"empty": {},
		"dockerfile, suppression and a live resource": Merge(
			suppressed,
			NewReport(ClusterFindings(ecstypes.Cluster{ClusterName: aws.String("prod"), ClusterArn: aws.String("arn:aws:ecs:eu-west-1:1:cluster/prod")}, nil), nil, time.Time{}),
		),
	}
	for name, r := range reports {
		t.Run(name, func(t *testing.T) {
			out := renderString(t, r, FormatSARIF)
			require.NoError(t, schema.Validate([]byte(out)))
		})
	}
	out := renderString(t, reports["dockerfile, suppression and a live resource"], FormatSARIF)
	require.True(t, strings.Contains(out, `"suppressions": [`) && strings.Contains(out, "single stage on purpose"), "the suppressed finding carries a SARIF suppression")
}
