package config

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/internal/netroute"
)

func routesFile(static, virtual string) string {
	return static + `vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        192.0.2.1/24
    }
` + virtual + `}
`
}

func TestRoutesDecode(t *testing.T) {
	src := routesFile(`static_ipaddress {
    10.9.0.1/24 dev eth1 scope link label eth1:s
}
static_routes {
    192.168.1.0/24 via 10.0.0.1 dev eth0 src 10.0.0.2 metric 5 table 100 scope link protocol static no_track onlink
    blackhole 10.66.0.0/16
    to unreachable 10.67.0.0/16 table main
    default via 10.0.0.254 dev eth0 table 200
    2001:db8:1::/48 via 2001:db8::1 dev eth0
    inet6 default via fe80::1 dev eth0
    throw 10.68.0.0/16 table 7
    10.70.0.0/16 nexthop via 10.0.0.1 dev eth0 weight 2 nexthop via 10.0.0.2 onlink nexthop dev eth1
    2001:db8:70::/48 nexthop via inet6 2001:db8::1 nexthop via 2001:db8::2 dev eth0 weight 256
}
static_rules {
    from 10.0.0.0/8 to 10.1.0.0/16 iif eth0 oif eth1 fwmark 0x10/0xff tos 4 priority 100 table 100
    not from 192.0.2.0/24 preference 200 lookup main
    fwmark 7 preference 300 blackhole
    inet6 from 2001:db8::/32 preference 10 table 6
    from 10.2.0.0/16 preference 5 goto 50
    from all preference 6 type prohibit
}
`, `    virtual_routes {
        192.0.2.0/24 dev eth0 table 10
        10.50.0.0/16 via 192.0.2.254
        10.51.0.0/16 via 192.0.2.252 or 192.0.2.253 dev eth0
    }
    virtual_rules {
        from 192.0.2.1 table 10 preference 1000
    }
`)
	cfg, diags, err := parseString(src, nil)
	require.NoError(t, err)
	for _, d := range diags {
		t.Logf("diag: %s", d)
	}
	require.Len(t, cfg.StaticAddrs, 1)
	assert.Equal(t, "eth1", cfg.StaticAddrs[0].Dev)
	set := cfg.StaticSet()
	assert.Equal(t, []netroute.Addr{{Prefix: netip.MustParsePrefix("10.9.0.1/24"), Dev: "eth1", Scope: netroute.ScopeLink, Label: "eth1:s"}}, set.Addrs)
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	want := []netroute.Route{
		// "proto static" is kept: no_track.
		{Dst: p("192.168.1.0/24"), Via: a("10.0.0.1"), Dev: "eth0", Src: a("10.0.0.2"), Metric: 5, Table: 100, Scope: netroute.ScopeLink, Protocol: 4, OnLink: true},
		{Dst: p("10.66.0.0/16"), Type: netroute.Blackhole, Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived},
		{Dst: p("10.67.0.0/16"), Type: netroute.Unreachable, Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived},
		{Dst: p("0.0.0.0/0"), Via: a("10.0.0.254"), Dev: "eth0", Table: 200, Protocol: netroute.ProtoKeepalived},
		{Dst: p("2001:db8:1::/48"), Via: a("2001:db8::1"), Dev: "eth0", Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived},
		{Dst: p("::/0"), Via: a("fe80::1"), Dev: "eth0", Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived},
		{Dst: p("10.68.0.0/16"), Type: netroute.Throw, Table: 7, Protocol: netroute.ProtoKeepalived},
		{Dst: p("10.70.0.0/16"), Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived, NextHops: hops(t,
			netroute.NextHop{Via: a("10.0.0.1"), Dev: "eth0", Weight: 2},
			netroute.NextHop{Via: a("10.0.0.2"), Weight: 1, OnLink: true},
			netroute.NextHop{Dev: "eth1", Weight: 1})},
		{Dst: p("2001:db8:70::/48"), Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived, NextHops: hops(t,
			netroute.NextHop{Via: a("2001:db8::1"), Weight: 1},
			netroute.NextHop{Via: a("2001:db8::2"), Dev: "eth0", Weight: 256})},
	}
	assert.Equal(t, want, set.Routes)
	wantRules := []netroute.Rule{
		{From: p("10.0.0.0/8"), To: p("10.1.0.0/16"), IIF: "eth0", OIF: "eth1", Mark: 0x10, Mask: 0xff, MarkSet: true, MaskSet: true, TOS: 4, Priority: 100, Action: netroute.ActionTable, Table: 100, Protocol: netroute.ProtoKeepalived},
		{Invert: true, From: p("192.0.2.0/24"), Priority: 200, Action: netroute.ActionTable, Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived},
		{Mark: 7, MarkSet: true, Priority: 300, Action: netroute.ActionBlackhole, Protocol: netroute.ProtoKeepalived},
		{IPv6: true, From: p("2001:db8::/32"), Priority: 10, Action: netroute.ActionTable, Table: 6, Protocol: netroute.ProtoKeepalived},
		{From: p("10.2.0.0/16"), Priority: 5, Action: netroute.ActionGoto, Goto: 50, Protocol: netroute.ProtoKeepalived},
		{Priority: 6, Action: netroute.ActionProhibit, Protocol: netroute.ProtoKeepalived},
	}
	assert.Equal(t, wantRules, set.Rules)
	require.NoError(t, set.Validate())

	v := cfg.VRRP()
	require.Len(t, v.Instances, 1)
	assert.Equal(t, []netroute.Route{
		{Dst: p("192.0.2.0/24"), Dev: "eth0", Table: 10, Protocol: netroute.ProtoKeepalived},
		{Dst: p("10.50.0.0/16"), Via: a("192.0.2.254"), Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived},
		// keepalived's deprecated "or": two paths, the line's dev on both.
		{Dst: p("10.51.0.0/16"), Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived, NextHops: hops(t,
			netroute.NextHop{Via: a("192.0.2.252"), Dev: "eth0", Weight: 1},
			netroute.NextHop{Via: a("192.0.2.253"), Dev: "eth0", Weight: 1})},
	}, v.Instances[0].Routes)
	assert.Equal(t, []netroute.Rule{{From: p("192.0.2.1/32"), Priority: 1000, Action: netroute.ActionTable, Table: 10, Protocol: netroute.ProtoKeepalived}}, v.Instances[0].Rules)
	require.NoError(t, v.Validate())
	d, err := cfg.Desired()
	require.NoError(t, err)
	assert.Equal(t, set, d.Static)

	// WriteText spells every value out and loads back the same.
	var b bytes.Buffer
	require.NoError(t, WriteText(&b, cfg))
	again, _, err := parseString(b.String(), nil)
	require.NoError(t, err, b.String())
	assert.Equal(t, set, again.StaticSet(), b.String())
	assert.Equal(t, v.Instances[0].Routes, again.VRRP().Instances[0].Routes, b.String())
	assert.Equal(t, v.Instances[0].Rules, again.VRRP().Instances[0].Rules, b.String())
}

