package vrrp

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// notices records what a node reports through WithNotices, as the notify
// FIFO lines they become (`INSTANCE "VI_1" MASTER 100`).
type notices struct {
	mu   sync.Mutex
	list []string
}

func (r *notices) add(n Notice) {
	kind := "INSTANCE"
	if n.Group {
		kind = "GROUP"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, kind+" \""+n.Name+"\" "+string(n.Event)+" "+strconv.Itoa(int(n.Priority)))
}

func (r *notices) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.list)
}

func withNotices(r *notices) func(*nodeHarness) {
	return func(h *nodeHarness) { h.opts = append(h.opts, WithNotices(r.add)) }
}

// The lines keepalived writes to its FIFOs come where the notify scripts
// run: an instance's BACKUP at start and MASTER when it takes over, its
// sync group's once all members are there; at shutdown every instance's
// STOP, then the group's (vrrp_notify.c notify_shutdown), whose notify
// scripts run too.
func TestNoticesFollowNotifyScripts(t *testing.T) {
	a := instCfg("External_1", "eth1", 171, 100, "10.16.8.100")
	b := instCfg("Internal_1", "eth2", 191, 90, "172.16.8.100")
	var got notices
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{a, b},
		SyncGroups: []SyncGroupConfig{{Name: "VG_1", Instances: []string{"External_1", "Internal_1"},
			Notify: NotifyConfig{Any: "group.sh", Stop: "group-stop.sh"}}}}, withNotices(&got))
	h.waitState("External_1", "BACKUP")
	h.waitState("Internal_1", "BACKUP")
	h.eventually("BACKUP lines", func() bool { return len(got.all()) == 3 })
	assert.Equal(t, []string{`INSTANCE "External_1" BACKUP 100`, `INSTANCE "Internal_1" BACKUP 90`, `GROUP "VG_1" BACKUP 0`}, got.all())

	// No peer: the master-down interval passes and External_1 (the
	// higher priority, shorter skew) takes over and pulls Internal_1.
	h.clock.Advance(4 * time.Second)
	h.waitState("External_1", "MASTER")
	h.waitState("Internal_1", "MASTER")
	h.eventually("MASTER lines", func() bool { return len(got.all()) == 6 })
	assert.Equal(t, []string{`INSTANCE "External_1" MASTER 100`, `INSTANCE "Internal_1" MASTER 90`, `GROUP "VG_1" MASTER 0`}, got.all()[3:])

	h.cancel()
	for done := false; !done; {
		select {
		case err := <-h.done:
			require.NoError(t, err)
			h.done <- nil
			done = true
		case <-time.After(10 * time.Millisecond):
			h.clock.Advance(time.Second) // nobody takes over
		}
	}
	all := got.all()
	require.Len(t, all, 9)
	assert.ElementsMatch(t, []string{`INSTANCE "External_1" STOP 100`, `INSTANCE "Internal_1" STOP 90`}, all[6:8])
	assert.Equal(t, `GROUP "VG_1" STOP 0`, all[8])
	assert.Contains(t, h.starter.all(), []string{"group.sh", "GROUP", "VG_1", "STOP", "0"})
	assert.Contains(t, h.starter.all(), []string{"group-stop.sh"})
}

// notify_priority_changes: a tracked script that fails moves the
// effective priority and says so (MASTER_PRIORITY as master,
// BACKUP_PRIORITY otherwise); an instance without it says nothing.
func TestNoticesOfPriorityChanges(t *testing.T) {
	a := instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")
	a.Priority = 100
	a.TrackScripts = []TrackScript{{Name: "chk"}}
	a.NotifyPriorityChanges = true
	b := instCfg("VI_2", "eth2", 192, 100, "172.16.8.100")
	b.TrackScripts = []TrackScript{{Name: "chk"}}
	var got notices
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{a, b},
		Scripts: []ScriptConfig{{Name: "chk", Command: "chk.sh", Interval: 5 * time.Millisecond, Weight: -10}}},
		withNotices(&got))
	h.waitState("VI_1", "BACKUP")
	// chk.sh does not exist: the script fails and takes 10 off.
	h.eventuallyAdvancing("priority lowered", 5*time.Millisecond, func() bool { return h.status("VI_1").EffectivePriority == 90 })
	h.eventually("priority line", func() bool { return slices.Contains(got.all(), `INSTANCE "VI_1" BACKUP_PRIORITY 90`) })
	for _, l := range got.all() {
		assert.NotContains(t, l, `"VI_2" BACKUP_PRIORITY`, "VI_2 has no notify_priority_changes")
	}
}

// fifo_write_vrrp_states_on_reload: a reload reports the sync groups and
// the instances it kept in their state, except the instances that stay
// MASTER (keepalived 2.2.7 vrrp_scheduler.c vrrp_init_state); without it,
// a reload that changes no state reports nothing.
func TestNoticesOfStatesOnReload(t *testing.T) {
	master := instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")
	backup := instCfg("VI_2", "eth2", 192, 100, "172.16.8.100")
	cfg := Config{McastGroup4: group, Instances: []InstanceConfig{master, backup},
		SyncGroups: []SyncGroupConfig{{Name: "VG_2", Instances: []string{"VI_2"}}}}
	var got notices
	h := startNode(t, cfg, withNotices(&got))
	h.waitState("VI_1", "MASTER")
	h.waitState("VI_2", "BACKUP")
	// A peer with a higher priority keeps VI_2 BACKUP.
	h.inject(advert(192, 200, "172.16.8.100"), RecvMeta{Src: ka68, Dst: group, TTL: 255, IfIndex: 3})
	h.eventually("start lines", func() bool { return len(got.all()) == 3 })

	require.NoError(t, h.node.Reload(context.Background(), testConfig(cfg)))
	assert.Len(t, got.all(), 3, "no state changed, no state asked for")

	cfg.StatesOnReload = true
	cfg.Instances[1].Priority = 110
	require.NoError(t, h.node.Reload(context.Background(), testConfig(cfg)))
	assert.Equal(t, []string{`GROUP "VG_2" BACKUP 0`, `INSTANCE "VI_2" BACKUP 110`}, got.all()[3:],
		"the kept group, then the kept backup with its new priority; not the master")
}
