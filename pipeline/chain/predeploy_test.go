package chain_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/chain"
	"dagger/fargate/pipeline/internal/ecsfake"
	"dagger/fargate/pipeline/internal/fakeaws"
	"dagger/fargate/pipeline/internal/iamfake"
	"dagger/fargate/pipeline/internal/logsfake"
	"dagger/fargate/pipeline/internal/secretsfake"
	"dagger/fargate/pipeline/internal/ssmfake"
)

// references are the fakes of what the sample's task definitions refer to.
type references struct {
	secrets *secretsfake.Fake
	ssm     *ssmfake.Fake
	iam     *iamfake.Fake
	logs    *logsfake.Fake
}

// seedReferences makes everything the sample's task definitions refer to exist (secrets,
// parameters, roles, log groups) and gives both services their private network, as the
// landing zone does.
func (w *world) seedReferences() {
	w.refs = &references{secrets: secretsfake.New(w.srv), ssm: ssmfake.New(w.srv, preprodAccount, region), iam: iamfake.New(w.srv), logs: logsfake.New(w.srv, preprodAccount, region)}
	for _, env := range []string{"preprod", "prod"} {
		account := preprodAccount
		if env == "prod" {
			account = prodAccount
		}
		w.refs.secrets.Add("arn:aws:secretsmanager:eu-west-1:" + account + ":secret:sample-app/" + env + "/api-token-AbCdEf")
		w.refs.ssm.Add("/sample-app/" + env + "/api-token-previous")
		w.refs.iam.AddRole(iamfake.Role{Name: "sample-app-" + env + "-task"})
		w.refs.iam.AddRole(iamfake.Role{Name: "sample-app-" + env + "-execution"})
		w.refs.logs.AddGroup("/ecs/sample-app-" + env)
		require.NoError(w.t, w.ecs.SetNetworkConfiguration("sample-app-"+env, "sample-app", types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets: []string{"subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"}, SecurityGroups: []string{"sg-0bbbbbbbbbbbbbbb1"}, AssignPublicIp: types.AssignPublicIpDisabled,
		}}))
	}
}

// withPreDeploy adds a pre-deploy task to the preprod environment of the sample's file.
func (w *world) withPreDeploy(lines string) {
	cfg := w.files["fargate.yaml"]
	i := strings.Index(cfg, "  preprod:\n")
	require.GreaterOrEqual(w.t, i, 0)
	w.files["fargate.yaml"] = cfg[:i] + "  preprod:\n" + lines + cfg[i+len("  preprod:\n"):]
}

// ecsMutations are the mutating ECS calls made.
func (w *world) ecsMutations() []string {
	var out []string
	for _, m := range w.mutations() {
		if strings.HasPrefix(m, "ecs:") {
			out = append(out, m)
		}
	}
	return out
}

func TestPreDeployRunsTheNewRevisionBeforeTheUpdate(t *testing.T) {
	w := newWorld(t)
	w.withPreDeploy("    preDeploy: {command: [/app, migrate], timeout: 5m}\n")
	out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
	require.NoError(t, err, reportOf(out, err))
	w.assertNoSecrets(out, err)
	ran := w.ecs.RanTasks()
	require.Len(t, ran, 1)
	assert.Equal(t, "arn:aws:ecs:eu-west-1:111122223333:task-definition/sample-app-preprod:2", ran[0].TaskDefinition, "the new revision")
	assert.Equal(t, map[string][]string{"app": {"/app", "migrate"}}, ran[0].Overrides)
	assert.Equal(t, []string{"subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"}, ran[0].Subnets, "the service's network")
	assert.Equal(t, "DISABLED", ran[0].AssignPublicIP)
	// Order: register, run the migration, then update the service.
	var order []string
	for _, c := range w.srv.CallLog() {
		switch c.Operation {
		case "RegisterTaskDefinition", "RunTask", "UpdateService":
			order = append(order, c.Operation)
		}
	}
	assert.Equal(t, []string{"RegisterTaskDefinition", "RunTask", "UpdateService"}, order)
	assert.Equal(t, "**DEPLOYED: sample-app-preprod:2**", headline(t, out))
	assert.Contains(t, out, "- **pre-deploy** task")
	assert.Contains(t, out, "succeeded, exit code 0")
}

