//go:build vm

package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/ipvs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/e2e/vm/guest"
	"github.com/lvsctl/lvsctl/realserver"
)

// The seed's cluster (see /work/shared/seed): two real servers behind one
// director, one VIP.
const (
	vip          = "10.16.8.100"
	directorAddr = "10.16.8.10"
	rs1Addr      = "10.16.8.8"
	rs2Addr      = "10.16.8.9"
	clientAddr   = "10.16.8.20"
	requests     = 100
	// bodySize makes responses much larger than requests, so the byte
	// counters of the switch ports show which host sent the responses.
	bodySize = 32 << 10
	// svcFlagHashed is set by the kernel on every service it returns.
	svcFlagHashed = 0x2
)

// drCluster is the lab network of an LVS-DR test.
type drCluster struct {
	client, director, rs1, rs2                 *lab.Host
	clientLink, directorLink, rs1Link, rs2Link *lab.Link
	ipvs                                       *ipvs.Handle
}

func newDRCluster(t *testing.T) *drCluster {
	t.Helper()
	guest.RequireIPVS(t)
	l := lab.New(t)
	sw := l.Switch("lan")
	c := &drCluster{
		client: l.Host("client"), director: l.Host("director"),
		rs1: l.Host("rs1"), rs2: l.Host("rs2"),
	}
	c.clientLink = sw.Attach(c.client, "eth0", clientAddr+"/24")
	c.directorLink = sw.Attach(c.director, "eth0", directorAddr+"/24", vip+"/32")
	c.rs1Link = sw.Attach(c.rs1, "eth0", rs1Addr+"/24")
	c.rs2Link = sw.Attach(c.rs2, "eth0", rs2Addr+"/24")
	for _, rs := range []*lab.Host{c.rs1, c.rs2} {
		// `lvsctl rs start --vip VIP`: the VIP on lo, arp_ignore=1 and
		// arp_announce=2, so the real server accepts VIP packets but never
		// answers ARP for the VIP.
		m := realserver.New(realserver.NewProcSysctls(), realserver.NewNetlinkAddrs(rs.Handle()), t.TempDir(), nil)
		err := rs.Do(func() error {
			_, err := m.Start(context.Background(), realserver.StartOptions{VIPs: []netip.Addr{netip.MustParseAddr(vip)}})
			return err
		})
		require.NoError(t, err, "real server setup on %s", rs.Name())
		serveName(t, rs, bodySize)
	}
	h, err := ipvs.New(c.director.NSPath())
	require.NoError(t, err, "IPVS handle in the director's namespace")
	t.Cleanup(h.Close)
	c.ipvs = h
	return c
}

// serveName starts a web server on port 80 of h whose responses are the
// host's name on the first line, padded to size bytes.
func serveName(t *testing.T, h *lab.Host, size int) {
	t.Helper()
	ln, err := h.Listen("tcp", "0.0.0.0:80")
	require.NoError(t, err)
	body := h.Name() + "\n" + strings.Repeat(".", size-len(h.Name())-2) + "\n"
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, body)
		}),
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("web server on %s: %v", h.Name(), err)
		}
	}()
	t.Cleanup(func() { _ = srv.Close() })
}

// fetch sends n requests to the VIP from the client, each on a new
// connection, and counts which real server answered. It returns the total
// response body bytes.
func (c *drCluster) fetch(ctx context.Context, t *testing.T, n int) (map[string]int, int) {
	t.Helper()
	// Generous: under TCG on a busy host one request can take seconds.
	hc := c.client.HTTPClient(30 * time.Second)
	split := map[string]int{}
	total := 0
	for i := range n {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+vip+"/", nil)
		require.NoError(t, err)
		resp, err := hc.Do(req)
		require.NoError(t, err, "request %d of %d to the VIP", i+1, n)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err, "request %d: body", i+1)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		name, _, _ := strings.Cut(string(body), "\n")
		split[name]++
		total += len(body)
	}
	return split, total
}

