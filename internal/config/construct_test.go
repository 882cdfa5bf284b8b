package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func withInst(extra string) string {
	return strings.Replace(inst, "interface eth0", "interface eth0\n"+extra, 1)
}

func withRS(extra string) string {
	return vsHead + "    real_server 192.0.2.2 80 {\n" + extra + "\n    }\n}\n"
}

// One construct per row: the source and what it must load to.
func TestConstructs(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, c *Config)
	}{
		{"router_id", "global_defs {\n router_id lb-1\n}\n", func(t *testing.T, c *Config) { assert.Equal(t, "lb-1", c.Global.RouterID) }},
		{"lvs_id alias", "global_defs {\n lvs_id lb-2\n}\n", func(t *testing.T, c *Config) { assert.Equal(t, "lb-2", c.Global.RouterID) }},
		{"mcast group6", "global_defs {\n vrrp_mcast_group6 ff02::99\n}\n", func(t *testing.T, c *Config) { assert.Equal(t, "ff02::99", c.Global.VRRPMcastGroup6.String()) }},
		{"script_user", "global_defs {\n script_user u g\n enable_script_security\n}\n", func(t *testing.T, c *Config) {
			assert.Equal(t, "u", c.Global.ScriptUser)
			assert.Equal(t, "g", c.Global.ScriptGroup)
			assert.True(t, c.Global.EnableScriptSecurity)
		}},
		{"flag off", "global_defs {\n vrrp_skip_check_adv_addr off\n}\n", func(t *testing.T, c *Config) { assert.False(t, c.Global.VRRPSkipCheckAdvAddr) }},
		{"state MASTER", withInst("state MASTER"), func(t *testing.T, c *Config) { assert.Equal(t, StateMaster, c.VRRPInstances[0].State) }},
		{"advert_int v3", withInst("version 3\nadvert_int 0.25"), func(t *testing.T, c *Config) {
			assert.Equal(t, 250*time.Millisecond, c.VRRPInstances[0].AdvertInt)
		}},
		{"unicast", withInst("unicast_src_ip 192.0.2.5\nunicast_peer {\n192.0.2.6\n192.0.2.7\n}"), func(t *testing.T, c *Config) {
			in := c.VRRPInstances[0]
			assert.Equal(t, "192.0.2.5", in.UnicastSrcIP.String())
			require.Len(t, in.UnicastPeers, 2)
			assert.Equal(t, "192.0.2.7", in.UnicastPeers[1].Addr.String())
		}},
		{"preempt off", withInst("preempt off"), func(t *testing.T, c *Config) { assert.True(t, c.VRRPInstances[0].NoPreempt) }},
		{"vip options", strings.Replace(inst, "192.0.2.1", "192.0.2.1/24 brd 192.0.2.255 dev eth1 scope link label eth1:vip", 1), func(t *testing.T, c *Config) {
			assert.Equal(t, VIP{Pos: c.VRRPInstances[0].VIPs[0].Pos, Prefix: netip.MustParsePrefix("192.0.2.1/24"), Broadcast: netip.MustParseAddr("192.0.2.255"), Dev: "eth1", Scope: "link", Label: "eth1:vip"}, c.VRRPInstances[0].VIPs[0])
		}},
		{"ipv6 instance", strings.Replace(withInst("version 3"), "192.0.2.1", "2001:db8::1", 1), func(t *testing.T, c *Config) {
			assert.Equal(t, "2001:db8::1/128", c.VRRPInstances[0].VIPs[0].Prefix.String())
		}},
		{"notify scripts", withInst("notify_master \"/a m\"\nnotify_backup \"/a b\"\nnotify_fault /f\nnotify_stop /s\nnotify /n"), func(t *testing.T, c *Config) {
			in := c.VRRPInstances[0]
			assert.Equal(t, "/a m", in.NotifyMaster.Command)
			assert.Equal(t, "/a b", in.NotifyBackup.Command)
			assert.Equal(t, "/n", in.Notify.Command)
			assert.Equal(t, Position{"/etc/keepalived/t.conf", 3, 15}, in.NotifyMaster.Pos)
		}},
		{"garp", withInst("garp_master_delay 1\ngarp_master_repeat 2\ngarp_master_refresh 3\ngarp_master_refresh_repeat 4\ngarp_lower_prio_delay 5\ngarp_lower_prio_repeat 6"), func(t *testing.T, c *Config) {
			in := c.VRRPInstances[0]
			assert.Equal(t, []any{time.Second, 2, 3 * time.Second, 4, 5 * time.Second, 6},
				[]any{in.GarpMasterDelay, in.GarpMasterRepeat, in.GarpMasterRefresh, in.GarpMasterRefreshRepeat, in.GarpLowerPrioDelay, in.GarpLowerPrioRepeat})
		}},
		{"track_script reverse", "vrrp_script s {\n script /x\n}\n" + withInst("track_script {\n s weight -5 reverse\n}"), func(t *testing.T, c *Config) {
			assert.Equal(t, TrackScript{Pos: c.VRRPInstances[0].TrackScripts[0].Pos, Name: "s", Weight: -5, WeightSet: true, Reverse: true}, c.VRRPInstances[0].TrackScripts[0])
		}},
		{"sync group notify", inst + "vrrp_sync_group G {\n group {\n VI_1\n }\n notify_master /m\n}\n", func(t *testing.T, c *Config) {
			assert.Equal(t, "/m", c.VRRPSyncGroups[0].NotifyMaster.Command)
		}},
		{"fwmark", "virtual_server fwmark 12 {\n lb_kind DR\n real_server 192.0.2.2 {\n }\n}\n", func(t *testing.T, c *Config) {
			vs := c.VirtualServers[0]
			assert.Equal(t, uint32(12), vs.FWMark)
			assert.False(t, vs.Addr.IsValid())
		}},
		{"lvs aliases", "virtual_server 192.0.2.1 80 {\n protocol UDP\n lvs_sched mh\n lvs_method TUN\n}\n", func(t *testing.T, c *Config) {
			vs := c.VirtualServers[0]
			assert.Equal(t, []any{ProtoUDP, "mh", MethodTUN}, []any{vs.Protocol, vs.Scheduler, vs.Method})
		}},
		{"vs defaults", vsHead + "}\n", func(t *testing.T, c *Config) {
			vs := c.VirtualServers[0]
			assert.Equal(t, []any{"wlc", 60 * time.Second, 1, 0, time.Duration(0), false}, []any{vs.Scheduler, vs.DelayLoop, vs.Quorum, vs.Hysteresis, vs.PersistenceTimeout, vs.PersistenceGranularity.IsValid()})
		}},
		{"persistence", vsHead + " persistence_timeout 600\n persistence_granularity 255.255.0.0\n}\n", func(t *testing.T, c *Config) {
			vs := c.VirtualServers[0]
			assert.Equal(t, 600*time.Second, vs.PersistenceTimeout)
			assert.Equal(t, "0.0.0.0/16", vs.PersistenceGranularity.String())
		}},
		{"sorry server", vsHead + " sorry_server 192.0.2.9 80\n sorry_server_lvs_method NAT\n}\n", func(t *testing.T, c *Config) {
			assert.Equal(t, MethodNAT, c.VirtualServers[0].SorryServer.Method)
		}},
		{"rs defaults", withRS(""), func(t *testing.T, c *Config) {
			rs := c.VirtualServers[0].RealServers[0]
			assert.Equal(t, []any{1, MethodDR, false, 0}, []any{rs.Weight, rs.Method, rs.InhibitOnFailure, len(rs.Checkers)})
		}},
		{"rs notify and weight 0", withRS("weight 0\ninhibit_on_failure\nnotify_up /u\nnotify_down /d\n}\nreal_server 192.0.2.3 80 {"), func(t *testing.T, c *Config) {
			rs := c.VirtualServers[0].RealServers[0]
			assert.Equal(t, []any{0, true, "/u", "/d"}, []any{rs.Weight, rs.InhibitOnFailure, rs.NotifyUp.Command, rs.NotifyDown.Command})
		}},
		{"tcp check defaults", withRS("TCP_CHECK {\n}"), func(t *testing.T, c *Config) {
			ch := c.VirtualServers[0].RealServers[0].Checkers[0]
			assert.Equal(t, Checker{Pos: ch.Pos, Type: CheckTCP, ConnectIP: netip.MustParseAddr("192.0.2.2"), ConnectPort: 80,
				ConnectTimeout: 5 * time.Second, DelayLoop: 60 * time.Second, Retry: 1, DelayBeforeRetry: time.Second,
				Warmup: 60 * time.Second, Rise: 1, Fall: 1}, ch)
		}},
		{"http check defaults", withRS("HTTP_GET {\nurl {\npath /x\n}\n}"), func(t *testing.T, c *Config) {
			ch := c.VirtualServers[0].RealServers[0].Checkers[0]
			assert.Equal(t, []any{1, 3 * time.Second, 5 * time.Second, 100, ""}, []any{ch.Retry, ch.DelayBeforeRetry, ch.ConnectTimeout, len(ch.HTTP.URLs[0].StatusCodes), ch.HTTP.VirtualHost})
		}},
		{"check overrides", withRS("HTTP_GET {\nurl {\npath /x\n}\nconnect_ip 192.0.2.50\nconnect_port 8080\nbind_port 999\nretry 4\ndelay_before_retry 0.5\nwarmup 2\ndelay_loop 7\nrise 5\nfall 6\n}"), func(t *testing.T, c *Config) {
			ch := c.VirtualServers[0].RealServers[0].Checkers[0]
			assert.Equal(t, []any{"192.0.2.50", uint16(8080), uint16(999), 4, 500 * time.Millisecond, 2 * time.Second, 7 * time.Second, 5, 6},
				[]any{ch.ConnectIP.String(), ch.ConnectPort, ch.BindPort, ch.Retry, ch.DelayBeforeRetry, ch.Warmup, ch.DelayLoop, ch.Rise, ch.Fall})
		}},
		{"rs-level defaults beat vs-level", vsHead + "    retry 7\n    real_server 192.0.2.2 80 {\n        retry 2\n        TCP_CHECK {\n        }\n    }\n}\n", func(t *testing.T, c *Config) {
			assert.Equal(t, 2, c.VirtualServers[0].RealServers[0].Checkers[0].Retry)
		}},
		{"misc user", withRS("MISC_CHECK {\nmisc_path \"/bin/check a\"\nuser nobody nogroup\n}"), func(t *testing.T, c *Config) {
			m := c.VirtualServers[0].RealServers[0].Checkers[0].Misc
			assert.Equal(t, []any{"/bin/check a", "nobody", "nogroup", 60 * time.Second}, []any{m.Path.Command, m.User, m.Group, m.Timeout})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := parseString(tt.src, nil)
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}
