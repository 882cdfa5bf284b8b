package config

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/syncd"
)

func syncConf(line string) string {
	return "global_defs {\n    " + line + "\n}\n" + inst
}

// Every form keepalived 2.2.7's lvs_syncd_handler accepts, with its
// defaults (global_parser.c, vrrp.c vrrp_complete_init).
func TestLVSSyncDaemonForms(t *testing.T) {
	for _, tc := range []struct {
		line string
		want LVSSync
		warn string
	}{
		{"lvs_sync_daemon eth1", LVSSync{Interface: "eth1", SyncID: 0}, ""},
		{"lvs_sync_daemon eth1 VI_1", LVSSync{Interface: "eth1", Instance: NameRef{Name: "VI_1"}, SyncID: 51}, ""},
		{"lvs_sync_daemon eth1 inst VI_1", LVSSync{Interface: "eth1", Instance: NameRef{Name: "VI_1"}, SyncID: 51}, ""},
		{"lvs_sync_daemon eth1 VI_1 id 7", LVSSync{Interface: "eth1", Instance: NameRef{Name: "VI_1"}, SyncID: 7}, ""},
		{"lvs_sync_daemon eth1 VI_1 0", LVSSync{Interface: "eth1", Instance: NameRef{Name: "VI_1"}, SyncID: 0},
			`2:31: warning: lvs_sync_daemon: write "id 0"`},
		{"lvs_sync_daemon eth1 id 9 maxlen 1400 port 8850 ttl 2 group 239.1.2.3 inst VI_1",
			LVSSync{Interface: "eth1", Instance: NameRef{Name: "VI_1"}, SyncID: 9, MaxLen: 1400, Port: 8850, TTL: 2,
				Group: netip.MustParseAddr("239.1.2.3")}, ""},
		{"lvs_sync_daemon eth1 group ff02::81", LVSSync{Interface: "eth1", Group: netip.MustParseAddr("ff02::81")}, ""},
	} {
		t.Run(tc.line, func(t *testing.T) {
			cfg, warns, err := parseString(syncConf(tc.line), nil)
			require.NoError(t, err)
			got := cfg.Global.LVSSync
			require.NotNil(t, got)
			assert.Equal(t, 2, got.Pos.Line)
			got.Pos, got.Instance.Pos = Position{}, Position{}
			assert.Equal(t, tc.want, *got)
			if tc.warn != "" {
				require.Len(t, warns, 1)
				assert.True(t, strings.HasPrefix(strings.TrimPrefix(warns[0].String(), "/etc/keepalived/t.conf:"), tc.warn), warns[0].String())
			} else {
				assert.Empty(t, warns)
			}

			// WriteText spells every value out and loads back the same.
			var b bytes.Buffer
			require.NoError(t, WriteText(&b, cfg))
			again, _, err := parseString(b.String(), nil)
			require.NoError(t, err, b.String())
			g := again.Global.LVSSync
			g.Pos, g.Instance.Pos = Position{}, Position{}
			assert.Equal(t, tc.want, *g, b.String())
		})
	}
}

// The deprecated per-instance form: that instance, sync ID 0 (keepalived
// resolves the VRID only for an instance named by lvs_sync_daemon), and
// keepalived's deprecation warning.
func TestLVSSyncDaemonInterface(t *testing.T) {
	src := strings.Replace(inst, "interface eth0", "interface eth0\n    lvs_sync_daemon_interface eth1", 1)
	cfg, warns, err := parseString(src, nil)
	require.NoError(t, err)
	s := cfg.Global.LVSSync
	require.NotNil(t, s)
	assert.Equal(t, "eth1", s.Interface)
	assert.Equal(t, "VI_1", s.Instance.Name)
	assert.Equal(t, 0, s.SyncID)
	require.Len(t, warns, 1)
	assert.Equal(t, "/etc/keepalived/t.conf:3:5: warning: (VI_1) lvs_sync_daemon_interface in a vrrp_instance is deprecated: use global_defs { lvs_sync_daemon eth1 VI_1 }", warns[0].String())

	_, _, err = parseString(syncConf("lvs_sync_daemon eth2")+strings.NewReplacer("VI_1", "VI_2", "51", "52", "192.0.2.1", "192.0.2.2").Replace(src), nil)
	var list ErrorList
	require.True(t, errors.As(err, &list), "%v", err)
	assert.Contains(t, list[0].String(), "t.conf:13:5: (VI_2) lvs_sync_daemon_interface: the sync daemon is already configured at /etc/keepalived/t.conf:2:5")
}

