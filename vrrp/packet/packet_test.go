package packet

import (
	"encoding/hex"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seedAdvert is what the seed's ka67 sends for Internal_1 (vrid 191, prio
// 100, auth_pass renwole2, VIP 172.16.8.100); tcpdump prints it as
// "VRRPv2, Advertisement, vrid 191, prio 100, authtype simple, intvl 1s, length 20".
// The checksum 0x0f4e was computed independently of this package.
const seedAdvert = "21bf6401010" + "10f4e" + "ac100864" + "72656e776f6c6532"

func TestSeedAdvertGolden(t *testing.T) {
	want, err := hex.DecodeString(seedAdvert)
	require.NoError(t, err)
	p := &Packet{
		Version: 2, VRID: 191, Priority: 100, AuthType: AuthSimple,
		AdvertInt: time.Second,
		Addresses: []netip.Addr{netip.MustParseAddr("172.16.8.100")},
		AuthData:  PaddedPassword("renwole2"),
	}
	got, err := p.Marshal(netip.MustParseAddr("10.16.8.10"), netip.MustParseAddr("224.0.0.111"))
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, "VRRPv2, Advertisement, vrid 191, prio 100, authtype simple, intvl 1s, length 20", p.String())

	d, err := Parse(want, false)
	require.NoError(t, err)
	assert.Equal(t, "VRRPv2, Advertisement, vrid 191, prio 100, authtype simple, intvl 1s, length 20", d.String())
	assert.Equal(t, p.Addresses, d.Addresses)
	assert.Equal(t, PaddedPassword("renwole2"), d.AuthData)
	assert.Equal(t, uint16(0x0f4e), d.Checksum)
	assert.Equal(t, ChecksumPlain, VerifyChecksum(want, netip.MustParseAddr("10.16.8.10"), netip.MustParseAddr("224.0.0.111")))
}

func TestV3IPv4Golden(t *testing.T) {
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("224.0.0.18")
	p := &Packet{Version: 3, VRID: 51, Priority: 100, AdvertInt: time.Second,
		Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}
	got, err := p.Marshal(src, dst)
	require.NoError(t, err)
	// Checksums computed independently: 0xbdd5 with the pseudo-header, 0xa865 without.
	assert.Equal(t, "3133640100 64bdd5c0000201", spaced(got))
	assert.Equal(t, ChecksumPseudo, VerifyChecksum(got, src, dst))

	v2style := append([]byte(nil), got...)
	v2style[6], v2style[7] = 0xa8, 0x65
	assert.Equal(t, ChecksumPlain, VerifyChecksum(v2style, src, dst), "keepalived/FRR accept the v2-style checksum")
	v2style[7] = 0x66
	assert.Equal(t, ChecksumBad, VerifyChecksum(v2style, src, dst))
	// The pseudo-header binds the packet to its addresses.
	assert.Equal(t, ChecksumBad, VerifyChecksum(got, netip.MustParseAddr("10.0.0.2"), dst))
}

// TestV3IPv6Golden: the checksum over the IPv6 pseudo-header (RFC 5798
// 5.2.8 with RFC 8200 8.1: source, destination, 32-bit upper-layer length,
// next header 112), checked against a value computed independently (a
// separate Python implementation of RFC 1071 over the same bytes).
func TestV3IPv6Golden(t *testing.T) {
	src, dst := netip.MustParseAddr("fe80::a8bb:ccff:fedd:ee01"), netip.MustParseAddr("ff02::12")
	p := &Packet{Version: 3, VRID: 61, Priority: 100, AdvertInt: 500 * time.Millisecond,
		Addresses: []netip.Addr{netip.MustParseAddr("fe80::100"), netip.MustParseAddr("2001:db8:8::100")}}
	got, err := p.Marshal(src, dst)
	require.NoError(t, err)
	const want = "313d64020032db82" + "fe800000000000000000000000000100" + "20010db8000800000000000000000100"
	assert.Equal(t, want, hex.EncodeToString(got))
	assert.Equal(t, uint16(0xdb82), p.Checksum)
	assert.Equal(t, ChecksumPseudo, VerifyChecksum(got, src, dst))

	d, err := Parse(got, true)
	require.NoError(t, err)
	assert.Equal(t, p.Addresses, d.Addresses)
	assert.Equal(t, 40, d.Len)
	// The pseudo-header binds the packet to its addresses: another source
	// (a router sending from its global address), or the same bytes read
	// as an IPv4 advert, do not verify.
	assert.Equal(t, ChecksumBad, VerifyChecksum(got, netip.MustParseAddr("2001:db8:8::10"), dst))
	assert.Equal(t, ChecksumBad, VerifyChecksum(got, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("224.0.0.18")))
	// One flipped bit anywhere is caught.
	for i := range got {
		if i == 6 || i == 7 {
			continue
		}
		bad := append([]byte(nil), got...)
		bad[i] ^= 0x01
		assert.Equal(t, ChecksumBad, VerifyChecksum(bad, src, dst), "bit flipped in byte %d", i)
	}
}

func spaced(b []byte) string { h := hex.EncodeToString(b); return h[:10] + " " + h[10:] }

