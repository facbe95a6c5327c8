package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"dagger/fargate/pipeline/redact"
)

// TaskDefinitionInput is one task definition to check: either a file (Path and Content, decoded
// with ParseTaskDefinition) or an already parsed definition (Definition, with its Tags), e.g.
// the definition the deploy engine rendered. Path, when set, is used for locations.
type TaskDefinitionInput struct {
	Path       string
	Content    []byte
	Definition *ecstypes.TaskDefinition
	Tags       []ecstypes.Tag
}

// FromRegisterInput adapts the SDK's registration input, so the exact definition the deploy
// engine is about to register can be checked.
func FromRegisterInput(in *ecs.RegisterTaskDefinitionInput) TaskDefinitionInput {
	td := &ecstypes.TaskDefinition{
		ContainerDefinitions:          in.ContainerDefinitions,
		Family:                        in.Family,
		Cpu:                           in.Cpu,
		Memory:                        in.Memory,
		EnableFaultInjection:          in.EnableFaultInjection,
		EphemeralStorage:              in.EphemeralStorage,
		ExecutionRoleArn:              in.ExecutionRoleArn,
		InferenceAccelerators:         in.InferenceAccelerators,
		IpcMode:                       in.IpcMode,
		NetworkMode:                   in.NetworkMode,
		PidMode:                       in.PidMode,
		PlacementConstraints:          in.PlacementConstraints,
		ProxyConfiguration:            in.ProxyConfiguration,
		RequiresCompatibilities:       in.RequiresCompatibilities,
		RuntimePlatform:               in.RuntimePlatform,
		TaskRoleArn:                   in.TaskRoleArn,
		TrustedExecutionConfiguration: in.TrustedExecutionConfiguration,
		Volumes:                       in.Volumes,
	}
	return TaskDefinitionInput{Definition: td, Tags: in.Tags}
}

// describeOnlyKeys are fields of describe-task-definition output that carry no security
// meaning and whose shapes (timestamps) vary between the CLI and the API.
var describeOnlyKeys = []string{"registeredAt", "deregisteredAt", "deleteRequestedAt", "registeredBy"}

// ParseTaskDefinition decodes a task definition file: the output of `aws ecs
// describe-task-definition` ({"taskDefinition": {...}, "tags": [...]}), a bare task
// definition, or a RegisterTaskDefinition input (--cli-input-json shape). Unknown fields and
// wrongly typed values are errors naming the field; so is a definition with no containers.
func ParseTaskDefinition(content []byte) (*ecstypes.TaskDefinition, []ecstypes.Tag, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(content, &top); err != nil {
		return nil, nil, fmt.Errorf("decode task definition JSON: %w", err)
	}
	if top == nil {
		return nil, nil, fmt.Errorf("decode task definition JSON: expected an object, got null")
	}
	var tags []ecstypes.Tag
	if raw, ok := top["tags"]; ok {
		if err := decodeStrict(raw, &tags); err != nil {
			return nil, nil, fmt.Errorf("decode task definition field \"tags\": %w", err)
		}
		delete(top, "tags")
	}
	if raw, ok := top["taskDefinition"]; ok {
		if len(top) != 1 {
			for k := range top {
				if k != "taskDefinition" {
					return nil, nil, fmt.Errorf("decode task definition: unexpected field %q next to \"taskDefinition\"", k)
				}
			}
		}
		top = nil
		if err := json.Unmarshal(raw, &top); err != nil || top == nil {
			return nil, nil, fmt.Errorf("decode task definition field \"taskDefinition\": expected an object")
		}
		if rawTags, ok := top["tags"]; ok && tags == nil {
			if err := decodeStrict(rawTags, &tags); err != nil {
				return nil, nil, fmt.Errorf("decode task definition field \"tags\": %w", err)
			}
		}
		delete(top, "tags")
	}
	for _, k := range describeOnlyKeys {
		delete(top, k)
	}
	body, err := json.Marshal(top)
	if err != nil {
		return nil, nil, fmt.Errorf("decode task definition: %w", err)
	}
	var td ecstypes.TaskDefinition
	if err := decodeStrict(body, &td); err != nil {
		return nil, nil, fmt.Errorf("decode task definition: %w", err)
	}
	if len(td.ContainerDefinitions) == 0 {
		return nil, nil, fmt.Errorf("decode task definition: field \"containerDefinitions\" is missing or empty")
	}
	for i, c := range td.ContainerDefinitions {
		if aws.ToString(c.Name) == "" {
			return nil, nil, fmt.Errorf("decode task definition: containerDefinitions[%d].name is missing", i)
		}
	}
	return &td, tags, nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fmt.Errorf("field %q: expected %s, got a JSON %s", jsonFieldPath(te.Field), te.Type, te.Value)
		}
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}

