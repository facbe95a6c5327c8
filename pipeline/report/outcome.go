package report

import (
	"strings"

	"dagger/fargate/pipeline/ecs"
)

// OutcomeOf says how a deploy or rollback ended, from the deploy engine's result, with the
// reason the report shows. A nil result (the engine never ran) is a failed rollout with err
// as the reason.
func OutcomeOf(res *ecs.Result, err error) (Outcome, string) {
	if res == nil {
		reason := "the deploy engine returned no result"
		if err != nil {
			reason = err.Error()
		}
		return RollbackFailed, reason
	}
	reason := res.Outcome
	if res.Reason != "" {
		reason += ": " + res.Reason
	}
	switch {
	case res.Class == ecs.Completed:
		return Deployed, res.Outcome
	case res.Class == ecs.BadInput:
		return BadInput, reason
	case res.Class == ecs.WrongAccount || res.Class == ecs.Busy:
		return Refused, reason
	case res.Class == ecs.ConcurrentDeploy:
		return ConcurrentDeploy, reason
	case res.Class == ecs.RollbackInProgress:
		return RollbackInProgress, reason
	case strings.HasPrefix(res.Outcome, "rollback failed"):
		return RollbackFailed, reason
	case res.Class == ecs.RolledBack:
		return RolledBack, reason
	case res.Class == ecs.TimedOut:
		return TimedOut, reason
	case res.Class == ecs.Cancelled && !res.ServiceUpdated:
		return Cancelled, "cancelled before the service was updated: nothing was deployed"
	case res.Class == ecs.Cancelled && strings.Contains(res.Outcome, "ECS continues"):
		// The engine's Outcome already says where the service is and that ECS goes on.
		return Cancelled, reason
	case res.Class == ecs.Cancelled:
		// The update was accepted: ECS goes on rolling out (and rolls back with the circuit
		// breaker) without us.
		return Cancelled, reason + " (service on " + res.FinalTaskDefinition + ", rollout " + res.FinalRolloutState + "; ECS continues the rollout on its own)"
	case !res.ServiceUpdated:
		// An AWS error or a cancellation before the service changed: nothing was deployed.
		return Refused, reason
	default:
		// An AWS error or a cancellation after the service changed: say where it is.
		return RollbackFailed, reason + " (service on " + res.FinalTaskDefinition + ", rollout " + res.FinalRolloutState + ")"
	}
}
