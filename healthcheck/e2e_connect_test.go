//go:build e2e

package healthcheck_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/healthcheck"
)

// TestE2EConnectUnanswered checks servers whose SYNs are never answered:
// an address nobody holds (ARP fails) and a known server whose link is
// cut. The built-in raw dialer must wait for the handshake, so every
// attempt fails after connect_timeout and the check ends DOWN; a dialer
// that reports "connected" while the connect is still pending keeps them
// UP forever. CheckOnce runs inside the director's namespace (Host.Do
// pins the goroutine to a thread there), so the built-in dialer's sockets
// belong to the director and no packet leaves the lab.
func TestE2EConnectUnanswered(t *testing.T) {
	l := lab.New(t)
	sw := l.Switch("lan")
	dir, rs1 := l.Host("dir"), l.Host("rs1")
	sw.Attach(dir, "eth0", "10.16.8.2/24")
	link := sw.Attach(rs1, "eth0", "10.16.8.8/24")
	rs1.ServeHTTP("10.16.8.8:80")
	ctx := context.Background()
	require.NoError(t, dir.WaitTCP(ctx, "10.16.8.8:80"))

	const (
		connectTimeout = time.Second
		retry          = 1
		retryDelay     = 200 * time.Millisecond
		slack          = 700 * time.Millisecond
	)
	// Every attempt waits connect_timeout; retries wait delay_before_retry.
	bound := (retry+1)*connectTimeout + retry*retryDelay
	spec := func(kind healthcheck.Kind, addr string) *healthcheck.Spec {
		s := &healthcheck.Spec{
			Kind: kind, Addr: netip.MustParseAddrPort(addr),
			ConnectTimeout: connectTimeout, DelayLoop: time.Second, DelayBeforeRetry: retryDelay, Retry: retry,
		}
		if kind != healthcheck.TCPCheck {
			s.HTTP = &healthcheck.HTTPSpec{URLs: []healthcheck.URL{{Path: "/"}}}
		}
		return s
	}
	check := func(t *testing.T, s *healthcheck.Spec) (healthcheck.Result, time.Duration) {
		t.Helper()
		var res healthcheck.Result
		start := time.Now()
		require.NoError(t, dir.Do(func() error {
			res = healthcheck.CheckOnce(ctx, s, nil)
			return nil
		}))
		return res, time.Since(start)
	}
	kinds := []healthcheck.Kind{healthcheck.TCPCheck, healthcheck.HTTPGet, healthcheck.SSLGet}
	requireDown := func(t *testing.T, s *healthcheck.Spec) {
		t.Helper()
		res, took := check(t, s)
		require.False(t, res.OK, "%s %s passed after %s: %s", s.Kind, s.Addr, took, res.Reason)
		// The connect itself must be what failed, not a later phase, and
		// only after waiting: a timeout on every attempt, or the kernel's
		// EHOSTUNREACH once ARP for the address has failed (about 3 s).
		require.Contains(t, res.Reason, "connect: ", res.Reason)
		if strings.Contains(res.Reason, "no route to host") {
			require.GreaterOrEqual(t, took, connectTimeout, "%s %s: %s", s.Kind, s.Addr, res.Reason)
		} else {
			require.Contains(t, res.Reason, "connect: timeout", res.Reason)
			require.GreaterOrEqual(t, took, bound-100*time.Millisecond, "%s %s: %s", s.Kind, s.Addr, res.Reason)
		}
		require.LessOrEqual(t, took, bound+slack, "%s %s: %s", s.Kind, s.Addr, res.Reason)
		t.Logf("%s %s: DOWN after %s (bound (retry+1)*connect_timeout + retry*delay_before_retry = %s): %s",
			s.Kind, s.Addr, took.Round(time.Millisecond), bound, res.Reason)
	}

	t.Run("no ARP answer", func(t *testing.T) {
		// One unused address per kind, so each starts with ARP unresolved.
		for i, k := range kinds {
			addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 16, 8, byte(77 + i)}), 80)
			t.Run(k.String(), func(t *testing.T) { requireDown(t, spec(k, addr.String())) })
		}
	})

	t.Run("link cut", func(t *testing.T) {
		// Up first, so the director knows rs1's MAC: the SYNs then go out
		// and vanish, as with a powered-off server.
		for _, k := range []healthcheck.Kind{healthcheck.TCPCheck, healthcheck.HTTPGet} {
			res, _ := check(t, spec(k, "10.16.8.8:80"))
			require.True(t, res.OK, res.Reason)
		}
		link.Cut()
		for _, k := range kinds {
			t.Run(k.String(), func(t *testing.T) { requireDown(t, spec(k, "10.16.8.8:80")) })
		}
		link.Reconnect()
		for _, k := range []healthcheck.Kind{healthcheck.TCPCheck, healthcheck.HTTPGet} {
			var res healthcheck.Result
			// ARP may need a moment to recover after the reconnect.
			for i := 0; i < 10; i++ {
				if res, _ = check(t, spec(k, "10.16.8.8:80")); res.OK {
					break
				}
			}
			require.True(t, res.OK, res.Reason)
			require.False(t, strings.Contains(res.Reason, "timeout"), res.Reason)
		}
	})
}