func TestLVSSyncDaemonErrors(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"lvs_sync_daemon", `2:5: lvs_sync_daemon needs at least 1 argument`},
		{"lvs_sync_daemon abcdefghijklmnop", `2:21: lvs_sync_daemon interface name "abcdefghijklmnop" is longer than 15 characters`},
		{"lvs_sync_daemon eth1 VI_9", `2:26: lvs_sync_daemon: no vrrp_instance VI_9`},
		{"lvs_sync_daemon eth1 id 256", `2:29: lvs_sync_daemon id 256 out of range 0..255`},
		{"lvs_sync_daemon eth1 id", `2:26: lvs_sync_daemon: id needs a value`},
		{"lvs_sync_daemon eth1 maxlen 65508", `2:33: lvs_sync_daemon maxlen 65508 out of range 1..65507`},
		{"lvs_sync_daemon eth1 port 0", `2:31: lvs_sync_daemon port 0 out of range 1..65535`},
		{"lvs_sync_daemon eth1 ttl 0", `2:30: lvs_sync_daemon ttl 0 out of range 1..255`},
		{"lvs_sync_daemon eth1 group 10.0.0.1", `2:32: lvs_sync_daemon group 10.0.0.1 is not a multicast address`},
		{"lvs_sync_daemon eth1 group nope", `2:32: lvs_sync_daemon group: "nope" is not an IP address`},
		{"lvs_sync_daemon eth1 VI_1 5 extra", `2:33: lvs_sync_daemon: unknown option "extra"`},
		{"lvs_sync_daemon eth1 VI_1 inst VI_1", `2:36: lvs_sync_daemon: the vrrp instance is already given as VI_1`},
		{"lvs_sync_daemon eth1\n    lvs_sync_daemon eth2", `3:5: lvs_sync_daemon given twice`},
		{"lvs_sync_threshold 50 3", `2:24: lvs_sync_threshold: the threshold 50 must be below the period 3`},
		{"lvs_sync_retries 4", `2:22: lvs_sync_retries 4 out of range 0..3`},
	} {
		t.Run(tc.line, func(t *testing.T) {
			_, _, err := parseString(syncConf(tc.line), nil)
			var list ErrorList
			require.True(t, errors.As(err, &list), "want errors, got %v", err)
			require.Len(t, list, 1, "%v", list)
			got := strings.TrimPrefix(list[0].String(), "/etc/keepalived/t.conf:")
			assert.True(t, strings.HasPrefix(got, tc.want), "\n got: %s\nwant: %s", got, tc.want)
		})
	}
}

func TestLVSSyncWarnings(t *testing.T) {
	fsys := memFS{"/k.conf": syncConf("lvs_sync_daemon eth9 VI_1")}
	_, warns, err := LoadWith("/k.conf", Options{FS: fsys, InterfaceExists: func(n string) bool { return n == "eth0" }})
	require.NoError(t, err)
	require.Len(t, warns, 1)
	assert.Equal(t, "/k.conf:2:5: warning: lvs_sync_daemon interface eth9 does not exist on this host: the sync daemons will not start", warns[0].String())

	_, warns, err = parseString(syncConf("lvs_sync_refresh_period 10"), nil)
	require.NoError(t, err)
	require.Len(t, warns, 1)
	assert.Contains(t, warns[0].String(), "2:5: warning: lvs_sync_refresh_period has no effect without lvs_sync_daemon")
}

