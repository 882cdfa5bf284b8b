//go:build e2e

package realserver_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/realserver"
)

// arpKeys are the sysctls start may touch in these tests.
var arpKeys = []string{
	"net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.all.arp_announce",
	"net.ipv4.conf.lo.arp_ignore", "net.ipv4.conf.lo.arp_announce",
	"net.ipv4.conf.eth0.arp_ignore", "net.ipv4.conf.eth0.arp_announce",
	"net.ipv4.conf.default.arp_ignore", "net.ipv4.conf.default.arp_announce",
}

func sysctls(h *lab.Host) map[string]string {
	out := map[string]string{}
	for _, k := range arpKeys {
		out[k] = h.Sysctl(k)
	}
	return out
}

// loAddrs maps each address on lo to its label.
func loAddrs(t *testing.T, h *lab.Host) map[string]string {
	t.Helper()
	lo, err := h.Handle().LinkByName("lo")
	require.NoError(t, err)
	list, err := h.Handle().AddrList(lo, netlink.FAMILY_ALL)
	require.NoError(t, err)
	out := map[string]string{}
	for _, a := range list {
		out[a.IPNet.String()] = a.Label
		if a.IP.To4() == nil {
			assert.Zero(t, a.Flags&unix.IFA_F_TENTATIVE, "%s must be usable at once (no DAD)", a.IPNet)
		}
	}
	return out
}

// TestStartStopInNamespace runs the package inside a fresh namespace whose
// ARP sysctls are not the defaults: stop must put back exactly those values.
func TestStartStopInNamespace(t *testing.T) {
	ctx := context.Background()
	l := lab.New(t)
	rs := l.Host("rs")
	l.Switch("lan").Attach(rs, "eth0", "10.16.8.8/24")
	rs.SetSysctl("net.ipv4.conf.all.arp_ignore", "3")
	rs.SetSysctl("net.ipv4.conf.all.arp_announce", "1")
	rs.SetSysctl("net.ipv4.conf.lo.arp_ignore", "2") // already fine: kept
	rs.SetSysctl("net.ipv4.conf.eth0.arp_ignore", "8")
	rs.SetSysctl("net.ipv4.conf.eth0.arp_announce", "1")
	rs.SetSysctl("net.ipv4.conf.default.arp_ignore", "4")
	rs.AddAddr("lo", "10.16.8.99/32") // someone else's VIP
	origSys, origLo := sysctls(rs), loAddrs(t, rs)

	m := realserver.New(realserver.NewProcSysctls(), realserver.NewNetlinkAddrs(rs.Handle()), t.TempDir(), nil)
	opts := realserver.StartOptions{
		VIPs:   []netip.Addr{netip.MustParseAddr("10.16.8.99"), netip.MustParseAddr("10.16.8.100"), netip.MustParseAddr("2001:db8::100")},
		Ifaces: []string{"eth0"},
	}
	var rep *realserver.StartReport
	require.NoError(t, rs.Do(func() (err error) { rep, err = m.Start(ctx, opts); return err }))
	assert.True(t, rep.Changed())
	assert.Len(t, rep.Set, 5)
	assert.Equal(t, "10.16.8.99/32", rep.Foreign[0].String())

	assert.Equal(t, map[string]string{
		"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": "2",
		"net.ipv4.conf.lo.arp_ignore": "2", "net.ipv4.conf.lo.arp_announce": "2",
		"net.ipv4.conf.eth0.arp_ignore": "1", "net.ipv4.conf.eth0.arp_announce": "2",
		"net.ipv4.conf.default.arp_ignore": "4", "net.ipv4.conf.default.arp_announce": "0",
	}, sysctls(rs))
	lo := loAddrs(t, rs)
	assert.Equal(t, "lo:lvsctl", lo["10.16.8.100/32"])
	assert.Equal(t, "lo", lo["10.16.8.99/32"], "the foreign VIP keeps its label")
	assert.Contains(t, lo, "2001:db8::100/128")

	var st *realserver.Status
	require.NoError(t, rs.Do(func() (err error) { st, err = m.Status(ctx, realserver.StatusOptions{}); return err }))
	assert.True(t, st.Ready(), "%+v", st)

	// A second start is a no-op.
	before := sysctls(rs)
	require.NoError(t, rs.Do(func() (err error) { rep, err = m.Start(ctx, opts); return err }))
	assert.False(t, rep.Changed())
	assert.Equal(t, before, sysctls(rs))
	assert.Equal(t, lo, loAddrs(t, rs))

	var stop *realserver.StopReport
	require.NoError(t, rs.Do(func() (err error) { stop, err = m.Stop(ctx, realserver.StopOptions{}); return err }))
	assert.Len(t, stop.Removed, 2)
	assert.Len(t, stop.Restored, 5)
	assert.Equal(t, origSys, sysctls(rs), "stop restores the original values exactly")
	assert.Equal(t, origLo, loAddrs(t, rs))
}

// TestStartFailureRollsBackInNamespace makes the kernel refuse a VIP half
// way (IPv6 disabled on lo) and checks the earlier steps were undone.
func TestStartFailureRollsBackInNamespace(t *testing.T) {
	ctx := context.Background()
	rs := lab.New(t).Host("rs")
	rs.SetSysctl("net.ipv6.conf.lo.disable_ipv6", "1")
	orig, origLo := sysctls2(rs), loAddrs(t, rs)
	dir := t.TempDir()
	m := realserver.New(realserver.NewProcSysctls(), realserver.NewNetlinkAddrs(rs.Handle()), dir, nil)
	err := rs.Do(func() error {
		_, err := m.Start(ctx, realserver.StartOptions{VIPs: []netip.Addr{
			netip.MustParseAddr("10.16.8.100"), netip.MustParseAddr("2001:db8::100"),
		}})
		return err
	})
	require.ErrorContains(t, err, "add 2001:db8::100/128 to lo")
	require.ErrorContains(t, err, "rolled back: nothing changed")
	assert.Equal(t, orig, sysctls2(rs))
	assert.Equal(t, origLo, loAddrs(t, rs))
	assert.NoFileExists(t, m.StatePath())
}

func sysctls2(h *lab.Host) map[string]string {
	out := map[string]string{}
	for _, k := range arpKeys[:4] {
		out[k] = h.Sysctl(k)
	}
	return out
}
