//go:build vm

package e2e_test

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/e2e/vm/guest"
)

// The connection-sync scenario of issue #12 (docs/sync.md): two directors
// (VRRP + IPVS DR), two real servers, a client holding long-lived TCP
// streams through the VIP plus a fresh connection every 50 ms, and three
// events: the master crashes (link cut + kill -9, then it "reboots" as a
// new namespace with empty kernel tables), the returning master preempts,
// the master stops gracefully (SIGTERM). A stream is broken by a reset,
// EOF or wrong data; a stall is not a break.
const (
	syncStreams    = 20
	syncMsgEvery   = 100 * time.Millisecond
	syncFreshEvery = 50 * time.Millisecond
	// syncAge is how long streams run before an event: the kernel sends a
	// partly filled batch of sync messages only after about 2 s
	// (notes/ipvs-sync.md), younger connections are not on the backup yet.
	syncAge = 4 * time.Second
	// syncRecover bounds the wait for every stream to exchange a message
	// after an event: VRRP detection (3 x 1 s + skew) rounded up to TCP's
	// next retransmission, under TCG.
	syncRecover = 40 * time.Second
)

// syncConf is the directors' file, in keepalived's syntax so that either
// implementation runs it: %s are the router_id, the sync line, the state;
// %d the priority.
const syncConf = `global_defs {
    router_id %s
    vrrp_mcast_group4 224.0.0.111
    %s
}
vrrp_instance VI_1 {
    state %s
    interface eth1
    virtual_router_id 191
    priority %d
    advert_int 1
    virtual_ipaddress {
        10.16.8.100
    }
}
virtual_server 10.16.8.100 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.16.8.8 80 {
        weight 1
    }
    real_server 10.16.8.9 80 {
        weight 1
    }
}
`

// syncImpl is one director implementation of a row.
type syncImpl struct {
	name string
	// syncLine is the global_defs line that turns sync on ("" = off).
	syncLine string
	// sysctls are net.ipv4.vs values the test sets in every director
	// before the daemon starts (keepalived has no keyword for them).
	sysctls [][2]string
	// sysctlsInFile: the refresh sysctls come from the file (lvsctl's
	// lvs_sync_* extensions), not from the test.
	sysctlsInFile bool
	// start runs the director on conf with scratch files in dir.
	start func(t *testing.T, h *lab.Host, conf, dir string) *lab.Process
}

// keepalivedSync runs keepalived 2.2.7 (VRRP and checker, foreground,
// console log, its own pid files).
func keepalivedSync(bin string, sync bool) syncImpl {
	im := syncImpl{name: "keepalived", start: func(t *testing.T, h *lab.Host, conf, dir string) *lab.Process {
		return h.Start(bin, "-n", "-l", "-D", "-f", conf, "-p", filepath.Join(dir, "keepalived.pid"),
			"-r", filepath.Join(dir, "vrrp.pid"), "-c", filepath.Join(dir, "checkers.pid"), "-b", filepath.Join(dir, "bfd.pid"))
	}}
	if sync {
		im.syncLine = "lvs_sync_daemon eth1 VI_1"
	}
	return im
}

// lvsctlSync runs `lvsctl director up` (which drives the sync daemons from
// its VRRP instance), with the extension sysctls in the file when refresh
// is set.
func lvsctlSync(bin string, sync, refresh bool) syncImpl {
	im := syncImpl{name: "lvsctl", start: func(t *testing.T, h *lab.Host, conf, dir string) *lab.Process {
		return h.Start(bin, "director", "up", "-f", conf, "--socket", filepath.Join(dir, "director.sock"))
	}}
	if sync {
		im.syncLine = "lvs_sync_daemon eth1 VI_1"
		if refresh {
			im.syncLine += "\n    lvs_sync_threshold 3 0\n    lvs_sync_refresh_period 1"
			im.sysctlsInFile = true
		}
	}
	return im
}

// withRefresh adds the sysctls that make the kernel re-send every active
// connection at least once a second (sync_threshold "3 0": no
// packet-count period; sync_refresh_period 1), so a returning master holds
// the peer's connections by the time it preempts (docs/sync.md).
func withRefresh(im syncImpl) syncImpl {
	im.sysctls = [][2]string{{"sync_threshold", "3 0"}, {"sync_refresh_period", "1"}}
	return im
}

