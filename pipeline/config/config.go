// Package config loads the environments file (fargate.yaml): the app to build, the ECR
// repository, signing and scanning policy, and each environment the pipeline deploys to.
// Loading is strict: an unknown key, a missing required field, an unknown environment name,
// or a malformed region, account ID, duration or severity is an error that names the file,
// the line, the field and what was expected.
package config

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"time"
)

// EnvLocal is the name of the environment that runs without AWS (`--env local`): a registry
// and the app run as Dagger services. Every other environment is an AWS one, named as its
// team likes (dev, staging, qa, prod-eu, ...); what it is (production, approval, promotion)
// is said by its properties, never by its name.
const EnvLocal = "local"

// EnvironmentNamePattern is what an environment's name must match: a DNS label (lowercase
// letters, digits and dashes, starting and ending with a letter or digit, at most 63).
const EnvironmentNamePattern = `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`

// File is a loaded, validated environments file.
type File struct {
	// Path is where the file was read from (for error messages and relative paths).
	Path string `yaml:"-"`

	App          App                    `yaml:"app"`
	Registry     Registry               `yaml:"registry"`
	Signing      Signing                `yaml:"signing"`
	Scan         Scan                   `yaml:"scan"`
	Policy       Policy                 `yaml:"policy"`
	Environments map[string]Environment `yaml:"environments"`
	// EnvironmentsLine is the line of the environments key (0: unknown), for errors naming
	// an environment the file does not define.
	EnvironmentsLine int `yaml:"-"`
}

// App describes the image to build.
type App struct {
	// Name is the service name, a DNS label (lowercase letters, digits, dashes).
	Name string `yaml:"name"`
	// Context is the build context, relative to the environments file. Default ".".
	Context string `yaml:"context"`
	// Dockerfile is relative to the build context. Default "Dockerfile".
	Dockerfile string `yaml:"dockerfile"`
	// Platforms to build: linux/amd64 and/or linux/arm64. Default [linux/amd64].
	Platforms []string `yaml:"platforms"`
	// Port the container listens on. Default 8080.
	Port int `yaml:"port"`
	// HealthPath is the HTTP liveness path. Default /healthz.
	HealthPath string `yaml:"healthPath"`
	// BuildArgs are passed to the Docker build (base image overrides for mirrors, ...).
	BuildArgs map[string]string `yaml:"buildArgs"`
}

// Registry describes the ECR repository images are published to.
type Registry struct {
	// Repository is the ECR repository name.
	Repository string `yaml:"repository"`
	// KMSKey is the customer-managed KMS key (ARN, alias/NAME or key ID) that encrypts the
	// repository. Empty means AWS-managed encryption (reported as a low-severity finding).
	KMSKey string `yaml:"kmsKey"`
	// KeepImages is how many images the lifecycle policy keeps. Default 50.
	KeepImages int `yaml:"keepImages"`
}

// Signing modes.
const (
	SignKey     = "key"
	SignKMS     = "kms"
	SignKeyless = "keyless"
)

// Signing says how images are signed and which identity verification expects.
type Signing struct {
	// Mode is key, kms or keyless. Default key.
	Mode string `yaml:"mode"`
	// KMSKey is the cosign KMS URI, awskms:///alias/NAME or awskms:///arn:... (mode kms).
	KMSKey string `yaml:"kmsKey"`
	// PublicKey is the path of the cosign public key, relative to the file (mode key, optional:
	// the key pair given to the function is used otherwise).
	PublicKey string `yaml:"publicKey"`
	// CertificateIdentity and CertificateOIDCIssuer are what keyless verification expects.
	CertificateIdentity   string `yaml:"certificateIdentity"`
	CertificateOIDCIssuer string `yaml:"certificateOidcIssuer"`
	// Private keeps signatures out of the public transparency log (key and kms modes only):
	// for images whose names must not be published.
	Private bool `yaml:"private"`
}

// Scan is the vulnerability gate.
type Scan struct {
	// FailOn lists the severities that fail the gate. Default [CRITICAL, HIGH].
	FailOn []string `yaml:"failOn"`
	// IgnoreUnfixed ignores findings that have no fixed version yet.
	IgnoreUnfixed bool `yaml:"ignoreUnfixed"`
	// IgnoreFile is a .trivyignore(.yaml) file relative to the environments file; every entry
	// needs a reason and an expiry date.
	IgnoreFile string `yaml:"ignoreFile"`
}

// Policy configures the security rules.
type Policy struct {
	// Threshold is the lowest severity that fails check and deploy. Default high.
	Threshold string `yaml:"threshold"`
	// RequiredTags are tag keys every task definition, service and cluster must carry.
	RequiredTags []string `yaml:"requiredTags"`
	// Suppressions silence one rule on one resource, with a reason, until a date.
	Suppressions []Suppression `yaml:"suppressions"`
	// IAMPolicies are policy documents (JSON files, relative to the environments file) that
	// check evaluates: the task role's, the execution role's, the pipeline role's.
	IAMPolicies []IAMPolicy `yaml:"iamPolicies"`
}

