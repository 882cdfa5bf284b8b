package config

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSeedFixturesLoad(t *testing.T) {
	files, err := filepath.Glob("testdata/seed/*.conf")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 17, "seed fixtures missing")
	want := map[string]Summary{
		"lvs-dr-ka67.conf":                   {VRRPInstances: 2, VirtualServers: 2, RealServers: 4, Checkers: 4},
		"lvs-dr-ka68.conf":                   {VRRPInstances: 2, VirtualServers: 2, RealServers: 4, Checkers: 4},
		"nginx-chk-script-ka68.conf":         {VRRPInstances: 4},
		"nginx-dualnet-dualmaster-ka67.conf": {VRRPInstances: 4},
		"nginx-dualnet-dualmaster-ka68.conf": {VRRPInstances: 4},
		"nonsync-dualmaster-ka67.conf":       {VRRPInstances: 4},
		"nonsync-dualmaster-ka68.conf":       {VRRPInstances: 4},
		"nonsync-master-backup-ka67.conf":    {VRRPInstances: 2},
		"nonsync-master-backup-ka68.conf":    {VRRPInstances: 2},
		"single-dualmaster-ka67.conf":        {VRRPInstances: 2},
		"single-dualmaster-ka68.conf":        {VRRPInstances: 2},
		"single-master-backup-ka67.conf":     {VRRPInstances: 1},
		"single-master-backup-ka68.conf":     {VRRPInstances: 1},
		"sync-dualmaster-ka67.conf":          {VRRPInstances: 4},
		"sync-dualmaster-ka68.conf":          {VRRPInstances: 4},
		"sync-master-backup-ka67.conf":       {VRRPInstances: 2},
		"sync-master-backup-ka68.conf":       {VRRPInstances: 2},
	}
	for _, f := range files {
		base := filepath.Base(f)
		if strings.HasPrefix(base, "typo-") {
			continue
		}
		t.Run(base, func(t *testing.T) {
			cfg, warns, err := LoadWith(f, Options{})
			require.NoError(t, err)
			w, ok := want[base]
			require.True(t, ok, "add %s to the expectations", base)
			assert.Equal(t, w, cfg.Summary())
			for _, d := range warns {
				ok := strings.HasPrefix(d.Message, "accepted, ignored: ") || strings.HasPrefix(d.Message, "nb_get_retry is deprecated") ||
					strings.Contains(d.Message, "runs as root without enable_script_security")
				assert.True(t, ok, "unexpected warning %s", d)
			}
			assert.Equal(t, "224.0.0.111", cfg.Global.VRRPMcastGroup4.String())
			for _, in := range cfg.VRRPInstances {
				require.NotNil(t, in.Auth)
				assert.Equal(t, "PASS", in.Auth.Type)
				assert.Equal(t, time.Second, in.AdvertInt)
				assert.Len(t, in.VIPs, 1)
				assert.Equal(t, 32, in.VIPs[0].Prefix.Bits())
				assert.Contains(t, in.NotifyFault.Command, "notify.sh fault")
			}
		})
	}
}

func TestSeedSyncGroups(t *testing.T) {
	cfg, _, err := LoadWith("testdata/seed/sync-dualmaster-ka67.conf", Options{})
	require.NoError(t, err)
	require.Len(t, cfg.VRRPSyncGroups, 2)
	assert.Equal(t, []string{"External_1", "Internal_1"}, []string{cfg.VRRPSyncGroups[0].Group[0].Name, cfg.VRRPSyncGroups[0].Group[1].Name})
	byName := map[string]VRRPInstance{}
	for _, in := range cfg.VRRPInstances {
		byName[in.Name] = in
	}
	assert.Equal(t, "VG_1", byName["Internal_1"].SyncGroup)
	assert.Equal(t, "VG_2", byName["External_2"].SyncGroup)
	assert.Equal(t, "eth2", byName["Internal_2"].Interface)
	assert.Equal(t, "ka67", cfg.Global.RouterID)
}

