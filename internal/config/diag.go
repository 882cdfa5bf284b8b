// Package config reads the keepalived.conf dialect lvsctl understands: it
// lexes and parses the file and its includes, validates everything at once
// and yields a typed Config with keepalived's defaults filled in. Every
// problem is reported as "FILE:LINE:COL: message".
package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Position is a place in a configuration file. Line and Col are 1-based;
// Col counts bytes.
type Position struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

// String formats the position as FILE:LINE:COL.
func (p Position) String() string {
	// Called for every real server when converting for the director:
	// strconv, not fmt.
	b := make([]byte, 0, len(p.File)+16)
	b = append(b, p.File...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(p.Line), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(p.Col), 10)
	return string(b)
}

// MarshalText writes the position as FILE:LINE:COL (empty when unset),
// which keeps JSON dumps short.
func (p Position) MarshalText() ([]byte, error) {
	if !p.IsValid() && p.File == "" {
		return []byte{}, nil
	}
	return []byte(p.String()), nil
}

// UnmarshalText parses FILE:LINE:COL; FILE may itself contain colons.
func (p *Position) UnmarshalText(b []byte) error {
	s := string(b)
	if s == "" {
		*p = Position{}
		return nil
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return fmt.Errorf("position %q: want FILE:LINE:COL", s)
	}
	j := strings.LastIndexByte(s[:i], ':')
	if j < 0 {
		return fmt.Errorf("position %q: want FILE:LINE:COL", s)
	}
	line, err1 := strconv.Atoi(s[j+1 : i])
	col, err2 := strconv.Atoi(s[i+1:])
	if err1 != nil || err2 != nil {
		return fmt.Errorf("position %q: want FILE:LINE:COL", s)
	}
	*p = Position{File: s[:j], Line: line, Col: col}
	return nil
}

// IsValid reports whether the position points into a file.
func (p Position) IsValid() bool { return p.Line > 0 }

// Severity tells errors from warnings.
type Severity int

// Severities.
const (
	SeverityError Severity = iota
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one problem found in a configuration.
type Diagnostic struct {
	Pos      Position `json:"pos"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// String formats the diagnostic: "FILE:LINE:COL: message" for errors,
// "FILE:LINE:COL: warning: message" for warnings.
func (d Diagnostic) String() string {
	if d.Severity == SeverityWarning {
		return fmt.Sprintf("%s: warning: %s", d.Pos, d.Message)
	}
	return fmt.Sprintf("%s: %s", d.Pos, d.Message)
}

// ErrorList is the error Load returns when a configuration is invalid: every
// error found, in file order. Use errors.As to get at the list.
type ErrorList []Diagnostic

// Error joins all errors, one per line.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, d := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return b.String()
}
