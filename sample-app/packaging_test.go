package main

// Tests of the files that package and deploy the service: the Dockerfile, the ECS task
// definitions and the Trivy ignore file. They guard the properties the pipeline's policy
// gate and AWS Security Hub check later (non-root numeric user, read-only root filesystem,
// digest-pinned bases, secrets from Secrets Manager/SSM), so a regression fails CI first.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"example.com/sample-app/internal/config"
	"example.com/sample-app/internal/healthcheck"
)

// ---- Dockerfile ----------------------------------------------------------------------------

type instruction struct {
	cmd  string // upper-cased keyword
	args string
	line int
}

// parseDockerfile splits a Dockerfile into instructions, joining continuation lines and
// dropping comments and blank lines.
func parseDockerfile(text string) []instruction {
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(line, "#") {
			continue // comment inside a continued instruction
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		full := cur.String()
		cur.Reset()
		cmd, args, _ := strings.Cut(full, " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start})
	}
	return out
}

// dockerFacts are what the task definitions must agree with.
type dockerFacts struct {
	entrypoint []string
	user       string
	exposed    []int
}

var (
	digestRef   = regexp.MustCompile(`^[^@\s]+@sha256:[0-9a-f]{64}$`)
	numericUser = regexp.MustCompile(`^([0-9]+)(?::([0-9]+))?$`)
	varRef      = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)
)

// checkDockerfile returns every rule the Dockerfile breaks, and the facts it declares.
func checkDockerfile(text string) ([]string, dockerFacts) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var facts dockerFacts

	globalArgs := map[string]string{}
	stages := map[string]bool{}
	type stage struct{ body []instruction }
	var all []stage
	for _, in := range parseDockerfile(text) {
		if in.cmd == "FROM" {
			fields := strings.Fields(in.args)
			for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
				fields = fields[1:]
			}
			if len(fields) == 0 {
				bad("line %d: FROM without an image", in.line)
				continue
			}
			image := varRef.ReplaceAllStringFunc(fields[0], func(m string) string {
				name := strings.Trim(m, "${}")
				return globalArgs[name]
			})
			switch {
			case stages[image]:
				// FROM an earlier stage: pinned through that stage.
			case image == "" || strings.Contains(image, "$"):
				bad("line %d: FROM %s: image must come from an ARG with a default", in.line, fields[0])
			case !digestRef.MatchString(image):
				bad("line %d: FROM %s: base image %q must be pinned by digest (name@sha256:<64 hex>)", in.line, fields[0], image)
			}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				stages[fields[2]] = true
			}
			all = append(all, stage{})
			continue
		}
		if len(all) == 0 {
			if in.cmd == "ARG" {
				name, def, _ := strings.Cut(in.args, "=")
				globalArgs[name] = def
			}
			continue
		}
		all[len(all)-1].body = append(all[len(all)-1].body, in)
	}
	if len(all) < 2 {
		bad("want a multi-stage build (builder and runtime), found %d stage(s)", len(all))
		return problems, facts
	}

	for _, s := range all[:len(all)-1] {
		if len(s.body) == 0 {
			// A bare "FROM image@digest AS name" stage only pins a default base where
			// Dependabot can see it; it builds nothing.
			continue
		}
		problems = append(problems, checkBuilderStage(s.body)...)
	}

	final := all[len(all)-1].body
	labels := ""
	for _, in := range final {
		switch in.cmd {
		case "USER":
			facts.user = in.args
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.args), &facts.entrypoint); err != nil {
				bad("line %d: ENTRYPOINT must be the exec (JSON array) form: %v", in.line, err)
			}
		case "EXPOSE":
			for _, p := range strings.Fields(in.args) {
				n, err := strconv.Atoi(strings.TrimSuffix(p, "/tcp"))
				if err != nil {
					bad("line %d: EXPOSE %s is not a TCP port", in.line, p)
					continue
				}
				facts.exposed = append(facts.exposed, n)
			}
		case "LABEL":
			labels += " " + in.args
		case "RUN":
			bad("line %d: the runtime stage must not RUN anything (distroless has no shell)", in.line)
		}
	}
	m := numericUser.FindStringSubmatch(facts.user)
	switch {
	case facts.user == "":
		bad("final stage has no USER: the container would run as root")
	case m == nil:
		bad("final USER %q must be numeric uid[:gid] so the runtime can verify it is not root", facts.user)
	case m[1] == "0" || strings.Trim(m[1], "0") == "" || m[2] != "" && strings.Trim(m[2], "0") == "":
		bad("final USER %q must not be root (uid or gid 0)", facts.user)
	}
	if len(facts.entrypoint) == 0 {
		bad("final stage has no ENTRYPOINT")
	}
	if len(facts.exposed) == 0 {
		bad("final stage EXPOSEs no port")
	}
	for _, l := range []string{"org.opencontainers.image.source", "org.opencontainers.image.revision", "org.opencontainers.image.created", "org.opencontainers.image.title"} {
		if !strings.Contains(labels, l+"=") {
			bad("final stage lacks LABEL %s", l)
		}
	}
	return problems, facts
}

