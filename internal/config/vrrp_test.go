package config

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/vrrp"
)

func TestVRRPAdapterSeed(t *testing.T) {
	src := []byte(`global_defs {
   vrrp_mcast_group4 224.0.0.111
}
vrrp_script chk_nginx {
    script "killall -0 nginx"
    interval 2
    weight -10
    fall 2
    rise 2
}
vrrp_sync_group VG_1 {
    group {
        VI_1
    }
    notify "/etc/keepalived/group.sh"
}
vrrp_instance VI_1 {
    state MASTER
    interface eth1
    virtual_router_id 191
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass renwole0
    }
    virtual_ipaddress {
        10.16.8.100
        10.16.8.102/24 dev eth2 label eth2:1 scope link
    }
    track_script {
        chk_nginx
    }
    track_interface {
        eth2 weight -20
    }
    unicast_peer {
        10.16.8.11
    }
    nopreempt
    notify_master "/usr/local/keepalived/etc/keepalived/notify.sh master"
    notify /usr/local/bin/notify-any.sh
}
`)
	cfg, _, err := Parse("keepalived.conf", src, Options{})
	require.NoError(t, err)
	v := cfg.VRRP()
	require.NoError(t, v.Validate())
	assert.Equal(t, netip.MustParseAddr("224.0.0.111"), v.McastGroup4)
	assert.Equal(t, []vrrp.ScriptConfig{{Name: "chk_nginx", Command: "killall -0 nginx", Interval: 2 * time.Second, Timeout: cfg.VRRPScripts[0].Timeout, Weight: -10, Rise: 2, Fall: 2}}, v.Scripts)
	assert.Equal(t, []vrrp.SyncGroupConfig{{Name: "VG_1", Instances: []string{"VI_1"}, Notify: vrrp.NotifyConfig{Any: "/etc/keepalived/group.sh"}}}, v.SyncGroups)
	require.Len(t, v.Instances, 1)
	in := v.Instances[0]
	assert.Equal(t, "VI_1", in.Name)
	assert.Equal(t, "MASTER", in.InitialState)
	assert.Equal(t, uint8(191), in.VRID)
	assert.Equal(t, uint8(100), in.Priority)
	assert.Equal(t, time.Second, in.AdvertInt)
	assert.Equal(t, uint8(2), in.Version)
	assert.Equal(t, vrrp.AuthPass, in.AuthType)
	assert.Equal(t, "renwole0", in.AuthPass)
	// The seed's MASTER has nopreempt, which keepalived clears (so does lvsctl).
	assert.False(t, in.Nopreempt)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("10.16.8.11")}, in.UnicastPeers)
	assert.Equal(t, []vrrp.VIP{
		{Prefix: netip.MustParsePrefix("10.16.8.100/32"), Dev: "eth1", Scope: cfg.VRRPInstances[0].VIPs[0].Scope},
		{Prefix: netip.MustParsePrefix("10.16.8.102/24"), Dev: "eth2", Label: "eth2:1", Scope: "link", Broadcast: cfg.VRRPInstances[0].VIPs[1].Broadcast},
	}, in.VIPs)
	assert.Equal(t, []vrrp.TrackScript{{Name: "chk_nginx"}}, in.TrackScripts)
	assert.Equal(t, []vrrp.TrackInterface{{Name: "eth2", Weight: -20}}, in.TrackInterfaces)
	assert.Equal(t, vrrp.NotifyConfig{Master: "/usr/local/keepalived/etc/keepalived/notify.sh master", Any: "/usr/local/bin/notify-any.sh"}, in.Notify)
	assert.Equal(t, 5, in.GARPRepeat)
	assert.Equal(t, 5*time.Second, in.GARPDelay)
}