func dest(addr string, weight int) *ipvs.Destination {
	return &ipvs.Destination{
		Address:         net.ParseIP(addr),
		Port:            80,
		Weight:          weight,
		ConnectionFlags: ipvs.ConnFwdDirectRoute,
		AddressFamily:   syscall.AF_INET,
	}
}

// destinations reads the real servers of svc back from the kernel, by
// address.
func (c *drCluster) destinations(svc *ipvs.Service) (map[string]*ipvs.Destination, error) {
	ds, err := c.ipvs.GetDestinations(svc)
	if err != nil {
		return nil, fmt.Errorf("read real servers: %w", err)
	}
	byAddr := map[string]*ipvs.Destination{}
	for _, d := range ds {
		byAddr[d.Address.String()] = d
	}
	return byAddr, nil
}

func TestIPVSDirectRouting(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := newDRCluster(t)

	svc := &ipvs.Service{
		Address:       net.ParseIP(vip),
		Protocol:      syscall.IPPROTO_TCP,
		Port:          80,
		SchedName:     ipvs.RoundRobin,
		Netmask:       0xffffffff,
		AddressFamily: syscall.AF_INET,
	}
	require.NoError(t, c.ipvs.NewService(svc))
	require.NoError(t, c.ipvs.NewDestination(svc, dest(rs1Addr, 1)))
	require.NoError(t, c.ipvs.NewDestination(svc, dest(rs2Addr, 1)))

	t.Run("rr splits new connections evenly", func(t *testing.T) {
		clientBefore, dirBefore := c.clientLink.SwitchPortStats(), c.directorLink.SwitchPortStats()
		rs1Before, rs2Before := c.rs1Link.SwitchPortStats(), c.rs2Link.SwitchPortStats()

		split, respBytes := c.fetch(ctx, t, requests)
		require.Equal(t, map[string]int{"rs1": requests / 2, "rs2": requests / 2}, split)

		// Requests go client -> director -> real server: the client
		// resolved the VIP to the director's MAC (the real servers keep
		// quiet about it).
		requireNeighbour(t, c.client, vip, c.director.HWAddr("eth0"))

		// Responses go real server -> client directly. The switch port
		// counters are the switch's view: Rx is what a host sent.
		dirSent := c.directorLink.SwitchPortStats().RxBytes - dirBefore.RxBytes
		rsSent := c.rs1Link.SwitchPortStats().RxBytes - rs1Before.RxBytes +
			c.rs2Link.SwitchPortStats().RxBytes - rs2Before.RxBytes
		clientGot := c.clientLink.SwitchPortStats().TxBytes - clientBefore.TxBytes
		t.Logf("response bodies %d B; sent by the real servers %d B, by the director %d B; received by the client %d B",
			respBytes, rsSent, dirSent, clientGot)
		assert.GreaterOrEqual(t, rsSent, uint64(respBytes), "the real servers must have sent the responses")
		assert.GreaterOrEqual(t, clientGot, uint64(respBytes), "the client must have received the responses")
		// The director forwards only the client's packets (SYN, request,
		// ACKs, FIN), a few percent of the response bytes.
		assert.Less(t, dirSent, uint64(respBytes/10), "the responses must not pass through the director")

		// What `ipvsadm -Ln --stats` would show.
		svcs, err := c.ipvs.GetServices()
		require.NoError(t, err)
		require.Len(t, svcs, 1)
		got := svcs[0]
		assert.Equal(t, vip, got.Address.String())
		assert.EqualValues(t, syscall.IPPROTO_TCP, got.Protocol)
		assert.EqualValues(t, 80, got.Port)
		assert.Equal(t, ipvs.RoundRobin, got.SchedName)
		assert.Zero(t, got.Flags&^svcFlagHashed, "service flags")
		ds, err := c.destinations(svc)
		require.NoError(t, err)
		require.Len(t, ds, 2)
		for _, addr := range []string{rs1Addr, rs2Addr} {
			d := ds[addr]
			require.NotNil(t, d, "destination %s", addr)
			assert.EqualValues(t, 80, d.Port)
			assert.Equal(t, 1, d.Weight)
			assert.EqualValues(t, ipvs.ConnFwdDirectRoute, d.ConnectionFlags&ipvs.ConnFwdMask, "forwarding method of %s", addr)
			// Closed connections stay in the table until they time out.
			assert.Equal(t, requests/2, d.ActiveConnections+d.InactiveConnections, "connection entries of %s", addr)
		}
		ds = c.waitStats(t, svc, map[string]uint32{rs1Addr: requests / 2, rs2Addr: requests / 2})
		for addr, d := range ds {
			assert.NotZero(t, d.Stats.PacketsIn, "packets in to %s", addr)
			// In DR the director never sees a reply.
			assert.Zero(t, d.Stats.PacketsOut, "packets out from %s through the director", addr)
			assert.Zero(t, d.Stats.BytesOut, "bytes out from %s through the director", addr)
		}
	})

	t.Run("wrr 3:1 splits 75/25", func(t *testing.T) {
		svc.SchedName = ipvs.WeightedRoundRobin
		require.NoError(t, c.ipvs.UpdateService(svc))
		require.NoError(t, c.ipvs.UpdateDestination(svc, dest(rs1Addr, 3)))
		require.NoError(t, c.ipvs.UpdateDestination(svc, dest(rs2Addr, 1)))

		split, _ := c.fetch(ctx, t, requests)
		require.Equal(t, map[string]int{"rs1": requests * 3 / 4, "rs2": requests / 4}, split)

		got, err := c.ipvs.GetService(svc)
		require.NoError(t, err)
		assert.Equal(t, ipvs.WeightedRoundRobin, got.SchedName)
		ds, err := c.destinations(svc)
		require.NoError(t, err)
		assert.Equal(t, 3, ds[rs1Addr].Weight)
		assert.Equal(t, 1, ds[rs2Addr].Weight)
		// Counters add up over both runs: 50+75 and 50+25.
		c.waitStats(t, svc, map[string]uint32{rs1Addr: requests/2 + requests*3/4, rs2Addr: requests/2 + requests/4})
	})
}

