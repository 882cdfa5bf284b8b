package realserver

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrBadVIP is wrapped by every error about an address that cannot be a VIP.
var ErrBadVIP = errors.New("invalid VIP")

// ErrNoVIPs is returned when start is asked to bind no VIP at all.
var ErrNoVIPs = errors.New("no VIP given")

// ParseVIP parses one VIP as given on the command line: a plain address
// ("10.16.8.100", "2001:db8::100") or a single-host prefix ("10.16.8.100/32",
// "2001:db8::100/128"). Anything else, and addresses that can never be a
// unicast service address (unspecified, loopback, multicast, link-local,
// broadcast), are refused with an error wrapping ErrBadVIP.
//
// Whether an address such as 10.16.8.0 is a network address depends on the
// subnet it lives in; Start refuses it when it is the network or broadcast
// address of a subnet configured on the host.
func ParseVIP(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}, fmt.Errorf("%w: empty address", ErrBadVIP)
	}
	var addr netip.Addr
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("%w: %q is not an address or prefix", ErrBadVIP, s)
		}
		if p.Bits() != p.Addr().BitLen() {
			return netip.Addr{}, fmt.Errorf("%w: %s is a network, not one address (a VIP is bound as /%d)",
				ErrBadVIP, s, p.Addr().BitLen())
		}
		addr = p.Addr()
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("%w: %q is not an IP address", ErrBadVIP, s)
		}
		addr = a
	}
	if addr.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%w: %s has a zone; a VIP must be a global address", ErrBadVIP, s)
	}
	addr = addr.Unmap()
	if reason := unusable(addr); reason != "" {
		return netip.Addr{}, fmt.Errorf("%w: %s is %s", ErrBadVIP, s, reason)
	}
	return addr, nil
}

// unusable says why addr can never be a service address, or "".
func unusable(addr netip.Addr) string {
	switch {
	case addr.IsUnspecified():
		return "the unspecified address"
	case addr.IsLoopback():
		return "a loopback address"
	case addr.IsMulticast():
		return "a multicast address"
	case addr.IsLinkLocalUnicast():
		return "a link-local address"
	case addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the broadcast address"
	case addr.Is4() && addr.As4()[0] == 0:
		return "in 0.0.0.0/8 (\"this network\")"
	}
	return ""
}

// ParseVIPs parses a list of VIPs with ParseVIP and refuses duplicates (also
// when spelled differently, as 10.16.8.100 and 10.16.8.100/32). Every
// problem is reported, not just the first.
func ParseVIPs(list []string) ([]netip.Addr, error) {
	var errs []error
	seen := map[netip.Addr]string{}
	out := make([]netip.Addr, 0, len(list))
	for _, s := range list {
		a, err := ParseVIP(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if first, dup := seen[a]; dup {
			errs = append(errs, fmt.Errorf("%w: %s given twice (first as %q)", ErrBadVIP, strings.TrimSpace(s), first))
			continue
		}
		seen[a] = strings.TrimSpace(s)
		out = append(out, a)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, ErrNoVIPs
	}
	return out, nil
}

// hostPrefix is the /32 or /128 a VIP is bound as.
func hostPrefix(a netip.Addr) netip.Prefix {
	return netip.PrefixFrom(a, a.BitLen())
}
