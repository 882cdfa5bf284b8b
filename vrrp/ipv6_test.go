package vrrp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/vrrp/packet"
)

var (
	ll67   = netip.MustParseAddr("fe80::67")
	ll68   = netip.MustParseAddr("fe80::68")
	group6 = netip.MustParseAddr("ff02::12")
)

// withLinkLocal gives eth1 the link-local source of IPv6 adverts.
func withLinkLocal(h *nodeHarness) {
	l := h.links.links["eth1"]
	l.LinkLocal6 = []netip.Addr{ll67}
	h.links.links["eth1"] = l
}

// TestNodeIPv6: an IPv6 instance next to an IPv4 one with the same VRID
// on the same interface (separate virtual routers, RFC 5798 5.2.3): it
// joins ff02::12, sends VRRPv3 adverts from the interface's link-local
// address with the IPv6 address list and the IPv6 pseudo-header checksum,
// adds its VIP and announces it (the announcer gets the IPv6 address: the
// default one sends an unsolicited NA), and accepts only IPv6 adverts
// with hop limit 255.
func TestNodeIPv6(t *testing.T) {
	v6 := instCfg6("VI_6", "eth1", 191, 100, "2001:db8::100")
	v6.ExcludedVIPs = []VIP{{Prefix: netip.MustParsePrefix("10.16.8.200/32")}}
	v4 := instCfg("VI_4", "eth1", 191, 100, "10.16.8.100")
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{v6, v4}}, withLinkLocal)
	h.waitState("VI_6", "BACKUP")
	assert.ElementsMatch(t, []netip.Addr{group, group6}, h.tr.joined)

	from := RecvMeta{Src: ll68, Dst: group6, TTL: 255, IfIndex: 2}
	peer := &packet.Packet{Version: 3, VRID: 191, Priority: 150, AdvertInt: time.Second, Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::100")}}
	hop := from
	hop.TTL = 64
	h.inject(peer, hop)
	b, err := peer.Marshal(ll68, group6)
	require.NoError(t, err)
	b[7] ^= 0xff
	h.tr.in <- fakePacket{b: b, meta: from}
	h.eventually("hop limit and checksum drops", func() bool {
		d := h.status("VI_6").Counters.Drops
		return d[DropTTL] == 1 && d[DropChecksum] == 1
	})
	h.inject(peer, from)
	h.eventually("IPv6 advert accepted", func() bool { return h.status("VI_6").Counters.AdvertsReceived == 1 })
	assert.Equal(t, ll68, h.status("VI_6").MasterAddr)
	assert.Zero(t, h.status("VI_4").Counters.AdvertsReceived, "the IPv4 instance of the same VRID does not hear IPv6 adverts")

	// The peer goes silent: take over.
	h.clock.Advance(4 * time.Second)
	h.waitState("VI_6", "MASTER")
	h.eventually("VIPs added", func() bool {
		return h.addrs.has("2001:db8::100/128") && h.addrs.has("10.16.8.200/32")
	})
	h.eventually("announcements", func() bool { return h.arp.count() >= 10 })
	h.arp.mu.Lock()
	announced := map[netip.Addr]int{}
	for _, ip := range h.arp.ips {
		announced[ip]++
	}
	h.arp.mu.Unlock()
	assert.Equal(t, 5, announced[netip.MustParseAddr("2001:db8::100")], "garp_master_repeat NAs for the IPv6 VIP")
	assert.Equal(t, 5, announced[netip.MustParseAddr("10.16.8.200")], "gratuitous ARPs for the IPv4 excluded VIP")

	var adv *sent
	for _, s := range h.tr.sends() {
		if s.dst == group6 {
			adv = &s
		}
	}
	require.NotNil(t, adv, "no advert to ff02::12")
	assert.Equal(t, ll67, adv.src)
	p, err := packet.Parse(adv.b, true)
	require.NoError(t, err)
	assert.Equal(t, "VRRPv3, Advertisement, vrid 191, prio 100, intvl 100cs, length 24", p.String())
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("2001:db8::100")}, p.Addresses)
	assert.Equal(t, packet.ChecksumPseudo, packet.VerifyChecksum(adv.b, ll67, group6))
}

// TestNodeIPv6NeedsLinkLocal: without a link-local address (and no
// unicast_src_ip) there is no source for IPv6 adverts.
func TestNodeIPv6NeedsLinkLocal(t *testing.T) {
	h := &nodeHarness{links: &fakeLinks{links: map[string]LinkInfo{"eth1": {Name: "eth1", Index: 2, Up: true,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.16.8.10/24")}}}}}
	_, err := New(testConfig(Config{McastGroup4: group, Instances: []InstanceConfig{instCfg6("VI_6", "eth1", 1, 100, "2001:db8::1")}}),
		WithTransport(newFakeTransport()), WithAddrManager(&fakeAddrs{set: map[netip.Prefix]bool{}}), WithAnnouncer(&fakeARP{}), WithLinks(h.links), withStarter((&recordingStarter{}).start))
	require.ErrorContains(t, err, "no usable IPv6 link-local address")
}
