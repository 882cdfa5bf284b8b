//go:build vm

package directorvm_test

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/e2e/vm/guest"
)

const (
	services    = 1000
	realServers = 10
	// The real server whose weight the reload changes.
	changedVS, changedRS = 567, 3
	newWeight            = 5
	pollEvery            = 10 * time.Millisecond
)

func vip(i int) netip.Addr  { return netip.AddrFrom4([4]byte{10, 100, byte(i / 250), byte(i%250 + 1)}) }
func rsIP(j int) netip.Addr { return netip.AddrFrom4([4]byte{10, 200, 0, byte(j + 1)}) }

// writeConf writes the keepalived.conf both daemons run: TCP, DR, wrr and
// no health checkers, so keepalived (like lvsctl) puts every real server in
// the table at start and no check traffic competes with the measurement.
func writeConf(t *testing.T, file string, changedWeight int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("global_defs {\n    router_id bench\n}\n\n")
	for i := range services {
		fmt.Fprintf(&b, "virtual_server %s 80 {\n    delay_loop 60\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP\n\n", vip(i))
		for j := range realServers {
			w := 1
			if i == changedVS && j == changedRS {
				w = changedWeight
			}
			fmt.Fprintf(&b, "    real_server %s 80 {\n        weight %d\n    }\n", rsIP(j), w)
		}
		b.WriteString("}\n\n")
	}
	require.NoError(t, os.WriteFile(file, []byte(b.String()), 0o644))
}

// table is the kernel's IPVS table as /proc/net/ip_vs shows it:
// service line -> destination address -> "Forward Weight".
type table map[string]map[string]string

func (tb table) dests() int {
	n := 0
	for _, d := range tb {
		n += len(d)
	}
	return n
}

// procHex is an IPv4 address and port as /proc/net/ip_vs prints them.
func procHex(a netip.Addr, port uint16) string {
	b := a.As4()
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", b[0], b[1], b[2], b[3], port)
}

// readTable reads the IPVS table of the network namespace pid lives in.
// /proc/PID/net is that process's namespace, so the test's own threads
// need not enter it, and one read costs a fraction of a netlink dump of
// 1,000 services.
func readTable(pid int) (table, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/ip_vs", pid))
	if err != nil {
		return nil, fmt.Errorf("read IPVS table: %w", err)
	}
	defer f.Close()
	tb := table{}
	var cur map[string]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "  -> ") && len(fields) >= 4 && !strings.Contains(line, "RemoteAddress"):
			if cur != nil {
				cur[fields[1]] = fields[2] + " " + fields[3]
			}
		case strings.HasPrefix(line, "TCP ") || strings.HasPrefix(line, "UDP ") || strings.HasPrefix(line, "SCTP ") || strings.HasPrefix(line, "FWM "):
			cur = map[string]string{}
			tb[strings.Join(fields, " ")] = cur
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read IPVS table: %w", err)
	}
	return tb, nil
}

// waitTable polls the table of the watcher's namespace until done says
// yes and returns the time it first did, measured from start. It fails when
// the daemon exits before (unless exitOK: stopping).
func waitTable(t *testing.T, watcher, p *lab.Process, start time.Time, timeout time.Duration, what string, exitOK bool, done func(table) bool) (time.Duration, table) {
	t.Helper()
	deadline := start.Add(timeout)
	var last table
	for {
		readStart := time.Now()
		tb, err := readTable(watcher.PID())
		readCost := time.Since(readStart)
		if err == nil && done(tb) {
			return time.Since(start), tb
		}
		if err == nil {
			last = tb
		}
		if !exitOK && p.Exited() {
			t.Fatalf("the daemon exited while waiting for %s:\n%s", what, tail(p.Output()))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after %s (%d services, %d destinations, err %v)\n%s",
				what, timeout, len(last), last.dests(), err, tail(p.Output()))
		}
		// Reading 11,000 lines costs the emulated CPU 70-180 ms; pausing as
		// long as the read took leaves the daemon at least one of the two
		// vCPUs (a tight loop cost lvsctl about a second of its start).
		time.Sleep(max(pollEvery, readCost))
	}
}

// tail keeps the end of a daemon's log: keepalived -D logs every edit.
func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// vmRSS is the resident memory of a process in KiB (VmRSS).
func vmRSS(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			require.NoError(t, err, line)
			return kb
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// readPID waits for a pid file (keepalived writes its children's late).
func readPID(t *testing.T, file string) int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		b, err := os.ReadFile(file)
		if err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s: %v", file, err)
		}
		time.Sleep(pollEvery)
	}
}

// figures are one daemon's measurements.
type figures struct {
	cold, reload, stop time.Duration
	read               time.Duration // one read of the full table: half the poll's resolution
	rssKB              int
	rssNote            string
	final              table
}

// daemon is how one implementation is started in a host.
type daemon struct {
	name string
	// start runs it on conf, with scratch files in dir; memory returns its
	// resident set in KiB and what that covers.
	start  func(t *testing.T, h *lab.Host, conf, dir string) *lab.Process
	memory func(t *testing.T, p *lab.Process, dir string) (int, string)
}