// IAMPolicy is one IAM policy document file and the role it belongs to.
type IAMPolicy struct {
	File string `yaml:"file"`
	// Role is task, execution, trust (a role's trust policy), or other (any other role's
	// permissions, e.g. the pipeline's).
	Role string `yaml:"role"`
}

// Suppression silences one finding until it expires.
type Suppression struct {
	Rule     string `yaml:"rule"`
	Resource string `yaml:"resource"`
	Reason   string `yaml:"reason"`
	Expires  Date   `yaml:"expires"`
}

// Environment is one deployment target.
type Environment struct {
	// Name is the environment's key in the file.
	Name string `yaml:"-"`

	Region    string `yaml:"region"`
	AccountID string `yaml:"accountId"`
	Cluster   string `yaml:"cluster"`
	Service   string `yaml:"service"`
	// TaskDefinition is the task definition file, relative to the environments file.
	TaskDefinition string `yaml:"taskDefinition"`
	// Container is the container whose image the pipeline sets.
	Container string `yaml:"container"`
	// Production marks a production environment: the stricter policy rules apply (ECS Exec
	// off, alarms with a rolling update, termination protection of its stack).
	Production bool `yaml:"production"`
	// Approval requires a named approver to deploy.
	Approval bool `yaml:"approval"`
	// PromoteFrom names the environment whose running image this one deploys (no rebuild).
	PromoteFrom string `yaml:"promoteFrom"`
	// WaitTimeout bounds the wait for the rollout. Default 15m.
	WaitTimeout Duration `yaml:"waitTimeout"`
	// RollbackWaitTimeout (rollbackTimeout) bounds the wait for a rollback after a failed or
	// timed-out deploy, on its own clock: the deploy's wait may have used all of waitTimeout.
	// Default: the waitTimeout.
	RollbackWaitTimeout Duration `yaml:"rollbackTimeout"`
	// CircuitBreaker turns on ECS's deployment circuit breaker with rollback. Default true.
	CircuitBreaker *bool `yaml:"circuitBreaker"`
	// ExecEnabled says whether ECS Exec may be on (never in production).
	ExecEnabled bool `yaml:"execEnabled"`
	// Scan overrides the file-level scan gate for this environment.
	Scan *Scan `yaml:"scan"`
	// Tags are added to the registered task definition.
	Tags map[string]string `yaml:"tags"`
	// Network describes the service's network, for policy checks before deploy.
	Network *Network `yaml:"network"`
	// Infra is the CloudFormation stack of the environment's landing zone.
	Infra *Infra `yaml:"infra"`

	// Progressive delivery (see delivery.go): how ECS moves traffic to a new revision.
	// Strategy is rolling (default), blue-green, canary or linear.
	Strategy string `yaml:"strategy"`
	// BakeTime is how long ECS keeps the old revision after all production traffic has moved
	// (blue-green, canary, linear), watching the alarms, before it scales the old one in.
	BakeTime Duration `yaml:"bakeTime"`
	// Canary and Linear configure their strategies' traffic steps.
	Canary *Canary `yaml:"canary"`
	Linear *Linear `yaml:"linear"`
	// Alarms are CloudWatch alarms that fail the deployment (and roll it back) when any fires,
	// for every strategy, rolling included.
	Alarms *Alarms `yaml:"alarms"`
	// LoadBalancer is the blue/green wiring ECS needs to move traffic (every strategy but rolling).
	LoadBalancer *LoadBalancer `yaml:"loadBalancer"`
	// TestProbe checks the new revision through the test listener before production traffic
	// moves (blue-green only).
	TestProbe *TestProbe `yaml:"testProbe"`

	// PreDeploy is a one-off task run before the rollout (predeploy.go).
	PreDeploy *PreDeploy `yaml:"preDeploy"`
	// LogLines is how many of each failed task's last log lines the report quotes (default 20).
	LogLines int `yaml:"logLines"`
}

// Network is what the environments file says of the service's network.
type Network struct {
	Subnets        []string `yaml:"subnets"`
	SecurityGroups []string `yaml:"securityGroups"`
	AssignPublicIP bool     `yaml:"assignPublicIp"`
}

// Infra names the environment's CloudFormation stack.
type Infra struct {
	// Template is relative to the environments file.
	Template   string            `yaml:"template"`
	StackName  string            `yaml:"stackName"`
	Parameters map[string]string `yaml:"parameters"`
}

// IsLocal reports whether the environment runs without AWS (`--env local`).
func (e Environment) IsLocal() bool { return e.Name == EnvLocal }

