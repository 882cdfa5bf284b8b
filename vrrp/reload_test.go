package vrrp

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/vrrp/packet"
)

func TestPlanReload(t *testing.T) {
	base := func() Config {
		return testConfig(Config{
			Instances: []InstanceConfig{
				instCfg("VI_1", "eth1", 191, 100, "10.16.8.100"),
				instCfg("VI_2", "eth2", 192, 100, "172.16.8.100"),
			},
			Scripts:    []ScriptConfig{{Name: "chk", Command: "true", Interval: time.Second}, {Name: "chk2", Command: "true", Interval: time.Second}},
			SyncGroups: []SyncGroupConfig{{Name: "VG", Instances: []string{"VI_1", "VI_2"}}},
		})
	}
	for name, tc := range map[string]struct {
		mutate func(*Config)
		want   reloadPlan
	}{
		"unchanged": {func(*Config) {}, reloadPlan{
			Unchanged: []string{"VI_1", "VI_2"}, ScriptsKept: []string{"chk", "chk2"}, GroupsKept: []string{"VG"},
		}},
		"priority, VIPs, peers, notify change in place": {func(c *Config) {
			c.Instances[0].Priority = 200
			c.Instances[0].VIPs = append(c.Instances[0].VIPs, VIP{Prefix: netip.MustParsePrefix("10.16.8.101/32")})
			c.Instances[1].Notify.Master = "notify.sh"
		}, reloadPlan{
			Changed: []string{"VI_1", "VI_2"}, ScriptsKept: []string{"chk", "chk2"}, GroupsKept: []string{"VG"},
		}},
		"interface or VRID change is remove + add": {func(c *Config) {
			c.Instances[0].VRID = 17
			c.Instances[1].Interface = "eth1"
		}, reloadPlan{
			Added: []string{"VI_1", "VI_2"}, Removed: []string{"VI_1", "VI_2"},
			ScriptsKept: []string{"chk", "chk2"}, GroupsChanged: []string{"VG"},
		}},
		"added and removed instance, group change": {func(c *Config) {
			c.Instances = []InstanceConfig{c.Instances[0], instCfg("VI_3", "eth2", 193, 100, "172.16.8.103")}
			c.SyncGroups = []SyncGroupConfig{{Name: "VG", Instances: []string{"VI_1", "VI_3"}}}
		}, reloadPlan{
			Unchanged: []string{"VI_1"}, Added: []string{"VI_3"}, Removed: []string{"VI_2"},
			ScriptsKept: []string{"chk", "chk2"}, GroupsChanged: []string{"VG"},
		}},
		"groups added and removed": {func(c *Config) {
			c.SyncGroups = []SyncGroupConfig{{Name: "VG_new", Instances: []string{"VI_1", "VI_2"}}}
		}, reloadPlan{
			Unchanged: []string{"VI_1", "VI_2"}, ScriptsKept: []string{"chk", "chk2"},
			GroupsAdded: []string{"VG_new"}, GroupsRemoved: []string{"VG"},
		}},
		"scripts changed, added, removed": {func(c *Config) {
			c.Scripts = []ScriptConfig{{Name: "chk", Command: "true", Interval: 2 * time.Second, Timeout: 2 * time.Second, Rise: 1, Fall: 1},
				{Name: "chk3", Command: "true", Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1}}
		}, reloadPlan{
			Unchanged: []string{"VI_1", "VI_2"}, GroupsKept: []string{"VG"},
			ScriptsRestarted: []string{"chk"}, ScriptsAdded: []string{"chk3"}, ScriptsRemoved: []string{"chk2"},
		}},
		"node-wide values change every instance": {func(c *Config) { c.ReleaseGrace = time.Second }, reloadPlan{
			Changed: []string{"VI_1", "VI_2"}, ScriptsKept: []string{"chk", "chk2"}, GroupsKept: []string{"VG"},
		}},
	} {
		t.Run(name, func(t *testing.T) {
			old, cur := base(), base()
			tc.mutate(&cur)
			require.NoError(t, cur.Validate())
			assert.Equal(t, tc.want, planReload(old, cur))
			assert.Equal(t, name == "unchanged", planReload(old, cur).Empty())
		})
	}
}

// adverts returns the adverts of one VRID the node sent, decoded.
func (h *nodeHarness) adverts(vrid uint8) []*packet.Packet {
	var out []*packet.Packet
	for _, s := range h.tr.sends() {
		p, err := packet.Parse(s.b, false)
		require.NoError(h.t, err)
		if p.VRID == vrid {
			out = append(out, p)
		}
	}
	return out
}

func (h *nodeHarness) reload(cfg Config) error {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return h.node.Reload(ctx, testConfig(cfg))
}

func (h *nodeHarness) addrLog() []string {
	h.addrs.mu.Lock()
	defer h.addrs.mu.Unlock()
	return append([]string(nil), h.addrs.log...)
}

