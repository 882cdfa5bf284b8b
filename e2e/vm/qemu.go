package vm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Machine is one guest boot.
type Machine struct {
	QEMU    string // qemu-system-x86_64
	Kernel  Kernel
	Initrd  string
	MemMB   int
	CPUs    int
	Nonce   string        // the one written into the guest's config
	Timeout time.Duration // the whole boot, from start to power off
	Console io.Writer     // receives the guest console, one prefixed line at a time
}

// TestResult is one test binary's outcome in the guest.
type TestResult struct {
	Name     string
	RC       int
	Duration time.Duration
}

// Result is what the guest reported.
type Result struct {
	RC       int // the guest's overall result; meaningful when Finished
	Finished bool
	Boot     time.Duration // qemu start until the guest was ready to run tests
	Tests    []TestResult
	Total    time.Duration // qemu start until qemu exited
	Errors   []string      // LVSCTL-VM-ERROR lines of /init
	Running  string        // the test binary that started but did not finish
}

// ErrGuest means the guest did not report a result: it hung, panicked or
// /init broke. The console output above the error tells which.
var ErrGuest = errors.New("guest failed")

// Args are qemu's arguments. TCG, not KVM: a KVM guest hangs at boot on the
// machines this runs on, and TCG works everywhere (also in containers
// without /dev/kvm). "-cpu max" gives the guest RDRAND, so its random pool
// is ready at once and Go's crypto/rand does not block.
func (m Machine) Args() []string {
	return []string{
		"-accel", "tcg", "-cpu", "max",
		"-m", strconv.Itoa(m.MemMB), "-smp", strconv.Itoa(m.CPUs),
		"-nographic", "-no-reboot", "-nic", "none",
		"-kernel", m.Kernel.Image, "-initrd", m.Initrd,
		// panic=-1 reboots at once on a panic, and -no-reboot turns that
		// into qemu exiting, so a crashed guest never waits for the timeout.
		// no_timer_check: on a busy host the emulated CPU is so slow that
		// the kernel's IO-APIC timer check fails and it panics ("IO-APIC +
		// timer doesn't work!"); the check is pointless for a VM.
		"-append", "console=ttyS0 rdinit=/init quiet panic=-1 no_timer_check",
	}
}

// Boot runs the guest to completion. The error is nil only when the guest
// reported a result; Result.RC then says whether the tests passed.
func (m Machine) Boot(ctx context.Context) (Result, error) {
	start := time.Now()
	var res Result
	cmd := exec.Command(m.QEMU, m.Args()...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return res, fmt.Errorf("qemu: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return res, fmt.Errorf("qemu: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start qemu: %w", err)
	}

	var mu sync.Mutex // res and Console are shared with the reader goroutines
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		var testStart time.Time
		scanLines(stdout, func(line string) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(m.Console, "vm| %s\n", line)
			kind, fields, ok := parseMarker(line, m.Nonce)
			if !ok {
				return
			}
			now := time.Now()
			switch kind {
			case "READY":
				res.Boot = now.Sub(start)
			case "START":
				testStart, res.Running = now, fields["test"]
			case "ERROR":
				res.Errors = append(res.Errors, fields[""])
			case "RESULT":
				rc, err := strconv.Atoi(fields["rc"])
				if err != nil {
					rc = -1
				}
				if name, ok := fields["test"]; ok {
					res.Running = ""
					res.Tests = append(res.Tests, TestResult{Name: name, RC: rc, Duration: now.Sub(testStart)})
					return
				}
				res.RC, res.Finished = rc, true
			}
		})
	}()
	go func() {
		defer wg.Done()
		scanLines(stderr, func(line string) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(m.Console, "qemu: %s\n", line)
		})
	}()
	exited := make(chan error, 1)
	go func() {
		wg.Wait() // Wait must not run before the pipes are drained
		exited <- cmd.Wait()
	}()

	timer := time.NewTimer(m.Timeout)
	defer timer.Stop()
	var waitErr, stopErr error
	select {
	case waitErr = <-exited:
	case <-timer.C:
		stopErr = fmt.Errorf("%w: no result within %v (a hung guest or test; raise -timeout if the tests need longer)", ErrGuest, m.Timeout)
	case <-ctx.Done():
		stopErr = fmt.Errorf("%w: interrupted: %w", ErrGuest, ctx.Err())
	}
	if stopErr != nil {
		// Our own child, killed by its PID.
		_ = cmd.Process.Kill()
		<-exited
	}
	res.Total = time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	var during string
	if res.Running != "" {
		during = " while running " + res.Running
	}
	switch {
	case stopErr != nil:
		return res, fmt.Errorf("%w%s", stopErr, during)
	case !res.Finished:
		return res, fmt.Errorf("%w: the guest stopped without a result marker%s (kernel panic or /init failure, see the console above; qemu: %v)", ErrGuest, during, waitErr)
	case len(res.Errors) > 0:
		return res, fmt.Errorf("%w: %s", ErrGuest, strings.Join(res.Errors, "; "))
	}
	return res, nil
}

// ansi matches the terminal control sequences SeaBIOS writes to the serial
// console.
var ansi = regexp.MustCompile(`\x1b(\[[0-9;?]*[A-Za-z]|[a-zA-Z])`)

func scanLines(r io.Reader, fn func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		fn(ansi.ReplaceAllString(strings.TrimRight(sc.Text(), "\r"), ""))
	}
	// A read error ends the console; qemu's exit status tells the rest.
}

// parseMarker recognises "LVSCTL-VM-<KIND> <nonce> k=v ..." anywhere in a
// console line (kernel messages may precede it on the same line). Words
// that are not k=v are joined into fields[""].
func parseMarker(line, nonce string) (kind string, fields map[string]string, ok bool) {
	i := strings.Index(line, "LVSCTL-VM-")
	if i < 0 {
		return "", nil, false
	}
	words := strings.Fields(line[i+len("LVSCTL-VM-"):])
	if len(words) < 2 || words[1] != nonce {
		return "", nil, false
	}
	kind, fields = words[0], map[string]string{}
	if kind == "ERROR" {
		// An error is free text that may itself contain "=".
		fields[""] = strings.Join(words[2:], " ")
		return kind, fields, true
	}
	var free []string
	for _, w := range words[2:] {
		if k, v, isKV := strings.Cut(w, "="); isKV {
			fields[k] = v
			continue
		}
		free = append(free, w)
	}
	if len(free) > 0 {
		fields[""] = strings.Join(free, " ")
	}
	return kind, fields, true
}
