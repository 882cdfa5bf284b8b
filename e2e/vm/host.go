package vm

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrMissing wraps every "a tool or package is not installed" error, so the
// runner can tell a broken machine from a failing test.
var ErrMissing = errors.New("missing host dependency")

// depsHint tells the user how to fix a missing dependency.
const depsHint = "run `make deps` (apt-get install qemu-system-x86 linux-image-amd64 busybox-static)"

// Kernel is a kernel image and its module tree.
type Kernel struct {
	Version string // "6.1.0-56-amd64"
	Image   string // /boot/vmlinuz-6.1.0-56-amd64
	Modules string // /lib/modules/6.1.0-56-amd64
}

// FindKernel picks the kernel to boot. spec may be empty (the newest
// /boot/vmlinuz-* that has a module tree), a version ("6.1.0-56-amd64") or
// the path of an image whose version is the part after "vmlinuz-".
func FindKernel(spec string) (Kernel, error) {
	if spec != "" {
		img, ver := spec, strings.TrimPrefix(filepath.Base(spec), "vmlinuz-")
		if !strings.Contains(spec, "/") {
			img, ver = "/boot/vmlinuz-"+spec, spec
		}
		k := Kernel{Version: ver, Image: img, Modules: "/lib/modules/" + ver}
		return k, k.check()
	}
	images, _ := filepath.Glob("/boot/vmlinuz-*")
	var found []Kernel
	for _, img := range images {
		ver := strings.TrimPrefix(filepath.Base(img), "vmlinuz-")
		k := Kernel{Version: ver, Image: img, Modules: "/lib/modules/" + ver}
		if k.check() == nil {
			found = append(found, k)
		}
	}
	if len(found) == 0 {
		return Kernel{}, fmt.Errorf("%w: no kernel with modules found (/boot/vmlinuz-<ver> with /lib/modules/<ver>/modules.dep): %s", ErrMissing, depsHint)
	}
	sort.Slice(found, func(i, j int) bool { return versionLess(found[i].Version, found[j].Version) })
	return found[len(found)-1], nil
}

func (k Kernel) check() error {
	f, err := os.Open(k.Image)
	if err != nil {
		return fmt.Errorf("%w: kernel image: %w (%s)", ErrMissing, err, depsHint)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(k.Modules, "modules.dep")); err != nil {
		return fmt.Errorf("%w: modules of kernel %s: %w (%s)", ErrMissing, k.Version, err, depsHint)
	}
	return nil
}

// versionLess compares dotted/dashed versions number by number, so
// 6.10.0 sorts after 6.9.0.
func versionLess(a, b string) bool {
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '-' || r == '+' })
	}
	pa, pb := split(a), split(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		if ea == nil && eb == nil {
			if na != nb {
				return na < nb
			}
			continue
		}
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}

// FindBusybox returns a statically linked busybox: the guest has no C
// library, so a dynamic one (Debian's "busybox" package) cannot run there.
func FindBusybox(spec string) (string, error) {
	candidates := []string{spec}
	if spec == "" {
		candidates = []string{"/bin/busybox", "/usr/bin/busybox"}
		if p, err := exec.LookPath("busybox"); err == nil {
			candidates = append(candidates, p)
		}
	}
	var lastErr error
	for _, c := range candidates {
		f, err := elf.Open(c)
		if err != nil {
			lastErr = err
			continue
		}
		static := true
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				static = false
			}
		}
		f.Close()
		if static {
			return c, nil
		}
		lastErr = fmt.Errorf("%s is dynamically linked", c)
	}
	return "", fmt.Errorf("%w: static busybox not found (%v): %s", ErrMissing, lastErr, depsHint)
}

// FindQEMU returns the qemu-system-x86_64 binary.
func FindQEMU(spec string) (string, error) {
	if spec == "" {
		spec = "qemu-system-x86_64"
	}
	p, err := exec.LookPath(spec)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w: %s", ErrMissing, spec, err, depsHint)
	}
	return p, nil
}
