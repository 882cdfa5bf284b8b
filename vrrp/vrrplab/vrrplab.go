//go:build e2e || bench

// Package vrrplab holds what the VRRP end-to-end tests and the handover
// measurement share: two directors and a client on a lab switch, starting
// lvsctl or keepalived inside a host, a client that probes a VIP every few
// milliseconds and a listener that timestamps the adverts on the wire.
package vrrplab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/vrrp/packet"
)

// Net is two directors (ka67, ka68) and a client on one switch, with the
// seed's addresses on eth1 (and optionally a second network on eth2).
type Net struct {
	Lab          *lab.Lab
	Sw1, Sw2     *lab.Switch
	A, B, Client *lab.Host
	// LinkA1 ... are the cables of the directors (eth1, eth2).
	LinkA1, LinkB1, LinkA2, LinkB2 *lab.Link
	Dir                            string
}

// NewNet builds the seed's network: ka67 10.16.8.10, ka68 10.16.8.11 and a
// client 10.16.8.2 on eth1; with twoNets also 172.16.8.10/.11/.2 on eth2.
// Both directors run a web server on :80 answering with their name.
func NewNet(t testing.TB, twoNets bool) *Net {
	t.Helper()
	l := lab.New(t)
	n := &Net{Lab: l, Dir: t.TempDir()}
	n.Sw1 = l.Switch("lan1")
	n.A, n.B, n.Client = l.Host("ka67"), l.Host("ka68"), l.Host("client")
	n.LinkA1 = n.Sw1.Attach(n.A, "eth1", "10.16.8.10/24")
	n.LinkB1 = n.Sw1.Attach(n.B, "eth1", "10.16.8.11/24")
	n.Sw1.Attach(n.Client, "eth1", "10.16.8.2/24")
	if twoNets {
		n.Sw2 = l.Switch("lan2")
		n.LinkA2 = n.Sw2.Attach(n.A, "eth2", "172.16.8.10/24")
		n.LinkB2 = n.Sw2.Attach(n.B, "eth2", "172.16.8.11/24")
		n.Sw2.Attach(n.Client, "eth2", "172.16.8.2/24")
	}
	n.A.ServeHTTP("0.0.0.0:80")
	n.B.ServeHTTP("0.0.0.0:80")
	return n
}

// Fixture copies testdata file name into the net's directory, replacing
// @DIR@ with that directory, and returns the copy's path.
func (n *Net) Fixture(t testing.TB, testdata, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	out := filepath.Join(n.Dir, name)
	if err := os.WriteFile(out, []byte(strings.ReplaceAll(string(b), "@DIR@", n.Dir)), 0o644); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return out
}

// Daemon is a VRRP implementation running in a host.
type Daemon struct {
	Kind string // "lvsctl" or "keepalived"
	Proc *lab.Process
	// Socket is the control socket of `director up` ("" otherwise).
	Socket string
}

// LvsctlArgs is the `lvsctl vrrp run` command line that runs conf.
func LvsctlArgs(conf string) []string {
	return []string{"vrrp", "run", "-f", conf, "--log-level", "debug"}
}

// StartLvsctl runs `lvsctl vrrp run` (LvsctlArgs) with conf in h.
func StartLvsctl(t testing.TB, h *lab.Host, conf string) *Daemon {
	t.Helper()
	cmd := exec.Command(h.Lab().Lvsctl(), LvsctlArgs(conf)...)
	return &Daemon{Kind: "lvsctl", Proc: h.StartCmd(cmd)}
}

// StartDirector runs `lvsctl director up` with conf in h, with a control
// socket of its own: the daemon operators run, which runs a VRRP-only file
// without IPVS and reloads every subsystem on SIGHUP.
func StartDirector(t testing.TB, h *lab.Host, conf string) *Daemon {
	t.Helper()
	sock := filepath.Join(t.TempDir(), h.Name()+".sock")
	cmd := exec.Command(h.Lab().Lvsctl(), "director", "up", "-f", conf, "--socket", sock, "--log-level", "debug")
	return &Daemon{Kind: "lvsctl", Proc: h.StartCmd(cmd), Socket: sock}
}

// Starter starts an lvsctl VRRP node (StartLvsctl or StartDirector).
type Starter func(t testing.TB, h *lab.Host, conf string) *Daemon

// Starters are the two ways lvsctl runs VRRP, by name, for tests that
// must hold for both.
func Starters() []NamedStarter {
	return []NamedStarter{{"director-up", StartDirector}, {"vrrp-run", StartLvsctl}}
}

