//go:build e2e

package vrrp_test

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"

	"github.com/lvsctl/lvsctl/vrrp/packet"
	"github.com/lvsctl/lvsctl/vrrp/vrrplab"
)

// TestE2EContestedMastershipARP: a lower-priority router whose timer ran
// out with the master's (here a generator) advertises as master and sends
// its gratuitous ARPs after the master's answer, as keepalived does (advert,
// then VIPs, then ARPs). The client then sends to the wrong MAC. The master
// sends one more burst an advert interval after its answer: the client is
// back on the master's MAC within about a second, not after
// garp_lower_prio_delay (5 s, keepalived's only repair). Seen for real in
// TestE2EKeepalivedInterop after a simultaneous start.
func TestE2EContestedMastershipARP(t *testing.T) {
	n := vrrplab.NewNet(t, false)
	gen := n.Lab.Host("gen")
	n.Sw1.Attach(gen, "eth1", "10.16.8.50/24")
	conf := filepath.Join(n.Dir, "a.conf")
	writeConf(t, conf, vrrpInstance("VI_1", 191, 100, vip1))
	vrrplab.StartDirector(t, n.A, conf)
	vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", vip1)
	masterMAC, genMAC := n.A.HWAddr("eth1").String(), gen.HWAddr("eth1").String()
	vrrplab.WaitFor(t, 5*time.Second, "the client reaches the VIP", func() bool { return get(t, n, vip1) == "ka67" })
	require.Equal(t, masterMAC, neighMAC(t, n.Client, "eth1", vip1).String(), "the client's entry is the master's MAC")

	// The other router's advert (priority 50, valid), then its ARPs.
	rc, ifi := genRawConn(t, gen)
	src, grp := netip.MustParseAddr("10.16.8.50"), netip.MustParseAddr("224.0.0.111")
	p := &packet.Packet{Version: 2, VRID: 191, Priority: 50, AdvertInt: time.Second, AuthType: packet.AuthSimple,
		AuthData: packet.PaddedPassword("pw191"), Addresses: []netip.Addr{netip.MustParseAddr(vip1)}}
	b, err := p.Marshal(src, grp)
	require.NoError(t, err)
	h := &ipv4.Header{Version: ipv4.Version, Len: ipv4.HeaderLen, TOS: 0xc0, TotalLen: ipv4.HeaderLen + len(b), TTL: 255,
		Protocol: 112, Src: src.AsSlice(), Dst: grp.AsSlice()}
	require.NoError(t, rc.WriteTo(h, b, nil))
	time.Sleep(50 * time.Millisecond) // the master's answer (advert and ARPs) is out
	var ac *arp.Client
	require.NoError(t, gen.Do(func() error {
		var err error
		ac, err = arp.Dial(ifi)
		return err
	}))
	defer ac.Close()
	for _, op := range []arp.Operation{arp.OperationRequest, arp.OperationReply} {
		pk, err := arp.NewPacket(op, ifi.HardwareAddr, netip.MustParseAddr(vip1), ethernet.Broadcast, netip.MustParseAddr(vip1))
		require.NoError(t, err)
		require.NoError(t, ac.WriteTo(pk, ethernet.Broadcast))
	}
	hijacked := time.Now()
	vrrplab.WaitFor(t, time.Second, "the other router's ARPs reach the client", func() bool {
		return neighMAC(t, n.Client, "eth1", vip1).String() == genMAC
	})
	vrrplab.WaitFor(t, 2500*time.Millisecond, "the client back on the master's MAC", func() bool {
		return neighMAC(t, n.Client, "eth1", vip1).String() == masterMAC
	})
	t.Logf("the client sent to the wrong MAC for %v", time.Since(hijacked).Round(10*time.Millisecond))
}