// CircuitBreakerEnabled reports whether the deployment circuit breaker is on (default true).
func (e Environment) CircuitBreakerEnabled() bool {
	return e.CircuitBreaker == nil || *e.CircuitBreaker
}

// Timeout is the rollout wait timeout.
func (e Environment) Timeout() time.Duration { return e.WaitTimeout.Duration }

// RollbackTimeout is the wait timeout for a rollback: rollbackTimeout, or the rollout wait
// timeout when the file gives none.
func (e Environment) RollbackTimeout() time.Duration {
	if e.RollbackWaitTimeout.Duration > 0 {
		return e.RollbackWaitTimeout.Duration
	}
	return e.WaitTimeout.Duration
}

// ScanGate returns the environment's scan gate: its own, or the file's.
func (f *File) ScanGate(env Environment) Scan {
	if env.Scan != nil {
		return *env.Scan
	}
	return f.Scan
}

// Environment returns the named environment, or an error naming the file, the line of its
// environments key and the environments it defines.
func (f *File) Environment(name string) (Environment, error) {
	env, ok := f.Environments[name]
	if !ok {
		loc := f.Path
		if f.EnvironmentsLine > 0 {
			loc = fmt.Sprintf("%s:%d", f.Path, f.EnvironmentsLine)
		}
		what := fmt.Sprintf("environment %q is not defined", name)
		if name == "" {
			what = "no environment given"
		}
		return Environment{}, fmt.Errorf("%s: environments: %s (expected one of: %s)", loc, what, strings.Join(f.EnvironmentNames(), ", "))
	}
	return env, nil
}

// EnvironmentNames lists the defined environments in deployment order: an environment comes
// after the one it promotes from (by the length of its promotion chain), then by name.
func (f *File) EnvironmentNames() []string {
	return deploymentOrder(f.Environments)
}

// deploymentOrder sorts environments by the length of their promotion chain, then by name.
// A chain that does not end (a cycle, an unknown source) counts as its length so far.
func deploymentOrder(envs map[string]Environment) []string {
	depth := map[string]int{}
	for name := range envs {
		seen := map[string]bool{}
		for n := name; envs[n].PromoteFrom != "" && !seen[n]; n = envs[n].PromoteFrom {
			seen[n] = true
			depth[name]++
		}
	}
	names := slices.Collect(maps.Keys(envs))
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(depth[a], depth[b]), cmp.Compare(a, b))
	})
	return names
}

// DefaultBuildEnvironment is the environment functions that build or publish act on when
// none is given: the first AWS environment, in deployment order, that builds its image
// rather than promoting one ("" when there is none).
func (f *File) DefaultBuildEnvironment() string {
	for _, n := range f.EnvironmentNames() {
		if e := f.Environments[n]; !e.IsLocal() && e.PromoteFrom == "" {
			return n
		}
	}
	return ""
}

// Summary renders the file as a short human-readable table, one environment a line.
func (f *File) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: app %s, repository %s, platforms %s, signing %s\n",
		f.Path, f.App.Name, f.Registry.Repository, strings.Join(f.App.Platforms, ","), f.Signing.Mode)
	for _, name := range f.EnvironmentNames() {
		e := f.Environments[name]
		if e.IsLocal() {
			fmt.Fprintf(&b, "  %-8s local run (no AWS), task definition %s, container %s, timeout %s\n",
				name, e.TaskDefinition, e.Container, e.Timeout())
			continue
		}
		extra := []string{}
		if e.Production {
			extra = append(extra, "production")
		}
		if e.Approval {
			extra = append(extra, "approval required")
		}
		if e.PromoteFrom != "" {
			extra = append(extra, "promotes from "+e.PromoteFrom)
		}
		if !e.CircuitBreakerEnabled() {
			extra = append(extra, "circuit breaker OFF")
		}
		if st := e.StrategyOrDefault(); st != StrategyRolling {
			extra = append(extra, "strategy "+st)
		}
		if e.Alarms != nil {
			extra = append(extra, fmt.Sprintf("%d deployment alarm(s)", len(e.Alarms.Names)))
		}
		sort.Strings(extra)
		account := e.AccountID
		if account == "" {
			account = "(any account)"
		}
		fmt.Fprintf(&b, "  %-8s %s %s cluster %s service %s, task definition %s, container %s, timeout %s",
			name, e.Region, account, e.Cluster, e.Service, e.TaskDefinition, e.Container, e.Timeout())
		if len(extra) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(extra, "; "))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Resolve returns the path of rel, a path written in the environments file at configPath,
// relative to the directory the environments file is in: the form the Dagger module reads
// from its source directory.
func Resolve(configPath, rel string) string {
	return path.Join(path.Dir(configPath), rel)
}