func TestPreDeployFailureLeavesTheServiceAlone(t *testing.T) {
	tests := []struct {
		name   string
		script ecsfake.TaskScript
		want   []string
		stop   bool
	}{
		{"migration exits 3", ecsfake.TaskScript{Exit: 3}, []string{"failed, exit code 3", "Essential container in task exited",
			"migrate: relation users already exists", "password=***"}, false},
		{"secrets not pulled", ecsfake.TaskScript{StartFailure: "ResourceInitializationError: unable to pull secrets or registry auth"},
			[]string{"failed to start", "ResourceInitializationError: unable to pull secrets or registry auth"}, false},
		{"migration hangs", ecsfake.TaskScript{NeverStops: true}, []string{"timed out", "fargate: timed out after 1m0s"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.withPreDeploy("    preDeploy: {command: [/app, migrate], timeout: 1m}\n")
			w.ecs.ScriptRunTask(tt.script)
			// The migration logs before it exits; its stream is prefix/container/task-id.
			w.refs.logs.AppendAny("/ecs/sample-app-preprod", "app/app/", t0, "migrate: connecting password=hunter2", "migrate: relation users already exists")
			out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
			require.Error(t, err)
			w.assertNoSecrets(out, err)
			rep := reportOf(out, err)
			assert.Equal(t, "**REFUSED: nothing was deployed**", headline(t, rep))
			assert.Contains(t, rep, "nothing was rolled out; service stays on sample-app-preprod:1 (sample-app-preprod:2 is registered and unused)")
			for _, s := range tt.want {
				assert.Contains(t, rep, s)
			}
			assert.NotContains(t, rep, "hunter2")
			assert.Equal(t, []string{"ecs:RegisterTaskDefinition"}, w.ecsMutations(), "the service is not touched")
			assert.Equal(t, w.arns["preprod"], w.ecs.PrimaryTaskDefinition("sample-app-preprod", "sample-app"))
			assert.Equal(t, tt.stop, w.srv.Calls("ecs", "StopTask") == 1)
		})
	}
}

func TestPreDeployCancelledStopsTheTask(t *testing.T) {
	w := newWorld(t)
	w.withPreDeploy("    preDeploy: {command: [/app, migrate]}\n")
	w.ecs.ScriptRunTask(ecsfake.TaskScript{NeverStops: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.s.ECS.Clock = &ecsfake.TriggerClock{VirtualClock: w.clock, At: t0.Add(30 * time.Second), Do: cancel}
	out, err := w.s.Deploy(ctx, chain.DeployRequest{Env: "preprod"})
	require.Error(t, err)
	rep := reportOf(out, err)
	assert.Equal(t, "**CANCELLED: nothing was deployed**", headline(t, rep))
	assert.Equal(t, 1, w.srv.Calls("ecs", "StopTask"))
	assert.Equal(t, "fargate: the deploy was cancelled", w.ecs.RanTasks()[0].StopReason)
	assert.Zero(t, w.srv.Calls("ecs", "UpdateService"))
}

func TestPreDeployRefusesAServiceWithAPublicIP(t *testing.T) {
	w := newWorld(t)
	w.withPreDeploy("    preDeploy: {command: [/app, migrate]}\n")
	require.NoError(t, w.ecs.SetNetworkConfiguration("sample-app-preprod", "sample-app", types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
		Subnets: []string{"subnet-0aaaaaaaaaaaaaaa1"}, AssignPublicIp: types.AssignPublicIpEnabled,
	}}))
	out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
	require.Error(t, err)
	rep := reportOf(out, err)
	assert.Contains(t, rep, "assigns public IPs")
	assert.Zero(t, w.srv.Calls("ecs", "RunTask"))
	assert.Zero(t, w.srv.Calls("ecs", "UpdateService"))
}

