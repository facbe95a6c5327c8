// Package dockerfile parses a Dockerfile into stages and instructions, enough for policy checks:
// parser directives (escape), comments, line continuations, heredocs, global and stage ARGs
// with defaults, FROM [--platform] image [AS name] with ARG substitution, and ENV key/value
// pairs. It does not build anything.
package dockerfile

import (
	"fmt"
	"regexp"
	"strings"
)

// Instruction is one instruction with its arguments (continuations joined) and 1-based line.
type Instruction struct {
	Cmd  string // upper-case: FROM, RUN, USER, ...
	Args string // raw text after the command, flags included
	Line int
}

// Var is an ARG or ENV declaration.
type Var struct {
	Name     string
	Value    string
	HasValue bool
	Line     int
}

// Stage is one FROM and the instructions after it.
type Stage struct {
	Index int
	// Image is the FROM image after ARG substitution (may name an earlier stage).
	Image string
	// RawImage is the FROM image as written.
	RawImage     string
	Name         string // the AS alias, lower-cased; "" when none
	Line         int
	Instructions []Instruction
}

// File is a parsed Dockerfile.
type File struct {
	GlobalArgs []Var // ARGs before the first FROM
	Stages     []Stage
}

var knownCmds = map[string]bool{
	"FROM": true, "RUN": true, "CMD": true, "LABEL": true, "MAINTAINER": true, "EXPOSE": true, "ENV": true,
	"ADD": true, "COPY": true, "ENTRYPOINT": true, "VOLUME": true, "USER": true, "WORKDIR": true, "ARG": true,
	"ONBUILD": true, "STOPSIGNAL": true, "HEALTHCHECK": true, "SHELL": true,
}

var (
	directiveRe = regexp.MustCompile(`^#\s*([a-zA-Z]+)\s*=\s*(.+?)\s*$`)
	heredocRe   = regexp.MustCompile(`<<-?\s*["']?([A-Za-z_][A-Za-z0-9_]*)["']?`)
)

// Parse reads a Dockerfile. It is an error to have no FROM, an instruction other than ARG
// before the first FROM, an unknown instruction, a FROM without an image, or a continuation
// or heredoc that never ends.
func Parse(content []byte) (*File, error) {
	lines := strings.Split(strings.ReplaceAll(string(content), "\r\n", "\n"), "\n")
	escape := byte('\\')
	i := 0
	// Parser directives: only at the very top, before any other line.
	for ; i < len(lines); i++ {
		m := directiveRe.FindStringSubmatch(lines[i])
		if m == nil {
			break
		}
		if strings.EqualFold(m[1], "escape") {
			if m[2] != "`" && m[2] != `\` {
				return nil, fmt.Errorf("line %d: escape directive must be \\ or `, got %q", i+1, m[2])
			}
			escape = m[2][0]
		}
	}
	var instrs []Instruction
	for i < len(lines) {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			i++
			continue
		}
		start := i + 1
		var b strings.Builder
		for {
			cur := strings.TrimRight(lines[i], " \t")
			i++
			if len(cur) > 0 && cur[len(cur)-1] == escape {
				b.WriteString(cur[:len(cur)-1])
				b.WriteByte(' ')
				// Skip comment and empty lines inside a continuation, as BuildKit does.
				for i < len(lines) {
					t := strings.TrimSpace(lines[i])
					if t == "" || strings.HasPrefix(t, "#") {
						i++
						continue
					}
					break
				}
				if i >= len(lines) {
					return nil, fmt.Errorf("line %d: line continuation at end of file", start)
				}
				continue
			}
			b.WriteString(cur)
			break
		}
		text := strings.TrimSpace(b.String())
		cmd, args, _ := strings.Cut(text, " ")
		if tab := strings.IndexByte(cmd, '\t'); tab >= 0 {
			cmd, args = cmd[:tab], cmd[tab+1:]+" "+args
		}
		cmd = strings.ToUpper(cmd)
		if !knownCmds[cmd] {
			return nil, fmt.Errorf("line %d: unknown instruction %q", start, cmd)
		}
		args = strings.TrimSpace(args)
		// Heredocs (RUN <<EOF ... EOF): the body belongs to the instruction.
		if cmd == "RUN" || cmd == "COPY" || cmd == "ADD" {
			for _, m := range heredocRe.FindAllStringSubmatch(args, -1) {
				term := m[1]
				var body []string
				found := false
				for i < len(lines) {
					l := lines[i]
					i++
					if strings.TrimSpace(l) == term {
						found = true
						break
					}
					body = append(body, l)
				}
				if !found {
					return nil, fmt.Errorf("line %d: heredoc %s is not terminated", start, term)
				}
				args += "\n" + strings.Join(body, "\n")
			}
		}
		instrs = append(instrs, Instruction{Cmd: cmd, Args: args, Line: start})
	}
	return build(instrs)
}

