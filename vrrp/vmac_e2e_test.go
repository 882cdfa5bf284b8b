//go:build e2e

package vrrp_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/vrrp/vrrplab"
)

// vmac191 is the virtual MAC of VRID 191 (0xbf).
var vmac191 = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, 0xbf}

// neighMAC is the client's neighbour entry for ip on ifname (nil: none
// usable).
func neighMAC(t *testing.T, h *lab.Host, ifname, ip string) net.HardwareAddr {
	t.Helper()
	link, err := h.Handle().LinkByName(ifname)
	require.NoError(t, err)
	family := netlink.FAMILY_V4
	if strings.Contains(ip, ":") {
		family = netlink.FAMILY_V6
	}
	list, err := h.Handle().NeighList(link.Attrs().Index, family)
	require.NoError(t, err)
	for _, n := range list {
		if n.IP.String() == ip && n.State&(netlink.NUD_REACHABLE|netlink.NUD_STALE|netlink.NUD_DELAY|netlink.NUD_PROBE|netlink.NUD_PERMANENT) != 0 {
			return n.HardwareAddr
		}
	}
	return nil
}

// vmacLink is the macvlan vrrp.191 of h (nil: none).
func vmacLink(t *testing.T, h *lab.Host) *netlink.Macvlan {
	t.Helper()
	l, err := h.Handle().LinkByName("vrrp.191")
	if err != nil {
		return nil
	}
	mv, ok := l.(*netlink.Macvlan)
	require.True(t, ok, "vrrp.191 is a %s", l.Type())
	return mv
}

// TestE2EVMACFailover: two lvsctl nodes with use_vmac. The VIP is on the
// master's macvlan vrrp.191 (private mode, 00:00:5e:00:01:bf, on eth1),
// the client learns the virtual MAC for it, and after a failover the
// client reaches the new master with the same neighbour entry, pinned
// permanent so that no ARP can change it. At stop the macvlans go and the
// base interface's sysctls are restored.
func TestE2EVMACFailover(t *testing.T) {
	n := vrrplab.NewNet(t, false)
	// Non-default base values, to see them restored.
	n.A.SetSysctl("net.ipv4.conf.eth1.arp_ignore", "2")
	// Without arp_announce 2 a director answering from the VIP asks for
	// the client's MAC on eth1 with the VIP as sender, which teaches the
	// client eth1's MAC for the VIP (keepalived 2.2.7 leaves arp_announce
	// alone too; docs/vrrp.md recommends it).
	for _, h := range []*lab.Host{n.A, n.B} {
		h.SetSysctl("net.ipv4.conf.eth1.arp_announce", "2")
	}
	a := vrrplab.StartLvsctl(t, n.A, n.Fixture(t, "testdata", "vmac-ka67.conf"))
	b := vrrplab.StartLvsctl(t, n.B, n.Fixture(t, "testdata", "vmac-ka68.conf"))
	vrrplab.WaitFor(t, 5*time.Second, "vrrp.191 on both", func() bool { return vmacLink(t, n.A) != nil && vmacLink(t, n.B) != nil })
	vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "vrrp.191", vip1)
	assert.False(t, vrrplab.HasAddr(n.A, "eth1", vip1), "the VIP is on the VMAC, not on eth1")

	for _, h := range []*lab.Host{n.A, n.B} {
		mv := vmacLink(t, h)
		require.NotNil(t, mv, "%s has vrrp.191", h.Name())
		assert.Equal(t, vmac191.String(), mv.Attrs().HardwareAddr.String(), h.Name())
		assert.Equal(t, netlink.MACVLAN_MODE_PRIVATE, mv.Mode, h.Name())
		base, err := h.Handle().LinkByName("eth1")
		require.NoError(t, err)
		assert.Equal(t, base.Attrs().Index, mv.Attrs().ParentIndex, h.Name())
		assert.Equal(t, "1", h.Sysctl("net/ipv4/conf/vrrp.191/arp_ignore"), h.Name())
		assert.Equal(t, "1", h.Sysctl("net/ipv4/conf/vrrp.191/accept_local"), h.Name())
		assert.Equal(t, "0", h.Sysctl("net/ipv4/conf/vrrp.191/rp_filter"), h.Name())
		assert.Equal(t, "1", h.Sysctl("net/ipv4/conf/vrrp.191/promote_secondaries"), h.Name())
		assert.Equal(t, "1", h.Sysctl("net.ipv4.conf.eth1.arp_ignore"), h.Name())
		assert.Equal(t, "1", h.Sysctl("net.ipv4.conf.eth1.arp_filter"), h.Name())
	}

	assert.Equal(t, "ka67", get(t, n, vip1))
	vrrplab.WaitFor(t, 5*time.Second, "client's neighbour entry for the VIP", func() bool { return neighMAC(t, n.Client, "eth1", vip1) != nil })
	assert.Equal(t, vmac191.String(), neighMAC(t, n.Client, "eth1", vip1).String(), "the client knows the VIP by the virtual MAC")
	// The backup stays backup: it hears the master's adverts (on its VMAC).
	time.Sleep(4 * time.Second)
	assert.False(t, vrrplab.HasAddr(n.B, "vrrp.191", vip1), "backup took the VIP: it does not hear the master")

	n.Client.AddNeigh("eth1", vip1, vmac191)
	a.Stop(t)
	// Stop returned: ka67's VMAC (and with it the VIP) is gone.
	vrrplab.WaitFor(t, 6*time.Second, "the VIP on ka68", func() bool { return vrrplab.HasAddr(n.B, "vrrp.191", vip1) })
	vrrplab.WaitFor(t, 5*time.Second, "the VIP answers from ka68", func() bool { return get(t, n, vip1) == "ka68" })
	assert.Equal(t, vmac191.String(), neighMAC(t, n.Client, "eth1", vip1).String())

	assert.Nil(t, vmacLink(t, n.A), "vrrp.191 deleted at stop")
	assert.Equal(t, "2", n.A.Sysctl("net.ipv4.conf.eth1.arp_ignore"), "arp_ignore restored")
	assert.Equal(t, "0", n.A.Sysctl("net.ipv4.conf.eth1.arp_filter"), "arp_filter restored")
	b.Stop(t)
	assert.Nil(t, vmacLink(t, n.B), "vrrp.191 deleted at stop")
	assert.Equal(t, "0", n.B.Sysctl("net.ipv4.conf.eth1.arp_ignore"))
}

