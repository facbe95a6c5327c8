// Package dockerfile reads a Dockerfile with BuildKit's own parser and instruction model
// (github.com/moby/buildkit/frontend/dockerfile/parser and .../instructions), so that the
// policy rules see exactly what a build sees: parser directives (escape), comments inside
// continuations, heredocs, JSON and shell forms, FROM --platform, ONBUILD. On top of that model
// it resolves what the rules ask about, with BuildKit's semantics: each stage's base (its FROM
// expanded with the global ARGs, or an earlier stage of that name) and the USER a stage ends
// with (ARG and ENV values in scope, inherited from a parent stage, ONBUILD triggers of a
// parent stage run first). It builds nothing and resolves no image.
package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// File is a parsed Dockerfile.
type File struct {
	// MetaArgs are the ARG instructions before the first FROM (the global scope).
	MetaArgs []*instructions.ArgCommand
	Stages   []Stage
	lex      *shell.Lex
	global   *env
}

// Stage is one FROM and the commands after it, as BuildKit parsed them.
type Stage struct {
	Index int
	// Name is the AS alias, lower-cased as BuildKit stores it; "" when none.
	Name string
	// RawImage is the FROM argument as written; Image is RawImage expanded with the global
	// ARGs' defaults. When Base >= 0, Image names the earlier stage Stages[Base].
	RawImage string
	Image    string
	Base     int
	// Platform is the --platform flag as written ("" when none).
	Platform string
	Line     int
	Commands []instructions.Command
}

// Parse reads a Dockerfile. It is an error when BuildKit cannot parse it (an unknown
// instruction, an instruction other than ARG before the first FROM, a malformed FROM or
// flag, an invalid escape directive, ...), when it has no FROM, when a FROM expands to
// nothing, or when two stages share a name.
func Parse(content []byte) (*File, error) {
	res, err := parser.Parse(bytes.NewReader(content))
	if err != nil {
		return nil, fmt.Errorf("parse: %w", withLine(err))
	}
	for _, n := range res.AST.Children {
		if strings.EqualFold(n.Value, "from") {
			break
		}
		if !strings.EqualFold(n.Value, "arg") {
			return nil, fmt.Errorf("line %d: %s before the first FROM (only ARG may precede it)", n.StartLine, strings.ToUpper(n.Value))
		}
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, withLine(err)
	}
	if len(stages) == 0 {
		return nil, errors.New("no FROM instruction")
	}
	f := &File{lex: shell.NewLex(res.EscapeToken), global: newEnv()}
	for i := range metaArgs {
		a := &metaArgs[i]
		f.MetaArgs = append(f.MetaArgs, a)
		for _, kv := range a.Args {
			if kv.Value == nil {
				continue // declared without a default: unset unless a build argument sets it
			}
			v, err := f.expand(*kv.Value, f.global)
			if err != nil {
				return nil, fmt.Errorf("line %d: ARG %s: %w", Line(a), kv.Key, err)
			}
			f.global.set(kv.Key, v)
		}
	}
	byName := map[string]int{}
	for i, s := range stages {
		st := Stage{Index: i, Name: s.Name, RawImage: s.BaseName, Base: -1, Platform: s.Platform, Commands: s.Commands}
		if len(s.Location) > 0 {
			st.Line = s.Location[0].Start.Line
		}
		st.Image, err = f.expand(s.BaseName, f.global)
		if err != nil {
			return nil, fmt.Errorf("line %d: FROM %s: %w", st.Line, s.BaseName, err)
		}
		if st.Image == "" {
			return nil, fmt.Errorf("line %d: FROM %s expands to nothing (an ARG without a default?)", st.Line, s.BaseName)
		}
		// As BuildKit: the expanded name refers to a stage when an earlier stage has that name.
		if j, ok := byName[st.Image]; ok {
			st.Base = j
		}
		if st.Name != "" {
			if j, dup := byName[st.Name]; dup {
				return nil, fmt.Errorf("line %d: duplicate stage name %q (first at line %d)", st.Line, st.Name, f.Stages[j].Line)
			}
			byName[st.Name] = i
		}
		f.Stages = append(f.Stages, st)
	}
	return f, nil
}

// withLine prefixes a BuildKit error with the line it points at, when it carries one.
func withLine(err error) error {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 && le.Locations[0][0].Start.Line > 0 {
		return fmt.Errorf("line %d: %w", le.Locations[0][0].Start.Line, err)
	}
	return err
}

