package healthcheck

import (
	"errors"
	"strings"
)

// ErrUnterminatedQuote is returned by SplitCommand for an open quote.
var ErrUnterminatedQuote = errors.New("unterminated quote")

// SplitCommand splits a command line into argv the way a POSIX shell splits
// words: blanks separate words, single quotes keep everything literally,
// double quotes keep blanks and honour \" \\ \$ \`, and a backslash outside
// quotes escapes the next character. Nothing is expanded: MISC_CHECK runs
// the program directly, without a shell.
func SplitCommand(line string) ([]string, error) {
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
