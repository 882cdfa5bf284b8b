//go:build e2e

package vrrp_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/vrrp/vrrplab"
)

// routesConf is one director's file: a VRRP instance whose VIPs are
// 10.16.8.100 (lan1) and 172.16.8.100 (lan2) and whose virtual route sends
// 192.168.77.0/24 to the backend on lan2; a virtual rule; and a static
// address, route and rule.
const routesConf = `static_ipaddress {
    10.99.0.1/24 dev eth2
}
static_routes {
    192.168.79.0/24 dev eth2 table 79
}
static_rules {
    fwmark 79 table 79 preference 1079
}
vrrp_instance VI_R {
    state BACKUP
    interface eth1
    virtual_router_id 77
    priority %d
    advert_int 1
    virtual_ipaddress {
        10.16.8.100/32
        172.16.8.100/32 dev eth2
    }
    virtual_routes {
        192.168.77.0/24 via 172.16.8.3 dev eth2
    }
    virtual_rules {
        from 10.16.8.0/24 to 192.168.78.0/24 table 78 preference 1078
    }
}
`

// hasRoute reports whether h has a route to dst in table, with keepalived's
// protocol (what lvsctl adds).
func hasRoute(t *testing.T, h *lab.Host, dst string, table int) bool {
	t.Helper()
	_, ipnet, err := net.ParseCIDR(dst)
	require.NoError(t, err)
	rs, err := h.Handle().RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: ipnet, Table: table},
		netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
	require.NoError(t, err)
	for _, r := range rs {
		if r.Protocol == 18 {
			return true
		}
	}
	return false
}

// hasRule reports whether h has a rule with preference prio and table.
func hasRule(t *testing.T, h *lab.Host, prio, table int) bool {
	t.Helper()
	rs, err := h.Handle().RuleList(netlink.FAMILY_V4)
	require.NoError(t, err)
	for _, r := range rs {
		if r.Priority == prio && r.Table == table {
			return true
		}
	}
	return false
}

// routesNet adds the backend (192.168.77.1 on lo, 172.16.8.3 on lan2) and
// routes the client sends 192.168.77.0/24 to the VIP; both directors
// forward.
func routesNet(t *testing.T) (*vrrplab.Net, string, string) {
	n := vrrplab.NewNet(t, true)
	backend := n.Lab.Host("backend")
	n.Sw2.Attach(backend, "eth1", "172.16.8.3/24")
	backend.AddAddr("lo", "192.168.77.1/32")
	backend.AddRoute("10.16.8.0/24", "eth1", "172.16.8.100")
	backend.ServeHTTP("192.168.77.1:80")
	n.Client.AddRoute("192.168.77.0/24", "eth1", "10.16.8.100")
	for _, h := range []*lab.Host{n.A, n.B} {
		h.SetSysctl("net.ipv4.ip_forward", "1")
	}
	write := func(name string, prio int) string {
		p := filepath.Join(n.Dir, name)
		require.NoError(t, os.WriteFile(p, fmt.Appendf(nil, routesConf, prio), 0o644))
		return p
	}
	return n, write("ka67-routes.conf", 150), write("ka68-routes.conf", 100)
}

func getBackend(n *vrrplab.Net) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return n.Client.Get(ctx, "http://192.168.77.1/")
}

// The client reaches 192.168.77.1 only through the master's virtual
// route: it follows the master on failover and leaves the old one; the
// static entries are on each director while lvsctl runs and gone after
// it stopped (keepalived's stop_vrrp removes them too).
func TestE2EVirtualRoutes(t *testing.T) {
	for _, s := range vrrplab.Starters() {
		t.Run(s.Name, func(t *testing.T) {
			n, confA, confB := routesNet(t)
			// Nothing runs yet: the backend is out of reach.
			_, err := getBackend(n)
			require.Error(t, err, "the backend must not be reachable without the virtual route")

			a := s.Start(t, n.A, confA)
			b := s.Start(t, n.B, confB)
			vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", "10.16.8.100")
			vrrplab.WaitFor(t, 5*time.Second, "virtual route on ka67", func() bool { return hasRoute(t, n.A, "192.168.77.0/24", 254) })
			assert.True(t, hasRule(t, n.A, 1078, 78), "virtual rule on the master")
			assert.False(t, hasRoute(t, n.B, "192.168.77.0/24", 254), "no virtual route on the backup")
			assert.False(t, hasRule(t, n.B, 1078, 78), "no virtual rule on the backup")
			body, err := getBackend(n)
			require.NoError(t, err, "through ka67's virtual route")
			assert.Equal(t, "backend", body)

			// Static entries on both directors, whatever their state.
			for _, h := range []*lab.Host{n.A, n.B} {
				assert.True(t, hasRoute(t, h, "192.168.79.0/24", 79), "%s: static route", h.Name())
				assert.True(t, hasRule(t, h, 1079, 79), "%s: static rule", h.Name())
				assert.True(t, vrrplab.HasAddr(h, "eth2", "10.99.0.1"), "%s: static address", h.Name())
			}

			// Failover: ka67 stops, ka68 takes the VIPs and the routes.
			a.Stop(t)
			vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.B, "eth1", "10.16.8.100")
			vrrplab.WaitFor(t, 5*time.Second, "virtual route on ka68", func() bool { return hasRoute(t, n.B, "192.168.77.0/24", 254) })
			assert.True(t, hasRule(t, n.B, 1078, 78), "virtual rule moved")
			assert.False(t, hasRoute(t, n.A, "192.168.77.0/24", 254), "virtual route left the old master")
			assert.False(t, hasRule(t, n.A, 1078, 78), "virtual rule left the old master")
			assert.False(t, hasRoute(t, n.A, "192.168.79.0/24", 79), "static route removed at stop")
			assert.False(t, hasRule(t, n.A, 1079, 79), "static rule removed at stop")
			assert.False(t, vrrplab.HasAddr(n.A, "eth2", "10.99.0.1"), "static address removed at stop")
			vrrplab.WaitFor(t, 5*time.Second, "backend through ka68", func() bool {
				body, err := getBackend(n)
				return err == nil && body == "backend"
			})

			b.Stop(t)
			assert.False(t, hasRoute(t, n.B, "192.168.77.0/24", 254))
			assert.False(t, hasRoute(t, n.B, "192.168.79.0/24", 79))
			_, err = getBackend(n)
			require.Error(t, err, "no master, no route")
		})
	}
}