// taskDefView is a task definition under evaluation.
type taskDefView struct {
	td           *ecstypes.TaskDefinition
	tags         []ecstypes.Tag
	requiredTags []string
	resource     string         // "task-definition/<family>"
	content      []byte         // file content for line numbers; nil for parsed inputs
	lines        map[string]int // memoized line lookups by pattern
}

func (v *taskDefView) containerResource(c ecstypes.ContainerDefinition) string {
	return v.resource + "/container/" + aws.ToString(c.Name)
}

// containerLine is the line of the container's "name" in the file, or 0.
func (v *taskDefView) containerLine(c ecstypes.ContainerDefinition) int {
	return v.line(`"name"\s*:\s*` + regexp.QuoteMeta(jsonString(aws.ToString(c.Name))))
}

func (v *taskDefView) line(pattern string) int {
	if len(v.content) == 0 {
		return 0
	}
	if n, ok := v.lines[pattern]; ok {
		return n
	}
	if v.lines == nil {
		v.lines = map[string]int{}
	}
	n := lineOfPattern(v.content, pattern)
	v.lines[pattern] = n
	return n
}

// keyLine is the line of the first occurrence of a JSON key in the file, or 0.
func (v *taskDefView) keyLine(key string) int {
	return v.line(regexp.QuoteMeta(jsonString(key)) + `\s*:`)
}

