// Package packet encodes and decodes VRRP advertisements: version 2
// (RFC 3768, IPv4, with simple-password authentication) and version 3
// (RFC 5798/9568, IPv4 and IPv6, checksum over a pseudo-header).
//
// Parse checks only what is needed to read a packet safely; whether a
// packet is acceptable for a given virtual router is the receiver's policy.
package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// ProtocolNumber is the IP protocol number of VRRP.
const ProtocolNumber = 112

// TypeAdvertisement is the only VRRP packet type.
const TypeAdvertisement = 1

// Authentication types of VRRPv2.
const (
	AuthNone   = 0
	AuthSimple = 1
	AuthAH     = 2
)

const (
	headerLen = 8
	authLen   = 8
	// maxAdvertV3 is the largest Max Adver Int a VRRPv3 packet can carry (12 bits of centiseconds).
	maxAdvertV3 = 4095 * 10 * time.Millisecond
)

// Errors returned by Parse and Marshal; compare with errors.Is.
var (
	ErrShort    = errors.New("packet shorter than its header and address list")
	ErrVersion  = errors.New("unsupported VRRP version")
	ErrFamily   = errors.New("address family does not fit the VRRP version")
	ErrInterval = errors.New("advertisement interval not representable")
	ErrTooMany  = errors.New("too many addresses")
)

// Packet is one VRRP advertisement.
type Packet struct {
	Version  uint8 // 2 or 3
	Type     uint8
	VRID     uint8
	Priority uint8
	// AuthType is the VRRPv2 authentication type (0 for VRRPv3).
	AuthType uint8
	// AdvertInt is the advertisement interval: whole seconds for VRRPv2,
	// centiseconds for VRRPv3 (Max Adver Int).
	AdvertInt time.Duration
	Addresses []netip.Addr
	// AuthData is the VRRPv2 authentication data (the password, zero padded).
	AuthData [8]byte
	// Checksum is the checksum field as received (Parse) or computed (Marshal).
	Checksum uint16
	// Len is the number of bytes the packet occupies, as derived from its
	// address count.
	Len int
}

// PaddedPassword returns a password as the 8 bytes VRRPv2 carries: longer
// passwords are truncated as keepalived does, shorter ones zero padded.
func PaddedPassword(pass string) [8]byte {
	var b [8]byte
	copy(b[:], pass)
	return b
}

// ExpectedLen is the length of a VRRP packet of the given version carrying
// n addresses of the given family.
func ExpectedLen(version uint8, n int, ipv6 bool) int {
	al := 4
	if ipv6 {
		al = 16
	}
	l := headerLen + n*al
	if version == 2 {
		l += authLen
	}
	return l
}

// Parse decodes a VRRP packet (the IP payload). ipv6 tells the address size
// (VRRPv2 is IPv4 only). Trailing bytes beyond the packet are tolerated
// here; Packet.Len lets the caller apply its own length policy.
func Parse(b []byte, ipv6 bool) (*Packet, error) {
	if len(b) < headerLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrShort, len(b))
	}
	p := &Packet{
		Version:  b[0] >> 4,
		Type:     b[0] & 0x0f,
		VRID:     b[1],
		Priority: b[2],
		Checksum: binary.BigEndian.Uint16(b[6:8]),
	}
	n := int(b[3])
	switch p.Version {
	case 2:
		if ipv6 {
			return nil, fmt.Errorf("%w: VRRPv2 over IPv6", ErrFamily)
		}
		p.AuthType = b[4]
		p.AdvertInt = time.Duration(b[5]) * time.Second
	case 3:
		p.AdvertInt = time.Duration(binary.BigEndian.Uint16(b[4:6])&0x0fff) * 10 * time.Millisecond
	default:
		return nil, fmt.Errorf("%w: %d", ErrVersion, p.Version)
	}
	p.Len = ExpectedLen(p.Version, n, ipv6)
	if len(b) < p.Len {
		return nil, fmt.Errorf("%w: %d bytes, %d addresses need %d", ErrShort, len(b), n, p.Len)
	}
	al := 4
	if ipv6 {
		al = 16
	}
	p.Addresses = make([]netip.Addr, 0, n)
	for i := range n {
		a, _ := netip.AddrFromSlice(b[headerLen+i*al : headerLen+(i+1)*al])
		p.Addresses = append(p.Addresses, a)
	}
	if p.Version == 2 {
		copy(p.AuthData[:], b[headerLen+n*al:])
	}
	return p, nil
}

