package config

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/healthcheck"
)

// HealthServers returns one healthcheck.Server per real server of every
// virtual server, keyed by the director.RealRef that names it in Director's
// configuration, with one Spec per checker. A real server without checkers
// is included with none (always up).
func HealthServers(c *Config) ([]healthcheck.Server[director.RealRef], error) {
	n := 0
	for i := range c.VirtualServers {
		n += len(c.VirtualServers[i].RealServers)
	}
	out := make([]healthcheck.Server[director.RealRef], 0, n)
	for i := range c.VirtualServers {
		vs := &c.VirtualServers[i]
		key := serviceKey(vs)
		for j := range vs.RealServers {
			rs := &vs.RealServers[j]
			srv := healthcheck.Server[director.RealRef]{Key: realRef(key, rs), Weight: rs.Weight}
			for k := range rs.Checkers {
				spec, err := HealthSpec(vs, rs, &rs.Checkers[k])
				if err == nil && spec.Kind == healthcheck.SSLGet && c.SSL != nil {
					spec.HTTP.ClientCert = c.SSL.ClientCert
				}
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %w", rs.Checkers[k].Pos, srv.Key, err)
				}
				srv.Checks = append(srv.Checks, spec)
			}
			out = append(out, srv)
		}
	}
	return out, nil
}

// HealthSpec converts one checker of rs (in vs) to a healthcheck.Spec.
func HealthSpec(vs *VirtualServer, rs *RealServer, ck *Checker) (healthcheck.Spec, error) {
	s := healthcheck.Spec{
		ConnectTimeout:   ck.ConnectTimeout,
		DelayLoop:        ck.DelayLoop,
		DelayBeforeRetry: ck.DelayBeforeRetry,
		Retry:            ck.Retry,
		Warmup:           ck.Warmup,
		Alpha:            vs.Alpha || rs.Alpha || ck.Alpha,
		Rise:             ck.Rise,
		Fall:             ck.Fall,
	}
	ip, port := ck.ConnectIP, ck.ConnectPort
	if !ip.IsValid() {
		ip = rs.Addr
	}
	if port == 0 {
		port = rs.Port
	}
	s.Addr = netip.AddrPortFrom(ip, port)
	// The decoder leaves BindIf empty for UDP_CHECK and both empty for
	// PING_CHECK, as keepalived applies neither there.
	s.BindIf, s.FWMark = ck.BindIf, ck.FWMark
	switch {
	case ck.BindTo.IsValid():
		s.BindTo = netip.AddrPortFrom(ck.BindTo, ck.BindPort)
	case ck.BindPort != 0 && ip.Is4():
		s.BindTo = netip.AddrPortFrom(netip.IPv4Unspecified(), ck.BindPort)
	case ck.BindPort != 0:
		s.BindTo = netip.AddrPortFrom(netip.IPv6Unspecified(), ck.BindPort)
	}
	switch ck.Type {
	case CheckTCP:
		s.Kind = healthcheck.TCPCheck
	case CheckSMTP:
		s.Kind = healthcheck.SMTPCheck
		if ck.SMTP == nil {
			return s, fmt.Errorf("SMTP_CHECK without settings")
		}
		s.SMTP = &healthcheck.SMTPSpec{HeloName: ck.SMTP.HeloName}
	case CheckDNS:
		s.Kind = healthcheck.DNSCheck
		if ck.DNS == nil {
			return s, fmt.Errorf("DNS_CHECK without settings")
		}
		s.DNS = &healthcheck.DNSSpec{Type: DNSTypes[ck.DNS.Type], Name: ck.DNS.Name}
	case CheckUDP:
		s.Kind = healthcheck.UDPCheck
		if ck.UDP == nil {
			return s, fmt.Errorf("UDP_CHECK without settings")
		}
		u := &healthcheck.UDPSpec{RequireReply: ck.UDP.RequireReply, MinReply: ck.UDP.MinReplyLength, MaxReply: ck.UDP.MaxReplyLength}
		var err error
		if ck.UDP.Payload != "" {
			if u.Payload, _, err = ParseHex(ck.UDP.Payload, false); err != nil {
				return s, fmt.Errorf("UDP_CHECK payload: %w", err)
			}
		}
		if ck.UDP.Reply != "" {
			if u.Reply, u.ReplyMask, err = ParseHex(ck.UDP.Reply, true); err != nil {
				return s, fmt.Errorf("UDP_CHECK require_reply: %w", err)
			}
		}
		s.UDP = u
	case CheckPing:
		// keepalived's PING_CHECK (check/check_ping.c): the address only.
		s.Kind = healthcheck.PingCheck
		s.Addr = netip.AddrPortFrom(ip, 0)
	case CheckHTTP, CheckSSL:
		s.Kind = healthcheck.HTTPGet
		if ck.Type == CheckSSL {
			s.Kind = healthcheck.SSLGet
		}
		if ck.HTTP == nil {
			return s, fmt.Errorf("%s without url settings", ck.Type)
		}
		h := &healthcheck.HTTPSpec{VirtualHost: ck.HTTP.VirtualHost, FastRecovery: ck.HTTP.FastRecovery}
		if h.VirtualHost == "" {
			h.VirtualHost = vs.VirtualHost
		}
		if ck.HTTP.EnableSNI && ck.Type == CheckSSL {
			// keepalived (check_ssl.c) sends the virtual host as SNI.
			h.SNI = h.VirtualHost
		}
		for _, u := range ck.HTTP.URLs {
			h.URLs = append(h.URLs, healthcheck.URL{
				Path: u.Path, Digest: u.Digest, Status: StatusRanges(u.StatusCodes), VirtualHost: u.VirtualHost,
			})
		}
		s.HTTP = h
	case CheckFile:
		// keepalived/check/check_file.c: no connection, no timing; the
		// scheduler reads the file when it changes.
		s.Kind = healthcheck.FileCheck
		if ck.File == nil {
			return s, fmt.Errorf("FILE_CHECK without track_file")
		}
		s.Addr, s.BindTo, s.BindIf, s.FWMark = netip.AddrPort{}, netip.AddrPort{}, "", 0
		s.File = &healthcheck.FileSpec{Name: ck.File.TrackFile, Path: ck.File.File, Weight: ck.File.Weight,
			Reverse: ck.File.Reverse, InitMode: initMode(ck.File.Init), InitValue: ck.File.InitValue}
	case CheckMisc:
		s.Kind = healthcheck.MiscCheck
		if ck.Misc == nil {
			return s, fmt.Errorf("MISC_CHECK without misc_path")
		}
		s.Misc = &healthcheck.MiscSpec{Command: ck.Misc.Path.Command, Timeout: ck.Misc.Timeout, Dynamic: ck.Misc.Dynamic, As: ck.Misc.Path.As}
	default:
		return s, fmt.Errorf("checker %s is not supported by lvsctl", ck.Type)
	}
	if err := s.Validate(); err != nil {
		return s, err
	}
	return s, nil
}