func (im syncImpl) rowName() string {
	switch {
	case im.syncLine == "":
		return im.name + " (no sync)"
	case len(im.sysctls) > 0 || im.sysctlsInFile:
		return im.name + " + sync + refresh 1s"
	}
	return im.name + " + sync"
}

// subtest names the row for -run: keepalived, keepalived-refresh,
// keepalived-nosync, lvsctl alike.
func (im syncImpl) subtest() string {
	switch {
	case im.syncLine == "":
		return im.name + "-nosync"
	case len(im.sysctls) > 0 || im.sysctlsInFile:
		return im.name + "-refresh"
	}
	return im.name
}

// syncEvent is what one event did to the traffic.
type syncEvent struct {
	name          string
	broken        int      // long-lived streams broken
	reasons       []string // why, one per broken stream
	stalled       int      // streams that had not recovered after syncRecover (not broken)
	fresh, failed int      // fresh connections tried and failed during the event
	maxStall      time.Duration
	entries       int // ESTABLISHED IPVS entries on the director taking over, at the event
}

// syncRow is one implementation's run.
type syncRow struct {
	name   string
	events []syncEvent
}

// stream is one long-lived connection exchanging a line every 100 ms with
// an echo server behind the VIP.
type stream struct {
	id     int
	conn   net.Conn
	mu     sync.Mutex
	lastOK time.Time
	gap    time.Duration // the longest pause between two answers
	err    error         // set once: the stream is broken
	done   chan struct{}
}

func (s *stream) state() (lastOK time.Time, gap time.Duration, broken error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastOK, s.gap, s.err
}

func (s *stream) run(ctx context.Context) {
	defer close(s.done)
	rd := bufio.NewReader(s.conn)
	tick := time.NewTicker(syncMsgEvery)
	defer tick.Stop()
	fail := func(err error) {
		if ctx.Err() != nil {
			return // closed by the test
		}
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
	}
	for seq := 0; ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		msg := fmt.Sprintf("stream %02d message %06d\n", s.id, seq)
		if _, err := io.WriteString(s.conn, msg); err != nil {
			fail(fmt.Errorf("write: %w", err))
			return
		}
		got, err := rd.ReadString('\n')
		if err != nil {
			fail(fmt.Errorf("read: %w", err))
			return
		}
		if got != msg {
			fail(fmt.Errorf("wrong data: sent %q, got %q", msg, got))
			return
		}
		now := time.Now()
		s.mu.Lock()
		if !s.lastOK.IsZero() {
			s.gap = max(s.gap, now.Sub(s.lastOK))
		}
		s.lastOK = now
		s.mu.Unlock()
	}
}

// syncClient drives the streams and the fresh connections.
type syncClient struct {
	t       *testing.T
	host    *lab.Host
	ctx     context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex
	streams []*stream
	nextID  int
	// fresh connection attempts: start time and outcome.
	freshMu sync.Mutex
	freshAt []time.Time
	freshOK []bool
	wg      sync.WaitGroup
}

func newSyncClient(t *testing.T, h *lab.Host) *syncClient {
	ctx, cancel := context.WithCancel(context.Background())
	c := &syncClient{t: t, host: h, ctx: ctx, cancel: cancel}
	c.wg.Add(1)
	go c.freshLoop()
	return c
}

func (c *syncClient) dial(timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	return c.host.DialContext(ctx, "tcp", vip+":80")
}

// freshLoop opens a connection every 50 ms (each in its own goroutine, so
// a stalled one does not delay the next), sends a line and reads it back.
func (c *syncClient) freshLoop() {
	defer c.wg.Done()
	tick := time.NewTicker(syncFreshEvery)
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
		}
		c.wg.Add(1)
		go func(at time.Time) {
			defer c.wg.Done()
			ok := false
			if conn, err := c.dial(5 * time.Second); err == nil {
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.WriteString(conn, "fresh\n"); err == nil {
					line, err := bufio.NewReader(conn).ReadString('\n')
					ok = err == nil && line == "fresh\n"
				}
				conn.Close()
			}
			if c.ctx.Err() != nil {
				return
			}
			c.freshMu.Lock()
			c.freshAt = append(c.freshAt, at)
			c.freshOK = append(c.freshOK, ok)
			c.freshMu.Unlock()
		}(time.Now())
	}
}