func hops(t *testing.T, h ...netroute.NextHop) netroute.NextHops {
	t.Helper()
	n, err := netroute.MakeNextHops(h)
	require.NoError(t, err)
	return n
}

// keepalived numbers rules without a preference from 16384 down, per
// family, in file order (vrrp_iprule.c), and says so; so does lvsctl.
func TestRulesDefaultPriority(t *testing.T) {
	src := routesFile(`static_rules {
    from 10.0.0.0/8 table 1
    from 2001:db8::/32 table 1
    from 10.1.0.0/16 table 1
}
`, `    virtual_rules {
        from 10.2.0.0/16 table 2
    }
`)
	cfg, diags, err := parseString(src, nil)
	require.NoError(t, err)
	var got []uint32
	for _, r := range cfg.StaticRules {
		got = append(got, r.Rule.Priority)
	}
	assert.Equal(t, []uint32{16384, 16384, 16383}, got)
	assert.Equal(t, uint32(16382), cfg.VRRPInstances[0].VirtualRules[0].Rule.Priority)
	var warns []string
	for _, d := range diags {
		if strings.Contains(d.Message, "no preference") {
			warns = append(warns, d.String())
		}
	}
	require.Len(t, warns, 4)
	assert.True(t, strings.HasPrefix(warns[0], "/etc/keepalived/t.conf:2:5: warning: static_rules: the rule has no preference: keepalived gives it 16384"), warns[0])
}

