package lab

import (
	"os"
	"os/exec"
	"path/filepath"
)

// lvsctlPackage is built by Lvsctl; an import path works from any package
// directory of the module.
const lvsctlPackage = "github.com/lvsctl/lvsctl/cmd/lvsctl"

// Lvsctl returns the path of an lvsctl binary for tests to run inside hosts,
// so the whole CLI is under test in a process of the namespace. It is, in
// order: $LVSCTL_BIN; a fresh build of this module's cmd/lvsctl (once per
// lab, removed with it); or, where there is no go tool (inside the test VM,
// whose runner puts the binary in PATH), `lvsctl` from PATH.
func (l *Lab) Lvsctl() string {
	l.t.Helper()
	if bin := os.Getenv("LVSCTL_BIN"); bin != "" {
		return bin
	}
	l.mu.Lock()
	bin := l.lvsctl
	l.mu.Unlock()
	if bin != "" {
		return bin
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		inPath, perr := exec.LookPath("lvsctl")
		if perr != nil {
			l.t.Fatalf("lab: no go tool to build lvsctl (%v) and no lvsctl in PATH (%v); set LVSCTL_BIN", err, perr)
		}
		return inPath
	}
	dir, err := os.MkdirTemp("", "lvsctl-lab-")
	if err != nil {
		l.t.Fatalf("lab: %v", err)
	}
	l.onClose(func() { _ = os.RemoveAll(dir) })
	bin = filepath.Join(dir, "lvsctl")
	// Static, as `make build` and the package ship it (no cgo: user and
	// group lookups read /etc/passwd and /etc/group, not NSS modules).
	build := exec.Command(goTool, "build", "-o", bin, lvsctlPackage)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		l.t.Fatalf("lab: go build %s: %v\n%s", lvsctlPackage, err, out)
	}
	l.mu.Lock()
	l.lvsctl = bin
	l.mu.Unlock()
	return bin
}

// Lab is the lab the host belongs to.
func (h *Host) Lab() *Lab { return h.lab }