// waitStats waits until the connection counters of the real servers of
// svc are as expected and returns the destinations. The kernel folds its
// per-CPU counters into what it reports only every 2 s (the rate
// estimator's tick), so fresh counters lag behind.
func (c *drCluster) waitStats(t *testing.T, svc *ipvs.Service, conns map[string]uint32) map[string]*ipvs.Destination {
	t.Helper()
	var ds map[string]*ipvs.Destination
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		var err error
		ds, err = c.destinations(svc)
		if !assert.NoError(ct, err) {
			return
		}
		got := map[string]uint32{}
		for addr, d := range ds {
			got[addr] = d.Stats.Connections
		}
		assert.Equal(ct, conns, got, "connections scheduled per real server (ipvsadm -Ln --stats)")
	}, 30*time.Second, 250*time.Millisecond)
	return ds
}

// requireNeighbour checks the ARP entry of ip on the host's eth0.
func requireNeighbour(t *testing.T, h *lab.Host, ip string, want net.HardwareAddr) {
	t.Helper()
	link, err := h.Handle().LinkByName("eth0")
	require.NoError(t, err)
	neighs, err := h.Handle().NeighList(link.Attrs().Index, netlink.FAMILY_V4)
	require.NoError(t, err)
	for _, n := range neighs {
		if n.IP.String() == ip {
			require.Equal(t, want.String(), n.HardwareAddr.String(), "%s resolves %s to", h.Name(), ip)
			return
		}
	}
	require.Fail(t, fmt.Sprintf("%s has no neighbour entry for %s", h.Name(), ip))
}