// perRunArgs are the build arguments whose value changes from one run or commit to the next.
// An ARG is part of the cache key of every later RUN of its stage (Dockerfile reference,
// "Impact on build caching"), so none of them may be in scope of a builder RUN; VERSION only
// of the compile, where it reaches the linker alone.
var perRunArgs = []string{"REVISION", "CREATED", "SOURCE", "SOURCE_DATE_EPOCH"}

// goCacheMounts are the directories the Go toolchain caches in, by the variable that names them.
var goCacheMounts = map[string]string{"GOMODCACHE": "/go/pkg/mod", "GOCACHE": "/root/.cache/go-build"}

// cacheMount is one RUN --mount=type=cache flag.
type cacheMount struct{ id, target, sharing string }

func cacheMounts(run string) []cacheMount {
	var out []cacheMount
	for _, f := range strings.Fields(run) {
		opts, ok := strings.CutPrefix(f, "--mount=")
		if !ok {
			continue
		}
		kv := map[string]string{}
		for _, o := range strings.Split(opts, ",") {
			k, v, _ := strings.Cut(o, "=")
			kv[k] = v
		}
		if kv["type"] == "cache" {
			out = append(out, cacheMount{id: kv["id"], target: kv["target"], sharing: kv["sharing"]})
		}
	}
	return out
}

// checkBuilderStage returns the rules a builder stage breaks: a static, reproducible build
// whose incremental rebuild re-runs only what a source change needs.
func checkBuilderStage(body []instruction) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	env := map[string]string{}
	var inScope []string
	sourcesCopied := false
	goBuild := ""
	for _, in := range body {
		switch in.cmd {
		case "ENV":
			for _, f := range strings.Fields(in.args) {
				if k, v, ok := strings.Cut(f, "="); ok {
					env[k] = v
				}
			}
		case "ARG":
			name, _, _ := strings.Cut(in.args, "=")
			inScope = append(inScope, name)
		case "COPY", "ADD":
			fields := strings.Fields(in.args)
			for _, src := range fields[:max(len(fields)-1, 0)] {
				switch {
				case strings.HasPrefix(src, "--"):
				case !strings.HasPrefix(src, "go.mod") && !strings.HasPrefix(src, "go.sum"):
					sourcesCopied = true
				}
			}
		case "RUN":
			isBuild := strings.Contains(in.args, "go build")
			if isBuild {
				goBuild = in.args
			}
			for _, a := range inScope {
				if slices.Contains(perRunArgs, a) || a == "VERSION" && !isBuild {
					bad("line %d: ARG %s is in scope of this RUN, so every new value re-runs it; declare it in the final stage (or, for VERSION, right before the compile)", in.line, a)
				}
			}
			if strings.Contains(in.args, "go mod download") && sourcesCopied {
				bad("line %d: go mod download runs after the sources are copied, so every source edit downloads the modules again", in.line)
			}
			for _, m := range cacheMounts(in.args) {
				if m.id == "" {
					bad("line %d: cache mount %s needs an explicit id (its identity would otherwise be its path)", in.line, m.target)
				}
				if m.sharing != "shared" {
					bad("line %d: cache mount %s: sharing=shared, got %q (the Go caches are safe for concurrent builds)", in.line, m.target, m.sharing)
				}
			}
		}
	}
	if goBuild == "" {
		return append(problems, "no RUN ... go build in a builder stage")
	}
	for _, want := range []string{"-trimpath", `-ldflags "-s -w`, "GOOS=${TARGETOS}", "GOARCH=${TARGETARCH}"} {
		if !strings.Contains(goBuild, want) {
			bad("go build step lacks %s", want)
		}
	}
	mounts := cacheMounts(goBuild)
	for _, v := range slices.Sorted(maps.Keys(goCacheMounts)) {
		target := goCacheMounts[v]
		if !slices.ContainsFunc(mounts, func(m cacheMount) bool { return m.target == target }) {
			bad("go build step lacks a cache mount at %s", target)
		}
		if env[v] != target {
			bad("the builder must set ENV %s=%s so the Go toolchain uses the cache mount (got %q)", v, target, env[v])
		}
	}
	if env["CGO_ENABLED"] != "0" && !strings.Contains(goBuild, "CGO_ENABLED=0") {
		bad("builder must set CGO_ENABLED=0 for a static binary")
	}
	return problems
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDockerfile(t *testing.T) {
	problems, facts := checkDockerfile(readFile(t, "Dockerfile"))
	for _, p := range problems {
		t.Error(p)
	}
	if !slices.Equal(facts.entrypoint, []string{"/app"}) || facts.user != "65532:65532" || !slices.Equal(facts.exposed, []int{config.DefaultPort}) {
		t.Errorf("Dockerfile declares entrypoint %q, user %q, ports %v; want [/app], 65532:65532, [%d]", facts.entrypoint, facts.user, facts.exposed, config.DefaultPort)
	}
}

