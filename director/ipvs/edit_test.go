package ipvs

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink/nl"

	"github.com/lvsctl/lvsctl/director"
)

// attrs parses one level of netlink attributes into type -> value.
func attrs(t *testing.T, b []byte) map[uint16][]byte {
	t.Helper()
	list, err := nl.ParseRouteAttr(b)
	require.NoError(t, err)
	out := map[uint16][]byte{}
	for _, a := range list {
		out[a.Attr.Type] = a.Value
	}
	return out
}

func u32(b []byte) uint32 { return binary.NativeEndian.Uint32(b) }
func u16(b []byte) uint16 { return binary.NativeEndian.Uint16(b) }

// The edit path must send the kernel what moby/ipvs sends: the same
// attributes, in the kernel's byte orders.
func TestEncodeServiceAndDest(t *testing.T) {
	svc := director.Service{Key: director.ServiceKey{Family: director.IPv4, Protocol: director.TCP,
		Addr: netip.MustParseAddr("10.16.8.100"), Port: 80}, Scheduler: "wrr",
		Flags: director.FlagPersistent | director.FlagHashed, Timeout: 300, Netmask: director.IPv4Netmask(24)}
	dst := director.Destination{Addr: netip.MustParseAddr("10.16.8.8"), Port: 80, Weight: 3,
		Forward: director.DirectRoute | 0x100, UpperThreshold: 100, LowerThreshold: 10}
	b := appendDest(appendService(nil, svc), &dst)

	top := attrs(t, b)
	require.Len(t, top, 2)
	s := attrs(t, top[cmdAttrService])
	assert.Equal(t, uint16(director.IPv4), u16(s[svcAttrAF]))
	assert.Equal(t, uint16(director.TCP), u16(s[svcAttrProtocol]))
	assert.Equal(t, []byte{10, 16, 8, 100}, s[svcAttrAddr])
	assert.Equal(t, []byte{0, 80}, s[svcAttrPort], "port in network byte order")
	assert.Equal(t, []byte("wrr\x00"), s[svcAttrSchedName])
	assert.Equal(t, director.FlagPersistent, u32(s[svcAttrFlags][0:4]), "HASHED is never sent")
	assert.Equal(t, uint32(0xffffffff), u32(s[svcAttrFlags][4:8]))
	assert.Equal(t, uint32(300), u32(s[svcAttrTimeout]))
	assert.Equal(t, director.IPv4Netmask(24), u32(s[svcAttrNetmask]))
	assert.NotContains(t, s, uint16(svcAttrFWMark))

	d := attrs(t, top[cmdAttrDest])
	assert.Equal(t, []byte{10, 16, 8, 8}, d[destAttrAddr])
	assert.Equal(t, []byte{0, 80}, d[destAttrPort])
	assert.Equal(t, uint32(director.DirectRoute), u32(d[destAttrFwdMethod]), "only the forwarding bits")
	assert.Equal(t, uint32(3), u32(d[destAttrWeight]))
	assert.Equal(t, uint32(100), u32(d[destAttrUThresh]))
	assert.Equal(t, uint32(10), u32(d[destAttrLThresh]))
}

func TestEncodeFWMarkAndIPv6(t *testing.T) {
	fwm := appendService(nil, keyOnly(director.ServiceKey{Family: director.IPv6, FWMark: 7}))
	s := attrs(t, attrs(t, fwm)[cmdAttrService])
	assert.Equal(t, uint32(7), u32(s[svcAttrFWMark]))
	assert.Equal(t, uint16(director.IPv6), u16(s[svcAttrAF]))
	assert.NotContains(t, s, uint16(svcAttrAddr))
	assert.NotContains(t, s, uint16(svcAttrPort))
	assert.Equal(t, []byte("rr\x00"), s[svcAttrSchedName])
	assert.Equal(t, uint32(128), u32(s[svcAttrNetmask]))

	v6 := netip.MustParseAddr("2001:db8::8")
	b := appendDest(nil, &director.Destination{Addr: v6, Port: 443, Forward: director.Tunnel})
	d := attrs(t, attrs(t, b)[cmdAttrDest])
	want := v6.As16()
	assert.Equal(t, want[:], d[destAttrAddr])
	assert.Equal(t, []byte{1, 187}, d[destAttrPort])
	assert.Equal(t, uint32(director.Tunnel), u32(d[destAttrFwdMethod]))
}

// BenchmarkEncodeDest is the CPU cost of building one add-dest request.
func BenchmarkEncodeDest(b *testing.B) {
	svc := keyOnly(director.ServiceKey{Family: director.IPv4, Protocol: director.TCP,
		Addr: netip.MustParseAddr("10.16.8.100"), Port: 80})
	dst := director.Destination{Addr: netip.MustParseAddr("10.16.8.8"), Port: 80, Weight: 1, Forward: director.DirectRoute}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendDest(appendService(buf[:0], svc), &dst)
	}
}
