package app

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director/directortest"
	"github.com/lvsctl/lvsctl/director/fakeipvs"
	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/syncd"
	"github.com/lvsctl/lvsctl/vrrp"
	"github.com/lvsctl/lvsctl/vrrp/fsm"
)

// The sync daemons follow the configuration and the named VRRP instance:
// started with the director (backup only while the instance is not
// master), both daemons once it is MASTER, restarted by a reload that
// changes their settings, untouched by one that does not, stopped by a
// reload without lvs_sync_daemon and on stop.
func TestSyncDaemonsFollowConfigAndVRRP(t *testing.T) {
	k := syncd.NewFake(map[string]int{"eth1": 1500})
	syncCfg := func(id uint8) *syncd.Config {
		return &syncd.Config{Settings: syncd.Settings{Interface: "eth1", SyncID: id}, Instance: "VI_1"}
	}
	desired := func(s *syncd.Config) *config.Desired {
		d := &config.Desired{Sync: s}
		d.Director = directortest.Complete(d.Director)
		return d
	}
	var next *config.Desired = desired(syncCfg(191))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan *Daemon, 1)
	go func() {
		done <- Run(ctx, Options{
			Load: func() (*config.Desired, error) { return next, nil }, IPVS: fakeipvs.New(),
			OpenSync: func() (syncd.Kernel, func() error, error) { return k, func() error { return nil }, nil },
			Ready:    func(d *Daemon) { ready <- d },
		})
	}()
	dm := <-ready
	settle := func() {
		t.Helper()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		require.NoError(t, dm.syncRuntime().Settle(sctx))
	}
	roles := func() []syncd.Role {
		var out []syncd.Role
		for _, r := range []syncd.Role{syncd.Master, syncd.Backup} {
			if _, ok := k.Running()[r]; ok {
				out = append(out, r)
			}
		}
		return out
	}
	settle()
	assert.Equal(t, []syncd.Role{syncd.Backup}, roles(), "INIT: the backup daemon listens")

	dm.vrrpTransition(vrrp.InstanceStatus{Name: "VI_1", State: fsm.Master})
	settle()
	assert.Equal(t, []syncd.Role{syncd.Master, syncd.Backup}, roles(), "MASTER sends and still listens")
	dm.vrrpTransition(vrrp.InstanceStatus{Name: "VI_2", State: fsm.Backup})
	settle()
	assert.Equal(t, []syncd.Role{syncd.Master, syncd.Backup}, roles(), "another instance changes nothing")

	st, err := dm.Status(context.Background())
	require.NoError(t, err)
	require.NotNil(t, st.Sync)
	assert.True(t, st.Sync.WantMaster)
	assert.Equal(t, "VI_1", st.Sync.Instance)

	k.TakeOps()
	require.Empty(t, dm.Reload(context.Background()))
	settle()
	assert.Empty(t, k.TakeOps(), "an unchanged reload touches nothing")

	next = desired(syncCfg(7))
	require.Empty(t, dm.Reload(context.Background()))
	settle()
	for _, r := range []syncd.Role{syncd.Master, syncd.Backup} {
		assert.Equal(t, uint8(7), k.Running()[r].SyncID, "%s restarted with the new sync ID", r)
	}

	next = desired(nil)
	require.Empty(t, dm.Reload(context.Background()))
	assert.Empty(t, roles(), "a reload without lvs_sync_daemon stops the daemons")

	next = desired(syncCfg(191))
	require.Empty(t, dm.Reload(context.Background()))
	settle()
	assert.NotEmpty(t, roles())
	cancel()
	require.NoError(t, <-done)
	assert.Empty(t, roles(), "stopped with the director")
}
