package chain

import (
	"errors"

	"dagger/fargate/pipeline/report"
)

// stepFailure is a step before the deploy that could not run (the build, the scanner, a
// registry), as opposed to a gate that refused: its outcome says which.
type stepFailure struct {
	outcome report.Outcome
	err     error
}

func (e *stepFailure) Error() string { return e.err.Error() }
func (e *stepFailure) Unwrap() error { return e.err }

// failedStep marks err as a step that could not run, ending the deploy with outcome.
func failedStep(outcome report.Outcome, err error) error {
	if err == nil {
		return nil
	}
	return &stepFailure{outcome: outcome, err: err}
}

// stopped ends a deploy stopped before anything changed in the environment: with the
// outcome of the step that could not run, or as a refusal (a gate, a check).
func stopped(r *report.Recorder, err error) (string, error) {
	var sf *stepFailure
	if errors.As(err, &sf) {
		return r.Finish(sf.outcome, err.Error(), err)
	}
	return r.Refuse(err)
}
