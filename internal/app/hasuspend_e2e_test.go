//go:build e2e

package app_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/internal/app"
)

// TestNetlinkAddrsSeesVIP: the ha_suspend address watch sees an address
// arrive and leave on an interface of the namespace (as keepalived's
// netlink reflector does), whoever adds it.
func TestNetlinkAddrsSeesVIP(t *testing.T) {
	l := lab.New(t)
	h := l.Host("dir")
	vip := netip.MustParseAddr("10.16.8.100")
	var mu sync.Mutex
	var last map[netip.Addr]int
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.NetlinkAddrsAt(h.NS())(ctx, func(a map[netip.Addr]int) {
			mu.Lock()
			last = a
			mu.Unlock()
		})
	}()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	has := func() (bool, bool) {
		mu.Lock()
		defer mu.Unlock()
		return last != nil, last[vip] > 0
	}
	require.Eventually(t, func() bool { known, _ := has(); return known }, 5*time.Second, 10*time.Millisecond)
	_, present := has()
	require.False(t, present)

	h.AddAddr("lo", "10.16.8.100/32")
	require.Eventually(t, func() bool { _, p := has(); return p }, 5*time.Second, 10*time.Millisecond, "VIP added")

	link, err := h.Handle().LinkByName("lo")
	require.NoError(t, err)
	a, err := netlink.ParseAddr("10.16.8.100/32")
	require.NoError(t, err)
	require.NoError(t, h.Handle().AddrDel(link, a))
	require.Eventually(t, func() bool { _, p := has(); return !p }, 5*time.Second, 10*time.Millisecond, "VIP removed")
}
