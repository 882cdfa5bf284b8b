// Package cmdline turns the script lines of keepalived.conf (misc_path,
// notify_*, vrrp_script, quorum_up/down) into argv, one rule for all of
// them: split like a POSIX shell splits words, and hand the line to /bin/sh
// only when it uses shell syntax.
package cmdline

import (
	"errors"
	"strings"
)

// ErrUnterminatedQuote is returned by Split for an open quote.
var ErrUnterminatedQuote = errors.New("unterminated quote")

// ErrEmpty is returned by Argv for a line with no words.
var ErrEmpty = errors.New("empty command")

// ShellChars are the characters that make a command line need /bin/sh
// (pipes, redirections, lists, variables, globs, comments).
const ShellChars = "|&;<>()$`*?[]#~{}\n"

// Argv is the argv that runs line: ["/bin/sh", "-c", line] when the line
// uses shell syntax (shell is then true), else the words of Split, run
// directly without a shell.
func Argv(line string) (argv []string, shell bool, err error) {
	if strings.TrimSpace(line) == "" {
		return nil, false, ErrEmpty
	}
	if strings.ContainsAny(line, ShellChars) {
		return []string{"/bin/sh", "-c", line}, true, nil
	}
	argv, err = Split(line)
	return argv, false, err
}

// Split splits a command line into argv the way a POSIX shell splits
// words: blanks separate words, single quotes keep everything literally,
// double quotes keep blanks and honour \" \\ \$ \`, and a backslash outside
// quotes escapes the next character. Nothing is expanded.
func Split(line string) ([]string, error) {
	var (
		args  []string
		cur   strings.Builder
		inArg bool
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		case c == '\\':
			inArg = true
			if i+1 < len(line) {
				i++
				if line[i] != '\n' {
					cur.WriteByte(line[i])
				}
			}
		case c == '\'':
			inArg = true
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, ErrUnterminatedQuote
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			inArg = true
			closed := false
			for i++; i < len(line); i++ {
				d := line[i]
				if d == '"' {
					closed = true
					break
				}
				if d == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`\n", line[i+1]) >= 0 {
					i++
					if line[i] != '\n' {
						cur.WriteByte(line[i])
					}
					continue
				}
				cur.WriteByte(d)
			}
			if !closed {
				return nil, ErrUnterminatedQuote
			}
		default:
			inArg = true
			cur.WriteByte(c)
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}
