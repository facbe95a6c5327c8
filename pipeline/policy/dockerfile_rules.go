package policy

import (
	"fmt"
	"regexp"
	"strings"

	"dagger/fargate/pipeline/policy/dockerfile"
)

// dockerfileView is a parsed Dockerfile under evaluation.
type dockerfileView struct {
	f        *dockerfile.File
	resource string
}

// isStageRef reports whether stage i's FROM names an earlier stage.
func (v *dockerfileView) stageRef(i int) int {
	j := v.f.StageByName(v.f.Stages[i].Image)
	if j >= 0 && j < i {
		return j
	}
	return -1
}

// stageUser returns the effective USER of stage i (following FROM <stage>) and its line.
func (v *dockerfileView) stageUser(i int) (string, int, bool) {
	st := v.f.Stages[i]
	for k := len(st.Instructions) - 1; k >= 0; k-- {
		if in := st.Instructions[k]; in.Cmd == "USER" {
			return stageExpand(v.f, i, in.Args), in.Line, true
		}
	}
	if j := v.stageRef(i); j >= 0 {
		return v.stageUser(j)
	}
	return "", st.Line, false
}

// stageExpand substitutes the ARG and ENV values declared in stage i before use.
func stageExpand(f *dockerfile.File, i int, s string) string {
	vars := map[string]string{}
	global := map[string]string{}
	for _, g := range f.GlobalArgs {
		if g.HasValue {
			global[g.Name] = dockerfile.Expand(g.Value, global)
		}
	}
	for _, in := range f.Stages[i].Instructions {
		switch in.Cmd {
		case "ARG":
			as, _ := dockerfile.ParseArg(in)
			for _, a := range as {
				switch {
				case a.HasValue:
					vars[a.Name] = dockerfile.Expand(a.Value, vars)
				default:
					vars[a.Name] = global[a.Name]
				}
			}
		case "ENV":
			es, _ := dockerfile.ParseEnv(in)
			for _, e := range es {
				vars[e.Name] = dockerfile.Expand(e.Value, vars)
			}
		}
	}
	return dockerfile.Expand(strings.TrimSpace(s), vars)
}

func checkDockerUser(v *dockerfileView) []hit {
	last := len(v.f.Stages) - 1
	user, line, ok := v.stageUser(last)
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
		if strings.EqualFold(st.Image, "scratch") || v.stageRef(i) >= 0 {
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
		for _, in := range st.Instructions {
			if in.Cmd != "ADD" {
				continue
			}
			for _, w := range strings.Fields(in.Args) {
				if strings.HasPrefix(w, "--") {
					continue
				}
				if urlRe.MatchString(strings.Trim(w, `"[],`)) {
					out = append(out, hit{message: fmt.Sprintf("ADD fetches %s", strings.Trim(w, `"[],`)), line: in.Line})
				}
			}
		}
	}
	return out
}

func checkDockerSecrets(v *dockerfileView) []hit {
	var out []hit
	check := func(kind string, vars []dockerfile.Var) {
		for _, x := range vars {
			if !x.HasValue {
				continue
			}
			if ecs8Names[strings.ToUpper(x.Name)] && strings.TrimSpace(x.Value) != "" {
				out = append(out, hit{message: fmt.Sprintf("%s %s sets AWS credentials", kind, x.Name), line: x.Line})
				continue
			}
			if why := secretLooking(x.Name, x.Value); why != "" {
				out = append(out, hit{message: fmt.Sprintf("%s %s %s", kind, x.Name, why), line: x.Line})
			}
		}
	}
	check("ARG", v.f.GlobalArgs)
	for _, st := range v.f.Stages {
		for _, in := range st.Instructions {
			switch in.Cmd {
			case "ARG":
				vars, err := dockerfile.ParseArg(in)
				if err == nil {
					check("ARG", vars)
				}
			case "ENV":
				vars, err := dockerfile.ParseEnv(in)
				if err == nil {
					check("ENV", vars)
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
		for _, in := range st.Instructions {
			if in.Cmd == "RUN" && sudoRe.MatchString(in.Args) {
				out = append(out, hit{message: "RUN uses or installs sudo", line: in.Line})
			}
		}
	}
	return out
}
