package config

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultFileName is the environments file's name in a service's directory.
const DefaultFileName = "fargate.yaml"

// DefaultWaitTimeout is how long a rollout may take when the environment does not say.
const DefaultWaitTimeout = 15 * time.Minute

var (
	regionPattern     = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$`)
	accountPattern    = regexp.MustCompile(`^[0-9]{12}$`)
	namePattern       = regexp.MustCompile(EnvironmentNamePattern) // a DNS label: the app's name and the environments'
	repositoryPattern = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	ecsNamePattern    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	stackPattern      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)
	rulePattern       = regexp.MustCompile(`^FG-[A-Z]+-[0-9]{3}$`)
	subnetPattern     = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	sgPattern         = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)
	tagCharset        = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

var (
	knownPlatforms  = []string{"linux/amd64", "linux/arm64"}
	knownSeverities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}
	knownThresholds = []string{"critical", "high", "medium", "low"}
	knownSignModes  = []string{SignKey, SignKMS, SignKeyless}
)

// Problem is one thing wrong with an environments file.
type Problem struct {
	Line  int    // 1-based; 0 when unknown
	Field string // dotted path, e.g. environments.prod.region
	Msg   string // what is wrong and what was expected
}

// Error is every problem found in one file, in line order.
type Error struct {
	Path     string
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		loc := e.Path
		if p.Line > 0 {
			loc = fmt.Sprintf("%s:%d", e.Path, p.Line)
		}
		if p.Field != "" {
			lines = append(lines, fmt.Sprintf("%s: %s: %s", loc, p.Field, p.Msg))
		} else {
			lines = append(lines, fmt.Sprintf("%s: %s", loc, p.Msg))
		}
	}
	return "invalid environments file:\n  " + strings.Join(lines, "\n  ")
}

// Load reads and validates the environments file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read environments file: %w", err)
	}
	return Parse(path, data)
}

// Parse validates the environments file content; path only names it in errors.
func Parse(path string, data []byte) (*File, error) {
	v := &validator{path: path, lines: map[string]int{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{Path: path, Problems: []Problem{{Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}}
	}
	if len(doc.Content) == 0 {
		return nil, &Error{Path: path, Problems: []Problem{{Msg: "the file is empty (expected app, registry and environments)"}}}
	}
	root := doc.Content[0]
	v.walk(root, reflect.TypeOf(File{}), "")
	if len(v.problems) > 0 {
		return nil, v.err()
	}
	var f File
	if err := root.Decode(&f); err != nil {
		v.decodeError(err)
		return nil, v.err()
	}
	f.Path = path
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "environments" {
			f.EnvironmentsLine = root.Content[i].Line
		}
	}
	v.check(&f)
	if len(v.problems) > 0 {
		return nil, v.err()
	}
	return &f, nil
}

type validator struct {
	path     string
	lines    map[string]int // field path → line
	problems []Problem
}

func (v *validator) add(field, format string, args ...any) {
	v.problems = append(v.problems, Problem{Line: v.lines[field], Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error {
	sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].Line < v.problems[j].Line })
	return &Error{Path: v.path, Problems: v.problems}
}

// walk checks the keys of node against the yaml tags of t, recording each field's line.
func (v *validator) walk(node *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if path != "" {
		v.lines[path] = node.Line
	}
	if node.Kind == yaml.AliasNode {
		node = node.Alias
	}
	switch {
	case t.Kind() == reflect.Struct && !isScalarType(t):
		if !v.kindIs(node, yaml.MappingNode, path, "a mapping of keys to values") {
			return
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = t.Field(i).Type
			names = append(names, tag)
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(node.Content); i += 2 {
			key, val := node.Content[i], node.Content[i+1]
			child := join(path, key.Value)
			ft, ok := fields[key.Value]
			if !ok {
				v.problems = append(v.problems, Problem{Line: key.Line, Field: child,
					Msg: fmt.Sprintf("unknown key %q (expected one of: %s)", key.Value, strings.Join(names, ", "))})
				continue
			}
			if seen[key.Value] {
				v.problems = append(v.problems, Problem{Line: key.Line, Field: child, Msg: "key given twice"})
			}
			seen[key.Value] = true
			v.walk(val, ft, child)
		}
	case t.Kind() == reflect.Map:
		if !v.kindIs(node, yaml.MappingNode, path, "a mapping") {
			return
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			v.lines[join(path, node.Content[i].Value)] = node.Content[i].Line
			v.walk(node.Content[i+1], t.Elem(), join(path, node.Content[i].Value))
		}
	case t.Kind() == reflect.Slice:
		if !v.kindIs(node, yaml.SequenceNode, path, "a list") {
			return
		}
		for i, item := range node.Content {
			v.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		if node.Kind != yaml.ScalarNode {
			v.problems = append(v.problems, Problem{Line: node.Line, Field: orRoot(path), Msg: "expected a single value, got " + describe(node)})
		}
	}
}

// kindIs reports whether node is of the kind its field expects (what names that kind in the
// problem it records otherwise). A null is an empty value: no problem, nothing to walk.
func (v *validator) kindIs(node *yaml.Node, kind yaml.Kind, path, what string) bool {
	if node.Kind == kind {
		return true
	}
	if node.Tag != "!!null" {
		v.problems = append(v.problems, Problem{Line: node.Line, Field: orRoot(path), Msg: "expected " + what + ", got " + describe(node)})
	}
	return false
}

func isScalarType(t reflect.Type) bool {
	return t == reflect.TypeOf(Duration{}) || t == reflect.TypeOf(Date{})
}

// decodeError turns yaml type errors ("line 7: cannot unmarshal !!str `x` into int") into
// problems that name the field at that line.
func (v *validator) decodeError(err error) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		v.problems = append(v.problems, Problem{Msg: err.Error()})
		return
	}
	byLine := map[int]string{}
	for field, line := range v.lines {
		if cur, ok := byLine[line]; !ok || len(field) > len(cur) {
			byLine[line] = field
		}
	}
	for _, msg := range te.Errors {
		line := 0
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			n, tail, _ := strings.Cut(rest, ": ")
			line, _ = strconv.Atoi(n)
			msg = tail
		}
		msg = strings.Replace(msg, "cannot unmarshal", "cannot read", 1)
		msg = strings.Replace(msg, "!!str", "text", 1)
		msg = strings.Replace(msg, "!!int", "number", 1)
		msg = strings.Replace(msg, "!!bool", "boolean", 1)
		msg = strings.Replace(msg, "into int", "as a whole number", 1)
		msg = strings.Replace(msg, "into bool", "as true or false", 1)
		msg = strings.Replace(msg, "into float64", "as a number", 1)
		v.problems = append(v.problems, Problem{Line: line, Field: byLine[line], Msg: msg})
	}
}

func (v *validator) check(f *File) {
	// app
	if f.App.Name == "" {
		v.add("app.name", "required (the service name, e.g. checkout-api)")
	} else if !namePattern.MatchString(f.App.Name) {
		v.add("app.name", "%q is not a valid name (expected lowercase letters, digits and dashes, at most 63)", f.App.Name)
	}
	if f.App.Context == "" {
		f.App.Context = "."
	}
	v.relPath("app.context", f.App.Context)
	if f.App.Dockerfile == "" {
		f.App.Dockerfile = "Dockerfile"
	}
	v.relPath("app.dockerfile", f.App.Dockerfile)
	if len(f.App.Platforms) == 0 {
		f.App.Platforms = []string{"linux/amd64"}
	}
	for i, p := range f.App.Platforms {
		if !slices.Contains(knownPlatforms, p) {
			v.add(fmt.Sprintf("app.platforms[%d]", i), "unknown platform %q (expected one of: %s)", p, strings.Join(knownPlatforms, ", "))
		}
	}
	if f.App.Port == 0 {
		f.App.Port = 8080
	} else if f.App.Port < 1 || f.App.Port > 65535 {
		v.add("app.port", "%d is not a TCP port (expected 1-65535)", f.App.Port)
	}
	if f.App.HealthPath == "" {
		f.App.HealthPath = "/healthz"
	} else if !strings.HasPrefix(f.App.HealthPath, "/") {
		v.add("app.healthPath", "%q must start with / (e.g. /healthz)", f.App.HealthPath)
	}
	for k := range f.App.BuildArgs {
		if !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(k) {
			v.add("app.buildArgs."+k, "%q is not a valid build argument name (expected letters, digits and underscores)", k)
		}
	}

	// registry
	switch {
	case f.Registry.Repository == "":
		v.add("registry.repository", "required (the ECR repository name, e.g. %s)", orDefault(f.App.Name, "my-service"))
	case len(f.Registry.Repository) < 2 || len(f.Registry.Repository) > 256 || !repositoryPattern.MatchString(f.Registry.Repository):
		v.add("registry.repository", "%q is not a valid ECR repository name (expected lowercase letters, digits, and . _ - / separators, 2-256 characters)", f.Registry.Repository)
	}
	if f.Registry.KeepImages == 0 {
		f.Registry.KeepImages = 50
	} else if f.Registry.KeepImages < 1 || f.Registry.KeepImages > 1000 {
		v.add("registry.keepImages", "%d is out of range (expected 1-1000)", f.Registry.KeepImages)
	}

	// signing
	if f.Signing.Mode == "" {
		f.Signing.Mode = SignKey
	}
	switch f.Signing.Mode {
	case SignKey:
		if f.Signing.PublicKey != "" {
			v.relPath("signing.publicKey", f.Signing.PublicKey)
		}
	case SignKMS:
		if !strings.HasPrefix(f.Signing.KMSKey, "awskms:///") || len(f.Signing.KMSKey) <= len("awskms:///") {
			v.add("signing.kmsKey", "%q is not a cosign AWS KMS URI (expected awskms:///alias/NAME or awskms:///arn:aws:kms:...)", f.Signing.KMSKey)
		}
	case SignKeyless:
		if f.Signing.Private {
			v.add("signing.private", "keyless signatures are always recorded in the transparency log (expected false, or mode key or kms)")
		}
		if f.Signing.CertificateIdentity == "" {
			v.add("signing.certificateIdentity", "required for keyless signing (e.g. https://github.com/ORG/REPO/.github/workflows/deploy.yml@refs/heads/main)")
		}
		if u, err := url.Parse(f.Signing.CertificateOIDCIssuer); err != nil || u.Scheme != "https" || u.Host == "" {
			v.add("signing.certificateOidcIssuer", "%q is not an https issuer URL (expected e.g. https://token.actions.githubusercontent.com)", f.Signing.CertificateOIDCIssuer)
		}
	default:
		v.add("signing.mode", "unknown signing mode %q (expected one of: %s)", f.Signing.Mode, strings.Join(knownSignModes, ", "))
	}

	v.scan("scan", &f.Scan)

	// policy
	if f.Policy.Threshold == "" {
		f.Policy.Threshold = "high"
	}
	f.Policy.Threshold = strings.ToLower(f.Policy.Threshold)
	if !slices.Contains(knownThresholds, f.Policy.Threshold) {
		v.add("policy.threshold", "unknown severity %q (expected one of: %s)", f.Policy.Threshold, strings.Join(knownThresholds, ", "))
	}
	for i, s := range f.Policy.Suppressions {
		p := fmt.Sprintf("policy.suppressions[%d]", i)
		if !rulePattern.MatchString(s.Rule) {
			v.add(p+".rule", "%q is not a rule ID (expected e.g. FG-TD-005)", s.Rule)
		}
		if s.Resource == "" {
			v.add(p+".resource", "required (the resource the finding names, or * for all)")
		}
		if strings.TrimSpace(s.Reason) == "" {
			v.add(p+".reason", "required (why this finding is accepted)")
		}
		if s.Expires.IsZero() {
			v.add(p+".expires", "required (a date, YYYY-MM-DD, after which the suppression stops)")
		}
	}

	for i, pol := range f.Policy.IAMPolicies {
		p := fmt.Sprintf("policy.iamPolicies[%d]", i)
		if pol.File == "" {
			v.add(p+".file", "required (an IAM policy document JSON file)")
		} else {
			v.relPath(p+".file", pol.File)
		}
		switch pol.Role {
		case "task", "execution", "trust", "other":
		case "":
			f.Policy.IAMPolicies[i].Role = "other"
		default:
			v.add(p+".role", "unknown role %q (expected task, execution, trust or other)", pol.Role)
		}
	}

	// environments
	if len(f.Environments) == 0 {
		v.add("environments", "required: at least one environment, e.g. %s (no AWS) and an AWS one", EnvLocal)
	}
	names := slices.Sorted(maps.Keys(f.Environments))
	for _, name := range names {
		env := f.Environments[name]
		env.Name = name
		p := "environments." + name
		if !namePattern.MatchString(name) {
			v.add(p, "%q is not an environment name (expected a DNS label: lowercase letters, digits and dashes, starting and ending with a letter or digit, at most 63; %s)", name, EnvironmentNamePattern)
			continue
		}
		v.environment(f, p, &env)
		f.Environments[name] = env
	}
	v.promotionChains(f)
}

func (v *validator) environment(f *File, p string, env *Environment) {
	if env.TaskDefinition == "" {
		v.add(p+".taskDefinition", "required (the task definition JSON file, relative to %s)", v.path)
	} else {
		v.relPath(p+".taskDefinition", env.TaskDefinition)
	}
	if env.Container == "" {
		v.add(p+".container", "required (the name of the container whose image the pipeline sets)")
	} else if !ecsNamePattern.MatchString(env.Container) {
		v.add(p+".container", "%q is not a valid container name (expected letters, digits, - and _)", env.Container)
	}
	if env.WaitTimeout.Duration == 0 {
		env.WaitTimeout.Duration = DefaultWaitTimeout
	} else if env.WaitTimeout.Duration < 30*time.Second || env.WaitTimeout.Duration > 3*time.Hour {
		v.add(p+".waitTimeout", "%s is out of range (expected between 30s and 3h)", env.WaitTimeout.Duration)
	}
	if env.RollbackWaitTimeout.Duration == 0 {
		env.RollbackWaitTimeout.Duration = env.WaitTimeout.Duration
	} else if env.RollbackWaitTimeout.Duration < 30*time.Second || env.RollbackWaitTimeout.Duration > 3*time.Hour {
		v.add(p+".rollbackTimeout", "%s is out of range (expected between 30s and 3h)", env.RollbackWaitTimeout.Duration)
	}
	v.preDeploy(p, env)
	if env.Scan != nil {
		v.scan(p+".scan", env.Scan)
	}
	for k, val := range env.Tags {
		if k == "" || len(k) > 128 || strings.HasPrefix(strings.ToLower(k), "aws:") || !tagCharset.MatchString(k) {
			v.add(p+".tags."+k, "%q is not a valid tag key (expected 1-128 letters, digits, spaces and _.:/=+-@, not starting with aws:)", k)
		}
		if len(val) > 256 || !tagCharset.MatchString(val) {
			v.add(p+".tags."+k, "the value is not a valid tag value (expected at most 256 letters, digits, spaces and _.:/=+-@)")
		}
	}
	if env.IsLocal() {
		if env.Production {
			v.add(p+".production", "the local environment runs without AWS and cannot be production (expected false)")
		}
		v.localDelivery(p, env)
		for field, val := range map[string]string{"region": env.Region, "accountId": env.AccountID, "cluster": env.Cluster, "service": env.Service, "promoteFrom": env.PromoteFrom} {
			if val != "" {
				v.add(p+"."+field, "not used by the local environment (it runs without AWS); remove it")
			}
		}
		return
	}
	if env.Region == "" {
		v.add(p+".region", "required (an AWS region, e.g. eu-west-1)")
	} else if !regionPattern.MatchString(env.Region) {
		v.add(p+".region", "%q is not an AWS region (expected e.g. eu-west-1)", env.Region)
	}
	if env.AccountID != "" && !accountPattern.MatchString(env.AccountID) {
		v.add(p+".accountId", "%q is not an AWS account ID (expected 12 digits, quoted)", env.AccountID)
	}
	if env.Cluster == "" {
		v.add(p+".cluster", "required (the ECS cluster name)")
	} else if !ecsNamePattern.MatchString(env.Cluster) {
		v.add(p+".cluster", "%q is not a valid ECS cluster name (expected letters, digits, - and _)", env.Cluster)
	}
	if env.Service == "" {
		v.add(p+".service", "required (the ECS service name)")
	} else if !ecsNamePattern.MatchString(env.Service) {
		v.add(p+".service", "%q is not a valid ECS service name (expected letters, digits, - and _)", env.Service)
	}
	if env.ExecEnabled && env.Production {
		v.add(p+".execEnabled", "ECS Exec must stay off in a production environment (expected false)")
	}
	if env.Network != nil {
		for i, s := range env.Network.Subnets {
			if !subnetPattern.MatchString(s) {
				v.add(fmt.Sprintf("%s.network.subnets[%d]", p, i), "%q is not a subnet ID (expected subnet-0123456789abcdef0)", s)
			}
		}
		for i, s := range env.Network.SecurityGroups {
			if !sgPattern.MatchString(s) {
				v.add(fmt.Sprintf("%s.network.securityGroups[%d]", p, i), "%q is not a security group ID (expected sg-0123456789abcdef0)", s)
			}
		}
	}
	v.delivery(p, env)
	if env.Infra != nil {
		if env.Infra.Template == "" {
			v.add(p+".infra.template", "required (the CloudFormation template, relative to %s)", v.path)
		} else {
			v.relPath(p+".infra.template", env.Infra.Template)
		}
		if !stackPattern.MatchString(env.Infra.StackName) {
			v.add(p+".infra.stackName", "%q is not a CloudFormation stack name (expected a letter, then letters, digits and dashes, at most 128)", env.Infra.StackName)
		}
	}
}

// promotionChains checks every promoteFrom: a defined, non-local environment other than
// itself, and no cycle of any length.
func (v *validator) promotionChains(f *File) {
	defined := strings.Join(f.EnvironmentNames(), ", ")
	reported := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(f.Environments)) {
		env := f.Environments[name]
		if env.PromoteFrom == "" {
			continue
		}
		p := "environments." + name + ".promoteFrom"
		src, ok := f.Environments[env.PromoteFrom]
		switch {
		case env.PromoteFrom == name:
			v.add(p, "an environment cannot promote from itself")
			continue
		case !ok:
			v.add(p, "environment %q is not defined (expected one of: %s)", env.PromoteFrom, defined)
			continue
		case src.IsLocal():
			v.add(p, "cannot promote from the local environment (its images never reach ECR); expected an AWS environment")
			continue
		}
		// Follow the chain from name; coming back to name is a cycle through it.
		path := []string{name}
		for n := env.PromoteFrom; n != "" && !slices.Contains(path, n); n = f.Environments[n].PromoteFrom {
			path = append(path, n)
			if f.Environments[n].PromoteFrom == name {
				// Report each cycle once, at its first member by name.
				if first := slices.Min(path); !reported[first] {
					for _, m := range path {
						reported[m] = true
					}
					cycle := append(slices.Clone(path), name)
					v.add(p, "promotion cycle: %s (each promotes from the next; expected a chain that starts at an environment that builds its image)", strings.Join(cycle, " ← "))
				}
				break
			}
		}
	}
}

func (v *validator) scan(p string, s *Scan) {
	if len(s.FailOn) == 0 {
		s.FailOn = []string{"CRITICAL", "HIGH"}
	}
	for i, sev := range s.FailOn {
		up := strings.ToUpper(sev)
		if !slices.Contains(knownSeverities, up) {
			v.add(fmt.Sprintf("%s.failOn[%d]", p, i), "unknown severity %q (expected one of: %s)", sev, strings.Join(knownSeverities, ", "))
			continue
		}
		s.FailOn[i] = up
	}
	if s.IgnoreFile != "" {
		v.relPath(p+".ignoreFile", s.IgnoreFile)
	}
}

// relPath requires a path inside the service directory: relative, without "..".
func (v *validator) relPath(field, p string) {
	if strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "/../") {
		v.add(field, "%q must be a relative path inside the service directory", p)
	}
}

// Duration is a Go duration written as text, e.g. 15m or 1h30m.
type Duration struct{ time.Duration }

// UnmarshalYAML parses a duration such as 90s, 15m or 1h.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	parsed, err := time.ParseDuration(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration (expected e.g. 90s, 15m, 1h)", n.Line, n.Value)}}
	}
	d.Duration = parsed
	return nil
}

// Date is a calendar day written YYYY-MM-DD.
type Date struct{ time.Time }

// UnmarshalYAML parses YYYY-MM-DD.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	parsed, err := time.Parse(time.DateOnly, n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a date (expected YYYY-MM-DD)", n.Line, n.Value)}}
	}
	d.Time = parsed
	return nil
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(p string) string {
	if p == "" {
		return "(top level)"
	}
	return p
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