// NamedStarter is a Starter with its subtest name.
type NamedStarter struct {
	Name  string
	Start Starter
}

// Log lines of lvsctl's reload, counted by Reload.
const (
	ReloadDone   = `msg="reload done"`
	ReloadFailed = `msg="reload failed, keeping the running configuration"`
)

// Reload sends SIGHUP and, for lvsctl, waits until the reload was logged as
// done or failed; it reports whether it was done. keepalived reloads in
// the background: Reload returns at once (true).
func (d *Daemon) Reload(t testing.TB) bool {
	t.Helper()
	done, failed := strings.Count(d.Proc.Output(), ReloadDone), strings.Count(d.Proc.Output(), ReloadFailed)
	if err := d.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("reload %s: %v", d.Kind, err)
	}
	if d.Kind != "lvsctl" {
		return true
	}
	ok := false
	WaitFor(t, 10*time.Second, d.Kind+" reload", func() bool {
		out := d.Proc.Output()
		if strings.Count(out, ReloadDone) > done {
			ok = true
			return true
		}
		return strings.Count(out, ReloadFailed) > failed
	})
	return ok
}

// StartKeepalived runs keepalived's VRRP subsystem in h with its own pid
// files, in the foreground, logging to the console.
func StartKeepalived(t testing.TB, h *lab.Host, conf, dir string) *Daemon {
	t.Helper()
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Fatalf("keepalived is not installed (apt-get install keepalived): %v", err)
	}
	pid := func(s string) string { return filepath.Join(dir, h.Name()+"-"+s+".pid") }
	cmd := exec.Command("keepalived", "-n", "-l", "-D", "-P", "-f", conf,
		"-p", pid("main"), "-r", pid("vrrp"), "-c", pid("checkers"), "-b", pid("bfd"))
	return &Daemon{Kind: "keepalived", Proc: h.StartCmd(cmd)}
}

// Start runs kind ("lvsctl" or "keepalived") with conf in h.
func (n *Net) Start(t testing.TB, kind string, h *lab.Host, conf string) *Daemon {
	return StartKind(t, kind, h, conf, n.Dir)
}

// StartKind runs kind ("lvsctl" or "keepalived") with conf in h;
// keepalived's pid files go to dir.
func StartKind(t testing.TB, kind string, h *lab.Host, conf, dir string) *Daemon {
	if kind == "keepalived" {
		return StartKeepalived(t, h, conf, dir)
	}
	return StartLvsctl(t, h, conf)
}

// Stop sends SIGTERM and waits for the daemon to exit.
func (d *Daemon) Stop(t testing.TB) {
	t.Helper()
	if err := d.Proc.Stop(15 * time.Second); err != nil {
		t.Logf("%s exited with %v", d.Kind, err)
	}
}

// HasAddr reports whether h has ip on ifname.
func HasAddr(h *lab.Host, ifname, ip string) bool {
	for _, a := range h.Addrs(ifname) {
		if strings.HasPrefix(a, ip+"/") {
			return true
		}
	}
	return false
}

// WaitFor polls cond every 10ms until it holds or timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitOwner waits until exactly one of a, b holds ip on ifname and it is want.
func WaitOwner(t testing.TB, timeout time.Duration, a, b, want *lab.Host, ifname, ip string) {
	t.Helper()
	WaitFor(t, timeout, fmt.Sprintf("%s only on %s", ip, want.Name()), func() bool {
		return HasAddr(a, ifname, ip) == (want == a) && HasAddr(b, ifname, ip) == (want == b)
	})
}

// Probe is one TCP connect attempt of the client.
type Probe struct {
	At time.Time
	OK bool
}

// Prober connects to addr from the client every interval.
type Prober struct {
	mu     sync.Mutex
	probes []Probe
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartProber opens a TCP connection to addr (host:port) every interval;
// a probe succeeds when the handshake completes within timeout. A connect
// probe, unlike an HTTP request, is not broken by a connection that moves
// to the new master half-way (the new master would reset it): it measures
// whether the VIP answers, which is what VRRP controls.
func StartProber(h *lab.Host, addr string, interval, timeout time.Duration) *Prober {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Prober{cancel: cancel}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case at := <-tick.C:
				p.wg.Add(1)
				go func() {
					defer p.wg.Done()
					dctx, cancel := context.WithTimeout(context.Background(), timeout)
					defer cancel()
					c, err := h.DialContext(dctx, "tcp", addr)
					if err == nil {
						_ = c.Close()
					}
					p.mu.Lock()
					p.probes = append(p.probes, Probe{At: at, OK: err == nil})
					p.mu.Unlock()
				}()
			}
		}
	}()
	return p
}