func TestCheckDockerfileCatchesRegressions(t *testing.T) {
	assertCatches(t, "Dockerfile", func(text string) []string { p, _ := checkDockerfile(text); return p }, []mutation{
		{"runtime image by tag only", "static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab", "static-debian12:nonroot", `base image "gcr.io/distroless/static-debian12:nonroot" must be pinned by digest`},
		{"builder digest truncated", "@sha256:b305420a68d0f229d91eb3b3ed9e519fcf2cf5461da4bef997bf927e8c0bfd2b", "@sha256:b305420a", "golang:1.26-bookworm@sha256:b305420a\" must be pinned by digest"},
		{"image from an undefined ARG", "FROM ${RUNTIME_IMAGE}", "FROM ${OTHER_IMAGE}", "image must come from an ARG with a default"},
		{"root user", "USER 65532:65532", "USER 0", `final USER "0" must not be root`},
		{"root group", "USER 65532:65532", "USER 65532:0", `final USER "65532:0" must not be root`},
		{"named user", "USER 65532:65532", "USER nonroot:nonroot", `final USER "nonroot:nonroot" must be numeric`},
		{"no user", "USER 65532:65532\n", "", "final stage has no USER"},
		{"shell-form entrypoint", `ENTRYPOINT ["/app"]`, "ENTRYPOINT /app", "ENTRYPOINT must be the exec (JSON array) form"},
		{"no trimpath", "-trimpath ", "", "go build step lacks -trimpath"},
		{"no build cache", "--mount=type=cache,id=go-build,sharing=shared,target=/root/.cache/go-build", "", "go build step lacks a cache mount at /root/.cache/go-build"},
		{"cache mount without id", "id=go-build,", "", "cache mount /root/.cache/go-build needs an explicit id"},
		{"private cache mount", "id=go-mod,sharing=shared,target=/go/pkg/mod \\\n    go mod download", "id=go-mod,sharing=private,target=/go/pkg/mod \\\n    go mod download", `cache mount /go/pkg/mod: sharing=shared, got "private"`},
		{"GOCACHE left to HOME", " GOCACHE=/root/.cache/go-build", "", "ENV GOCACHE=/root/.cache/go-build"},
		{"creation time before the compile", "ARG VERSION=dev\nRUN", "ARG VERSION=dev\nARG CREATED\nRUN", "ARG CREATED is in scope of this RUN"},
		{"revision in the builder", "ARG TARGETOS\n", "ARG TARGETOS\nARG REVISION=unknown\n", "ARG REVISION is in scope of this RUN"},
		{"version before the module download", "WORKDIR /src\n", "WORKDIR /src\nARG VERSION=dev\n", "ARG VERSION is in scope of this RUN"},
		{"download after the sources", "COPY go.mod go.sum* ./", "COPY go.mod go.sum* ./\nCOPY . .", "go mod download runs after the sources are copied"},
		{"cgo on", "CGO_ENABLED=0", "CGO_ENABLED=1", "CGO_ENABLED=0"},
		{"missing revision label", "org.opencontainers.image.revision=", "org.example.revision=", "lacks LABEL org.opencontainers.image.revision"},
	})
}

// checkDockerignore returns the rules .dockerignore breaks. The build context must hold the Go
// build inputs only: `COPY . .` then changes, and re-runs the compile, only when a non-test Go
// source or the module files change.
func checkDockerignore(text string) []string {
	var problems []string
	var patterns []string
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	if len(patterns) == 0 || patterns[0] != "*" {
		problems = append(problems, "the first pattern must be * (exclude everything, then re-include the Go build inputs)")
	}
	reincludedGo := -1
	for i, p := range patterns {
		inc, ok := strings.CutPrefix(p, "!")
		if !ok {
			continue
		}
		switch inc {
		case "go.mod", "go.sum":
		case "**/*.go":
			reincludedGo = i
		default:
			problems = append(problems, fmt.Sprintf("re-includes %s, which the build does not read: its edits would re-run the compile", inc))
		}
	}
	if reincludedGo < 0 || !slices.Contains(patterns[reincludedGo:], "**/*_test.go") {
		problems = append(problems, "must re-include **/*.go and then exclude **/*_test.go")
	}
	return problems
}

func TestDockerignore(t *testing.T) {
	for _, p := range checkDockerignore(readFile(t, ".dockerignore")) {
		t.Error(p)
	}
}

func TestCheckDockerignoreCatchesRegressions(t *testing.T) {
	assertCatches(t, ".dockerignore", checkDockerignore, []mutation{
		{"no exclude-all", "\n*\n", "\n", "the first pattern must be *"},
		{"deployment files sent", "!go.mod\n", "!go.mod\n!ecs\n", "re-includes ecs"},
		{"tests sent", "**/*_test.go", "", "exclude **/*_test.go"},
	})
}

