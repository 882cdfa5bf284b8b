package config

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/bgp"
	"github.com/lvsctl/lvsctl/director"
)

const bgpConf = `bgp {
    router_id 10.16.8.10
    local_as 65010
    shutdown_drain 2.5
    neighbor 10.16.8.1 {
        remote_as 65000
        hold_time 9
    }
    neighbor 10.16.8.2 {
        remote_as 65010
        hold_time 30
        keepalive_interval 5
        passive
        password "s3cret x"
    }
}
virtual_server 10.16.8.100 80 {
    protocol TCP
    lb_algo mh
    mh-port
    lb_kind DR
    bgp_announce
    real_server 10.16.8.21 80 {
    }
}
virtual_server 10.16.8.101 80 {
    protocol TCP
    lb_kind DR
    real_server 10.16.8.21 80 {
    }
}
`

func TestBGPBlock(t *testing.T) {
	cfg, warns, err := parseString(bgpConf, nil)
	require.NoError(t, err)
	assert.Empty(t, warns)
	d, err := cfg.Desired()
	require.NoError(t, err)
	want := &bgp.Config{RouterID: netip.MustParseAddr("10.16.8.10"), LocalAS: 65010, ListenPort: 179,
		ShutdownDrain: 2500 * time.Millisecond, WithdrawGrace: time.Second, SloppyTCP: true, Neighbors: []bgp.Neighbor{
			{Addr: netip.MustParseAddr("10.16.8.1"), RemoteAS: 65000, HoldTime: 9 * time.Second, Keepalive: 3 * time.Second,
				ConnectRetry: 5 * time.Second, Port: 179, Pos: "/etc/keepalived/t.conf:5:5"},
			{Addr: netip.MustParseAddr("10.16.8.2"), RemoteAS: 65010, HoldTime: 30 * time.Second, Keepalive: 5 * time.Second,
				ConnectRetry: 5 * time.Second, Port: 179, Passive: true, Password: "s3cret x", Pos: "/etc/keepalived/t.conf:9:5"},
		}}
	assert.Equal(t, want, d.BGP)
	assert.Equal(t, []director.ServiceKey{{Family: director.IPv4, Protocol: director.TCP,
		Addr: netip.MustParseAddr("10.16.8.100"), Port: 80}}, d.BGPAnnounce)
	assert.Equal(t, director.FlagSched2, d.Director.Services[0].Service.Flags&director.FlagSched2)

	// WriteText spells it out and loads back the same.
	var b bytes.Buffer
	require.NoError(t, WriteText(&b, cfg))
	again, _, err := parseString(b.String(), nil)
	require.NoError(t, err, b.String())
	d2, err := again.Desired()
	require.NoError(t, err)
	assert.Equal(t, d.BGPAnnounce, d2.BGPAnnounce)
	for i := range d2.BGP.Neighbors {
		d2.BGP.Neighbors[i].Pos = d.BGP.Neighbors[i].Pos
	}
	assert.Equal(t, d.BGP, d2.BGP)
}

func TestBGPDefaultsDoNotListen(t *testing.T) {
	cfg, _, err := parseString("bgp {\n router_id 1.2.3.4\n local_as 4200000000\n neighbor 2001:db8::1 {\n remote_as 65000\n }\n sloppy_tcp off\n shutdown_drain 500ms\n}\n", nil)
	require.NoError(t, err)
	b := cfg.BGPConfig()
	assert.Equal(t, int32(-1), b.ListenPort)
	assert.False(t, b.SloppyTCP)
	assert.Equal(t, 500*time.Millisecond, b.ShutdownDrain)
	assert.Equal(t, uint32(4200000000), b.LocalAS)
	assert.Equal(t, 9*time.Second, b.Neighbors[0].HoldTime)
	assert.Equal(t, 3*time.Second, b.Neighbors[0].Keepalive)
}

