// Command vmrun runs the VM tier of lvsctl's tests: Go tests with the "vm"
// build tag, inside a QEMU guest whose kernel has real IPVS.
//
//	go run ./e2e/vm/cmd/vmrun [flags] [packages] [-- test-binary-args]
//
// It builds one static test binary per package that has vm tests (default
// packages: ./e2e/...), plus the -bin programs, boots the guest once, runs
// the binaries one after the other and exits with 0 when all passed, 1 when
// a test failed, 2 when the host lacks qemu/kernel/busybox or a build
// failed, and 3 when the guest hung, panicked or could not start the tests.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lvsctl/lvsctl/e2e/vm"
)

const (
	exitFail  = 1
	exitSetup = 2
	exitGuest = 3
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type options struct {
	run, skip, count, testTimeout string
	verbose                       bool
	tags                          string
	bins, hostBins                listFlag
	kernel, busybox, qemu         string
	modules                       string
	cache                         string
	mem, cpus                     int
	keep                          bool
	timeout                       time.Duration
	patterns, testArgs            []string
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("vmrun", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: vmrun [flags] [packages] [-- test-binary-args]\n\n"+
			"Runs the Go tests with the %q build tag inside a QEMU guest with real IPVS.\n\n", vm.Tag)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.run, "run", envOr("LVSCTL_VM_RUN", ""), "run only tests matching this regexp (-test.run) [LVSCTL_VM_RUN]")
	fs.StringVar(&o.skip, "skip", "", "skip tests matching this regexp (-test.skip)")
	fs.BoolVar(&o.verbose, "v", envOr("LVSCTL_VM_VERBOSE", "") != "", "verbose test output (-test.v) [LVSCTL_VM_VERBOSE]")
	fs.StringVar(&o.count, "count", "1", "run each test this many times (-test.count)")
	fs.StringVar(&o.testTimeout, "test-timeout", "10m", "per test binary panic timeout (-test.timeout)")
	fs.StringVar(&o.tags, "tags", "", "extra build tags, comma separated (vm is always set)")
	fs.Var(&o.bins, "bin", "main package to build statically and put in the guest's PATH (repeatable), e.g. ./cmd/lvsctl")
	fs.Var(&o.hostBins, "host-bin", "dynamically linked host program to ship with its shared libraries into the guest's PATH (repeatable), e.g. /usr/sbin/keepalived or keepalived")
	fs.StringVar(&o.kernel, "kernel", envOr("LVSCTL_VM_KERNEL", ""), "kernel version or /boot/vmlinuz-<version> path (default: newest with modules) [LVSCTL_VM_KERNEL]")
	fs.StringVar(&o.busybox, "busybox", envOr("LVSCTL_VM_BUSYBOX", ""), "static busybox binary (default /bin/busybox) [LVSCTL_VM_BUSYBOX]")
	fs.StringVar(&o.qemu, "qemu", envOr("LVSCTL_VM_QEMU", "qemu-system-x86_64"), "qemu binary [LVSCTL_VM_QEMU]")
	fs.StringVar(&o.modules, "modules", strings.Join(vm.DefaultModules(), ","), "kernel modules the guest loads, in order (name? = optional)")
	fs.StringVar(&o.cache, "cache", envOr("LVSCTL_VM_CACHE", ""), "cache directory for the busybox+modules archive (default <module root>/.cache/vm) [LVSCTL_VM_CACHE]")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (binaries, initrd) and print the qemu command, to boot the guest again by hand")
	fs.IntVar(&o.mem, "mem", 512, "guest memory in MiB")
	fs.IntVar(&o.cpus, "smp", 2, "guest CPUs")
	timeout, err := time.ParseDuration(envOr("LVSCTL_VM_TIMEOUT", "20m"))
	if err != nil {
		return o, fmt.Errorf("LVSCTL_VM_TIMEOUT: %w", err)
	}
	fs.DurationVar(&o.timeout, "timeout", timeout, "fail when the guest has not finished after this long (boot included) [LVSCTL_VM_TIMEOUT]")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	rest := fs.Args()
	for i, a := range rest {
		if a == "--" {
			o.testArgs = rest[i+1:]
			rest = rest[:i]
			break
		}
	}
	o.patterns = rest
	if len(o.patterns) == 0 {
		o.patterns = []string{"./e2e/..."}
	}
	return o, nil
}

