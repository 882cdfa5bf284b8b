package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/vrrp"
)

func TestVRRPRunRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	noVRRP := filepath.Join(dir, "novrrp.conf")
	assert.NoError(t, os.WriteFile(noVRRP, []byte("global_defs {\n    router_id ka67\n}\n"), 0o644))
	ah := filepath.Join(dir, "ah.conf")
	assert.NoError(t, os.WriteFile(ah, []byte(`vrrp_instance VI_1 {
    interface lo
    virtual_router_id 1
    authentication {
        auth_type AH
        auth_pass x
    }
    virtual_ipaddress {
        10.16.8.100
    }
}
`), 0o644))
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"missing file":   {[]string{"lvsctl", "vrrp", "run", "-f", filepath.Join(dir, "nope.conf")}, "nope.conf"},
		"no instance":    {[]string{"lvsctl", "vrrp", "run", "-f", noVRRP}, "no vrrp_instance"},
		"bad log level":  {[]string{"lvsctl", "vrrp", "run", "-f", noVRRP, "--log-level", "loud"}, "invalid log level"},
		"AH unsupported": {[]string{"lvsctl", "vrrp", "run", "-f", ah}, "AH"},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			assert.NotZero(t, code)
			assert.Contains(t, stderr.String(), tc.want)
		})
	}
}

func TestWriteStatus(t *testing.T) {
	st := []vrrp.InstanceStatus{{Name: "VI_1", State: "MASTER", BasePriority: 100, EffectivePriority: 90,
		MasterAddr: netip.MustParseAddr("10.16.8.10"),
		Counters:   vrrp.Counters{AdvertsSent: 3, Drops: map[vrrp.DropReason]uint64{vrrp.DropTTLUnknown: 2}}}}

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	path := filepath.Join(t.TempDir(), "status.json")
	writeStatus(path, st, log)
	assert.Empty(t, logs.String())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var got []statusJSON
	require.NoError(t, json.Unmarshal(b, &got))
	require.Len(t, got, 1)
	assert.Equal(t, "10.16.8.10", got[0].Master)
	assert.Equal(t, map[string]uint64{"ttl_unknown": 2}, got[0].Drops)

	// A failing write of the temporary file is logged, not swallowed.
	missing := filepath.Join(t.TempDir(), "no-such-dir", "status.json")
	writeStatus(missing, st, log)
	assert.Contains(t, logs.String(), "status file")
	assert.Contains(t, logs.String(), "no-such-dir")
	assert.Contains(t, logs.String(), "no such file or directory")
}

func TestStatusWriterSerialisesAndFinishesBeforeClose(t *testing.T) {
	var inflight, calls, finished atomic.Int32
	var overlapped atomic.Bool
	gate := make(chan struct{})
	entered := make(chan struct{})
	w := newStatusWriter(func() {
		if inflight.Add(1) > 1 {
			overlapped.Store(true)
		}
		if calls.Add(1) == 1 {
			close(entered)
			<-gate
		}
		inflight.Add(-1)
		finished.Add(1)
	})
	w.request()
	<-entered
	for range 100 {
		w.request() // coalesced while the first write blocks; never blocks itself
	}
	closed := make(chan struct{})
	go func() {
		w.close()
		close(closed)
	}()
	close(gate)
	<-closed
	assert.False(t, overlapped.Load(), "writes never overlap")
	assert.Equal(t, calls.Load(), finished.Load(), "no write is still running after close")
	assert.GreaterOrEqual(t, calls.Load(), int32(2), "close writes the final state")
	assert.LessOrEqual(t, calls.Load(), int32(3), "requests are coalesced")
}

type recordingReloader struct{ got []vrrp.Config }

func (r *recordingReloader) Reload(_ context.Context, cfg vrrp.Config) error {
	r.got = append(r.got, cfg)
	return nil
}

func TestVRRPReloadLogsEveryErrorWithPosition(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	good := "vrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 1\n    priority 150\n    virtual_ipaddress {\n        10.16.8.100\n    }\n}\n"
	require.NoError(t, os.WriteFile(path, []byte(good), 0o644))
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	r := &recordingReloader{}
	require.NotNil(t, reloadVRRP(context.Background(), path, r, nil, nil, nil, log))
	require.Len(t, r.got, 1)
	assert.Equal(t, uint8(150), r.got[0].Instances[0].Priority)
	assert.Equal(t, 100*time.Millisecond, r.got[0].ReleaseGrace, "the loader's defaults")

	bad := "vrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 300\n    priority 150\n    virtual_ipaddress {\n        10.16.8.100\n    }\n}\nvrrp_instance VI_2 {\n    interface lo\n    virtual_router_id 1\n    virtual_ipaddress {\n        10.16.8.101\n    }\n}\n"
	require.NoError(t, os.WriteFile(path, []byte(bad), 0o644))
	logs.Reset()
	require.Nil(t, reloadVRRP(context.Background(), path, r, nil, nil, nil, log))
	assert.Len(t, r.got, 1, "nothing handed to the node")
	out := logs.String()
	assert.Contains(t, out, path+":3:")
	assert.Contains(t, out, "keeping the running configuration")

	require.NoError(t, os.WriteFile(path, []byte("global_defs {\n}\n"), 0o644))
	require.Nil(t, reloadVRRP(context.Background(), path, r, nil, nil, nil, log))
	assert.Len(t, r.got, 1)
}
