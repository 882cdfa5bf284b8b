//go:build e2e

package vrrp_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/lvsctl/lvsctl/vrrp/vrrplab"
)

// promote_secondaries on a real kernel (lvsctl vrrp run; director up
// builds the same node with the same /proc/sys access): set while the
// instance runs, so the VIP (a secondary address of the
// interface's subnet) survives the removal of the primary address; put
// back to 0 at stop. Without it the same removal takes the VIP with it
// (the property the keyword exists for).
func TestE2EPromoteSecondaries(t *testing.T) {
	n := vrrplab.NewNet(t, false)
	const key = "net.ipv4.conf.eth1.promote_secondaries"
	n.A.SetSysctl(key, "0")
	conf := filepath.Join(n.Dir, "promote.conf")
	require.NoError(t, os.WriteFile(conf, []byte(`vrrp_instance VI_1 {
    interface eth1
    virtual_router_id 51
    priority 255
    advert_int 1
    promote_secondaries
    virtual_ipaddress {
        10.16.8.100/24
    }
}
`), 0o644))
	d := vrrplab.StartLvsctl(t, n.A, conf)
	vrrplab.WaitFor(t, 10*time.Second, "VIP on the master", func() bool { return vrrplab.HasAddr(n.A, "eth1", "10.16.8.100") })
	assert.Equal(t, "1", n.A.Sysctl(key), "set while the instance runs")

	delPrimary(t, n.A)
	assert.True(t, vrrplab.HasAddr(n.A, "eth1", "10.16.8.100"), "the VIP was promoted, not deleted: %v", n.A.Addrs("eth1"))

	d.Stop(t)
	assert.Equal(t, "0", n.A.Sysctl(key), "put back at stop")

	// The same removal without promote_secondaries.
	n.A.AddAddr("eth1", "10.16.8.10/24")
	n.A.AddAddr("eth1", "10.16.8.100/24")
	delPrimary(t, n.A)
	assert.False(t, vrrplab.HasAddr(n.A, "eth1", "10.16.8.100"), "without it the secondary goes with the primary")
}

func delPrimary(t *testing.T, h interface{ Handle() *netlink.Handle }) {
	t.Helper()
	l, err := h.Handle().LinkByName("eth1")
	require.NoError(t, err)
	require.NoError(t, h.Handle().AddrDel(l, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(10, 16, 8, 10), Mask: net.CIDRMask(24, 32)}}))
}
