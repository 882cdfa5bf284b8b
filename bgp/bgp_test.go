package bgp_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/bgp"
	"github.com/lvsctl/lvsctl/bgp/fakespeaker"
	"github.com/lvsctl/lvsctl/internal/clock/clocktest"
)

var (
	vipA = netip.MustParsePrefix("10.16.8.100/32")
	vipB = netip.MustParsePrefix("10.16.8.101/32")
	vip6 = netip.MustParsePrefix("2001:db8::100/128")
)

func TestDecide(t *testing.T) {
	up, down := true, false
	for _, tc := range []struct {
		name  string
		vips  []bgp.VIP
		phase bgp.Phase
		want  []bgp.Route
	}{
		{"nothing configured", nil, bgp.PhaseRun, []bgp.Route{}},
		{"healthy is announced", []bgp.VIP{{vipA, up}}, bgp.PhaseRun,
			[]bgp.Route{{Prefix: vipA, Announced: true, Reason: bgp.ReasonHealthy}}},
		{"no quorum is withdrawn", []bgp.VIP{{vipA, down}}, bgp.PhaseRun,
			[]bgp.Route{{Prefix: vipA, Reason: bgp.ReasonQuorum}}},
		{"one healthy service of two keeps the VIP", []bgp.VIP{{vipA, down}, {vipA, up}}, bgp.PhaseRun,
			[]bgp.Route{{Prefix: vipA, Announced: true, Reason: bgp.ReasonHealthy}}},
		{"sorted, both families", []bgp.VIP{{vip6, up}, {vipB, up}, {vipA, down}}, bgp.PhaseRun,
			[]bgp.Route{
				{Prefix: vipA, Reason: bgp.ReasonQuorum},
				{Prefix: vipB, Announced: true, Reason: bgp.ReasonHealthy},
				{Prefix: vip6, Announced: true, Reason: bgp.ReasonHealthy},
			}},
		{"drain announces healthy ones with graceful shutdown", []bgp.VIP{{vipA, up}, {vipB, down}}, bgp.PhaseDrain,
			[]bgp.Route{
				{Prefix: vipA, Announced: true, GracefulShutdown: true, Reason: bgp.ReasonDrain},
				{Prefix: vipB, Reason: bgp.ReasonQuorum},
			}},
		{"shutdown withdraws everything", []bgp.VIP{{vipA, up}, {vipB, down}}, bgp.PhaseShutdown,
			[]bgp.Route{{Prefix: vipA, Reason: bgp.ReasonShutdown}, {Prefix: vipB, Reason: bgp.ReasonShutdown}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, bgp.Decide(tc.vips, tc.phase))
		})
	}
}

func TestPathOf(t *testing.T) {
	p := bgp.PathOf(bgp.Route{Prefix: vipA, Announced: true, GracefulShutdown: true})
	assert.Equal(t, []uint32{0xFFFF0000}, p.Communities)
	assert.True(t, p.GracefulShutdown)
	assert.Empty(t, bgp.PathOf(bgp.Route{Prefix: vipA, Announced: true}).Communities)
	assert.Equal(t, vip6, bgp.HostPrefix(netip.MustParseAddr("2001:db8::100")))
	assert.Equal(t, vipA, bgp.HostPrefix(netip.MustParseAddr("::ffff:10.16.8.100")))
}

func testConfig() bgp.Config {
	return bgp.Config{
		RouterID: netip.MustParseAddr("10.16.8.10"), LocalAS: 65010, ListenPort: -1, ShutdownDrain: 5 * time.Second,
		Neighbors: []bgp.Neighbor{
			{Addr: netip.MustParseAddr("10.16.8.1"), RemoteAS: 65000, HoldTime: 9 * time.Second, Keepalive: 3 * time.Second},
			{Addr: netip.MustParseAddr("10.16.8.2"), RemoteAS: 65000, HoldTime: 9 * time.Second, Keepalive: 3 * time.Second},
		},
	}
}

func TestRuntimeLifecycle(t *testing.T) {
	ctx := context.Background()
	sp := &fakespeaker.Speaker{}
	clk := clocktest.New(time.Unix(1000, 0))
	var changes []string
	rt := bgp.New(sp, bgp.Options{Clock: clk, OnChange: func(_, next bgp.Route) {
		changes = append(changes, next.Prefix.String()+" "+string(next.Reason))
	}})

	require.NoError(t, rt.Start(ctx, testConfig(), []bgp.VIP{{vipA, true}, {vipB, false}}))
	assert.Equal(t, []string{"start 10.16.8.10 65010", "add-peer 10.16.8.1", "add-peer 10.16.8.2", "announce 10.16.8.100/32"},
		sp.Calls())

	// Quorum comes and goes: one edit each, nothing for what did not change.
	require.NoError(t, rt.SetVIPs(ctx, []bgp.VIP{{vipA, true}, {vipB, true}}))
	assert.Equal(t, []string{"announce 10.16.8.101/32"}, sp.Calls())
	require.NoError(t, rt.SetVIPs(ctx, []bgp.VIP{{vipA, false}, {vipB, true}}))
	assert.Equal(t, []string{"withdraw 10.16.8.100/32"}, sp.Calls())
	require.NoError(t, rt.SetVIPs(ctx, []bgp.VIP{{vipA, false}, {vipB, true}}))
	assert.Empty(t, sp.Calls())

	st, err := rt.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.Routes, 2)
	assert.Equal(t, bgp.RouteStatus{Prefix: vipA, Reason: bgp.ReasonQuorum, Since: clk.Now()}, st.Routes[0])
	assert.True(t, st.Routes[1].Announced)
	assert.Len(t, st.Peers, 2)

	// Operator drain and back.
	require.NoError(t, rt.Drain(ctx, true))
	assert.Equal(t, []string{"announce 10.16.8.101/32 gshut"}, sp.Calls())
	require.NoError(t, rt.Drain(ctx, false))
	assert.Equal(t, []string{"announce 10.16.8.101/32"}, sp.Calls())

	// Stop: graceful shutdown first, the drain time, then the withdrawal.
	done := make(chan error, 1)
	go func() { done <- rt.Stop(ctx) }()
	require.Eventually(t, func() bool { return clk.Pending(5 * time.Second) }, 5*time.Second, time.Millisecond)
	assert.Equal(t, []string{"announce 10.16.8.101/32 gshut"}, sp.Calls())
	select {
	case err := <-done:
		t.Fatalf("Stop returned before the drain time: %v", err)
	default:
	}
	clk.Advance(5 * time.Second)
	require.NoError(t, <-done)
	assert.Equal(t, []string{"withdraw 10.16.8.101/32", "stop"}, sp.Calls())
	assert.Contains(t, changes, "10.16.8.101/32 drain")
	assert.Equal(t, "10.16.8.101/32 shutdown", changes[len(changes)-1])
}

