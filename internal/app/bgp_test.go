package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/bgp"
	"github.com/lvsctl/lvsctl/bgp/fakespeaker"
	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/fakeipvs"
	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/app"
	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/internal/control"
)

// withBGP is loaded(vips…) announcing the first VIP.
func withBGP(drain time.Duration, vips ...string) *config.Desired {
	d := loaded(vips...)
	d.BGP = &bgp.Config{RouterID: netip.MustParseAddr("10.16.8.10"), LocalAS: 65010, ListenPort: -1,
		ShutdownDrain: drain, SloppyTCP: true,
		Neighbors: []bgp.Neighbor{{Addr: netip.MustParseAddr("10.16.8.1"), RemoteAS: 65000, HoldTime: 9 * time.Second,
			Keepalive: 3 * time.Second}}}
	d.BGPAnnounce = []director.ServiceKey{key(vips[0] + ":80")}
	return d
}

// timeline records the speaker's calls with what IPVS held at that moment.
type timeline struct {
	mu    sync.Mutex
	f     *fakeipvs.IPVS
	calls []string
}

func (tl *timeline) record(call string) error {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	svc := tl.f.Table()[key("10.16.8.100:80")]
	state := "ipvs-absent"
	switch {
	case svc != nil && len(svc.Dests) > 0:
		state = "ipvs-programmed"
	case svc != nil:
		state = "ipvs-empty" // no quorum: the real servers are out
	}
	tl.calls = append(tl.calls, call+" ["+state+"]")
	return nil
}

func (tl *timeline) take() []string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	c := tl.calls
	tl.calls = nil
	return c
}