// Stop ends probing and returns every probe in time order.
func (p *Prober) Stop() []Probe {
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := append([]Probe(nil), p.probes...)
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// Loss summarises probes: how many failed, and the outage from the first
// failed probe to the first success after the last failure.
type Loss struct {
	Total, Lost int
	Outage      time.Duration
	// First is the first failed probe, Recovered the first success after
	// the last failure.
	First, Recovered time.Time
}

// Summarize computes the loss of probes sent in [from, to) (zero: no bound).
func Summarize(probes []Probe, from, to time.Time) Loss {
	var l Loss
	var in []Probe
	for _, p := range probes {
		if (!from.IsZero() && p.At.Before(from)) || (!to.IsZero() && !p.At.Before(to)) {
			continue
		}
		in = append(in, p)
	}
	var lastFail time.Time
	for _, p := range in {
		l.Total++
		if !p.OK {
			l.Lost++
			if l.First.IsZero() {
				l.First = p.At
			}
			lastFail = p.At
		}
	}
	if l.Lost == 0 {
		return l
	}
	for _, p := range in {
		if p.OK && p.At.After(lastFail) {
			l.Recovered = p.At
			break
		}
	}
	if l.Recovered.IsZero() {
		l.Recovered = lastFail
	}
	l.Outage = l.Recovered.Sub(l.First)
	return l
}

// Advert is one VRRP advert seen by the client.
type Advert struct {
	At       time.Time
	Src      netip.Addr
	VRID     uint8
	Priority uint8
}

// AdvertLog records the adverts reaching a host.
type AdvertLog struct {
	mu   sync.Mutex
	ads  []Advert
	conn net.PacketConn
	done chan struct{}
}

// WatchAdverts listens for VRRP on h (which must be on the switch; the lab
// floods multicast to every port).
func WatchAdverts(t testing.TB, h *lab.Host, ifname string, group string) *AdvertLog {
	t.Helper()
	c, err := h.ListenPacket("ip4:112", "0.0.0.0")
	if err != nil {
		t.Fatalf("listen VRRP on %s: %v", h.Name(), err)
	}
	ipc := c.(*net.IPConn)
	if err := joinGroup(h, ipc, ifname, group); err != nil {
		t.Fatalf("join %s on %s: %v", group, h.Name(), err)
	}
	l := &AdvertLog{conn: c, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		buf := make([]byte, 1500)
		for {
			k, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			at := time.Now()
			p, err := packet.Parse(buf[:k], false)
			if err != nil {
				continue
			}
			src, _ := netip.AddrFromSlice(from.(*net.IPAddr).IP.To4())
			l.mu.Lock()
			l.ads = append(l.ads, Advert{At: at, Src: src, VRID: p.VRID, Priority: p.Priority})
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = c.Close(); <-l.done })
	return l
}

// Adverts returns the adverts seen so far.
func (l *AdvertLog) Adverts() []Advert {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Advert(nil), l.ads...)
}

// LastFrom is the last advert of vrid from src with a non-zero priority
// before t (zero Advert if none).
func (l *AdvertLog) LastFrom(vrid uint8, src netip.Addr, before time.Time) Advert {
	var out Advert
	for _, a := range l.Adverts() {
		if a.VRID == vrid && a.Src == src && a.Priority != 0 && a.At.Before(before) {
			out = a
		}
	}
	return out
}

// FirstFrom is the first advert of vrid from src with a non-zero priority
// after t. The capture lags the wire a little (more on a loaded machine):
// when none is logged yet it waits up to 2 s for one, so a caller that
// just saw the sender become master does not race its own capture; the
// advert's time is the capture's, whenever FirstFrom returns.
func (l *AdvertLog) FirstFrom(vrid uint8, src netip.Addr, after time.Time) Advert {
	deadline := time.Now().Add(2 * time.Second)
	for {
		for _, a := range l.Adverts() {
			if a.VRID == vrid && a.Src == src && a.Priority != 0 && a.At.After(after) {
				return a
			}
		}
		if time.Now().After(deadline) {
			return Advert{}
		}
		time.Sleep(20 * time.Millisecond)
	}
}