// freshSince counts the fresh connections started in [from, to).
func (c *syncClient) freshSince(from, to time.Time) (tried, failed int) {
	c.freshMu.Lock()
	defer c.freshMu.Unlock()
	for i, at := range c.freshAt {
		if !at.Before(from) && at.Before(to) {
			tried++
			if !c.freshOK[i] {
				failed++
			}
		}
	}
	return tried, failed
}

// fill opens streams until syncStreams are alive (broken ones are dropped
// from the list: each event starts with a full set).
func (c *syncClient) fill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	alive := c.streams[:0]
	for _, s := range c.streams {
		if _, _, err := s.state(); err == nil {
			alive = append(alive, s)
		} else {
			s.conn.Close()
		}
	}
	c.streams = alive
	for _, s := range c.streams {
		s.mu.Lock()
		s.gap = 0 // the longest stall is per event
		s.mu.Unlock()
	}
	for len(c.streams) < syncStreams {
		conn, err := c.dial(10 * time.Second)
		require.NoError(c.t, err, "open stream %d", c.nextID)
		s := &stream{id: c.nextID, conn: conn, lastOK: time.Now(), done: make(chan struct{})}
		c.nextID++
		c.streams = append(c.streams, s)
		go s.run(c.ctx)
	}
}

// await waits until every stream has answered after since (or broke), at
// most syncRecover, and tells what happened to them.
func (c *syncClient) await(since time.Time) (broken, stalled int, reasons []string, maxGap time.Duration) {
	deadline := time.Now().Add(syncRecover)
	for {
		c.mu.Lock()
		broken, stalled, reasons, maxGap = 0, 0, nil, 0
		for _, s := range c.streams {
			last, gap, err := s.state()
			maxGap = max(maxGap, gap)
			switch {
			case err != nil:
				broken++
				reasons = append(reasons, fmt.Sprintf("stream %d: %v", s.id, err))
			case !last.After(since):
				stalled++
			}
		}
		c.mu.Unlock()
		if stalled == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// firstBrokenPort is the client port of the first broken stream (0: none).
func (c *syncClient) firstBrokenPort() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.streams {
		if _, _, err := s.state(); err != nil {
			return s.conn.LocalAddr().(*net.TCPAddr).Port
		}
	}
	return 0
}

func (c *syncClient) stop() {
	c.cancel()
	c.mu.Lock()
	for _, s := range c.streams {
		s.conn.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// echoServer answers every line with itself, on every connection.
func echoServer(t *testing.T, h *lab.Host) {
	ln, err := h.Listen("tcp", "0.0.0.0:80")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				io.Copy(conn, conn)
			}()
		}
	}()
}

// connEntries counts the ESTABLISHED entries of the IPVS connection table
// of the namespace pid lives in (docs/sync.md: what an operator sees on the
// backup); the fresh connections leave many closed ones besides.
func connEntries(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/ip_vs_conn", pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// Pro FromIP FPrt ToIP TPrt DestIP DPrt State Expires PEName PEData
		if f := strings.Fields(sc.Text()); len(f) >= 8 && f[7] == "ESTABLISHED" {
			n++
		}
	}
	return n
}

// connLines are the IPVS connection entries of client port port in the
// namespace pid lives in.
func connLines(pid, port int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/ip_vs_conn", pid))
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[2] == fmt.Sprintf("%04X", port) {
			out = append(out, strings.Join(f, " "))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, " | ")
}

// syncDirectorHost is one director namespace with its daemon.
type syncDirectorHost struct {
	host    *lab.Host
	link    *lab.Link
	proc    *lab.Process
	watcher *lab.Process // lives in the namespace: /proc/PID/net
	dir     string
}

