package scan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// lexer is a small streaming JSON reader over a refilled buffer. It extracts the few
// fields the gate needs and skips (while validating) everything else without building
// values, several times faster than encoding/json on Trivy's bulky reports.
type lexer struct {
	src    io.Reader
	buf    []byte
	pos    int   // next unread byte in buf
	base   int64 // input offset of buf[0]
	eof    bool
	rerr   error
	keyBuf []byte
	strBuf []byte
	numBuf []byte
	// intern shares the many repeated short values of a report (severities, statuses,
	// package names and versions, targets) instead of allocating each occurrence.
	intern map[string]string
}

const (
	maxInternLen     = 64
	maxInternEntries = 1 << 16
)

const lexerBufSize = 256 * 1024

// maxDepth bounds nesting in skipped values, so a hostile report cannot exhaust the stack.
const maxDepth = 512

var errSyntax = errors.New("invalid JSON")

// plain marks the bytes a string can hold without ending or escaping: not '"', not
// '\\', not a control character.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func newLexer(r io.Reader) *lexer {
	return &lexer{src: r, buf: make([]byte, 0, lexerBufSize), intern: make(map[string]string, 1024)}
}

func (l *lexer) offset() int64 { return l.base + int64(l.pos) }

func (l *lexer) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", errSyntax, l.offset(), fmt.Sprintf(format, args...))
}

