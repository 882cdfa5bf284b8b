package vrrp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/vrrp/packet"
)

func TestCheckAdvert(t *testing.T) {
	vip := netip.MustParseAddr("10.16.8.100")
	v2pol := rxPolicy{version: 2, advertInt: time.Second, authType: packet.AuthSimple, authData: packet.PaddedPassword("renwole0"), vips: []netip.Addr{vip}}
	v3pol := rxPolicy{version: 3, advertInt: time.Second, vips: []netip.Addr{vip}}
	uni := v2pol
	uni.unicast = true
	good := func() *packet.Packet {
		return &packet.Packet{Version: 2, VRID: 191, Priority: 100, AuthType: packet.AuthSimple, AdvertInt: time.Second,
			AuthData: packet.PaddedPassword("renwole0"), Addresses: []netip.Addr{vip}}
	}
	mc := RecvMeta{Src: ka68, Dst: group, TTL: 255}
	for name, tc := range map[string]struct {
		pol    rxPolicy
		p      func() *packet.Packet
		meta   RecvMeta
		mangle func([]byte) []byte
		drop   DropReason
		warns  []Warning
	}{
		"good":              {pol: v2pol, p: good, meta: mc},
		"ttl 64":            {pol: v2pol, p: good, meta: RecvMeta{Src: ka68, Dst: group, TTL: 64}, drop: DropTTL},
		"ttl unknown":       {pol: v2pol, p: good, meta: RecvMeta{Src: ka68, Dst: group, TTL: -1}, drop: DropTTLUnknown},
		"unicast any ttl":   {pol: uni, p: good, meta: RecvMeta{Src: ka68, Dst: ka67, TTL: 63}},
		"unicast no ttl":    {pol: uni, p: good, meta: RecvMeta{Src: ka68, Dst: ka67, TTL: -1}},
		"unicast to group":  {pol: uni, p: good, meta: mc, drop: DropCastMode},
		"multicast to host": {pol: v2pol, p: good, meta: RecvMeta{Src: ka68, Dst: ka67, TTL: 255}, drop: DropCastMode},
		"wrong password":    {pol: v2pol, p: func() *packet.Packet { p := good(); p.AuthData = packet.PaddedPassword("renwole1"); return p }, meta: mc, drop: DropAuthPass},
		"auth none":         {pol: v2pol, p: func() *packet.Packet { p := good(); p.AuthType = 0; return p }, meta: mc, drop: DropAuthType},
		"auth type 7":       {pol: v2pol, p: func() *packet.Packet { p := good(); p.AuthType = 7; return p }, meta: mc, drop: DropAuthType},
		"v2 interval":       {pol: v2pol, p: func() *packet.Packet { p := good(); p.AdvertInt = 3 * time.Second; return p }, meta: mc, drop: DropInterval},
		"version":           {pol: v3pol, p: good, meta: mc, drop: DropVersion},
		"type 2":            {pol: v2pol, p: good, meta: mc, mangle: func(b []byte) []byte { b[0] = 0x22; return b }, drop: DropType},
		"checksum":          {pol: v2pol, p: good, meta: mc, mangle: func(b []byte) []byte { b[6]++; return b }, drop: DropChecksum},
		"trailing byte":     {pol: v2pol, p: good, meta: mc, mangle: func(b []byte) []byte { return append(b, 0) }, drop: DropLength},
		"short":             {pol: v2pol, p: good, meta: mc, mangle: func(b []byte) []byte { return b[:12] }, drop: DropMalformed},
		"address count":     {pol: v2pol, p: func() *packet.Packet { p := good(); p.Addresses = append(p.Addresses, ka67); return p }, meta: mc, warns: []Warning{WarnAddrCount}},
		"address list":      {pol: v2pol, p: func() *packet.Packet { p := good(); p.Addresses = []netip.Addr{ka67}; return p }, meta: mc, warns: []Warning{WarnAddrList}},
		"v3 good": {pol: v3pol, p: func() *packet.Packet {
			return &packet.Packet{Version: 3, VRID: 1, Priority: 100, AdvertInt: time.Second, Addresses: []netip.Addr{vip}}
		}, meta: mc},
		"v3 other interval": {pol: v3pol, p: func() *packet.Packet {
			return &packet.Packet{Version: 3, VRID: 1, Priority: 100, AdvertInt: 50 * time.Millisecond, Addresses: []netip.Addr{vip}}
		}, meta: mc, warns: []Warning{WarnIntervalV3}},
		"v3 v2-style checksum": {pol: v3pol, p: func() *packet.Packet {
			return &packet.Packet{Version: 3, VRID: 1, Priority: 100, AdvertInt: time.Second, Addresses: []netip.Addr{vip}}
		}, meta: mc,
			mangle: func(b []byte) []byte {
				c := packet.Checksum(b, netip.Addr{}, netip.Addr{})
				b[6], b[7] = byte(c>>8), byte(c)
				return b
			}, warns: []Warning{WarnChecksumAsV2}},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := tc.p().Marshal(tc.meta.Src, tc.meta.Dst)
			require.NoError(t, err)
			if tc.mangle != nil {
				b = tc.mangle(b)
			}
			p, drop, warns, err := checkAdvert(&tc.pol, b, tc.meta)
			assert.Equal(t, tc.drop, drop, "err: %v", err)
			assert.Equal(t, tc.warns, warns)
			if tc.drop == "" {
				require.NotNil(t, p)
				require.NoError(t, err)
			} else {
				assert.Nil(t, p)
				assert.Error(t, err)
			}
		})
	}
}
