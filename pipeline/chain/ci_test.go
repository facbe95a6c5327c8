package chain_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/chain"
	"dagger/fargate/pipeline/internal/ecsfake"
	"dagger/fargate/pipeline/report"
)

// Issue #17 item 3: with ReportJSON, a deploy hands CI the report on every outcome and does
// not fail; the JSON says whether it succeeded, and CI fails the job from it.
func TestDeployReportJSONOnEveryOutcome(t *testing.T) {
	tests := []struct {
		name                 string
		env                  string
		setup                func(w *world)
		outcome              report.Outcome
		succeeded            bool
		phases               []string
		registered, previous string
	}{
		{name: "deployed", env: "preprod", outcome: report.Deployed, succeeded: true,
			phases: []string{"account", "service", "policy", "preflight", "build", "scan + SBOM", "publish", "sign + verify", "ECS deploy"}, registered: "sample-app-preprod:2", previous: "sample-app-preprod:1"},
		{name: "rolled back", env: "preprod", outcome: report.RolledBack,
			setup:  func(w *world) { w.ecs.ScriptNext(ecsfake.Rollout{Kind: ecsfake.FailTasks}) },
			phases: []string{"account", "service", "policy", "preflight", "build", "scan + SBOM", "publish", "sign + verify", "ECS deploy"}, registered: "sample-app-preprod:2", previous: "sample-app-preprod:1"},
		{name: "failed to build", env: "preprod", outcome: report.FailedToBuild,
			setup:  func(w *world) { w.steps.buildErr = &engineError{"exit code: 1"} },
			phases: []string{"account", "service", "policy", "preflight", "build"}},
		{name: "a secret that cannot be read", env: "preprod", outcome: report.BadInput,
			setup: func(w *world) { w.s.Invalid = errors.New("read --aws-access-key-id: secret env var not found") }},
		{name: "local, deployed", env: "local", outcome: report.Deployed, succeeded: true,
			phases: []string{"policy", "build", "scan + SBOM", "publish", "sign + verify", "run + probe"}, registered: "sample-app-preprod (rendered, not registered)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.setup != nil {
				tt.setup(w)
			}
			out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: tt.env, ReportJSON: true})
			require.NoError(t, err, "the call succeeds whatever the outcome")
			w.assertNoSecrets(out, err)
			var got report.JSONReport
			require.NoError(t, json.Unmarshal([]byte(out), &got), out)
			assert.Equal(t, string(tt.outcome), got.Outcome)
			assert.Equal(t, tt.succeeded, got.Succeeded)
			assert.Equal(t, tt.outcome.ExitCode(), got.ExitCode)
			assert.Equal(t, tt.env, got.Environment)
			assert.Equal(t, "9f1c2e7b5d0a4c3e", got.Revision)
			assert.Equal(t, tt.registered, got.TaskDefinition.Registered)
			assert.Equal(t, tt.previous, got.TaskDefinition.Previous)
			var names []string
			for _, p := range got.Phases {
				names = append(names, p.Name)
			}
			assert.Equal(t, tt.phases, names)
			assert.Contains(t, got.Markdown, "**"+got.Headline+"**")

			// Without ReportJSON the same run prints the Markdown and fails as before.
			w2 := newWorld(t)
			if tt.setup != nil {
				tt.setup(w2)
			}
			md, err := w2.s.Deploy(context.Background(), chain.DeployRequest{Env: tt.env})
			if tt.succeeded {
				require.NoError(t, err)
				assert.Contains(t, md, "**"+got.Headline+"**")
			} else {
				require.Error(t, err)
				var failure *report.Failure
				require.True(t, errors.As(err, &failure))
				assert.Equal(t, tt.outcome, failure.Outcome)
			}
		})
	}
}