func TestSeedLVSDR(t *testing.T) {
	cfg, warns, err := LoadWith("testdata/seed/lvs-dr-ka67.conf", Options{})
	require.NoError(t, err)
	vs := cfg.VirtualServers[0]
	assert.Equal(t, "10.16.8.100", vs.Addr.String())
	assert.Equal(t, uint16(80), vs.Port)
	assert.Equal(t, ProtoTCP, vs.Protocol)
	assert.Equal(t, MethodDR, vs.Method)
	assert.Equal(t, "rr", vs.Scheduler)
	assert.Equal(t, 3*time.Second, vs.DelayLoop)
	rs := vs.RealServers[1]
	assert.Equal(t, "10.16.8.9", rs.Addr.String())
	assert.Equal(t, MethodDR, rs.Method)
	c := rs.Checkers[0]
	assert.Equal(t, CheckHTTP, c.Type)
	assert.Equal(t, 3, c.Retry, "nb_get_retry 3")
	assert.Equal(t, time.Second, c.DelayBeforeRetry)
	assert.Equal(t, time.Second, c.ConnectTimeout)
	assert.Equal(t, 3*time.Second, c.DelayLoop)
	assert.Equal(t, "10.16.8.9", c.ConnectIP.String())
	assert.Equal(t, uint16(80), c.ConnectPort)
	require.Len(t, c.HTTP.URLs, 1)
	assert.Equal(t, "/", c.HTTP.URLs[0].Path)
	assert.Equal(t, []int{200}, c.HTTP.URLs[0].StatusCodes)
	n := 0
	for _, w := range warns {
		if strings.Contains(w.Message, "nb_get_retry") {
			n++
		}
	}
	assert.Equal(t, 4, n)
}

func TestSeedTrackScript(t *testing.T) {
	cfg, _, err := LoadWith("testdata/seed/nginx-chk-script-ka68.conf", Options{})
	require.NoError(t, err)
	require.Len(t, cfg.VRRPScripts, 1)
	s := cfg.VRRPScripts[0]
	assert.Equal(t, VRRPScript{Pos: s.Pos, Name: "chk_nginx", Script: Script{Pos: s.Script.Pos, Command: "killall -0 nginx"},
		Interval: 2 * time.Second, Timeout: 2 * time.Second, Weight: -10, Rise: 2, Fall: 2}, s)
	for _, in := range cfg.VRRPInstances {
		require.Len(t, in.TrackScripts, 1)
		assert.Equal(t, "chk_nginx", in.TrackScripts[0].Name)
	}
}

// The seed's broken line (notify_ glued to its quoted command) must fail at
// its exact place; the fixture keeps the seed's line numbers.
func TestSeedTypoFailsAtItsLine(t *testing.T) {
	_, _, err := LoadWith("testdata/seed/typo-notify-seedlines.conf", Options{})
	var list ErrorList
	require.True(t, errors.As(err, &list), "want ErrorList, got %v", err)
	require.Len(t, list, 1)
	assert.Equal(t, Position{File: "testdata/seed/typo-notify-seedlines.conf", Line: 504, Col: 5}, list[0].Pos)
	assert.Equal(t, `testdata/seed/typo-notify-seedlines.conf:504:5: unknown keyword "notify_" in vrrp_instance External_1: a space is missing before the quoted string, or the keyword is misspelt (did you mean "notify"?); keepalived would ignore the line`, list[0].String())
}

func TestJSONRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/*/*.conf")
	require.NoError(t, err)
	files = append(files, "testdata/full.conf")
	for _, f := range files {
		if strings.Contains(f, "typo-") {
			continue
		}
		t.Run(f, func(t *testing.T) {
			cfg, _, err := LoadWith(f, Options{})
			require.NoError(t, err)
			b, err := json.Marshal(cfg)
			require.NoError(t, err)
			var back Config
			require.NoError(t, json.Unmarshal(b, &back))
			assert.Equal(t, cfg, &back)
		})
	}
}

// The text dump is itself a configuration that loads to the same values.
func TestTextDumpReloads(t *testing.T) {
	files, err := filepath.Glob("testdata/*/*.conf")
	require.NoError(t, err)
	files = append(files, "testdata/full.conf")
	for _, f := range files {
		if strings.Contains(f, "typo-") {
			continue
		}
		t.Run(f, func(t *testing.T) {
			cfg, _, err := LoadWith(f, Options{})
			require.NoError(t, err)
			var b strings.Builder
			require.NoError(t, WriteText(&b, cfg))
			back, _, err := Parse("dump.conf", []byte(b.String()), Options{FS: memFS{}})
			require.NoError(t, err, b.String())
			assert.Equal(t, stripPos(t, cfg), stripPos(t, back))
		})
	}
}

// stripPos returns the JSON of cfg without positions.
func stripPos(t *testing.T, cfg *Config) any {
	t.Helper()
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	var v any
	require.NoError(t, json.Unmarshal(b, &v))
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			delete(x, "pos")
			delete(x, "script_user_pos")
			delete(x, "script_security_pos")
			delete(x, "notification_email_pos")
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return v
}