// Line is the 1-based line a command starts on (0 when BuildKit gave none).
func Line(c instructions.Command) int {
	if loc := c.Location(); len(loc) > 0 {
		return loc[0].Start.Line
	}
	return 0
}

// User is the USER stage i ends with, expanded as BuildKit expands it, and the line that set
// it. A stage built on an earlier stage inherits that stage's USER unless it (or an ONBUILD
// trigger of its parent) sets one. ok is false when no stage in the chain sets a USER (the
// base image's user applies); line is then the stage's FROM line.
func (f *File) User(i int) (user string, line int, ok bool, err error) {
	st, err := f.dispatch(i)
	if err != nil {
		return "", 0, false, err
	}
	if !st.userSet {
		return "", f.Stages[i].Line, false, nil
	}
	return st.user, st.userLine, true, nil
}

// state is what dispatching a stage's commands leaves behind.
type state struct {
	env      *env
	user     string
	userLine int
	userSet  bool
}

// dispatch replays the ARG, ENV and USER commands of stage i the way BuildKit's dispatcher
// does: a stage built on another starts from that stage's environment (ARG values included)
// and user, then runs the parent's ONBUILD triggers, then its own commands.
func (f *File) dispatch(i int) (state, error) {
	stg := f.Stages[i]
	s := state{env: newEnv()}
	if stg.Base >= 0 {
		parent, err := f.dispatch(stg.Base)
		if err != nil {
			return state{}, err
		}
		s = parent
		s.env = parent.env.clone()
		for _, c := range f.Stages[stg.Base].Commands {
			ob, isOnbuild := c.(*instructions.OnbuildCommand)
			if !isOnbuild {
				continue
			}
			trigger, err := parseTrigger(ob.Expression)
			if err != nil {
				return state{}, fmt.Errorf("line %d: ONBUILD %s: %w", Line(ob), ob.Expression, err)
			}
			if err := f.apply(&s, trigger, stg.Line); err != nil {
				return state{}, err
			}
		}
	}
	for _, c := range stg.Commands {
		if err := f.apply(&s, c, Line(c)); err != nil {
			return state{}, err
		}
	}
	return s, nil
}

func (f *File) apply(s *state, c instructions.Command, line int) error {
	switch c := c.(type) {
	case *instructions.ArgCommand:
		for _, kv := range c.Args {
			if kv.Value == nil {
				// Without a default, a stage ARG takes the global ARG's value.
				if v, ok := f.global.Get(kv.Key); ok {
					s.env.set(kv.Key, v)
				}
				continue
			}
			v, err := f.expand(*kv.Value, s.env)
			if err != nil {
				return fmt.Errorf("line %d: ARG %s: %w", line, kv.Key, err)
			}
			s.env.set(kv.Key, v)
		}
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			v, err := f.expand(kv.Value, s.env)
			if err != nil {
				return fmt.Errorf("line %d: ENV %s: %w", line, kv.Key, err)
			}
			s.env.set(kv.Key, v)
		}
	case *instructions.UserCommand:
		u, err := f.expand(c.User, s.env)
		if err != nil {
			return fmt.Errorf("line %d: USER %s: %w", line, c.User, err)
		}
		s.user, s.userLine, s.userSet = u, line, true
	}
	return nil
}

// parseTrigger parses an ONBUILD trigger expression as the instruction it is.
func parseTrigger(expr string) (instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(expr))
	if err != nil {
		return nil, err
	}
	if len(res.AST.Children) != 1 {
		return nil, errors.New("an ONBUILD trigger is a single instruction")
	}
	return instructions.ParseCommand(res.AST.Children[0])
}

// expand substitutes variables in one word with BuildKit's shell lexer.
func (f *File) expand(word string, e *env) (string, error) {
	out, _, err := f.lex.ProcessWord(word, e)
	return out, err
}

// env is an ordered variable scope (shell.EnvGetter).
type env struct {
	keys []string
	vals map[string]string
}

func newEnv() *env { return &env{vals: map[string]string{}} }

func (e *env) Get(k string) (string, bool) {
	v, ok := e.vals[k]
	return v, ok
}

func (e *env) Keys() []string { return slices.Clone(e.keys) }

func (e *env) set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
}

func (e *env) clone() *env {
	c := newEnv()
	for _, k := range e.keys {
		c.set(k, e.vals[k])
	}
	return c
}

// Literal is a word as BuildKit reads it with no variable set: quotes and escapes removed,
// variable references dropped. It is the word itself when it does not lex.
func (f *File) Literal(word string) string {
	out, err := f.expand(word, newEnv())
	if err != nil {
		return word
	}
	return out
}