// mutation is an edit of a good file and a problem its checker must then report.
type mutation struct{ name, old, new, want string }

// assertCatches applies each mutation to the file and expects check to report its problem.
func assertCatches(t *testing.T, file string, check func(string) []string, mutations []mutation) {
	good := readFile(t, file)
	for _, tt := range mutations {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(good, tt.old) {
				t.Fatalf("%s no longer contains %q; update this test", file, tt.old)
			}
			problems := check(strings.Replace(good, tt.old, tt.new, 1))
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Fatalf("problems %q lack %q", problems, tt.want)
			}
		})
	}
}

// ---- ECS task definitions ------------------------------------------------------------------

// taskDef mirrors the register-task-definition input fields these files may use. Decoding
// rejects unknown fields, so a misspelt key (readOnlyRootFilesystem) fails here rather than
// being silently dropped or rejected at deploy time.
type taskDef struct {
	Family                  string   `json:"family"`
	TaskRoleArn             string   `json:"taskRoleArn"`
	ExecutionRoleArn        string   `json:"executionRoleArn"`
	NetworkMode             string   `json:"networkMode"`
	RequiresCompatibilities []string `json:"requiresCompatibilities"`
	CPU                     string   `json:"cpu"`
	Memory                  string   `json:"memory"`
	PidMode                 string   `json:"pidMode"`
	IpcMode                 string   `json:"ipcMode"`
	RuntimePlatform         struct {
		OperatingSystemFamily string `json:"operatingSystemFamily"`
		CPUArchitecture       string `json:"cpuArchitecture"`
	} `json:"runtimePlatform"`
	EphemeralStorage *struct {
		SizeInGiB int `json:"sizeInGiB"`
	} `json:"ephemeralStorage"`
	ContainerDefinitions []container `json:"containerDefinitions"`
	Volumes              []struct {
		Name                   string `json:"name"`
		Host                   any    `json:"host"`
		EFSVolumeConfiguration any    `json:"efsVolumeConfiguration"`
	} `json:"volumes"`
	Tags []keyValue `json:"tags"`
}

type keyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type nameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type container struct {
	Name              string `json:"name"`
	Image             string `json:"image"`
	Essential         *bool  `json:"essential"`
	CPU               int    `json:"cpu"`
	Memory            int    `json:"memory"`
	MemoryReservation int    `json:"memoryReservation"`
	PortMappings      []struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
		HostPort      int    `json:"hostPort"`
		Protocol      string `json:"protocol"`
		AppProtocol   string `json:"appProtocol"`
	} `json:"portMappings"`
	User                   string `json:"user"`
	ReadonlyRootFilesystem *bool  `json:"readonlyRootFilesystem"`
	Privileged             *bool  `json:"privileged"`
	LinuxParameters        struct {
		Capabilities struct {
			Add  []string `json:"add"`
			Drop []string `json:"drop"`
		} `json:"capabilities"`
		InitProcessEnabled bool `json:"initProcessEnabled"`
	} `json:"linuxParameters"`
	MountPoints []struct {
		SourceVolume  string `json:"sourceVolume"`
		ContainerPath string `json:"containerPath"`
		ReadOnly      bool   `json:"readOnly"`
	} `json:"mountPoints"`
	Environment []nameValue `json:"environment"`
	Secrets     []struct {
		Name      string `json:"name"`
		ValueFrom string `json:"valueFrom"`
	} `json:"secrets"`
	HealthCheck *struct {
		Command     []string `json:"command"`
		Interval    int      `json:"interval"`
		Timeout     int      `json:"timeout"`
		Retries     int      `json:"retries"`
		StartPeriod int      `json:"startPeriod"`
	} `json:"healthCheck"`
	StopTimeout      int `json:"stopTimeout"`
	LogConfiguration *struct {
		LogDriver string            `json:"logDriver"`
		Options   map[string]string `json:"options"`
	} `json:"logConfiguration"`
}

type deployTarget struct {
	env, account, region string
}

var targets = []deployTarget{
	{"preprod", "111122223333", "eu-west-1"},
	{"prod", "444455556666", "eu-west-1"},
}

// Names that must never be plain environment variables (ECS.8), and hints of a secret.
var (
	forbiddenEnv = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ECS_ENGINE_AUTH_DATA"}
	secretHints  = []string{"TOKEN", "SECRET", "PASSWORD", "PRIVATE_KEY", "CREDENTIAL"}
)