func TestDaemonBGP(t *testing.T) {
	f, h := fakeipvs.New(), newFakeHealth()
	tl := &timeline{f: f}
	sp := &fakespeaker.Speaker{Fail: tl.record}
	procSys := t.TempDir()
	sloppy := filepath.Join(procSys, "net", "ipv4", "vs", "sloppy_tcp")
	require.NoError(t, os.MkdirAll(filepath.Dir(sloppy), 0o755))
	require.NoError(t, os.WriteFile(sloppy, []byte("0\n"), 0o644))
	sock := filepath.Join(t.TempDir(), "d.sock")

	var mu sync.Mutex
	next := withBGP(300*time.Millisecond, "10.16.8.100", "10.16.8.101")
	reload := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) {
				mu.Lock()
				defer mu.Unlock()
				return next, nil
			},
			IPVS: f, Health: h, Socket: sock, Reload: reload, ProcSys: procSys,
			NewBGPSpeaker: func(*slog.Logger) bgp.Speaker { return sp },
			Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready:         func(*app.Daemon) { close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon stopped: %v", err)
	}

	// Start: IPVS is programmed before the route is announced.
	assert.Equal(t, []string{"start 10.16.8.10 65010 [ipvs-programmed]", "add-peer 10.16.8.1 [ipvs-programmed]",
		"announce 10.16.8.100/32 [ipvs-programmed]"}, tl.take())
	b, _ := os.ReadFile(sloppy)
	assert.Equal(t, "1\n", string(b))

	// Quorum: both real servers down withdraws at once (the health event
	// pokes the watcher; no poll interval to wait for), one back announces.
	a9 := director.RealRef{Service: a8.Service, Real: real("10.16.8.9:80")}
	start := time.Now()
	h.events <- healthcheck.Event[director.RealRef]{Key: a8, Old: healthcheck.Up, New: healthcheck.Down}
	h.events <- healthcheck.Event[director.RealRef]{Key: a9, Old: healthcheck.Up, New: healthcheck.Down}
	require.Eventually(t, func() bool { return len(sp.Paths()) == 0 }, 5*time.Second, time.Millisecond)
	t.Logf("withdrawn %v after the last real server went down", time.Since(start).Round(time.Microsecond))
	assert.Equal(t, []string{"withdraw 10.16.8.100/32 [ipvs-empty]"}, tl.take())

	resp, err := control.Call(context.Background(), sock, control.Request{Op: control.OpStatus})
	require.NoError(t, err)
	require.NotNil(t, resp.Status.BGP)
	require.Len(t, resp.Status.BGP.Routes, 1)
	assert.Equal(t, bgp.ReasonQuorum, resp.Status.BGP.Routes[0].Reason)
	assert.False(t, resp.Status.BGP.Routes[0].Announced)
	assert.Len(t, resp.Status.BGP.Peers, 1)
	assert.Len(t, resp.Status.Services[0].Fingerprint, 16)

	h.events <- healthcheck.Event[director.RealRef]{Key: a9, Old: healthcheck.Down, New: healthcheck.Up}
	require.Eventually(t, func() bool { return len(sp.Paths()) == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, []string{"announce 10.16.8.100/32 [ipvs-programmed]"}, tl.take())

	// Operator drain over the socket, and back.
	resp, err = control.Call(context.Background(), sock, control.Request{Op: control.OpBGPDrain})
	require.NoError(t, err)
	require.True(t, resp.OK, resp.Errors)
	assert.Equal(t, []string{"announce 10.16.8.100/32 gshut [ipvs-programmed]"}, tl.take())
	resp, err = control.Call(context.Background(), sock, control.Request{Op: control.OpBGPEnable})
	require.NoError(t, err)
	require.True(t, resp.OK, resp.Errors)
	assert.Equal(t, []string{"announce 10.16.8.100/32 [ipvs-programmed]"}, tl.take())

	// An unchanged reload touches no session and no route.
	mu.Lock()
	next = withBGP(300*time.Millisecond, "10.16.8.100", "10.16.8.101")
	mu.Unlock()
	resp, err = control.Call(context.Background(), sock, control.Request{Op: control.OpReload})
	require.NoError(t, err)
	require.True(t, resp.OK, resp.Errors)
	time.Sleep(50 * time.Millisecond)
	assert.Empty(t, tl.take())

	// A configuration without the bgp block leaves make-before-break and
	// puts sloppy_tcp back; one with it starts again.
	reloadTo := func(d *config.Desired) {
		t.Helper()
		mu.Lock()
		next = d
		mu.Unlock()
		resp, err := control.Call(context.Background(), sock, control.Request{Op: control.OpReload})
		require.NoError(t, err)
		require.True(t, resp.OK, resp.Errors)
	}
	reloadTo(loaded("10.16.8.100", "10.16.8.101"))
	assert.Equal(t, []string{"announce 10.16.8.100/32 gshut [ipvs-programmed]", "withdraw 10.16.8.100/32 [ipvs-programmed]",
		"stop [ipvs-programmed]"}, tl.take())
	b, _ = os.ReadFile(sloppy)
	assert.Equal(t, "0\n", string(b))
	reloadTo(withBGP(300*time.Millisecond, "10.16.8.100", "10.16.8.101"))
	assert.Equal(t, []string{"start 10.16.8.10 65010 [ipvs-programmed]", "add-peer 10.16.8.1 [ipvs-programmed]",
		"announce 10.16.8.100/32 [ipvs-programmed]"}, tl.take())
	b, _ = os.ReadFile(sloppy)
	assert.Equal(t, "1\n", string(b))

	// Stop: graceful shutdown, the drain, the withdrawal, then IPVS goes.
	stopAt := time.Now()
	cancel()
	require.NoError(t, <-done)
	calls := tl.take()
	assert.Equal(t, []string{"announce 10.16.8.100/32 gshut [ipvs-programmed]", "withdraw 10.16.8.100/32 [ipvs-programmed]",
		"stop [ipvs-programmed]"}, calls)
	assert.GreaterOrEqual(t, time.Since(stopAt), 300*time.Millisecond, "the drain time passed before the withdrawal")
	assert.Empty(t, f.Table(), "IPVS removed after the withdrawal")
	b, _ = os.ReadFile(sloppy)
	assert.Equal(t, "0\n", string(b), "sloppy_tcp put back")
	assert.True(t, slices.ContainsFunc(calls, func(c string) bool { return strings.Contains(c, "gshut") }))
}
