package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLexer(t *testing.T) {
	src := "a \"b c\"{ # comment\n\t!other\n  d\"e\" }x\n"
	diag := &diagnostics{}
	toks := newLexer("f", []byte(src), diag).tokens()
	require.Empty(t, diag.list)
	type tk struct {
		kind       tokenKind
		text       string
		line, col  int
		quoted, gl bool
	}
	var got []tk
	for _, x := range toks {
		got = append(got, tk{x.kind, x.text, x.pos().Line, x.pos().Col, x.quoted, x.glued})
	}
	assert.Equal(t, []tk{
		{tokWord, "a", 1, 1, false, false},
		{tokWord, "b c", 1, 3, true, false},
		{tokLBrace, "{", 1, 8, false, false},
		{tokNewline, "", 1, 19, false, false},
		{tokNewline, "", 2, 8, false, false},
		{tokWord, "d", 3, 3, false, false},
		{tokWord, "e", 3, 4, true, true},
		{tokRBrace, "}", 3, 8, false, false},
		{tokWord, "x", 3, 9, false, false},
		{tokNewline, "", 3, 10, false, false},
		{tokEOF, "", 4, 1, false, false},
	}, got)
}

func TestQuotedEscapes(t *testing.T) {
	cfg, _, err := parseString(`vrrp_script s {
    script "/bin/echo \"a b\" \\ {#!}"
}
`, nil)
	require.NoError(t, err)
	assert.Equal(t, `/bin/echo "a b" \ {#!}`, cfg.VRRPScripts[0].Script.Command)
}

// Layout does not matter: braces on the next line, one-line blocks, tabs,
// CRLF line ends, comments anywhere.
func TestLayouts(t *testing.T) {
	layouts := map[string]string{
		"brace next line":  "vrrp_instance VI_1\n{\n interface eth0\n virtual_router_id 7\n virtual_ipaddress\n {\n  192.0.2.1\n }\n}\n",
		"one line":         "vrrp_instance VI_1 { interface eth0 \n virtual_router_id 7 \n virtual_ipaddress { 192.0.2.1 } }\n",
		"tabs and crlf":    "vrrp_instance VI_1 {\r\n\tinterface eth0\r\n\tvirtual_router_id 7\r\n\tvirtual_ipaddress {\r\n\t\t192.0.2.1\r\n\t}\r\n}\r\n",
		"comments":         "# head\n! bang\nvrrp_instance VI_1 { # c\n interface eth0 ! c\n virtual_router_id 7 # c\n virtual_ipaddress {\n  192.0.2.1 # c\n }\n}\n",
		"no final newline": "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n  192.0.2.1\n }\n}",
		"blank lines":      "\n\n\nvrrp_instance VI_1 {\n\n interface eth0\n\n virtual_router_id 7\n virtual_ipaddress {\n\n  192.0.2.1\n\n }\n\n}\n\n",
	}
	for name, src := range layouts {
		t.Run(name, func(t *testing.T) {
			cfg, _, err := parseString(src, nil)
			require.NoError(t, err)
			require.Len(t, cfg.VRRPInstances, 1)
			in := cfg.VRRPInstances[0]
			assert.Equal(t, "eth0", in.Interface)
			assert.Equal(t, 7, in.VirtualRouterID)
			require.Len(t, in.VIPs, 1)
			assert.Equal(t, "192.0.2.1/32", in.VIPs[0].Prefix.String())
		})
	}
}