// checkTaskDef returns every rule a task definition breaks for target, given the image's facts.
func checkTaskDef(raw []byte, tg deployTarget, df dockerFacts) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var td taskDef
	if err := dec.Decode(&td); err != nil {
		return []string{"decode: " + err.Error()}
	}
	// encoding/json matches keys case-insensitively; the ECS API does not.
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return []string{"decode: " + err.Error()}
	}
	for _, k := range unknownKeys("", generic, reflect.TypeFor[taskDef]()) {
		bad("unknown field %q (keys are case-sensitive)", k)
	}

	family := "sample-app-" + tg.env
	if td.Family != family {
		bad("family %q, want %q", td.Family, family)
	}
	if !slices.Equal(td.RequiresCompatibilities, []string{"FARGATE"}) {
		bad("requiresCompatibilities %v, want [FARGATE]", td.RequiresCompatibilities)
	}
	if td.NetworkMode != "awsvpc" {
		bad("networkMode %q, want awsvpc", td.NetworkMode)
	}
	if td.PidMode == "host" || td.IpcMode == "host" {
		bad("pidMode/ipcMode must not be host")
	}
	taskCPU, errC := strconv.Atoi(td.CPU)
	taskMem, errM := strconv.Atoi(td.Memory)
	if errC != nil || errM != nil || taskCPU <= 0 || taskMem <= 0 {
		bad("task cpu %q and memory %q must be positive integers as strings", td.CPU, td.Memory)
	}
	if td.RuntimePlatform.OperatingSystemFamily != "LINUX" || !slices.Contains([]string{"X86_64", "ARM64"}, td.RuntimePlatform.CPUArchitecture) {
		bad("runtimePlatform %+v, want LINUX with X86_64 or ARM64", td.RuntimePlatform)
	}
	rolePrefix := "arn:aws:iam::" + tg.account + ":role/"
	if td.TaskRoleArn != rolePrefix+family+"-task" {
		bad("taskRoleArn %q, want %s%s-task", td.TaskRoleArn, rolePrefix, family)
	}
	if td.ExecutionRoleArn != rolePrefix+family+"-execution" {
		bad("executionRoleArn %q, want %s%s-execution", td.ExecutionRoleArn, rolePrefix, family)
	}
	tags := map[string]string{}
	for _, tag := range td.Tags {
		tags[tag.Key] = tag.Value
	}
	if tags["env"] != tg.env || tags["owner"] == "" || tags["cost-center"] == "" {
		bad("tags %v, want env=%s plus non-empty owner and cost-center", tags, tg.env)
	}
	volumes := map[string]bool{}
	for _, v := range td.Volumes {
		if v.Host != nil || v.EFSVolumeConfiguration != nil {
			bad("volume %q must be task-scoped ephemeral storage (no host path or EFS)", v.Name)
		}
		volumes[v.Name] = true
	}

	if len(td.ContainerDefinitions) != 1 {
		bad("want exactly one container, found %d", len(td.ContainerDefinitions))
		return problems
	}
	c := td.ContainerDefinitions[0]
	if c.Name != "app" {
		bad("container name %q, want app", c.Name)
	}
	wantImage := tg.account + ".dkr.ecr." + tg.region + ".amazonaws.com/sample-app:placeholder"
	if c.Image != wantImage {
		bad("image %q, want the placeholder %q (the pipeline substitutes the digest)", c.Image, wantImage)
	}
	if c.Essential == nil || !*c.Essential {
		bad("container must be essential")
	}
	if c.Memory <= 0 || (errM == nil && c.Memory > taskMem) {
		bad("container memory %d must be set and at most the task's %s MiB", c.Memory, td.Memory)
	}
	if errC == nil && c.CPU > taskCPU {
		bad("container cpu %d exceeds the task's %s", c.CPU, td.CPU)
	}
	if len(c.PortMappings) != 1 || !slices.Contains(df.exposed, c.PortMappings[0].ContainerPort) || c.PortMappings[0].Protocol != "tcp" {
		bad("portMappings %+v, want one tcp mapping of a port the image EXPOSEs %v", c.PortMappings, df.exposed)
	}
	if c.User != df.user {
		bad("user %q, want the image's USER %q", c.User, df.user)
	}
	if m := numericUser.FindStringSubmatch(c.User); m == nil || strings.Trim(m[1], "0") == "" {
		bad("user %q must be a numeric non-root uid (ECS.20)", c.User)
	}
	if c.ReadonlyRootFilesystem == nil || !*c.ReadonlyRootFilesystem {
		bad("readonlyRootFilesystem must be true (ECS.5)")
	}
	if c.Privileged == nil || *c.Privileged {
		bad("privileged must be explicitly false (ECS.4)")
	}
	if !slices.Contains(c.LinuxParameters.Capabilities.Drop, "ALL") || len(c.LinuxParameters.Capabilities.Add) > 0 {
		bad("capabilities must drop ALL and add none, got %+v", c.LinuxParameters.Capabilities)
	}
	if !c.LinuxParameters.InitProcessEnabled {
		bad("linuxParameters.initProcessEnabled must be true (an init forwards SIGTERM and reaps children)")
	}
	tmpMounted := false
	for _, mp := range c.MountPoints {
		if !volumes[mp.SourceVolume] {
			bad("mountPoint %s uses undefined volume %q", mp.ContainerPath, mp.SourceVolume)
		}
		if mp.ContainerPath == "/tmp" && !mp.ReadOnly {
			tmpMounted = true
		}
	}
	if !tmpMounted {
		bad("no writable /tmp mount: the root filesystem is read-only")
	}
	wantHC := append([]string{"CMD"}, append(slices.Clone(df.entrypoint), "-healthcheck")...)
	if c.HealthCheck == nil || !slices.Equal(c.HealthCheck.Command, wantHC) {
		bad("healthCheck.command must be %q (no shell in the image)", wantHC)
	} else if c.HealthCheck.Timeout*1000 <= int(probeTimeout/time.Millisecond) {
		bad("healthCheck.timeout %ds must exceed the probe's own %s", c.HealthCheck.Timeout, probeTimeout)
	}
	if lc := c.LogConfiguration; lc == nil || lc.LogDriver != "awslogs" {
		bad("logConfiguration must use the awslogs driver (ECS.9)")
	} else if lc.Options["awslogs-group"] != "/ecs/"+family || lc.Options["awslogs-region"] != tg.region || lc.Options["awslogs-stream-prefix"] == "" {
		bad("awslogs options %v, want group /ecs/%s, region %s and a stream prefix", lc.Options, family, tg.region)
	}

	// Secrets come from this account's Secrets Manager or SSM, under the service's path.
	env := map[string]string{}
	fromSSM := false
	for _, s := range c.Secrets {
		smPrefix := "arn:aws:secretsmanager:" + tg.region + ":" + tg.account + ":secret:sample-app/" + tg.env + "/"
		ssmPrefix := "arn:aws:ssm:" + tg.region + ":" + tg.account + ":parameter/sample-app/" + tg.env + "/"
		switch {
		case strings.HasPrefix(s.ValueFrom, smPrefix):
		case strings.HasPrefix(s.ValueFrom, ssmPrefix):
			fromSSM = true
		default:
			bad("secret %s comes from %q, want %s... or %s...", s.Name, s.ValueFrom, smPrefix, ssmPrefix)
		}
		env[s.Name] = strings.Repeat("x", config.MinTokenLength) + s.Name // stand-in value
	}
	if _, ok := env[config.EnvAPIToken]; !ok {
		bad("secrets lack %s", config.EnvAPIToken)
	}
	if !fromSSM {
		bad("no secret comes from SSM Parameter Store")
	}
	for _, e := range c.Environment {
		if slices.Contains(forbiddenEnv, e.Name) {
			bad("environment sets %s (ECS.8): use the task role", e.Name)
		}
		if slices.ContainsFunc(secretHints, func(h string) bool { return strings.Contains(strings.ToUpper(e.Name), h) }) {
			bad("environment %s looks like a secret: pass it in secrets[].valueFrom", e.Name)
		}
		if _, dup := env[e.Name]; dup {
			bad("%s is set both as a secret and in environment", e.Name)
		}
		env[e.Name] = e.Value
	}

	// The service must start with exactly this environment, and fit its stop timeout.
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		bad("the service would not start with this environment: %v", err)
		return problems
	}
	if cfg.AppEnv != tg.env {
		bad("APP_ENV %q, want %q", cfg.AppEnv, tg.env)
	}
	if c.PortMappings != nil && cfg.Port != c.PortMappings[0].ContainerPort {
		bad("PORT %d differs from containerPort %d", cfg.Port, c.PortMappings[0].ContainerPort)
	}
	if time.Duration(c.StopTimeout)*time.Second != cfg.StopTimeout {
		bad("stopTimeout %ds differs from STOP_TIMEOUT %s the service plans its shutdown around", c.StopTimeout, cfg.StopTimeout)
	}
	if c.StopTimeout < 2 || c.StopTimeout > 120 {
		bad("stopTimeout %d must be between 2 and 120 seconds on Fargate", c.StopTimeout)
	}
	return problems
}

