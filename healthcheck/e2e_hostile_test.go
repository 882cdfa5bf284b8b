//go:build e2e

package healthcheck_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/healthcheck"
)

// usage is what a hostile server can make the checker spend.
type usage struct {
	heap       uint64 // bytes in use by the heap
	goroutines int
	fds        int
}

func (u usage) String() string {
	return fmt.Sprintf("heap %.1f MiB, %d goroutines, %d FDs", float64(u.heap)/(1<<20), u.goroutines, u.fds)
}

func measure(t *testing.T) usage {
	t.Helper()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return usage{heap: m.HeapInuse, goroutines: runtime.NumGoroutine(), fds: len(fds)}
}

// settled measures after the garbage collector and exiting goroutines
// had their chance, waiting (bounded) for the counts to come back to
// base: a leak keeps them up and fails the caller's assertion.
func settled(t *testing.T, base usage) usage {
	t.Helper()
	var u usage
	for range 50 {
		runtime.GC()
		u = measure(t)
		if u.goroutines <= base.goroutines+2 && u.fds <= base.fds+2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return u
}

// hostileLab is a director host and a real server host whose listeners
// the tests make hostile.
func hostileLab(t *testing.T) (dir, rs *lab.Host) {
	l := lab.New(t)
	sw := l.Switch("lan")
	dir, rs = l.Host("dir"), l.Host("rs1")
	sw.Attach(dir, "eth0", "10.16.8.2/24")
	sw.Attach(rs, "eth0", "10.16.8.8/24")
	return dir, rs
}

// serve accepts on addr inside h and hands each connection to fn.
func serve(t *testing.T, h *lab.Host, addr string, fn func(c *net.TCPConn)) {
	t.Helper()
	ln, err := h.Listen("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go fn(c.(*net.TCPConn))
		}
	}()
}

func httpSpec(addr string, connectTimeout time.Duration) *healthcheck.Spec {
	return &healthcheck.Spec{Kind: healthcheck.HTTPGet, Addr: netip.MustParseAddrPort(addr),
		ConnectTimeout: connectTimeout, DelayLoop: time.Second, DelayBeforeRetry: 100 * time.Millisecond, Retry: 1,
		HTTP: &healthcheck.HTTPSpec{URLs: []healthcheck.URL{{Path: "/"}}}}
}

func dirDial(dir *lab.Host) healthcheck.DialFunc {
	return func(ctx context.Context, network string, _ healthcheck.Local, remote netip.AddrPort) (net.Conn, error) {
		return dir.DialContext(ctx, network, remote.String())
	}
}