func TestInstanceDefaults(t *testing.T) {
	cfg, _, err := parseString(inst, nil)
	require.NoError(t, err)
	in := cfg.VRRPInstances[0]
	assert.Equal(t, VRRPInstance{
		Pos: Position{"/etc/keepalived/t.conf", 1, 1}, Name: "VI_1", State: StateBackup, Interface: "eth0",
		VirtualRouterID: 51, Priority: 100, AdvertInt: time.Second, Version: 2,
		VIPs:         []VIP{{Pos: Position{"/etc/keepalived/t.conf", 5, 9}, Prefix: netip.MustParsePrefix("192.0.2.1/32"), Dev: "eth0", Scope: "global"}},
		VIPsExcluded: []VIP{}, UnicastPeers: []UnicastPeer{}, TrackIfaces: []TrackIface{}, TrackScripts: []TrackScript{},
		GarpMasterDelay: 5 * time.Second, GarpMasterRepeat: 5, GarpMasterRefreshRepeat: 1,
		GarpLowerPrioDelay: 5 * time.Second, GarpLowerPrioRepeat: 5, DownTimerAdverts: 3,
	}, in)
	g := cfg.Global
	assert.Equal(t, "224.0.0.18", g.VRRPMcastGroup4.String())
	assert.Equal(t, "ff02::12", g.VRRPMcastGroup6.String())
	assert.Equal(t, 2, g.VRRPVersion)
}

func TestOwnerStartsMaster(t *testing.T) {
	cfg, _, err := parseString(strings.Replace(inst, "interface eth0", "interface eth0\n    priority 255", 1), nil)
	require.NoError(t, err)
	assert.Equal(t, StateMaster, cfg.VRRPInstances[0].State, "keepalived derives the state from priority 255")
}

func TestGlobalDefaultsReachInstances(t *testing.T) {
	// global_defs after the instance still applies to it.
	cfg, _, err := parseString(inst+"global_defs {\n vrrp_version 3\n vrrp_garp_master_delay 1\n vrrp_garp_master_repeat 2\n}\n", nil)
	require.NoError(t, err)
	in := cfg.VRRPInstances[0]
	assert.Equal(t, 3, in.Version)
	assert.Equal(t, time.Second, in.GarpMasterDelay)
	assert.Equal(t, 2, in.GarpMasterRepeat)
}

// vrrp_startup_delay (global_parser.c: decimal seconds from 1 ms) reaches
// the VRRP node and is written back.
func TestVRRPStartupDelay(t *testing.T) {
	cfg, _, err := parseString(inst+"global_defs {\n vrrp_startup_delay 2.5\n}\n", nil)
	require.NoError(t, err)
	assert.Equal(t, 2500*time.Millisecond, cfg.VRRP().StartupDelay)
	var b strings.Builder
	require.NoError(t, WriteText(&b, cfg))
	assert.Contains(t, b.String(), "vrrp_startup_delay 2.5\n")
	_, _, err = parseString(inst+"global_defs {\n vrrp_startup_delay 0\n}\n", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "vrrp_startup_delay")
}

