// Package config reads and validates the service's configuration from environment variables.
//
// Every problem is reported with the variable's name and what was expected; secret values are
// never echoed back in errors.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Environment variable names read by Load.
const (
	EnvPort            = "PORT"
	EnvAppEnv          = "APP_ENV"
	EnvLogLevel        = "LOG_LEVEL"
	EnvAPIToken        = "API_TOKEN"
	EnvAPITokenPrev    = "API_TOKEN_PREVIOUS"
	EnvShutdownDrain   = "SHUTDOWN_DRAIN"
	EnvShutdownTimeout = "SHUTDOWN_TIMEOUT"
	EnvStopTimeout     = "STOP_TIMEOUT"
	EnvKVMaxEntries    = "KV_MAX_ENTRIES"
	EnvKVMaxValueBytes = "KV_MAX_VALUE_BYTES"
)

// Defaults applied when a variable is unset or empty.
const (
	DefaultPort            = 8080
	DefaultAppEnv          = "local"
	DefaultShutdownDrain   = 5 * time.Second
	DefaultShutdownTimeout = 20 * time.Second
	// DefaultStopTimeout is ECS's default container stopTimeout: the time between SIGTERM and SIGKILL.
	DefaultStopTimeout     = 30 * time.Second
	DefaultKVMaxEntries    = 1000
	DefaultKVMaxValueBytes = 4096

	// MinTokenLength is the shortest API token accepted.
	MinTokenLength = 16
)

// appEnvs are the accepted APP_ENV values. Outside "local" an API token is mandatory.
var appEnvs = [...]string{"local", "preprod", "prod"}

// Config is the validated service configuration.
type Config struct {
	Port   int
	AppEnv string
	// LogLevel is the minimum level written to the JSON log.
	LogLevel slog.Level
	// APIToken is the bearer token for write endpoints; empty only when AppEnv is "local",
	// in which case writes are disabled.
	APIToken string
	// APITokenPrevious is also accepted while tokens are being rotated; may be empty.
	APITokenPrevious string
	// ShutdownDrain is how long /readyz reports "draining" after SIGTERM, while requests are
	// still served, so the load balancer stops routing new traffic before the listener closes.
	ShutdownDrain time.Duration
	// ShutdownTimeout bounds the wait for in-flight requests once the listener is closed.
	ShutdownTimeout time.Duration
	// StopTimeout is the container's stop timeout in ECS; drain plus shutdown must fit inside it.
	StopTimeout     time.Duration
	KVMaxEntries    int
	KVMaxValueBytes int
}

// String describes the configuration without secret values, so a Config is safe to log.
func (c Config) String() string {
	return fmt.Sprintf("Config{Port:%d AppEnv:%s LogLevel:%s APIToken:%s APITokenPrevious:%s ShutdownDrain:%s ShutdownTimeout:%s StopTimeout:%s KVMaxEntries:%d KVMaxValueBytes:%d}",
		c.Port, c.AppEnv, c.LogLevel, redact(c.APIToken), redact(c.APITokenPrevious),
		c.ShutdownDrain, c.ShutdownTimeout, c.StopTimeout, c.KVMaxEntries, c.KVMaxValueBytes)
}

// LogValue implements slog.LogValuer so logging a Config never prints its secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("port", c.Port),
		slog.String("appEnv", c.AppEnv),
		slog.String("logLevel", c.LogLevel.String()),
		slog.Bool("apiTokenSet", c.APIToken != ""),
		slog.Bool("apiTokenPreviousSet", c.APITokenPrevious != ""),
		slog.String("shutdownDrain", c.ShutdownDrain.String()),
		slog.String("shutdownTimeout", c.ShutdownTimeout.String()),
		slog.String("stopTimeout", c.StopTimeout.String()),
		slog.Int("kvMaxEntries", c.KVMaxEntries),
		slog.Int("kvMaxValueBytes", c.KVMaxValueBytes),
	)
}

func redact(s string) string {
	if s == "" {
		return "<unset>"
	}
	return "<redacted>"
}

