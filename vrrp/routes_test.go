package vrrp

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/internal/netroute"
	"github.com/lvsctl/lvsctl/internal/netroute/netroutetest"
)

// sharedLog writes route and rule calls into the address fake's log, so a
// test sees one order across VIPs, routes and rules.
type sharedLog struct {
	*netroutetest.Kernel
	a *fakeAddrs
}

func (s sharedLog) note(line string) {
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	s.a.log = append(s.a.log, line)
}

func (s sharedLog) AddRoute(r netroute.Route) error {
	err := s.Kernel.AddRoute(r)
	if err == nil {
		s.note("add route " + r.Dst.String())
	}
	return err
}

func (s sharedLog) DelRoute(r netroute.Route) error {
	s.note("del route " + r.Dst.String())
	return s.Kernel.DelRoute(r)
}

func (s sharedLog) AddRule(r netroute.Rule) error {
	err := s.Kernel.AddRule(r)
	if err == nil {
		s.note("add rule " + r.From.String())
	}
	return err
}

func (s sharedLog) DelRule(r netroute.Rule) error {
	s.note("del rule " + r.From.String())
	return s.Kernel.DelRule(r)
}

var (
	vroute1 = netroute.Route{Dst: netip.MustParsePrefix("192.168.50.0/24"), Via: netip.MustParseAddr("10.16.8.1"), Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived}
	vroute2 = netroute.Route{Dst: netip.MustParsePrefix("192.168.51.0/24"), Dev: "eth1", Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived}
	vrule1  = netroute.Rule{From: netip.MustParsePrefix("10.16.8.100/32"), Priority: 100, Action: netroute.ActionTable, Table: 100, Protocol: netroute.ProtoKeepalived}
)

func routedNode(t *testing.T, in InstanceConfig) (*nodeHarness, *netroutetest.Kernel) {
	k := &netroutetest.Kernel{}
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{in}}, func(h *nodeHarness) {
		h.opts = append(h.opts, WithRouteKernel(sharedLog{Kernel: k, a: h.addrs}))
	})
	return h, k
}

// Becoming master adds the VIPs, then the routes, then the rules; leaving
// (here: stopping, after the new master is heard) removes rules, routes,
// then VIPs (keepalived's vrrp_state_become_master and
// vrrp_restore_interface).
func TestVirtualRoutesFollowMaster(t *testing.T) {
	in := instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")
	in.Routes = []netroute.Route{vroute1}
	in.Rules = []netroute.Rule{vrule1}
	h, k := routedNode(t, in)
	h.waitState("VI_1", "MASTER")
	h.eventually("rule added", func() bool { return len(k.State().Rules) == 1 })
	assert.Equal(t, []string{"add 10.16.8.100/32", "add route 192.168.50.0/24", "add rule 10.16.8.100/32"}, h.addrLog())

	h.cancel()
	h.eventually("priority 0 sent", func() bool { return h.status("VI_1").Leaving })
	assert.Len(t, k.State().Routes, 1, "make-before-break: routes stay with the VIPs until the new master is heard")
	h.inject(advert(191, 100, "10.16.8.100"), fromPeer())
	h.eventually("new master seen", func() bool { return h.status("VI_1").MasterAddr == ka68 })
	h.clock.Advance(100 * time.Millisecond)
	select {
	case err := <-h.done:
		require.NoError(t, err)
		h.done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the handover")
	}
	assert.True(t, k.State().Empty(), "left %+v", k.State())
	log := h.addrLog()
	assert.Equal(t, []string{"del rule 10.16.8.100/32", "del route 192.168.50.0/24", "del 10.16.8.100/32"}, log[len(log)-3:])
}

// A backup adds nothing; a master that hears a better one removes what it
// added.
func TestVirtualRoutesLeaveWithMaster(t *testing.T) {
	in := instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")
	in.Routes = []netroute.Route{vroute1}
	h, k := routedNode(t, in)
	h.waitState("VI_1", "BACKUP")
	assert.True(t, k.State().Empty())
	h.clock.Advance(4 * time.Second) // master down interval
	h.waitState("VI_1", "MASTER")
	h.eventually("route added", func() bool { return len(k.State().Routes) == 1 })
	h.inject(advert(191, 200, "10.16.8.100"), fromPeer())
	h.waitState("VI_1", "BACKUP")
	assert.Len(t, k.State().Routes, 1, "kept with the VIPs for the release grace")
	h.clock.Advance(100 * time.Millisecond) // ReleaseGrace
	h.eventually("route removed", func() bool { return k.State().Empty() })
	assert.False(t, h.addrs.has("10.16.8.100/32"))
}

// A reload touches only the changed routes of a master; its VIPs stay.
func TestVirtualRoutesReloadDiff(t *testing.T) {
	in := instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")
	in.Routes = []netroute.Route{vroute1}
	h, k := routedNode(t, in)
	h.waitState("VI_1", "MASTER")
	h.eventually("route added", func() bool { return len(k.State().Routes) == 1 })
	k.Ops()
	before := len(h.addrLog())

	in.Routes = []netroute.Route{vroute1, vroute2}
	require.NoError(t, h.node.Reload(context.Background(), testConfig(Config{McastGroup4: group, Instances: []InstanceConfig{in}})))
	h.eventually("second route", func() bool { return len(k.State().Routes) == 2 })
	in.Routes = []netroute.Route{vroute2}
	require.NoError(t, h.node.Reload(context.Background(), testConfig(Config{McastGroup4: group, Instances: []InstanceConfig{in}})))
	h.eventually("first route gone", func() bool { return len(k.State().Routes) == 1 })
	var got []string
	for _, o := range k.Ops() {
		got = append(got, o.String())
	}
	assert.Equal(t, []string{"add route " + vroute2.String(), "del route " + vroute1.String()}, got)
	assert.Equal(t, []netroute.Route{vroute2}, k.State().Routes)
	assert.Equal(t, []string{"add route 192.168.51.0/24", "del route 192.168.50.0/24"}, h.addrLog()[before:], "no VIP touched")
	assert.Equal(t, "MASTER", h.status("VI_1").State.String())
}

// A failing rule leaves no half-applied set: the route added with it is
// removed again, the instance stays master (as keepalived, which logs),
// and the next mastership tries again.
func TestVirtualRoutesFailureRollsBack(t *testing.T) {
	in := instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")
	in.Routes = []netroute.Route{vroute1}
	in.Rules = []netroute.Rule{vrule1}
	k := &netroutetest.Kernel{}
	k.Fail(netroutetest.Op{Verb: "add", Kind: "rule", Rule: vrule1}, errors.New("EPERM"))
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{in}}, func(h *nodeHarness) {
		h.opts = append(h.opts, WithRouteKernel(k))
	})
	h.waitState("VI_1", "MASTER")
	h.eventually("rolled back", func() bool {
		ops := k.Ops()
		return len(ops) == 3 && ops[2].Verb == "del" && ops[2].Kind == "route"
	})
	assert.True(t, k.State().Empty())
	assert.Equal(t, "MASTER", h.status("VI_1").State.String())
	assert.True(t, h.addrs.has("10.16.8.100/32"))
}
