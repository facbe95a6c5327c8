package policy

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDockerfileRuleDetails(t *testing.T) {
	const digest = "@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"testdata hardened", string(readTestdata(t, "hardened.Dockerfile")), nil},
		{"final stage inherits USER from its parent stage", "FROM alpine" + digest + " AS base\nUSER 1000\nFROM base\nRUN true\n", nil},
		{"final stage resets to root", "FROM alpine" + digest + " AS build\nUSER 1000\nFROM build\nUSER 0\n", []string{"FG-DF-001"}},
		{"USER from a stage ARG", "FROM alpine" + digest + " AS b\nFROM scratch\nARG UID=10001\nUSER ${UID}:${UID}\n", nil},
		{"USER from an ARG defaulting to root", "FROM alpine" + digest + " AS b\nFROM scratch\nARG UID=0\nUSER $UID\n", []string{"FG-DF-001"}},
		{"a USER in an earlier stage does not count", "FROM alpine" + digest + " AS b\nUSER 1000\nFROM scratch\nCOPY --from=b /x /x\n", []string{"FG-DF-001"}},
		{"ARG default without digest used in FROM", "ARG BASE=alpine:3.20\nFROM golang" + digest + " AS b\nFROM ${BASE}\nUSER 1\n", []string{"FG-DF-002"}},
		{"ARG default with digest overridden in stage is still global", "ARG BASE=alpine" + digest + "\nFROM golang" + digest + " AS b\nFROM $BASE\nUSER 1\n", nil},
		{"platform flag and lower-case as", "FROM --platform=$BUILDPLATFORM golang" + digest + " as b\nFROM scratch\nUSER 1\n", nil},
		{"ADD of a git repository", "FROM golang" + digest + " AS b\nADD https://github.com/x/y.git /src\nFROM scratch\nUSER 1\n", []string{"FG-DF-004"}},
		{"ADD json form URL", "FROM golang" + digest + " AS b\nADD [\"http://example.com/a\", \"/a\"]\nFROM scratch\nUSER 1\n", []string{"FG-DF-004"}},
		{"AWS key in ARG default", "ARG AWS_SECRET_ACCESS_KEY=abc\nFROM golang" + digest + " AS b\nFROM scratch\nUSER 1\n", []string{"FG-DF-005"}},
		{"access key value in legacy ENV", "FROM golang" + digest + " AS b\nFROM scratch\nENV KEYID AKIAABCDEFGHIJKLMNOP\nUSER 1\n", []string{"FG-DF-005"}},
		{"AWS session token in ENV", "FROM golang" + digest + " AS b\nFROM scratch\nENV AWS_SESSION_TOKEN=x\nUSER 1\n", []string{"FG-DF-005"}},
		{"empty AWS credential ENV is fine", "FROM golang" + digest + " AS b\nFROM scratch\nENV AWS_ACCESS_KEY_ID=\"\"\nUSER 1\n", nil},
		{"token under a _FILE name", "FROM golang" + digest + " AS b\nFROM scratch\nENV GITHUB_TOKEN_FILE=ghp_abcdefghijklmnopqrstuvwxyz0123456789\nUSER 1\n", []string{"FG-DF-005"}},
		{"digits-only password in ARG", "FROM golang" + digest + " AS b\nARG DB_PASSWORD=123456\nFROM scratch\nUSER 1\n", []string{"FG-DF-005"}},
		{"flag under a secret name is fine", "FROM golang" + digest + " AS b\nFROM scratch\nENV USE_SECRETS=true\nUSER 1\n", nil},
		{"secret ARG without default is fine", "FROM golang" + digest + " AS b\nARG GITHUB_TOKEN\nFROM scratch\nUSER 1\n", nil},
		{"sudo after a continuation", "FROM golang" + digest + " AS b\nRUN apt-get update && \\\n    sudo make install\nFROM scratch\nUSER 1\n", []string{"FG-DF-006"}},
		{"sudo in a heredoc RUN", "FROM golang" + digest + " AS b\nRUN <<EOF\nset -e\nsudo make install\nEOF\nFROM scratch\nUSER 1\n", []string{"FG-DF-006"}},
		{"USER root inside a heredoc is file content, not an instruction", "FROM golang" + digest + " AS b\nFROM scratch\nUSER 1\nCOPY <<EOF /etc/x\nUSER root\nEOF\n", nil},
		{"USER from a global ARG re-declared in the final stage", "ARG UID=0\nFROM golang" + digest + " AS b\nFROM scratch\nARG UID\nUSER $UID\n", []string{"FG-DF-001"}},
		{"a global ARG not re-declared is out of scope for USER", "ARG UID=10001\nFROM golang" + digest + " AS b\nFROM scratch\nUSER ${UID:-0}\n", []string{"FG-DF-001"}},
		{"a stage re-using an earlier stage is not an unpinned base", "FROM golang" + digest + " AS base\nUSER 1000\nFROM base AS test\nRUN go test ./...\nFROM base\n", nil},
		{"a default stage named through an ARG", "ARG RUNTIME=runtime-default\nFROM alpine" + digest + " AS runtime-default\nFROM golang" + digest + " AS b\nFROM ${RUNTIME}\nUSER 65532\n", nil},
		{"ONBUILD USER root in the parent makes the final stage root", "FROM alpine" + digest + " AS base\nUSER 1000\nONBUILD USER root\nFROM base\n", []string{"FG-DF-001"}},
		{"escape directive: backtick continuation", "# escape=`\nFROM golang" + digest + " AS b\nRUN apt-get update `\n    && sudo make\nFROM scratch\nUSER 1\n", []string{"FG-DF-006"}},
		{"continuation with comments before the image", "FROM golang" + digest + " AS b\nFROM \\\n# pinned below\n    alpine:3.20\nUSER 1\n", []string{"FG-DF-002"}},
		{"quoted ENV secret value", "FROM golang" + digest + " AS b\nFROM scratch\nENV KEYID=\"AKIAABCDEFGHIJKLMNOP\"\nUSER 1\n", []string{"FG-DF-005"}},
		{"pseudo word is not sudo", "FROM golang" + digest + " AS b\nRUN echo pseudoterminal\nFROM scratch\nUSER 1\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ElementsMatch(t, tt.want, rulesOf(dfFindings(t, tt.src)))
		})
	}
}

