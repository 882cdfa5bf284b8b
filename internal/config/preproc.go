package config

import (
	"bytes"
	"strings"
)

// The keepalived preprocessor, as keepalived 2.2.7 runs it on every line
// before parsing it (lib/parser.c: read_line, check_definition,
// find_definition, replace_param):
//
//   - "@ID rest" keeps "rest" when ID is the config id (keepalived -i,
//     lvsctl --config-id; default: the host name up to its first dot),
//     "@^ID rest" when it is not; other lines starting with '@' are
//     dropped.
//   - "$NAME=value" defines NAME; a value ending in '\' continues on the
//     next lines (a multi-line definition).
//   - "$NAME" (followed by a blank, ',', ')' or the end of the line) and
//     "${NAME}" are replaced by the value; a multi-line definition only
//     when the reference is the whole line, which it replaces by its
//     lines. A replacement is scanned again, so values may refer to other
//     definitions.
//
// lvsctl runs it on each file before lexing; positions stay those of the
// source lines (columns after a substitution are those of the expanded
// line). Definitions carry over to the files read after the one that
// made them. keepalived's built-in definitions (${_PWD}, ${_RANDOM} ...)
// and ~SEQ/~LST are not supported: they are reported by the decoder.

// Bounds of the expansion, so that self-referring or exponentially
// nested definitions cost one error, not the machine: substitutions per
// line ($A=$A loops), nesting of multi-line definitions, the length of an
// expanded line (keepalived: "would exceed maximum line length").
const (
	maxExpansions  = 64
	maxNesting     = 16
	maxExpandedLen = 64 << 10
	// maxLineWork bounds the lines one source line may expand into,
	// through nested multi-line definitions.
	maxLineWork = 1 << 16
)

// definition is one $NAME=value.
type definition struct {
	lines []string // one line unless multi-line
}

// preprocessor holds the definitions of one load.
type preprocessor struct {
	configID string
	defs     map[string]definition
	diag     *diagnostics
	// budget is how many more bytes expansions may produce in this load
	// (the loader's size limit); exhausted stops expanding.
	budget    int64
	exhausted bool
	work      int // lines expanded from the current source line
}

// needsPreprocessing reports whether src has a line starting with '@' or
// '$', or a '$' anywhere once something is defined: files without
// either skip the line pass.
func (pp *preprocessor) needsPreprocessing(src []byte) bool {
	if len(pp.defs) > 0 || bytes.Contains(src, []byte("${")) {
		return bytes.IndexByte(src, '$') >= 0
	}
	for line := range bytes.SplitSeq(src, []byte("\n")) {
		t := bytes.TrimLeft(line, " \t")
		if len(t) > 0 && (t[0] == '@' || t[0] == '$') {
			return true
		}
	}
	return false
}

// run preprocesses one file. It returns the text to lex and, for each of
// its lines, the 1-based line of src it comes from.
func (pp *preprocessor) run(name string, src []byte) ([]byte, []int32) {
	var out bytes.Buffer
	out.Grow(len(src))
	var lineMap []int32
	emit := func(text string, from int) {
		out.WriteString(text)
		out.WriteByte('\n')
		lineMap = append(lineMap, int32(from))
	}
	var multi *definition // a multi-line definition being read
	var multiName string
	lines := strings.Split(string(src), "\n")
	for i, raw := range lines {
		lineNo := i + 1
		if i == len(lines)-1 && raw == "" {
			break
		}
		line := strings.TrimRight(raw, "\r")
		if multi != nil {
			t := strings.TrimSpace(line)
			cont := strings.HasSuffix(t, "\\")
			if cont {
				t = strings.TrimSpace(strings.TrimSuffix(t, "\\"))
			}
			if t != "" {
				multi.lines = append(multi.lines, t)
			}
			if !cont {
				pp.defs[multiName] = *multi
				multi = nil
			}
			emit("", lineNo)
			continue
		}
		expanded, def := pp.line(name, line, lineNo)
		if def != nil {
			multiName, multi = def.name, &definition{lines: def.first}
			if !def.more {
				pp.defs[multiName] = *multi
				multi = nil
			}
			emit("", lineNo)
			continue
		}
		for _, l := range expanded {
			if !pp.spend(name, lineNo, len(l)-len(line)) {
				emit("", lineNo)
				continue
			}
			emit(l, lineNo)
		}
	}
	if multi != nil {
		pp.defs[multiName] = *multi
	}
	return out.Bytes(), lineMap
}

// spend takes n bytes of expansion from the budget; false (reported
// once) when it is exhausted.
func (pp *preprocessor) spend(file string, lineNo, n int) bool {
	if pp.exhausted {
		return false
	}
	pp.budget -= int64(max(n, 0))
	if pp.budget < 0 {
		pp.exhausted = true
		pp.diag.errorf(Position{File: file, Line: lineNo, Col: 1}, "parameter substitutions make the configuration larger than the size limit")
		return false
	}
	return true
}

// newDef is a definition line just read.
type newDef struct {
	name  string
	first []string
	more  bool // ends in '\': continues on the next lines
}

// line preprocesses one line: it returns the lines it becomes (none when
// dropped), or the definition it makes.
func (pp *preprocessor) line(file, line string, lineNo int) ([]string, *newDef) {
	pp.work = 0
	return pp.lineDepth(file, line, lineNo, 0)
}

