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
	d := director.Destination{Addr: netip.MustParseAddr("10.16.8.8"), Port: 80, Weight: 3, Forward: director.DirectRoute,
		UpperThreshold: 100, LowerThreshold: 10}
	m := toDest(d)
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

// The lookup form of a service is cached for the next call on the same
// service only.
func TestKeyServiceCache(t *testing.T) {
	var c Client
	a := director.ServiceKey{Family: director.IPv4, Protocol: director.TCP, Addr: netip.MustParseAddr("10.16.8.100"), Port: 80}
	b := a
	b.Port = 443
	sa := c.keyService(a)
	assert.Same(t, sa, c.keyService(a))
	sb := c.keyService(b)
	assert.Equal(t, uint16(443), sb.Port)
	assert.Equal(t, uint16(80), c.keyService(a).Port)
}

// lvsctl's own work for one add-destination call, besides moby/ipvs and
// the kernel: before, the error label was built for every call and the
// service converted every time; now the label is built on error only and
// the service's lookup form is reused.
func BenchmarkCallOverhead(b *testing.B) {
	svc := director.ServiceKey{Family: director.IPv4, Protocol: director.TCP, Addr: netip.MustParseAddr("10.16.8.100"), Port: 80}
	d := director.Destination{Addr: netip.MustParseAddr("10.16.8.8"), Port: 80, Weight: 1, Forward: director.DirectRoute}
	var sinkS *moby.Service
	var sinkD *moby.Destination
	var sinkL string
	b.Run("before", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkL = "add destination " + d.Key().String() + " to " + svc.String()
			sinkS, sinkD = lookupService(svc), toDest(d)
		}
	})
	b.Run("after", func(b *testing.B) {
		var c Client
		b.ReportAllocs()
		for b.Loop() {
			sinkS, sinkD = c.keyService(svc), toDest(d)
		}
	})
	_, _, _ = sinkS, sinkD, sinkL
}
