package report_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"dagger/fargate/pipeline/ecs"
	"dagger/fargate/pipeline/report"
)

func TestOutcomeOf(t *testing.T) {
	tests := []struct {
		name       string
		res        *ecs.Result
		err        error
		want       report.Outcome
		wantReason string
	}{
		{"completed", &ecs.Result{Class: ecs.Completed, Outcome: "deployed app:7"}, nil, report.Deployed, "deployed app:7"},
		{"rolled back by ECS", &ecs.Result{Class: ecs.RolledBack, Outcome: "rolled back to app:6", Reason: "circuit breaker: tasks failed to start", ServiceUpdated: true}, errors.New("x"), report.RolledBack, "rolled back to app:6: circuit breaker: tasks failed to start"},
		{"rollback failed", &ecs.Result{Class: ecs.RolledBack, Outcome: "rollback failed, service on app:7", ServiceUpdated: true}, errors.New("x"), report.RollbackFailed, "rollback failed, service on app:7"},
		{"timed out, rolled back", &ecs.Result{Class: ecs.TimedOut, Outcome: "rolled back to app:6", Reason: "timed out after 15m0s", ServiceUpdated: true}, errors.New("x"), report.TimedOut, "rolled back to app:6: timed out after 15m0s"},
		{"bad input", &ecs.Result{Class: ecs.BadInput, Outcome: "not changed: container web not found"}, errors.New("x"), report.BadInput, "not changed: container web not found"},
		{"wrong account", &ecs.Result{Class: ecs.WrongAccount, Outcome: "not changed: credentials belong to 999999999999"}, errors.New("x"), report.Refused, "not changed: credentials belong to 999999999999"},
		{"busy", &ecs.Result{Class: ecs.Busy, Outcome: "not changed: a deployment is in progress"}, errors.New("x"), report.Refused, "not changed: a deployment is in progress"},
		{"aws error before change", &ecs.Result{Class: ecs.AWSError, Outcome: "not changed: RegisterTaskDefinition failed"}, errors.New("x"), report.Refused, "not changed: RegisterTaskDefinition failed"},
		{"cancelled after change", &ecs.Result{Class: ecs.Cancelled, Outcome: "cancelled", ServiceUpdated: true, FinalTaskDefinition: "app:7", FinalRolloutState: "IN_PROGRESS"}, errors.New("x"), report.Cancelled, "cancelled (service on app:7, rollout IN_PROGRESS; ECS continues the rollout on its own)"},
		{"cancelled before change", &ecs.Result{Class: ecs.Cancelled, Outcome: "cancelled"}, errors.New("x"), report.Cancelled, "cancelled before the service was updated: nothing was deployed"},
		{"cancelled after change, as the engine says it", &ecs.Result{Class: ecs.Cancelled, Outcome: "cancelled: service on app:7 (IN_PROGRESS; updated to app:7), ECS continues the rollout on its own", ServiceUpdated: true, FinalTaskDefinition: "app:7", FinalRolloutState: "IN_PROGRESS"}, errors.New("x"), report.Cancelled, "cancelled: service on app:7 (IN_PROGRESS; updated to app:7), ECS continues the rollout on its own"},
		{"completed, then superseded", &ecs.Result{Class: ecs.Completed, Outcome: "deployed app:7, then superseded by deployment ecs-svc/9 of app:8", ServiceUpdated: true, SupersededBy: &ecs.OtherDeployment{ID: "ecs-svc/9", TaskDefinition: "app:8"}}, nil, report.Deployed, "deployed app:7, then superseded by deployment ecs-svc/9 of app:8"},
		{"rollback in progress", &ecs.Result{Class: ecs.RollbackInProgress, Outcome: "rollback in progress to app:6", Reason: "deployment timed out", ServiceUpdated: true}, errors.New("x"), report.RollbackInProgress, "rollback in progress to app:6: deployment timed out"},
		{"concurrent deploy", &ecs.Result{Class: ecs.ConcurrentDeploy, Outcome: "concurrent deploy detected: deployment ecs-svc/9 of app:8", ServiceUpdated: true}, errors.New("x"), report.ConcurrentDeploy, "concurrent deploy detected: deployment ecs-svc/9 of app:8"},
		{"no result", nil, errors.New("boom"), report.RollbackFailed, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := report.OutcomeOf(tt.res, tt.err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.wantReason, reason)
		})
	}
}