func TestPreDeployContainerMustExistBeforeAnyAWSCall(t *testing.T) {
	w := newWorld(t)
	w.withPreDeploy("    preDeploy: {command: [/app, migrate], container: migrator}\n")
	out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
	require.Error(t, err)
	rep := reportOf(out, err)
	assert.Equal(t, "**BAD INPUT: nothing was deployed**", headline(t, rep))
	assert.Contains(t, rep, `environments.preprod.preDeploy.container: the task definition has no container &quot;migrator&quot;`[:60])
	assert.Empty(t, w.srv.CallLog(), "no AWS call")
}

func TestPreflightRefusesBeforeAnythingIsRegistered(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(w *world)
		resource string
		what     string
	}{
		{"missing secret", func(w *world) {
			w.files["ecs/preprod.taskdef.json"] = strings.Replace(w.file("ecs/preprod.taskdef.json"), "secret:sample-app/preprod/api-token-AbCdEf", "secret:sample-app/preprod/missing-ZyXwVu", 1)
		}, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:sample-app/preprod/missing-ZyXwVu", "no such secret in Secrets Manager (eu-west-1)"},
		{"role not trusted", func(w *world) {
			w.refs.iam.AddRole(iamfake.Role{Name: "sample-app-preprod-execution", Trust: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`})
		}, "arn:aws:iam::111122223333:role/sample-app-preprod-execution", "does not let ecs-tasks.amazonaws.com assume it"},
		{"no log group", func(w *world) {
			w.files["ecs/preprod.taskdef.json"] = strings.Replace(w.file("ecs/preprod.taskdef.json"), `"/ecs/sample-app-preprod"`, `"/ecs/sample-app-typo"`, 1)
		}, "/ecs/sample-app-typo", "no such log group in eu-west-1"},
		{"sidecar image in another region", func(w *world) {
			var td map[string]any
			require.NoError(w.t, json.Unmarshal([]byte(w.file("ecs/preprod.taskdef.json")), &td))
			containers := td["containerDefinitions"].([]any)
			sidecar := map[string]any{}
			for k, v := range containers[0].(map[string]any) {
				sidecar[k] = v
			}
			sidecar["name"], sidecar["essential"] = "envoy", false
			sidecar["image"] = "111122223333.dkr.ecr.us-east-1.amazonaws.com/envoy@sha256:" + strings.Repeat("e", 64)
			delete(sidecar, "portMappings")
			td["containerDefinitions"] = append(containers, sidecar)
			data, err := json.Marshal(td)
			require.NoError(w.t, err)
			w.files["ecs/preprod.taskdef.json"] = string(data)
		}, "111122223333.dkr.ecr.us-east-1.amazonaws.com/envoy@sha256:" + strings.Repeat("e", 64), "container envoy: the image's ECR repository is in region us-east-1; the environment is in eu-west-1"},
		{"parameter not readable", func(w *world) {
			w.srv.FailNext("ssm", "DescribeParameters", &fakeaws.APIError{Status: 400, Code: "AccessDeniedException", Message: "not authorized to perform ssm:DescribeParameters"})
		}, "arn:aws:ssm:eu-west-1:111122223333:parameter/sample-app/preprod/api-token-previous", "could not verify the parameter: AccessDeniedException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			tt.setup(w)
			out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
			require.Error(t, err)
			w.assertNoSecrets(out, err)
			rep := reportOf(out, err)
			assert.Equal(t, "**REFUSED: nothing was deployed**", headline(t, rep))
			assert.Contains(t, rep, "### Preflight")
			assert.Contains(t, rep, tt.resource)
			assert.Contains(t, rep, tt.what)
			assert.Empty(t, w.mutations(), "refused before anything changed: no build pushed, nothing registered")
			assert.False(t, w.steps.called("build"), "refused before building")
		})
	}
}

func TestFailedRolloutQuotesTheAppsLastLogLines(t *testing.T) {
	w := newWorld(t)
	w.ecs.ScriptNext(ecsfake.Rollout{Kind: ecsfake.FailTasks})
	// Every task of the failing deployment logs the same crash.
	w.refs.logs.AppendAny("/ecs/sample-app-preprod", "app/app/", t0, "starting sample-app", "panic: config: DATABASE_URL is not set token=abc123")
	out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
	require.Error(t, err)
	w.assertNoSecrets(out, err)
	rep := reportOf(out, err)
	assert.Equal(t, "**FAILED: rolled back to sample-app-preprod:1**", headline(t, rep))
	assert.Contains(t, rep, "- **rollout** task")
	assert.Contains(t, rep, "panic: config: DATABASE_URL is not set token=***")
	assert.NotContains(t, rep, "abc123")
	assert.LessOrEqual(t, strings.Count(rep, "- **rollout** task"), 3, "at most a few tasks")
	assert.Contains(t, rep, "stream app/app/")
}

func TestRunTaskRunsTheServicesCurrentRevision(t *testing.T) {
	tests := []struct {
		name    string
		req     chain.RunTaskRequest
		script  ecsfake.TaskScript
		ok      bool
		command []string
		want    string
	}{
		{"succeeds", chain.RunTaskRequest{Env: "preprod", Command: []string{"/app", "migrate", "--status"}}, ecsfake.TaskScript{}, true, []string{"/app", "migrate", "--status"}, "**SUCCEEDED: task"},
		{"fails", chain.RunTaskRequest{Env: "preprod", Command: []string{"/app", "migrate"}}, ecsfake.TaskScript{Exit: 2}, false, []string{"/app", "migrate"}, "**FAILED: task"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.ecs.ScriptRunTask(tt.script)
			out, err := w.s.RunTask(context.Background(), tt.req)
			rep := reportOf(out, err)
			if tt.ok {
				require.NoError(t, err, rep)
			} else {
				require.Error(t, err)
			}
			w.assertNoSecrets(out, err)
			assert.Contains(t, rep, tt.want)
			ran := w.ecs.RanTasks()
			require.Len(t, ran, 1)
			assert.Equal(t, w.arns["preprod"], ran[0].TaskDefinition, "the revision the service runs")
			assert.Equal(t, tt.command, ran[0].Overrides["app"])
			assert.Equal(t, "fargate/run-task", ran[0].StartedBy)
			assert.Empty(t, w.ecsMutations(), "run-task registers and updates nothing")
		})
	}
}

func TestRunTaskRefusesATimeoutOutOfRange(t *testing.T) {
	for _, timeout := range []time.Duration{-time.Second, time.Second, 9 * time.Second, 61 * time.Minute} {
		t.Run(timeout.String(), func(t *testing.T) {
			w := newWorld(t)
			_, err := w.s.RunTask(context.Background(), chain.RunTaskRequest{Env: "preprod", Timeout: timeout})
			require.ErrorContains(t, err, "timeout "+timeout.String()+": expected between 10s and 1h0m0s")
			assert.Empty(t, w.ecs.RanTasks(), "no task ran")
		})
	}
}

// A credential in the pre-deploy command (a bad habit, but the user's) reaches the task as
// given and never the log or the report.
func TestPreDeployCommandIsShownMasked(t *testing.T) {
	w := newWorld(t)
	w.withPreDeploy(`    preDeploy: {command: [/app, migrate, "--db=postgres://app:hunter2-pw@db/app", --password, s3cr3t-pw]}` + "\n")
	out, err := w.s.Deploy(context.Background(), chain.DeployRequest{Env: "preprod"})
	require.NoError(t, err, reportOf(out, err))
	ran := w.ecs.RanTasks()
	require.Len(t, ran, 1)
	assert.Equal(t, []string{"/app", "migrate", "--db=postgres://app:hunter2-pw@db/app", "--password", "s3cr3t-pw"}, ran[0].Overrides["app"], "the task runs the command as given")
	for name, text := range map[string]string{"report": out, "log": w.log.String()} {
		assert.NotContains(t, text, "hunter2-pw", name)
		assert.NotContains(t, text, "s3cr3t-pw", name)
	}
	assert.Contains(t, out, `/app migrate --db=postgres://\*\*\*@db/app --password \*\*\*`)
	assert.Contains(t, w.log.String(), "pre-deploy: running /app migrate --db=postgres://***@db/app --password ***")
}