// TestE2EVMACKeepalivedInterop: use_vmac against keepalived 2.2.7, in both
// roles. Both routers put the VIP on vrrp.191 with the virtual MAC, the
// backup hears the master's adverts (sent from the shared virtual MAC)
// and stays backup, and when the master stops the other takes the VIP,
// which the client reaches with its neighbour entry unchanged.
func TestE2EVMACKeepalivedInterop(t *testing.T) {
	for _, master := range []string{"keepalived", "lvsctl"} {
		t.Run(master+"-master", func(t *testing.T) {
			backup := map[string]string{"keepalived": "lvsctl", "lvsctl": "keepalived"}[master]
			n := vrrplab.NewNet(t, false)
			for _, h := range []*lab.Host{n.A, n.B} {
				h.SetSysctl("net.ipv4.conf.eth1.arp_announce", "2")
			}
			a := n.Start(t, master, n.A, n.Fixture(t, "testdata", "vmac-ka67.conf"))
			b := n.Start(t, backup, n.B, n.Fixture(t, "testdata", "vmac-ka68.conf"))
			vrrplab.WaitFor(t, electTimeout, "vrrp.191 on both", func() bool { return vmacLink(t, n.A) != nil && vmacLink(t, n.B) != nil })
			vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "vrrp.191", vip1)
			for _, h := range []*lab.Host{n.A, n.B} {
				assert.Equal(t, vmac191.String(), vmacLink(t, h).Attrs().HardwareAddr.String(), h.Name())
			}
			assert.Equal(t, "ka67", get(t, n, vip1))
			vrrplab.WaitFor(t, 5*time.Second, "client's neighbour entry for the VIP", func() bool { return neighMAC(t, n.Client, "eth1", vip1) != nil })
			assert.Equal(t, vmac191.String(), neighMAC(t, n.Client, "eth1", vip1).String())
			time.Sleep(4 * time.Second)
			assert.False(t, vrrplab.HasAddr(n.B, "vrrp.191", vip1), "the %s backup took the VIP: it does not hear the %s master", backup, master)

			n.Client.AddNeigh("eth1", vip1, vmac191)
			a.Stop(t)
			vrrplab.WaitFor(t, 6*time.Second, "the VIP on ka68", func() bool { return vrrplab.HasAddr(n.B, "vrrp.191", vip1) })
			vrrplab.WaitFor(t, 5*time.Second, "the VIP answers from ka68", func() bool { return get(t, n, vip1) == "ka68" })
			b.Stop(t)
		})
	}
}

// vmac61v6 is the IPv6 virtual MAC of VRID 61 (0x3d).
var vmac61v6 = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x02, 0x3d}

