//go:build vm

package ipvs_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/director/ipvs"
	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/e2e/vm/guest"
	"github.com/lvsctl/lvsctl/syncd"
	"github.com/lvsctl/lvsctl/vrrp/fsm"
)

// The sync-daemon requests against the real kernel (ip_vs_ctl.c): start
// both roles, read them back with the kernel's defaults, the errors the
// runtime relies on (EEXIST, ESRCH, ENODEV), the connection count and the
// sysctls, in a fresh namespace.
func TestKernelSyncDaemons(t *testing.T) {
	guest.RequireIPVS(t)
	ctx := context.Background()
	l := lab.New(t)
	h := l.Host("director")
	l.Switch("lan").Attach(h, "eth1", "10.16.8.10/24")
	c, err := ipvs.OpenSync(h.NSPath())
	require.NoError(t, err)
	defer c.Close()

	ds, err := c.Daemons(ctx)
	require.NoError(t, err)
	assert.Empty(t, ds, "a fresh namespace runs none")

	mtu, err := c.InterfaceMTU(ctx, "eth1")
	require.NoError(t, err)
	assert.Equal(t, 1500, mtu)
	_, err = c.InterfaceMTU(ctx, "nope0")
	require.ErrorIs(t, err, syncd.ErrNoInterface)

	backup := syncd.Daemon{Role: syncd.Backup, Settings: syncd.Settings{Interface: "eth1", SyncID: 191}}
	require.NoError(t, c.StartDaemon(ctx, backup))
	require.ErrorIs(t, c.StartDaemon(ctx, backup), unix.EEXIST)
	master := syncd.Daemon{Role: syncd.Master, Settings: syncd.Settings{Interface: "eth1", SyncID: 7, MaxLen: 1400,
		Port: 8850, TTL: 2, Group: netip.MustParseAddr("239.1.2.3")}}
	require.NoError(t, c.StartDaemon(ctx, master), "master and backup run side by side")

	ds, err = c.Daemons(ctx)
	require.NoError(t, err)
	got := map[syncd.Role]syncd.Daemon{}
	for _, d := range ds {
		got[d.Role] = d
	}
	assert.Equal(t, master, got[syncd.Master], "every setting as sent")
	want := backup
	want.Settings = want.Settings.Normalize()
	want.MaxLen = 1500 - 28 // the kernel's default from the MTU
	assert.Equal(t, want, got[syncd.Backup], "the kernel's defaults read back")

	require.NoError(t, c.StopDaemon(ctx, syncd.Master))
	require.ErrorIs(t, c.StopDaemon(ctx, syncd.Master), unix.ESRCH)
	require.NoError(t, c.StopDaemon(ctx, syncd.Backup))
	err = c.StartDaemon(ctx, syncd.Daemon{Role: syncd.Backup, Settings: syncd.Settings{Interface: "nope0"}})
	require.ErrorIs(t, err, unix.ENODEV)

	n, err := c.Connections(ctx)
	require.NoError(t, err)
	assert.Zero(t, n.Total)

	v, err := c.Sysctl(ctx, "sync_threshold")
	require.NoError(t, err)
	assert.Equal(t, "3 50", v, "the kernel's default, whitespace normalised")
	require.NoError(t, c.SetSysctl(ctx, "sync_refresh_period", "5"))
	v, err = c.Sysctl(ctx, "sync_refresh_period")
	require.NoError(t, err)
	assert.Equal(t, "5", v)
	assert.Equal(t, "5", h.Sysctl("net/ipv4/vs/sync_refresh_period"), "written in the director's namespace")

	// The runtime on the real kernel: BACKUP → MASTER → stop.
	r := syncd.New(c, nil)
	cfg := &syncd.Config{Instance: "VI_1", Settings: syncd.Settings{Interface: "eth1", SyncID: 191}}
	require.NoError(t, r.Start(ctx, cfg, fsm.Init))
	r.SetVRRPState("VI_1", fsm.Master)
	require.NoError(t, r.Settle(ctx))
	st, err := r.Status(ctx)
	require.NoError(t, err)
	m, ok := st.Running(syncd.Master)
	require.True(t, ok)
	assert.Equal(t, uint16(1472), m.MaxLen, "derived from the MTU")
	_, ok = st.Running(syncd.Backup)
	assert.True(t, ok)
	require.NoError(t, r.Stop(ctx))
	ds, err = c.Daemons(ctx)
	require.NoError(t, err)
	assert.Empty(t, ds)
}

// lvs_timeouts through moby/ipvs's SetConfig: zeros leave a timeout alone.
func TestKernelTimeouts(t *testing.T) {
	guest.RequireIPVS(t)
	ctx := context.Background()
	h := lab.New(t).Host("director")
	c, err := ipvs.Open(h.NSPath())
	require.NoError(t, err)
	defer c.Close()
	tcp, fin, udp, err := c.Timeouts(ctx)
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{900 * time.Second, 120 * time.Second, 300 * time.Second}, []time.Duration{tcp, fin, udp},
		"the kernel's defaults")
	require.NoError(t, c.SetTimeouts(ctx, 2*time.Hour, 0, time.Minute))
	tcp, fin, udp, err = c.Timeouts(ctx)
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{2 * time.Hour, 120 * time.Second, time.Minute}, []time.Duration{tcp, fin, udp})
}
