package chain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"dagger/fargate/pipeline/awsconf"
	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/ecs"
	"dagger/fargate/pipeline/internal/clock"
	"dagger/fargate/pipeline/report"
	"dagger/fargate/pipeline/scan"
	"dagger/fargate/pipeline/taskdef"
)

// Session is one call of a module function: where its files come from, its container steps,
// its credentials and its settings.
type Session struct {
	// Invalid is why the function's own inputs could not be read (a secret, a flag). Every
	// function fails with it before reading the environments file (LoadConfig); Deploy and
	// Rollback report it as bad input, with the report.
	Invalid error
	// ConfigPath is the environments file's path in the source directory.
	ConfigPath string
	// ReadFile reads a file of the source directory by its path there.
	ReadFile func(ctx context.Context, path string) ([]byte, error)
	// Steps does the container work.
	Steps Steps
	// Environment is the module's --environment (given before the function name): the
	// environment every function acts on, the spelling Dagger 1.0, whose own global --env
	// flag selects a Dagger workspace environment, leaves to the module. A function's --env
	// and it must agree (see ChooseEnvironment).
	Environment string
	// Credentials are the AWS credentials the function was given (zero when none).
	Credentials Credentials
	// SourceRoleARN is the role that reads the environment a promotion promotes from, when
	// it is another account: assumed like Credentials.RoleARN, with the same keys or token
	// (empty: the credentials of the target).
	SourceRoleARN string
	// Endpoint sends every AWS call to an AWS-compatible endpoint (LocalStack); Region
	// overrides each environment's region.
	Endpoint string
	Region   string
	// GitRevision of the source, CommitTime its commit time (zero: unknown), SourceURL of its
	// repository.
	GitRevision string
	CommitTime  time.Time
	SourceURL   string
	// BuilderImage and RuntimeImage override the Dockerfile's base images (BUILDER_IMAGE and
	// RUNTIME_IMAGE build arguments); empty keeps the Dockerfile's.
	BuilderImage, RuntimeImage string
	// Keys says which signing material the function was given.
	Keys Keys
	// Trivy are the Trivy settings of every scan (DB repository, skip DB update).
	Trivy scan.TrivyOptions
	// Log receives progress lines as they happen (the module's standard error).
	Log io.Writer
	// Now is the clock of reports, tags and image tags; nil is time.Now.
	Now func() time.Time
	// ECS tunes the deploy engine (tests set its clock and polling); Log is set per run.
	ECS ecs.Options
	// TuneAWS, when set, adjusts every AWS configuration before it is loaded (tests point
	// the SDK at the wire-level fakes with it).
	TuneAWS func(*awsconf.Options)
}

// FieldError names the flag a value was read from; nil stays nil.
func FieldError(flag string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", flag, err)
}

// Credentials are AWS credentials as read from the function's secrets and flags: static keys,
// optionally a role to assume with them (RoleARN, ExternalID, RoleSessionName), or a role
// assumed with an OIDC token (WebIdentityToken). Secrets are never logged or put in an error
// or a report.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	RoleARN, ExternalID, RoleSessionName       string
	WebIdentityToken                           string
}

// Keys says which cosign material a function was given (the values stay in the module).
type Keys struct {
	PrivateKey, Password, PublicKey, OIDCToken bool
}

// temporary says whether AWS calls sign with temporary credentials (a session token).
func (c Credentials) temporary() bool { return c.SessionToken != "" || c.RoleARN != "" }

func (s *Session) now() time.Time {
	switch {
	case s.Now != nil:
		return s.Now().UTC()
	case s.ECS.Clock != nil:
		return s.ECS.Clock.Now().UTC()
	}
	return time.Now().UTC()
}

// sleep waits on the session's clock (the engine's clock in tests).
func (s *Session) sleep(ctx context.Context, d time.Duration) error {
	if s.ECS.Clock != nil {
		return s.ECS.Clock.Sleep(ctx, d)
	}
	return clock.Sleep(ctx, d)
}

