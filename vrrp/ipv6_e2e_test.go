//go:build e2e

package vrrp_test

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/vrrp/vrrplab"
)

const vip6 = "2001:db8:8::100" // VI_6: ka67 priority 100, ka68 95

// newNet6 is the seed's network with IPv6: ka67 2001:db8:8::10, ka68 ::11
// and the client ::2 on eth1 (next to the IPv4 addresses). Duplicate
// address detection is off in the three namespaces, so the link-local
// addresses the adverts come from are usable as soon as the links are up.
func newNet6(t *testing.T) (*lab.Lab, *lab.Host, *lab.Host, *lab.Host, *lab.Link, *lab.Link) {
	t.Helper()
	l := lab.New(t)
	sw := l.Switch("lan6")
	a, b, c := l.Host("ka67"), l.Host("ka68"), l.Host("client")
	for _, h := range []*lab.Host{a, b, c} {
		h.SetSysctl("net.ipv6.conf.default.accept_dad", "0")
	}
	la := sw.Attach(a, "eth1", "10.16.8.10/24", "2001:db8:8::10/64")
	lb := sw.Attach(b, "eth1", "10.16.8.11/24", "2001:db8:8::11/64")
	sw.Attach(c, "eth1", "10.16.8.2/24", "2001:db8:8::2/64")
	return l, a, b, c, la, lb
}

// naWatch receives the unsolicited neighbour advertisements reaching the
// client (a third namespace) for one target.
type naWatch struct {
	pc  *ipv6.PacketConn
	c   net.PacketConn
	vip netip.Addr
}

func watchNA(t *testing.T, h *lab.Host, vip string) *naWatch {
	t.Helper()
	c, err := h.ListenPacket("ip6:ipv6-icmp", "::")
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	pc := ipv6.NewPacketConn(c)
	require.NoError(t, pc.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst, true))
	return &naWatch{pc: pc, c: c, vip: netip.MustParseAddr(vip)}
}

// next waits for an NA for the VIP carrying mac as target link-layer
// address (NAs of the previous owner may still be queued) and returns it
// with its source, destination and hop limit.
func (w *naWatch) next(t *testing.T, timeout time.Duration, mac net.HardwareAddr) (*ndp.NeighborAdvertisement, netip.Addr, netip.Addr, int) {
	t.Helper()
	require.NoError(t, w.c.SetReadDeadline(time.Now().Add(timeout)))
	buf := make([]byte, 1500)
	for {
		n, cm, src, err := w.pc.ReadFrom(buf)
		require.NoError(t, err, "no neighbour advertisement for %s", w.vip)
		m, err := ndp.ParseMessage(buf[:n])
		if err != nil {
			continue
		}
		na, ok := m.(*ndp.NeighborAdvertisement)
		if !ok || na.TargetAddress != w.vip || targetMAC(na).String() != mac.String() {
			continue
		}
		s, _ := netip.AddrFromSlice(src.(*net.IPAddr).IP)
		var dst netip.Addr
		hop := -1
		if cm != nil {
			dst, _ = netip.AddrFromSlice(cm.Dst)
			hop = cm.HopLimit
		}
		return na, s, dst, hop
	}
}

// drain forgets the NAs received so far.
func (w *naWatch) drain() {
	buf := make([]byte, 1500)
	_ = w.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	for {
		if _, _, _, err := w.pc.ReadFrom(buf); err != nil {
			return
		}
	}
}

// checkNA asserts an unsolicited NA as RFC 4861 7.2.6 and keepalived
// (vrrp_ndisc.c) send it: override set, solicited clear, from the VIP to
// all-nodes with hop limit 255, carrying the new owner's MAC.
func (w *naWatch) checkNA(t *testing.T, owner *lab.Host) {
	t.Helper()
	na, src, dst, hop := w.next(t, 3*time.Second, owner.HWAddr("eth1"))
	assert.True(t, na.Override, "override flag")
	assert.False(t, na.Solicited, "solicited flag")
	assert.Equal(t, w.vip, src, "source")
	assert.Equal(t, "ff02::1", dst.String(), "destination")
	assert.Equal(t, 255, hop, "hop limit")
}

func targetMAC(na *ndp.NeighborAdvertisement) net.HardwareAddr {
	for _, o := range na.Options {
		if ll, ok := o.(*ndp.LinkLayerAddress); ok && ll.Direction == ndp.Target {
			return ll.Addr
		}
	}
	return nil
}

