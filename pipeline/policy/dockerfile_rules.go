package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"dagger/fargate/pipeline/policy/dockerfile"
	"dagger/fargate/pipeline/redact"
)

// dockerfileView is a parsed Dockerfile under evaluation.
type dockerfileView struct {
	f        *dockerfile.File
	resource string
}

func checkDockerUser(v *dockerfileView) []hit {
	last := len(v.f.Stages) - 1
	user, line, ok, err := v.f.User(last)
	if err != nil {
		return []hit{{message: fmt.Sprintf("final stage USER cannot be resolved: %v", err), line: line}}
	}
	if !ok {
		return []hit{{message: "final stage sets no USER, so the image runs as root", line: line}}
	}
	if rootUser(user) {
		return []hit{{message: fmt.Sprintf("final stage USER %q is root", user), line: line}}
	}
	return nil
}

var digestRe = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)

func checkDockerDigest(v *dockerfileView) []hit {
	var out []hit
	for i, st := range v.f.Stages {
		if strings.EqualFold(st.Image, "scratch") || st.Base >= 0 {
			continue
		}
		if !digestRe.MatchString(st.Image) {
			out = append(out, hit{message: fmt.Sprintf("stage %d: base image %s is not pinned by digest", i, st.Image), line: st.Line})
		}
	}
	return out
}

func checkDockerMultiStage(v *dockerfileView) []hit {
	if len(v.f.Stages) < 2 {
		return []hit{{message: "single-stage build: build tools end up in the runtime image", line: v.f.Stages[0].Line}}
	}
	return nil
}

var urlRe = regexp.MustCompile(`(?i)^(https?|ftp)://|^git@|\.git(#.*)?$`)

func checkDockerAddURL(v *dockerfileView) []hit {
	var out []hit
	for _, st := range v.f.Stages {
		for _, c := range st.Commands {
			add, ok := c.(*instructions.AddCommand)
			if !ok {
				continue
			}
			for _, src := range add.SourcePaths {
				if urlRe.MatchString(src) {
					out = append(out, hit{message: fmt.Sprintf("ADD fetches %s", redact.MaskURLCredentials(src)), line: dockerfile.Line(c)})
				}
			}
		}
	}
	return out
}

func checkDockerSecrets(v *dockerfileView) []hit {
	var out []hit
	check := func(kind, name, value string, line int) {
		value = v.f.Literal(value)
		if redact.AWSCredentialVariable(name) {
			// An ARG or ENV without a value declares the variable and holds nothing.
			if strings.TrimSpace(value) != "" {
				out = append(out, hit{message: fmt.Sprintf("%s %s sets AWS credentials", kind, name), line: line})
			}
			return
		}
		if why := redact.SecretReason(name, value); why != "" {
			out = append(out, hit{message: fmt.Sprintf("%s %s %s", kind, name, why), line: line})
		}
	}
	args := func(a *instructions.ArgCommand) {
		for _, kv := range a.Args {
			if kv.Value != nil { // an ARG without a default holds no value
				check("ARG", kv.Key, *kv.Value, dockerfile.Line(a))
			}
		}
	}
	for _, a := range v.f.MetaArgs {
		args(a)
	}
	for _, st := range v.f.Stages {
		for _, c := range st.Commands {
			switch c := c.(type) {
			case *instructions.ArgCommand:
				args(c)
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					check("ENV", kv.Key, kv.Value, dockerfile.Line(c))
				}
			}
		}
	}
	return out
}

var sudoRe = regexp.MustCompile(`(^|[\s;&|(])sudo(\s|$)`)

func checkDockerSudo(v *dockerfileView) []hit {
	var out []hit
	for _, st := range v.f.Stages {
		for _, c := range st.Commands {
			run, ok := c.(*instructions.RunCommand)
			if !ok {
				continue
			}
			// The command line, and the heredoc bodies a RUN executes or feeds its command.
			texts := slices.Clone(run.CmdLine)
			for _, file := range run.Files {
				texts = append(texts, file.Data)
			}
			if slices.ContainsFunc(texts, sudoRe.MatchString) {
				out = append(out, hit{message: "RUN uses or installs sudo", line: dockerfile.Line(c)})
			}
		}
	}
	return out
}
