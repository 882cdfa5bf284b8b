package vrrp

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStaleVIPRemovedAtStart(t *testing.T) {
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")}},
		func(h *nodeHarness) {
			// Left by a previous run, or by hand, with another mask.
			h.addrs.plant(2, "10.16.8.100/24")
			h.addrs.plant(2, "10.16.8.10/24") // the host's own address stays
		})
	h.waitState("VI_1", "BACKUP")
	h.eventually("stale VIP removed", func() bool { return h.status("VI_1").Counters.VIPRepairs == 1 })
	assert.Equal(t, []string{"del 10.16.8.100/24"}, h.addrLog())
	assert.True(t, h.addrs.has("10.16.8.10/24"))
}

func TestStaleVIPRemovedPeriodicallyAndOnFault(t *testing.T) {
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")}})
	h.waitState("VI_1", "BACKUP")
	// Keep a master alive so the backup stays backup.
	h.inject(advert(191, 150, "10.16.8.100"), fromPeer())
	h.eventually("master heard", func() bool { return h.status("VI_1").MasterAddr == ka68 })

	h.addrs.plant(2, "10.16.8.100/32")
	// The master advertises every second, so the backup stays backup.
	for i := range 4 {
		h.clock.Advance(time.Second)
		h.inject(advert(191, 150, "10.16.8.100"), fromPeer())
		h.eventually("advert", func() bool { return h.status("VI_1").Counters.AdvertsReceived == uint64(i+2) })
	}
	h.clock.Advance(time.Second - time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	assert.True(t, h.addrs.has("10.16.8.100/32"), "not before the resync period")
	h.clock.Advance(time.Millisecond)
	h.eventually("removed by the periodic check", func() bool { return !h.addrs.has("10.16.8.100/32") })
	assert.Equal(t, uint64(1), h.status("VI_1").Counters.VIPRepairs)
	assert.Equal(t, "BACKUP", h.status("VI_1").State.String())

	// Entering FAULT checks at once, without waiting for the period.
	h.addrs.plant(2, "10.16.8.100/32")
	h.pushLink(LinkUpdate{Name: "eth1", Index: 2, Up: false})
	h.waitState("VI_1", "FAULT")
	h.eventually("removed on FAULT", func() bool { return !h.addrs.has("10.16.8.100/32") })
	assert.Equal(t, uint64(2), h.status("VI_1").Counters.VIPRepairs)
}

func TestMasterReaddsDeletedVIP(t *testing.T) {
	in := instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")
	in.GARPDelay = 0 // no second burst to tell apart from the repair's
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{in}})
	h.waitState("VI_1", "MASTER")
	h.eventually("GARP burst", func() bool { return h.arp.count() == 5 })
	h.addrs.yank("10.16.8.100/32")
	h.clock.Advance(DefaultVIPResync)
	h.eventually("re-added", func() bool { return h.addrs.has("10.16.8.100/32") })
	h.eventually("announced again", func() bool { return h.arp.count() == 10 })
	st := h.status("VI_1")
	assert.Equal(t, uint64(1), st.Counters.VIPRepairs)
	assert.Equal(t, "MASTER", st.State.String())
	assert.Equal(t, []string{"add 10.16.8.100/32", "add 10.16.8.100/32"}, h.addrLog())
}

func TestVIPResyncKeepsHandoverAddresses(t *testing.T) {
	// A removed master handing over and a new instance with the same VIP
	// (VRID changed by a reload): the backup must not cut the leaving
	// master's address.
	a := instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{a}})
	h.waitState("VI_1", "MASTER")
	b := instCfg("VI_1", "eth1", 17, 100, "10.16.8.100")
	require.NoError(t, h.reload(Config{McastGroup4: group, Instances: []InstanceConfig{b}}))
	h.clock.Advance(DefaultVIPResync / 2)
	time.Sleep(20 * time.Millisecond)
	assert.True(t, h.addrs.has("10.16.8.100/32"), "kept while the removed master hands over")
}

func TestVIPResyncOff(t *testing.T) {
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")}},
		func(h *nodeHarness) { h.opts = append(h.opts, WithVIPResync(-1)) })
	h.waitState("VI_1", "MASTER")
	h.addrs.yank("10.16.8.100/32")
	h.clock.Advance(DefaultVIPResync)
	time.Sleep(20 * time.Millisecond)
	assert.False(t, h.addrs.has("10.16.8.100/32"))
	assert.Zero(t, h.status("VI_1").Counters.VIPRepairs)
}
