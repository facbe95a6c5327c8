package ecs

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/taskdef"
)

// The hook runs between RegisterTaskDefinition and UpdateService; when it fails the service
// is not touched.
func TestBeforeUpdateRunsBetweenRegisterAndUpdate(t *testing.T) {
	tests := []struct {
		name    string
		hookErr error
		cancel  bool
		class   Class
		updated bool
	}{
		{"hook passes", nil, false, Completed, true},
		{"hook fails", errors.New("pre-deploy task exited 3"), false, PreDeployFailed, false},
		{"cancelled in the hook", errors.New("pre-deploy task stopped: cancelled"), true, Cancelled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			o := e.deployOpts()
			var seen string
			o.BeforeUpdate = func(_ context.Context, registered string, svc *types.Service) error {
				seen = registered
				assert.Equal(t, 1, e.calls("RegisterTaskDefinition"))
				assert.Zero(t, e.calls("UpdateService"))
				assert.NotNil(t, svc)
				if tt.cancel {
					cancel()
				}
				return tt.hookErr
			}
			res, err := e.eng.Deploy(ctx, o)
			assert.Equal(t, tt.class, res.Class, res.Summary())
			assert.Equal(t, res.RegisteredTaskDefinition, seen)
			assert.Equal(t, tt.updated, res.ServiceUpdated)
			if tt.hookErr == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Zero(t, e.calls("UpdateService"), "the service is not touched")
			assert.Contains(t, res.Outcome, tt.hookErr.Error())
			if !tt.cancel {
				assert.Equal(t, taskdef.ShortName(e.oldArn), taskdef.ShortName(res.FinalTaskDefinition))
			}
			assert.Equal(t, e.oldArn, e.fake.PrimaryTaskDefinition(cluster, service))
		})
	}
}