func TestFullConfig(t *testing.T) {
	cfg, _, err := LoadWith("testdata/full.conf", Options{})
	require.NoError(t, err)
	assert.Equal(t, Summary{VRRPInstances: 2, VirtualServers: 3, RealServers: 4, Checkers: 5}, cfg.Summary())

	require.Len(t, cfg.VRRPScripts, 2, "both include files read, in lexical order")
	assert.Equal(t, "chk_haproxy", cfg.VRRPScripts[0].Name)
	assert.Equal(t, "testdata/full.d/10-scripts.inc", cfg.VRRPScripts[0].Pos.File)
	assert.True(t, cfg.VRRPScripts[0].WeightReverse)
	assert.Equal(t, time.Second, cfg.VRRPScripts[0].Timeout)
	assert.True(t, cfg.VRRPScripts[1].InitFail)

	web := cfg.VRRPInstances[0]
	assert.Equal(t, StateBackup, web.State)
	assert.Equal(t, 150, web.Priority)
	assert.Equal(t, "VG_1", web.SyncGroup)
	assert.Equal(t, "s3cret", web.Auth.Pass)
	assert.Equal(t, VIP{Pos: web.VIPs[0].Pos, Prefix: netip.MustParsePrefix("192.0.2.10/24"), Dev: "eth0", Label: "eth0:1", Scope: "global"}, web.VIPs[0])
	assert.Equal(t, "192.0.2.255", web.VIPs[1].Broadcast.String())
	assert.Equal(t, "2001:db8::10/64", web.VIPsExcluded[0].Prefix.String())
	assert.Equal(t, "192.0.2.3", web.UnicastPeers[0].Addr.String())
	assert.True(t, web.NoPreempt)
	assert.Equal(t, 5*time.Second, web.PreemptDelay)
	assert.Equal(t, 2*time.Second, web.GarpMasterDelay, "from global_defs")
	assert.Equal(t, 30*time.Second, web.GarpMasterRefresh, "own value wins")
	assert.Equal(t, []TrackIface{{Pos: web.TrackIfaces[0].Pos, Name: "eth0"}, {Pos: web.TrackIfaces[1].Pos, Name: "eth1", Weight: -20, WeightSet: true}}, web.TrackIfaces)
	assert.Equal(t, 10, web.TrackScripts[0].Weight)
	assert.Equal(t, "/usr/local/bin/stop", web.NotifyStop.Command)

	require.NotNil(t, cfg.Global.NotifyFIFO)
	assert.Equal(t, "/run/keepalived/notify.fifo", cfg.Global.NotifyFIFO.Path)
	assert.Equal(t, "nobody", cfg.Global.NotifyFIFO.Owner.User, "script_user owns it")
	assert.Equal(t, "nogroup", cfg.Global.LVSNotifyFIFO.Owner.Group)
	assert.True(t, web.NotifyPriorityChanges, "from vrrp_notify_priority_changes")

	v6 := cfg.VRRPInstances[1]
	assert.Equal(t, 3, v6.Version)
	assert.Equal(t, 500*time.Millisecond, v6.AdvertInt)

	vs := cfg.VirtualServers[0]
	assert.Equal(t, "wlc", vs.Scheduler)
	assert.Equal(t, MethodDR, vs.Method)
	assert.Equal(t, 360*time.Second, vs.PersistenceTimeout, "persistence_timeout without value")
	assert.Equal(t, 24, vs.PersistenceGranularity.Bits())
	assert.Equal(t, &SorryServer{Pos: vs.SorryServer.Pos, Addr: netip.MustParseAddr("192.0.2.99"), Port: 443, Method: MethodDR, Inhibit: true}, vs.SorryServer)
	assert.Equal(t, 2, vs.Quorum)
	assert.Equal(t, "/bin/down", vs.QuorumDown.Command)
	assert.True(t, vs.Alpha && vs.Omega && vs.InhibitOnFailure)

	rs := vs.RealServers[0]
	assert.True(t, rs.InhibitOnFailure, "inherited from the virtual server")
	assert.Equal(t, uint32(1000), rs.UThreshold)
	ssl := rs.Checkers[0]
	assert.Equal(t, CheckSSL, ssl.Type)
	assert.True(t, ssl.HTTP.TLS)
	assert.Equal(t, "www.example.com", ssl.HTTP.VirtualHost, "virtualhost from the virtual server")
	assert.Equal(t, 2, ssl.Retry, "retry from the virtual server")
	assert.Equal(t, 3*time.Second, ssl.DelayBeforeRetry, "HTTP default")
	assert.Equal(t, 2500*time.Millisecond, ssl.ConnectTimeout)
	assert.Equal(t, 10*time.Second, ssl.DelayLoop)
	assert.Equal(t, 3*time.Second, ssl.Warmup)
	assert.Equal(t, 3, ssl.Rise)
	assert.Equal(t, 2, ssl.Fall)
	assert.Equal(t, "192.0.2.2", ssl.BindTo.String())
	assert.Equal(t, []int{200, 201, 202, 203, 204, 301}, ssl.HTTP.URLs[0].StatusCodes)
	assert.Len(t, ssl.HTTP.URLs[1].StatusCodes, 100, "default 200-299")

	rs2 := vs.RealServers[1]
	tcp := rs2.Checkers[0]
	assert.Equal(t, uint16(8443), tcp.ConnectPort)
	assert.Equal(t, 5*time.Second, tcp.DelayLoop, "real server delay_loop")
	assert.Equal(t, time.Second, tcp.DelayBeforeRetry, "TCP default")
	assert.Equal(t, 5*time.Second, tcp.ConnectTimeout)
	misc := rs2.Checkers[1]
	assert.Equal(t, "/usr/local/bin/check 192.0.2.22", misc.Misc.Path.Command)
	assert.Equal(t, 4*time.Second, misc.Misc.Timeout)
	assert.True(t, misc.Misc.Dynamic)
	assert.Equal(t, 2, misc.Retry, "virtual server retry beats the MISC default 0")

	fw := cfg.VirtualServers[1]
	assert.True(t, fw.IsFWMark())
	assert.Equal(t, uint32(7), fw.FWMark)
	assert.Equal(t, Protocol(""), fw.Protocol)
	assert.Equal(t, 60*time.Second, fw.DelayLoop)
	assert.Equal(t, "other.example.com", fw.RealServers[0].Checkers[0].HTTP.VirtualHost)
	assert.Equal(t, uint16(0), fw.RealServers[0].Port)

	udp := cfg.VirtualServers[2]
	assert.True(t, udp.OPS)
	assert.Equal(t, 0, udp.RealServers[0].Checkers[0].Retry, "MISC_CHECK default retry")
	assert.Equal(t, 60*time.Second, udp.RealServers[0].Checkers[0].Misc.Timeout, "misc_timeout defaults to delay_loop")
}

