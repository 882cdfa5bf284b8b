// Package trackfile reads and watches keepalived track files: files that
// hold one integer which an operator (or a program) writes to change a VRRP
// instance's priority (vrrp/tracking.go) or a real server's weight
// (healthcheck FILE_CHECK).
//
// The semantics follow keepalived 2.2.7, keepalived/trackers/track_file.c:
// the value is the leading integer of the file's first 127 bytes, read the
// way strtol(buf, NULL, 0) reads it (decimal, 0x hex or 0 octal, leading
// white space and sign allowed); a missing, unreadable or empty file, or
// text that is not a number, counts as 0; a number outside the 32-bit range
// is ignored (the previous value stays). The directory of the file is
// watched with inotify for IN_CLOSE_WRITE, IN_DELETE and IN_MOVE, so a file
// that is written, created, renamed into place or removed is read again at
// once; a removed or renamed-away file counts as 0.
package trackfile

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrOutOfRange is returned by Read for a number outside the 32-bit range:
// keepalived logs "Invalid number" and keeps the previous value.
var ErrOutOfRange = errors.New("track file value out of range")

// maxRead is how much of the file is read (keepalived reads 127 bytes).
const maxRead = 127

// Read returns the value of the track file at path. A missing or
// unreadable file is 0 with no error, as in keepalived; only an
// out-of-range number is an error (wrapping ErrOutOfRange).
func Read(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil
	}
	defer f.Close()
	buf := make([]byte, maxRead)
	n, _ := io.ReadFull(f, buf)
	return Parse(string(buf[:n]))
}

// Parse reads the leading integer of s as C's strtol with base 0 does:
// text that is not a number is 0.
func Parse(s string) (int64, error) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	base := 10
	switch {
	case len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isDigit(s[2], 16):
		base, s = 16, s[2:]
	case len(s) > 0 && s[0] == '0':
		base = 8
	}
	end := 0
	for end < len(s) && isDigit(s[end], base) {
		end++
	}
	if end == 0 {
		return 0, nil
	}
	u, err := strconv.ParseUint(s[:end], base, 64)
	if err != nil || u > math.MaxInt32+1 {
		return 0, fmt.Errorf("%w: %s", ErrOutOfRange, s[:end])
	}
	v := int64(u)
	if neg {
		v = -v
	}
	// keepalived accepts INT32_MIN..INT32_MAX+1.
	if v < math.MinInt32 {
		return 0, fmt.Errorf("%w: -%s", ErrOutOfRange, s[:end])
	}
	return v, nil
}

func isDigit(c byte, base int) bool {
	switch {
	case c >= '0' && c <= '9':
		return int(c-'0') < base
	case c >= 'a' && c <= 'f':
		return base == 16
	case c >= 'A' && c <= 'F':
		return base == 16
	}
	return false
}

// InitMode is what init_file asks for when the file is set up.
type InitMode uint8

// Init modes of a track_file block's init_file line.
const (
	// NoInit: no init_file line; the file is left alone.
	NoInit InitMode = iota
	// InitCreate writes the value only when the file does not exist.
	InitCreate
	// InitOverwrite ("init_file ... overwrite") writes the value at start
	// even over an existing regular file (never on a reload).
	InitOverwrite
)

// Init writes value (and a newline) to path as init_file says:
// keepalived 2.2.7 track_file.c, track_file_end_handler. reload is true
// when the file is set up again by a configuration reload, which never
// overwrites an existing file. An existing file that is not a regular file
// is an error.
func Init(path string, mode InitMode, value int, reload bool) error {
	if mode == NoInit {
		return nil
	}
	st, err := os.Stat(path)
	if err == nil {
		if mode == InitCreate || reload {
			return nil
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("init_file %s: not a regular file", path)
		}
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(value)+"\n"), 0o644); err != nil {
		return fmt.Errorf("init_file: %w", err)
	}
	return nil
}

// Resolve returns the absolute path the watcher uses for path: symbolic
// links resolved (of the file if it exists, else of its directory), as
// keepalived's init_track_files does with realpath. The directory must
// exist.
func Resolve(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("track file %s: %w", path, err)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("track file %s: %w", path, err)
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return "", fmt.Errorf("track file %s: directory: %w", path, err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", fmt.Errorf("track file %s: %s is not a directory", path, dir)
	}
	return filepath.Join(dir, filepath.Base(abs)), nil
}
