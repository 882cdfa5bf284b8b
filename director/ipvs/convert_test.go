package ipvs

import (
	"net"
	"net/netip"
	"testing"

	moby "github.com/moby/ipvs"
	"github.com/stretchr/testify/assert"

	"github.com/lvsctl/lvsctl/director"
)

func TestServiceConversion(t *testing.T) {
	for _, s := range []director.Service{
		{Key: director.ServiceKey{Family: director.IPv4, Protocol: director.TCP, Addr: netip.MustParseAddr("10.16.8.100"), Port: 80},
			Scheduler: "rr", Netmask: 0xffffffff},
		{Key: director.ServiceKey{Family: director.IPv6, Protocol: director.UDP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 53},
			Scheduler: "sh", Flags: director.FlagPersistent | director.FlagSched1, Timeout: 300, Netmask: 64},
		{Key: director.ServiceKey{Family: director.IPv4, FWMark: 7}, Scheduler: "mh", Netmask: director.IPv4Netmask(24)},
	} {
		m := toService(s)
		if s.Key.FWMark != 0 {
			assert.Nil(t, m.Address, "fwmark services carry no address")
		}
		// The kernel reports HASHED; it must not survive the comparison.
		m.Flags |= director.FlagHashed
		back := fromService(m)
		assert.True(t, director.ServiceEqual(s, back), "%+v != %+v", s, back)
	}
}

func TestDestConversion(t *testing.T) {
	svc := director.ServiceKey{Family: director.IPv4, Protocol: director.TCP, Addr: netip.MustParseAddr("10.16.8.100"), Port: 80}
	d := director.Destination{Addr: netip.MustParseAddr("10.16.8.8"), Port: 80, Weight: 3, Forward: director.DirectRoute,
		UpperThreshold: 100, LowerThreshold: 10}
	m := toDest(svc, d)
	assert.Equal(t, uint32(moby.ConnFwdDirectRoute), m.ConnectionFlags)
	assert.Equal(t, net.IP{10, 16, 8, 8}, m.Address)
	m.ActiveConnections, m.InactiveConnections = 5, 6
	back := fromDest(m)
	assert.True(t, director.DestEqual(d, back))
	assert.Equal(t, uint32(5), back.ActiveConns)
	// Netlink hands IPv4 addresses back as 16-byte slices sometimes.
	assert.Equal(t, d.Addr, addrOf(net.ParseIP("10.16.8.8")))
}

// Counters and the kernel's rate estimates reach director.Stats, field by
// field (a swapped in/out would mislabel every dashboard).
func TestStatsConversion(t *testing.T) {
	in := moby.SvcStats{Connections: 1, PacketsIn: 2, PacketsOut: 3, BytesIn: 4, BytesOut: 5, CPS: 6,
		BPSOut: 7, PPSIn: 8, PPSOut: 9, BPSIn: 10}
	want := director.Stats{Connections: 1, PacketsIn: 2, PacketsOut: 3, BytesIn: 4, BytesOut: 5, CPS: 6,
		BPSOut: 7, PPSIn: 8, PPSOut: 9, BPSIn: 10}
	assert.Equal(t, want, fromService(&moby.Service{Stats: in}).Stats)
	assert.Equal(t, want, fromDest(&moby.Destination{Stats: moby.DstStats(in)}).Stats)
}