func TestIncludes(t *testing.T) {
	t.Run("relative to including file, nested", func(t *testing.T) {
		fsys := memFS{
			"/etc/keepalived/conf.d/a.conf":     "include sub/b.conf\n",
			"/etc/keepalived/conf.d/sub/b.conf": inst,
		}
		cfg, _, err := parseString("include conf.d/*.conf\n", fsys)
		require.NoError(t, err)
		require.Len(t, cfg.VRRPInstances, 1)
		assert.Equal(t, "/etc/keepalived/conf.d/sub/b.conf", cfg.VRRPInstances[0].Pos.File)
	})
	t.Run("inside a block", func(t *testing.T) {
		fsys := memFS{"/etc/keepalived/vips": "192.0.2.7\n192.0.2.8\n"}
		cfg, _, err := parseString("vrrp_instance V { interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n include vips\n }\n}\n", fsys)
		require.NoError(t, err)
		assert.Len(t, cfg.VRRPInstances[0].VIPs, 2)
	})
	t.Run("loop", func(t *testing.T) {
		fsys := memFS{"/etc/keepalived/a": "include b\n", "/etc/keepalived/b": "include a\n"}
		_, _, err := parseString("include a\n", fsys)
		var list ErrorList
		require.True(t, errors.As(err, &list))
		require.Len(t, list, 1)
		assert.Equal(t, "/etc/keepalived/b:1:9: include loop: /etc/keepalived/a includes itself (via /etc/keepalived/t.conf -> /etc/keepalived/a -> /etc/keepalived/b)", list[0].String())
	})
	t.Run("self", func(t *testing.T) {
		_, _, err := parseString("include t.conf\n", nil)
		assert.ErrorContains(t, err, "include loop")
	})
	t.Run("depth", func(t *testing.T) {
		fsys := memFS{}
		for i := 0; i < 20; i++ {
			fsys[fmt.Sprintf("/etc/keepalived/f%d", i)] = fmt.Sprintf("include f%d\n", i+1)
		}
		fsys["/etc/keepalived/f20"] = ""
		_, _, err := parseString("include f0\n", fsys)
		assert.ErrorContains(t, err, "includes nested deeper than 8 levels")
	})
	t.Run("total size", func(t *testing.T) {
		big := strings.Repeat("# filler line\n", 1000)
		fsys := memFS{"/etc/keepalived/big": big}
		fsys["/etc/keepalived/t.conf"] = strings.Repeat("include big\n", 10)
		_, _, err := LoadWith("/etc/keepalived/t.conf", Options{FS: fsys, MaxBytes: 50000})
		assert.ErrorContains(t, err, "configuration larger than 50000 bytes in total")
	})
	t.Run("arguments", func(t *testing.T) {
		_, _, err := parseString("include\n", nil)
		assert.ErrorContains(t, err, "include takes exactly one file name or glob pattern")
	})
}

