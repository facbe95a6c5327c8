package infra

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue #18: the production rules of a template follow the environment's production
// property, not its name.
func TestTemplateProductionIsAProperty(t *testing.T) {
	body := readServiceTemplate(t)
	tests := []struct {
		env        string
		production bool
		spot       bool // whether FG-CFN's Spot rule fires ("no Fargate Spot outside prod")
	}{
		{"prod-eu", true, false},
		{"live", true, false},
		{"prod", false, true},
	}
	for _, tt := range tests {
		fs, err := CheckTemplateInput(TemplateInput{Path: "infra/service.yaml", Body: []byte(body), Params: envParams("prod", nil),
			Env: tt.env, Production: tt.production, HealthPath: "/healthz", RequiredTags: testRequiredTags})
		require.NoError(t, err)
		assert.Equal(t, tt.spot, len(messagesOf(fs, RuleTemplateSpot)) > 0, "%s production=%v: %v", tt.env, tt.production, messagesOf(fs, RuleTemplateSpot))
	}
}
