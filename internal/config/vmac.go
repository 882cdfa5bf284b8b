package config

import (
	"fmt"
	"strconv"
	"strings"
)

// VRRP virtual MAC (use_vmac): the keywords as keepalived 2.2.7 reads them
// (vrrp_parser.c vrrp_vmac_handler, vrrp_vmac_xmit_base_handler,
// vrrp_end_handler; vrrp.c vrrp_complete_instance for the default name).

// maxIfName is the longest interface name the kernel takes (IFNAMSIZ-1).
const maxIfName = 15

// useVMAC reads "use_vmac [NAME] [MAC]" (either order: a MAC has a ':',
// a name cannot). The MAC is 6 octets, or 5 and the VRID as the sixth;
// a multicast MAC or an RFC 5798 one (00:00:5e:00:01/02:xx) is refused,
// where keepalived reports the error and uses the default.
func (d *decoder) useVMAC(n *node) *VMAC {
	if !d.shape(n, false, 0, 2) {
		return nil
	}
	v := &VMAC{Pos: n.pos()}
	named := false
	for _, t := range n.args {
		if !strings.Contains(t.text, ":") {
			if named {
				d.diag.errorf(t.pos(), "use_vmac: the VMAC interface name is already given")
				return nil
			}
			if !ifNameValid(t.text) {
				// keepalived ignores the name (dev_name_valid) and uses vrrp.VRID.
				d.diag.errorf(t.pos(), "use_vmac: %q is not a valid interface name (1 to %d characters, no '/', ':' or white space, not . or ..)", t.text, maxIfName)
				return nil
			}
			v.Name, named = t.text, true
			continue
		}
		if v.MAC != nil {
			d.diag.errorf(t.pos(), "use_vmac: the VMAC MAC address is already given")
			return nil
		}
		mac, err := parseVMACAddr(t.text)
		if err != nil {
			d.diag.errorf(t.pos(), "use_vmac %s: %v", t.text, err)
			return nil
		}
		v.MAC = mac
	}
	return v
}

// parseVMACAddr reads a MAC as keepalived 2.2.7's vrrp_vmac_handler does:
// octets of one or two hex digits separated by ':', 6 of them, or 5 (a
// trailing ':' allowed) for the VRID to complete.
func parseVMACAddr(s string) (MAC, error) {
	parts := strings.Split(strings.TrimSuffix(s, ":"), ":")
	if len(parts) == 6 && strings.HasSuffix(s, ":") || len(parts) != 5 && len(parts) != 6 {
		return nil, fmt.Errorf("not a MAC address (6 octets, or 5 and the VRID as the last)")
	}
	mac := make(MAC, 0, 6)
	for _, p := range parts {
		b, err := strconv.ParseUint(p, 16, 8)
		if err != nil || len(p) > 2 {
			return nil, fmt.Errorf("not a MAC address: octet %q", p)
		}
		mac = append(mac, byte(b))
	}
	switch {
	case mac[0]&0x01 != 0:
		return nil, fmt.Errorf("a multicast MAC address cannot be a VMAC's")
	case mac[0] == 0 && mac[1] == 0 && mac[2] == 0x5e && mac[3] == 0 && (mac[4] == 1 || mac[4] == 2):
		return nil, fmt.Errorf("an RFC 5798 virtual router MAC cannot be configured (leave it out to get it)")
	}
	return mac, nil
}

// ifNameValid is the kernel's dev_valid_name.
func ifNameValid(s string) bool {
	if s == "" || len(s) > maxIfName || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsAny(s, "/: \t\n\v\f\r")
}

// validateVMACs checks the use_vmac of every instance: one name per
// instance, and the unicast rule keepalived applies.
func validateVMACs(cfg *Config, diag *diagnostics) {
	names := map[string]*VRRPInstance{}
	for i := range cfg.VRRPInstances {
		in := &cfg.VRRPInstances[i]
		v := in.UseVMAC
		if v == nil {
			continue
		}
		if v.Name == in.Interface {
			diag.errorf(v.Pos, "vrrp_instance %s: the VMAC interface cannot be the instance's interface %s", in.Name, in.Interface)
		}
		if first, dup := names[v.Name]; dup {
			// keepalived ignores a configured duplicate and picks
			// vrrpN.VRID for a default one; lvsctl asks for a name.
			diag.errorf(v.Pos, "vrrp_instance %s: VMAC interface %s is already used by vrrp_instance %s (%s); give use_vmac a name", in.Name, v.Name, first.Name, first.Pos)
		} else {
			names[v.Name] = in
		}
		if len(in.UnicastPeers) > 0 {
			diag.warnf(v.Pos, "vrrp_instance %s: unicast with use_vmac requires vmac_xmit_base: adverts leave by %s (as keepalived does)", in.Name, in.Interface)
		}
	}
}
