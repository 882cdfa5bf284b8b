package healthcheck

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// udpServer answers every datagram on loopback with reply(payload) (nil:
// no answer) and records what it got.
func udpServer(t *testing.T, reply func([]byte) []byte) (netip.AddrPort, <-chan []byte) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	got := make(chan []byte, 16)
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			p := append([]byte(nil), buf[:n]...)
			got <- p
			if r := reply(p); r != nil {
				_, _ = pc.WriteTo(r, from)
			}
		}
	}()
	return netip.MustParseAddrPort(pc.LocalAddr().String()), got
}

func udpSpec(addr netip.AddrPort, u UDPSpec) *Spec {
	if u.MaxReply == 0 {
		u.MaxReply = 255
	}
	return &Spec{Kind: UDPCheck, Addr: addr, ConnectTimeout: 300 * time.Millisecond, DelayLoop: time.Second, UDP: &u}
}

// TestUDPCheck follows keepalived's UDP_CHECK: silence passes unless
// require_reply; a closed port (ICMP port unreachable) fails; a reply is
// compared (length bounds, data outside the x nibbles) only when reply
// data is configured; the default payload is keepalived's 32 bytes.
func TestUDPCheck(t *testing.T) {
	ctx := context.Background()
	silent, got := udpServer(t, func([]byte) []byte { return nil })
	r := probeUDP(ctx, udpSpec(silent, UDPSpec{}))
	assert.True(t, r.OK, r.Reason)
	assert.Equal(t, "keepalived check - keepalived ch", string(<-got))
	r = probeUDP(ctx, udpSpec(silent, UDPSpec{RequireReply: true}))
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "no reply within 300ms")

	// A port nobody listens on: the kernel's ICMP port unreachable.
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	closed := netip.MustParseAddrPort(pc.LocalAddr().String())
	require.NoError(t, pc.Close())
	r = probeUDP(ctx, udpSpec(closed, UDPSpec{}))
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "connection refused")

	echo, got := udpServer(t, func(p []byte) []byte { return append([]byte{0xab, 0xcd}, p...) })
	s := udpSpec(echo, UDPSpec{Payload: []byte{1, 2, 3}, RequireReply: true, Reply: []byte{0xab, 0xc0}, ReplyMask: []byte{0, 0x0f}})
	r = probeUDP(ctx, s)
	assert.True(t, r.OK, r.Reason)
	assert.Equal(t, []byte{1, 2, 3}, <-got)
	s.UDP.Reply = []byte{0xab, 0xd0}
	r = probeUDP(ctx, s)
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "data differs at octet 1")
	s.UDP.Reply, s.UDP.MaxReply = []byte{0xab}, 4
	r = probeUDP(ctx, s)
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "length 5 outside 0..4")
	// Without reply data the answer is not examined (keepalived).
	s.UDP.Reply = nil
	r = probeUDP(ctx, s)
	assert.True(t, r.OK, r.Reason)
}
