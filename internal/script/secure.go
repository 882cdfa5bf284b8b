package script

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/lvsctl/lvsctl/internal/cmdline"
)

// ErrInsecure is wrapped by Secure's error (and so by Run's) when a script
// that runs as root could be modified by a non-root user.
var ErrInsecure = errors.New("script is not secure")

// Path is the file the command executes: Argv[0], or for a shell line
// its first word (keepalived's args[0]); "" when there is none to check
// (a "</file" openability test, an empty line).
func (c Command) Path() string {
	var first string
	switch {
	case !c.Shell && len(c.Argv) > 0:
		first = c.Argv[0]
	default:
		if words, err := cmdline.Split(c.Line); err == nil && len(words) > 0 {
			first = words[0]
		} else if f := strings.Fields(c.Line); len(f) > 0 {
			first = f[0]
		}
	}
	if strings.HasPrefix(strings.TrimSpace(first), "<") {
		return ""
	}
	return first
}

// Secure reports why c must not run under enable_script_security: a
// script that runs as root (uid or gid 0, or a set-uid/gid root file)
// must have no path component a non-root user could write. This follows
// keepalived 2.2.7's check_script_secure and check_security
// (lib/notify.c): the path is searched in $PATH when it has no slash,
// symbolic links are resolved and both the resolved path and, when the
// link renamed the file, the link itself are checked; every directory
// from / down must be owned by root and not group- (non-root group) or
// world-writable unless sticky; the file must be a regular file or a
// link owned by root and not group- or world-writable. A script that does
// not exist is not refused here: running it fails on its own.
func Secure(c Command) error {
	path := c.Path()
	if path == "" {
		return nil
	}
	if !strings.Contains(path, "/") {
		p, err := exec.LookPath(path)
		if err != nil {
			return nil
		}
		path = p
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil
	}
	var st syscall.Stat_t
	if err := syscall.Stat(real, &st); err != nil {
		return nil
	}
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	if c.As.Set {
		uid, gid = c.As.UID, c.As.GID
	}
	setRoot := (st.Uid == 0 && st.Mode&syscall.S_ISUID != 0 && st.Mode&0o100 != 0) ||
		(st.Gid == 0 && st.Mode&syscall.S_ISGID != 0 && st.Mode&0o010 != 0)
	if uid != 0 && gid != 0 && !setRoot {
		// keepalived protects only what runs with root's rights.
		return nil
	}
	paths := []string{real}
	if filepath.Base(real) != filepath.Base(abs) {
		// The link gave the file another name (some programs act on
		// their name): keepalived runs and checks the link too.
		if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
			paths = append(paths, filepath.Join(dir, filepath.Base(abs)))
		}
	}
	for _, p := range paths {
		if err := securePath(p); err != nil {
			return fmt.Errorf("%s: %w: %w", c.Path(), ErrInsecure, err)
		}
	}
	return nil
}

// securePath checks every component of the absolute path p, from /.
func securePath(p string) error {
	comps := []string{"/"}
	cur := "/"
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		if part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		comps = append(comps, cur)
	}
	for i, name := range comps {
		last := i == len(comps)-1
		var st syscall.Stat_t
		if err := syscall.Lstat(name, &st); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		mode := st.Mode & syscall.S_IFMT
		isDir, isReg := mode == syscall.S_IFDIR, mode == syscall.S_IFREG
		if (!last && !isDir) || (last && !isReg && mode != syscall.S_IFLNK) {
			return fmt.Errorf("%s: wrong file type on the script's path", name)
		}
		if st.Uid != 0 {
			return fmt.Errorf("%s is owned by uid %d, not root", name, st.Uid)
		}
		checked := (isDir && st.Mode&syscall.S_ISVTX == 0) || isReg
		if checked && ((st.Gid != 0 && st.Mode&0o020 != 0) || st.Mode&0o002 != 0) {
			return fmt.Errorf("%s is writable by non-root users (mode %v)", name, fs.FileMode(st.Mode&0o777))
		}
	}
	return nil
}