func TestV3IPv6RoundTrip(t *testing.T) {
	src, dst := netip.MustParseAddr("fe80::1"), netip.MustParseAddr("ff02::12")
	p := &Packet{Version: 3, VRID: 7, Priority: 200, AdvertInt: 100 * time.Millisecond,
		Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::100")}}
	b, err := p.Marshal(src, dst)
	require.NoError(t, err)
	assert.Len(t, b, 8+32)
	d, err := Parse(b, true)
	require.NoError(t, err)
	assert.Equal(t, p.Addresses, d.Addresses)
	assert.Equal(t, 100*time.Millisecond, d.AdvertInt)
	assert.Equal(t, ChecksumPseudo, VerifyChecksum(b, src, dst))
	assert.Equal(t, "VRRPv3, Advertisement, vrid 7, prio 200, intvl 10cs, length 40", d.String())
}

func TestParseErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		ipv6 bool
		err  error
	}{
		"empty":         {"", false, ErrShort},
		"short header":  {"21bf640101", false, ErrShort},
		"missing addr":  {"21bf640201010f4eac100864", false, ErrShort},
		"version 1":     {"11bf6401010100000000000000000000000000", false, ErrVersion},
		"v2 over ipv6":  {"21bf6401010100000000000000000000000000", true, ErrFamily},
		"v3 ipv6 short": {"31bf640100640000ac100864", true, ErrShort},
		"version 15":    {"f1bf6401010100000000000000000000000000", false, ErrVersion},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := hex.DecodeString(tc.in)
			require.NoError(t, err)
			_, err = Parse(b, tc.ipv6)
			require.ErrorIs(t, err, tc.err)
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	a := []netip.Addr{netip.MustParseAddr("192.0.2.1")}
	for name, p := range map[string]*Packet{
		"v2 sub-second": {Version: 2, AdvertInt: 500 * time.Millisecond, Addresses: a},
		"v2 zero":       {Version: 2, Addresses: a},
		"v3 too long":   {Version: 3, AdvertInt: 41 * time.Second, Addresses: a},
		"v3 sub-centi":  {Version: 3, AdvertInt: 15 * time.Millisecond, Addresses: a},
		"v2 ipv6":       {Version: 2, AdvertInt: time.Second, Addresses: []netip.Addr{netip.MustParseAddr("::1")}},
		"version 4":     {Version: 4, AdvertInt: time.Second, Addresses: a},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := p.Marshal(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("224.0.0.18"))
			require.Error(t, err)
		})
	}
}

func FuzzDecode(f *testing.F) {
	seed, _ := hex.DecodeString(seedAdvert)
	f.Add(seed, false)
	f.Add([]byte{0x31, 51, 100, 1, 0, 100, 0xbd, 0xd5, 192, 0, 2, 1}, false)
	f.Add([]byte{0x31, 51, 100, 0, 0, 100, 0, 0}, true)
	f.Fuzz(func(t *testing.T, b []byte, ipv6 bool) {
		p, err := Parse(b, ipv6)
		if err != nil {
			return
		}
		if p.Len > len(b) || len(p.Addresses) != int(b[3]) {
			t.Fatalf("inconsistent parse: len %d of %d, %d addresses", p.Len, len(b), len(p.Addresses))
		}
		_ = VerifyChecksum(b[:p.Len], netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("224.0.0.18"))
		_ = p.String()
		// Whatever parses and can be re-encoded must parse back to the same fields.
		src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("224.0.0.18")
		if ipv6 {
			src, dst = netip.MustParseAddr("fe80::1"), netip.MustParseAddr("ff02::12")
		}
		out, err := p.Marshal(src, dst)
		if err != nil {
			return
		}
		q, err := Parse(out, ipv6 && len(p.Addresses) > 0 || ipv6 && p.Version == 3)
		if err != nil {
			t.Fatalf("re-encoded packet does not parse: %v", err)
		}
		if q.VRID != p.VRID || q.Priority != p.Priority || q.AdvertInt != p.AdvertInt || len(q.Addresses) != len(p.Addresses) {
			t.Fatalf("round trip changed fields: %v vs %v", p, q)
		}
		if VerifyChecksum(out, src, dst) == ChecksumBad {
			t.Fatalf("re-encoded packet has a bad checksum")
		}
	})
}

func BenchmarkMarshalV2(b *testing.B) {
	p := &Packet{Version: 2, VRID: 191, Priority: 100, AuthType: AuthSimple, AdvertInt: time.Second,
		Addresses: []netip.Addr{netip.MustParseAddr("172.16.8.100")}, AuthData: PaddedPassword("renwole2")}
	src, dst := netip.MustParseAddr("10.16.8.10"), netip.MustParseAddr("224.0.0.111")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Marshal(src, dst); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseAndVerify(b *testing.B) {
	raw, _ := hex.DecodeString(seedAdvert)
	src, dst := netip.MustParseAddr("10.16.8.10"), netip.MustParseAddr("224.0.0.111")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(raw, false); err != nil {
			b.Fatal(err)
		}
		if VerifyChecksum(raw, src, dst) == ChecksumBad {
			b.Fatal("bad checksum")
		}
	}
}
