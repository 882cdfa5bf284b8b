//go:build vm

package e2e_test

import (
	"context"
	"fmt"
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
	"github.com/vishvananda/netlink"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/e2e/vm/guest"
	"github.com/lvsctl/lvsctl/internal/control"
)

// The active-active scenario of issue #13 (docs/bgp.md): a BIRD 2 router
// with an ECMP multipath route for the VIP (L4 hash), three directors
// running `lvsctl director up` that announce VIP/32 over BGP and run IPVS
// DR for VIP:9000, three real servers, one client holding long-lived TCP
// streams through the router. Events: a director leaves gracefully
// (SIGTERM: graceful shutdown, drain, withdrawal, then IPVS goes), it comes
// back, another one crashes (link cut + kill -9: the router's hold timer
// notices, 6 s), it comes back. With mh + mh-port + sloppy_tcp every director
// picks the same real server for every flow, so no stream may break; rr
// shows what breaks without that.
const (
	ecmpStreams = 100
	ecmpPort    = 9000
	// ecmpRecover bounds the wait for every stream to answer after an
	// event (the FIB has changed by then): TCP retransmissions, under TCG.
	// A stream still silent then is lost: without sloppy_tcp a director
	// drops the segments of a flow it did not see start, with no reset.
	ecmpRecover = 20 * time.Second
	ecmpClient  = "10.20.0.2"
)

const ecmpBird = `router id 10.16.8.1;
protocol device {}
protocol kernel {
	ipv4 { export all; };
	merge paths on;
}
template bgp dir {
	local 10.16.8.1 as 65000;
	# 3 s held on an idle guest but expired under load (TCG, 100 streams).
	hold time 6;
	keepalive time 2;
	connect retry time 1;
	# A crashed director comes back within seconds: BIRD's default waits
	# a minute or more after a session error before it accepts it again.
	error wait time 1, 3;
	ipv4 { import all; export none; };
}
protocol bgp d1 from dir { neighbor 10.16.8.10 as 65010; }
protocol bgp d2 from dir { neighbor 10.16.8.11 as 65010; }
protocol bgp d3 from dir { neighbor 10.16.8.12 as 65010; }
`

// ecmpConf is a director's file: router_id, extra bgp lines, scheduler
// lines.
const ecmpConf = `bgp {
    router_id %s
    local_as 65010
    shutdown_drain 2
    %s
    neighbor 10.16.8.1 {
        remote_as 65000
        hold_time 6
        keepalive_interval 2
        connect_retry 1
    }
}
virtual_server 10.16.8.100 9000 {
    protocol TCP
    lb_kind DR
    %s
    bgp_announce
    real_server 10.16.8.21 9000 {
    }
    real_server 10.16.8.22 9000 {
    }
    real_server 10.16.8.23 9000 {
    }
}
`

type ecmpDirector struct {
	name, addr string
	host       *lab.Host
	link       *lab.Link
	proc       *lab.Process
	conf, dir  string
}

// ecmpEvent is what one event did to the streams.
type ecmpEvent struct {
	name string
	// broken counts the streams reset (or fed wrong data) and the stalled
	// ones, which are given up after ecmpRecover.
	broken  int
	stalled int
	reasons []string
	routed  time.Duration // event → the router's FIB changed (polled every 10 ms)
}

func TestVMBGPECMP(t *testing.T) {
	guest.RequireIPVS(t)
	bird, err := exec.LookPath("bird")
	require.NoError(t, err, "bird must be in the guest's PATH: run vmrun with -host-bin /usr/sbin/bird")
	lvsctl, err := exec.LookPath("lvsctl")
	require.NoError(t, err, "lvsctl must be in the guest's PATH: run vmrun with -bin ./cmd/lvsctl")
	rows := []struct {
		name, bgpExtra, sched string
		zero                  bool
	}{
		{"mh", "", "lb_algo mh\n    mh-port", true},
		{"mh-nosloppy", "sloppy_tcp off", "lb_algo mh\n    mh-port", false},
		{"rr", "", "lb_algo rr", false},
	}
	var figures []string
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			evs := runECMPScenario(t, bird, lvsctl, row.bgpExtra, row.sched)
			cells := make([]string, len(evs))
			for i, e := range evs {
				cells[i] = fmt.Sprintf("%s %d/%d (FIB %s)", e.name, e.broken, ecmpStreams, e.routed.Round(10*time.Millisecond))
				if e.stalled > 0 {
					cells[i] = fmt.Sprintf("%s %d/%d, %d stalled (FIB %s)", e.name, e.broken, ecmpStreams, e.stalled,
						e.routed.Round(10*time.Millisecond))
				}
				if row.zero {
					assert.Zero(t, e.broken, "%s with mh + mh-port + sloppy_tcp: no stream may break on %s: %v", row.name, e.name, e.reasons)
				}
			}
			figures = append(figures, fmt.Sprintf("FIGURES %-11s %s", row.name, strings.Join(cells, " | ")))
		})
	}
	for _, f := range figures {
		t.Log(f)
	}
}

