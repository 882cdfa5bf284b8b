package vrrp

import (
	"crypto/subtle"
	"fmt"
	"net/netip"
	"time"

	"github.com/lvsctl/lvsctl/vrrp/packet"
)

// DropReason says why a received packet was not given to the state machine.
type DropReason string

// Drop reasons, named after keepalived's receive checks.
const (
	DropMalformed DropReason = "malformed"
	DropLength    DropReason = "length"
	DropTTL       DropReason = "ttl"
	// DropTTLUnknown: a multicast advert arrived without the TTL control
	// message the socket always asks for, so the TTL check cannot be made.
	DropTTLUnknown  DropReason = "ttl_unknown"
	DropVersion     DropReason = "version"
	DropType        DropReason = "type"
	DropAuthType    DropReason = "auth_type"
	DropAuthPass    DropReason = "auth_pass"
	DropInterval    DropReason = "advert_interval"
	DropChecksum    DropReason = "checksum"
	DropCastMode    DropReason = "multicast_unicast_mismatch"
	DropUnknownVRID DropReason = "unknown_vrid"
	DropOwn         DropReason = "own_advert"
)

// Warning is a property of an accepted packet that is logged and counted,
// as keepalived does, without dropping the packet.
type Warning string

// Warnings.
const (
	WarnAddrCount    Warning = "address_count_mismatch"
	WarnAddrList     Warning = "address_list_mismatch"
	WarnIntervalV3   Warning = "advert_interval_mismatch"
	WarnChecksumAsV2 Warning = "v3_checksum_without_pseudo_header"
)

// RecvMeta is what the socket tells about a received packet.
type RecvMeta struct {
	Src, Dst netip.Addr
	// TTL is the IP TTL, -1 when unknown.
	TTL     int
	IfIndex int
}

// rxPolicy is what one instance expects of its peers' adverts.
type rxPolicy struct {
	version   uint8
	ipv6      bool
	advertInt time.Duration
	authType  uint8
	authData  [8]byte
	unicast   bool
	vips      []netip.Addr
}

// checkAdvert applies keepalived's receive checks, in keepalived's order,
// to the VRRP payload b of one packet. A non-empty DropReason means the
// packet must not reach the state machine; warnings are informational.
func checkAdvert(pol *rxPolicy, b []byte, meta RecvMeta) (*packet.Packet, DropReason, []Warning, error) {
	p, err := packet.Parse(b, pol.ipv6)
	if err != nil {
		return nil, DropMalformed, nil, err
	}
	if len(b) != p.Len {
		return nil, DropLength, nil, fmt.Errorf("length %d, %d addresses need %d", len(b), len(p.Addresses), p.Len)
	}
	// The raw socket always asks for the TTL (IPv6: the hop limit), so its
	// absence on a multicast advert means the hop-limit guarantee (RFC 3768
	// 7.1, RFC 5798 5.1.1.3/5.1.2.3) cannot be checked: fail closed.
	// Unicast peers may be routed; keepalived ignores their TTL.
	if !pol.unicast && meta.TTL == -1 {
		return nil, DropTTLUnknown, nil, fmt.Errorf("no TTL control message, expected TTL 255")
	}
	if !pol.unicast && meta.TTL != 255 {
		return nil, DropTTL, nil, fmt.Errorf("TTL %d, expected 255", meta.TTL)
	}
	if p.Version != pol.version {
		return nil, DropVersion, nil, fmt.Errorf("version %d, expected %d", p.Version, pol.version)
	}
	var warns []Warning
	if p.Version == 2 {
		if p.AuthType != packet.AuthNone && p.AuthType != packet.AuthSimple && p.AuthType != packet.AuthAH {
			return nil, DropAuthType, nil, fmt.Errorf("invalid auth type %d", p.AuthType)
		}
		if p.AuthType != pol.authType {
			return nil, DropAuthType, nil, fmt.Errorf("auth type %d, expected %d", p.AuthType, pol.authType)
		}
		if pol.authType == packet.AuthSimple && subtle.ConstantTimeCompare(p.AuthData[:], pol.authData[:]) != 1 {
			return nil, DropAuthPass, nil, fmt.Errorf("wrong password")
		}
		if p.AdvertInt != pol.advertInt {
			// Two masters with different intervals must not coexist in one VRID.
			return nil, DropInterval, nil, fmt.Errorf("advert interval %v, ours %v", p.AdvertInt, pol.advertInt)
		}
	}
	if p.Type != packet.TypeAdvertisement {
		return nil, DropType, nil, fmt.Errorf("packet type %d", p.Type)
	}
	if p.Version == 3 && p.AdvertInt != pol.advertInt {
		warns = append(warns, WarnIntervalV3)
	}
	switch packet.VerifyChecksum(b, meta.Src, meta.Dst) {
	case packet.ChecksumBad:
		return nil, DropChecksum, nil, fmt.Errorf("bad checksum 0x%04x", p.Checksum)
	case packet.ChecksumPlain:
		if p.Version == 3 {
			warns = append(warns, WarnChecksumAsV2)
		}
	}
	if meta.Dst.IsValid() && meta.Dst.IsMulticast() == pol.unicast {
		return nil, DropCastMode, nil, fmt.Errorf("destination %s does not fit unicast=%v", meta.Dst, pol.unicast)
	}
	if len(p.Addresses) != len(pol.vips) {
		warns = append(warns, WarnAddrCount)
	} else {
		for _, v := range pol.vips {
			found := false
			for _, a := range p.Addresses {
				if a == v {
					found = true
					break
				}
			}
			if !found {
				warns = append(warns, WarnAddrList)
				break
			}
		}
	}
	return p, "", warns, nil
}