func build(instrs []Instruction) (*File, error) {
	f := &File{}
	global := map[string]string{}
	for _, in := range instrs {
		if in.Cmd == "FROM" {
			st, err := parseFrom(in, global, f.Stages)
			if err != nil {
				return nil, err
			}
			st.Index = len(f.Stages)
			f.Stages = append(f.Stages, st)
			continue
		}
		if len(f.Stages) == 0 {
			if in.Cmd != "ARG" {
				return nil, fmt.Errorf("line %d: %s before the first FROM (only ARG may precede it)", in.Line, in.Cmd)
			}
			vars, err := ParseArg(in)
			if err != nil {
				return nil, err
			}
			for _, v := range vars {
				f.GlobalArgs = append(f.GlobalArgs, v)
				if v.HasValue {
					global[v.Name] = Expand(v.Value, global)
				} else if _, ok := global[v.Name]; !ok {
					global[v.Name] = ""
				}
			}
			continue
		}
		switch in.Cmd {
		case "ARG":
			if _, err := ParseArg(in); err != nil {
				return nil, err
			}
		case "ENV":
			if _, err := ParseEnv(in); err != nil {
				return nil, err
			}
		}
		st := &f.Stages[len(f.Stages)-1]
		st.Instructions = append(st.Instructions, in)
	}
	if len(f.Stages) == 0 {
		return nil, fmt.Errorf("no FROM instruction")
	}
	return f, nil
}

func parseFrom(in Instruction, args map[string]string, earlier []Stage) (Stage, error) {
	fields := strings.Fields(in.Args)
	var rest []string
	for _, fl := range fields {
		if strings.HasPrefix(fl, "--") && len(rest) == 0 {
			continue // --platform=...
		}
		rest = append(rest, fl)
	}
	st := Stage{Line: in.Line}
	switch {
	case len(rest) == 1:
	case len(rest) == 3 && strings.EqualFold(rest[1], "AS"):
		st.Name = strings.ToLower(rest[2])
	default:
		return Stage{}, fmt.Errorf("line %d: FROM expects `image [AS name]`, got %q", in.Line, in.Args)
	}
	st.RawImage = rest[0]
	st.Image = Expand(rest[0], args)
	if st.Image == "" {
		return Stage{}, fmt.Errorf("line %d: FROM image %q expands to nothing (ARG without a default?)", in.Line, rest[0])
	}
	for _, e := range earlier {
		if e.Name != "" && e.Name == st.Name {
			return Stage{}, fmt.Errorf("line %d: duplicate stage name %q", in.Line, st.Name)
		}
	}
	return st, nil
}

var varRe = regexp.MustCompile(`\$(\{([A-Za-z_][A-Za-z0-9_]*)(:?[-+])?([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))`)

// Expand substitutes $NAME, ${NAME}, ${NAME:-default} and ${NAME:+alt} from vars.
func Expand(s string, vars map[string]string) string {
	return varRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := varRe.FindStringSubmatch(m)
		if sub[5] != "" {
			return vars[sub[5]]
		}
		val, set := vars[sub[2]]
		switch sub[3] {
		case ":-", "-":
			if val == "" {
				return sub[4]
			}
		case ":+", "+":
			if set && val != "" {
				return sub[4]
			}
			return ""
		}
		return val
	})
}

// ParseArg reads `ARG NAME[=default] ...`.
func ParseArg(in Instruction) ([]Var, error) {
	words, err := splitWords(in.Args)
	if err != nil {
		return nil, fmt.Errorf("line %d: ARG: %w", in.Line, err)
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("line %d: ARG needs a name", in.Line)
	}
	var out []Var
	for _, w := range words {
		name, val, has := strings.Cut(w, "=")
		if name == "" {
			return nil, fmt.Errorf("line %d: ARG %q has no name", in.Line, w)
		}
		out = append(out, Var{Name: name, Value: val, HasValue: has, Line: in.Line})
	}
	return out, nil
}

// ParseEnv reads `ENV KEY=value ...` or the legacy `ENV KEY value`.
func ParseEnv(in Instruction) ([]Var, error) {
	args := strings.TrimSpace(in.Args)
	first, rest, _ := strings.Cut(args, " ")
	if !strings.Contains(first, "=") {
		if first == "" {
			return nil, fmt.Errorf("line %d: ENV needs a name", in.Line)
		}
		return []Var{{Name: first, Value: unquote(strings.TrimSpace(rest)), HasValue: true, Line: in.Line}}, nil
	}
	words, err := splitWords(args)
	if err != nil {
		return nil, fmt.Errorf("line %d: ENV: %w", in.Line, err)
	}
	var out []Var
	for _, w := range words {
		name, val, has := strings.Cut(w, "=")
		if !has || name == "" {
			return nil, fmt.Errorf("line %d: ENV expects KEY=value, got %q", in.Line, w)
		}
		out = append(out, Var{Name: name, Value: val, HasValue: true, Line: in.Line})
	}
	return out, nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

// splitWords splits on unquoted whitespace and removes the quotes.
func splitWords(s string) ([]string, error) {
	var out []string
	var b strings.Builder
	var quote byte
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			} else {
				b.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				out = append(out, b.String())
				b.Reset()
				inWord = false
			}
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
			inWord = true
		default:
			b.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if inWord {
		out = append(out, b.String())
	}
	return out, nil
}

// StageByName returns the index of the stage with that alias (case-insensitive), or -1.
func (f *File) StageByName(name string) int {
	name = strings.ToLower(name)
	for i, s := range f.Stages {
		if s.Name != "" && s.Name == name {
			return i
		}
	}
	return -1
}