// unknownKeys lists the object keys in v that match no json tag of t exactly, as dotted paths.
func unknownKeys(path string, v any, t reflect.Type) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	var out []string
	switch v := v.(type) {
	case []any:
		for i, item := range v {
			out = append(out, unknownKeys(fmt.Sprintf("%s[%d]", path, i), item, t)...)
		}
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return nil // free-form maps (log options) and any-typed fields
		}
		fields := map[string]reflect.Type{}
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fields[name] = f.Type
		}
		for k, item := range v {
			ft, ok := fields[k]
			if !ok {
				out = append(out, strings.TrimPrefix(path+"."+k, "."))
				continue
			}
			out = append(out, unknownKeys(path+"."+k, item, ft)...)
		}
	}
	return out
}

func taskDefPath(env string) string { return "ecs/" + env + ".taskdef.json" }

func TestTaskDefinitions(t *testing.T) {
	_, facts := checkDockerfile(readFile(t, "Dockerfile"))
	for _, tg := range targets {
		t.Run(tg.env, func(t *testing.T) {
			for _, p := range checkTaskDef([]byte(readFile(t, taskDefPath(tg.env))), tg, facts) {
				t.Error(p)
			}
		})
	}
}

func TestCheckTaskDefCatchesRegressions(t *testing.T) {
	_, facts := checkDockerfile(readFile(t, "Dockerfile"))
	raw := readFile(t, taskDefPath("preprod"))
	app := func(td map[string]any) map[string]any {
		return td["containerDefinitions"].([]any)[0].(map[string]any)
	}
	tests := []struct {
		name   string
		mutate func(td map[string]any)
		want   string
	}{
		{"misspelt key", func(td map[string]any) {
			delete(app(td), "readonlyRootFilesystem")
			app(td)["readOnlyRootFilesystem"] = true
		}, `unknown field "containerDefinitions[0].readOnlyRootFilesystem" (keys are case-sensitive)`},
		{"unknown key", func(td map[string]any) { td["memoryLimit"] = "512" }, `unknown field "memoryLimit"`},
		{"writable root", func(td map[string]any) { app(td)["readonlyRootFilesystem"] = false }, "readonlyRootFilesystem must be true"},
		{"root user", func(td map[string]any) { app(td)["user"] = "0" }, `user "0" must be a numeric non-root uid`},
		{"privileged", func(td map[string]any) { app(td)["privileged"] = true }, "privileged must be explicitly false"},
		{"pid host", func(td map[string]any) { td["pidMode"] = "host" }, "pidMode/ipcMode must not be host"},
		{"bridge network", func(td map[string]any) { td["networkMode"] = "bridge" }, `networkMode "bridge", want awsvpc`},
		{"capabilities kept", func(td map[string]any) { delete(app(td), "linuxParameters") }, "capabilities must drop ALL"},
		{"no log config", func(td map[string]any) { delete(app(td), "logConfiguration") }, "awslogs driver (ECS.9)"},
		{"shell health check", func(td map[string]any) {
			app(td)["healthCheck"].(map[string]any)["command"] = []any{"CMD-SHELL", "curl -f http://localhost:8080/healthz"}
		}, "healthCheck.command must be"},
		{"secret in plain environment", func(td map[string]any) {
			app(td)["environment"] = append(app(td)["environment"].([]any), map[string]any{"name": "DB_PASSWORD", "value": "hunter2"})
		}, "DB_PASSWORD looks like a secret"},
		{"static AWS keys", func(td map[string]any) {
			app(td)["environment"] = append(app(td)["environment"].([]any), map[string]any{"name": "AWS_ACCESS_KEY_ID", "value": "AKIA"})
		}, "AWS_ACCESS_KEY_ID (ECS.8)"},
		{"secret from another account", func(td map[string]any) {
			app(td)["secrets"].([]any)[0].(map[string]any)["valueFrom"] = "arn:aws:secretsmanager:eu-west-1:444455556666:secret:sample-app/preprod/api-token-AbCdEf"
		}, "secret API_TOKEN comes from"},
		{"drain longer than the stop timeout", func(td map[string]any) { app(td)["stopTimeout"] = 20 }, "stopTimeout 20s differs from STOP_TIMEOUT"},
		{"invalid service config", func(td map[string]any) {
			app(td)["environment"].([]any)[1].(map[string]any)["value"] = "chatty"
		}, "LOG_LEVEL: must be one of"},
		{"host volume", func(td map[string]any) {
			td["volumes"].([]any)[0].(map[string]any)["host"] = map[string]any{"sourcePath": "/var/tmp"}
		}, `volume "tmp" must be task-scoped`},
		{"no tmp mount", func(td map[string]any) { delete(app(td), "mountPoints") }, "no writable /tmp mount"},
		{"missing tag", func(td map[string]any) { td["tags"] = td["tags"].([]any)[:1] }, "owner and cost-center"},
		{"wrong account role", func(td map[string]any) {
			td["taskRoleArn"] = "arn:aws:iam::444455556666:role/sample-app-preprod-task"
		}, "taskRoleArn"},
		{"over-sized container", func(td map[string]any) { app(td)["memory"] = 4096 }, "at most the task's 512 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var td map[string]any
			if err := json.Unmarshal([]byte(raw), &td); err != nil {
				t.Fatal(err)
			}
			tt.mutate(td)
			b, err := json.Marshal(td)
			if err != nil {
				t.Fatal(err)
			}
			problems := checkTaskDef(b, targets[0], facts)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Fatalf("problems %q lack %q", problems, tt.want)
			}
		})
	}
}