// Each mistake is reported at the word that makes it, and nothing loads.
func TestRoutesErrors(t *testing.T) {
	for _, tc := range []struct {
		name, static, want string
	}{
		{"unsupported route word", "static_routes {\n 10.0.0.0/8 via 10.1.1.1 mtu 1400\n}\n",
			`2:26: static_routes: "mtu" (route metrics) is a keepalived feature lvsctl does not support`},
		{"nexthop after via", "static_routes {\n 10.0.0.0/8 via 10.1.1.1 nexthop via 10.1.1.2\n}\n",
			`2:26: static_routes: "nexthop" after the route's own via, dev or onlink: give them in each nexthop`},
		{"nexthop junk", "static_routes {\n 10.0.0.0/8 nexthop via 10.1.1.1 metric 5\n}\n",
			`2:34: static_routes: "metric" after nexthop: a path takes via, dev, weight and onlink`},
		{"nexthop empty", "static_routes {\n 10.0.0.0/8 nexthop weight 2 nexthop via 10.1.1.1\n}\n",
			`2:13: static_routes: nexthop needs via or dev`},
		{"nexthop weight 0", "static_routes {\n 10.0.0.0/8 nexthop via 10.1.1.1 weight 0\n}\n",
			`2:41: static_routes: weight 0: a path's weight is 1..256`},
		{"nexthop weight 257", "static_routes {\n 10.0.0.0/8 nexthop via 10.1.1.1 weight 257\n}\n",
			`2:41: static_routes: "257" after weight is not a number 0..256`},
		{"nexthop family", "static_routes {\n 10.0.0.0/8 nexthop via 2001:db8::1\n}\n",
			`2:25: static_routes: "2001:db8::1" mixes IPv4 and IPv6 in one line`},
		{"nexthop encap", "static_routes {\n 10.0.0.0/8 nexthop via 10.1.1.1 encap mpls 100\n}\n",
			`2:34: static_routes: nexthop "encap" (lightweight tunnel encapsulation) is a keepalived feature lvsctl does not support`},
		{"or without via", "static_routes {\n 10.0.0.0/8 dev eth0 or 10.1.1.2\n}\n",
			`2:22: static_routes: "or" needs "via ADDR" before it`},
		{"second or", "static_routes {\n 10.0.0.0/8 via 10.1.1.1 or 10.1.1.2 or 10.1.1.3\n}\n",
			`2:38: static_routes: a second "or": keepalived would ignore it`},
		{"or and nexthop", "static_routes {\n 10.0.0.0/8 via 10.1.1.1 or 10.1.1.2 nexthop via 10.1.1.3\n}\n",
			`2:38: static_routes: "nexthop" with "or": keepalived refuses the pair`},
		{"too many next hops", "static_routes {\n 10.0.0.0/8" + strings.Repeat(" nexthop dev eth0", 17) + "\n}\n",
			`2:2: static_routes: 17 next hops: lvsctl programs at most 16 in one route`},
		{"blackhole nexthop", "static_routes {\n blackhole 10.0.0.0/8 nexthop via 10.1.1.1\n}\n",
			`2:2: static_routes: a blackhole route takes no via, dev or next hops`},
		{"route type", "static_routes {\n local 10.0.0.1 dev lo\n}\n",
			`2:2: static_routes: route type "local" is a keepalived feature lvsctl does not support`},
		{"mixed family", "static_routes {\n 10.0.0.0/8 via 2001:db8::1\n}\n",
			`2:17: static_routes: "2001:db8::1" mixes IPv4 and IPv6 in one line`},
		{"no destination", "static_routes {\n via 10.1.1.1 dev eth0\n}\n",
			`2:2: static_routes: the route has no destination`},
		{"no way out", "static_routes {\n 10.0.0.0/8 table 5\n}\n",
			`2:2: static_routes: route 10.0.0.0/8 needs via or dev`},
		{"blackhole via", "static_routes {\n blackhole 10.0.0.0/8 via 10.1.1.1\n}\n",
			`2:2: static_routes: a blackhole route takes no via, dev or next hops`},
		{"bad metric", "static_routes {\n 10.0.0.0/8 dev eth0 metric x\n}\n",
			`2:29: static_routes: "x" after metric is not a number`},
		{"table name", "static_routes {\n 10.0.0.0/8 dev eth0 table isp1\n}\n",
			`2:28: static_routes: table "isp1": give a number (or main, local, default)`},
		{"value missing", "static_routes {\n 10.0.0.0/8 dev\n}\n",
			`2:13: static_routes: "dev" needs a value`},
		{"junk", "static_routes {\n 10.0.0.0/8 dev eth0 frobnicate\n}\n",
			`2:22: static_routes: "frobnicate" is not a destination (ADDR[/LEN] or default) nor a route option keepalived knows`},
		{"two destinations", "static_routes {\n 10.0.0.0/8 10.1.0.0/16 dev eth0\n}\n",
			`2:13: static_routes: "10.1.0.0/16": a route has one destination (already 10.0.0.0/8)`},
		{"rule unsupported", "static_rules {\n from 10.0.0.0/8 sport 80 table 1 preference 1\n}\n",
			`2:18: static_rules: "sport" (port matches) is a keepalived feature lvsctl does not support`},
		{"rule no action", "static_rules {\n from 10.0.0.0/8 preference 1\n}\n",
			`2:2: static_rules: the rule has no action`},
		{"rule two actions", "static_rules {\n from 10.0.0.0/8 table 1 blackhole preference 1\n}\n",
			`2:26: static_rules: "blackhole": a rule has one action (already table)`},
		{"rule table 0", "static_rules {\n from 10.0.0.0/8 table 0 preference 1\n}\n",
			`2:24: static_rules: table 0 is not a routing table`},
		{"rule bad fwmark", "static_rules {\n fwmark 1/x table 1 preference 1\n}\n",
			`2:9: static_rules: fwmark "1/x" is not N or N/MASK`},
		{"rule goto backwards", "static_rules {\n from 10.0.0.0/8 goto 5 preference 9\n}\n",
			`2:18: static_rules: goto 5 needs a preference below it`},
		{"rule mixed", "static_rules {\n from 10.0.0.0/8 to 2001:db8::/32 table 1 preference 1\n}\n",
			`2:21: static_rules: "2001:db8::/32" mixes IPv4 and IPv6 in one line`},
		{"rule junk", "static_rules {\n from 10.0.0.0/8 lookup 1 preference 1 bogus\n}\n",
			`2:40: static_rules: "bogus" is not a rule option keepalived knows`},
		{"static address option", "static_ipaddress {\n 10.0.0.1/24 dev eth0 preferred_lft 0\n}\n",
			`2:23: static_ipaddress: unsupported address option "preferred_lft"`},
		{"not a block", "static_routes\n",
			`1:1: static_routes needs a { } block`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parseString(routesFile(tc.static, ""), nil)
			require.Error(t, err)
			list, ok := err.(ErrorList)
			require.True(t, ok, "%v", err)
			require.Len(t, list, 1, "%v", err)
			got := strings.TrimPrefix(list[0].String(), "/etc/keepalived/t.conf:")
			assert.True(t, strings.HasPrefix(got, tc.want), "got  %s\nwant %s", got, tc.want)
		})
	}
	// In a vrrp_instance too, at the line's own position.
	_, _, err := parseString(routesFile("", "    virtual_routes {\n        10.0.0.0/8 dev eth0 realms 4\n    }\n"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `t.conf:8:29: virtual_routes: "realms" (routing realms) is a keepalived feature lvsctl does not support`)
}

