package dockerfile

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStagesAndArgs(t *testing.T) {
	src := "# syntax=docker/dockerfile:1\n" +
		"# escape=\\\n" +
		"ARG REGISTRY=docker.io\n" +
		"ARG GO=${REGISTRY}/library/golang:1.26@sha256:aaaa\n" +
		"ARG UNSET\n" +
		"\n" +
		"FROM --platform=$BUILDPLATFORM $GO AS Build\n" +
		"# comment\n" +
		"RUN apt-get update && \\\n" +
		"    # a comment inside the continuation\n" +
		"\n" +
		"    apt-get install -y git\n" +
		"FROM ${UNSET:-alpine:3.20} as runtime\n" +
		"env A=1 B=\"two words\"\n" +
		"ENV LEGACY some value\n" +
		"COPY <<EOF /etc/conf\n" +
		"USER root\n" +
		"EOF\n" +
		"USER 1000\n"
	f, err := Parse([]byte(src))
	require.NoError(t, err)
	require.Len(t, f.MetaArgs, 3)
	require.Len(t, f.Stages, 2)

	b := f.Stages[0]
	assert.Equal(t, "docker.io/library/golang:1.26@sha256:aaaa", b.Image)
	assert.Equal(t, "$GO", b.RawImage)
	assert.Equal(t, "build", b.Name)
	assert.Equal(t, "$BUILDPLATFORM", b.Platform)
	assert.Equal(t, 7, b.Line)
	assert.Equal(t, -1, b.Base)
	require.Len(t, b.Commands, 1)
	run, ok := b.Commands[0].(*instructions.RunCommand)
	require.True(t, ok)
	assert.Equal(t, 9, Line(run))
	assert.Equal(t, []string{"apt-get update &&     apt-get install -y git"}, run.CmdLine)

	r := f.Stages[1]
	assert.Equal(t, "alpine:3.20", r.Image)
	assert.Equal(t, "runtime", r.Name)
	var names []string
	for _, c := range r.Commands {
		names = append(names, strings.ToLower(c.Name()))
	}
	// The heredoc body ("USER root") belongs to COPY, not a USER instruction.
	assert.Equal(t, []string{"env", "env", "copy", "user"}, names)
	assert.Equal(t, 19, Line(r.Commands[3]))
	env := r.Commands[0].(*instructions.EnvCommand).Env
	require.Len(t, env, 2)
	assert.Equal(t, "two words", f.Literal(env[1].Value))
	assert.Equal(t, "some value", f.Literal(r.Commands[1].(*instructions.EnvCommand).Env[0].Value))
	user, line, set, err := f.User(1)
	require.NoError(t, err)
	assert.Equal(t, "1000", user)
	assert.Equal(t, 19, line)
	assert.True(t, set)
}

