package app_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director/fakeipvs"
	"github.com/lvsctl/lvsctl/internal/app"
	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/internal/netroute"
	"github.com/lvsctl/lvsctl/internal/netroute/netroutetest"
)

var (
	staticAddr   = netroute.Addr{Prefix: netip.MustParsePrefix("10.9.0.1/24"), Dev: "eth1"}
	staticRoute1 = netroute.Route{Dst: netip.MustParsePrefix("192.168.60.0/24"), Via: netip.MustParseAddr("10.9.0.254"), Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived}
	staticRoute2 = netroute.Route{Dst: netip.MustParsePrefix("192.168.61.0/24"), Type: netroute.Blackhole, Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived}
	staticRule   = netroute.Rule{From: netip.MustParsePrefix("10.9.0.0/24"), Priority: 100, Action: netroute.ActionTable, Table: 100, Protocol: netroute.ProtoKeepalived}
)

// The static set is in the kernel before VRRP runs, follows reloads as a
// diff (a failing one changes nothing and is refused) and is removed after
// VRRP stopped, as keepalived's start_vrrp/stop_vrrp do.
func TestDaemonStaticRoutes(t *testing.T) {
	k := &netroutetest.Kernel{}
	node := newFakeVRRP()
	// The fake node calls table when its Run's context ends.
	var routesWhenVRRPStopped []netroute.Route
	node.table = func() int {
		routesWhenVRRPStopped = k.State().Routes
		return 0
	}
	var mu sync.Mutex
	next := loaded("10.16.8.100")
	next.VRRP = seedVRRP()
	next.Static = netroute.Set{Addrs: []netroute.Addr{staticAddr}, Routes: []netroute.Route{staticRoute1}, Rules: []netroute.Rule{staticRule}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var dm *app.Daemon
	ready := make(chan struct{})
	go func() {
		done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) {
				mu.Lock()
				defer mu.Unlock()
				return next, nil
			},
			IPVS: fakeipvs.New(), NewVRRP: node.new, Routes: k,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready:  func(d *app.Daemon) { dm = d; close(ready) },
		})
	}()
	<-ready
	<-node.running
	assert.Equal(t, []netroute.Route{staticRoute1}, k.State().Routes, "static routes are in once VRRP runs")
	var got []string
	for _, o := range k.Ops() {
		got = append(got, o.String())
	}
	assert.Equal(t, []string{"add addr " + staticAddr.String(), "add route " + staticRoute1.String(), "add rule " + staticRule.String()}, got)

	// Reload: one route replaced, the address and rule untouched.
	mu.Lock()
	next = loaded("10.16.8.100")
	next.VRRP = seedVRRP()
	next.Static = netroute.Set{Addrs: []netroute.Addr{staticAddr}, Routes: []netroute.Route{staticRoute2}, Rules: []netroute.Rule{staticRule}}
	mu.Unlock()
	require.Empty(t, dm.Reload(ctx))
	got = nil
	for _, o := range k.Ops() {
		got = append(got, o.String())
	}
	assert.Equal(t, []string{"add route " + staticRoute2.String(), "del route " + staticRoute1.String()}, got)

	// A reload whose route the kernel refuses is refused; the running set stays.
	k.Fail(netroutetest.Op{Verb: "add", Kind: "route", Route: staticRoute1}, errors.New("ENETUNREACH"))
	mu.Lock()
	next = loaded("10.16.8.100")
	next.VRRP = seedVRRP()
	next.Static = netroute.Set{Routes: []netroute.Route{staticRoute1}}
	mu.Unlock()
	errs := dm.Reload(ctx)
	require.Len(t, errs, 1)
	assert.ErrorContains(t, errs[0], "add route "+staticRoute1.String())
	st := k.State()
	assert.Equal(t, []netroute.Addr{staticAddr}, st.Addrs)
	assert.Equal(t, []netroute.Route{staticRoute2}, st.Routes)
	assert.Equal(t, []netroute.Rule{staticRule}, st.Rules)
	k.Ops()

	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, []netroute.Route{staticRoute2}, routesWhenVRRPStopped, "static routes stay until VRRP has stopped")
	got = nil
	for _, o := range k.Ops() {
		got = append(got, o.String())
	}
	assert.Equal(t, []string{"del rule " + staticRule.String(), "del route " + staticRoute2.String(), "del addr " + staticAddr.String()}, got)
	assert.True(t, k.State().Empty())
}

// A static route the kernel refuses at start stops the start; what was
// added before it is removed again.
func TestDaemonStaticRoutesStartError(t *testing.T) {
	k := &netroutetest.Kernel{}
	k.Fail(netroutetest.Op{Verb: "add", Kind: "rule", Rule: staticRule}, errors.New("EINVAL"))
	l := loaded("10.16.8.100")
	l.Static = netroute.Set{Routes: []netroute.Route{staticRoute1}, Rules: []netroute.Rule{staticRule}}
	err := app.Run(context.Background(), app.Options{
		Load: func() (*config.Desired, error) { return l, nil }, IPVS: fakeipvs.New(), Routes: k,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.Error(t, err)
	assert.ErrorContains(t, err, "add rule "+staticRule.String())
	assert.True(t, k.State().Empty(), "left %+v", k.State())
}
