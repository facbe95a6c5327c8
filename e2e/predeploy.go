package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// What happens around the rollout (issue #19): the pre-deploy task, the preflight checks and
// the failed tasks' last log lines.
const (
	// ConfigPreDeploy is ConfigE2E with a pre-deploy migration in preprod.
	ConfigPreDeploy = "fargate.e2e-predeploy.yaml"
	// ConfigMissingSecret is ConfigE2E whose preprod task definition names a secret the
	// account does not have.
	ConfigMissingSecret = "fargate.e2e-missing-secret.yaml"
	// MissingSecretTaskDef is that task definition, next to the sample's.
	MissingSecretTaskDef = "ecs/preprod-missing-secret.taskdef.json"
	// MissingSecretARN is the secret it names.
	MissingSecretARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:sample-app/preprod/e2e-missing-QwErTy"
	// MigrationLogLine is what the failing migration logs last; AppLogLine what the app of
	// a failing rollout logs last.
	MigrationLogLine = "migrate: e2e relation users already exists"
	AppLogLine       = "panic: e2e config DATABASE_URL is not set"
)

// addPreDeployVariants adds the pre-deploy and missing-secret variants to files (derived
// from ConfigE2E, already in files) and the task definition naming the missing secret.
func addPreDeployVariants(sampleDir string, files map[string]string) error {
	edit := func(change func(pre *yaml.Node) error) (string, error) {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(files[ConfigE2E]), &doc); err != nil {
			return "", fmt.Errorf("read %s: %w", ConfigE2E, err)
		}
		pre := get(get(doc.Content[0], "environments"), "preprod")
		if pre == nil {
			return "", fmt.Errorf("%s has no preprod environment", ConfigE2E)
		}
		if err := change(pre); err != nil {
			return "", err
		}
		out, err := yaml.Marshal(&doc)
		return string(out), err
	}
	var err error
	files[ConfigPreDeploy], err = edit(func(pre *yaml.Node) error {
		return set(pre, "preDeploy", map[string]any{"command": []string{"/app", "migrate"}, "container": "app", "timeout": "2m"})
	})
	if err != nil {
		return err
	}
	files[ConfigMissingSecret], err = edit(func(pre *yaml.Node) error { return set(pre, "taskDefinition", MissingSecretTaskDef) })
	if err != nil {
		return err
	}
	td, err := os.ReadFile(filepath.Join(sampleDir, "ecs", "preprod.taskdef.json"))
	if err != nil {
		return err
	}
	const present = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:sample-app/preprod/api-token-AbCdEf"
	if !strings.Contains(string(td), present) {
		return fmt.Errorf("the sample's preprod task definition no longer names %s", present)
	}
	files[MissingSecretTaskDef] = strings.Replace(string(td), present, MissingSecretARN, 1)
	return nil
}

// NextRunTasks scripts how the next tasks RunTask starts end ({"exit": 3}, {"neverStops": true}, ...).
func (f *Fake) NextRunTasks(ctx context.Context, tasks ...map[string]any) error {
	return f.post(ctx, "/_fake/ecs/next-run-task", map[string]any{"tasks": tasks}, nil)
}

// AppendLogs makes every task's app container stream in group end with lines.
func (f *Fake) AppendLogs(ctx context.Context, group string, lines ...string) error {
	return f.post(ctx, "/_fake/logs/append", map[string]any{"group": group, "streamPrefix": "app/app/", "lines": lines}, nil)
}

// deployPreprodMigrationFails: the pre-deploy migration exits 3; the new revision is
// registered, the service is not updated, and the report quotes the migration's last line.
func deployPreprodMigrationFails(ctx context.Context, s *Suite) error {
	before, err := s.Fake.Service(ctx, preprod.cluster, preprod.service)
	if err != nil {
		return err
	}
	if err := s.Fake.NextRunTasks(ctx, map[string]any{"exit": 3}); err != nil {
		return err
	}
	if err := s.Fake.AppendLogs(ctx, "/ecs/"+preprod.family, MigrationLogLine); err != nil {
		return err
	}
	return s.unchanged(ctx, []string{"ecs/UpdateService"}, func() error {
		res, err := s.call(ctx, s.aws(ConfigPreDeploy), append([]string{"deploy", "--env", "preprod"}, s.signing()...)...)
		if err := expectFailure(res, err); err != nil {
			return err
		}
		if err := expectHeadline(res, "REFUSED: nothing was deployed"); err != nil {
			return err
		}
		return expectContains(res.Output(), "nothing was rolled out; service stays on "+before.TaskDefinition, "exit code 3", MigrationLogLine)
	})
}

// deployPreprodMissingSecret: a task definition naming a secret that does not exist is
// refused by the preflight check, with the secret's ARN, before anything is built or registered.
func deployPreprodMissingSecret(ctx context.Context, s *Suite) error {
	return s.refused(ctx, mutationsAnd("ecr/GetAuthorizationToken", "ecs/RunTask"), "REFUSED: nothing was deployed", MissingSecretARN,
		s.aws(ConfigMissingSecret), append([]string{"deploy", "--env", "preprod"}, s.signing()...)...)
}

// deployPreprodFailingQuotesLogs: a failing rollout's report quotes the app's last log line.
func deployPreprodFailingQuotesLogs(ctx context.Context, s *Suite) error {
	before, err := s.Fake.Service(ctx, preprod.cluster, preprod.service)
	if err != nil {
		return err
	}
	if err := s.Fake.AppendLogs(ctx, "/ecs/"+preprod.family, AppLogLine); err != nil {
		return err
	}
	if err := s.Fake.NextRollouts(ctx, "fail"); err != nil {
		return err
	}
	res, err := s.call(ctx, s.aws(ConfigE2E), append([]string{"deploy", "--env", "preprod"}, s.signing()...)...)
	if err := expectFailure(res, err); err != nil {
		return err
	}
	if err := expectHeadline(res, "FAILED: rolled back to "+before.TaskDefinition); err != nil {
		return err
	}
	if err := expectContains(res.Output(), "**rollout** task", AppLogLine); err != nil {
		return err
	}
	_, err = s.Fake.Settle(ctx, preprod.cluster, preprod.service)
	return err
}

// runTaskPreprod: run-task runs the service's current revision with the given command.
func runTaskPreprod(ctx context.Context, s *Suite) error {
	if err := s.Fake.NextRunTasks(ctx, map[string]any{"exit": 0}); err != nil {
		return err
	}
	return s.unchanged(ctx, []string{"ecs/RegisterTaskDefinition", "ecs/UpdateService"}, func() error {
		res, err := s.call(ctx, s.aws(ConfigE2E), "run-task", "--env", "preprod", "--command", "/app,migrate")
		if err := expectExit(res, err, 0); err != nil {
			return err
		}
		return expectContains(res.Output(), "SUCCEEDED: task", "Run task in preprod")
	})
}