// runSyncScenario runs the whole scenario with one implementation and
// returns the three events.
func runSyncScenario(t *testing.T, im syncImpl) syncRow {
	guest.RequireIPVS(t)
	l := lab.New(t)
	sw := l.Switch("lan")
	client := l.Host("client")
	sw.Attach(client, "eth0", clientAddr+"/24")
	for i, name := range []string{"rs1", "rs2"} {
		rs := l.Host(name)
		sw.Attach(rs, "eth0", fmt.Sprintf("10.16.8.%d/24", 8+i))
		// The real-server side of LVS-DR (what `lvsctl rs start` does).
		rs.SetSysctl("net/ipv4/conf/all/arp_ignore", "1")
		rs.SetSysctl("net/ipv4/conf/all/arp_announce", "2")
		rs.AddAddr("lo", vip+"/32")
		echoServer(t, rs)
	}
	dir := t.TempDir()
	writeConf := func(name, state string, prio int) string {
		f := filepath.Join(dir, name+".conf")
		require.NoError(t, os.WriteFile(f, fmt.Appendf(nil, syncConf, name, im.syncLine, state, prio), 0o644))
		return f
	}
	// Every host exists before any daemon starts: creating a namespace
	// runs on a throwaway OS thread, and a daemon forked from a thread that
	// ends later gets its parent-death SIGKILL (lab.Host.Start sets it).
	// d1b is d1 after its "reboot": same address, empty kernel tables, its
	// switch port down until then.
	newDirector := func(name, addr string) *syncDirectorHost {
		d := &syncDirectorHost{host: l.Host(name), dir: filepath.Join(dir, name)}
		require.NoError(t, os.MkdirAll(d.dir, 0o755))
		d.link = sw.Attach(d.host, "eth1", addr+"/24")
		return d
	}
	d1, d2, d1b := newDirector("d1", "10.16.8.10"), newDirector("d2", "10.16.8.11"), newDirector("d1b", "10.16.8.10")
	d1b.link.Cut()
	startDirector := func(d *syncDirectorHost, state string, prio int) {
		for _, kv := range im.sysctls {
			d.host.SetSysctl("net/ipv4/vs/"+kv[0], kv[1])
		}
		d.watcher = d.host.Start("sleep", "86400")
		conf := writeConf(d.host.Name(), state, prio)
		d.proc = im.start(t, d.host, conf, d.dir)
	}
	waitFor := func(timeout time.Duration, what string, ds []*syncDirectorHost, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			for _, d := range ds {
				if d.proc.Exited() {
					t.Fatalf("%s on %s exited (%v) while waiting for %s:\n%s", im.name, d.host.Name(), d.proc.Wait(time.Second), what, d.proc.Output())
				}
			}
			if time.Since(start) > timeout {
				var out strings.Builder
				for _, d := range ds {
					fmt.Fprintf(&out, "%s:\n%s\n", d.host.Name(), tailLog(d.proc.Output()))
				}
				t.Fatalf("timed out after %s waiting for %s\n%s", timeout, what, out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		return time.Since(start)
	}

	startDirector(d1, "MASTER", 100)
	startDirector(d2, "BACKUP", 95)
	waitFor(60*time.Second, "d1 MASTER with the VIP", []*syncDirectorHost{d1, d2}, func() bool {
		return hasVIP(d1.host) && !hasVIP(d2.host)
	})
	c := newSyncClient(t, client)
	defer c.stop()
	var row syncRow
	row.name = im.rowName()
	// event counts what happened from at; the streams must have answered
	// through the new master, so the wait is for an answer a second after
	// it took the VIP (the client's ARP entry follows its gratuitous ARP).
	event := func(name string, at time.Time, takeover *syncDirectorHost, entries int) {
		broken, stalled, reasons, gap := c.await(time.Now().Add(time.Second))
		tried, failed := c.freshSince(at, time.Now())
		ev := syncEvent{name: name, broken: broken, reasons: reasons, stalled: stalled, fresh: tried, failed: failed,
			maxStall: gap, entries: entries}
		t.Logf("%s, %s: %d/%d streams broken, %d stalled, longest stall %s; fresh connections %d/%d failed; %s held %d established entries",
			row.name, name, broken, syncStreams, stalled, gap.Round(100*time.Millisecond), failed, tried,
			takeover.host.Name(), entries)
		for _, r := range reasons {
			t.Logf("  %s", r)
		}
		if broken > 0 {
			// Where the broken streams stand in each kernel: the first
			// thing to look at when a row shows breaks.
			for _, d := range []*syncDirectorHost{d1b, d2} {
				if d.watcher != nil && !d.watcher.Exited() {
					t.Logf("  %s IPVS entries of the first broken stream: %s", d.host.Name(), connLines(d.watcher.PID(), c.firstBrokenPort()))
				}
			}
		}
		row.events = append(row.events, ev)
	}

	// 1. Crash: the master's cable is pulled and its daemon killed; the
	// host comes back later as a new namespace (a reboot: empty tables).
	c.fill()
	time.Sleep(syncAge)
	entries := connEntries(d2.watcher.PID())
	crash := time.Now()
	d1.link.Cut()
	require.NoError(t, ignoreKilled(d1.proc.Kill()))
	waitFor(30*time.Second, "d2 takes the VIP over", []*syncDirectorHost{d2}, func() bool { return hasVIP(d2.host) })
	event("crash (link cut + kill -9)", crash, d2, entries)

	// 2. The master returns with empty tables and preempts.
	c.fill()
	time.Sleep(syncAge)
	back := time.Now()
	d1b.link.Reconnect()
	startDirector(d1b, "MASTER", 100)
	var heldAtPreempt int
	waitFor(60*time.Second, "the returning d1 preempts", []*syncDirectorHost{d1b, d2}, func() bool {
		if hasVIP(d1b.host) && !hasVIP(d2.host) {
			heldAtPreempt = connEntries(d1b.watcher.PID())
			return true
		}
		return false
	})
	event("preempt (the returning master)", back, d1b, heldAtPreempt)

	// 3. Graceful stop of the master.
	c.fill()
	time.Sleep(syncAge)
	entries = connEntries(d2.watcher.PID())
	term := time.Now()
	require.NoError(t, d1b.proc.Signal(syscall.SIGTERM))
	waitFor(30*time.Second, "d2 takes the VIP over after SIGTERM", []*syncDirectorHost{d2}, func() bool { return hasVIP(d2.host) })
	event("graceful stop (SIGTERM)", term, d2, entries)
	assert.NoError(t, ignoreKilled(d1b.proc.Wait(30*time.Second)), "%s exits after SIGTERM", im.name)
	return row
}

// ignoreKilled: a process killed by the test exits with "signal: killed".
func ignoreKilled(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return nil
		}
	}
	return err
}

