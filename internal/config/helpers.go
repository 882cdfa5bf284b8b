package config

import (
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// decoder turns statement trees into the typed model.
type decoder struct {
	diag *diagnostics
	// Drafts reused from block to block (blocks of one kind never nest).
	vsScratch *vsDraft
	rsScratch *rsDraft
}

// kw describes one keyword of a block.
type kw struct {
	fn    func(n *node)
	multi bool // may appear several times
}

// The keyword tables below are read-only after initialisation.

// ignoredKeywords are keepalived keywords that only notify or log (or tune
// keepalived's own process): lvsctl accepts them with a warning.
var ignoredKeywords = map[string]string{
	"notification_email":      "SMTP alerts are not sent by lvsctl",
	"notification_email_from": "SMTP alerts are not sent by lvsctl",
	"smtp_server":             "SMTP alerts are not sent by lvsctl",
	"smtp_connect_timeout":    "SMTP alerts are not sent by lvsctl",
	"smtp_helo_name":          "SMTP alerts are not sent by lvsctl",
	"smtp_alert":              "SMTP alerts are not sent by lvsctl",
	"smtp_alert_vrrp":         "SMTP alerts are not sent by lvsctl",
	"smtp_alert_checker":      "SMTP alerts are not sent by lvsctl",
	"email_faults":            "SMTP alerts are not sent by lvsctl",
	"enable_snmp_vrrp":        "lvsctl has no SNMP agent (use its metrics)",
	"enable_snmp_checker":     "lvsctl has no SNMP agent (use its metrics)",
	"enable_snmp_rfc":         "lvsctl has no SNMP agent (use its metrics)",
	"enable_snmp_rfcv2":       "lvsctl has no SNMP agent (use its metrics)",
	"enable_snmp_rfcv3":       "lvsctl has no SNMP agent (use its metrics)",
	"enable_snmp_keepalived":  "lvsctl has no SNMP agent (use its metrics)",
	"enable_snmp_vrrp_traps":  "lvsctl has no SNMP agent (use its metrics)",
	"enable_traps":            "lvsctl has no SNMP agent (use its metrics)",
	"snmp_socket":             "lvsctl has no SNMP agent (use its metrics)",
	"enable_dbus":             "lvsctl has no D-Bus interface (use its status socket)",
	"log_all_failures":        "lvsctl logs every check transition",
	"debug":                   "use lvsctl's log level instead",
	"log_detail":              "use lvsctl's log level instead",
	"vrrp_no_swap":            "process tuning of keepalived",
	"checker_no_swap":         "process tuning of keepalived",
	"vrrp_priority":           "process tuning of keepalived",
	"checker_priority":        "process tuning of keepalived",
	"vrrp_rt_priority":        "process tuning of keepalived",
	"checker_rt_priority":     "process tuning of keepalived",
	"process_names":           "process tuning of keepalived",
	"lvs_flush":               "lvsctl reconciles the IPVS table against the configuration instead of flushing it",
	"vrrp_check_unicast_src":  "lvsctl always checks the source of unicast adverts against the peers",
}

// unsupportedKeywords are keepalived keywords that change behaviour in ways
// lvsctl does not implement: using them is an error, so nothing silently
// behaves differently from keepalived.
var unsupportedKeywords = map[string]bool{
	"virtual_server_group": true, "static_ipaddress": true, "static_routes": true, "static_rules": true,
	"virtual_routes": true, "virtual_rules": true, "vrrp_track_process": true, "track_process": true,
	"vrrp_track_file": true, "track_file": true, "bfd_instance": true, "track_bfd": true, "garp_group": true,
	"linkbeat_interfaces": true, "net_namespace": true, "instance": true, "use_vmac": true,
	"vmac_xmit_base": true, "UDP_CHECK": true, "DNS_CHECK": true, "SMTP_CHECK": true, "BFD_CHECK": true, "PING_CHECK": true,
	"FILE_CHECK": true, "dynamic_interfaces": true, "accept": true, "no_accept": true,
	"garp_extra_if": true, "notify_master_rx_lower_pri": true, "sh-port": true, "sh-fallback": true,
	"mh-port": true, "mh-fallback": true, "local_address_group": true, "http_protocol": true,
	"sni_name": true, "regex": true, "fwmark": true, "vrrp_startup_delay": true, "vrrp_iptables": true,
	"vrrp_ipsets": true, "nftables": true, "sync_group_tracking_weight": true,
	"unicast_fault_no_peer": true, "old_unicast_checksum": true, "track_src_ip": true,
	"strict_mode": true, "lvs_flush_on_stop": true, "enable_script_security_nowarn": true, "vrrp_min_garp": true,
}

// walk decodes the children of block n with the keyword table spec.
func (d *decoder) walk(parent *node, where string, spec map[string]kw) {
	walkWith(d, parent, func() string { return where }, spec, func(k kw, n *node) { k.fn(n) })
}

// keyword is an entry of a keyword table: closures over one block's state
// (kw) or static functions over a state passed in (kwOf).
type keyword interface{ isMulti() bool }

func (k kw) isMulti() bool { return k.multi }

// kwOf is a keyword of a static table whose function gets the block's
// draft: the hot blocks (virtual_server, real_server, checkers) use them so
// that decoding 10,000 of them builds no table of closures each time.
type kwOf[S any] struct {
	fn    func(d *decoder, s S, n *node)
	multi bool
}

func (k kwOf[S]) isMulti() bool { return k.multi }

// walkWith decodes the children of parent with spec; call runs one entry.
// where names the block in messages and is only computed for one.
func walkWith[K keyword](d *decoder, parent *node, where func() string, spec map[string]K, call func(K, *node)) {
	// Keywords seen once at most: few per block, so a small list beats a
	// map allocated per block.
	type seenKey struct {
		key string
		at  Position
	}
	var seenBuf [16]seenKey
	seen := seenBuf[:0]
	for _, c := range parent.children {
		key := c.key.text
		if c.key.quoted {
			d.diag.errorf(c.pos(), "a keyword cannot be quoted: %q", key)
			continue
		}
		if d.special(c) {
			continue
		}
		k, ok := spec[key]
		if !ok {
			d.unknown(c, where(), keys(spec))
			continue
		}
		if !k.isMulti() {
			dup := false
			for _, s := range seen {
				if s.key == key {
					d.diag.errorf(c.pos(), "%s given twice in %s (first at %d:%d); keepalived silently uses the last one", key, where(), s.at.Line, s.at.Col)
					dup = true
					break
				}
			}
			if dup {
				continue
			}
			seen = append(seen, seenKey{key, c.pos()})
		}
		call(k, c)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// special reports (and handles) syntax lvsctl refuses everywhere.
func (d *decoder) special(n *node) bool {
	key := n.key.text
	if n.key.quoted {
		// A quoted first word is a value (a name in a list), never syntax.
		return false
	}
	switch {
	case strings.HasPrefix(key, "@"):
		d.diag.errorf(n.pos(), "conditional configuration (%s) is not supported by lvsctl: keep one file per host instead", key)
		return true
	case strings.HasPrefix(key, "$"):
		d.diag.errorf(n.pos(), "parameter definitions and substitutions (%s) are not supported by lvsctl: write the value literally", key)
		return true
	case strings.HasPrefix(key, "~SEQ"):
		d.diag.errorf(n.pos(), "~SEQ sequences are not supported by lvsctl: write each line out")
		return true
	}
	for _, a := range n.args {
		if !a.quoted && strings.HasPrefix(a.text, "$") {
			d.diag.errorf(a.pos(), "parameter substitution (%s) is not supported by lvsctl: write the value literally", a.text)
			return true
		}
	}
	if why, ok := ignoredKeywords[key]; ok {
		d.diag.warnf(n.pos(), "accepted, ignored: %s (%s)", key, why)
		return true
	}
	if unsupportedKeywords[key] {
		d.diag.errorf(n.pos(), "%s is a keepalived keyword that lvsctl does not support; remove it or keep using keepalived for this configuration", key)
		return true
	}
	return false
}

func (d *decoder) unknown(n *node, where string, spec []string) {
	if d.diag.full {
		return
	}
	key := n.key.text
	if len(n.args) > 0 && n.args[0].glued {
		d.diag.errorf(n.pos(), "unknown keyword %q in %s: a space is missing before the quoted string, or the keyword is misspelt%s", key, where, suggest(key, spec))
		return
	}
	d.diag.errorf(n.pos(), "unknown keyword %q in %s%s", key, where, suggest(key, spec))
}

// suggest returns " (did you mean X?)" for the closest of the keywords
// names (in any order; it sorts them), if close.
func suggest(key string, names []string) string {
	const maxLen = 40 // longer words are not typos of keywords
	if len(key) > maxLen {
		return ""
	}
	limit := max(len(key)/3, 2)
	lower := strings.ToLower(key)
	best, bestD := "", math.MaxInt
	sort.Strings(names)
	for _, k := range names {
		if d := len(k) - len(key); d > limit || -d > limit {
			continue
		}
		if dd := editDistance(lower, strings.ToLower(k)); dd < bestD {
			best, bestD = k, dd
		}
	}
	if best == "" || bestD > limit {
		return ""
	}
	return " (did you mean " + strconv.Quote(best) + "?)"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// shape checks block-ness and the argument count of n.
func (d *decoder) shape(n *node, block bool, minArgs, maxArgs int) bool {
	ok := true
	if block && !n.block {
		d.diag.errorf(n.pos(), "%s needs a { } block", n.key.text)
		ok = false
	}
	if !block && n.block {
		d.diag.errorf(n.pos(), "%s takes no { } block", n.key.text)
		ok = false
	}
	switch {
	case len(n.args) < minArgs:
		d.diag.errorf(n.pos(), "%s needs %s", n.key.text, argCount(minArgs, maxArgs))
		ok = false
	case maxArgs >= 0 && len(n.args) > maxArgs:
		d.diag.errorf(n.args[maxArgs].pos(), "%s takes %s; unexpected %q", n.key.text, argCount(minArgs, maxArgs), n.args[maxArgs].text)
		ok = false
	}
	return ok
}

func argCount(lo, hi int) string {
	plural := func(n int) string {
		if n == 1 {
			return "1 argument"
		}
		return strconv.Itoa(n) + " arguments"
	}
	switch {
	case hi == 0:
		return "no arguments"
	case hi < 0:
		return "at least " + plural(lo)
	case lo == hi:
		return plural(lo)
	case lo == 0:
		return "at most " + plural(hi)
	default:
		return strconv.Itoa(lo) + " to " + plural(hi)
	}
}

// value is the single argument of a "KEY VALUE" statement.
func (d *decoder) value(n *node) (token, bool) {
	if !d.shape(n, false, 1, 1) {
		return token{}, false
	}
	return n.args[0], true
}

func (d *decoder) str(n *node, dst *string) {
	if t, ok := d.value(n); ok {
		*dst = t.text
	}
}

func (d *decoder) intRange(t token, what string, lo, hi int64) (int64, bool) {
	v, err := strconv.ParseInt(t.text, 10, 64)
	if err != nil {
		d.diag.errorf(t.pos(), "%s: %q is not an integer", what, t.text)
		return 0, false
	}
	if v < lo || v > hi {
		d.diag.errorf(t.pos(), "%s %d out of range %d..%d", what, v, lo, hi)
		return 0, false
	}
	return v, true
}

func (d *decoder) intKw(n *node, lo, hi int64, dst *int) {
	if t, ok := d.value(n); ok {
		if v, ok := d.intRange(t, n.key.text, lo, hi); ok {
			*dst = int(v)
		}
	}
}

func (d *decoder) intPtr(n *node, lo, hi int64, dst **int) {
	var v int
	if t, ok := d.value(n); ok {
		if x, ok := d.intRange(t, n.key.text, lo, hi); ok {
			v = int(x)
			*dst = &v
		}
	}
}

// parseSeconds parses a decimal number of seconds ("3", "1.5", "0.01").
func parseSeconds(s string) (time.Duration, bool) {
	if s == "" || len(s) > 24 {
		return 0, false
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	if len(frac) > 9 {
		return 0, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > int64(math.MaxInt64/time.Second)-1 {
		return 0, false
	}
	ns := int64(0)
	if frac != "" {
		f, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		ns = f
	}
	return time.Duration(w)*time.Second + time.Duration(ns), true
}

// seconds parses a duration argument given in seconds and checks its range.
// integral requires whole seconds (keywords keepalived reads as integers).
func (d *decoder) seconds(t token, what string, lo, hi time.Duration, integral bool) (time.Duration, bool) {
	v, ok := parseSeconds(t.text)
	if !ok || (integral && strings.Contains(t.text, ".")) {
		unit := "a number of seconds"
		if integral {
			unit = "a whole number of seconds"
		}
		d.diag.errorf(t.pos(), "%s: %q is not %s", what, t.text, unit)
		return 0, false
	}
	if v < lo || v > hi {
		d.diag.errorf(t.pos(), "%s %s out of range %s..%s", what, fmtSeconds(v), fmtSeconds(lo), fmtSeconds(hi))
		return 0, false
	}
	return v, true
}

func (d *decoder) durKw(n *node, lo, hi time.Duration, integral bool, dst *time.Duration) {
	if t, ok := d.value(n); ok {
		if v, ok := d.seconds(t, n.key.text, lo, hi, integral); ok {
			*dst = v
		}
	}
}

func (d *decoder) durPtr(n *node, lo, hi time.Duration, integral bool, dst **time.Duration) {
	if t, ok := d.value(n); ok {
		if v, ok := d.seconds(t, n.key.text, lo, hi, integral); ok {
			*dst = &v
		}
	}
}

// fmtSeconds prints a duration as keepalived writes it: decimal seconds.
func fmtSeconds(v time.Duration) string {
	s := strconv.FormatFloat(v.Seconds(), 'f', -1, 64)
	return s
}

// flag handles a keyword that is a switch: no argument means on; an
// explicit on/off value is accepted too.
func (d *decoder) flag(n *node, dst *bool) {
	if !d.shape(n, false, 0, 1) {
		return
	}
	if len(n.args) == 0 {
		*dst = true
		return
	}
	switch strings.ToLower(n.args[0].text) {
	case "on", "true", "yes", "1":
		*dst = true
	case "off", "false", "no", "0":
		*dst = false
	default:
		d.diag.errorf(n.args[0].pos(), "%s: %q is not on/off, true/false or yes/no", n.key.text, n.args[0].text)
	}
}

func (d *decoder) addr(t token, what string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(t.text)
	if err != nil || a.Zone() != "" {
		d.diag.errorf(t.pos(), "%s: %q is not an IP address", what, t.text)
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func (d *decoder) addrKw(n *node, dst *netip.Addr) {
	if t, ok := d.value(n); ok {
		if a, ok := d.addr(t, n.key.text); ok {
			*dst = a
		}
	}
}

func (d *decoder) port(t token, what string) (uint16, bool) {
	v, ok := d.intRange(t, what+" port", 0, 65535)
	return uint16(v), ok
}

// script reads a command: the arguments joined by spaces (normally one
// quoted string).
func (d *decoder) script(n *node, dst *Script) {
	if !d.shape(n, false, 1, -1) {
		return
	}
	parts := make([]string, len(n.args))
	for i, a := range n.args {
		parts[i] = a.text
	}
	cmd := strings.TrimSpace(strings.Join(parts, " "))
	if cmd == "" {
		d.diag.errorf(n.args[0].pos(), "%s: empty command", n.key.text)
		return
	}
	*dst = Script{Pos: n.args[0].pos(), Command: cmd}
}

// names reads a block of bare names, one or more per line.
func (d *decoder) names(n *node) []NameRef {
	var out []NameRef
	if !d.shape(n, true, 0, 0) {
		return nil
	}
	for _, c := range n.children {
		if d.special(c) {
			continue
		}
		if c.block {
			d.diag.errorf(c.pos(), "unexpected block in %s", n.key.text)
			continue
		}
		for _, t := range append([]token{c.key}, c.args...) {
			out = append(out, NameRef{Pos: t.pos(), Name: t.text})
		}
	}
	return out
}

func (d *decoder) method(t token, what string) (Method, bool) {
	switch m := Method(strings.ToUpper(t.text)); m {
	case MethodNAT, MethodDR, MethodTUN:
		return m, true
	}
	d.diag.errorf(t.pos(), "%s: unknown forwarding method %q (NAT, DR or TUN)", what, t.text)
	return "", false
}