// fill reads more input, keeping unread bytes; it reports whether any byte was added.
func (l *lexer) fill() bool {
	if l.eof {
		return false
	}
	if l.pos > 0 {
		n := copy(l.buf, l.buf[l.pos:])
		l.base += int64(l.pos)
		l.buf = l.buf[:n]
		l.pos = 0
	}
	if len(l.buf) == cap(l.buf) { // a single token larger than the buffer
		grown := make([]byte, len(l.buf), 2*cap(l.buf))
		copy(grown, l.buf)
		l.buf = grown
	}
	for {
		n, err := l.src.Read(l.buf[len(l.buf):cap(l.buf)])
		l.buf = l.buf[:len(l.buf)+n]
		if err != nil {
			l.eof = true
			if err != io.EOF {
				l.rerr = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// peek skips whitespace and returns the next byte without consuming it.
func (l *lexer) peek() (byte, error) {
	for {
		for l.pos < len(l.buf) {
			switch c := l.buf[l.pos]; c {
			case ' ', '\t', '\n', '\r':
				l.pos++
			default:
				return c, nil
			}
		}
		if !l.fill() {
			if l.rerr != nil {
				return 0, l.rerr
			}
			return 0, io.ErrUnexpectedEOF
		}
	}
}

func (l *lexer) expect(c byte) error {
	got, err := l.peek()
	if err != nil {
		return l.wrapEOF(err, fmt.Sprintf("expected %q", c))
	}
	if got != c {
		return l.errorf("expected %q, found %q", c, got)
	}
	l.pos++
	return nil
}

func (l *lexer) wrapEOF(err error, what string) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w at offset %d: unexpected end of input (%s)", errSyntax, l.offset(), what)
	}
	return err
}

// atEnd reports whether only whitespace remains.
func (l *lexer) atEnd() (bool, error) {
	_, err := l.peek()
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return true, nil
	}
	return false, err
}

// object calls fn for each key of an object; fn must consume the value. A null value
// is accepted as an empty object.
func (l *lexer) object(fn func(key []byte) error) error {
	if done, err := l.open('{', '}', "an object"); done || err != nil {
		return err
	}
	for {
		key, err := l.stringBytes(l.keyBuf[:0])
		if err != nil {
			return err
		}
		l.keyBuf = key
		if err := l.expect(':'); err != nil {
			return err
		}
		if err := fn(key); err != nil {
			return err
		}
		if more, err := l.next('}', "an object"); !more || err != nil {
			return err
		}
	}
}

// array calls fn for each element of an array; fn must consume the element. A null
// value is accepted as an empty array.
func (l *lexer) array(fn func(i int) error) error {
	if done, err := l.open('[', ']', "an array"); done || err != nil {
		return err
	}
	for i := 0; ; i++ {
		if err := fn(i); err != nil {
			return err
		}
		if more, err := l.next(']', "an array"); !more || err != nil {
			return err
		}
	}
}

// open consumes the start of an object or array (what names it in errors) up to its first
// member; done reports a value that is already whole: null (accepted as empty) or empty.
func (l *lexer) open(start, end byte, what string) (done bool, err error) {
	c, err := l.peek()
	if err != nil {
		return false, l.wrapEOF(err, "expected "+what)
	}
	if c == 'n' {
		return true, l.literal("null")
	}
	if c != start {
		return false, l.errorf("expected %s, found %q", what, c)
	}
	l.pos++
	if c, err = l.peek(); err != nil {
		return false, l.wrapEOF(err, "in "+what)
	}
	if c == end {
		l.pos++
		return true, nil
	}
	return false, nil
}

// next consumes the separator after a member or element: more is true after ',' and false
// after the closing end byte.
func (l *lexer) next(end byte, what string) (more bool, err error) {
	c, err := l.peek()
	if err == nil && (c == ',' || c == end) {
		l.pos++
		return c == ',', nil
	}
	return false, l.separatorError(c, err, end, what)
}

func (l *lexer) separatorError(c byte, err error, end byte, what string) error {
	if err != nil {
		return l.wrapEOF(err, "in "+what)
	}
	return l.errorf("expected ',' or '%c' in %s, found %q", end, what, c)
}

// str reads a string value (null reads as "").
func (l *lexer) str() (string, error) {
	c, err := l.peek()
	if err != nil {
		return "", l.wrapEOF(err, "expected a string")
	}
	if c == 'n' {
		return "", l.literal("null")
	}
	b, err := l.stringBytes(l.strBuf[:0])
	if err != nil {
		return "", err
	}
	l.strBuf = b
	if len(b) > maxInternLen {
		return string(b), nil
	}
	if s, ok := l.intern[string(b)]; ok {
		return s, nil
	}
	s := string(b)
	if len(l.intern) < maxInternEntries {
		l.intern[s] = s
	}
	return s, nil
}

// integer reads an integer value (null reads as 0).
func (l *lexer) integer() (int, error) {
	c, err := l.peek()
	if err != nil {
		return 0, l.wrapEOF(err, "expected a number")
	}
	if c == 'n' {
		return 0, l.literal("null")
	}
	if c != '-' && (c < '0' || c > '9') {
		return 0, l.errorf("expected a number, found %q", c)
	}
	start := l.offset()
	num, err := l.number()
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return 0, fmt.Errorf("%w at offset %d: expected an integer, found %s", errSyntax, start, num)
	}
	return n, nil
}

// stringBytes reads a string token, appending its decoded bytes to dst. The fast path
// copies; escapes are decoded by encoding/json.
func (l *lexer) stringBytes(dst []byte) ([]byte, error) {
	c, err := l.peek()
	if err != nil {
		return nil, l.wrapEOF(err, "expected a string")
	}
	if c != '"' {
		return nil, l.errorf("expected a string, found %q", c)
	}
	l.pos++
	escaped := false
	start := len(dst)
	dst = append(dst, '"')
	for {
		i := l.pos
		for i < len(l.buf) && plain[l.buf[i]] {
			i++
		}
		dst = append(dst, l.buf[l.pos:i]...)
		l.pos = i
		if i == len(l.buf) {
			if !l.fill() {
				return nil, l.wrapEOF(io.ErrUnexpectedEOF, "in a string")
			}
			continue
		}
		c := l.buf[i]
		switch {
		case c == '"':
			l.pos++
			if !escaped {
				return dst[:start+copy(dst[start:], dst[start+1:])], nil
			}
			dst = append(dst, '"')
			var s string
			if err := json.Unmarshal(dst[start:], &s); err != nil {
				return nil, l.errorf("bad string: %v", err)
			}
			return append(dst[:start], s...), nil
		case c == '\\':
			escaped = true
			for len(l.buf)-l.pos < 2 {
				if !l.fill() {
					return nil, l.wrapEOF(io.ErrUnexpectedEOF, "in a string")
				}
			}
			dst = append(dst, l.buf[l.pos], l.buf[l.pos+1])
			l.pos += 2
		default:
			return nil, l.errorf("control character 0x%02x in a string", c)
		}
	}
}

