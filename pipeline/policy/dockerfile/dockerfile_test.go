package dockerfile

import (
	"strings"
	"testing"

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
	require.Len(t, f.GlobalArgs, 3)
	require.Len(t, f.Stages, 2)

	b := f.Stages[0]
	require.Equal(t, "docker.io/library/golang:1.26@sha256:aaaa", b.Image)
	require.Equal(t, "$GO", b.RawImage)
	require.Equal(t, "build", b.Name)
	require.Equal(t, 7, b.Line)
	require.Len(t, b.Instructions, 1)
	require.Equal(t, "RUN", b.Instructions[0].Cmd)
	require.Equal(t, 9, b.Instructions[0].Line)
	require.Contains(t, b.Instructions[0].Args, "apt-get install -y git")

	r := f.Stages[1]
	require.Equal(t, "alpine:3.20", r.Image)
	require.Equal(t, "runtime", r.Name)
	require.Equal(t, 0, f.StageByName("BUILD"))
	require.Equal(t, -1, f.StageByName("nope"))
	cmds := []string{}
	for _, in := range r.Instructions {
		cmds = append(cmds, in.Cmd)
	}
	// The heredoc body ("USER root") belongs to COPY, not a USER instruction.
	require.Equal(t, []string{"ENV", "ENV", "COPY", "USER"}, cmds)
	require.Equal(t, 19, r.Instructions[3].Line)

	env, err := ParseEnv(r.Instructions[0])
	require.NoError(t, err)
	require.Equal(t, []Var{{Name: "A", Value: "1", HasValue: true, Line: 14}, {Name: "B", Value: "two words", HasValue: true, Line: 14}}, env)
	legacy, err := ParseEnv(r.Instructions[1])
	require.NoError(t, err)
	require.Equal(t, "some value", legacy[0].Value)
}

func TestParseBacktickEscape(t *testing.T) {
	f, err := Parse([]byte("# escape=`\nFROM mcr.microsoft.com/windows:ltsc2022\nRUN dir `\n  c:\\\n"))
	require.NoError(t, err)
	require.Equal(t, []string{"dir", "c:\\"}, strings.Fields(f.Stages[0].Instructions[0].Args))
}

func TestParseErrors(t *testing.T) {
	tests := map[string]string{
		"empty":                 "",
		"comments only":         "# nothing\n",
		"instruction before":    "RUN echo\nFROM alpine\n",
		"unknown instruction":   "FROM alpine\nFORM x\n",
		"from without image":    "FROM\n",
		"from with junk":        "FROM alpine AS x y\n",
		"unset arg image":       "ARG IMG\nFROM $IMG\n",
		"dangling continuation": "FROM alpine\nRUN echo \\\n",
		"open heredoc":          "FROM alpine\nRUN <<EOF\necho\n",
		"duplicate stage":       "FROM alpine AS a\nFROM alpine AS a\n",
		"bad env":               "FROM alpine\nENV A=1 B\n",
		"unterminated quote":    "FROM alpine\nENV A=\"x\n",
		"bad escape directive":  "# escape=x\nFROM alpine\n",
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(src))
			require.Error(t, err)
		})
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "x", "E": ""}
	require.Equal(t, "x-x-x", Expand("$A-${A}-${A:-d}", vars))
	require.Equal(t, "d", Expand("${E:-d}", vars))
	require.Equal(t, "d", Expand("${MISSING:-d}", vars))
	require.Equal(t, "alt", Expand("${A:+alt}", vars))
	require.Equal(t, "", Expand("${E:+alt}", vars))
}