// TestVRRPAdapterDefaults: the loader is the one place that defaults; the
// vrrp package receives every value filled in (it used to default them
// itself, with these same values).
func TestVRRPAdapterDefaults(t *testing.T) {
	src := []byte("vrrp_script s {\n  script true\n}\nvrrp_instance VI_1 {\n  interface eth1\n  virtual_router_id 1\n  authentication {\n    auth_type PASS\n    auth_pass x\n  }\n  virtual_ipaddress {\n    192.0.2.1\n  }\n}\n")
	cfg, _, err := Parse("keepalived.conf", src, Options{})
	require.NoError(t, err)
	d := cfg.VRRP()
	require.NoError(t, d.Validate())
	assert.Equal(t, netip.MustParseAddr("224.0.0.18"), d.McastGroup4)
	in := d.Instances[0]
	assert.Equal(t, uint8(2), in.Version)
	assert.Equal(t, uint8(100), in.Priority)
	assert.Equal(t, time.Second, in.AdvertInt)
	assert.Equal(t, vrrp.AuthPass, in.AuthType)
	assert.Equal(t, 5, in.GARPRepeat)
	assert.Equal(t, 5*time.Second, in.GARPDelay)
	assert.Equal(t, 1, in.GARPRefreshRepeat)
	assert.Equal(t, vrrp.ScriptConfig{Name: "s", Command: "true", Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1}, d.Scripts[0])
	assert.Equal(t, 100*time.Millisecond, d.ReleaseGrace)
	assert.Equal(t, 10*time.Second, d.NotifyTimeout)

	noAuth := []byte("vrrp_instance VI_1 {\n  interface eth1\n  virtual_router_id 1\n  virtual_ipaddress {\n    192.0.2.1\n  }\n}\n")
	cfg, _, err = Parse("keepalived.conf", noAuth, Options{})
	require.NoError(t, err)
	assert.Equal(t, vrrp.AuthNone, cfg.VRRP().Instances[0].AuthType)
}

// TestVRRPIPv6Instance: an instance whose addresses are IPv6 is VRRPv3
// without a version line, even under global vrrp_version 2 (keepalived
// 2.2.7 vrrp.c, vrrp_complete_instance); its unicast addresses may be IPv6
// and the IPv6 group reaches the runtime.
func TestVRRPIPv6Instance(t *testing.T) {
	src := `global_defs {
  vrrp_version 2
  vrrp_mcast_group6 ff02::99
}
vrrp_instance V6 {
  interface eth1
  virtual_router_id 7
  advert_int 0.5
  virtual_ipaddress {
    fe80::7
    2001:db8::7/64
  }
}
vrrp_instance V6U {
  interface eth1
  virtual_router_id 8
  unicast_src_ip 2001:db8::10
  unicast_peer {
    2001:db8::11
  }
  virtual_ipaddress {
    2001:db8::8
  }
  virtual_ipaddress_excluded {
    192.0.2.8
  }
}
vrrp_instance V4 {
  interface eth1
  virtual_router_id 7
  virtual_ipaddress {
    192.0.2.7
  }
}
`
	cfg, _, err := parseString(src, nil)
	require.NoError(t, err)
	v := cfg.VRRP()
	require.NoError(t, v.Validate())
	assert.Equal(t, netip.MustParseAddr("ff02::99"), v.McastGroup6)
	require.Len(t, v.Instances, 3)
	assert.Equal(t, uint8(3), v.Instances[0].Version, "IPv6 instance without version")
	assert.Equal(t, 500*time.Millisecond, v.Instances[0].AdvertInt)
	assert.Equal(t, uint8(3), v.Instances[1].Version)
	assert.Equal(t, netip.MustParseAddr("2001:db8::10"), v.Instances[1].SrcIP)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("2001:db8::11")}, v.Instances[1].UnicastPeers)
	assert.Equal(t, uint8(2), v.Instances[2].Version, "the IPv4 instance keeps the global vrrp_version")
}

// TestVRRPIPv6Warnings: a group keepalived would warn about is used with
// the same warning, at the address.
func TestVRRPIPv6Warnings(t *testing.T) {
	_, diags, err := parseString("global_defs {\n  vrrp_mcast_group6 ff05::12\n}\n", nil)
	require.NoError(t, err)
	require.Len(t, diags, 1)
	assert.Contains(t, diags[0].String(), "t.conf:2:21: warning: vrrp_mcast_group6 ff05::12 should be a link-local multicast address")
}
