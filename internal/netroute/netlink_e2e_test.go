//go:build e2e

package netroute_test

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/internal/netroute"
)

// The netlink Kernel against a real kernel, in a namespace of its own:
// every kind of entry goes in and out exactly, IPv4 and IPv6, and a route
// someone else added to the same destination survives the owner's Clear.
func TestNetlinkKernel(t *testing.T) {
	l := lab.New(t)
	h := l.Host("nr")
	sw := l.Switch("nrsw")
	sw.Attach(h, "eth1", "10.20.0.1/24")
	h.AddAddr("eth1", "2001:db8:20::1/64")
	nh := h.Handle()
	k := netroute.NewNetlink(nh)
	p, a := netip.MustParsePrefix, netip.MustParseAddr

	set := netroute.Set{
		Addrs: []netroute.Addr{{Prefix: p("10.21.0.1/24"), Dev: "eth1", Label: "eth1:st"}},
		Routes: []netroute.Route{
			{Dst: p("192.168.90.0/24"), Via: a("10.20.0.254"), Dev: "eth1", Metric: 7, Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived},
			{Dst: p("192.168.91.0/24"), Dev: "eth1", Table: 91, Scope: netroute.ScopeLink, Protocol: netroute.ProtoKeepalived},
			{Dst: p("192.168.92.0/24"), Type: netroute.Blackhole, Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived},
			{Dst: p("2001:db8:99::/48"), Via: a("2001:db8:20::fe"), Dev: "eth1", Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived},
			{Dst: p("192.168.93.0/24"), Via: a("10.99.99.1"), Dev: "eth1", OnLink: true, Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived},
		},
		Rules: []netroute.Rule{
			{From: p("10.20.0.0/24"), To: p("192.168.91.0/24"), Priority: 1091, Action: netroute.ActionTable, Table: 91, Protocol: netroute.ProtoKeepalived},
			{Mark: 0x10, Mask: 0xf0, MarkSet: true, MaskSet: true, IIF: "eth1", Priority: 1092, Action: netroute.ActionUnreachable, Protocol: netroute.ProtoKeepalived},
			{IPv6: true, From: p("2001:db8:20::/64"), Priority: 1093, Action: netroute.ActionTable, Table: 93, Protocol: netroute.ProtoKeepalived},
			{Invert: true, From: p("10.30.0.0/16"), Priority: 1094, Action: netroute.ActionGoto, Goto: 2000, Protocol: netroute.ProtoKeepalived},
		},
	}
	require.NoError(t, set.Validate())

	// Someone else's route to one of the destinations, same key (table,
	// destination, metric), another protocol: ours goes in beside it (as
	// "ip route prepend" does) and its removal leaves this one.
	_, foreignDst, _ := net.ParseCIDR("192.168.92.0/24")
	require.NoError(t, nh.RouteAdd(&netlink.Route{Dst: foreignDst, Type: 6 /* RTN_BLACKHOLE */, Protocol: 4 /* static */}))

	o := netroute.NewOwner(k, nil)
	require.NoError(t, o.Apply(set))
	require.NoError(t, o.Apply(set), "applying the same set again changes nothing")

	routes := func(fam int) []netlink.Route {
		rs, err := nh.RouteListFiltered(fam, &netlink.Route{Table: 0}, netlink.RT_FILTER_TABLE)
		require.NoError(t, err)
		return rs
	}
	ours := func() int {
		n := 0
		for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
			for _, r := range routes(fam) {
				if r.Protocol == 18 {
					n++
				}
			}
		}
		return n
	}
	rules := func() map[int]netlink.Rule {
		out := map[int]netlink.Rule{}
		for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
			rs, err := nh.RuleList(fam)
			require.NoError(t, err)
			for _, r := range rs {
				out[r.Priority] = r
			}
		}
		return out
	}
	assert.Equal(t, 5, ours(), "every route in, with protocol keepalived")
	rs := rules()
	require.Contains(t, rs, 1091)
	assert.Equal(t, 91, rs[1091].Table)
	require.Contains(t, rs, 1092)
	assert.Equal(t, uint32(0x10), rs[1092].Mark)
	require.NotNil(t, rs[1092].Mask)
	assert.Equal(t, uint32(0xf0), *rs[1092].Mask)
	assert.Equal(t, "eth1", rs[1092].IifName)
	require.Contains(t, rs, 1093)
	assert.Equal(t, netlink.FAMILY_V6, rs[1093].Family)
	require.Contains(t, rs, 1094)
	assert.True(t, rs[1094].Invert)
	assert.Equal(t, 2000, rs[1094].Goto)
	found := false
	for _, ad := range h.Addrs("eth1") {
		found = found || ad == "10.21.0.1/24"
	}
	assert.True(t, found, "static address on eth1: %v", h.Addrs("eth1"))

	// A changed gateway, same key: replaced.
	moved := set
	moved.Routes = append([]netroute.Route(nil), set.Routes...)
	moved.Routes[0].Via = a("10.20.0.253")
	require.NoError(t, o.Apply(moved))
	gw := ""
	for _, r := range routes(netlink.FAMILY_V4) {
		if r.Dst != nil && r.Dst.String() == "192.168.90.0/24" {
			gw = r.Gw.String()
		}
	}
	assert.Equal(t, "10.20.0.253", gw)

	// A route the kernel refuses (gateway on no link) leaves the set as it was.
	bad := moved
	bad.Routes = append(append([]netroute.Route(nil), moved.Routes...),
		netroute.Route{Dst: p("192.168.94.0/24"), Via: a("10.77.0.1"), Dev: "eth1", Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived})
	require.Error(t, o.Apply(bad))
	assert.Equal(t, 5, ours())

	require.NoError(t, o.Clear())
	assert.Equal(t, 0, ours(), "every route of ours removed")
	for _, prio := range []int{1091, 1092, 1093, 1094} {
		assert.NotContains(t, rules(), prio)
	}
	for _, ad := range h.Addrs("eth1") {
		assert.NotEqual(t, "10.21.0.1/24", ad)
	}
	foreign := false
	for _, r := range routes(netlink.FAMILY_V4) {
		if r.Dst != nil && r.Dst.String() == "192.168.92.0/24" && r.Protocol == 4 {
			foreign = true
		}
	}
	assert.True(t, foreign, "the foreign route to the same destination stays")
}