func TestBlockDepthBounded(t *testing.T) {
	src := strings.Repeat("a {\n", 100) + strings.Repeat("}\n", 100)
	_, _, err := parseString(src, nil)
	assert.ErrorContains(t, err, "blocks nested deeper than 16 levels")
}

func TestPositionText(t *testing.T) {
	p := Position{File: "c:/x:y.conf", Line: 3, Col: 9}
	b, err := p.MarshalText()
	require.NoError(t, err)
	var back Position
	require.NoError(t, back.UnmarshalText(b))
	assert.Equal(t, p, back)
	assert.Error(t, back.UnmarshalText([]byte("nope")))
}

func TestParseSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{"1": time.Second, "0.5": 500 * time.Millisecond, "2.25": 2250 * time.Millisecond, ".1": 100 * time.Millisecond, "0.000000001": 1} {
		got, ok := parseSeconds(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "x", "1s", "-1", "1.2.3", "99999999999999999999", "1.0000000001"} {
		_, ok := parseSeconds(in)
		assert.False(t, ok, in)
	}
}

func TestQuotedNames(t *testing.T) {
	src := `vrrp_script "chk a" {
    script /bin/true
}
vrrp_instance "VI 1" {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress {
        192.0.2.1
    }
    track_script {
        "chk a"
    }
}
vrrp_sync_group G {
    group {
        "VI 1"
    }
}
`
	cfg, _, err := parseString(src, nil)
	require.NoError(t, err)
	assert.Equal(t, "VI 1", cfg.VRRPInstances[0].Name)
	assert.Equal(t, "G", cfg.VRRPInstances[0].SyncGroup)
	_, _, err = parseString(`"global_defs" {
}
`, nil)
	assert.ErrorContains(t, err, `1:1: a keyword cannot be quoted: "global_defs"`)
}

// rs_init_notifies reaches the director and is written back.
func TestRSInitNotifies(t *testing.T) {
	cfg, _, err := parseString("global_defs {\n rs_init_notifies\n}\n", nil)
	require.NoError(t, err)
	assert.True(t, cfg.Director().InitNotifies)
	var b strings.Builder
	require.NoError(t, WriteText(&b, cfg))
	again, _, err := parseString(b.String(), nil)
	require.NoError(t, err)
	assert.True(t, again.Director().InitNotifies)
	cfg, _, err = parseString("global_defs {\n}\n", nil)
	require.NoError(t, err)
	assert.False(t, cfg.Director().InitNotifies)
}

// vrrp_min_garp (global_parser.c): one ARP burst of one, no delayed burst,
// unless a line before it set them; a line after it still wins.
func TestVRRPMinGarp(t *testing.T) {
	for _, tc := range []struct {
		global      string
		repeat      int
		masterDelay time.Duration
	}{
		{" vrrp_min_garp\n", 1, 0},
		{" vrrp_min_garp false\n", 5, 5 * time.Second},
		{" vrrp_garp_master_repeat 3\n vrrp_min_garp\n", 3, 0},
		{" vrrp_min_garp\n vrrp_garp_master_delay 2\n", 1, 2 * time.Second},
	} {
		cfg, _, err := parseString(inst+"global_defs {\n"+tc.global+"}\n", nil)
		require.NoError(t, err, tc.global)
		in := cfg.VRRPInstances[0]
		assert.Equal(t, tc.repeat, in.GarpMasterRepeat, tc.global)
		assert.Equal(t, tc.masterDelay, in.GarpMasterDelay, tc.global)
	}
}