func lvsctlDaemon(bin string) daemon {
	return daemon{
		name: "lvsctl",
		start: func(t *testing.T, h *lab.Host, conf, dir string) *lab.Process {
			// No resync during the measurement: keepalived has none either.
			return h.Start(bin, "director", "up", "-f", conf, "--socket", filepath.Join(dir, "director.sock"),
				"--resync", "0", "--no-vrrp")
		},
		memory: func(t *testing.T, p *lab.Process, dir string) (int, string) {
			return vmRSS(t, p.PID()), "one process"
		},
	}
}

func keepalivedDaemon(bin string) daemon {
	return daemon{
		name: "keepalived",
		start: func(t *testing.T, h *lab.Host, conf, dir string) *lab.Process {
			// Checker only, in the foreground, logging to the console, with
			// pid files of its own (the defaults under /run would collide
			// between runs).
			return h.Start(bin, "-n", "-l", "-D", "-C", "-G", "-f", conf,
				"-p", filepath.Join(dir, "keepalived.pid"), "-c", filepath.Join(dir, "checkers.pid"))
		},
		memory: func(t *testing.T, p *lab.Process, dir string) (int, string) {
			checker := readPID(t, filepath.Join(dir, "checkers.pid"))
			parent, child := vmRSS(t, p.PID()), vmRSS(t, checker)
			return parent + child, fmt.Sprintf("parent %.1f + checker %.1f", float64(parent)/1024, float64(child)/1024)
		},
	}
}

// measure runs one daemon in a fresh network namespace: cold start until
// the kernel has all 10,000 destinations, memory, a SIGHUP reload that
// changes one weight until the kernel shows it, and SIGTERM until the
// services are gone.
func measure(t *testing.T, d daemon) figures {
	guest.RequireIPVS(t)
	h := lab.New(t).Host("director")
	// The table is read through /proc/PID/net of a process that lives in
	// the namespace for the whole test, the daemon's own entry goes away
	// when it stops.
	watcher := h.Start("sleep", "86400")
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	writeConf(t, conf, 1)
	var f figures

	start := time.Now()
	p := d.start(t, h, conf, dir)
	f.cold, _ = waitTable(t, watcher, p, start, 5*time.Minute, "cold start", false, func(tb table) bool {
		return len(tb) == services && tb.dests() == services*realServers
	})
	f.rssKB, f.rssNote = d.memory(t, p, dir)
	readStart := time.Now()
	_, err := readTable(watcher.PID())
	require.NoError(t, err)
	f.read = time.Since(readStart)

	writeConf(t, conf, newWeight)
	svc := "TCP " + procHex(vip(changedVS), 80) + " wrr"
	rs := procHex(rsIP(changedRS), 80)
	start = time.Now()
	// The daemon's PID only: a signal to keepalived's process group would
	// reach its checker child twice (once forwarded by the parent).
	require.NoError(t, syscall.Kill(p.PID(), syscall.SIGHUP))
	f.reload, f.final = waitTable(t, watcher, p, start, 2*time.Minute, "reload", false, func(tb table) bool {
		return tb[svc][rs] == "Route "+strconv.Itoa(newWeight)
	})

	start = time.Now()
	require.NoError(t, syscall.Kill(p.PID(), syscall.SIGTERM))
	f.stop, _ = waitTable(t, watcher, p, start, 2*time.Minute, "stop", true, func(tb table) bool { return len(tb) == 0 })
	require.NoError(t, p.Wait(time.Minute), "%s exits cleanly on SIGTERM", d.name)
	return f
}

// TestVMKeepalivedComparison prints lvsctl's and keepalived's figures side
// by side (lines marked FIGURES, grepped by bench/director.sh) and checks
// that both built the same table.
func TestVMKeepalivedComparison(t *testing.T) {
	guest.RequireIPVS(t)
	lvsctl, err := exec.LookPath("lvsctl")
	require.NoError(t, err, "lvsctl must be in the guest's PATH: run vmrun with -bin ./cmd/lvsctl")
	keepalived, err := exec.LookPath("keepalived")
	require.NoError(t, err, "keepalived must be in the guest's PATH: run vmrun with -host-bin /usr/sbin/keepalived")

	daemons := []daemon{lvsctlDaemon(lvsctl), keepalivedDaemon(keepalived)}
	got := make([]figures, len(daemons))
	for i, d := range daemons {
		require.True(t, t.Run(d.name, func(t *testing.T) { got[i] = measure(t, d) }), "%s could not be measured", d.name)
	}
	lv, ka := got[0], got[1]
	assert.Equal(t, services, len(lv.final))
	assert.Equal(t, lv.final, ka.final, "lvsctl and keepalived must build the same table from the same file")

	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
	mb := func(kb int) string { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }
	rows := [][3]string{
		{"figure (1000 VS x 10 RS, TCP DR wrr)", "lvsctl", "keepalived"},
		{"cold start: exec -> 10000 dests in kernel", ms(lv.cold), ms(ka.cold)},
		{"reload: SIGHUP -> 1 weight in kernel", ms(lv.reload), ms(ka.reload)},
		{"stop: SIGTERM -> table empty", ms(lv.stop), ms(ka.stop)},
		{"RSS after start (VmRSS)", mb(lv.rssKB), mb(ka.rssKB) + " (" + ka.rssNote + ")"},
		{"(one read of /proc/net/ip_vs; resolution 2x)", ms(lv.read), ms(ka.read)},
	}
	for _, r := range rows {
		t.Logf("FIGURES %-44s %-10s %s", r[0], r[1], r[2])
	}
}