// Multipath routes (keepalived's "nexthop" and "or" forms) go in with
// every path and weight, IPv4 and IPv6; a changed weight replaces the
// route; Clear removes every path.
func TestNetlinkMultipath(t *testing.T) {
	l := lab.New(t)
	h := l.Host("mp")
	l.Switch("mpsw1").Attach(h, "eth1", "10.20.0.1/24")
	l.Switch("mpsw2").Attach(h, "eth2", "10.22.0.1/24")
	h.AddAddr("eth1", "2001:db8:20::1/64")
	h.AddAddr("eth2", "2001:db8:22::1/64")
	nh := h.Handle()
	o := netroute.NewOwner(netroute.NewNetlink(nh), nil)
	p, a := netip.MustParsePrefix, netip.MustParseAddr
	mk := func(hops ...netroute.NextHop) netroute.NextHops {
		n, err := netroute.MakeNextHops(hops)
		require.NoError(t, err)
		return n
	}
	v4 := netroute.Route{Dst: p("192.168.95.0/24"), Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived, NextHops: mk(
		netroute.NextHop{Via: a("10.20.0.254"), Dev: "eth1", Weight: 3},
		netroute.NextHop{Via: a("10.22.0.254"), Weight: 1})}
	v6 := netroute.Route{Dst: p("2001:db8:95::/48"), Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived, NextHops: mk(
		netroute.NextHop{Via: a("2001:db8:20::fe"), Dev: "eth1", Weight: 1},
		netroute.NextHop{Via: a("2001:db8:22::fe"), Dev: "eth2", Weight: 1})}
	set := netroute.Set{Routes: []netroute.Route{v4, v6}}
	require.NoError(t, set.Validate())
	require.NoError(t, o.Apply(set))
	require.NoError(t, o.Apply(set), "applying the same set again changes nothing")

	// paths returns gateway → weight of our routes to dst.
	paths := func(fam int, dst string) map[string]int {
		rs, err := nh.RouteListFiltered(fam, &netlink.Route{Table: 0}, netlink.RT_FILTER_TABLE)
		require.NoError(t, err)
		out := map[string]int{}
		for _, r := range rs {
			if r.Dst == nil || r.Dst.String() != dst || r.Protocol != 18 {
				continue
			}
			if len(r.MultiPath) == 0 {
				out[r.Gw.String()] = 1
			}
			for _, m := range r.MultiPath {
				out[m.Gw.String()] = m.Hops + 1
			}
		}
		return out
	}
	assert.Equal(t, map[string]int{"10.20.0.254": 3, "10.22.0.254": 1}, paths(netlink.FAMILY_V4, "192.168.95.0/24"))
	assert.Equal(t, map[string]int{"2001:db8:20::fe": 1, "2001:db8:22::fe": 1}, paths(netlink.FAMILY_V6, "2001:db8:95::/48"))

	// The kernel spreads flows over both paths.
	via := map[string]bool{}
	for i := 0; i < 64 && len(via) < 2; i++ {
		rs, err := nh.RouteGet(net.IPv4(192, 168, 95, byte(i+1)))
		require.NoError(t, err)
		for _, r := range rs {
			via[r.Gw.String()] = true
		}
	}
	if !assert.Len(t, via, 2, "lookups use both gateways: %v", via) {
		out, _ := h.Run("ip", "route", "show")
		t.Logf("%s", out)
	}

	// A changed weight, same key: the route is replaced.
	moved := netroute.Set{Routes: []netroute.Route{v4, v6}}
	moved.Routes[0].NextHops[1].Weight = 5
	require.NoError(t, o.Apply(moved))
	assert.Equal(t, map[string]int{"10.20.0.254": 3, "10.22.0.254": 5}, paths(netlink.FAMILY_V4, "192.168.95.0/24"))

	require.NoError(t, o.Clear())
	assert.Empty(t, paths(netlink.FAMILY_V4, "192.168.95.0/24"))
	assert.Empty(t, paths(netlink.FAMILY_V6, "2001:db8:95::/48"))
}
