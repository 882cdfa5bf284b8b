//go:build e2e

package healthcheck_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/healthcheck"
)

// TestE2EUDP: UDP_CHECK from the director's namespace to a real server:
// an answering service passes with require_reply and matching data; a
// closed port fails on the ICMP port unreachable; a cut link fails only
// with require_reply (keepalived counts silence as success otherwise).
func TestE2EUDP(t *testing.T) {
	l := lab.New(t)
	sw := l.Switch("lan")
	dir, rs1 := l.Host("dir"), l.Host("rs1")
	sw.Attach(dir, "eth0", "10.16.8.2/24")
	link := sw.Attach(rs1, "eth0", "10.16.8.8/24")
	pc, err := rs1.ListenPacket("udp4", "10.16.8.8:53")
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte("ok:"), buf[:n]...), from)
		}
	}()
	ctx := context.Background()
	spec := func(addr string, u healthcheck.UDPSpec) *healthcheck.Spec {
		u.MaxReply = 255
		return &healthcheck.Spec{Kind: healthcheck.UDPCheck, Addr: netip.MustParseAddrPort(addr),
			ConnectTimeout: time.Second, DelayLoop: time.Second, DelayBeforeRetry: 100 * time.Millisecond, UDP: &u}
	}
	check := func(s *healthcheck.Spec) healthcheck.Result {
		var res healthcheck.Result
		require.NoError(t, dir.Do(func() error {
			res = healthcheck.CheckOnce(ctx, s, nil)
			return nil
		}))
		return res
	}
	want := healthcheck.UDPSpec{Payload: []byte("ping"), RequireReply: true, Reply: []byte("ok:ping")}
	require.Eventually(t, func() bool { return check(spec("10.16.8.8:53", want)).OK }, 10*time.Second, 200*time.Millisecond)
	r := check(spec("10.16.8.8:54", healthcheck.UDPSpec{}))
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "connection refused")

	link.Cut()
	r = check(spec("10.16.8.8:53", want))
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "no reply within 1s")
	r = check(spec("10.16.8.8:53", healthcheck.UDPSpec{}))
	assert.True(t, r.OK, "silence passes without require_reply: %s", r.Reason)
}
