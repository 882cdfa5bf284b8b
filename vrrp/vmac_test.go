package vrrp

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vmacIndex is the ifindex the fake gives the first VMAC.
const vmacIndex = 100

func withFakeVMACs(v **fakeVMACs) func(*nodeHarness) {
	return func(h *nodeHarness) {
		*v = &fakeVMACs{addrs: h.addrs, index: vmacIndex}
		h.opts = append(h.opts, WithVMACs(*v))
	}
}

// stop ends Run (letting hand-over timers run out) and keeps its result
// for the harness's cleanup.
func (h *nodeHarness) stop() error {
	h.cancel()
	for {
		select {
		case err := <-h.done:
			h.done <- err
			return err
		case <-time.After(10 * time.Millisecond):
			h.clock.Advance(time.Second)
		}
	}
}

func (f *fakeAddrs) entries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *fakeAddrs) ifindexOf(p string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ifOf[netip.MustParsePrefix(p)]
}

func vmacInst(xmitBase bool) InstanceConfig {
	in := instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")
	in.VMAC = &VMACConfig{Name: "vrrp.191", XmitBase: xmitBase}
	// An address with a device of its own stays there.
	in.ExcludedVIPs = []VIP{{Prefix: netip.MustParsePrefix("172.16.8.100/32"), Dev: "eth2"}}
	return in
}

// TestVMACMasterUsesTheVMAC: the VMAC is created (on the instance's
// interface, with 00:00:5e:00:01:VRID) before anything else, the VIP goes
// on it, the gratuitous ARPs and adverts leave by it with the base
// interface's address as source, the group is joined on both, and at stop
// the VIP goes before the VMAC.
func TestVMACMasterUsesTheVMAC(t *testing.T) {
	var v *fakeVMACs
	h := startNode(t, Config{Instances: []InstanceConfig{vmacInst(false)}}, withFakeVMACs(&v))
	h.waitState("VI_1", "MASTER")
	h.eventually("GARP burst", func() bool { return h.arp.count() == 10 })
	require.Equal(t, []VMACSpec{{Name: "vrrp.191", Parent: 2, ParentName: "eth1", MAC: net.HardwareAddr{0, 0, 0x5e, 0, 1, 191}}}, v.spec)
	assert.Equal(t, vmacIndex, h.addrs.ifindexOf("10.16.8.100/32"))
	assert.Equal(t, 3, h.addrs.ifindexOf("172.16.8.100/32"))
	h.arp.mu.Lock()
	for i, ip := range h.arp.ips {
		want := vmacIndex
		if ip == netip.MustParseAddr("172.16.8.100") {
			want = 3
		}
		assert.Equal(t, want, h.arp.on[i], "GARP for %s", ip)
	}
	h.arp.mu.Unlock()
	s := h.tr.sends()
	require.NotEmpty(t, s)
	assert.Equal(t, vmacIndex, s[0].ifindex)
	assert.Equal(t, ka67, s[0].src)
	assert.ElementsMatch(t, []int{2, vmacIndex}, h.tr.joinedOn)

	require.NoError(t, h.stop())
	log := h.addrs.entries()
	require.NotEmpty(t, log)
	assert.Equal(t, "vmac up vrrp.191", log[0])
	assert.Equal(t, "vmac down vrrp.191", log[len(log)-1])
	assert.Contains(t, log, "del 10.16.8.100/32")
	assert.Zero(t, v.count())
}

// TestVMACXmitBase: vmac_xmit_base sends the adverts by the base interface;
// the VIP still goes on the VMAC.
func TestVMACXmitBase(t *testing.T) {
	var v *fakeVMACs
	h := startNode(t, Config{Instances: []InstanceConfig{vmacInst(true)}}, withFakeVMACs(&v))
	h.waitState("VI_1", "MASTER")
	h.eventually("VIP added", func() bool { return h.addrs.has("10.16.8.100/32") })
	assert.Equal(t, vmacIndex, h.addrs.ifindexOf("10.16.8.100/32"))
	s := h.tr.sends()
	require.NotEmpty(t, s)
	assert.Equal(t, 2, s[0].ifindex)
}

