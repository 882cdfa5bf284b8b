package vm

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultModules returns the modules the guest loads before the tests run. A
// trailing "?" marks a module that older kernels lack (ip_vs_twos came with
// Linux 6.2); every other missing module is an error.
//
// crc32c_generic comes before ip_vs: libcrc32c (an ip_vs dependency) only
// has a soft dependency on a crc32c implementation, which busybox modprobe
// does not follow, and without one ip_vs fails to load. nfnetlink and
// xfrm_user are there because netlink.NewHandleAt without a protocol list
// (as e2e/lab uses it) opens NETLINK_NETFILTER and NETLINK_XFRM sockets too,
// which fail with EPROTONOSUPPORT until those modules are loaded.
func DefaultModules() []string {
	return []string{
		"crc32c_generic",
		"nf_conntrack",
		"ip_vs",
		"ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_lblc", "ip_vs_lblcr",
		"ip_vs_dh", "ip_vs_sh", "ip_vs_sed", "ip_vs_nq", "ip_vs_mh", "ip_vs_fo", "ip_vs_ovf",
		"ip_vs_twos?",
		"veth", "bridge", "8021q", "dummy", "macvlan", "ipip",
		"nfnetlink", "xfrm_user",
	}
}

// ModuleTree describes the modules of one installed kernel
// (/lib/modules/<version>).
type ModuleTree struct {
	Dir     string              // /lib/modules/<version>
	paths   map[string]string   // module name -> path relative to Dir
	deps    map[string][]string // module name -> names it depends on
	builtin map[string]bool
}

// moduleName maps "kernel/net/ipv4/ip-vs.ko.xz" to "ip_vs", the form
// modprobe compares names in.
func moduleName(p string) string {
	base := path.Base(p)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

// LoadModuleTree reads modules.dep and modules.builtin of a kernel.
func LoadModuleTree(dir string) (*ModuleTree, error) {
	t := &ModuleTree{Dir: dir, paths: map[string]string{}, deps: map[string][]string{}, builtin: map[string]bool{}}
	dep, err := os.ReadFile(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("read kernel modules list: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(dep))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		mod, depList, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		name := moduleName(mod)
		t.paths[name] = mod
		for _, d := range strings.Fields(depList) {
			t.deps[name] = append(t.deps[name], moduleName(d))
			if _, seen := t.paths[moduleName(d)]; !seen {
				t.paths[moduleName(d)] = d
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse %s/modules.dep: %w", dir, err)
	}
	// modules.builtin is missing on kernels without loadable modules; then
	// nothing is built in as far as we can tell.
	if b, err := os.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil {
		for _, line := range strings.Fields(string(b)) {
			t.builtin[moduleName(line)] = true
		}
	}
	return t, nil
}

// Resolve returns the names to load (in the order asked, built-in and
// optional missing modules dropped) and every module file needed to load
// them, dependencies included, as paths relative to the tree.
func (t *ModuleTree) Resolve(want []string) (load, files []string, err error) {
	need := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if need[name] {
			return
		}
		need[name] = true
		for _, d := range t.deps[name] {
			visit(d)
		}
	}
	var missing []string
	for _, w := range want {
		name, optional := strings.CutSuffix(w, "?")
		name = strings.ReplaceAll(name, "-", "_")
		switch {
		case t.builtin[name]:
		case t.paths[name] != "":
			load = append(load, name)
			visit(name)
		case !optional:
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("kernel modules %s not found in %s (neither a module nor built in)", strings.Join(missing, ", "), t.Dir)
	}
	for name := range need {
		files = append(files, t.paths[name])
	}
	sort.Strings(files)
	return load, files, nil
}

// uncompressedPath is where a module is stored in the initramfs: always
// uncompressed, because busybox modprobe cannot read zstd (and is not
// always built with xz support).
func uncompressedPath(p string) string {
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		if strings.HasSuffix(p, ".ko"+ext) {
			return strings.TrimSuffix(p, ext)
		}
	}
	return p
}

// readModule returns the uncompressed content of a module file.
func readModule(ctx context.Context, file string) ([]byte, error) {
	switch {
	case strings.HasSuffix(file, ".ko"):
		return os.ReadFile(file)
	case strings.HasSuffix(file, ".ko.gz"):
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("gunzip %s: %w", file, err)
		}
		return io.ReadAll(zr)
	case strings.HasSuffix(file, ".ko.xz"):
		return decompressWith(ctx, file, "xz", "xz-utils")
	case strings.HasSuffix(file, ".ko.zst"):
		return decompressWith(ctx, file, "zstd", "zstd")
	}
	return nil, fmt.Errorf("module %s: unknown file type", file)
}

func decompressWith(ctx context.Context, file, tool, pkg string) ([]byte, error) {
	bin, err := exec.LookPath(tool)
	if err != nil {
		return nil, fmt.Errorf("module %s is compressed and %s is not installed (apt-get install %s, or `make deps`): %w", file, tool, pkg, err)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-dc", file)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s -dc %s: %w: %s", tool, file, err, stderr.String())
	}
	return out, nil
}

// addModules writes the module files and a modules.dep that matches them
// (uncompressed names) under lib/modules/<version> of the archive.
func (t *ModuleTree) addModules(ctx context.Context, w *CPIOWriter, prefix string, files []string) error {
	have := map[string]bool{}
	for _, f := range files {
		data, err := readModule(ctx, filepath.Join(t.Dir, f))
		if err != nil {
			return fmt.Errorf("read module: %w", err)
		}
		if err := w.File(path.Join(prefix, uncompressedPath(f)), 0o644, data); err != nil {
			return err
		}
		have[f] = true
	}
	dep, err := os.ReadFile(filepath.Join(t.Dir, "modules.dep"))
	if err != nil {
		return fmt.Errorf("read modules.dep: %w", err)
	}
	var out strings.Builder
	for _, line := range strings.Split(string(dep), "\n") {
		mod, deps, ok := strings.Cut(line, ":")
		if !ok || !have[mod] {
			continue
		}
		out.WriteString(uncompressedPath(mod) + ":")
		for _, d := range strings.Fields(deps) {
			out.WriteString(" " + uncompressedPath(d))
		}
		out.WriteString("\n")
	}
	if err := w.File(path.Join(prefix, "modules.dep"), 0o644, []byte(out.String())); err != nil {
		return err
	}
	// modprobe resolves aliases (request_module("rtnl-link-veth")) and
	// knows built-in modules from these; they may be absent.
	for _, name := range []string{"modules.alias", "modules.builtin", "modules.softdep"} {
		data, err := os.ReadFile(filepath.Join(t.Dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if err := w.File(path.Join(prefix, name), 0o644, data); err != nil {
			return err
		}
	}
	return nil
}
