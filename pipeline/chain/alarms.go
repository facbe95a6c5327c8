package chain

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"dagger/fargate/pipeline/alarms"
	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/report"
)

// ignoredWhileFiring is why an alarm already in ALARM matters (the ECS developer guide,
// deployment alarms: an alarm in ALARM when the deployment starts is not acted on).
const ignoredWhileFiring = "ECS ignores an alarm that is already in ALARM when a deployment starts, so it will not fail or roll back this deployment"

// warnFiringAlarms reads the environment's deployment alarms just before the deploy and
// warns, in the log and the report, about each one already in ALARM or missing. A failure to
// read them is a warning too: it never stops the deploy.
func (s *Session) warnFiringAlarms(ctx context.Context, r *report.Recorder, cfg aws.Config, e config.Environment) {
	if e.Alarms == nil || len(e.Alarms.Names) == 0 {
		return
	}
	res, err := alarms.Read(ctx, cloudwatch.NewFromConfig(cfg), e.Alarms.Names)
	if err != nil {
		r.Warnf("could not read the deployment alarms (%s): %v; an alarm already in ALARM would go unnoticed: %s", strings.Join(e.Alarms.Names, ", "), err, ignoredWhileFiring)
		return
	}
	firing := 0
	for _, st := range res.States {
		if st.Firing() {
			firing++
			r.Warnf("alarm %s is already in ALARM (since %s: %s): %s", st.Name, st.Since.Format("2006-01-02 15:04:05Z"), orDefault(st.Reason, "no reason given"), ignoredWhileFiring)
		}
	}
	for _, name := range res.Missing {
		r.Warnf("alarm %s does not exist in %s: it cannot fail this deployment", name, cfg.Region)
	}
	if firing == 0 && len(res.Missing) == 0 {
		r.Logf("alarms: %d deployment alarm(s), none in ALARM", len(res.States))
	}
}
