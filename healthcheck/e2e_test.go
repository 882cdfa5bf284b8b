//go:build e2e

package healthcheck_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/healthcheck"
)

// TestE2ENamespaces checks two real servers from a director namespace,
// over a bridge, with the sockets created inside the director namespace
// through an injected DialFunc, and measures how fast transitions come.
func TestE2ENamespaces(t *testing.T) {
	l := lab.New(t)
	sw := l.Switch("lan")
	dir, rs1, rs2 := l.Host("dir"), l.Host("rs1"), l.Host("rs2")
	sw.Attach(dir, "eth0", "10.16.8.2/24")
	sw.Attach(rs1, "eth0", "10.16.8.8/24")
	sw.Attach(rs2, "eth0", "10.16.8.9/24")
	web1 := rs1.ServeHTTP("10.16.8.8:80")
	web2 := rs2.ServeHTTP("10.16.8.9:80")

	const (
		delayLoop      = time.Second
		connectTimeout = time.Second
		retry          = 2
		retryDelay     = 500 * time.Millisecond
		slack          = 500 * time.Millisecond
	)
	spec := func(addr string) healthcheck.Spec {
		return healthcheck.Spec{
			Kind: healthcheck.HTTPGet, Addr: netip.MustParseAddrPort(addr),
			ConnectTimeout: connectTimeout, DelayLoop: delayLoop, DelayBeforeRetry: retryDelay, Retry: retry,
			HTTP: &healthcheck.HTTPSpec{URLs: []healthcheck.URL{{Path: "/"}}},
		}
	}
	dial := func(ctx context.Context, network string, _ healthcheck.Local, remote netip.AddrPort) (net.Conn, error) {
		return dir.DialContext(ctx, network, remote.String())
	}
	// The lab's links carry traffic a moment after they are made; a first
	// check that misses it is a DOWN (keepalived starts checkers with
	// their retries used up), so wait until both listen from the
	// director's side.
	for _, addr := range []string{"10.16.8.8:80", "10.16.8.9:80"} {
		wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, dir.WaitTCP(wctx, addr))
		wcancel()
	}
	s := healthcheck.New[string](healthcheck.Options{Dial: dial})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.NoError(t, s.Set(ctx, []healthcheck.Server[string]{
		{Key: "rs1", Checks: []healthcheck.Spec{spec("10.16.8.8:80")}},
		{Key: "rs2", Checks: []healthcheck.Spec{spec("10.16.8.9:80")}},
	}))

	wait := func(id string, want healthcheck.State, limit time.Duration) (healthcheck.Event[string], time.Duration) {
		t.Helper()
		start := time.Now()
		timer := time.NewTimer(limit + 5*time.Second)
		defer timer.Stop()
		for {
			select {
			case ev := <-s.Events():
				if ev.Key == id && ev.New == want {
					took := time.Since(start)
					require.LessOrEqual(t, took, limit, "%s %s after %s: %s", id, want, took, ev.Reason)
					return ev, took
				}
				t.Fatalf("unexpected event %+v", ev)
			case <-timer.C:
				t.Fatalf("%s never became %s", id, want)
			}
		}
	}

	// Both come up and stay up (the first checks run at once, no warmup).
	time.Sleep(2 * delayLoop)
	st, err := s.Status(ctx)
	require.NoError(t, err)
	for _, x := range st {
		require.Equal(t, healthcheck.Up, x.State, "%s: %s", x.Key, x.Reason)
	}
	require.Positive(t, web1.Requests())
	require.Positive(t, web2.Requests())

	// Stop rs1: refused connections, DOWN after retry+1 failures.
	require.NoError(t, web1.Stop())
	bound := delayLoop + retry*retryDelay + connectTimeout
	ev, took := wait("rs1", healthcheck.Down, bound+slack)
	t.Logf("rs1 stopped: DOWN after %s (bound delay_loop + retry*delay_before_retry + connect_timeout = %s, margin %s): %s",
		took.Round(time.Millisecond), bound, (bound - took).Round(time.Millisecond), ev.Reason)

	// Restart rs1: keepalived's HTTP_GET needs one full pass over its URLs
	// after the failed URL passes again: UP within two delay_loops.
	require.NoError(t, web1.Start())
	ev, took = wait("rs1", healthcheck.Up, 2*delayLoop+slack)
	t.Logf("rs1 restarted: UP after %s (bound 2*delay_loop = %s): %s", took.Round(time.Millisecond), 2*delayLoop, ev.Reason)

	// rs2 accepts but never answers: every attempt fails after
	// connect_timeout (an idle read), DOWN after retry+1 of them.
	require.NoError(t, web2.Stop())
	ln, err := rs2.Listen("tcp", "10.16.8.9:80")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	bound = delayLoop + (retry+1)*connectTimeout + retry*retryDelay
	ev, took = wait("rs2", healthcheck.Down, bound+slack)
	require.True(t, strings.Contains(ev.Reason, "timeout"), ev.Reason)
	t.Logf("rs2 silent: DOWN after %s (bound delay_loop + (retry+1)*connect_timeout + retry*delay_before_retry = %s): %s",
		took.Round(time.Millisecond), bound, ev.Reason)
}
