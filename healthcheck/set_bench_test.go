package healthcheck

import (
	"context"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/lvsctl/lvsctl/internal/clock/clocktest"
)

// benchServers are n real servers with checks checks each (TCP).
func benchServers(n, checks int) []Server[string] {
	servers := make([]Server[string], n)
	for i := range servers {
		servers[i] = Server[string]{Key: "TCP 10.100.0.1:80 -> 10.200.0.1:" + strconv.Itoa(1+i)}
		for range checks {
			sp := tcpSpec("10.0.0.1:80")
			sp.Addr = netip.MustParseAddrPort("10.0.0.1:" + strconv.Itoa(1+i))
			sp.DelayLoop = 60 * time.Second
			sp.Warmup = 60 * time.Second
			servers[i].Checks = append(servers[i].Checks, sp)
		}
	}
	return servers
}

func benchSet(b *testing.B, checks int) {
	clk := clocktest.New(t0)
	s := New[string](Options{Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	servers := benchServers(10000, checks)
	if err := s.Set(ctx, servers); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Set(ctx, servers); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSetUnchanged10000 is the checks' share of a reload that keeps
// 10,000 real servers: without checkers (the comparison bench) and with
// one TCP_CHECK each.
func BenchmarkSetUnchanged10000NoChecks(b *testing.B) { benchSet(b, 0) }
func BenchmarkSetUnchanged10000OneCheck(b *testing.B) { benchSet(b, 1) }
