package config

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// The checker keywords bind_if and fwmark, as keepalived 2.2.7 reads
// them (check/check_api.c: co_srcif_handler, co_fwmark_handler,
// check_conn_opts) and applies them (core/layer4.c: socket_bind_connect
// sets SO_MARK, then SO_BINDTODEVICE, before bind and connect; it serves
// TCP_CHECK, HTTP_GET, SSL_GET, SMTP_CHECK and DNS_CHECK.
// udp_bind_connect, UDP_CHECK's, sets SO_MARK only; PING_CHECK's
// icmp_connect_thread, check/check_ping.c, sets neither). Where
// keepalived never applies one, the keyword table classes it Ignored.

// bindIf reads a checker's bind_if: an interface name. keepalived ignores
// a name longer than IFNAMSIZ-1 ("Interface name ... is too long -
// ignoring") and copies any other string, which SO_BINDTODEVICE then
// refuses at every check.
func (d *decoder) bindIf(n *node, dst *string) {
	t, ok := d.value(n)
	if !ok {
		return
	}
	switch {
	case t.text == "":
		d.diag.errorf(t.pos(), "bind_if: empty interface name: keepalived would bind the check to no interface")
	case len(t.text) > maxIfName:
		d.diag.errorf(t.pos(), "bind_if: %q is longer than %d characters: keepalived would ignore the line (interface name too long)", t.text, maxIfName)
	case !ifNameValid(t.text):
		d.diag.errorf(t.pos(), "bind_if: %q is not a valid interface name (no '/', ':' or white space, not . or ..): keepalived would accept it and every check would fail", t.text)
	default:
		*dst = t.text
	}
}

// checkerMark reads a checker's fwmark: decimal 0..4294967295
// (read_unsigned_strvec, base 10); 0 marks nothing, as in keepalived.
func (d *decoder) checkerMark(n *node, dst *uint32) {
	t, ok := d.value(n)
	if !ok {
		return
	}
	// strtoul takes a leading '+' as keepalived's reader does.
	if v, err := strconv.ParseUint(strings.TrimPrefix(t.text, "+"), 10, 32); err == nil {
		*dst = uint32(v)
		return
	}
	what := "keepalived would ignore the line"
	if v, used := keepalivedUnsigned(t.text); used {
		what = fmt.Sprintf("keepalived would read it as %d", v)
		if v == 0 {
			what += " and mark nothing"
		}
	}
	d.diag.errorf(t.pos(), "fwmark: %q is not a decimal number 0..4294967295: %s", t.text, what)
}

// keepalivedUnsigned is what keepalived 2.2.7's read_unsigned_func
// (lib/parser.c: strtoul in base 10 after leading white space) keeps of
// a value for a 0..UINT_MAX setting when it is not a plain number:
// outside config-test mode it logs a warning and keeps the leading
// digits (0 when there are none, or for "-0"), and ignores the line
// (used false) when the number is negative or too large.
func keepalivedUnsigned(s string) (v uint64, used bool) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg, s = s[0] == '-', s[1:]
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 {
		var err error
		if v, err = strconv.ParseUint(s[:i], 10, 64); err != nil {
			return 0, false
		}
	}
	if (neg && v != 0) || v > math.MaxUint32 {
		return 0, false
	}
	return v, true
}

// isZeroMark reports whether n is "fwmark 0", which keepalived's SMTP_CHECK
// does not count as a connection setting of its own (co->fwmark is 0,
// check_smtp.c smtp_check_end_handler).
func isZeroMark(n *node) bool {
	if n.key.text != "fwmark" || len(n.args) != 1 {
		return false
	}
	v, err := strconv.ParseUint(n.args[0].text, 10, 32)
	return err == nil && v == 0
}

// checkLinkLocal refuses a checker whose connection cannot work with an
// IPv6 link-local address. keepalived drops a checker whose connect
// address is link-local and has no bind_if ("Checker link local address
// ... requires a bind_if", check_conn_opts); the kernel binds a socket to
// a link-local address only when it has an interface (bind fails with
// EINVAL); and UDP_CHECK and PING_CHECK never get an interface.
func (d *decoder) checkLinkLocal(c *Checker, rs *RealServer) {
	if c.Type == CheckMisc || c.Type == CheckFile {
		return
	}
	dst := c.ConnectIP
	if !dst.IsValid() {
		dst = rs.Addr
	}
	if isLinkLocal6(dst) {
		switch {
		case c.Type == CheckUDP || c.Type == CheckPing:
			d.diag.errorf(c.Pos, "%s: connect address %s is link-local: keepalived requires bind_if for it but never applies bind_if to a %s, so every check would fail; use a global address", c.Type, dst, c.Type)
		case c.BindIf == "":
			d.diag.errorf(c.Pos, "%s: connect address %s is link-local: add bind_if IFACE (keepalived would drop this checker: a link-local address requires a bind_if)", c.Type, dst)
		}
	}
	if isLinkLocal6(c.BindTo) {
		switch {
		case c.Type == CheckUDP || c.Type == CheckPing:
			d.diag.errorf(c.Pos, "%s: bindto %s is link-local: the kernel binds a link-local address only on an interface, and a %s has none (keepalived never applies bind_if to it); use a global address", c.Type, c.BindTo, c.Type)
		case c.BindIf == "":
			d.diag.errorf(c.Pos, "%s: bindto %s is link-local: add bind_if IFACE (without it the kernel refuses the bind, and keepalived would fail every check)", c.Type, c.BindTo)
		}
	}
}

func isLinkLocal6(a netip.Addr) bool { return a.Is6() && a.IsLinkLocalUnicast() }

// validateCheckerIfaces warns once per interface that a checker's
// bind_if names an interface this host does not have (host-dependent,
// so a warning: files are often checked on another machine).
func validateCheckerIfaces(cfg *Config, diag *diagnostics, ifaceExists func(string) bool) {
	if ifaceExists == nil {
		return
	}
	warned := map[string]bool{}
	for i := range cfg.VirtualServers {
		for j := range cfg.VirtualServers[i].RealServers {
			for _, c := range cfg.VirtualServers[i].RealServers[j].Checkers {
				if c.BindIf == "" || warned[c.BindIf] || ifaceExists(c.BindIf) {
					continue
				}
				warned[c.BindIf] = true
				diag.warnf(c.Pos, "%s: bind_if %s: interface does not exist on this host: the check fails until it does", c.Type, c.BindIf)
			}
		}
	}
}
