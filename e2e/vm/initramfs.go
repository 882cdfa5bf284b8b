package vm

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

//go:embed init.sh
var initScript []byte

// baseFormat changes whenever the layout of the cached archive changes, so
// old cache files are not reused.
const baseFormat = "lvsctl-vm-base-3"

// Base describes the cached part of the initramfs.
type Base struct {
	Kernel  Kernel
	Busybox string
	Modules []string // names to load; see DefaultModules
	// HostBins are dynamically linked host programs (keepalived) shipped
	// with their shared-library closure; each is also linked into the
	// guest's PATH (/usr/local/bin) under its base name.
	HostBins []string
	LibDirs  []string // where their libraries are searched; nil: DefaultLibDirs
}

// HostBinName is the name a host binary gets in the guest's PATH.
func HostBinName(bin string) string { return filepath.Base(bin) }

// BuildBase returns the path of the cached archive with busybox and the
// kernel modules (building it when the cache has none for these inputs) and
// the modules the guest must load, in order.
func BuildBase(ctx context.Context, b Base, cacheDir string) (archive string, load []string, err error) {
	tree, err := LoadModuleTree(b.Kernel.Modules)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrMissing, err)
	}
	load, files, err := tree.Resolve(b.Modules)
	if err != nil {
		return "", nil, err
	}
	hostFiles, err := b.hostFiles()
	if err != nil {
		return "", nil, err
	}
	key, err := b.cacheKey(files, hostFiles)
	if err != nil {
		return "", nil, err
	}
	archive = filepath.Join(cacheDir, "base-"+key+".cpio")
	if _, err := os.Stat(archive); err == nil {
		return archive, load, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", nil, fmt.Errorf("cache dir: %w", err)
	}
	tmp, err := os.CreateTemp(cacheDir, "base-*.tmp")
	if err != nil {
		return "", nil, fmt.Errorf("cache file: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := b.write(ctx, tmp, tree, files, hostFiles); err != nil {
		return "", nil, err
	}
	if err := tmp.Close(); err != nil {
		return "", nil, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), archive); err != nil {
		return "", nil, fmt.Errorf("cache: %w", err)
	}
	return archive, load, nil
}

// hostFiles resolves the closures of all host binaries into one list
// (libraries they share appear once).
func (b Base) hostFiles() ([]HostFile, error) {
	dirs := b.LibDirs
	if dirs == nil {
		dirs = DefaultLibDirs()
	}
	byGuest := map[string]HostFile{}
	names := map[string]string{}
	for _, bin := range b.HostBins {
		if prev, ok := names[HostBinName(bin)]; ok {
			return nil, fmt.Errorf("host binaries %s and %s have the same name in the guest's PATH", prev, bin)
		}
		names[HostBinName(bin)] = bin
		files, err := ResolveHostBinary(bin, dirs)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			byGuest[f.Guest] = f
		}
	}
	out := make([]HostFile, 0, len(byGuest))
	for _, f := range byGuest {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Guest < out[j].Guest })
	return out, nil
}

// cacheKey hashes everything the base archive is made from: a rebuilt
// busybox, an updated kernel package or an upgraded library of a host
// binary gives a new key.
func (b Base) cacheKey(files []string, hostFiles []HostFile) (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, baseFormat, b.Kernel.Version, strings.Join(b.Modules, ","), strings.Join(b.HostBins, ","))
	stamp := func(p string) error {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("cache key: %w", err)
		}
		fmt.Fprintln(h, p, st.Size(), st.ModTime().UnixNano())
		return nil
	}
	for _, p := range append([]string{b.Busybox, filepath.Join(b.Kernel.Modules, "modules.dep")}, files...) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(b.Kernel.Modules, p)
		}
		if err := stamp(p); err != nil {
			return "", err
		}
	}
	for _, f := range hostFiles {
		if f.Link != "" {
			fmt.Fprintln(h, f.Guest, "->", f.Link)
			continue
		}
		if err := stamp(f.Source); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func (b Base) write(ctx context.Context, out io.Writer, tree *ModuleTree, files []string, hostFiles []HostFile) error {
	w := NewCPIOWriter(out)
	for _, d := range []string{"proc", "sys", "dev", "run", "tmp", "root", "sbin", "usr/local/bin", "etc"} {
		if err := w.Dir(d, 0o755); err != nil {
			return err
		}
	}
	if err := w.CharDev("dev/console", 0o600, 5, 1); err != nil {
		return err
	}
	bb, err := os.ReadFile(b.Busybox)
	if err != nil {
		return fmt.Errorf("read busybox: %w", err)
	}
	if err := w.File("bin/busybox", 0o755, bb); err != nil {
		return err
	}
	if err := w.Symlink("sbin/modprobe", "/bin/busybox"); err != nil {
		return err
	}
	etc := map[string]string{
		"etc/hosts": "127.0.0.1 localhost\n::1 localhost\n",
		// Two unprivileged users with Debian's ids, for tests whose
		// scripts must not run as root (script_user, MISC_CHECK user).
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n" +
			"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		"etc/group": "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n",
	}
	for _, name := range []string{"etc/group", "etc/hosts", "etc/passwd"} {
		if err := w.File(name, 0o644, []byte(etc[name])); err != nil {
			return err
		}
	}
	if err := tree.addModules(ctx, w, "lib/modules/"+b.Kernel.Version, files); err != nil {
		return err
	}
	for _, f := range hostFiles {
		if f.Link != "" {
			if err := w.Symlink(f.Guest, f.Link); err != nil {
				return err
			}
			continue
		}
		st, err := os.Stat(f.Source)
		if err != nil {
			return fmt.Errorf("host binary closure: %w", err)
		}
		if err := addHostFile(w, f.Guest, f.Source, uint32(st.Mode().Perm())); err != nil {
			return err
		}
	}
	for _, bin := range b.HostBins {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return fmt.Errorf("host binary %s: %w", bin, err)
		}
		if err := w.Symlink("usr/local/bin/"+HostBinName(bin), abs); err != nil {
			return err
		}
	}
	return w.Close()
}

