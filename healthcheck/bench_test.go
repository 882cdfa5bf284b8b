package healthcheck

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsctl/lvsctl/internal/clock/clocktest"
)

func benchListener(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); _ = c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func benchProbe(b *testing.B, s *Spec, dial DialFunc) {
	p := newProbe(s, dial)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r := p(ctx, 0); !r.OK {
			b.Fatal(r.Reason)
		}
	}
}

// BenchmarkTCPCheckRaw is TCP_CHECK with the built-in connect-only path.
func BenchmarkTCPCheckRaw(b *testing.B) {
	addr := benchListener(b)
	s := &Spec{Kind: TCPCheck, Addr: netip.MustParseAddrPort(addr), ConnectTimeout: time.Second, DelayLoop: time.Second}
	benchProbe(b, s, nil)
}

// BenchmarkTCPCheckNetDial is TCP_CHECK through net.Dialer (an injected
// DialFunc takes this path).
func BenchmarkTCPCheckNetDial(b *testing.B) {
	addr := benchListener(b)
	s := &Spec{Kind: TCPCheck, Addr: netip.MustParseAddrPort(addr), ConnectTimeout: time.Second, DelayLoop: time.Second}
	benchProbe(b, s, DefaultDial)
}

func BenchmarkHTTPGet(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") }))
	b.Cleanup(srv.Close)
	s := &Spec{Kind: HTTPGet, Addr: netip.MustParseAddrPort(strings.TrimPrefix(srv.URL, "http://")), ConnectTimeout: time.Second,
		DelayLoop: time.Second, HTTP: &HTTPSpec{URLs: []URL{{Path: "/", Digest: md5hex("ok\n")}}}}
	benchProbe(b, s, nil)
}

// BenchmarkSchedulerPerCheck is the scheduler's own cost per check (heap,
// timer, state machine, bookkeeping) with probes that do nothing.
func BenchmarkSchedulerPerCheck(b *testing.B) {
	clk := clocktest.New(t0)
	s := New[string](Options{Clock: clk})
	s.inline = true
	s.mkProbe = func(*Spec, DialFunc) probeFunc {
		return func(context.Context, int) Result { return Result{OK: true} }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	const n = 10000
	servers := make([]Server[string], n)
	for i := range servers {
		sp := tcpSpec("10.0.0.1:80")
		sp.Addr = netip.MustParseAddrPort("10.0.0.1:" + strconv.Itoa(1+i))
		sp.DelayLoop = time.Second
		sp.Warmup = time.Second
		servers[i] = Server[string]{Key: strconv.Itoa(i), Checks: []Spec{sp}}
	}
	if err := s.Set(ctx, servers); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clk.FireNext()
	}
}