func (s *Session) log() io.Writer {
	if s.Log == nil {
		return io.Discard
	}
	return s.Log
}

// LoadConfig reads and validates the environments file.
func (s *Session) LoadConfig(ctx context.Context) (*config.File, error) {
	if s.Invalid != nil {
		return nil, s.Invalid
	}
	data, err := s.ReadFile(ctx, s.ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("read environments file %s from the source directory: %w", s.ConfigPath, err)
	}
	return config.Parse(s.ConfigPath, data)
}

// envDefault is the environment a function acts on when it is given none.
type envDefault int

const (
	// needEnv: the function needs an environment (deploy, status, ...).
	needEnv envDefault = iota
	// buildEnv: the first AWS environment that builds its image (scan, publish, sign, verify).
	buildEnv
	// localEnv: the local environment (serve).
	localEnv
)

// ChooseEnvironment resolves the environment of a function from its --env and the module's
// --environment: exactly one of them, or both naming the same environment. Neither gives "".
func ChooseEnvironment(env, environment string) (string, error) {
	env, environment = strings.TrimSpace(env), strings.TrimSpace(environment)
	if env != "" && environment != "" && env != environment {
		return "", fmt.Errorf("--env %q and --environment %q name different environments: give one of them (Dagger 1.0: --environment, before the function name)", env, environment)
	}
	return orDefault(env, environment), nil
}

// chooseEnvironment returns the environment of the file a function acts on (see
// ChooseEnvironment), or def's when it is given none.
func (s *Session) chooseEnvironment(f *config.File, env string, def envDefault) (config.Environment, error) {
	name, err := ChooseEnvironment(env, s.Environment)
	if err != nil {
		return config.Environment{}, err
	}
	if name == "" {
		switch def {
		case buildEnv:
			name = f.DefaultBuildEnvironment()
		case localEnv:
			name = config.EnvLocal
		}
	}
	return f.Environment(name)
}

// LoadEnvironment loads the file and one of its environments.
func (s *Session) LoadEnvironment(ctx context.Context, env string) (*config.File, config.Environment, error) {
	return s.loadEnvironment(ctx, env, needEnv)
}

func (s *Session) loadEnvironment(ctx context.Context, env string, def envDefault) (*config.File, config.Environment, error) {
	f, err := s.LoadConfig(ctx)
	if err != nil {
		return nil, config.Environment{}, err
	}
	e, err := s.chooseEnvironment(f, env, def)
	if err != nil {
		return nil, config.Environment{}, err
	}
	return f, e, nil
}

// LoadAWSEnvironment loads an environment that runs on AWS (not local).
func (s *Session) LoadAWSEnvironment(ctx context.Context, env string) (*config.File, config.Environment, error) {
	return s.loadAWSEnvironment(ctx, env, needEnv)
}

func (s *Session) loadAWSEnvironment(ctx context.Context, env string, def envDefault) (*config.File, config.Environment, error) {
	f, e, err := s.loadEnvironment(ctx, env, def)
	if err != nil {
		return nil, config.Environment{}, err
	}
	if e.IsLocal() {
		var names []string
		for _, n := range f.EnvironmentNames() {
			if n != config.EnvLocal {
				names = append(names, n)
			}
		}
		return nil, config.Environment{}, fmt.Errorf("--env local runs without AWS; this function needs an AWS environment (%s)", strings.Join(names, ", "))
	}
	return f, e, nil
}