// StatusRanges turns a list of accepted codes into sorted inclusive ranges
// (nil for none: the checker's default 200-299).
func StatusRanges(codes []int) []healthcheck.StatusRange {
	if len(codes) == 0 {
		return nil
	}
	c := append([]int(nil), codes...)
	sort.Ints(c)
	var out []healthcheck.StatusRange
	for _, v := range c {
		if n := len(out); n > 0 && v <= out[n-1].Max+1 {
			out[n-1].Max = max(out[n-1].Max, v)
			continue
		}
		out = append(out, healthcheck.StatusRange{Min: v, Max: v})
	}
	return out
}

// ParseHex reads a hex octet string as keepalived 2.2.7's read_hex_str
// (lib/parser.c) does: spaces and tabs between octets are skipped, two
// digits make an octet and a lone digit before a space or the end is an
// octet of its own; with wildcard, x or X is a nibble that matches
// anything, returned as set bits in mask (nil when there is none).
func ParseHex(s string, wildcard bool) (data, mask []byte, err error) {
	nibble := func(c byte) (v, m byte, ok bool) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', 0, true
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10, 0, true
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10, 0, true
		case wildcard && (c == 'x' || c == 'X'):
			return 0, 0x0f, true
		}
		return 0, 0, false
	}
	masked := false
	for i := 0; i < len(s); {
		if s[i] == ' ' || s[i] == '\t' {
			i++
			continue
		}
		v, m, ok := nibble(s[i])
		if !ok {
			return nil, nil, fmt.Errorf("%q is not a hex digit", s[i])
		}
		i++
		if i < len(s) && s[i] != ' ' && s[i] != '\t' {
			v2, m2, ok := nibble(s[i])
			if !ok {
				return nil, nil, fmt.Errorf("%q is not a hex digit", s[i])
			}
			i++
			v, m = v<<4|v2, m<<4|m2
		}
		masked = masked || m != 0
		data = append(data, v)
		mask = append(mask, m)
	}
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("no hex octets")
	}
	if !masked {
		mask = nil
	}
	return data, mask, nil
}

// DNSTypes are the query types DNS_CHECK knows (keepalived 2.2.7
// check/check_dns.c: DNS_TYPE), by name.
var DNSTypes = map[string]uint16{
	"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "RRSIG": 46, "DNSKEY": 48,
}