func TestBGPErrors(t *testing.T) {
	vs := "virtual_server 10.16.8.100 80 {\n    bgp_announce\n    protocol TCP\n    real_server 10.16.8.21 80 {\n    }\n}\n"
	for _, tc := range []struct{ name, src, want string }{
		{"bgp_announce without bgp", vs, "t.conf:2:5: bgp_announce needs a top-level bgp { } block"},
		{"bgp_announce takes no argument", "virtual_server 10.16.8.100 80 {\n    bgp_announce yes\n}\n",
			"t.conf:2:18: bgp_announce takes no arguments"},
		{"fwmark", "bgp {\n router_id 1.2.3.4\n local_as 1\n neighbor 10.0.0.1 {\n remote_as 2\n }\n}\nvirtual_server fwmark 5 {\n bgp_announce\n real_server 10.16.8.21 80 {\n }\n}\n",
			"t.conf:9:2: bgp_announce: virtual_server fwmark 5 has no address to announce"},
		{"router_id v6", "bgp {\n router_id ::1\n}\n", "t.conf:2:12: bgp router_id: \"::1\" is not a non-zero IPv4 address"},
		{"router_id missing", "bgp {\n local_as 1\n neighbor 10.0.0.1 {\n remote_as 2\n }\n}\n", "t.conf:1:1: bgp needs router_id"},
		{"local_as missing", "bgp {\n router_id 1.2.3.4\n neighbor 10.0.0.1 {\n remote_as 2\n }\n}\n", "t.conf:1:1: bgp needs local_as"},
		{"as 0", "bgp {\n local_as 0\n}\n", "t.conf:2:11: bgp local_as 0 out of range 1..4294967294"},
		{"as_trans", "bgp {\n local_as 23456\n}\n", "t.conf:2:11: bgp local_as: 23456 is AS_TRANS"},
		{"no neighbor", "bgp {\n router_id 1.2.3.4\n local_as 1\n}\n", "t.conf:1:1: bgp has no neighbor"},
		{"neighbor address", "bgp {\n neighbor 224.0.0.1 {\n remote_as 2\n }\n}\n", "t.conf:2:11: bgp neighbor 224.0.0.1 is not a unicast address"},
		{"neighbor not an address", "bgp {\n neighbor router1 {\n remote_as 2\n }\n}\n", "t.conf:2:11: bgp neighbor: \"router1\" is not an IP address"},
		{"remote_as missing", "bgp {\n neighbor 10.0.0.1 {\n }\n}\n", "t.conf:2:2: bgp neighbor 10.0.0.1 needs remote_as"},
		{"hold 2", "bgp {\n neighbor 10.0.0.1 {\n remote_as 2\n hold_time 2\n }\n}\n", "t.conf:4:12: hold_time 2: BGP allows 0"},
		{"keepalive too long", "bgp {\n neighbor 10.0.0.1 {\n remote_as 2\n hold_time 9\n keepalive_interval 9\n }\n}\n",
			"t.conf:4:2: bgp neighbor 10.0.0.1: keepalive_interval 9 must be shorter than hold_time 9"},
		{"multihop and gtsm", "bgp {\n neighbor 10.0.0.1 {\n remote_as 2\n ebgp_multihop 2\n ttl_security 1\n }\n}\n",
			"t.conf:2:2: bgp neighbor 10.0.0.1: ebgp_multihop and ttl_security exclude each other"},
		{"multihop on ibgp", "bgp {\n router_id 1.2.3.4\n local_as 2\n neighbor 10.0.0.1 {\n remote_as 2\n ebgp_multihop 2\n }\n}\n",
			"t.conf:4:2: bgp neighbor 10.0.0.1: ebgp_multihop on an iBGP session"},
		{"neighbor twice", "bgp {\n router_id 1.2.3.4\n local_as 2\n neighbor 10.0.0.1 {\n remote_as 3\n }\n neighbor 10.0.0.1 {\n remote_as 3\n }\n}\n",
			"t.conf:7:2: bgp neighbor 10.0.0.1 defined twice (first at /etc/keepalived/t.conf:4:2)"},
		{"unknown keyword", "bgp {\n neighbour 10.0.0.1 {\n }\n}\n", "t.conf:2:2: "},
		{"bgp twice", "bgp {\n}\nbgp {\n}\n", "t.conf:3:1: "},
		{"drain", "bgp {\n shutdown_drain 5x\n}\n", "t.conf:2:17: bgp shutdown_drain: \"5x\" is not a duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parseString(tc.src, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "/etc/keepalived/"+tc.want)
		})
	}
}