// hasNodad reports whether h carries ip on eth1 with IFA_F_NODAD.
func hasNodad(t *testing.T, h *lab.Host, ip string) bool {
	t.Helper()
	link, err := h.Handle().LinkByName("eth1")
	require.NoError(t, err)
	addrs, err := h.Handle().AddrList(link, netlink.FAMILY_V6)
	require.NoError(t, err)
	for _, a := range addrs {
		if a.IP.String() == ip {
			return a.Flags&unix.IFA_F_NODAD != 0
		}
	}
	return false
}

// TestE2EIPv6 runs two `lvsctl vrrp run` nodes on IPv6: the higher
// priority wins, the VIP is on the master only (without duplicate address
// detection), the client hears an unsolicited NA with the master's MAC,
// and a stopped master hands the VIP over (the client hears the new
// owner's NA); a cut cable fails over too.
func TestE2EIPv6(t *testing.T) {
	_, a, b, c, la, _ := newNet6(t)
	na := watchNA(t, c, vip6)
	da := vrrplab.StartLvsctl(t, a, "testdata/v6-ka67.conf")
	db := vrrplab.StartLvsctl(t, b, "testdata/v6-ka68.conf")
	vrrplab.WaitOwner(t, electTimeout, a, b, a, "eth1", vip6)
	assert.True(t, hasNodad(t, a, vip6), "VIP added with IFA_F_NODAD")
	na.checkNA(t, a)
	time.Sleep(1500 * time.Millisecond)
	vrrplab.WaitOwner(t, 0, a, b, a, "eth1", vip6)

	na.drain()
	da.Stop(t)
	vrrplab.WaitOwner(t, 3*time.Second, a, b, b, "eth1", vip6)
	na.checkNA(t, b)
	assert.True(t, hasNodad(t, b, vip6))

	da = vrrplab.StartLvsctl(t, a, "testdata/v6-ka67.conf")
	vrrplab.WaitOwner(t, electTimeout, a, b, a, "eth1", vip6)
	la.Cut()
	vrrplab.WaitOwner(t, 4*time.Second, a, b, b, "eth1", vip6)
	la.Reconnect()
	vrrplab.WaitOwner(t, electTimeout, a, b, a, "eth1", vip6)
	checkPeerHappy(t, da, db)
	// The adverts were VRRPv3 from the link-local address.
	assert.NotContains(t, da.Proc.Output()+db.Proc.Output(), "cannot send VRRP advert")
}

// TestE2EIPv6KeepalivedInterop: keepalived 2.2.7 as the peer, in both
// roles, multicast and unicast: one master, failover when the master stops
// and when its cable is cut, preemption when it returns, and neither side
// complains about the other's adverts.
func TestE2EIPv6KeepalivedInterop(t *testing.T) {
	for _, prefix := range []string{"v6-", "v6u-"} {
		for _, roles := range [][2]string{{"keepalived", "lvsctl"}, {"lvsctl", "keepalived"}} {
			t.Run(strings.TrimSuffix(prefix, "-")+"/"+roles[0]+"-ka67_"+roles[1]+"-ka68", func(t *testing.T) {
				_, a, b, c, la, _ := newNet6(t)
				na := watchNA(t, c, vip6)
				dir := t.TempDir()
				start := func(kind string, h *lab.Host, conf string) *vrrplab.Daemon {
					return vrrplab.StartKind(t, kind, h, conf, dir)
				}
				da := start(roles[0], a, "testdata/"+prefix+"ka67.conf")
				db := start(roles[1], b, "testdata/"+prefix+"ka68.conf")
				vrrplab.WaitOwner(t, electTimeout, a, b, a, "eth1", vip6)
				// Stable: still one owner a few adverts later.
				time.Sleep(2 * time.Second)
				vrrplab.WaitOwner(t, 0, a, b, a, "eth1", vip6)
				if da.Kind == "lvsctl" {
					na.checkNA(t, a)
				}

				na.drain()
				da.Stop(t)
				vrrplab.WaitOwner(t, 3*time.Second, a, b, b, "eth1", vip6)
				if db.Kind == "lvsctl" {
					na.checkNA(t, b)
				}
				da = start(roles[0], a, "testdata/"+prefix+"ka67.conf")
				vrrplab.WaitOwner(t, electTimeout, a, b, a, "eth1", vip6)

				la.Cut()
				vrrplab.WaitOwner(t, 4*time.Second, a, b, b, "eth1", vip6)
				la.Reconnect()
				vrrplab.WaitOwner(t, electTimeout, a, b, a, "eth1", vip6)
				checkPeerHappy(t, da, db)
			})
		}
	}
}
