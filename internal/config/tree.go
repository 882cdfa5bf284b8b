package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// node is one statement: a keyword, its arguments and, for blocks, its
// children. Brace positions are kept for messages about the block.
type node struct {
	key      token
	args     []token
	block    bool
	children []*node
}

func (n *node) pos() Position { return n.key.pos() }

// FileSystem is what the loader reads files through; the default is the
// operating system. Tests and the fuzzer use an in-memory one.
type FileSystem interface {
	ReadFile(name string) ([]byte, error)
	Glob(pattern string) ([]string, error)
}

type osFS struct{}

func (osFS) ReadFile(name string) ([]byte, error)  { return os.ReadFile(name) }
func (osFS) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

// treeBuilder turns files into statement trees, expanding includes.
type treeBuilder struct {
	fs        FileSystem
	diag      *diagnostics
	maxDepth  int // include nesting
	maxBlocks int // block nesting
	maxBytes  int64
	maxFiles  int
	total     int64
	files     int
	stack     []string // files being read, for loop detection
	pp        *preprocessor
	order     map[string]int
	// exhausted is set once a size limit was hit: later includes are
	// skipped silently, so a hostile file costs one error, not millions.
	exhausted bool
}

// file reads and parses one file at include depth len(stack).
func (b *treeBuilder) file(name string, from Position) []*node {
	for _, f := range b.stack {
		if f == name {
			b.diag.errorf(from, "include loop: %s includes itself (via %s)", name, strings.Join(b.stack, " -> "))
			return nil
		}
	}
	if len(b.stack) > b.maxDepth {
		b.diag.errorf(from, "includes nested deeper than %d levels", b.maxDepth)
		return nil
	}
	if b.exhausted {
		return nil
	}
	if b.files >= b.maxFiles {
		b.diag.errorf(from, "more than %d files included", b.maxFiles)
		b.exhausted = true
		return nil
	}
	b.files++
	src, err := b.fs.ReadFile(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			b.diag.errorf(from, "included file %s does not exist", name)
		} else {
			b.diag.errorf(from, "cannot read included file: %v", err)
		}
		return nil
	}
	return b.source(name, src, from)
}

// source parses the contents of one file.
func (b *treeBuilder) source(name string, src []byte, from Position) []*node {
	if _, ok := b.order[name]; !ok {
		b.order[name] = len(b.order)
	}
	b.total += int64(len(src))
	if b.total > b.maxBytes {
		b.diag.errorf(from, "configuration larger than %d bytes in total", b.maxBytes)
		b.exhausted = true
		return nil
	}
	b.stack = append(b.stack, name)
	defer func() { b.stack = b.stack[:len(b.stack)-1] }()
	lx := newLexer(name, src, b.diag)
	if b.pp != nil && b.pp.needsPreprocessing(src) {
		text, lines := b.pp.run(name, src)
		lx = newLexer(name, text, b.diag)
		lx.lineMap = lines
	}
	toks := lx.tokens()
	p := &treeParser{b: b, toks: toks, dir: filepath.Dir(name)}
	nodes := p.list(0)
	return nodes
}

type treeParser struct {
	b    *treeBuilder
	toks []token
	i    int
	dir  string
	// slab hands out nodes in chunks: one allocation per 128 statements.
	slab []node
}

func (p *treeParser) newNode() *node {
	if len(p.slab) == 0 {
		p.slab = make([]node, 128)
	}
	n := &p.slab[0]
	p.slab = p.slab[1:]
	return n
}

func (p *treeParser) peek() token { return p.toks[p.i] }
func (p *treeParser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *treeParser) skipNewlines() {
	for p.peek().kind == tokNewline {
		p.i++
	}
}

// list parses statements until a closing brace (depth > 0) or EOF.
func (p *treeParser) list(depth int) []*node {
	var out []*node
	for {
		p.skipNewlines()
		t := p.peek()
		switch t.kind {
		case tokEOF:
			return out
		case tokRBrace:
			if depth > 0 {
				return out
			}
			p.b.diag.errorf(t.pos(), "unexpected '}' (no block is open)")
			p.next()
			continue
		case tokLBrace:
			p.b.diag.errorf(t.pos(), "unexpected '{' (a block must follow a keyword)")
			p.next()
			// Parse and drop the block so its contents are not misread.
			p.block(depth + 1)
			continue
		}
		n := p.statement(depth)
		if n == nil {
			continue
		}
		if n.key.text == "include" && !n.key.quoted && !n.block {
			out = append(out, p.include(n)...)
			continue
		}
		out = append(out, n)
	}
}

// statement parses KEY ARGS... [ { ... } ].
func (p *treeParser) statement(depth int) *node {
	n := p.newNode()
	n.key = p.next()
	// The arguments are consecutive tokens: share them with the token
	// slice instead of copying (capacity capped, so an append copies).
	from := p.i
	for {
		t := p.peek()
		switch t.kind {
		case tokWord:
			p.next()
			n.args = p.toks[from:p.i:p.i]
			continue
		case tokLBrace:
			p.next()
			n.block = true
			n.children = p.block(depth + 1)
			return n
		case tokNewline:
			// A brace alone on the following line opens this statement's block.
			j := p.i
			for p.toks[j].kind == tokNewline {
				j++
			}
			if p.toks[j].kind == tokLBrace {
				p.i = j + 1
				n.block = true
				n.children = p.block(depth + 1)
				return n
			}
			p.next()
			return n
		default: // '}' or EOF ends the statement; the caller handles it
			return n
		}
	}
}

// block parses the contents of a block whose '{' was consumed, and its '}'.
func (p *treeParser) block(depth int) []*node {
	open := p.toks[p.i-1].pos()
	if depth > p.b.maxBlocks {
		p.b.diag.errorf(open, "blocks nested deeper than %d levels", p.b.maxBlocks)
		// Skip to the matching brace without recursing.
		level := 1
		for {
			t := p.next()
			switch t.kind {
			case tokLBrace:
				level++
			case tokRBrace:
				level--
				if level == 0 {
					return nil
				}
			case tokEOF:
				return nil
			}
		}
	}
	children := p.list(depth)
	if t := p.peek(); t.kind == tokRBrace {
		p.next()
	} else {
		p.b.diag.errorf(open, "block opened here is never closed (missing '}')")
	}
	return children
}

// include expands "include GLOB": files matching GLOB (relative to the
// including file's directory), in lexical order, parsed as statements at
// the current block level.
func (p *treeParser) include(n *node) []*node {
	if len(n.args) != 1 {
		p.b.diag.errorf(n.pos(), "include takes exactly one file name or glob pattern")
		return nil
	}
	pattern := n.args[0].text
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(p.dir, pattern)
	}
	var names []string
	if strings.ContainsAny(pattern, "*?[") {
		m, err := p.b.fs.Glob(pattern)
		if err != nil {
			p.b.diag.errorf(n.args[0].pos(), "bad include pattern %q: %v", n.args[0].text, err)
			return nil
		}
		if len(m) == 0 {
			p.b.diag.warnf(n.args[0].pos(), "include %q matches no file", n.args[0].text)
		}
		names = m
	} else {
		names = []string{pattern}
	}
	sort.Strings(names)
	var out []*node
	for _, name := range names {
		out = append(out, p.b.file(filepath.Clean(name), n.args[0].pos())...)
	}
	return out
}
