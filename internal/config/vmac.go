package config

import "strings"

// VRRP virtual MAC (use_vmac): the keywords as keepalived 2.2.7 reads them
// (vrrp_parser.c vrrp_vmac_handler, vrrp_vmac_xmit_base_handler,
// vrrp_end_handler; vrrp.c vrrp_complete_instance for the default name).

// maxIfName is the longest interface name the kernel takes (IFNAMSIZ-1).
const maxIfName = 15

// useVMAC reads "use_vmac [NAME]". keepalived also takes a MAC address
// (an argument with a ':'); lvsctl refuses it rather than use another MAC.
func (d *decoder) useVMAC(n *node) *VMAC {
	if !d.shape(n, false, 0, 1) {
		return nil
	}
	v := &VMAC{Pos: n.pos()}
	if len(n.args) == 0 {
		return v
	}
	t := n.args[0]
	switch {
	case strings.Contains(t.text, ":"):
		d.diag.errorf(t.pos(), "use_vmac %s: a configured VMAC MAC address is not supported by lvsctl (the virtual MAC is 00:00:5e:00:01:VRID)", t.text)
		return nil
	case !ifNameValid(t.text):
		// keepalived ignores the name (dev_name_valid) and uses vrrp.VRID.
		d.diag.errorf(t.pos(), "use_vmac: %q is not a valid interface name (1 to %d characters, no '/', ':' or white space, not . or ..)", t.text, maxIfName)
		return nil
	}
	v.Name = t.text
	return v
}

// ifNameValid is the kernel's dev_valid_name.
func ifNameValid(s string) bool {
	if s == "" || len(s) > maxIfName || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsAny(s, "/: \t\n\v\f\r")
}

// validateVMACs checks the use_vmac of every instance: one name per
// instance, an IPv4 instance (IPv6 VMACs are not implemented yet), and
// the unicast rule keepalived applies.
func validateVMACs(cfg *Config, diag *diagnostics) {
	names := map[string]*VRRPInstance{}
	for i := range cfg.VRRPInstances {
		in := &cfg.VRRPInstances[i]
		v := in.UseVMAC
		if v == nil {
			continue
		}
		if in.IPv6() {
			diag.errorf(v.Pos, "vrrp_instance %s: use_vmac on an IPv6 instance is not supported by lvsctl yet (IPv4 only)", in.Name)
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