// A static address without dev goes on default_interface, else eth0, as
// keepalived resolves it while reading the file; a default_interface
// below the address is refused (keepalived would already have used eth0).
func TestStaticAddressDefaultInterface(t *testing.T) {
	dev := func(src string) (string, []Diagnostic) {
		cfg, diags, err := parseString(routesFile(src, ""), nil)
		require.NoError(t, err)
		require.NotEmpty(t, cfg.StaticAddrs)
		return cfg.StaticAddrs[0].Dev, diags
	}
	got, diags := dev("static_ipaddress {\n 10.0.0.1/24\n}\n")
	assert.Equal(t, "eth0", got)
	var msgs []string
	for _, d := range diags {
		msgs = append(msgs, d.String())
	}
	assert.Contains(t, msgs, "/etc/keepalived/t.conf:2:2: warning: static_ipaddress: 10.0.0.1/24 has no dev: on eth0, keepalived's default interface (default_interface in global_defs)")
	got, _ = dev("global_defs {\n default_interface eth1\n}\nstatic_ipaddress {\n 10.0.0.1/24\n 10.0.0.2/24 dev eth2\n}\n")
	assert.Equal(t, "eth1", got)

	_, _, err := parseString(routesFile("static_ipaddress {\n 10.0.0.1/24\n}\nglobal_defs {\n default_interface eth1\n}\n", ""), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "t.conf:5:2: default_interface comes after static_ipaddress 10.0.0.1/24 (/etc/keepalived/t.conf:2:2), which keepalived already put on eth0: move global_defs above static_ipaddress")
}

// A tracked route (no no_track) gets protocol keepalived whatever the
// line says, with a warning, as keepalived does.
func TestRoutesProtocolReset(t *testing.T) {
	cfg, diags, err := parseString(routesFile("static_routes {\n 10.0.0.0/8 dev eth0 protocol static\n}\n", ""), nil)
	require.NoError(t, err)
	assert.Equal(t, netroute.ProtoKeepalived, cfg.StaticRoutes[0].Route.Protocol)
	require.NotEmpty(t, diags)
	assert.Contains(t, diags[0].String(), "t.conf:2:31: warning: static_routes: keepalived resets the protocol")
}