// TestVMACAdvertOnTheVMAC: an advert that arrives on the VMAC interface
// (the master's adverts come from the shared virtual MAC) is the
// instance's: a higher priority there makes it BACKUP.
func TestVMACAdvertOnTheVMAC(t *testing.T) {
	var v *fakeVMACs
	in := vmacInst(false)
	in.Priority = 100
	h := startNode(t, Config{Instances: []InstanceConfig{in}}, withFakeVMACs(&v))
	h.waitState("VI_1", "BACKUP")
	meta := fromPeer()
	meta.IfIndex = vmacIndex
	for i := range 5 {
		h.inject(advert(191, 200, "10.16.8.100"), meta)
		h.eventually("advert counted", func() bool { return h.status("VI_1").Counters.AdvertsReceived == uint64(i+1) })
		h.clock.Advance(time.Second)
	}
	assert.Equal(t, "BACKUP", h.status("VI_1").State.String())
	assert.False(t, h.addrs.has("10.16.8.100/32"))
}

// TestVMACUpFails: a VMAC that cannot be created fails Run before any
// address is added.
func TestVMACUpFails(t *testing.T) {
	var v *fakeVMACs
	fail := func(h *nodeHarness) { v.err = errors.New("interface vrrp.191 exists and is a dummy, not a macvlan") }
	h := startNode(t, Config{Instances: []InstanceConfig{vmacInst(false)}}, withFakeVMACs(&v), fail)
	var err error
	select {
	case err = <-h.done:
		h.done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not fail")
	}
	require.ErrorContains(t, err, "vrrp_instance VI_1: VMAC vrrp.191: interface vrrp.191 exists and is a dummy")
	assert.Empty(t, h.addrs.entries())
}

// TestVMACIPv6: an IPv6 instance's VMAC has 00:00:5e:00:02:VRID and the
// base interface's link-local address (no IPv4 sysctls: IPv6 set); the
// adverts leave by the VMAC from that address, the VIP and its
// neighbour advertisements are on the VMAC. With vmac_xmit_base no
// link-local address goes on the VMAC.
func TestVMACIPv6(t *testing.T) {
	in := instCfg6("VI_6", "eth1", 191, 255, "2001:db8::100")
	in.VMAC = &VMACConfig{Name: "vrrp.191"}
	var v *fakeVMACs
	h := startNode(t, Config{Instances: []InstanceConfig{in}}, withLinkLocal, withFakeVMACs(&v))
	h.waitState("VI_6", "MASTER")
	h.eventually("NAs", func() bool { return h.arp.count() == 5 })
	require.Equal(t, []VMACSpec{{Name: "vrrp.191", Parent: 2, ParentName: "eth1", MAC: net.HardwareAddr{0, 0, 0x5e, 0, 2, 191},
		IPv6: true, LinkLocal: ll67}}, v.spec)
	assert.Equal(t, vmacIndex, h.addrs.ifindexOf("2001:db8::100/128"))
	h.arp.mu.Lock()
	assert.Equal(t, []int{vmacIndex, vmacIndex, vmacIndex, vmacIndex, vmacIndex}, h.arp.on)
	h.arp.mu.Unlock()
	s := h.tr.sends()
	require.NotEmpty(t, s)
	assert.Equal(t, vmacIndex, s[0].ifindex)
	assert.Equal(t, ll67, s[0].src)
	assert.ElementsMatch(t, []int{2, vmacIndex}, h.tr.joinedOn)
	require.NoError(t, h.stop())

	in.VMAC.XmitBase = true
	h = startNode(t, Config{Instances: []InstanceConfig{in}}, withLinkLocal, withFakeVMACs(&v))
	h.waitState("VI_6", "MASTER")
	require.Len(t, v.spec, 1)
	assert.False(t, v.spec[0].LinkLocal.IsValid(), "vmac_xmit_base: no link-local address on the VMAC")
	s = h.tr.sends()
	require.NotEmpty(t, s)
	assert.Equal(t, 2, s[0].ifindex)
}

// TestVMACConfiguredMAC: a configured MAC replaces the RFC 5798 one.
func TestVMACConfiguredMAC(t *testing.T) {
	in := vmacInst(false)
	in.VMAC.MAC = net.HardwareAddr{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 191}
	var v *fakeVMACs
	h := startNode(t, Config{Instances: []InstanceConfig{in}}, withFakeVMACs(&v))
	h.waitState("VI_1", "MASTER")
	require.Len(t, v.spec, 1)
	assert.Equal(t, "02:aa:bb:cc:dd:bf", v.spec[0].MAC.String())
}
