package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/fakeipvs"
	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/app"
	"github.com/lvsctl/lvsctl/internal/config"
)

// suspendHealth is fakeHealth that records every Suspend (the complete
// suspended set) and every Set, in call order.
type suspendHealth struct {
	*fakeHealth
	mu    sync.Mutex
	calls []string
	last  []director.RealRef
}

func (h *suspendHealth) Suspend(_ context.Context, keys []director.RealRef) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, "suspend")
	h.last = append([]director.RealRef(nil), keys...)
	return nil
}

func (h *suspendHealth) Set(ctx context.Context, s []healthcheck.Server[director.RealRef]) error {
	h.mu.Lock()
	h.calls = append(h.calls, "set")
	h.mu.Unlock()
	return h.fakeHealth.Set(ctx, s)
}

func (h *suspendHealth) suspended() []director.RealRef {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// fakeAddrs is an AddrWatcher the test drives.
type fakeAddrs struct{ updates chan map[netip.Addr]int }

func (f *fakeAddrs) watch(ctx context.Context, update func(map[netip.Addr]int)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case a := <-f.updates:
			update(a)
		}
	}
}

// TestHASuspendFollowsTheVIP: keepalived's ha_suspend. The checks of a
// virtual server with ha_suspend are suspended before they are ever set
// (until the addresses are known), stay suspended while its address is on
// no interface, run while it is, and the rule follows reloads.
func TestHASuspendFollowsTheVIP(t *testing.T) {
	vip := netip.MustParseAddr("10.16.8.100")
	d := loaded("10.16.8.100", "10.16.8.101")
	d.HASuspend = []config.HASuspend{{Addr: vip, Servers: []director.RealRef{
		{Service: key("10.16.8.100:80"), Real: real("10.16.8.8:80")},
		{Service: key("10.16.8.100:80"), Real: real("10.16.8.9:80")},
	}}}
	h := &suspendHealth{fakeHealth: newFakeHealth()}
	addrs := &fakeAddrs{updates: make(chan map[netip.Addr]int)}
	var mu sync.Mutex
	next := d
	reload := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) {
				mu.Lock()
				defer mu.Unlock()
				return next, nil
			},
			IPVS: fakeipvs.New(), Health: h, WatchAddrs: addrs.watch, Reload: reload,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready:  func(*app.Daemon) { close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon stopped: %v", err)
	}
	t.Cleanup(func() { cancel(); <-done })

	h.mu.Lock()
	assert.Equal(t, []string{"suspend", "set"}, h.calls, "suspended before the first check can run")
	h.mu.Unlock()
	assert.Len(t, h.suspended(), 2, "addresses not known yet: suspended")

	addrs.updates <- map[netip.Addr]int{netip.MustParseAddr("192.0.2.1"): 1}
	require.Eventually(t, func() bool { return len(h.suspended()) == 2 }, 5*time.Second, 5*time.Millisecond)
	addrs.updates <- map[netip.Addr]int{netip.MustParseAddr("192.0.2.1"): 1, vip: 1}
	require.Eventually(t, func() bool { return len(h.suspended()) == 0 }, 5*time.Second, 5*time.Millisecond, "VIP arrived: checks run")
	addrs.updates <- map[netip.Addr]int{netip.MustParseAddr("192.0.2.1"): 1}
	require.Eventually(t, func() bool { return len(h.suspended()) == 2 }, 5*time.Second, 5*time.Millisecond, "VIP gone: suspended again")

	// A reload that drops ha_suspend resumes the checks.
	mu.Lock()
	next = loaded("10.16.8.100", "10.16.8.101")
	mu.Unlock()
	reload <- struct{}{}
	require.Eventually(t, func() bool { return len(h.suspended()) == 0 }, 5*time.Second, 5*time.Millisecond)
}

// The real scheduler can suspend: Daemon finds it by type assertion.
var _ interface {
	Suspend(context.Context, []director.RealRef) error
} = (*healthcheck.Scheduler[director.RealRef])(nil)