// testArgs turns the flags into the arguments of every test binary.
func (o options) binaryArgs() []string {
	args := []string{"-test.count=" + o.count, "-test.timeout=" + o.testTimeout}
	if o.verbose {
		args = append(args, "-test.v")
	}
	if o.run != "" {
		args = append(args, "-test.run="+o.run)
	}
	if o.skip != "" {
		args = append(args, "-test.skip="+o.skip)
	}
	return append(args, o.testArgs...)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, out io.Writer) int {
	o, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return exitSetup
	}
	start := time.Now()
	logf := func(format string, a ...any) { fmt.Fprintf(out, "vmrun: "+format+"\n", a...) }
	fail := func(code int, err error) int {
		logf("FAIL: %v", err)
		return code
	}

	// Host dependencies first: a fresh machine learns what to install
	// before waiting for a build.
	var hostBins []string
	for _, hb := range o.hostBins {
		p, err := exec.LookPath(hb)
		if err != nil {
			return fail(exitSetup, fmt.Errorf("%w: host binary for the guest: %w (install its package, e.g. apt-get install %s)", vm.ErrMissing, err, vm.HostBinName(hb)))
		}
		hostBins = append(hostBins, p)
	}
	qemu, err := vm.FindQEMU(o.qemu)
	if err != nil {
		return fail(exitSetup, err)
	}
	kernel, err := vm.FindKernel(o.kernel)
	if err != nil {
		return fail(exitSetup, err)
	}
	busybox, err := vm.FindBusybox(o.busybox)
	if err != nil {
		return fail(exitSetup, err)
	}
	cache := o.cache
	if cache == "" {
		cache, err = defaultCache(ctx)
		if err != nil {
			return fail(exitSetup, err)
		}
	}

	tmp, err := os.MkdirTemp("", "lvsctl-vm-")
	if err != nil {
		return fail(exitSetup, err)
	}
	if !o.keep {
		defer os.RemoveAll(tmp)
	}

	var b vm.Builder
	if o.tags != "" {
		b.Tags = strings.Split(o.tags, ",")
	}
	pkgs, err := b.TestPackages(ctx, o.patterns)
	if err != nil {
		return fail(exitSetup, err)
	}
	if len(pkgs) == 0 {
		return fail(exitSetup, fmt.Errorf("no package in %s has tests with the %q build tag", strings.Join(o.patterns, " "), vm.Tag))
	}
	nonce, err := newNonce()
	if err != nil {
		return fail(exitSetup, err)
	}
	r := vm.Run{Nonce: nonce, Bins: map[string]string{}, HostTime: time.Now()}
	for _, hb := range hostBins {
		r.HostBins = append(r.HostBins, vm.HostBinName(hb))
	}
	for i, p := range pkgs {
		bin := filepath.Join(tmp, fmt.Sprintf("%02d.test", i))
		logf("build %s", p.ImportPath)
		if err := b.BuildTest(ctx, p, bin); err != nil {
			return fail(exitSetup, err)
		}
		tb := vm.TestBinary{Name: p.Rel, Path: bin, GuestDir: path.Join("/src", p.Rel), Args: o.binaryArgs()}
		if st, err := os.Stat(filepath.Join(p.Dir, "testdata")); err == nil && st.IsDir() {
			tb.Testdata = filepath.Join(p.Dir, "testdata")
		}
		r.Tests = append(r.Tests, tb)
	}
	for _, pkg := range o.bins {
		name := path.Base(strings.TrimSuffix(pkg, "/"))
		bin := filepath.Join(tmp, "bin", name)
		logf("build %s -> guest PATH as %s", pkg, name)
		if err := b.BuildBinary(ctx, pkg, bin); err != nil {
			return fail(exitSetup, err)
		}
		r.Bins[name] = bin
	}
	built := time.Now()

	base, load, err := vm.BuildBase(ctx, vm.Base{Kernel: kernel, Busybox: busybox, Modules: strings.Split(o.modules, ","), HostBins: hostBins}, cache)
	if err != nil {
		return fail(exitSetup, err)
	}
	r.Load = load
	initrd := filepath.Join(tmp, "initrd.cpio")
	if err := writeInitrd(initrd, base, r); err != nil {
		return fail(exitSetup, err)
	}
	assembled := time.Now()
	logf("kernel %s, %d test binaries, initramfs %s", kernel.Version, len(r.Tests), initrd)

	m := vm.Machine{
		QEMU: qemu, Kernel: kernel, Initrd: initrd, MemMB: o.mem, CPUs: o.cpus,
		Nonce: nonce, Timeout: o.timeout, Console: out,
	}
	if o.keep {
		logf("kept %s; boot again with: %s %s", tmp, qemu, shellJoin(m.Args()))
	}
	res, bootErr := m.Boot(ctx)
	for _, t := range res.Tests {
		status := "ok  "
		if t.RC != 0 {
			status = "FAIL"
		}
		logf("%s %s (%.1fs, rc=%d)", status, t.Name, t.Duration.Seconds(), t.RC)
	}
	var testTime time.Duration
	for _, t := range res.Tests {
		testTime += t.Duration
	}
	logf("timing: build=%.1fs initramfs=%.1fs boot=%.1fs tests=%.1fs vm=%.1fs total=%.1fs",
		built.Sub(start).Seconds(), assembled.Sub(built).Seconds(), res.Boot.Seconds(),
		testTime.Seconds(), res.Total.Seconds(), time.Since(start).Seconds())
	switch {
	case bootErr != nil:
		return fail(exitGuest, bootErr)
	case len(res.Tests) != len(r.Tests):
		return fail(exitGuest, fmt.Errorf("the guest reported %d of %d test binaries", len(res.Tests), len(r.Tests)))
	case res.RC != 0:
		return fail(exitFail, errors.New("VM tests failed (rc="+strconv.Itoa(res.RC)+")"))
	}
	logf("PASS")
	return 0
}

// defaultCache is .cache/vm under the module root (ignored by git).
func defaultCache(ctx context.Context) (string, error) {
	gomod, err := vm.GoEnv(ctx, "GOMOD")
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("find the module root for the cache (run inside the lvsctl module or pass -cache): %v", err)
	}
	return filepath.Join(filepath.Dir(gomod), ".cache", "vm"), nil
}

func newNonce() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("nonce: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// writeInitrd concatenates the cached base archive and the per-run one; the
// kernel unpacks concatenated newc archives in order.
func writeInitrd(dst, base string, r vm.Run) error {
	f, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("initrd: %w", err)
	}
	defer f.Close()
	bf, err := os.Open(base)
	if err != nil {
		return fmt.Errorf("initrd: %w", err)
	}
	defer bf.Close()
	if _, err := io.Copy(f, bf); err != nil {
		return fmt.Errorf("initrd: %w", err)
	}
	if err := r.WriteArchive(f); err != nil {
		return fmt.Errorf("initrd: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("initrd: %w", err)
	}
	return nil
}

// shellJoin quotes args for copying into a shell.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = a
		if strings.ContainsAny(a, " '\"$\\") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
