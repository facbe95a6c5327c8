package config

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

const (
	goodToken = "tok-0123456789abcdef"
	prevToken = "old-0123456789abcdef"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load(empty env): %v", err)
	}
	want := Config{
		Port: 8080, AppEnv: "local", LogLevel: slog.LevelInfo,
		ShutdownDrain: 5 * time.Second, ShutdownTimeout: 20 * time.Second, StopTimeout: 30 * time.Second,
		KVMaxEntries: 1000, KVMaxValueBytes: 4096,
	}
	if c != want {
		t.Fatalf("Load(empty env) = %+v, want %+v", c, want)
	}
}

func TestLoadValid(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{
			name: "ECS preprod settings",
			env: map[string]string{
				"PORT": "9090", "APP_ENV": "preprod", "LOG_LEVEL": "DEBUG", "API_TOKEN": goodToken,
				"API_TOKEN_PREVIOUS": prevToken, "SHUTDOWN_DRAIN": "10s", "SHUTDOWN_TIMEOUT": "15s",
				"STOP_TIMEOUT": "30s", "KV_MAX_ENTRIES": "5", "KV_MAX_VALUE_BYTES": "64",
			},
			check: func(t *testing.T, c Config) {
				want := Config{
					Port: 9090, AppEnv: "preprod", LogLevel: slog.LevelDebug, APIToken: goodToken,
					APITokenPrevious: prevToken, ShutdownDrain: 10 * time.Second, ShutdownTimeout: 15 * time.Second,
					StopTimeout: 30 * time.Second, KVMaxEntries: 5, KVMaxValueBytes: 64,
				}
				if c != want {
					t.Errorf("got %+v, want %+v", c, want)
				}
			},
		},
		{
			name:  "zero drain is allowed",
			env:   map[string]string{"SHUTDOWN_DRAIN": "0s"},
			check: func(t *testing.T, c Config) { assertEq(t, c.ShutdownDrain, time.Duration(0)) },
		},
		{
			name:  "warning spelled out",
			env:   map[string]string{"LOG_LEVEL": " warning "},
			check: func(t *testing.T, c Config) { assertEq(t, c.LogLevel, slog.LevelWarn) },
		},
		{
			name:  "error level",
			env:   map[string]string{"LOG_LEVEL": "error"},
			check: func(t *testing.T, c Config) { assertEq(t, c.LogLevel, slog.LevelError) },
		},
		{
			name:  "prod with token",
			env:   map[string]string{"APP_ENV": "prod", "API_TOKEN": goodToken},
			check: func(t *testing.T, c Config) { assertEq(t, c.AppEnv, "prod") },
		},
		{
			name:  "longer stop timeout makes room for a longer drain",
			env:   map[string]string{"SHUTDOWN_DRAIN": "40s", "SHUTDOWN_TIMEOUT": "30s", "STOP_TIMEOUT": "2m"},
			check: func(t *testing.T, c Config) { assertEq(t, c.ShutdownDrain, 40*time.Second) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // substrings of the error, each naming the variable and the expectation
	}{
		{"port not a number", map[string]string{"PORT": "http"}, []string{`PORT: must be a TCP port number between 1 and 65535, got "http"`}},
		{"port zero", map[string]string{"PORT": "0"}, []string{"PORT: must be a TCP port number"}},
		{"port too big", map[string]string{"PORT": "65536"}, []string{"PORT: must be a TCP port number"}},
		{"unknown app env", map[string]string{"APP_ENV": "staging"}, []string{`APP_ENV: must be one of local, preprod, prod, got "staging"`}},
		{"unknown log level", map[string]string{"LOG_LEVEL": "verbose"}, []string{`LOG_LEVEL: must be one of debug, info, warn, error, got "verbose"`}},
		{"token required in preprod", map[string]string{"APP_ENV": "preprod"}, []string{`API_TOKEN: required when APP_ENV is "preprod"`}},
		{"token required in prod", map[string]string{"APP_ENV": "prod"}, []string{`API_TOKEN: required when APP_ENV is "prod"`}},
		{"token too short", map[string]string{"API_TOKEN": "short"}, []string{"API_TOKEN: must be at least 16 characters long"}},
		{"token with trailing newline", map[string]string{"API_TOKEN": goodToken + "\n"}, []string{"API_TOKEN: must not contain whitespace"}},
		{"previous token too short", map[string]string{"API_TOKEN": goodToken, "API_TOKEN_PREVIOUS": "x"}, []string{"API_TOKEN_PREVIOUS: must be at least 16"}},
		{"previous token alone", map[string]string{"API_TOKEN_PREVIOUS": prevToken}, []string{"API_TOKEN_PREVIOUS: set without API_TOKEN"}},
		{"drain not a duration", map[string]string{"SHUTDOWN_DRAIN": "5"}, []string{`SHUTDOWN_DRAIN: must be a Go duration such as 5s or 1m30s, got "5"`}},
		{"negative drain", map[string]string{"SHUTDOWN_DRAIN": "-1s"}, []string{`SHUTDOWN_DRAIN: must be zero or positive, got "-1s"`}},
		{"zero shutdown timeout", map[string]string{"SHUTDOWN_TIMEOUT": "0s"}, []string{`SHUTDOWN_TIMEOUT: must be positive, got "0s"`}},
		{"zero stop timeout", map[string]string{"STOP_TIMEOUT": "0"}, []string{"STOP_TIMEOUT: must be positive"}},
		{
			"drain and shutdown exceed the stop timeout",
			map[string]string{"SHUTDOWN_DRAIN": "15s", "SHUTDOWN_TIMEOUT": "15s"},
			[]string{"SHUTDOWN_DRAIN (15s) + SHUTDOWN_TIMEOUT (15s) must be less than STOP_TIMEOUT (30s)"},
		},
		{"max entries zero", map[string]string{"KV_MAX_ENTRIES": "0"}, []string{`KV_MAX_ENTRIES: must be an integer between 1 and 1000000, got "0"`}},
		{"max value bytes huge", map[string]string{"KV_MAX_VALUE_BYTES": "2000000"}, []string{"KV_MAX_VALUE_BYTES: must be an integer between 1 and 1048576"}},
		{
			"every problem reported at once",
			map[string]string{"PORT": "x", "APP_ENV": "qa", "LOG_LEVEL": "loud"},
			[]string{"PORT:", "APP_ENV:", "LOG_LEVEL:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env))
			if err == nil {
				t.Fatalf("Load succeeded with %+v, want an error", c)
			}
			if c != (Config{}) {
				t.Errorf("Load returned a partial config %+v alongside the error", c)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestSecretsNeverAppearInErrorsOrLogs(t *testing.T) {
	secret := "s3cr3t-value-never-shown"
	// Invalid because of the newline: the error must still not echo the value.
	_, err := Load(env(map[string]string{"API_TOKEN": secret + "\n", "API_TOKEN_PREVIOUS": "tiny-" + secret[:3]}))
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "tiny-") {
		t.Fatalf("error leaks a secret: %q", err)
	}

	c, err := Load(env(map[string]string{"API_TOKEN": secret, "API_TOKEN_PREVIOUS": prevToken}))
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	for name, out := range map[string]string{
		"String": c.String(), "%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "slog": buf.String(),
	} {
		if strings.Contains(out, secret) || strings.Contains(out, prevToken) {
			t.Errorf("%s output leaks a token: %s", name, out)
		}
	}
	if !strings.Contains(buf.String(), `"apiTokenSet":true`) || !strings.Contains(c.String(), "APIToken:<redacted>") {
		t.Errorf("config output should say the token is set without showing it: %s / %s", buf.String(), c)
	}
}

func TestPort(t *testing.T) {
	tests := []struct {
		raw     string
		want    int
		wantErr bool
	}{
		{"", 8080, false},
		{" 8081 ", 8081, false},
		{"1", 1, false},
		{"65535", 65535, false},
		{"-1", 0, true},
		{"80a", 0, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.raw), func(t *testing.T) {
			got, err := Port(env(map[string]string{"PORT": tt.raw, "API_TOKEN": "short"}))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("Port(%q) = %d, %v; want %d, error %v", tt.raw, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func assertEq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}
