//go:build vm

package ipvs_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/directortest"
	"github.com/lvsctl/lvsctl/director/ipvs"
	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/e2e/vm/guest"
)

func key(t *testing.T, s string) director.ServiceKey {
	t.Helper()
	k, err := director.ParseServiceKey(s)
	require.NoError(t, err)
	return k
}

// Every service shape the config can express is written to the real kernel
// and read back equal (HASHED masked, netmasks as ipvsadm sends them), in a
// fresh namespace so nothing leaks between tests.
func TestKernelRoundTrip(t *testing.T) {
	guest.RequireIPVS(t)
	ctx := context.Background()
	h := lab.New(t).Host("director")
	c, err := ipvs.Open(h.NSPath())
	require.NoError(t, err)
	defer c.Close()

	svcs := []director.Service{
		{Key: key(t, "TCP 10.16.8.100:80"), Scheduler: "rr", Netmask: director.DefaultNetmask(director.IPv4)},
		{Key: key(t, "UDP 10.16.8.100:53"), Scheduler: "wlc", Flags: director.FlagPersistent | director.FlagOnePacket,
			Timeout: 300, Netmask: director.IPv4Netmask(24)},
		{Key: key(t, "SCTP 10.16.8.100:3868"), Scheduler: "sh", Flags: director.FlagSched1 | director.FlagSched2,
			Netmask: director.DefaultNetmask(director.IPv4)},
		{Key: key(t, "TCP [2001:db8::100]:443"), Scheduler: "wrr", Flags: director.FlagPersistent, Timeout: 60, Netmask: 64},
		{Key: director.ServiceKey{Family: director.IPv4, FWMark: 7}, Scheduler: "mh", Netmask: director.DefaultNetmask(director.IPv4)},
	}
	for _, sched := range []string{"lc", "lblc", "lblcr", "dh", "sed", "nq", "fo", "ovf"} {
		svcs = append(svcs, director.Service{Key: director.ServiceKey{Family: director.IPv4, Protocol: director.TCP,
			Addr: netip.MustParseAddr("10.16.9.1"), Port: uint16(1000 + len(svcs))}, Scheduler: sched,
			Netmask: director.DefaultNetmask(director.IPv4)})
	}
	for _, s := range svcs {
		require.NoError(t, c.NewService(ctx, s), s.Key.String())
	}
	require.ErrorIs(t, c.NewService(ctx, svcs[0]), unix.EEXIST)

	dr := director.Destination{Addr: netip.MustParseAddr("10.16.8.8"), Port: 80, Weight: 3, Forward: director.DirectRoute,
		UpperThreshold: 100, LowerThreshold: 10}
	require.NoError(t, c.NewDestination(ctx, svcs[0].Key, dr))
	nat := director.Destination{Addr: netip.MustParseAddr("10.16.8.9"), Port: 8080, Weight: 1, Forward: director.Masq}
	require.NoError(t, c.NewDestination(ctx, svcs[0].Key, nat))
	tun := director.Destination{Addr: netip.MustParseAddr("2001:db8::8"), Port: 443, Weight: 1, Forward: director.Tunnel}
	require.NoError(t, c.NewDestination(ctx, svcs[3].Key, tun))

	got, err := director.Dump(ctx, c, nil)
	require.NoError(t, err)
	require.Len(t, got, len(svcs))
	for _, s := range svcs {
		g := got[s.Key]
		require.NotNil(t, g, s.Key.String())
		assert.True(t, director.ServiceEqual(s, g.Service), "%s: wrote %+v read %+v", s.Key, s, g.Service)
	}
	assert.True(t, director.DestEqual(dr, got[svcs[0].Key].Dests[dr.Key()]))
	assert.True(t, director.DestEqual(nat, got[svcs[0].Key].Dests[nat.Key()]))
	assert.True(t, director.DestEqual(tun, got[svcs[3].Key].Dests[tun.Key()]))

	// Edits and deletes.
	dr.Weight = 0
	require.NoError(t, c.UpdateDestination(ctx, svcs[0].Key, dr))
	upd := svcs[0]
	upd.Scheduler = "wrr"
	require.NoError(t, c.UpdateService(ctx, upd))
	require.NoError(t, c.DelDestination(ctx, svcs[0].Key, nat.Key()))
	got, err = director.Dump(ctx, c, nil)
	require.NoError(t, err)
	assert.Equal(t, "wrr", got[svcs[0].Key].Service.Scheduler)
	assert.Len(t, got[svcs[0].Key].Dests, 1)
	assert.Equal(t, 0, got[svcs[0].Key].Dests[dr.Key()].Weight)
	for _, s := range svcs {
		require.NoError(t, c.DelService(ctx, s.Key))
	}
	got, err = director.Dump(ctx, c, nil)
	require.NoError(t, err)
	assert.Empty(t, got)
}

// TestVMScale prints the figures of the performance section for
// the real kernel: cold start of 1,000 virtual services × 10 real servers,
// a reload that changes one real server, and a full resync dump.
func TestVMScale(t *testing.T) {
	guest.RequireIPVS(t)
	ctx := context.Background()
	h := lab.New(t).Host("director")
	c, err := ipvs.Open(h.NSPath())
	require.NoError(t, err)
	defer c.Close()

	cfg := func() director.Config {
		var cfg director.Config
		for i := range 1000 {
			vs := director.VirtualService{Service: director.Service{Key: director.ServiceKey{Protocol: director.TCP,
				Addr: netip.AddrFrom4([4]byte{10, 100, byte(i >> 8), byte(i)}), Port: 80}, Scheduler: "wrr"}}
			for j := range 10 {
				vs.RealServers = append(vs.RealServers, director.RealServer{Addr: netip.AddrFrom4([4]byte{10, 200, 0, byte(j)}),
					Port: 80, Weight: 1, Forward: director.DirectRoute, Checked: true})
			}
			cfg.Services = append(cfg.Services, vs)
		}
		return directortest.Complete(cfg)
	}
	start := time.Now()
	d, err := director.New(cfg(), director.Options{IPVS: c})
	require.NoError(t, err)
	require.NoError(t, d.Start(ctx))
	cold := time.Since(start)

	next := cfg()
	next.Services[567].RealServers[3].Weight = 5
	start = time.Now()
	res, err := d.Reload(ctx, next)
	require.NoError(t, err)
	reload := time.Since(start)
	require.Len(t, res.Applied, 1)

	start = time.Now()
	drift, err := d.Sync(ctx)
	require.NoError(t, err)
	resync := time.Since(start)
	require.Zero(t, drift)

	start = time.Now()
	require.NoError(t, d.Stop(ctx))
	stop := time.Since(start)
	t.Logf("FIGURES real kernel, 1000 VS x 10 RS: cold start %s (11000 edits), reload of one RS %s (1 edit), "+
		"resync dump+diff %s, stop %s", cold.Round(time.Millisecond), reload.Round(time.Microsecond),
		resync.Round(time.Millisecond), stop.Round(time.Millisecond))
}
