package taskdef

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/schemas"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
const repo = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sample-app"

func TestLoadShapes(t *testing.T) {
	for _, file := range []string{"testdata/describe-output.json", "testdata/register-input.json"} {
		t.Run(file, func(t *testing.T) {
			d, err := Load(file)
			require.NoError(t, err)
			assert.Equal(t, "sample-app-preprod", d.Family())
			assert.Contains(t, d.ContainerNames(), "app")
			in, err := d.RegisterInput()
			require.NoError(t, err)
			assert.Equal(t, "sample-app-preprod", aws.ToString(in.Family))
			require.NotEmpty(t, in.ContainerDefinitions)
			assert.Equal(t, "app", aws.ToString(in.ContainerDefinitions[0].Name))
			canon, err := d.CanonicalJSON()
			require.NoError(t, err)
			for _, ro := range []string{"taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities", "registeredAt", "registeredBy"} {
				assert.NotContains(t, string(canon), `"`+ro+`"`)
			}
		})
	}
}

func TestBareDescribeOutputIsAccepted(t *testing.T) {
	data, err := readWrapped()
	require.NoError(t, err)
	d, err := Parse("bare.json", data)
	require.NoError(t, err)
	assert.Equal(t, []string{"app", "log-router"}, d.ContainerNames())
}

func readWrapped() ([]byte, error) {
	d, err := Load("testdata/describe-output.json")
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"taskDefinition": d.doc}["taskDefinition"])
}

// Every field a user may write survives the trip into the SDK input.
func TestRoundTripIsLossless(t *testing.T) {
	d, err := Load("testdata/describe-output.json")
	require.NoError(t, err)
	in, err := d.RegisterInput()
	require.NoError(t, err)
	app := in.ContainerDefinitions[0]
	assert.Equal(t, types.CPUArchitectureArm64, in.RuntimePlatform.CpuArchitecture)
	assert.Equal(t, int32(30), in.EphemeralStorage.SizeInGiB)
	assert.Equal(t, "512", aws.ToString(in.Cpu))
	assert.Equal(t, int32(512), aws.ToInt32(app.Memory))
	assert.Equal(t, []string{"ALL"}, app.LinuxParameters.Capabilities.Drop)
	assert.Equal(t, "payments", app.DockerLabels["team"])
	assert.Equal(t, int32(65536), app.Ulimits[0].SoftLimit)
	assert.Equal(t, "http", aws.ToString(app.PortMappings[0].Name))
	assert.Equal(t, types.ApplicationProtocolHttp, app.PortMappings[0].AppProtocol)
	assert.Equal(t, int32(10), aws.ToInt32(app.HealthCheck.StartPeriod))
	assert.Equal(t, "DB_PASSWORD", aws.ToString(app.Secrets[0].Name))
	assert.Equal(t, types.FirelensConfigurationTypeFluentbit, in.ContainerDefinitions[1].FirelensConfiguration.Type)
	require.Len(t, in.Tags, 1)
	assert.Equal(t, "team", aws.ToString(in.Tags[0].Key))

	// SDK value back to JSON: same canonical document.
	td, err := d.TaskDefinition()
	require.NoError(t, err)
	back, err := FromSDK("running", &td, nil)
	require.NoError(t, err)
	diff, err := Diff(d, back)
	require.NoError(t, err)
	assert.Empty(t, diff)
}