// Load reads the configuration through getenv (os.Getenv in production) and validates it.
// All problems found are returned together, joined, each naming its variable.
func Load(getenv func(string) string) (Config, error) {
	c := Config{}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	var err error
	c.Port, err = Port(getenv)
	add(err)

	c.AppEnv = strings.TrimSpace(getenv(EnvAppEnv))
	if c.AppEnv == "" {
		c.AppEnv = DefaultAppEnv
	} else if !validAppEnv(c.AppEnv) {
		add(fmt.Errorf("%s: must be one of %s, got %q", EnvAppEnv, strings.Join(appEnvs[:], ", "), c.AppEnv))
	}

	c.LogLevel, err = parseLevel(getenv(EnvLogLevel))
	add(err)

	c.APIToken, err = token(EnvAPIToken, getenv(EnvAPIToken))
	add(err)
	if err == nil && c.APIToken == "" && c.AppEnv != "local" && validAppEnv(c.AppEnv) {
		add(fmt.Errorf("%s: required when %s is %q (it is injected from Secrets Manager in ECS)", EnvAPIToken, EnvAppEnv, c.AppEnv))
	}
	c.APITokenPrevious, err = token(EnvAPITokenPrev, getenv(EnvAPITokenPrev))
	add(err)
	if c.APITokenPrevious != "" && c.APIToken == "" {
		add(fmt.Errorf("%s: set without %s; the previous token is only accepted alongside a current one", EnvAPITokenPrev, EnvAPIToken))
	}

	c.ShutdownDrain, err = duration(getenv, EnvShutdownDrain, DefaultShutdownDrain, true)
	add(err)
	c.ShutdownTimeout, err = duration(getenv, EnvShutdownTimeout, DefaultShutdownTimeout, false)
	add(err)
	c.StopTimeout, err = duration(getenv, EnvStopTimeout, DefaultStopTimeout, false)
	add(err)
	if len(errs) == 0 && c.ShutdownDrain+c.ShutdownTimeout >= c.StopTimeout {
		add(fmt.Errorf("%s (%s) + %s (%s) must be less than %s (%s), or ECS kills the task before shutdown completes",
			EnvShutdownDrain, c.ShutdownDrain, EnvShutdownTimeout, c.ShutdownTimeout, EnvStopTimeout, c.StopTimeout))
	}

	c.KVMaxEntries, err = positiveInt(getenv, EnvKVMaxEntries, DefaultKVMaxEntries, 1_000_000)
	add(err)
	c.KVMaxValueBytes, err = positiveInt(getenv, EnvKVMaxValueBytes, DefaultKVMaxValueBytes, 1<<20)
	add(err)

	if len(errs) > 0 {
		return Config{}, fmt.Errorf("invalid configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// Port reads only PORT (default 8080). The -healthcheck probe uses it on its own, so a probe
// never fails because of an unrelated setting.
func Port(getenv func(string) string) (int, error) {
	raw := strings.TrimSpace(getenv(EnvPort))
	if raw == "" {
		return DefaultPort, nil
	}
	p, err := strconv.Atoi(raw)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("%s: must be a TCP port number between 1 and 65535, got %q", EnvPort, raw)
	}
	return p, nil
}

func validAppEnv(s string) bool {
	for _, e := range appEnvs {
		if s == e {
			return true
		}
	}
	return false
}

func parseLevel(raw string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%s: must be one of debug, info, warn, error, got %q", EnvLogLevel, raw)
}

// token validates a secret without ever including its value in the error.
func token(name, raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	if strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "", fmt.Errorf("%s: must not contain whitespace or control characters (check for a trailing newline in the stored secret)", name)
	}
	if len(raw) < MinTokenLength {
		return "", fmt.Errorf("%s: must be at least %d characters long", name, MinTokenLength)
	}
	return raw, nil
}

func duration(getenv func(string) string, name string, def time.Duration, zeroOK bool) (time.Duration, error) {
	raw := strings.TrimSpace(getenv(name))
	if raw == "" {
		return def, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		return 0, fmt.Errorf("%s: must be a Go duration such as 5s or 1m30s, got %q", name, raw)
	}
	if d < 0 || (d == 0 && !zeroOK) {
		want := "positive"
		if zeroOK {
			want = "zero or positive"
		}
		return 0, fmt.Errorf("%s: must be %s, got %q", name, want, raw)
	}
	return d, nil
}

func positiveInt(getenv func(string) string, name string, def, limit int) (int, error) {
	raw := strings.TrimSpace(getenv(name))
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > limit {
		return 0, fmt.Errorf("%s: must be an integer between 1 and %d, got %q", name, limit, raw)
	}
	return n, nil
}