// TestBinary is one compiled test package to run in the guest.
type TestBinary struct {
	Name     string   // "e2e" or "e2e/director": how results are reported
	Path     string   // the compiled binary on the host
	GuestDir string   // working directory in the guest (the package's directory)
	Testdata string   // the package's testdata directory on the host, if any
	Args     []string // -test.* arguments
}

// Run is the per-run part of the initramfs.
type Run struct {
	Nonce string
	Load  []string          // modules to load, in order
	Tests []TestBinary      // run one after the other
	Bins  map[string]string // name in the guest's PATH -> host path
	// HostBins are the names of the base archive's host binaries, for
	// LVSCTL_VM_HOST_BINS.
	HostBins []string
	// HostTime is when the archive was made; tests compare the guest's
	// clock with it.
	HostTime time.Time
}

// WriteArchive writes the per-run cpio archive: /init, its configuration,
// the test binaries and the extra binaries.
func (r Run) WriteArchive(out io.Writer) error {
	w := NewCPIOWriter(out)
	if err := w.File("init", 0o755, initScript); err != nil {
		return err
	}
	names := make([]string, 0, len(r.Bins))
	for name := range r.Bins {
		names = append(names, name)
	}
	sort.Strings(names)
	cfg := fmt.Sprintf("NONCE=%s\nMODULES=%s\nexport LVSCTL_VM_BINS=%s\nexport LVSCTL_VM_HOST_BINS=%s\nexport LVSCTL_VM_HOST_TIME=%d\n",
		shellQuote(r.Nonce), shellQuote(strings.Join(r.Load, " ")), shellQuote(strings.Join(names, " ")),
		shellQuote(strings.Join(r.HostBins, " ")), r.HostTime.Unix())
	if err := w.File("vm/config.sh", 0o644, []byte(cfg)); err != nil {
		return err
	}
	var script strings.Builder
	for i, tb := range r.Tests {
		guestBin := fmt.Sprintf("/vm/tests/%02d-%s.test", i, strings.ReplaceAll(tb.Name, "/", "_"))
		if err := addHostFile(w, guestBin, tb.Path, 0o755); err != nil {
			return err
		}
		if tb.Testdata != "" {
			if err := addHostTree(w, path.Join(tb.GuestDir, "testdata"), tb.Testdata); err != nil {
				return err
			}
		}
		words := append([]string{"run_test", tb.Name, tb.GuestDir, guestBin}, tb.Args...)
		for j, word := range words {
			if j > 0 {
				script.WriteString(" ")
			}
			script.WriteString(shellQuote(word))
		}
		script.WriteString("\n")
	}
	if err := w.File("vm/tests.sh", 0o644, []byte(script.String())); err != nil {
		return err
	}
	for _, name := range names {
		if err := addHostFile(w, "usr/local/bin/"+name, r.Bins[name], 0o755); err != nil {
			return err
		}
	}
	return w.Close()
}

func addHostFile(w *CPIOWriter, guest, host string, perm uint32) error {
	data, err := os.ReadFile(host)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	return w.File(guest, perm, data)
}

// addHostTree copies the directories and regular files of a host tree
// (a package's testdata) into the archive.
func addHostTree(w *CPIOWriter, guest, host string) error {
	return filepath.WalkDir(host, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("initramfs: %w", err)
		}
		rel, err := filepath.Rel(host, p)
		if err != nil {
			return fmt.Errorf("initramfs: %w", err)
		}
		dst := path.Join(guest, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			return w.Dir(dst, 0o755)
		case d.Type().IsRegular():
			return addHostFile(w, dst, p, 0o644)
		}
		return nil
	})
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