// The cases a home-made parser tends to miss, each resolved as BuildKit resolves it.
func TestBuildKitSemantics(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		stage    int
		wantUser string
		wantLine int
		wantSet  bool
		check    func(t *testing.T, f *File)
	}{
		{
			name:  "heredoc RUN: its body is the script, not instructions",
			src:   "FROM alpine AS b\nRUN <<EOF\nset -e\nUSER root\nEOF\nUSER 10001\n",
			stage: 0, wantUser: "10001", wantLine: 6, wantSet: true,
			check: func(t *testing.T, f *File) {
				run := f.Stages[0].Commands[0].(*instructions.RunCommand)
				require.Len(t, run.Files, 1)
				assert.Equal(t, "set -e\nUSER root\n", run.Files[0].Data)
			},
		},
		{
			name:  "USER set through a stage ARG",
			src:   "FROM alpine\nARG UID=10001\nARG GID=${UID}\nUSER ${UID}:$GID\n",
			stage: 0, wantUser: "10001:10001", wantLine: 4, wantSet: true,
		},
		{
			name:  "USER from a global ARG re-declared in the stage",
			src:   "ARG APP_UID=4242\nFROM alpine\nARG APP_UID\nUSER $APP_UID\n",
			stage: 0, wantUser: "4242", wantLine: 4, wantSet: true,
		},
		{
			name:  "a global ARG is out of scope in a stage that does not re-declare it",
			src:   "ARG APP_UID=4242\nFROM alpine\nUSER ${APP_UID:-0}\n",
			stage: 0, wantUser: "0", wantLine: 3, wantSet: true,
		},
		{
			name:  "ENV set after an ARG of the same name wins",
			src:   "FROM alpine\nARG U=1\nENV U=0\nUSER $U\n",
			stage: 0, wantUser: "0", wantLine: 4, wantSet: true,
		},
		{
			name:  "a stage that re-uses an earlier stage inherits its USER and variables",
			src:   "FROM alpine AS base\nARG UID=1234\nUSER $UID\nFROM base AS app\nRUN true\nFROM base\nUSER $UID:$UID\n",
			stage: 1, wantUser: "1234", wantLine: 3, wantSet: true,
			check: func(t *testing.T, f *File) {
				assert.Equal(t, 0, f.Stages[1].Base)
				assert.Equal(t, 0, f.Stages[2].Base)
				u, _, _, err := f.User(2)
				require.NoError(t, err)
				assert.Equal(t, "1234:1234", u)
			},
		},
		{
			name:  "FROM naming a stage through a global ARG",
			src:   "ARG BASE=runtime-default\nFROM alpine AS runtime-default\nUSER 7\nFROM ${BASE}\nRUN true\n",
			stage: 1, wantUser: "7", wantLine: 3, wantSet: true,
			check: func(t *testing.T, f *File) { assert.Equal(t, 0, f.Stages[1].Base) },
		},
		{
			name:  "a later stage of the same name is not a base (only earlier stages are)",
			src:   "FROM app\nFROM alpine AS app\nUSER 1\n",
			stage: 0, wantUser: "", wantLine: 1, wantSet: false,
			check: func(t *testing.T, f *File) { assert.Equal(t, -1, f.Stages[0].Base) },
		},
		{
			name:  "ONBUILD USER of the parent stage runs in the child, not in the parent",
			src:   "FROM alpine AS base\nUSER 1000\nONBUILD USER root\nFROM base\nRUN true\n",
			stage: 1, wantUser: "root", wantLine: 4, wantSet: true,
			check: func(t *testing.T, f *File) {
				u, _, _, err := f.User(0)
				require.NoError(t, err)
				assert.Equal(t, "1000", u)
			},
		},
		{
			name:  "escape directive: backtick continuations, backslashes are literal",
			src:   "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN dir `\n  c:\\\nUSER ContainerUser\n",
			stage: 0, wantUser: "ContainerUser", wantLine: 5, wantSet: true,
			check: func(t *testing.T, f *File) {
				run := f.Stages[0].Commands[0].(*instructions.RunCommand)
				assert.Equal(t, []string{"dir   c:\\"}, run.CmdLine)
			},
		},
		{
			name:  "line continuations with comments and blank lines in between",
			src:   "FROM alpine\nRUN apk add \\\n# curl is needed\n    curl \\\n\n    git\nUSER \\\n  # the app user\n  65532\n",
			stage: 0, wantUser: "65532", wantLine: 7, wantSet: true,
			check: func(t *testing.T, f *File) {
				run := f.Stages[0].Commands[0].(*instructions.RunCommand)
				assert.Equal(t, []string{"apk add     curl     git"}, run.CmdLine)
			},
		},
		{
			name:  "JSON form and flags",
			src:   "FROM --platform=linux/arm64 alpine AS b\nRUN [\"sh\", \"-c\", \"id\"]\n",
			stage: 0, wantLine: 1,
			check: func(t *testing.T, f *File) {
				assert.Equal(t, "linux/arm64", f.Stages[0].Platform)
				run := f.Stages[0].Commands[0].(*instructions.RunCommand)
				assert.Equal(t, []string{"sh", "-c", "id"}, run.CmdLine)
				assert.False(t, run.PrependShell)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse([]byte(tt.src))
			require.NoError(t, err)
			user, line, set, err := f.User(tt.stage)
			require.NoError(t, err)
			assert.Equal(t, tt.wantUser, user)
			assert.Equal(t, tt.wantLine, line)
			assert.Equal(t, tt.wantSet, set)
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := map[string]struct{ src, want string }{
		"empty":                {"", "no instructions"},
		"comments only":        {"# nothing\n", "no instructions"},
		"instruction before":   {"RUN echo\nFROM alpine\n", "line 1: RUN before the first FROM"},
		"unknown instruction":  {"FROM alpine\nFORM x\n", "line 2"},
		"from without image":   {"FROM\n", "line 1"},
		"from with junk":       {"FROM alpine AS x y\n", "line 1"},
		"invalid stage name":   {"FROM alpine AS 1st\n", "invalid name for build stage"},
		"unset arg image":      {"ARG IMG\nFROM $IMG\n", "line 2: FROM $IMG expands to nothing"},
		"duplicate stage":      {"FROM alpine AS a\nFROM alpine AS a\n", `line 2: duplicate stage name "a"`},
		"bad env":              {"FROM alpine\nENV A=1 B\n", "line 2"},
		"bad escape directive": {"# escape=x\nFROM alpine\n", "escape"},
		"unknown flag":         {"FROM --plattform=linux/amd64 alpine\n", "line 1"},
		"onbuild from":         {"FROM alpine\nONBUILD FROM x\n", "line 2"},
		"no FROM":              {"ARG A=1\n", "no FROM"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestUserErrors(t *testing.T) {
	// A bad substitution is an error at dispatch, as in a build.
	f, err := Parse([]byte("FROM alpine\nARG U\nUSER ${U:?must be set}\n"))
	require.NoError(t, err)
	_, _, _, err = f.User(0)
	require.ErrorContains(t, err, "line 3: USER")
}