// jsonFieldPath turns the decoder's Go field path ("ContainerDefinitions.ReadonlyRootFilesystem")
// into the JSON spelling users write ("containerDefinitions.readonlyRootFilesystem").
func jsonFieldPath(goPath string) string {
	parts := strings.Split(goPath, ".")
	for i, p := range parts {
		if p != "" && !strings.ContainsAny(p[:1], "abcdefghijklmnopqrstuvwxyz") {
			parts[i] = strings.ToLower(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, ".")
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func lineOfPattern(content []byte, pattern string) int {
	if len(content) == 0 {
		return 0
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return 0
	}
	loc := re.FindIndex(content)
	if loc == nil {
		return 0
	}
	return bytes.Count(content[:loc[0]], []byte("\n")) + 1
}

// containerHit reports a violation of one container.
func (v *taskDefView) containerHit(c ecstypes.ContainerDefinition, format string, args ...any) hit {
	return hit{resource: v.containerResource(c), message: fmt.Sprintf("container %q: ", aws.ToString(c.Name)) + fmt.Sprintf(format, args...), line: v.containerLine(c)}
}

func eachContainer(v *taskDefView, f func(c ecstypes.ContainerDefinition) *hit) []hit {
	var out []hit
	for _, c := range v.td.ContainerDefinitions {
		if h := f(c); h != nil {
			out = append(out, *h)
		}
	}
	return out
}

func ptrHit(h hit) *hit { return &h }

func checkAwsvpc(v *taskDefView) []hit {
	if v.td.NetworkMode == ecstypes.NetworkModeAwsvpc {
		return nil
	}
	mode := string(v.td.NetworkMode)
	if mode == "" {
		mode = "unset (bridge on EC2)"
	}
	return []hit{{message: fmt.Sprintf("networkMode is %s, expected awsvpc", mode), line: v.keyLine("networkMode")}}
}

func checkFargate(v *taskDefView) []hit {
	for _, c := range v.td.RequiresCompatibilities {
		if c == ecstypes.CompatibilityFargate {
			return nil
		}
	}
	return []hit{{message: "requiresCompatibilities does not include FARGATE", line: v.keyLine("requiresCompatibilities")}}
}

// rootUser reports whether a container or image user runs as root: absent, "root" or UID 0,
// comparing the part before ":".
func rootUser(user string) bool {
	u, _, _ := strings.Cut(strings.TrimSpace(user), ":")
	u = strings.TrimSpace(u)
	if u == "" || u == "root" {
		return true
	}
	trimmed := strings.TrimLeft(u, "0")
	return trimmed == "" // "0", "00"
}

func checkNonRoot(v *taskDefView) []hit {
	return eachContainer(v, func(c ecstypes.ContainerDefinition) *hit {
		if c.User == nil {
			return ptrHit(v.containerHit(c, "user is not set, so it runs as the image's user (root unless the image says otherwise)"))
		}
		if rootUser(*c.User) {
			return ptrHit(v.containerHit(c, "user %q is root", *c.User))
		}
		return nil
	})
}

func checkReadOnlyRoot(v *taskDefView) []hit {
	return eachContainer(v, func(c ecstypes.ContainerDefinition) *hit {
		if c.ReadonlyRootFilesystem == nil {
			return ptrHit(v.containerHit(c, "readonlyRootFilesystem is not set (AWS treats absent as false)"))
		}
		if !*c.ReadonlyRootFilesystem {
			return ptrHit(v.containerHit(c, "readonlyRootFilesystem is false"))
		}
		return nil
	})
}

func checkPrivileged(v *taskDefView) []hit {
	return eachContainer(v, func(c ecstypes.ContainerDefinition) *hit {
		if aws.ToBool(c.Privileged) {
			return ptrHit(v.containerHit(c, "privileged is true"))
		}
		return nil
	})
}

func capabilities(c ecstypes.ContainerDefinition) *ecstypes.KernelCapabilities {
	if c.LinuxParameters == nil || c.LinuxParameters.Capabilities == nil {
		return &ecstypes.KernelCapabilities{}
	}
	return c.LinuxParameters.Capabilities
}

func normCap(s string) string {
	return strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "CAP_")
}

func checkDropAll(v *taskDefView) []hit {
	return eachContainer(v, func(c ecstypes.ContainerDefinition) *hit {
		for _, d := range capabilities(c).Drop {
			if normCap(d) == "ALL" {
				return nil
			}
		}
		return ptrHit(v.containerHit(c, "linuxParameters.capabilities.drop does not contain ALL"))
	})
}

// dangerousCapabilities are the capabilities whose addition this rule rejects.
var dangerousCapabilities = map[string]bool{
	"ALL": true, "SYS_ADMIN": true, "NET_ADMIN": true, "SYS_PTRACE": true, "SYS_MODULE": true,
	"DAC_READ_SEARCH": true, "NET_RAW": true, "SYS_RAWIO": true, "SYS_BOOT": true, "SYS_TIME": true,
	"MAC_ADMIN": true, "MAC_OVERRIDE": true, "BPF": true, "PERFMON": true, "SYSLOG": true,
	"DAC_OVERRIDE": true, "SETFCAP": true, "LINUX_IMMUTABLE": true, "AUDIT_CONTROL": true, "SYS_CHROOT": true,
}

func checkDangerousCaps(v *taskDefView) []hit {
	var out []hit
	for _, c := range v.td.ContainerDefinitions {
		for _, a := range capabilities(c).Add {
			if dangerousCapabilities[normCap(a)] {
				out = append(out, v.containerHit(c, "adds capability %s", normCap(a)))
			}
		}
	}
	return out
}

func checkHostPID(v *taskDefView) []hit {
	if v.td.PidMode == ecstypes.PidModeHost {
		return []hit{{message: `pidMode is "host"`, line: v.keyLine("pidMode")}}
	}
	return nil
}

func checkHostIPC(v *taskDefView) []hit {
	if v.td.IpcMode == ecstypes.IpcModeHost {
		return []hit{{message: `ipcMode is "host"`, line: v.keyLine("ipcMode")}}
	}
	return nil
}

func checkTaskSize(v *taskDefView) []hit {
	var missing []string
	if strings.TrimSpace(aws.ToString(v.td.Cpu)) == "" {
		missing = append(missing, "cpu")
	}
	if strings.TrimSpace(aws.ToString(v.td.Memory)) == "" {
		missing = append(missing, "memory")
	}
	if len(missing) == 0 {
		return nil
	}
	return []hit{{message: "task-level " + strings.Join(missing, " and ") + " not set"}}
}

func checkContainerMemory(v *taskDefView) []hit {
	return eachContainer(v, func(c ecstypes.ContainerDefinition) *hit {
		if c.Memory == nil || *c.Memory <= 0 {
			return ptrHit(v.containerHit(c, "memory (hard limit) is not set"))
		}
		return nil
	})
}

func checkLogging(v *taskDefView) []hit {
	return eachContainer(v, func(c ecstypes.ContainerDefinition) *hit {
		if c.LogConfiguration == nil {
			return ptrHit(v.containerHit(c, "logConfiguration is not set"))
		}
		if c.LogConfiguration.LogDriver == "" {
			return ptrHit(v.containerHit(c, "logConfiguration has no logDriver"))
		}
		return nil
	})
}

func checkECS8Env(v *taskDefView) []hit {
	var out []hit
	for _, c := range v.td.ContainerDefinitions {
		for _, kv := range c.Environment {
			if redact.AWSCredentialVariable(aws.ToString(kv.Name)) {
				out = append(out, v.containerHit(c, "environment variable %s carries AWS credentials in plain text", aws.ToString(kv.Name)))
			}
		}
	}
	return out
}

func checkSecretEnv(v *taskDefView) []hit {
	var out []hit
	for _, c := range v.td.ContainerDefinitions {
		for _, kv := range c.Environment {
			name := aws.ToString(kv.Name)
			if redact.AWSCredentialVariable(name) {
				continue // FG-TD-013
			}
			if why := redact.SecretReason(name, aws.ToString(kv.Value)); why != "" {
				// Never echo the value: only the variable name and the reason.
				out = append(out, v.containerHit(c, "environment variable %s %s", name, why))
			}
		}
	}
	return out
}

var (
	secretsManagerARN = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+(:[^:]*:[^:]*:[^:]*)?$`)
	ssmParameterARN   = regexp.MustCompile(`^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/[A-Za-z0-9/_.-]+$`)
	ssmParameterName  = regexp.MustCompile(`^/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`)
)

// validSecretRef reports whether valueFrom names a Secrets Manager secret or an SSM parameter.
func validSecretRef(ref string) bool {
	return secretsManagerARN.MatchString(ref) || ssmParameterARN.MatchString(ref) || ssmParameterName.MatchString(ref)
}

func checkSecretRefs(v *taskDefView) []hit {
	var out []hit
	for _, c := range v.td.ContainerDefinitions {
		refs := append([]ecstypes.Secret(nil), c.Secrets...)
		if c.LogConfiguration != nil {
			refs = append(refs, c.LogConfiguration.SecretOptions...)
		}
		for _, s := range refs {
			if !validSecretRef(aws.ToString(s.ValueFrom)) {
				out = append(out, v.containerHit(c, "secret %s: valueFrom is not a Secrets Manager or SSM Parameter Store reference", aws.ToString(s.Name)))
			}
		}
	}
	return out
}

// SecretARNs returns every secrets[].valueFrom of a task definition (the resources its
// execution role may read).
func SecretARNs(td *ecstypes.TaskDefinition) []string {
	var out []string
	for _, c := range td.ContainerDefinitions {
		for _, s := range c.Secrets {
			out = append(out, aws.ToString(s.ValueFrom))
		}
		if c.LogConfiguration != nil {
			for _, s := range c.LogConfiguration.SecretOptions {
				out = append(out, aws.ToString(s.ValueFrom))
			}
		}
	}
	return out
}

func checkRoles(v *taskDefView) []hit {
	task, exec := aws.ToString(v.td.TaskRoleArn), aws.ToString(v.td.ExecutionRoleArn)
	switch {
	case task == "" && exec == "":
		return []hit{{message: "taskRoleArn and executionRoleArn are not set"}}
	case task == "":
		return []hit{{message: "taskRoleArn is not set"}}
	case exec == "":
		return []hit{{message: "executionRoleArn is not set"}}
	case task == exec:
		return []hit{{message: "taskRoleArn and executionRoleArn are the same role", line: v.keyLine("taskRoleArn")}}
	}
	return nil
}

func checkEFSTransit(v *taskDefView) []hit {
	var out []hit
	for _, vol := range v.td.Volumes {
		if vol.EfsVolumeConfiguration == nil {
			continue
		}
		if vol.EfsVolumeConfiguration.TransitEncryption != ecstypes.EFSTransitEncryptionEnabled {
			out = append(out, hit{message: fmt.Sprintf("EFS volume %q: transitEncryption is not ENABLED", aws.ToString(vol.Name)),
				line: v.line(`"name"\s*:\s*` + regexp.QuoteMeta(jsonString(aws.ToString(vol.Name))))})
		}
	}
	return out
}

func checkHealthCheck(v *taskDefView) []hit {
	return eachContainer(v, func(c ecstypes.ContainerDefinition) *hit {
		essential := c.Essential == nil || *c.Essential // ECS defaults essential to true
		if !essential {
			return nil
		}
		if c.HealthCheck == nil || len(c.HealthCheck.Command) == 0 || strings.EqualFold(c.HealthCheck.Command[0], "NONE") {
			return ptrHit(v.containerHit(c, "essential container has no healthCheck"))
		}
		return nil
	})
}

func checkTaskDefTags(v *taskDefView) []hit {
	return missingTags(v.requiredTags, v.tags, "task definition")
}

func missingTags(required []string, tags []ecstypes.Tag, what string) []hit {
	if len(required) == 0 {
		return nil
	}
	have := map[string]bool{}
	for _, t := range tags {
		have[aws.ToString(t.Key)] = true
	}
	var missing []string
	for _, k := range required {
		if !have[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return []hit{{message: fmt.Sprintf("%s is missing required tags: %s", what, strings.Join(missing, ", "))}}
}
