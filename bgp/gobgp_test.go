package bgp_test

import (
	"context"
	"maps"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	bgppkt "github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/bgp"
)

// router is a second GoBGP in the test process standing in for the ECMP
// router: it listens on loopback only and accepts what lvsctl announces.
type router struct {
	s    *server.BgpServer
	port uint16
}

func freePort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

func newRouter(t *testing.T, peer netip.Addr, peerAS uint32) *router {
	t.Helper()
	ctx := context.Background()
	r := &router{s: server.NewBgpServer(), port: freePort(t)}
	go r.s.Serve()
	require.NoError(t, r.s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: 65000, RouterId: "127.0.0.1", ListenPort: int32(r.port), ListenAddresses: []string{"127.0.0.1"},
	}}))
	require.NoError(t, r.s.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: peer.String(), PeerAsn: peerAS},
		Transport: &api.Transport{PassiveMode: true},
		Timers:    &api.Timers{Config: &api.TimersConfig{HoldTime: 3, KeepaliveInterval: 1}},
	}}))
	t.Cleanup(func() {
		_ = r.s.StopBgp(context.Background(), &api.StopBgpRequest{})
		r.s.Stop()
	})
	return r
}

// routes is the router's table: prefix → communities of the path.
func (r *router) routes(t *testing.T) map[netip.Prefix][]uint32 {
	out := map[netip.Prefix][]uint32{}
	err := r.s.ListPath(apiutil.ListPathRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL, Family: bgppkt.RF_IPv4_UC},
		func(prefix bgppkt.NLRI, paths []*apiutil.Path) {
			p, err := netip.ParsePrefix(prefix.String())
			if err != nil || len(paths) == 0 {
				return
			}
			var comms []uint32
			for _, a := range paths[0].Attrs {
				if c, ok := a.(*bgppkt.PathAttributeCommunities); ok {
					comms = c.Value
				}
			}
			out[p] = comms
		})
	require.NoError(t, err)
	return out
}

// TestGoBGPAgainstARouter runs the real speaker against a router on
// loopback: the route arrives once the session is up, graceful shutdown
// re-announces it with 65535:0, a withdrawal removes it.
func TestGoBGPAgainstARouter(t *testing.T) {
	ctx := context.Background()
	local := netip.MustParseAddr("127.0.0.2")
	r := newRouter(t, local, 65010)
	sp := bgp.NewGoBGP(nil)
	rt := bgp.New(sp, bgp.Options{})
	cfg := bgp.Config{RouterID: netip.MustParseAddr("10.16.8.10"), LocalAS: 65010, ListenPort: -1,
		ShutdownDrain: 300 * time.Millisecond,
		Neighbors: []bgp.Neighbor{{Addr: netip.MustParseAddr("127.0.0.1"), RemoteAS: 65000, Port: r.port, LocalAddr: local,
			HoldTime: 3 * time.Second, Keepalive: time.Second, ConnectRetry: time.Second}}}
	start := time.Now()
	require.NoError(t, rt.Start(ctx, cfg, []bgp.VIP{{vipA, true}, {vipB, false}}))

	require.Eventually(t, func() bool {
		st, err := rt.Status(ctx)
		return err == nil && len(st.Peers) == 1 && st.Peers[0].Established
	}, 10*time.Second, 20*time.Millisecond)
	up := time.Now()
	require.Eventually(t, func() bool { _, ok := r.routes(t)[vipA]; return ok }, time.Second, 5*time.Millisecond,
		"the route arrives within one keepalive of the session coming up")
	t.Logf("session established %v after start, route at the router %v later", up.Sub(start).Round(time.Millisecond),
		time.Since(up).Round(time.Millisecond))
	require.NotContains(t, r.routes(t), vipB)

	// Export-only: a route the router sends never enters lvsctl's table.
	nlri, err := bgppkt.NewIPAddrPrefix(netip.MustParsePrefix("192.0.2.0/24"))
	require.NoError(t, err)
	nh, err := bgppkt.NewPathAttributeNextHop(netip.MustParseAddr("127.0.0.1"))
	require.NoError(t, err)
	_, err = r.s.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{{Family: bgppkt.RF_IPv4_UC, Nlri: nlri,
		Attrs: []bgppkt.PathAttributeInterface{bgppkt.NewPathAttributeOrigin(0), nh}}}})
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
	mine := (&router{s: sp.Server()}).routes(t)
	require.Equal(t, []netip.Prefix{vipA}, slices.Collect(maps.Keys(mine)), "only the local VIP is in lvsctl's table")

	// Quorum: B gains it, A loses it.
	require.NoError(t, rt.SetVIPs(ctx, []bgp.VIP{{vipA, false}, {vipB, true}}))
	require.Eventually(t, func() bool {
		rs := r.routes(t)
		_, a := rs[vipA]
		_, b := rs[vipB]
		return !a && b
	}, time.Second, 5*time.Millisecond)

	// Stop: the router sees graceful shutdown first, then nothing.
	done := make(chan error, 1)
	go func() { done <- rt.Stop(ctx) }()
	require.Eventually(t, func() bool {
		return slices.Contains(r.routes(t)[vipB], bgp.CommunityGracefulShutdown)
	}, time.Second, 5*time.Millisecond, "graceful shutdown community before the withdrawal")
	require.NoError(t, <-done)
	require.Eventually(t, func() bool {
		rs := r.routes(t)
		_, a := rs[vipA]
		_, b := rs[vipB]
		return !a && !b
	}, 5*time.Second, 5*time.Millisecond)
}

// TestGoBGPIPv6 announces an IPv6 VIP (/128) over an IPv6 session: the
// router learns it with next-hop self.
func TestGoBGPIPv6(t *testing.T) {
	ctx := context.Background()
	lo6 := netip.MustParseAddr("::1")
	port := freePort6(t)
	r := server.NewBgpServer()
	go r.Serve()
	require.NoError(t, r.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: 65000, RouterId: "127.0.0.1", ListenPort: int32(port), ListenAddresses: []string{"::1"},
	}}))
	t.Cleanup(r.Stop)
	require.NoError(t, r.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: "::1", PeerAsn: 65010},
		Transport: &api.Transport{PassiveMode: true},
		AfiSafis: []*api.AfiSafi{{Config: &api.AfiSafiConfig{Enabled: true,
			Family: &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}}}},
	}}))
	rt := bgp.New(bgp.NewGoBGP(nil), bgp.Options{})
	cfg := bgp.Config{RouterID: netip.MustParseAddr("10.16.8.10"), LocalAS: 65010, ListenPort: -1,
		Neighbors: []bgp.Neighbor{{Addr: lo6, RemoteAS: 65000, Port: port, HoldTime: 3 * time.Second,
			Keepalive: time.Second, ConnectRetry: time.Second}}}
	require.NoError(t, rt.Start(ctx, cfg, []bgp.VIP{{Prefix: vip6, Healthy: true}}))
	defer rt.Stop(ctx)
	var nexthop string
	require.Eventually(t, func() bool {
		found := false
		_ = r.ListPath(apiutil.ListPathRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL, Family: bgppkt.RF_IPv6_UC},
			func(prefix bgppkt.NLRI, paths []*apiutil.Path) {
				if prefix.String() != vip6.String() || len(paths) == 0 {
					return
				}
				for _, a := range paths[0].Attrs {
					if mp, ok := a.(*bgppkt.PathAttributeMpReachNLRI); ok {
						nexthop = mp.Nexthop.String()
					}
				}
				found = true
			})
		return found
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, "::1", nexthop, "next-hop self")
}

func freePort6(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "[::1]:0")
	require.NoError(t, err, "IPv6 loopback")
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}
