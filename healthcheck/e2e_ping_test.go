//go:build e2e

package healthcheck_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/healthcheck"
)

// TestE2EPing: PING_CHECK from the director's namespace to a real server
// over a switch, IPv4 and IPv6: up while it answers, down (after
// connect_timeout) when its link is cut and for an address nobody holds.
func TestE2EPing(t *testing.T) {
	l := lab.New(t)
	sw := l.Switch("lan")
	dir, rs1 := l.Host("dir"), l.Host("rs1")
	sw.Attach(dir, "eth0", "10.16.8.2/24", "fd00:16::2/64")
	link := sw.Attach(rs1, "eth0", "10.16.8.8/24", "fd00:16::8/64")
	ctx := context.Background()
	spec := func(addr string) *healthcheck.Spec {
		return &healthcheck.Spec{Kind: healthcheck.PingCheck, Addr: netip.AddrPortFrom(netip.MustParseAddr(addr), 0),
			ConnectTimeout: time.Second, DelayLoop: time.Second, DelayBeforeRetry: 100 * time.Millisecond}
	}
	check := func(s *healthcheck.Spec) healthcheck.Result {
		var res healthcheck.Result
		require.NoError(t, dir.Do(func() error {
			res = healthcheck.CheckOnce(ctx, s, nil)
			return nil
		}))
		return res
	}
	for _, a := range []string{"10.16.8.8", "fd00:16::8"} {
		require.Eventually(t, func() bool { return check(spec(a)).OK }, 10*time.Second, 200*time.Millisecond, a)
	}
	r := check(spec("10.16.8.9"))
	assert.False(t, r.OK)
	assert.True(t, strings.Contains(r.Reason, "no echo reply") || strings.Contains(r.Reason, "unreachable"), r.Reason)

	link.Cut()
	for _, a := range []string{"10.16.8.8", "fd00:16::8"} {
		start := time.Now()
		r := check(spec(a))
		assert.False(t, r.OK, a)
		assert.Contains(t, r.Reason, "no echo reply within 1s")
		assert.Less(t, time.Since(start), 3*time.Second)
	}
}