func runECMPScenario(t *testing.T, bird, lvsctl, bgpExtra, sched string) []ecmpEvent {
	l := lab.New(t)
	front, lan := l.Switch("front"), l.Switch("lan")
	// Every host exists before any daemon starts (see runSyncScenario).
	router, client := l.Host("router"), l.Host("client")
	front.Attach(router, "eth0", "10.20.0.1/24")
	lan.Attach(router, "eth1", "10.16.8.1/24")
	front.Attach(client, "eth0", ecmpClient+"/24")
	client.AddRoute("10.16.8.0/24", "eth0", "10.20.0.1")
	for i := range 3 {
		rs := l.Host(fmt.Sprintf("rs%d", i+1))
		lan.Attach(rs, "eth0", fmt.Sprintf("10.16.8.%d/24", 21+i))
		rs.SetSysctl("net/ipv4/conf/all/arp_ignore", "1")
		rs.SetSysctl("net/ipv4/conf/all/arp_announce", "2")
		rs.AddAddr("lo", vip+"/32")
		rs.AddRoute("10.20.0.0/24", "eth0", "10.16.8.1")
		echoServerOn(t, rs, ecmpPort)
	}
	tmp := t.TempDir()
	var dirs []*ecmpDirector
	for i := range 3 {
		d := &ecmpDirector{name: fmt.Sprintf("d%d", i+1), addr: fmt.Sprintf("10.16.8.%d", 10+i)}
		d.host = l.Host(d.name)
		d.link = lan.Attach(d.host, "eth1", d.addr+"/24")
		// What BGP mode asks of the operator (docs/bgp.md): the VIP on lo
		// with the real-server ARP settings, so IPVS sees the packets.
		d.host.SetSysctl("net/ipv4/conf/all/arp_ignore", "1")
		d.host.SetSysctl("net/ipv4/conf/all/arp_announce", "2")
		d.host.AddAddr("lo", vip+"/32")
		d.dir = filepath.Join(tmp, d.name)
		require.NoError(t, os.MkdirAll(d.dir, 0o755))
		d.conf = filepath.Join(d.dir, "lvsctl.conf")
		require.NoError(t, os.WriteFile(d.conf, fmt.Appendf(nil, ecmpConf, d.addr, bgpExtra, sched), 0o644))
		dirs = append(dirs, d)
	}
	router.SetSysctl("net/ipv4/ip_forward", "1")
	router.SetSysctl("net/ipv4/fib_multipath_hash_policy", "1")
	// One client's TCP re-randomises its flow hash after a retransmission
	// timeout and would move flows by itself (notes/bgp-ecmp.md).
	if _, err := os.Stat("/proc/sys/net/core/txrehash"); err == nil {
		client.SetSysctl("net/core/txrehash", "0")
	}
	conf := filepath.Join(tmp, "bird.conf")
	require.NoError(t, os.WriteFile(conf, []byte(ecmpBird), 0o644))
	birdProc := router.Start(bird, "-f", "-c", conf, "-s", filepath.Join(tmp, "bird.ctl"))

	start := func(d *ecmpDirector) {
		d.proc = d.host.Start(lvsctl, "director", "up", "-f", d.conf, "--socket", filepath.Join(d.dir, "director.sock"))
	}
	nexthops := func() int {
		routes, err := router.Handle().RouteListFiltered(netlink.FAMILY_V4,
			&netlink.Route{Dst: &net.IPNet{IP: net.ParseIP(vip).To4(), Mask: net.CIDRMask(32, 32)}}, netlink.RT_FILTER_DST)
		if err != nil || len(routes) == 0 {
			return 0
		}
		if n := len(routes[0].MultiPath); n > 0 {
			return n
		}
		return 1
	}
	waitHops := func(n int, timeout time.Duration) time.Duration {
		t.Helper()
		begin := time.Now()
		for nexthops() != n {
			if time.Since(begin) > timeout {
				var out strings.Builder
				for _, d := range dirs {
					if d.proc != nil {
						fmt.Fprintf(&out, "%s:\n%s\n", d.name, tailLog(d.proc.Output()))
					}
				}
				t.Fatalf("router: %d next hops for the VIP, want %d, after %s\nbird:\n%s\n%s", nexthops(), n, timeout,
					tailLog(birdProc.Output()), out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		return time.Since(begin)
	}
	for _, d := range dirs {
		start(d)
	}
	t.Logf("ECMP over 3 directors after %s", waitHops(3, 90*time.Second).Round(time.Millisecond))
	// The directors agree on the hash inputs: one fingerprint (docs/bgp.md).
	fps := map[string]bool{}
	for _, d := range dirs {
		resp, err := control.Call(context.Background(), filepath.Join(d.dir, "director.sock"), control.Request{Op: control.OpStatus})
		require.NoError(t, err)
		require.True(t, resp.OK, resp.Errors)
		require.Len(t, resp.Status.Services, 1)
		fps[resp.Status.Services[0].Fingerprint] = true
		require.NotNil(t, resp.Status.BGP)
		require.Len(t, resp.Status.BGP.Peers, 1)
		assert.True(t, resp.Status.BGP.Peers[0].Established, "%s: session with the router", d.name)
	}
	assert.Len(t, fps, 1, "the three directors' fingerprints: %v", fps)

	c := &ecmpClientStreams{t: t, host: client}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() {
		cancel()
		c.closeAll()
	}()
	c.fill(ctx)
	time.Sleep(2 * time.Second)

	var evs []ecmpEvent
	// settle, when set, runs after the FIB changed and before the streams
	// are counted.
	var settle func()
	event := func(name string, hops int, do func()) {
		c.fill(ctx)
		time.Sleep(time.Second)
		before := c.brokenCount()
		at := time.Now()
		do()
		waitHops(hops, 30*time.Second)
		routed := time.Since(at)
		if settle != nil {
			settle()
			settle = nil
		}
		// Flows the router moved must answer through their new director.
		time.Sleep(time.Second)
		since := time.Now()
		stalled, reasons := c.await(since)
		c.giveUp(since)
		ev := ecmpEvent{name: name, broken: c.brokenCount() - before, stalled: stalled, reasons: reasons, routed: routed}
		t.Logf("%s: %d/%d streams broken (%d of them stalled > %s); router FIB changed %s after the event",
			name, ev.broken, ecmpStreams, stalled, ecmpRecover, routed.Round(time.Millisecond))
		for _, r := range reasons {
			t.Logf("  %s", r)
		}
		evs = append(evs, ev)
	}
	d2, d3 := dirs[1], dirs[2]
	// The router's FIB changes when the drain time is over (2 s); lvsctl
	// exits a grace later (1 s), after which its IPVS service goes.
	settle = func() {
		require.NoError(t, d3.proc.Wait(30*time.Second), "lvsctl exits after SIGTERM:\n%s", tailLog(d3.proc.Output()))
	}
	event("withdraw", 2, func() { require.NoError(t, d3.proc.Signal(syscall.SIGTERM)) })
	event("restore", 3, func() { start(d3) })
	event("crash", 2, func() {
		d2.link.Cut()
		require.NoError(t, ignoreKilled(d2.proc.Kill()))
	})
	event("return", 3, func() {
		d2.link.Reconnect()
		start(d2)
	})
	return evs
}

// echoServerOn answers every line with itself on port.
func echoServerOn(t *testing.T, h *lab.Host, port int) {
	ln, err := h.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", port))
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
				buf := make([]byte, 4096)
				for {
					n, err := conn.Read(buf)
					if err != nil {
						return
					}
					if _, err := conn.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
}

// ecmpClientStreams holds the long-lived streams (stream, from the sync
// scenario: a line every 100 ms, echoed).
type ecmpClientStreams struct {
	t       *testing.T
	host    *lab.Host
	mu      sync.Mutex
	streams []*stream
	broken  int // streams dropped by fill after they broke
	nextID  int
}

// fill replaces broken streams until ecmpStreams are alive.
func (c *ecmpClientStreams) fill(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	alive := c.streams[:0]
	for _, s := range c.streams {
		if _, _, err := s.state(); err == nil {
			alive = append(alive, s)
		} else {
			s.conn.Close()
			c.broken++
		}
	}
	c.streams = alive
	for len(c.streams) < ecmpStreams {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := c.host.DialContext(dctx, "tcp", fmt.Sprintf("%s:%d", vip, ecmpPort))
		cancel()
		require.NoError(c.t, err, "open stream %d", c.nextID)
		s := &stream{id: c.nextID, conn: conn, lastOK: time.Now(), done: make(chan struct{})}
		c.nextID++
		c.streams = append(c.streams, s)
		go s.run(ctx)
	}
}

// brokenCount is every stream broken so far.
func (c *ecmpClientStreams) brokenCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.broken
	for _, s := range c.streams {
		if _, _, err := s.state(); err != nil {
			n++
		}
	}
	return n
}

// await waits until every stream that is not broken answered after since,
// at most ecmpRecover.
func (c *ecmpClientStreams) await(since time.Time) (stalled int, reasons []string) {
	deadline := time.Now().Add(ecmpRecover)
	for {
		c.mu.Lock()
		stalled, reasons = 0, nil
		for _, s := range c.streams {
			last, _, err := s.state()
			switch {
			case err != nil:
				reasons = append(reasons, fmt.Sprintf("stream %d (port %d): %v", s.id, s.conn.LocalAddr().(*net.TCPAddr).Port, err))
			case !last.After(since):
				stalled++
			}
		}
		c.mu.Unlock()
		if stalled == 0 || time.Now().After(deadline) {
			return stalled, reasons
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// giveUp marks the streams that have not answered since since as broken
// (fill replaces them).
func (c *ecmpClientStreams) giveUp(since time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.streams {
		s.mu.Lock()
		if s.err == nil && !s.lastOK.After(since) {
			s.err = fmt.Errorf("stalled: no answer for %s", ecmpRecover)
		}
		s.mu.Unlock()
	}
}

func (c *ecmpClientStreams) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.streams {
		s.conn.Close()
	}
}