// A server that accepts and then resets, at a random moment (before the
// request, after it, in the middle of the status line or of the body),
// is DOWN with a reason, and costs nothing once the checks stop: every
// connection is closed, no goroutine is left.
func TestE2EHostileResetServer(t *testing.T) {
	dir, rs := hostileLab(t)
	var resets atomic.Int64
	rng := rand.New(rand.NewPCG(15, 1))
	var rngMu sync.Mutex
	draw := func(n uint64) uint64 {
		rngMu.Lock()
		defer rngMu.Unlock()
		return rng.Uint64() % n
	}
	var moments [4]atomic.Int64
	serve(t, rs, "10.16.8.8:80", func(c *net.TCPConn) {
		// A zero linger turns Close into a RST.
		_ = c.SetLinger(0)
		defer c.Close()
		defer resets.Add(1)
		// The moment is drawn before any I/O.
		m := int(draw(4))
		moments[m].Add(1)
		buf := make([]byte, 512)
		switch m {
		case 0: // at once
		case 1:
			_, _ = c.Read(buf)
		case 2:
			_, _ = c.Read(buf)
			_, _ = c.Write([]byte("HTTP/1.1 20"))
		case 3:
			_, _ = c.Read(buf)
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhal"))
		}
		time.Sleep(time.Duration(draw(20)) * time.Millisecond)
	})
	require.NoError(t, dir.WaitTCP(context.Background(), "10.16.8.8:80"))
	base := measure(t)

	const n = 50 // checkers against the one server
	s := healthcheck.New[int](healthcheck.Options{Dial: dirDial(dir)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	servers := make([]healthcheck.Server[int], n)
	for i := range servers {
		servers[i] = healthcheck.Server[int]{Key: i, Checks: []healthcheck.Spec{*httpSpec("10.16.8.8:80", time.Second)}}
	}
	require.NoError(t, s.Set(ctx, servers))
	down := map[int]string{}
	deadline := time.After(15 * time.Second)
	var peak usage
	for len(down) < n {
		select {
		case ev := <-s.Events():
			require.Equal(t, healthcheck.Down, ev.New, "a resetting server came up: %+v", ev)
			down[ev.Key] = ev.Reason
			if u := measure(t); u.fds > peak.fds {
				peak = u
			}
		case <-deadline:
			t.Fatalf("only %d of %d checkers went DOWN", len(down), n)
		}
	}
	// Some more rounds: nothing comes up again.
	select {
	case ev := <-s.Events():
		t.Fatalf("unexpected event %+v", ev)
	case <-time.After(2 * time.Second):
	}
	reasons := map[string]int{}
	for _, r := range down {
		switch {
		case strings.Contains(r, "reset by peer"):
			reasons["reset"]++
		case strings.Contains(r, "EOF"):
			reasons["EOF"]++
		default:
			reasons[r]++
		}
	}
	cancel()
	require.NoError(t, <-done)
	after := settled(t, base)
	t.Logf("%d resets (moments %d/%d/%d/%d), reasons %v", resets.Load(), moments[0].Load(), moments[1].Load(),
		moments[2].Load(), moments[3].Load(), reasons)
	t.Logf("before: %s; during (peak FDs): %s; after: %s", base, peak, after)
	assert.GreaterOrEqual(t, resets.Load(), int64(2*n))
	assert.LessOrEqual(t, peak.fds, base.fds+2*n+20, "more connections than checks in flight")
	assert.LessOrEqual(t, after.fds, base.fds+2, "connections leaked")
	assert.LessOrEqual(t, after.goroutines, base.goroutines+2, "goroutines leaked")
}

// A slowloris server answers one byte per second: faster than the idle
// timeout (connect_timeout), so only the total bound of a fetch
// (3 × connect_timeout) ends the check. Headers that never end, a body
// that never ends, and an endless stream of header lines sent fast: each
// ends DOWN within its bound, and holds nothing afterwards.
func TestE2EHostileSlowloris(t *testing.T) {
	dir, rs := hostileLab(t)
	const connectTimeout = 2 * time.Second
	total := healthcheck.DefaultTotalTimeoutFactor * connectTimeout
	drip := func(prefix, drip string) func(c *net.TCPConn) {
		return func(c *net.TCPConn) {
			defer c.Close()
			buf := make([]byte, 512)
			_, _ = c.Read(buf)
			if _, err := c.Write([]byte(prefix)); err != nil {
				return
			}
			for i := 0; ; i++ {
				time.Sleep(time.Second)
				if _, err := c.Write([]byte{drip[i%len(drip)]}); err != nil {
					return
				}
			}
		}
	}
	serve(t, rs, "10.16.8.8:80", drip("", "HTTP/1.1 200 OK\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
	serve(t, rs, "10.16.8.8:81", drip("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", "x"))
	serve(t, rs, "10.16.8.8:82", func(c *net.TCPConn) {
		defer c.Close()
		buf := make([]byte, 512)
		_, _ = c.Read(buf)
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\n"))
		line := []byte("X-Flood: " + strings.Repeat("f", 1000) + "\r\n")
		for {
			if _, err := c.Write(line); err != nil {
				return
			}
		}
	})
	ctx := context.Background()
	for _, a := range []string{"10.16.8.8:80", "10.16.8.8:81", "10.16.8.8:82"} {
		require.NoError(t, dir.WaitTCP(ctx, a))
	}
	base := settled(t, measure(t))
	for _, tc := range []struct {
		name, addr, reason string
		min, max           time.Duration
	}{
		{"headers one byte per second", "10.16.8.8:80", "", total, total + time.Second},
		{"body one byte per second", "10.16.8.8:81", "", total, total + time.Second},
		{"endless headers, fast", "10.16.8.8:82", "header", 0, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := httpSpec(tc.addr, connectTimeout)
			s.Retry = 0
			start := time.Now()
			res := healthcheck.CheckOnce(ctx, s, dirDial(dir))
			took := time.Since(start)
			t.Logf("DOWN after %v (bound %v): %s", took.Round(10*time.Millisecond), tc.max, res.Reason)
			require.False(t, res.OK, res.Reason)
			assert.Contains(t, res.Reason, tc.reason)
			assert.GreaterOrEqual(t, took, tc.min-100*time.Millisecond, "ended before its bound: not what the test is about")
			assert.LessOrEqual(t, took, tc.max, "a slow server held the check past its bound")
		})
	}
	after := settled(t, base)
	t.Logf("before: %s; after: %s", base, after)
	assert.LessOrEqual(t, after.fds, base.fds+2, "connections leaked")
	assert.LessOrEqual(t, after.goroutines, base.goroutines+2, "goroutines leaked")
}

// nsDial creates each socket inside the director's namespace (a socket
// keeps the namespace it was made in) but connects and waits on the
// caller's goroutine: lab.Host.DialContext would hold a locked OS thread
// per pending connect, 10,000 threads here.
func nsDial(dir *lab.Host) healthcheck.DialFunc {
	return func(ctx context.Context, _ string, _ healthcheck.Local, remote netip.AddrPort) (net.Conn, error) {
		var fd int
		if err := dir.Do(func() error {
			var err error
			fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			return err
		}); err != nil {
			return nil, fmt.Errorf("socket: %w", err)
		}
		sa := &unix.SockaddrInet4{Port: int(remote.Port()), Addr: remote.Addr().As4()}
		if err := unix.Connect(fd, sa); err != nil && !errors.Is(err, unix.EINPROGRESS) {
			unix.Close(fd)
			return nil, fmt.Errorf("connect: %w", err)
		}
		f := os.NewFile(uintptr(fd), "check")
		defer f.Close()
		if dl, ok := ctx.Deadline(); ok {
			_ = f.SetWriteDeadline(dl)
		}
		rc, err := f.SyscallConn()
		if err != nil {
			return nil, err
		}
		var soErr int
		werr := rc.Write(func(fd uintptr) bool {
			soErr, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
			// Called once before the socket is writable: only a peer
			// address or an error says the connect is over.
			return err != nil || soErr != 0 || peer(int(fd))
		})
		switch {
		case werr != nil:
			return nil, fmt.Errorf("connect: timeout: %w", werr)
		case err != nil:
			return nil, err
		case soErr != 0:
			return nil, fmt.Errorf("connect: %w", syscall.Errno(soErr))
		}
		return net.FileConn(f)
	}
}

func peer(fd int) bool {
	_, err := unix.Getpeername(fd)
	return err == nil
}

// 10,000 real servers whose SYNs are dropped all time out at once: their
// address range is routed to a neighbour whose MAC nobody on the switch
// has, so no RST and no ICMP ever comes back. Every check ends DOWN after
// connect_timeout; heap, goroutines and FDs stay bounded while they are in
// flight and come back to where they were.
func TestE2EHostileTenThousandTimeouts(t *testing.T) {
	dir, _ := hostileLab(t)
	const (
		n              = 10000
		connectTimeout = 3 * time.Second
	)
	dir.AddNeigh("eth0", "10.16.8.250", net.HardwareAddr{0x02, 0xde, 0xad, 0, 0, 1})
	dir.AddRoute("10.99.0.0/16", "eth0", "10.16.8.250")

	base := settled(t, measure(t))
	s := healthcheck.New[int](healthcheck.Options{Dial: nsDial(dir)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	servers := make([]healthcheck.Server[int], n)
	for i := range servers {
		a := netip.AddrFrom4([4]byte{10, 99, byte(i >> 8), byte(i)})
		servers[i] = healthcheck.Server[int]{Key: i, Checks: []healthcheck.Spec{{Kind: healthcheck.TCPCheck,
			Addr: netip.AddrPortFrom(a, 80), ConnectTimeout: connectTimeout, DelayLoop: time.Minute}}}
	}
	start := time.Now()
	require.NoError(t, s.Set(ctx, servers))
	var peak usage
	sample := time.NewTicker(100 * time.Millisecond)
	defer sample.Stop()
	downs, timeouts := 0, 0
	var first, last time.Duration
	limit := time.After(60 * time.Second)
	for downs < n {
		select {
		case ev := <-s.Events():
			require.Equal(t, healthcheck.Down, ev.New)
			if downs == 0 {
				first = time.Since(start)
			}
			downs++
			last = time.Since(start)
			if strings.Contains(ev.Reason, "timeout") {
				timeouts++
			}
		case <-sample.C:
			u := measure(t)
			peak.heap, peak.goroutines, peak.fds = max(peak.heap, u.heap), max(peak.goroutines, u.goroutines), max(peak.fds, u.fds)
		case <-limit:
			t.Fatalf("%d of %d DOWN after 60 s", downs, n)
		}
	}
	cancel()
	require.NoError(t, <-done)
	after := settled(t, base)
	t.Logf("%d DOWN (%d timeouts), first after %v, last after %v (connect_timeout %v)", downs, timeouts,
		first.Round(10*time.Millisecond), last.Round(10*time.Millisecond), connectTimeout)
	t.Logf("before: %s; during (peak): %s; after: %s", base, peak, after)
	assert.Equal(t, n, timeouts, "every check must time out, not be refused")
	assert.GreaterOrEqual(t, first, connectTimeout-100*time.Millisecond, "a check ended before connect_timeout")
	// In flight at once: one goroutine and one socket per check, plus a
	// little; the heap about 4 KiB per check (measured 40 MiB for 10,000).
	// When the 10,000 connect timeouts expire together, each check's
	// context.WithTimeout timer runs its cancel on a goroutine of its own
	// (time.AfterFunc) for a moment: on a loaded machine the peak sample
	// caught 13,593 (CI, 2 cores busy). Bounded still: at most two per
	// check, and none left after (the leak assertions below).
	assert.LessOrEqual(t, peak.goroutines, base.goroutines+2*n+200, "goroutines per check in flight")
	assert.LessOrEqual(t, peak.fds, base.fds+n+100, "sockets per check in flight")
	assert.LessOrEqual(t, peak.heap, base.heap+uint64(n)*6<<10, "heap per check in flight")
	assert.LessOrEqual(t, after.heap, base.heap+16<<20, "heap kept after the checks stopped")
	assert.LessOrEqual(t, after.goroutines, base.goroutines+2, "goroutines leaked")
	assert.LessOrEqual(t, after.fds, base.fds+2, "sockets leaked")
}