func TestSyncConfig(t *testing.T) {
	cfg, _, err := parseString(syncConf("lvs_sync_daemon eth1 VI_1 port 8850 group 239.1.2.3\n    lvs_sync_threshold 3 10\n    lvs_sync_refresh_period 5"), nil)
	require.NoError(t, err)
	assert.Equal(t, &syncd.Config{
		Instance: "VI_1",
		Settings: syncd.Settings{Interface: "eth1", SyncID: 51, Port: 8850, Group: netip.MustParseAddr("239.1.2.3")},
		Sysctls:  []syncd.Sysctl{{Name: "sync_threshold", Value: "3 10"}, {Name: "sync_refresh_period", Value: "5"}},
	}, cfg.Sync())
	var b bytes.Buffer
	require.NoError(t, WriteText(&b, cfg))
	again, _, err := parseString(b.String(), nil)
	require.NoError(t, err, b.String())
	assert.Equal(t, cfg.Sync(), again.Sync())

	cfg, _, err = parseString(inst, nil)
	require.NoError(t, err)
	assert.Nil(t, cfg.Sync())
}

func TestLVSTimeouts(t *testing.T) {
	cfg, _, err := parseString(syncConf("lvs_timeouts tcp 7200 udp 60"), nil)
	require.NoError(t, err)
	lt := cfg.Global.LVSTimeouts
	require.NotNil(t, lt)
	assert.Equal(t, LVSTimeouts{Pos: lt.Pos, TCP: 2 * time.Hour, UDP: time.Minute}, *lt)
	var b bytes.Buffer
	require.NoError(t, WriteText(&b, cfg))
	again, _, err := parseString(b.String(), nil)
	require.NoError(t, err, b.String())
	again.Global.LVSTimeouts.Pos = lt.Pos
	assert.Equal(t, lt, again.Global.LVSTimeouts)

	for _, tc := range []struct{ line, want string }{
		{"lvs_timeouts", `2:5: lvs_timeouts needs at least 2 arguments`},
		{"lvs_timeouts tcp", `2:5: lvs_timeouts needs at least 2 arguments`},
		{"lvs_timeouts tcp 1 udp", `2:24: lvs_timeouts: udp needs a value`},
		{"lvs_timeouts tcp 2678401", `2:22: lvs_timeouts tcp 2678401 out of range 0..2678400`},
		{"lvs_timeouts fin 5", `2:18: lvs_timeouts: unknown option "fin"`},
	} {
		_, _, err := parseString(syncConf(tc.line), nil)
		var list ErrorList
		require.True(t, errors.As(err, &list), "%s: want errors, got %v", tc.line, err)
		got := strings.TrimPrefix(list[0].String(), "/etc/keepalived/t.conf:")
		assert.True(t, strings.HasPrefix(got, tc.want), "%s\n got: %s\nwant: %s", tc.line, got, tc.want)
	}
}

// lvs_flush_on_stop (keepalived 2.2.7 global_parser.c): VS changes nothing
// lvsctl does (warning); a full flush and unknown types are refused.
func TestLVSFlushOnStop(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"lvs_flush_on_stop VS", "/k.conf:2:2: warning: accepted, ignored: lvs_flush_on_stop VS"},
		{"lvs_flush_onstop VS", "/k.conf:2:2: warning: lvs_flush_onstop is deprecated"},
		{"lvs_flush_on_stop", "/k.conf:2:2: lvs_flush_on_stop without VS (a full flush) is a keepalived feature lvsctl does not support"},
		{"lvs_flush_on_stop vs", `/k.conf:2:20: lvs_flush_on_stop "vs": keepalived knows only VS (case-sensitive) or no argument, and would ignore the line`},
	} {
		t.Run(tc.line, func(t *testing.T) {
			_, warns, err := Parse("/k.conf", []byte("global_defs {\n "+tc.line+"\n}\n"), Options{FS: memFS{}})
			var all []string
			for _, w := range warns {
				all = append(all, w.String())
			}
			if err != nil {
				all = append(all, err.Error())
			}
			assert.Contains(t, strings.Join(all, "\n"), tc.want)
		})
	}
}