func tailLog(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}

// syncKeepalived adds keepalived 2.2.7's rows (bench/sync.sh sets it).
var syncKeepalived = flag.Bool("sync.keepalived", false, "also run the scenario with keepalived as the directors")

// TestVMSyncFailover runs the scenario once per row and prints the table
// (lines marked FIGURES, grepped by bench/sync.sh). The row without sync
// must break streams on the crash: it proves the harness sees breaks.
//
// The keepalived rows are the side-by-side baseline of bench/sync.sh
// (-sync.keepalived); `make test` runs lvsctl's rows, the one without sync
// included.
func TestVMSyncFailover(t *testing.T) {
	guest.RequireIPVS(t)
	lvsctl, err := exec.LookPath("lvsctl")
	require.NoError(t, err, "lvsctl must be in the guest's PATH: run vmrun with -bin ./cmd/lvsctl")
	rows := []syncImpl{
		lvsctlSync(lvsctl, true, true), lvsctlSync(lvsctl, true, false), lvsctlSync(lvsctl, false, false),
	}
	if *syncKeepalived {
		keepalived, err := exec.LookPath("keepalived")
		require.NoError(t, err, "keepalived must be in the guest's PATH: run vmrun with -host-bin /usr/sbin/keepalived")
		rows = append(rows, keepalivedSync(keepalived, true), withRefresh(keepalivedSync(keepalived, true)),
			keepalivedSync(keepalived, false))
	}
	var got []syncRow
	for _, im := range rows {
		t.Run(im.subtest(), func(t *testing.T) {
			r := runSyncScenario(t, im) // rows run one after the other
			got = append(got, r)
			if im.syncLine == "" {
				assert.Positive(t, r.events[0].broken, "without sync the crash must break streams, else the harness measures nothing")
			}
			if im.name == "lvsctl" && im.sysctlsInFile {
				for _, e := range r.events {
					assert.Zero(t, e.broken, "lvsctl with sync and the refresh sysctls: no stream may break on %s", e.name)
				}
			}
		})
	}
	t.Logf("FIGURES %-32s %-28s %-28s %-28s", "director", "crash: broken/fresh failed", "preempt: broken/fresh failed", "SIGTERM: broken/fresh failed")
	for _, r := range got {
		cells := make([]string, 3)
		for i := range cells {
			if i < len(r.events) {
				e := r.events[i]
				cells[i] = fmt.Sprintf("%d/%d  %d/%d  (%d est.)", e.broken, syncStreams, e.failed, e.fresh, e.entries)
			}
		}
		t.Logf("FIGURES %-32s %-28s %-28s %-28s", r.name, cells[0], cells[1], cells[2])
	}
}
