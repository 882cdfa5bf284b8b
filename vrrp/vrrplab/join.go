//go:build e2e || bench

package vrrplab

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"

	"github.com/lvsctl/lvsctl/e2e/lab"
)

func joinGroup(h *lab.Host, c *net.IPConn, ifname, group string) error {
	link, err := h.Handle().LinkByName(ifname)
	if err != nil {
		return err
	}
	g := netip.MustParseAddr(group)
	return ipv4.NewPacketConn(c).JoinGroup(&net.Interface{Index: link.Attrs().Index}, &net.IPAddr{IP: g.AsSlice()})
}
