package config

import (
	"net/netip"
	"time"
)

// defaultSMTPCheckHelo is SMTP_CHECK's HELO name when helo_name is not
// given (keepalived 2.2.7 include/check_smtp.h SMTP_DEFAULT_HELO).
const defaultSMTPCheckHelo = "smtpchecker.keepalived.org"

// smtpConnKeywords are the connection keywords of SMTP_CHECK and of its
// host sub-blocks (check_api.c install_checker_common_keywords).
var smtpConnKeywords = []string{"connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "fwmark", "connect_timeout"}

// smtpHosts expands SMTP_CHECK's deprecated host { } sub-blocks as
// keepalived 2.2.7 does (check_smtp.c smtp_check_end_handler): each host
// is a checker of its own with the SMTP_CHECK's settings and the host's
// connection (its address defaulting to the real server's); the
// SMTP_CHECK's own connection is checked too when it has connection
// keywords of its own or no host. Any other checker is returned as is.
func (d *decoder) smtpHosts(n *node, c Checker, rs *RealServer) []Checker {
	if c.Type != CheckSMTP {
		return []Checker{c}
	}
	var hosts []*node
	ownConn := false
	for _, ch := range n.children {
		switch {
		case ch.key.text == "host" && ch.block:
			hosts = append(hosts, ch)
		case isConnKeyword(ch.key.text) && !isZeroMark(ch):
			ownConn = true
		}
	}
	if len(hosts) == 0 {
		return []Checker{c}
	}
	d.diag.warnf(hosts[0].pos(), "SMTP_CHECK host { } blocks are deprecated (in keepalived too): write one SMTP_CHECK per host; accepted with the same meaning")
	var out []Checker
	if ownConn {
		out = append(out, c)
	}
	for _, h := range hosts {
		hc := c
		hc.Pos = h.pos()
		hc.ConnectIP, hc.ConnectPort, hc.BindTo, hc.BindPort = rs.Addr, rs.Port, netip.Addr{}, 0
		hc.BindIf, hc.FWMark = "", 0
		var timeout *time.Duration
		d.walk(h, "host", "SMTP_CHECK host", map[string]kw{
			"connect_ip": {fn: func(n *node) { d.addrKw(n, &hc.ConnectIP) }},
			"connect_port": {fn: func(n *node) {
				if t, ok := d.value(n); ok {
					if p, ok := d.port(t, "connect"); ok {
						hc.ConnectPort = p
					}
				}
			}},
			"bindto": {fn: func(n *node) { d.addrKw(n, &hc.BindTo) }},
			"bind_port": {fn: func(n *node) {
				if t, ok := d.value(n); ok {
					if p, ok := d.port(t, "bind"); ok {
						hc.BindPort = p
					}
				}
			}},
			"bind_if":         {fn: func(n *node) { d.bindIf(n, &hc.BindIf) }},
			"fwmark":          {fn: func(n *node) { d.checkerMark(n, &hc.FWMark) }},
			"connect_timeout": {fn: func(n *node) { d.durPtr(n, time.Millisecond, maxTimer, false, &timeout) }},
		})
		if timeout != nil {
			hc.ConnectTimeout = *timeout
		}
		if hc.ConnectPort == 0 {
			d.diag.errorf(h.pos(), "SMTP_CHECK host has no port to connect to: give connect_port (the real server has none)")
			continue
		}
		out = append(out, hc)
	}
	return out
}

func isConnKeyword(k string) bool {
	for _, c := range smtpConnKeywords {
		if c == k {
			return true
		}
	}
	return false
}