func TestRuntimeStopWithoutRoutesDoesNotWait(t *testing.T) {
	ctx := context.Background()
	sp := &fakespeaker.Speaker{}
	rt := bgp.New(sp, bgp.Options{Clock: clocktest.New(time.Unix(0, 0))})
	require.NoError(t, rt.Start(ctx, testConfig(), []bgp.VIP{{vipA, false}}))
	sp.Calls()
	require.NoError(t, rt.Stop(ctx))
	assert.Equal(t, []string{"stop"}, sp.Calls())
}

func TestRuntimeReload(t *testing.T) {
	ctx := context.Background()
	sp := &fakespeaker.Speaker{}
	rt := bgp.New(sp, bgp.Options{})
	cfg := testConfig()
	require.NoError(t, rt.Start(ctx, cfg, []bgp.VIP{{vipA, true}}))
	sp.Calls()

	// Unchanged (a position moved): no session is touched.
	same := testConfig()
	same.Neighbors[0].Pos = "elsewhere:3"
	require.NoError(t, rt.Reload(ctx, same, []bgp.VIP{{vipA, true}}))
	assert.Empty(t, sp.Calls())

	// One changed, one removed, one added; a VIP added, one removed.
	next := testConfig()
	next.Neighbors[0].HoldTime = 30 * time.Second
	next.Neighbors[1].Addr = netip.MustParseAddr("10.16.8.3")
	require.NoError(t, rt.Reload(ctx, next, []bgp.VIP{{vipB, true}}))
	assert.Equal(t, []string{"update-peer 10.16.8.1", "add-peer 10.16.8.3", "delete-peer 10.16.8.2",
		"announce 10.16.8.101/32", "withdraw 10.16.8.100/32"}, sp.Calls())

	// A new AS restarts the speaker and announces again.
	next.LocalAS = 65011
	require.NoError(t, rt.Reload(ctx, next, []bgp.VIP{{vipB, true}}))
	assert.Equal(t, []string{"stop", "start 10.16.8.10 65011", "add-peer 10.16.8.1", "add-peer 10.16.8.3",
		"announce 10.16.8.101/32"}, sp.Calls())
}

func TestRuntimeRetriesFailedEdits(t *testing.T) {
	ctx := context.Background()
	fail := true
	sp := &fakespeaker.Speaker{Fail: func(call string) error {
		if fail && strings.HasPrefix(call, "announce") {
			return errors.New("boom")
		}
		return nil
	}}
	rt := bgp.New(sp, bgp.Options{})
	require.NoError(t, rt.Start(ctx, testConfig(), []bgp.VIP{{vipA, true}}), "the speaker runs; the edit is retried")
	st, _ := rt.Status(ctx)
	assert.Contains(t, st.LastError, "boom")
	assert.False(t, st.Routes[0].Announced)
	sp.Calls()
	fail = false
	require.NoError(t, rt.Resync(ctx))
	assert.Equal(t, []string{"announce 10.16.8.100/32"}, sp.Calls())
	require.NoError(t, rt.Resync(ctx))
	assert.Empty(t, sp.Calls())
}

// TestRuntimeStopWaitsAfterTheWithdrawal: the speaker (and, after Stop,
// IPVS) stays for WithdrawGrace after the withdrawal, for the packets the
// router still sends while its FIB changes.
func TestRuntimeStopWaitsAfterTheWithdrawal(t *testing.T) {
	ctx := context.Background()
	sp := &fakespeaker.Speaker{}
	clk := clocktest.New(time.Unix(0, 0))
	rt := bgp.New(sp, bgp.Options{Clock: clk})
	cfg := testConfig()
	cfg.ShutdownDrain, cfg.WithdrawGrace = 0, time.Second
	require.NoError(t, rt.Start(ctx, cfg, []bgp.VIP{{vipA, true}}))
	sp.Calls()
	done := make(chan error, 1)
	go func() { done <- rt.Stop(ctx) }()
	require.Eventually(t, func() bool { return clk.Pending(time.Second) }, 5*time.Second, time.Millisecond)
	assert.Equal(t, []string{"announce 10.16.8.100/32 gshut", "withdraw 10.16.8.100/32"}, sp.Calls())
	clk.Advance(time.Second)
	require.NoError(t, <-done)
	assert.Equal(t, []string{"stop"}, sp.Calls())
}