// skipString consumes a string token without keeping it, checking escapes.
func (l *lexer) skipString() error {
	l.pos++ // the opening quote, checked by the caller
	for {
		i := l.pos
		for i < len(l.buf) && plain[l.buf[i]] {
			i++
		}
		l.pos = i
		if i == len(l.buf) {
			if !l.fill() {
				return l.wrapEOF(io.ErrUnexpectedEOF, "in a string")
			}
			continue
		}
		switch c := l.buf[i]; {
		case c == '"':
			l.pos++
			return nil
		case c == '\\':
			for len(l.buf)-l.pos < 2 {
				if !l.fill() {
					return l.wrapEOF(io.ErrUnexpectedEOF, "in a string")
				}
			}
			switch e := l.buf[l.pos+1]; e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				l.pos += 2
			case 'u':
				for len(l.buf)-l.pos < 6 {
					if !l.fill() {
						return l.wrapEOF(io.ErrUnexpectedEOF, "in a string")
					}
				}
				for _, h := range l.buf[l.pos+2 : l.pos+6] {
					if !isHex(h) {
						return l.errorf("bad \\u escape in a string")
					}
				}
				l.pos += 6
			default:
				return l.errorf("bad escape \\%c in a string", e)
			}
		default:
			return l.errorf("control character 0x%02x in a string", c)
		}
	}
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// number reads a number token and returns its text, validated.
func (l *lexer) number() (string, error) {
	tok := l.numBuf[:0]
	defer func() { l.numBuf = tok[:0] }()
	for {
		for l.pos < len(l.buf) {
			c := l.buf[l.pos]
			if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
				tok = append(tok, c)
				l.pos++
				continue
			}
			goto done
		}
		if !l.fill() {
			break
		}
	}
done:
	s := string(tok)
	if !validNumber(s) {
		return "", l.errorf("bad number %q", s)
	}
	return s, nil
}

// validNumber checks the JSON number grammar.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i == len(s) {
		return false
	}
	switch {
	case s[i] == '0':
		i++
	case s[i] >= '1' && s[i] <= '9':
		i = digits(s, i)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		j := digits(s, i)
		if j == i {
			return false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(s, i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(s)
}

// digits returns the index after the run of decimal digits starting at s[i].
func digits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

func (l *lexer) literal(word string) error {
	for len(l.buf)-l.pos < len(word) {
		if !l.fill() {
			return l.wrapEOF(io.ErrUnexpectedEOF, "expected "+word)
		}
	}
	if string(l.buf[l.pos:l.pos+len(word)]) != word {
		return l.errorf("expected %s", word)
	}
	l.pos += len(word)
	return nil
}

// skip consumes one value of any kind.
func (l *lexer) skip() error { return l.skipDepth(0) }

func (l *lexer) skipDepth(depth int) error {
	if depth > maxDepth {
		return l.errorf("nesting deeper than %d", maxDepth)
	}
	c, err := l.peek()
	if err != nil {
		return l.wrapEOF(err, "expected a value")
	}
	switch {
	case c == '"':
		return l.skipString()
	case c == '{':
		return l.object(func([]byte) error { return l.skipDepth(depth + 1) })
	case c == '[':
		return l.array(func(int) error { return l.skipDepth(depth + 1) })
	case c == 't':
		return l.literal("true")
	case c == 'f':
		return l.literal("false")
	case c == 'n':
		return l.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := l.number()
		return err
	}
	return l.errorf("unexpected %q", c)
}
