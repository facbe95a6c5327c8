package localrun

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/taskdef"
)

const roNote = "readonlyRootFilesystem is enforced by ECS, not by the local run; only the task definition's writable mounts are tmpfs here"

func sampleSpec(env, region, account, logLevel string) Spec {
	return Spec{
		Container: "app",
		User:      "65532:65532",
		Env: []EnvVar{{"APP_ENV", env}, {"LOG_LEVEL", logLevel}, {"PORT", "8080"},
			{"SHUTDOWN_DRAIN", "10s"}, {"SHUTDOWN_TIMEOUT", "15s"}, {"STOP_TIMEOUT", "30s"}},
		Secrets: []Secret{
			{"API_TOKEN", "arn:aws:secretsmanager:" + region + ":" + account + ":secret:sample-app/" + env + "/api-token-AbCdEf"},
			{"API_TOKEN_PREVIOUS", "arn:aws:ssm:" + region + ":" + account + ":parameter/sample-app/" + env + "/api-token-previous"},
		},
		TmpfsPaths: []string{"/tmp"},
		Port:       8080,
		Notes: []string{
			"secret API_TOKEN (from arn:aws:secretsmanager:" + region + ":" + account + ":secret:sample-app/" + env + "/api-token-AbCdEf on ECS) set to a random local value",
			"secret API_TOKEN_PREVIOUS (from arn:aws:ssm:" + region + ":" + account + ":parameter/sample-app/" + env + "/api-token-previous on ECS) set to a random local value",
			roNote,
		},
	}
}

func TestFromTaskDefinitionSampleApp(t *testing.T) {
	tests := []struct {
		file string
		want Spec
	}{
		{"../../sample-app/ecs/preprod.taskdef.json", sampleSpec("preprod", "eu-west-1", "111122223333", "debug")},
		{"../../sample-app/ecs/prod.taskdef.json", sampleSpec("prod", "eu-west-1", "444455556666", "info")},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			def, err := taskdef.Load(tt.file)
			require.NoError(t, err)
			got, err := FromTaskDefinition(def, "app", 9999)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func parse(t *testing.T, js string) *taskdef.Definition {
	t.Helper()
	def, err := taskdef.Parse("edge.json", []byte(js))
	require.NoError(t, err)
	return def
}

func TestFromTaskDefinition(t *testing.T) {
	tests := []struct {
		name        string
		js          string
		container   string
		defaultPort int
		want        Spec
		wantErr     string
	}{
		{
			name:        "bare container: image settings kept, the app's port",
			js:          `{"family":"f","containerDefinitions":[{"name":"web","image":"r/web:1"}]}`,
			container:   "web",
			defaultPort: 3000,
			want:        Spec{Container: "web", Port: 3000},
		},
		{
			name: "entry point, command, working directory, first of two port mappings",
			js: `{"family":"f","containerDefinitions":[{"name":"web","image":"r/web:1","entryPoint":["/bin/app","serve"],
				"command":["--listen",":9090"],"workingDirectory":"/srv","readonlyRootFilesystem":false,
				"portMappings":[{"containerPort":9090},{"containerPort":9091}]}]}`,
			container: "web",
			want: Spec{Container: "web", Workdir: "/srv", Port: 9090,
				Entrypoint: []string{"/bin/app", "serve"}, Command: []string{"--listen", ":9090"}},
		},
		{
			name: "volumes: writable task-scoped and EFS mounts are tmpfs, read-only ones are not mounted",
			js: `{"family":"f","volumes":[{"name":"scratch"},{"name":"shared","efsVolumeConfiguration":{"fileSystemId":"fs-1","transitEncryption":"ENABLED"}},{"name":"conf"}],
				"containerDefinitions":[{"name":"web","image":"r/web:1","mountPoints":[
				{"sourceVolume":"scratch","containerPath":"/tmp"},
				{"sourceVolume":"shared","containerPath":"/data","readOnly":false},
				{"sourceVolume":"conf","containerPath":"/etc/app","readOnly":true}]}]}`,
			container:   "web",
			defaultPort: 8080,
			want: Spec{Container: "web", Port: 8080, TmpfsPaths: []string{"/tmp", "/data"}, Notes: []string{
				"mount point /data (volume shared) is an empty tmpfs locally, not the volume ECS mounts",
				"read-only mount point /etc/app (volume conf) is not mounted locally",
			}},
		},
		{
			name: "sidecars and environment files are named in the notes",
			js: `{"family":"f","containerDefinitions":[
				{"name":"envoy","image":"r/envoy:1"},
				{"name":"web","image":"r/web:1","environment":[{"name":"A","value":"1"},{"name":"B","value":""}],
				 "environmentFiles":[{"value":"arn:aws:s3:::bucket/web.env","type":"s3"}]},
				{"name":"log-router","image":"r/fluentbit:1"}]}`,
			container:   "web",
			defaultPort: 8080,
			want: Spec{Container: "web", Port: 8080, Env: []EnvVar{{"A", "1"}, {"B", ""}}, Notes: []string{
				"environment file arn:aws:s3:::bucket/web.env (s3) is not loaded locally",
				"only web runs locally; the task's other containers (envoy, log-router) do not",
			}},
		},
		{
			name:        "an unknown container is an error naming the ones there are",
			js:          `{"family":"f","containerDefinitions":[{"name":"web","image":"r/web:1"},{"name":"envoy","image":"r/envoy:1"}]}`,
			container:   "app",
			defaultPort: 8080,
			wantErr:     `run locally: container "app" is not in edge.json (it has web, envoy)`,
		},
		{
			name:      "no port anywhere is an error",
			js:        `{"family":"f","containerDefinitions":[{"name":"web","image":"r/web:1"}]}`,
			container: "web",
			wantErr:   `run locally: container "web" of edge.json: port 0 is not a TCP port`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromTaskDefinition(parse(t, tt.js), tt.container, tt.defaultPort)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestProbe(t *testing.T) {
	p, err := NewProbe("/healthz", 2*time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "http://app:8080/healthz?fargate-probe=1-ab12", p.URL("http://app:8080", 1, "ab12"))
	assert.Equal(t, "http://app:8080/healthz?fargate-probe=3-ab12", p.URL("http://app:8080/", 3, "ab12"))

	q, err := NewProbe("/health?deep=1", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "http://app:8080/health?deep=1&fargate-probe=2-x", q.URL("http://app:8080", 2, "x"),
		"a path with a query keeps it and adds the nonce as another parameter")

	var waits []time.Duration
	for attempt := 1; attempt <= 7; attempt++ {
		waits = append(waits, p.Wait(attempt))
	}
	assert.Equal(t, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		time.Second, time.Second, time.Second}, waits)
}

func TestNewProbeRejects(t *testing.T) {
	tests := []struct {
		path    string
		timeout time.Duration
		want    string
	}{
		{"healthz", time.Minute, `health path "healthz": must start with /`},
		{"", time.Minute, "must start with /"},
		{"/healthz", 0, "health probe timeout 0s: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.path+"/"+tt.timeout.String(), func(t *testing.T) {
			_, err := NewProbe(tt.path, tt.timeout)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
