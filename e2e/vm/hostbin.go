package vm

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultLibDirs are the directories searched for the shared libraries of a
// host binary, in the order the dynamic loader of a Debian amd64 system
// searches them when it has no /etc/ld.so.cache, which is the guest's case:
// a library found here is found there too.
func DefaultLibDirs() []string {
	return []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}
}

// HostFile is one entry of a host binary's closure, placed in the guest at
// the path the host uses for it, so the loader and the program find
// everything where they were built to look.
type HostFile struct {
	Guest  string // absolute path in the guest, "/lib/x86_64-linux-gnu/libc.so.6"
	Source string // host file with the content; empty for a symlink
	Link   string // symlink target (as the host has it) when the entry is a symlink
}

// ResolveHostBinary returns a host program with everything the dynamic
// loader needs to start it: the program, its interpreter (PT_INTERP, e.g.
// /lib64/ld-linux-x86-64.so.2) and the shared libraries named by DT_NEEDED,
// transitively, found in DT_RUNPATH/DT_RPATH and then libDirs. Symlinks on
// the way (libfoo.so.1 -> libfoo.so.1.2.3, the loader's /lib64 link) are
// kept as symlinks and their targets added. A statically linked program
// comes back alone.
//
// Libraries a program opens itself at run time (dlopen) are not in its
// headers; ship them as extra host binaries if a test needs them.
func ResolveHostBinary(bin string, libDirs []string) ([]HostFile, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, fmt.Errorf("host binary %s: %w", bin, err)
	}
	r := closure{files: map[string]HostFile{}, seenLib: map[string]bool{}, libDirs: libDirs}
	if err := r.addELF(abs, true); err != nil {
		return nil, err
	}
	out := make([]HostFile, 0, len(r.files))
	for _, f := range r.files {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Guest < out[j].Guest })
	return out, nil
}

type closure struct {
	files   map[string]HostFile // by guest path
	seenLib map[string]bool     // DT_NEEDED names already resolved
	libDirs []string
}

// addPath adds p and, when p is a symlink, the chain of links up to the
// file it names. It returns that file. Only the last path component is
// followed: directories that are symlinks on the host (/lib -> usr/lib on
// merged-/usr systems) are plain directories in the guest, which works
// because the file is placed under the name the loader asks for.
func (c *closure) addPath(p string) (string, error) {
	for range 40 { // the kernel's own limit on nested links
		if f, ok := c.files[p]; ok && f.Link == "" {
			return p, nil
		}
		st, err := os.Lstat(p)
		if err != nil {
			return "", fmt.Errorf("host binary closure: %w", err)
		}
		if st.Mode()&os.ModeSymlink == 0 {
			if !st.Mode().IsRegular() {
				return "", fmt.Errorf("host binary closure: %s is not a regular file", p)
			}
			c.files[p] = HostFile{Guest: p, Source: p}
			return p, nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return "", fmt.Errorf("host binary closure: %w", err)
		}
		c.files[p] = HostFile{Guest: p, Link: target}
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(p), target)
		}
		p = path.Clean(target)
	}
	return "", fmt.Errorf("host binary closure: too many levels of symbolic links at %s", p)
}

// addELF adds an ELF file and what it needs to be loaded.
func (c *closure) addELF(p string, program bool) error {
	real, err := c.addPath(p)
	if err != nil {
		return err
	}
	f, err := elf.Open(real)
	if err != nil {
		return fmt.Errorf("host binary %s: %w", real, err)
	}
	defer f.Close()
	if program {
		for _, prog := range f.Progs {
			if prog.Type != elf.PT_INTERP {
				continue
			}
			b := make([]byte, prog.Filesz)
			if _, err := prog.ReadAt(b, 0); err != nil {
				return fmt.Errorf("host binary %s: read PT_INTERP: %w", real, err)
			}
			if _, err := c.addPath(strings.TrimRight(string(b), "\x00")); err != nil {
				return err
			}
		}
	}
	needed, err := f.ImportedLibraries()
	if err != nil {
		return fmt.Errorf("host binary %s: DT_NEEDED: %w", real, err)
	}
	var search []string
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		vals, _ := f.DynString(tag) // absent in most binaries
		for _, v := range vals {
			for _, d := range strings.Split(v, ":") {
				if d != "" && !strings.Contains(d, "$") {
					search = append(search, d)
				}
			}
		}
	}
	search = append(search, c.libDirs...)
	for _, lib := range needed {
		if c.seenLib[lib] {
			continue
		}
		c.seenLib[lib] = true
		found, err := findLib(lib, search, f.Class, f.Machine)
		if err != nil {
			return fmt.Errorf("host binary %s: %w", real, err)
		}
		if err := c.addELF(found, false); err != nil {
			return err
		}
	}
	return nil
}

// errLibNotFound is returned for a DT_NEEDED entry no directory has.
var errLibNotFound = errors.New("shared library not found")

// findLib returns the first dir/name that is an ELF file of the wanted
// class and machine: /usr/lib may hold 32-bit libraries of the same name.
func findLib(name string, dirs []string, class elf.Class, machine elf.Machine) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, d := range dirs {
		p := path.Join(d, name)
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		ok := f.Class == class && f.Machine == machine
		f.Close()
		if ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s (searched %s)", errLibNotFound, name, strings.Join(dirs, ":"))
}