// ReadSource reads a file named relative to the environments file.
func (s *Session) ReadSource(ctx context.Context, rel string) ([]byte, error) {
	p := config.Resolve(s.ConfigPath, rel)
	data, err := s.ReadFile(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return data, nil
}

// SourcePath is rel, written in the environments file, as a path in the source directory.
func (s *Session) SourcePath(rel string) string { return config.Resolve(s.ConfigPath, rel) }

// TaskDefinition parses an environment's task definition file.
func (s *Session) TaskDefinition(ctx context.Context, e config.Environment) (*taskdef.Definition, error) {
	data, err := s.ReadSource(ctx, e.TaskDefinition)
	if err != nil {
		return nil, err
	}
	return taskdef.Parse(s.SourcePath(e.TaskDefinition), data)
}

// AWSConfig is the AWS configuration for a region (or the --aws-region override).
func (s *Session) AWSConfig(ctx context.Context, region string) (aws.Config, error) {
	return s.awsConfig(ctx, s.Credentials, region)
}

func (s *Session) awsConfig(ctx context.Context, c Credentials, region string) (aws.Config, error) {
	opts := awsconf.Options{
		Region:           orDefault(s.Region, region),
		Endpoint:         s.Endpoint,
		AccessKeyID:      strings.TrimSpace(c.AccessKeyID),
		SecretAccessKey:  strings.TrimSpace(c.SecretAccessKey),
		SessionToken:     strings.TrimSpace(c.SessionToken),
		RoleARN:          strings.TrimSpace(c.RoleARN),
		ExternalID:       strings.TrimSpace(c.ExternalID),
		RoleSessionName:  orDefault(strings.TrimSpace(c.RoleSessionName), "fargate-"+s.now().Format("20060102T150405Z")),
		WebIdentityToken: strings.TrimSpace(c.WebIdentityToken),
	}
	if opts.RoleARN == "" && (opts.ExternalID != "" || opts.WebIdentityToken != "") {
		return aws.Config{}, errors.New("--aws-external-id and --aws-web-identity-token need the role to assume: pass --aws-role-arn arn:aws:iam::ACCOUNT:role/NAME before the function name")
	}
	if opts.AccessKeyID == "" && opts.WebIdentityToken == "" {
		if s.Endpoint == "" {
			return aws.Config{}, errors.New("AWS credentials are required: pass --aws-access-key-id env:AWS_ACCESS_KEY_ID --aws-secret-access-key env:AWS_SECRET_ACCESS_KEY (and --aws-session-token env:AWS_SESSION_TOKEN for temporary credentials, --aws-role-arn to assume a role with them), or --aws-role-arn with --aws-web-identity-token env:AWS_WEB_IDENTITY_TOKEN, before the function name")
		}
		// An endpoint override (LocalStack and similar) accepts any credentials.
		opts.AccessKeyID, opts.SecretAccessKey = "test", "test"
	}
	if s.TuneAWS != nil {
		s.TuneAWS(&opts)
	}
	return awsconf.Load(ctx, opts)
}

// engine is the deploy engine, logging into the run's report.
func (s *Session) engine(cfg aws.Config, log io.Writer) *ecs.Engine {
	o := s.ECS
	o.Log = log
	return ecs.New(cfg, o)
}

// expectedAccount is the account the credentials must belong to: the environment's, or none
// with an endpoint override (LocalStack-style fakes answer with their own account).
func (s *Session) expectedAccount(r *report.Recorder, e config.Environment) string {
	if e.AccountID != "" && s.Endpoint != "" {
		r.Logf("account check skipped: AWS calls go to %s, not to account %s", s.Endpoint, e.AccountID)
		return ""
	}
	return e.AccountID
}

// checkAccount verifies the credentials' account when the environment names one, and
// returns the account the engine checks again before it changes anything. The check is the
// "account" phase (none when there is no account to check), failed on a wrong account.
func (s *Session) checkAccount(ctx context.Context, r *report.Recorder, engine *ecs.Engine, e config.Environment) (string, error) {
	account := s.expectedAccount(r, e)
	if account == "" {
		return "", nil
	}
	ctx, end := r.Phase(ctx, "account")
	err := engine.VerifyAccount(ctx, account)
	end(err)
	if err != nil {
		return "", err
	}
	r.Logf("account: credentials belong to %s", account)
	return account, nil
}

func (s *Session) recorder(env string) *report.Recorder {
	r := report.NewRecorder(env, s.log(), s.Now)
	r.Revision = s.GitRevision
	return r
}

// SplitList splits a comma-separated flag value into its trimmed, non-empty items.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