func TestDockerfileFindingsCarryLinesAndHideValues(t *testing.T) {
	src := "FROM node:20 AS build\n\nRUN npm ci\nFROM scratch\nENV DB_PASSWORD=s3cr3t-value \\\n    OTHER=1\n" +
		"ADD https://deploy:url-s3cr3t@files.example.com/app.tgz?access_token=query-s3cr3t /opt/\n"
	r := mustCheck(t, CheckInput{Dockerfile: &FileInput{Path: "svc/Dockerfile", Content: []byte(src)}})
	lines := map[string]int{}
	for _, f := range r.Findings {
		lines[f.Rule] = f.Location.Line
		require.Equal(t, "svc/Dockerfile", f.Location.Path)
		require.Equal(t, "svc/Dockerfile", f.Resource)
	}
	require.Equal(t, map[string]int{"FG-DF-001": 4, "FG-DF-002": 1, "FG-DF-004": 7, "FG-DF-005": 5}, lines)
	for _, format := range []Format{FormatText, FormatJSON, FormatSARIF} {
		var buf bytes.Buffer
		require.NoError(t, Render(&buf, r, format))
		for _, secret := range []string{"s3cr3t-value", "url-s3cr3t", "query-s3cr3t"} {
			require.NotContains(t, buf.String(), secret)
		}
		require.Contains(t, buf.String(), "ADD fetches https://***@files.example.com/app.tgz?access_token=***")
	}
}