// Every member of the registration input (tags aside) exists with the same name and type
// on TaskDefinition, which RegisterInput relies on to copy fields.
func TestRegisterInputFieldsCovered(t *testing.T) {
	in := reflect.TypeOf(ecs.RegisterTaskDefinitionInput{})
	td := reflect.TypeOf(types.TaskDefinition{})
	for i := 0; i < in.NumField(); i++ {
		f := in.Field(i)
		if !f.IsExported() || f.Name == "Tags" {
			continue
		}
		g, ok := td.FieldByName(f.Name)
		if assert.True(t, ok, "TaskDefinition lacks %s", f.Name) {
			assert.Equal(t, f.Type, g.Type, f.Name)
		}
	}
	for name := range schemas.RegisterTaskDefinitionRequest.Members() {
		if name != "tags" {
			assert.Contains(t, schemas.TaskDefinition.Members(), name)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"malformed", `{"family": "x",,}`, "td.json: malformed JSON: line 1, column 16"},
		{"truncated", `{"family": "x"`, "td.json: malformed JSON: unexpected end of file"},
		{"not object", `[1]`, "expected a JSON object at the top level, got list"},
		{"wrong type", `{"family":"x","containerDefinitions":[{"name":"a","image":"r:t","memory":"512"}]}`, "td.json: containerDefinitions[0].memory: expected a number, got string"},
		{"fraction", `{"family":"x","containerDefinitions":[{"name":"a","image":"r:t","memory":1.5}]}`, "containerDefinitions[0].memory: expected a whole number"},
		{"unknown top", `{"family":"x","containerDefinitions":[],"foo":1}`, "td.json: foo: unknown field"},
		{"unknown nested", `{"family":"x","containerDefinitions":[{"name":"a","image":"r:t","Memory":1}]}`, `containerDefinitions[0].Memory: unknown field (did you mean "memory"?`},
		{"unknown wrapper", `{"taskDefinition":{"family":"x"},"extra":1}`, "td.json: extra: unknown field"},
		{"wrapped path", `{"taskDefinition":{"family":"x","containerDefinitions":[{"name":"a","image":"r:t","essential":"yes"}]}}`, "taskDefinition.containerDefinitions[0].essential: expected a boolean, got string"},
		{"no family", `{"containerDefinitions":[{"name":"a","image":"r:t"}]}`, "family: required"},
		{"no containers", `{"family":"x"}`, "containerDefinitions: required"},
		{"no image", `{"family":"x","containerDefinitions":[{"name":"a"}]}`, "containerDefinitions[0].image: required"},
		{"dup name", `{"family":"x","containerDefinitions":[{"name":"a","image":"r:t"},{"name":"a","image":"r:t"}]}`, `containerDefinitions[1].name: duplicate container name "a"`},
		{"bad tags", `{"family":"x","containerDefinitions":[{"name":"a","image":"r:t"}],"tags":{"a":"b"}}`, "td.json: tags: expected a list"},
		{"map value", `{"family":"x","containerDefinitions":[{"name":"a","image":"r:t","dockerLabels":{"k":1}}]}`, "containerDefinitions[0].dockerLabels.k: expected a string, got number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("td.json", []byte(tt.doc))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/nope.json")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nope.json")
}

func TestRender(t *testing.T) {
	d, err := Load("testdata/describe-output.json")
	require.NoError(t, err)
	before, _ := d.CanonicalJSON()

	r, err := d.Render(RenderOptions{Containers: []string{"app"}, Image: repo + "@" + digest, Environment: map[string]string{"LOG_LEVEL": "debug", "FEATURE_X": "on"}})
	require.NoError(t, err)
	assert.Equal(t, digest, r.Digest)
	assert.Empty(t, r.Warnings)
	assert.Equal(t, repo+"@"+digest, r.Definition.Images()["app"])
	assert.Equal(t, "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable", r.Definition.Images()["log-router"])
	in, err := r.Definition.RegisterInput()
	require.NoError(t, err)
	env := map[string]string{}
	for _, kv := range in.ContainerDefinitions[0].Environment {
		env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
	}
	assert.Equal(t, map[string]string{"LOG_LEVEL": "debug", "FEATURE_X": "on"}, env)

	after, _ := d.CanonicalJSON()
	assert.Equal(t, string(before), string(after), "Render must not change its input")

	diff, err := Diff(d, r.Definition)
	require.NoError(t, err)
	assert.Contains(t, diff, `-      "image": "`+repo+`:old",`)
	assert.Contains(t, diff, `+      "image": "`+repo+"@"+digest+`",`)
	assert.Contains(t, diff, "--- testdata/describe-output.json")
}

func TestRenderTagOnlyIsFlagged(t *testing.T) {
	d, err := Load("testdata/register-input.json")
	require.NoError(t, err)
	r, err := d.Render(RenderOptions{Containers: []string{"app"}, Image: repo + ":v1.2.3"})
	require.NoError(t, err)
	assert.Empty(t, r.Digest)
	require.Len(t, r.Warnings, 1)
	assert.Contains(t, r.Warnings[0], "by tag, not by digest")
}

func TestRenderErrors(t *testing.T) {
	d, err := Load("testdata/describe-output.json")
	require.NoError(t, err)
	tests := []struct {
		name string
		opts RenderOptions
		want string
	}{
		{"unknown container", RenderOptions{Containers: []string{"web"}, Image: repo + "@" + digest}, `container "web" not found; the task definition has "app", "log-router"`},
		{"no container", RenderOptions{Image: repo + "@" + digest}, "name at least one container"},
		{"short digest", RenderOptions{Containers: []string{"app"}, Image: repo + "@sha256:abc"}, "expected a digest of the form sha256:<64"},
		{"upper repo", RenderOptions{Containers: []string{"app"}, Image: "Registry.io/App@" + digest}, "invalid repository"},
		{"no tag", RenderOptions{Containers: []string{"app"}, Image: repo}, "expected registry/repository@sha256"},
		{"space", RenderOptions{Containers: []string{"app"}, Image: repo + " :x"}, "whitespace"},
		{"bad env name", RenderOptions{Containers: []string{"app"}, Environment: map[string]string{"1X": "y"}}, `environment variable name "1X"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Render(tt.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestCredentialsRefusedWithoutEcho(t *testing.T) {
	d, err := Load("testdata/register-input.json")
	require.NoError(t, err)
	tests := []struct{ name, value, want string }{
		{"DB_PASSWORD", "hunter2-not-shown", "credential-like name (contains PASSWORD)"},
		{"API_SECRET", "plain-value-xyz", "contains SECRET"},
		{"GITHUB_TOKEN", "ghp_value_abc", "contains TOKEN"},
		{"AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", "AWS credential variable"},
		{"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS credential variable"},
		{"ECS_ENGINE_AUTH_DATA", "{}", "AWS credential variable"},
		{"UPSTREAM", "key=AKIAIOSFODNN7EXAMPLE", "shaped like an AWS access key ID"},
		// STS bearer tokens and context-specific credentials are credentials too (IAM unique
		// ID prefixes ABIA, ACCA); the renderer used to know only AKIA and ASIA.
		{"BEARER_CFG", "ABIAIOSFODNN7EXAMPLE", "shaped like an AWS access key ID"},
		{"CONTEXT_CFG", "id=ACCAIOSFODNN7EXAMPLE", "shaped like an AWS access key ID"},
		{"TLS_CERT_BODY", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "private key"},
		{"SIGNING", "q8Zr4Xw2LmN7vB1cK9sD3fG6hJ0pT5yU2iO8aE4rW7tY", "high-entropy"},
		// One heuristic with the policy rules (redact.SecretReason): a digits-only password is
		// one, the session token is an AWS credential, and a credential value is refused under
		// a reference name too.
		{"PIN_PASSWORD", "123456", "looks like a secret held in plain text"},
		{"AWS_SESSION_TOKEN", "FwoGZXIvYXdzEJr", "AWS credential variable"},
		{"TOKEN_FILE", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "API token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Render(RenderOptions{Containers: []string{"app"}, Environment: map[string]string{tt.name: tt.value}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.name)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), tt.value)
		})
	}
	// Ordinary values pass: URLs, git SHAs, digests, words.
	for k, v := range map[string]string{
		"UPSTREAM_URL": "https://api.internal.example.com/v1/payments/endpoint",
		"GIT_SHA":      "9fceb02d0ae598e95dc970b74767f19372d61af8",
		"IMAGE":        digest,
		"MODE":         "production",
		// Names of credentials whose value cannot be one held in plain text.
		"DB_PASSWORD_FILE": "/run/secrets/db",
		"DB_SECRET_ARN":    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:MyApp-Prod-DbCredentials-7hXq2B",
		"USE_SECRETS":      "true",
		"TOKEN_TTL":        "3600",
	} {
		_, err := d.Render(RenderOptions{Containers: []string{"app"}, Environment: map[string]string{k: v}})
		assert.NoError(t, err, k)
	}
}

func TestTags(t *testing.T) {
	tags, err := Tags(TagInput{Environment: "preprod", GitRevision: "9fceb02d", ImageDigest: digest, Extra: map[string]string{"approved-by": "alice@example.com"}})
	require.NoError(t, err)
	got := map[string]string{}
	for _, tg := range tags {
		got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	assert.Equal(t, map[string]string{TagEnvironment: "preprod", TagGitRevision: "9fceb02d", TagImageDigest: digest, "approved-by": "alice@example.com"}, got)

	bad := []struct {
		in   TagInput
		want string
	}{
		{TagInput{Extra: map[string]string{"aws:owner": "x"}}, "aws: prefix is reserved"},
		{TagInput{Extra: map[string]string{"note": "a;b"}}, `tag "note": value must contain only`},
		{TagInput{Extra: map[string]string{strings.Repeat("k", 129): "v"}}, "expected 1 to 128 characters"},
		{TagInput{Extra: map[string]string{"k": strings.Repeat("v", 257)}}, "expected at most 256"},
		{TagInput{Extra: map[string]string{TagEnvironment: "x"}}, "reserved for the pipeline"},
		{TagInput{Environment: "pre prod!"}, `tag "deploy:environment": value must contain only`},
	}
	for _, b := range bad {
		_, err := Tags(b.in)
		require.Error(t, err)
		assert.Contains(t, err.Error(), b.want)
	}
}

func TestRegisterInputMergesTags(t *testing.T) {
	d, err := Load("testdata/register-input.json")
	require.NoError(t, err)
	in, err := d.RegisterInput(types.Tag{Key: aws.String("owner"), Value: aws.String("team-b")}, types.Tag{Key: aws.String("x"), Value: aws.String("y")})
	require.NoError(t, err)
	require.Len(t, in.Tags, 2)
	assert.Equal(t, "team-b", aws.ToString(in.Tags[0].Value))
}

func TestCanonicalJSONStable(t *testing.T) {
	a, err := Parse("a.json", []byte(`{"memory":"512","family":"f","containerDefinitions":[{"image":"r:t","name":"a","environment":[],"mountPoints":[]}]}`))
	require.NoError(t, err)
	b, err := Parse("b.json", []byte(`{"family":"f","containerDefinitions":[{"name":"a","image":"r:t"}],"memory":"512"}`))
	require.NoError(t, err)
	ca, _ := a.CanonicalJSON()
	cb, _ := b.CanonicalJSON()
	assert.Equal(t, string(ca), string(cb))
	assert.Equal(t, "{\n  \"containerDefinitions\": [\n    {\n      \"image\": \"r:t\",\n      \"name\": \"a\"\n    }\n  ],\n  \"family\": \"f\",\n  \"memory\": \"512\"\n}\n", string(ca))
	diff, err := Diff(a, b)
	require.NoError(t, err)
	assert.Empty(t, diff)
}

func TestCanonicalJSONRedactsCredentials(t *testing.T) {
	secret := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	d, err := Parse("running", []byte(`{"family":"f","containerDefinitions":[{"name":"a","image":"r:t","environment":[
		{"name":"AWS_SECRET_ACCESS_KEY","value":"`+secret+`"},{"name":"MODE","value":"prod"}]}]}`))
	require.NoError(t, err)
	out, err := d.CanonicalJSON()
	require.NoError(t, err)
	assert.NotContains(t, string(out), secret)
	assert.Contains(t, string(out), Redacted)
	assert.Contains(t, string(out), `"prod"`)
	// Render refuses to carry it forward.
	_, err = d.Render(RenderOptions{})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
}