// TestEnvironmentsFileAgrees cross-checks the values fargate.yaml (the pipeline's view of this
// service) shares with the code and files here. It reads plain "key: value" lines only.
func TestEnvironmentsFileAgrees(t *testing.T) {
	text := readFile(t, "fargate.yaml")
	values := func(key string) []string {
		re := regexp.MustCompile(`(?m)^\s*` + key + `:\s*([^\s#]+)`)
		var out []string
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			out = append(out, m[1])
		}
		if len(out) == 0 {
			t.Errorf("fargate.yaml has no %s", key)
		}
		return out
	}
	for _, v := range values("port") {
		if v != strconv.Itoa(config.DefaultPort) {
			t.Errorf("fargate.yaml port %s, service listens on %d", v, config.DefaultPort)
		}
	}
	for _, v := range values("healthPath") {
		if v != healthcheck.Path {
			t.Errorf("fargate.yaml healthPath %s, service serves %s", v, healthcheck.Path)
		}
	}
	for _, v := range values("container") {
		if v != "app" {
			t.Errorf("fargate.yaml container %s, task definitions name it app", v)
		}
	}
	for _, key := range []string{"taskDefinition", "dockerfile", "ignoreFile"} {
		for _, v := range values(key) {
			if _, err := os.Stat(v); err != nil {
				t.Errorf("fargate.yaml %s %s: %v", key, v, err)
			}
		}
	}
}

