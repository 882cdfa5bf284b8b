package config

import (
	"strings"
	"unicode/utf8"
)

type tokenKind uint8

const (
	tokWord tokenKind = iota
	tokLBrace
	tokRBrace
	tokNewline
	tokEOF
)

// token is one lexical element. Quoted is set for words written in double
// quotes (so that "{" is a word, not a brace). Glued is set for a quoted
// word that directly follows a bare word without a space, a frequent typo
// (notify_"/path/script") that keepalived silently mis-reads.
type token struct {
	text   string
	at     tokPos
	kind   tokenKind
	quoted bool
	glued  bool
}

// tokPos is a Position in 16 bytes instead of 32: a file has hundreds
// of thousands of tokens, and they all live until the file is decoded.
type tokPos struct {
	file      *string
	line, col int32
}

func (t token) pos() Position { return t.at.position() }

func (p tokPos) position() Position {
	if p.file == nil {
		return Position{Line: int(p.line), Col: int(p.col)}
	}
	return Position{File: *p.file, Line: int(p.line), Col: int(p.col)}
}

// lexer splits one file into tokens. It never fails: problems (an
// unterminated quote, a bad byte) are recorded as diagnostics and lexing
// continues, so one pass reports everything.
type lexer struct {
	file *string // shared by the positions of all tokens
	// lineMap maps the lines of src to those of the file when src is the
	// preprocessor's output (nil: the same).
	lineMap []int32
	src     []byte
	// text is src as one string: bare words are substrings of it, so a
	// file of 100,000 words costs one allocation, not 100,000.
	text string
	off  int
	line int
	col  int
	diag *diagnostics
}

func newLexer(file string, src []byte, diag *diagnostics) *lexer {
	return &lexer{file: &file, src: src, text: string(src), line: 1, col: 1, diag: diag}
}

func (l *lexer) pos() tokPos {
	line := int32(l.line)
	if l.lineMap != nil {
		if l.line-1 < len(l.lineMap) {
			line = l.lineMap[l.line-1]
		} else if len(l.lineMap) > 0 {
			line = l.lineMap[len(l.lineMap)-1] + 1
		}
	}
	return tokPos{file: l.file, line: line, col: int32(l.col)}
}

func (l *lexer) advance() {
	if l.src[l.off] == '\n' {
		l.line++
		l.col = 1
	} else {
		l.col++
	}
	l.off++
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' }

// tokens lexes the whole input.
func (l *lexer) tokens() []token {
	// Typical files have one token per 4-6 bytes; sizing for that up
	// front saves the copies of a growing slice of large tokens.
	out := make([]token, 0, len(l.src)/5+16)
	prevBareEnd := -1 // offset just after the last bare word
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == '\n':
			out = append(out, token{kind: tokNewline, at: l.pos()})
			l.advance()
		case isSpace(c):
			l.advance()
		case c == '#' || c == '!':
			for l.off < len(l.src) && l.src[l.off] != '\n' {
				l.advance()
			}
		case c == '{':
			out = append(out, token{kind: tokLBrace, at: l.pos(), text: "{"})
			l.advance()
		case c == '}':
			out = append(out, token{kind: tokRBrace, at: l.pos(), text: "}"})
			l.advance()
		case c == '"':
			glued := prevBareEnd == l.off
			t := l.quoted()
			t.glued = glued
			out = append(out, t)
		default:
			out = append(out, l.bare())
			prevBareEnd = l.off
		}
	}
	out = append(out, token{kind: tokEOF, at: l.pos()})
	return out
}

func (l *lexer) quoted() token {
	start := l.pos()
	l.advance() // opening quote
	var b strings.Builder
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch c {
		case '"':
			l.advance()
			return token{kind: tokWord, at: start, text: l.valid(start, b.String()), quoted: true}
		case '\n':
			l.diag.errorf(start.position(), "unterminated quoted string (a quoted string must end on the same line)")
			return token{kind: tokWord, at: start, text: l.valid(start, b.String()), quoted: true}
		case '\\':
			if l.off+1 < len(l.src) && (l.src[l.off+1] == '"' || l.src[l.off+1] == '\\') {
				l.advance()
				c = l.src[l.off]
			}
		}
		b.WriteByte(c)
		l.advance()
	}
	l.diag.errorf(start.position(), "unterminated quoted string (a quoted string must end on the same line)")
	return token{kind: tokWord, at: start, text: l.valid(start, b.String()), quoted: true}
}

// valid reports text that is not UTF-8 (it could not be dumped as JSON
// faithfully) and returns a repaired copy.
func (l *lexer) valid(pos tokPos, text string) string {
	if utf8.ValidString(text) {
		return text
	}
	l.diag.errorf(pos.position(), "invalid UTF-8 in %q", text)
	return strings.ToValidUTF8(text, "\uFFFD")
}

func (l *lexer) bare() token {
	start := l.pos()
	from := l.off
	for l.off < len(l.src) {
		c := l.src[l.off]
		if c == '\n' || isSpace(c) || c == '{' || c == '}' || c == '"' || c == '#' || c == '!' {
			break
		}
		l.advance()
	}
	return token{kind: tokWord, at: start, text: l.valid(start, l.text[from:l.off])}
}