// Marshal encodes the packet and fills in its checksum. src and dst are the
// IP source and destination used for the VRRPv3 pseudo-header (ignored for
// VRRPv2). Type 0 is encoded as an advertisement.
func (p *Packet) Marshal(src, dst netip.Addr) ([]byte, error) {
	if len(p.Addresses) > 255 {
		return nil, fmt.Errorf("%w: %d", ErrTooMany, len(p.Addresses))
	}
	ipv6 := false
	for _, a := range p.Addresses {
		if a.Is6() && !a.Is4In6() {
			ipv6 = true
		}
	}
	typ := p.Type
	if typ == 0 {
		typ = TypeAdvertisement
	}
	b := make([]byte, ExpectedLen(p.Version, len(p.Addresses), ipv6))
	b[0] = p.Version<<4 | typ&0x0f
	b[1] = p.VRID
	b[2] = p.Priority
	b[3] = byte(len(p.Addresses))
	switch p.Version {
	case 2:
		if ipv6 {
			return nil, fmt.Errorf("%w: VRRPv2 with IPv6 addresses", ErrFamily)
		}
		secs := p.AdvertInt / time.Second
		if p.AdvertInt%time.Second != 0 || secs < 1 || secs > 255 {
			return nil, fmt.Errorf("%w: VRRPv2 needs whole seconds 1..255, got %v", ErrInterval, p.AdvertInt)
		}
		b[4] = p.AuthType
		b[5] = byte(secs)
	case 3:
		cs := p.AdvertInt / (10 * time.Millisecond)
		if p.AdvertInt%(10*time.Millisecond) != 0 || cs < 1 || p.AdvertInt > maxAdvertV3 {
			return nil, fmt.Errorf("%w: VRRPv3 needs centiseconds 1..4095, got %v", ErrInterval, p.AdvertInt)
		}
		binary.BigEndian.PutUint16(b[4:6], uint16(cs))
	default:
		return nil, fmt.Errorf("%w: %d", ErrVersion, p.Version)
	}
	off := headerLen
	for _, a := range p.Addresses {
		if ipv6 {
			s := a.As16()
			off += copy(b[off:], s[:])
		} else {
			s := a.As4()
			off += copy(b[off:], s[:])
		}
	}
	if p.Version == 2 {
		copy(b[off:], p.AuthData[:])
	}
	if p.Version == 3 {
		p.Checksum = Checksum(b, src, dst)
	} else {
		p.Checksum = Checksum(b, netip.Addr{}, netip.Addr{})
	}
	binary.BigEndian.PutUint16(b[6:8], p.Checksum)
	p.Len = len(b)
	p.Type = typ
	return b, nil
}

// Checksum computes the VRRP checksum of b with its checksum field taken as
// zero. With valid src and dst it includes the VRRPv3 pseudo-header (IPv4 or
// IPv6 by the address family); with zero addresses it is the VRRPv2 form.
func Checksum(b []byte, src, dst netip.Addr) uint16 {
	var sum uint32
	if src.IsValid() && dst.IsValid() {
		if src.Is4() {
			s, d := src.As4(), dst.As4()
			sum = add(sum, s[:])
			sum = add(sum, d[:])
			sum += ProtocolNumber
			sum += uint32(len(b))
		} else {
			s, d := src.As16(), dst.As16()
			sum = add(sum, s[:])
			sum = add(sum, d[:])
			sum += uint32(len(b)) >> 16
			sum += uint32(len(b)) & 0xffff
			sum += ProtocolNumber
		}
	}
	if len(b) >= 8 {
		sum = add(sum, b[:6])
		sum = add(sum, b[8:])
	} else {
		sum = add(sum, b)
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func add(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// ChecksumForm tells which checksum computation a received packet matches.
type ChecksumForm int

// Checksum forms of a received packet.
const (
	ChecksumBad    ChecksumForm = iota
	ChecksumPseudo              // VRRPv3 with the pseudo-header (RFC 5798)
	ChecksumPlain               // computed over the VRRP packet only (VRRPv2, and some VRRPv3 peers)
)

// VerifyChecksum checks the checksum of a received packet b (exactly the
// VRRP packet, no trailing bytes). For VRRPv3 both the pseudo-header form
// and the VRRPv2-style form are accepted, as keepalived and FRR do.
func VerifyChecksum(b []byte, src, dst netip.Addr) ChecksumForm {
	if len(b) < headerLen {
		return ChecksumBad
	}
	got := binary.BigEndian.Uint16(b[6:8])
	if b[0]>>4 == 3 && Checksum(b, src, dst) == got {
		return ChecksumPseudo
	}
	if Checksum(b, netip.Addr{}, netip.Addr{}) == got {
		return ChecksumPlain
	}
	return ChecksumBad
}

// String renders the packet the way tcpdump summarises it.
func (p *Packet) String() string {
	auth := ""
	if p.Version == 2 {
		switch p.AuthType {
		case AuthNone:
			auth = ", authtype none"
		case AuthSimple:
			auth = ", authtype simple"
		case AuthAH:
			auth = ", authtype ah"
		default:
			auth = fmt.Sprintf(", authtype %d", p.AuthType)
		}
	}
	typ := "Advertisement"
	if p.Type != TypeAdvertisement {
		typ = fmt.Sprintf("type-#%d", p.Type)
	}
	intvl := fmt.Sprintf("%ds", p.AdvertInt/time.Second)
	if p.Version == 3 {
		intvl = fmt.Sprintf("%dcs", p.AdvertInt/(10*time.Millisecond))
	}
	return fmt.Sprintf("VRRPv%d, %s, vrid %d, prio %d%s, intvl %s, length %d",
		p.Version, typ, p.VRID, p.Priority, auth, intvl, p.Len)
}