// ---- Trivy ignore file ---------------------------------------------------------------------

var trivySections = []string{"vulnerabilities", "misconfigurations", "secrets", "licenses"}

// checkTrivyIgnore validates the subset of YAML the ignore file may use: the four top-level
// lists, each empty ([]) or a list of entries of "key: value" lines and nested lists
// (paths, purls). Every entry needs an id, a statement and an expired_at date.
func checkTrivyIgnore(text string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var entries []map[string]string
	section := ""
	for i, raw := range strings.Split(text, "\n") {
		n := i + 1
		line := strings.TrimRight(raw, " \t\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		body := strings.TrimSpace(line)
		if indent == 0 {
			key, val, ok := strings.Cut(body, ":")
			if !ok || !slices.Contains(trivySections, key) {
				bad("line %d: top-level key %q, want one of %v", n, key, trivySections)
				continue
			}
			if v := strings.TrimSpace(val); v != "" && v != "[]" {
				bad("line %d: %s must be a list", n, key)
			}
			section = key
			continue
		}
		if section == "" {
			bad("line %d: entry outside a section", n)
			continue
		}
		if rest, ok := strings.CutPrefix(body, "- "); ok && strings.Contains(rest, ":") {
			entries = append(entries, map[string]string{"_line": strconv.Itoa(n), "_section": section})
			body = rest
		} else if strings.HasPrefix(body, "- ") {
			continue // an item of a nested list (paths, purls)
		}
		if len(entries) == 0 {
			bad("line %d: expected a list entry starting with '- id:'", n)
			continue
		}
		key, val, _ := strings.Cut(body, ":")
		entries[len(entries)-1][strings.TrimSpace(key)] = strings.Trim(strings.TrimSpace(val), `"'`)
	}
	for _, e := range entries {
		where := e["_section"] + " entry at line " + e["_line"]
		if e["id"] == "" {
			bad("%s: id is required", where)
		}
		if len(e["statement"]) < 10 {
			bad("%s (%s): statement is required: say why the finding is accepted", where, e["id"])
		}
		if _, err := time.Parse(time.DateOnly, e["expired_at"]); err != nil {
			bad("%s (%s): expired_at must be a date YYYY-MM-DD, got %q", where, e["id"], e["expired_at"])
		}
	}
	return problems
}

func TestTrivyIgnoreFile(t *testing.T) {
	for _, p := range checkTrivyIgnore(readFile(t, ".trivyignore.yaml")) {
		t.Error(p)
	}
}

func TestCheckTrivyIgnore(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"valid entry", "vulnerabilities:\n  - id: CVE-2026-1234\n    paths:\n      - app\n    statement: Not reachable from our code; see TICKET-1.\n    expired_at: 2027-01-31\n", ""},
		{"empty lists", "vulnerabilities: []\nsecrets: []\n", ""},
		{"no statement", "vulnerabilities:\n  - id: CVE-2026-1234\n    expired_at: 2027-01-31\n", "statement is required"},
		{"no expiry", "vulnerabilities:\n  - id: CVE-2026-1234\n    statement: Not reachable from our code.\n", "expired_at must be a date"},
		{"bad expiry", "misconfigurations:\n  - id: AVD-DS-0002\n    statement: Checked by the policy gate instead.\n    expired_at: next year\n", `got "next year"`},
		{"unknown section", "vulns:\n  - id: CVE-1\n", `top-level key "vulns"`},
		{"missing id", "secrets:\n  - statement: Test fixture, not a real key.\n    expired_at: 2027-01-31\n", "id is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := checkTrivyIgnore(tt.text)
			if tt.want == "" {
				if len(problems) > 0 {
					t.Fatalf("unexpected problems %q", problems)
				}
				return
			}
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Fatalf("problems %q lack %q", problems, tt.want)
			}
		})
	}
}
