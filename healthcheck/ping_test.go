package healthcheck

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func pingSpec(addr string) *Spec {
	return &Spec{Kind: PingCheck, Addr: netip.AddrPortFrom(netip.MustParseAddr(addr), 0),
		ConnectTimeout: 2 * time.Second, DelayLoop: 5 * time.Second, DelayBeforeRetry: time.Second, Retry: 1}
}

// TestPingLoopback: PING_CHECK gets an echo reply from loopback, IPv4 and
// IPv6, and says so; the Spec names only the address.
func TestPingLoopback(t *testing.T) {
	for _, a := range []string{"127.0.0.1", "::1"} {
		s := pingSpec(a)
		require.NoError(t, s.Validate())
		r := probePing(context.Background(), s)
		assert.True(t, r.OK, r.Reason)
		assert.Equal(t, "PING_CHECK "+a+" passed", r.Reason)
	}
}

func TestPingValidate(t *testing.T) {
	s := pingSpec("127.0.0.1")
	s.ConnectTimeout = 0
	assert.ErrorIs(t, s.Validate(), ErrInvalidSpec)
	s = &Spec{Kind: PingCheck, ConnectTimeout: time.Second, DelayLoop: time.Second}
	assert.ErrorIs(t, s.Validate(), ErrInvalidSpec)
}