// linkLocals are the IPv6 link-local addresses of ifname on h.
func linkLocals(t *testing.T, h *lab.Host, ifname string) []string {
	t.Helper()
	l, err := h.Handle().LinkByName(ifname)
	require.NoError(t, err)
	addrs, err := h.Handle().AddrList(l, netlink.FAMILY_V6)
	require.NoError(t, err)
	var out []string
	for _, a := range addrs {
		if a.IP.IsLinkLocalUnicast() {
			out = append(out, a.IP.String())
		}
	}
	return out
}

// TestE2EVMACIPv6: use_vmac on an IPv6 instance, lvsctl against lvsctl and
// against keepalived 2.2.7 in both roles. vrrp.61 has 00:00:5e:00:02:3d on
// both routers; the master holds the VIP there; an lvsctl VMAC carries the
// base interface's link-local address, which its adverts come from (the
// backup hears them and stays backup); the client learns the virtual MAC
// for the VIP (by neighbour discovery, and from the lvsctl master's
// unsolicited NA), and after the master stops it reaches the new master
// with that entry pinned.
func TestE2EVMACIPv6(t *testing.T) {
	for _, roles := range [][2]string{{"lvsctl", "lvsctl"}, {"keepalived", "lvsctl"}, {"lvsctl", "keepalived"}} {
		t.Run(roles[0]+"-ka67_"+roles[1]+"-ka68", func(t *testing.T) {
			_, a, b, c, _, _ := newNet6(t)
			for _, h := range []*lab.Host{a, b} {
				h.ServeHTTP("[::]:80")
			}
			na := watchNA(t, c, vip6)
			dir := t.TempDir()
			start := func(kind string, h *lab.Host, conf string) *vrrplab.Daemon {
				return vrrplab.StartKind(t, kind, h, conf, dir)
			}
			da := start(roles[0], a, "testdata/v6vmac-ka67.conf")
			db := start(roles[1], b, "testdata/v6vmac-ka68.conf")
			vmac := func(h *lab.Host) *netlink.Macvlan {
				l, err := h.Handle().LinkByName("vrrp.61")
				if err != nil {
					return nil
				}
				mv, _ := l.(*netlink.Macvlan)
				return mv
			}
			vrrplab.WaitFor(t, electTimeout, "vrrp.61 on both", func() bool { return vmac(a) != nil && vmac(b) != nil })
			vrrplab.WaitOwner(t, electTimeout, a, b, a, "vrrp.61", vip6)
			for _, h := range []*lab.Host{a, b} {
				mv := vmac(h)
				assert.Equal(t, vmac61v6.String(), mv.Attrs().HardwareAddr.String(), h.Name())
				assert.Equal(t, netlink.MACVLAN_MODE_PRIVATE, mv.Mode, h.Name())
			}
			for _, d := range []struct {
				h    *lab.Host
				kind string
			}{{a, roles[0]}, {b, roles[1]}} {
				if d.kind == "lvsctl" {
					assert.Equal(t, linkLocals(t, d.h, "eth1"), linkLocals(t, d.h, "vrrp.61"), "%s: the VMAC has eth1's link-local address (only)", d.h.Name())
				}
			}
			if da.Kind == "lvsctl" {
				_, src, _, _ := na.next(t, 3*time.Second, vmac61v6)
				assert.Equal(t, vip6, src.String(), "unsolicited NA from the VIP, with the virtual MAC")
			}
			ctx := func() context.Context {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				t.Cleanup(cancel)
				return ctx
			}
			got, err := c.Get(ctx(), "http://["+vip6+"]/")
			require.NoError(t, err)
			assert.Equal(t, "ka67", strings.TrimSpace(got))
			assert.Equal(t, vmac61v6.String(), neighMAC(t, c, "eth1", vip6).String(), "the client knows the VIP by the virtual MAC")
			// Stable: the backup hears the master on its VMAC.
			time.Sleep(3 * time.Second)
			vrrplab.WaitOwner(t, 0, a, b, a, "vrrp.61", vip6)

			c.AddNeigh("eth1", vip6, vmac61v6)
			da.Stop(t)
			// Stop returned: ka67's VMAC (and with it the VIP) is gone.
			vrrplab.WaitFor(t, 4*time.Second, "the VIP on ka68", func() bool { return vrrplab.HasAddr(b, "vrrp.61", vip6) })
			vrrplab.WaitFor(t, 5*time.Second, "the VIP answers from ka68", func() bool {
				got, err := c.Get(ctx(), "http://["+vip6+"]/")
				return err == nil && strings.TrimSpace(got) == "ka68"
			})
			assert.Nil(t, vmac(a), "vrrp.61 deleted at stop")
			checkPeerHappy(t, da, db)
			db.Stop(t)
		})
	}
}