func TestReloadUnchangedInstanceIsNotTouched(t *testing.T) {
	cfg := Config{McastGroup4: group, Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")}}
	h := startNode(t, cfg)
	h.waitState("VI_1", "MASTER")
	h.eventually("VIP added", func() bool { return h.addrs.has("10.16.8.100/32") })
	before := h.addrLog()
	adverts := len(h.adverts(191))
	transitions := h.status("VI_1").Counters.Transitions

	h.clock.Advance(500 * time.Millisecond)
	for range 5 {
		require.NoError(t, h.reload(cfg))
	}
	// The advert schedule is the one before the reloads: 1 s after the
	// first advert, not 1 s after the reload.
	h.clock.Advance(499 * time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	assert.Len(t, h.adverts(191), adverts, "no advert before its time")
	h.clock.Advance(time.Millisecond)
	h.eventually("advert on schedule", func() bool { return len(h.adverts(191)) == adverts+1 })
	assert.Equal(t, before, h.addrLog(), "no address edits")
	st := h.status("VI_1")
	assert.Equal(t, "MASTER", st.State.String())
	assert.Equal(t, transitions, st.Counters.Transitions, "no flap")
}

func TestReloadRaisedPriorityOnBackupPreempts(t *testing.T) {
	cfg := Config{McastGroup4: group, Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")}}
	h := startNode(t, cfg)
	h.waitState("VI_1", "BACKUP")
	h.inject(advert(191, 150, "10.16.8.100"), fromPeer())
	h.eventually("master heard", func() bool { return h.status("VI_1").MasterAddr == ka68 })

	cfg.Instances[0].Priority = 200
	require.NoError(t, h.reload(cfg))
	st := h.status("VI_1")
	assert.Equal(t, "BACKUP", st.State.String(), "no flap on reload")
	assert.Equal(t, uint8(200), st.BasePriority)
	assert.Equal(t, uint8(200), st.EffectivePriority)
	// The old master goes on advertising 150: that no longer holds us back.
	for range 3 {
		h.clock.Advance(time.Second)
		h.inject(advert(191, 150, "10.16.8.100"), fromPeer())
		h.eventually("advert counted", func() bool { return h.status("VI_1").Counters.AdvertsReceived > 0 })
	}
	h.eventuallyAdvancing("preempted", 100*time.Millisecond, func() bool { return h.status("VI_1").State.String() == "MASTER" })
	h.eventually("VIP added", func() bool { return h.addrs.has("10.16.8.100/32") })
	p := h.adverts(191)
	assert.Equal(t, uint8(200), p[len(p)-1].Priority)
}

func TestReloadRemovedMasterHandsOver(t *testing.T) {
	a := instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")
	a.Notify = NotifyConfig{Stop: "notify.sh stop"}
	b := instCfg("VI_2", "eth2", 192, 255, "172.16.8.100")
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{a, b}})
	h.waitState("VI_1", "MASTER")
	h.eventually("VIP added", func() bool { return h.addrs.has("10.16.8.100/32") })

	require.NoError(t, h.reload(Config{McastGroup4: group, Instances: []InstanceConfig{b}}))
	p := h.adverts(191)
	assert.Equal(t, uint8(0), p[len(p)-1].Priority, "priority-0 advert first")
	assert.True(t, h.addrs.has("10.16.8.100/32"), "make-before-break: VIP kept until the new master is heard")
	assert.True(t, h.status("VI_1").Leaving)

	h.inject(advert(191, 100, "10.16.8.100"), fromPeer())
	h.eventually("new master seen", func() bool { return h.status("VI_1").MasterAddr == ka68 })
	assert.True(t, h.addrs.has("10.16.8.100/32"), "kept for the release grace")
	h.clock.Advance(100 * time.Millisecond)
	h.eventually("VIP removed", func() bool { return !h.addrs.has("10.16.8.100/32") })
	h.eventually("notify_stop", func() bool {
		for _, r := range h.starter.all() {
			if len(r) == 2 && r[0] == "notify.sh" && r[1] == "stop" {
				return true
			}
		}
		return false
	})
	h.eventually("forgotten once stopped", func() bool { return len(h.node.Status()) == 1 })
	assert.Equal(t, "VI_2", h.node.Status()[0].Name)
	assert.True(t, h.addrs.has("172.16.8.100/32"), "the other instance is not touched")
	assert.Equal(t, "MASTER", h.status("VI_2").State.String())
}

func TestReloadRemovedMasterGivesUpAfterMasterDown(t *testing.T) {
	a := instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")
	b := instCfg("VI_2", "eth2", 192, 255, "172.16.8.100")
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{a, b}})
	h.waitState("VI_1", "MASTER")
	require.NoError(t, h.reload(Config{McastGroup4: group, Instances: []InstanceConfig{b}}))
	// Master-down interval of priority 255: 3 s + 1/256 s.
	h.clock.Advance(3 * time.Second)
	time.Sleep(20 * time.Millisecond)
	assert.True(t, h.addrs.has("10.16.8.100/32"))
	h.clock.Advance(4 * time.Millisecond)
	h.eventually("VIP removed when no successor shows up", func() bool { return !h.addrs.has("10.16.8.100/32") })
}

