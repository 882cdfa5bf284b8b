//go:build e2e

package vrrp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/lvsctl/lvsctl/e2e/lab"
)

// netlinkReceivers counts the goroutines vishvananda/netlink runs for link
// subscriptions (the receiver, and the one closing the socket on done).
func netlinkReceivers() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "vishvananda/netlink.linkSubscribeAt.func")
}

// Ending a subscription while the library's receive goroutine is blocked
// handing over an update (nobody reads) must still end that goroutine.
func TestE2ELinkSubscriptionEndsWithoutLeak(t *testing.T) {
	h := lab.New(t).Host("mon")
	var sys *netlinkSystem
	require.NoError(t, h.Do(func() error {
		ns, err := currentNS()
		if err != nil {
			return err
		}
		t.Cleanup(ns.close)
		nh, err := netlink.NewHandle()
		if err != nil {
			return err
		}
		t.Cleanup(nh.Close)
		sys = &netlinkSystem{h: nh, ns: ns, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		return nil
	}))
	require.Zero(t, netlinkReceivers(), "another link subscription is running in this test binary")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := sys.Subscribe(ctx)
	require.NoError(t, err)
	require.NotZero(t, netlinkReceivers())

	// More link events than the two 64-slot channels hold, none read.
	require.NoError(t, h.Do(func() error {
		for i := range 100 {
			v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("va%d", i)}, PeerName: fmt.Sprintf("vb%d", i)}
			if err := sys.h.LinkAdd(v); err != nil {
				return err
			}
		}
		return nil
	}))
	require.Eventually(t, func() bool { return len(ch) == cap(ch) }, 5*time.Second, 10*time.Millisecond, "updates buffered")

	cancel()
	for range ch {
	}
	require.Eventually(t, func() bool { return netlinkReceivers() == 0 }, 5*time.Second, 10*time.Millisecond,
		"the netlink receive goroutine outlived the subscription")
}