func (pp *preprocessor) lineDepth(file, line string, lineNo, depth int) ([]string, *newDef) {
	pp.work++
	if pp.work > maxLineWork {
		if pp.work == maxLineWork+1 {
			pp.diag.errorf(Position{File: file, Line: lineNo, Col: 1}, "this line expands into more than %d lines", maxLineWork)
		}
		return nil, nil
	}
	cur := []string{line}
	for range maxExpansions {
		if len(cur) > 1 {
			// The lines of a multi-line definition are read as lines
			// of the file in turn.
			if depth >= maxNesting {
				pp.diag.errorf(Position{File: file, Line: lineNo, Col: 1}, "multi-line definitions nested deeper than %d levels", maxNesting)
				return nil, nil
			}
			var out []string
			for _, l := range cur {
				sub, _ := pp.lineDepth(file, l, lineNo, depth+1)
				out = append(out, sub...)
			}
			return out, nil
		}
		t := strings.TrimLeft(cur[0], " \t")
		if t == "" || t[0] == '#' || t[0] == '!' {
			return cur, nil
		}
		changed := false
		if t[0] == '@' {
			rest, keep := pp.conditional(t)
			if !keep || rest == "" {
				return nil, nil
			}
			// Blank out "@ID" instead of removing it, so the columns
			// of the rest stay those of the file.
			cur[0] = strings.Repeat(" ", len(cur[0])-len(rest)) + rest
			t, changed = rest, true
		}
		if t[0] == '$' {
			if d := parseDefinition(t); d != nil {
				return nil, d
			}
		}
		if !strings.Contains(t, "$") {
			return cur, nil
		}
		repl, ok := pp.substitute(t, func(i int, ref string) {
			pp.diag.errorf(Position{File: file, Line: lineNo, Col: len(cur[0]) - len(t) + i + 1},
				"%s is not defined: keepalived would use the text %q as it is; define it with $%s=VALUE before this line", ref, ref, strings.Trim(ref, "${}"))
		})
		if !ok {
			if changed {
				continue
			}
			return cur, nil
		}
		for _, l := range repl {
			if len(l) > maxExpandedLen {
				pp.diag.errorf(Position{File: file, Line: lineNo, Col: 1}, "a substitution makes this line longer than %d bytes", maxExpandedLen)
				return nil, nil
			}
		}
		cur = repl
	}
	pp.diag.errorf(Position{File: file, Line: lineNo, Col: 1}, "more than %d substitutions on one line: a definition refers to itself", maxExpansions)
	return nil, nil
}

// conditional handles "@ID rest" and "@^ID rest".
func (pp *preprocessor) conditional(t string) (string, bool) {
	id, rev := t[1:], false
	if strings.HasPrefix(id, "^") {
		id, rev = id[1:], true
	}
	end := strings.IndexAny(id, " \t")
	if end < 0 {
		return "", false // nothing after the id: keepalived drops the line
	}
	match := id[:end] == pp.configID
	if match == rev {
		return "", false
	}
	return strings.TrimLeft(id[end:], " \t"), true
}

// parseDefinition reads "$NAME=value" ("$NAME =value" too), nil if t is
// not a definition.
func parseDefinition(t string) *newDef {
	i := 1
	if i >= len(t) || !(isAlpha(t[i]) || t[i] == '_') {
		return nil
	}
	for i < len(t) && (isAlnum(t[i]) || t[i] == '_') {
		i++
	}
	name := t[1:i]
	rest := strings.TrimLeft(t[i:], " \t")
	if !strings.HasPrefix(rest, "=") {
		return nil
	}
	value := strings.TrimSpace(rest[1:])
	d := &newDef{name: name}
	if strings.HasSuffix(value, "\\") {
		d.more = true
		value = strings.TrimSpace(strings.TrimSuffix(value, "\\"))
	}
	if value != "" {
		d.first = []string{value}
	}
	return d
}

// substitute replaces the first defined $NAME / ${NAME} of t; ok is false
// when t refers to no definition.
// undefined is called for an undefined ${NAME}, which is then replaced by
// a quoted placeholder: its braces must not be read as a block, and the
// error is reported once.
func (pp *preprocessor) substitute(t string, undefined func(at int, ref string)) ([]string, bool) {
	for i := 0; i < len(t); i++ {
		if t[i] != '$' || i+1 >= len(t) {
			continue
		}
		braces := t[i+1] == '{'
		start := i + 1
		if braces {
			start++
		}
		j := start
		if j >= len(t) || !(isAlpha(t[j]) || t[j] == '_') {
			continue
		}
		for j < len(t) && (isAlnum(t[j]) || t[j] == '_') {
			j++
		}
		end := j
		if braces {
			if j >= len(t) || t[j] != '}' {
				continue
			}
			end = j + 1
		} else if j < len(t) && !strings.ContainsRune(" \t,)", rune(t[j])) {
			continue
		}
		def, ok := pp.defs[t[start:j]]
		if !ok {
			if braces {
				undefined(i, t[i:end])
				return []string{t[:i] + `"undefined ` + t[start:j] + `"` + t[end:]}, true
			}
			continue
		}
		if len(def.lines) > 1 {
			// keepalived expands a multi-line definition only when it
			// is the whole line.
			if strings.TrimSpace(t[:i]) != "" || strings.TrimSpace(t[end:]) != "" {
				continue
			}
			return append([]string(nil), def.lines...), true
		}
		value := ""
		if len(def.lines) == 1 {
			value = def.lines[0]
		}
		return []string{t[:i] + value + t[end:]}, true
	}
	return nil, false
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isAlpha(c) || c >= '0' && c <= '9' }