func TestReloadVIPListOnMaster(t *testing.T) {
	in := instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{in}})
	h.waitState("VI_1", "MASTER")
	h.eventually("GARP burst", func() bool { return h.arp.count() == 5 })
	before := h.addrLog()

	in.VIPs = append(in.VIPs, VIP{Prefix: netip.MustParsePrefix("10.16.8.101/32")})
	require.NoError(t, h.reload(Config{McastGroup4: group, Instances: []InstanceConfig{in}}))
	assert.Equal(t, append(before, "add 10.16.8.101/32"), h.addrLog())
	assert.Equal(t, 10, h.arp.count(), "a GARP burst for the new address only")
	h.clock.Advance(time.Second)
	h.eventually("advert lists both", func() bool {
		p := h.adverts(191)
		return len(p[len(p)-1].Addresses) == 2
	})

	in.VIPs = in.VIPs[1:]
	require.NoError(t, h.reload(Config{McastGroup4: group, Instances: []InstanceConfig{in}}))
	assert.Equal(t, append(before, "add 10.16.8.101/32", "del 10.16.8.100/32"), h.addrLog())
	assert.Equal(t, "MASTER", h.status("VI_1").State.String())
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.16.8.101/32")}, h.status("VI_1").VIPs)
}

func TestReloadAddsInstance(t *testing.T) {
	a := instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{a}})
	h.waitState("VI_1", "BACKUP")
	require.NoError(t, h.reload(Config{McastGroup4: group, Instances: []InstanceConfig{a, instCfg("VI_2", "eth2", 192, 255, "172.16.8.100")}}))
	h.waitState("VI_2", "MASTER")
	h.eventually("VIP added", func() bool { return h.addrs.has("172.16.8.100/32") })
	assert.Equal(t, "BACKUP", h.status("VI_1").State.String())
}

func TestReloadInvalidChangesNothing(t *testing.T) {
	cfg := Config{McastGroup4: group, Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")}}
	h := startNode(t, cfg)
	h.waitState("VI_1", "MASTER")
	before := h.addrLog()

	bad := cfg
	bad.Instances = []InstanceConfig{instCfg("VI_1", "eth1", 191, 255, "10.16.8.100"), instCfg("VI_2", "eth9", 192, 100, "10.16.8.102")}
	require.Error(t, h.reload(bad), "unknown interface")
	zero := instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")
	zero.AdvertInt = 0
	require.ErrorIs(t, h.reload(Config{McastGroup4: group, Instances: []InstanceConfig{zero}}), ErrConfig)

	assert.Len(t, h.node.Status(), 1)
	assert.Equal(t, "MASTER", h.status("VI_1").State.String())
	assert.Equal(t, before, h.addrLog())
	// The running configuration is still the old one: reloading it is a no-op.
	require.NoError(t, h.reload(cfg))
	assert.Equal(t, before, h.addrLog())
}

func TestReloadKeepsScriptStateOfUnchangedScripts(t *testing.T) {
	in := instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")
	in.TrackScripts = []TrackScript{{Name: "chk"}}
	cfg := Config{McastGroup4: group, Instances: []InstanceConfig{in},
		Scripts: []ScriptConfig{{Name: "chk", Command: "false", Interval: time.Hour, Weight: -10}}}
	h := startNode(t, cfg)
	h.eventually("script failed", func() bool { return h.status("VI_1").EffectivePriority == 90 })
	require.Len(t, h.starter.all(), 1)

	cfg.Instances[0].Priority = 110
	require.NoError(t, h.reload(cfg))
	assert.Equal(t, uint8(100), h.status("VI_1").EffectivePriority, "new base priority, script still failing")
	time.Sleep(20 * time.Millisecond)
	assert.Len(t, h.starter.all(), 1, "the unchanged script was not restarted")

	// A changed script starts over: it runs at once.
	cfg.Scripts[0].Command = "false --changed"
	require.NoError(t, h.reload(cfg))
	h.eventually("restarted script ran", func() bool { return len(h.starter.all()) == 2 })
	h.eventually("and failed", func() bool { return h.status("VI_1").EffectivePriority == 100 })
}

func TestReloadAfterRunReturned(t *testing.T) {
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")}})
	h.waitState("VI_1", "BACKUP")
	h.cancel()
	select {
	case err := <-h.done:
		require.NoError(t, err)
		h.done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	require.ErrorIs(t, h.reload(Config{McastGroup4: group, Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")}}), ErrNotRunning)
}

func TestReloadMcastGroupJoinsAndSendsToTheNewGroup(t *testing.T) {
	cfg := Config{McastGroup4: group, Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")}}
	h := startNode(t, cfg)
	h.waitState("VI_1", "MASTER")
	other := netip.MustParseAddr("224.0.0.18")
	cfg.McastGroup4 = other
	require.NoError(t, h.reload(cfg))
	h.tr.mu.Lock()
	joined := append([]netip.Addr(nil), h.tr.joined...)
	h.tr.mu.Unlock()
	assert.Equal(t, []netip.Addr{group, other}, joined)
	h.clock.Advance(time.Second)
	h.eventually("advert to the new group", func() bool {
		s := h.tr.sends()
		return s[len(s)-1].dst == other
	})
	assert.Equal(t, "MASTER", h.status("VI_1").State.String())
}
