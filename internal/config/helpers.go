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
	// vridPos[i] is where Config.VRRPInstances[i]'s virtual_router_id
	// value is, so a duplicate is reported there.
	vridPos []Position
	// rulePrio numbers the rules without a preference (routes.go).
	rulePrio *rulePriorities
	// smtpAlert is each block's own smtp_alert, by the block's position
	// (alerts.go resolves the defaults once global_defs is known).
	smtpAlert map[Position]bool
	// trackFiles are the track_file blocks, for FILE_CHECK (decoded
	// before the virtual servers).
	trackFiles []TrackFile
	// defaultIface is global_defs' default_interface once decoded;
	// defaultIfaceUsed is the first static address that took the
	// default before it (keepalived resolves it while parsing).
	defaultIface     string
	defaultIfaceUsed *VIP
	// groupVS are the virtual servers that name a virtual_server_group
	// and umaskPos is where umask is (notifyfifo.go).
	groupVS  []groupVS
	umaskPos Position
	// badFIFO marks the FIFOs whose path was refused.
	badFIFO map[**NotifyFIFO]bool
}

// kw describes one keyword of a block.
type kw struct {
	fn    func(n *node)
	multi bool // may appear several times
}

// walk decodes the children of block n with the keyword table spec.
// block names the kind of block for the keyword table (keepalived.go).
func (d *decoder) walk(parent *node, block, where string, spec map[string]kw) {
	walkWith(d, parent, block, func() string { return where }, spec, func(k kw, n *node) { k.fn(n) })
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
func walkWith[K keyword](d *decoder, parent *node, block string, where func() string, spec map[string]K, call func(K, *node)) {
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
			notImplemented(d, c, block, where(), spec)
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
	// The preprocessor (preproc.go) has run: "@ID" lines and $NAME
	// definitions are gone, and what is left with a '$' is undefined.
	switch {
	case strings.HasPrefix(key, "$"):
		d.diag.errorf(n.pos(), "%s is not a parameter definition ($NAME=VALUE) or a defined $NAME: keepalived would report it as an unknown keyword and ignore the line", key)
		return true
	case strings.HasPrefix(key, "~SEQ"), strings.HasPrefix(key, "~LST"):
		d.diag.errorf(n.pos(), "%s sequences are a keepalived feature lvsctl does not support: write each line out", key[:4])
		return true
	}
	for _, a := range n.args {
		if !a.quoted && strings.HasPrefix(a.text, "$") {
			d.diag.errorf(a.pos(), "%s is not defined: keepalived would use the text %q as it is; define it with $%s=VALUE before this line", a.text, a.text, strings.Trim(a.text, "${}"))
			return true
		}
	}
	return false
}

// notImplemented reports a keyword block's decoder does not take: a
// keepalived keyword lvsctl ignores or refuses (keepalived.go), else an
// unknown one.
func notImplemented[K keyword](d *decoder, n *node, block, where string, spec map[string]K) {
	key := n.key.text
	k, ok := lookupKeyword(block, key)
	switch {
	case ok && k.Class == Ignored:
		d.diag.warnf(n.pos(), "accepted, ignored: %s (%s)", key, k.Why)
	case ok && k.Class == Unsupported:
		d.diag.errorf(n.pos(), "%s is a keepalived feature lvsctl does not support: %s", key, k.Why)
	case ok && k.Class == Misread:
		d.diag.errorf(n.pos(), "%s in %s: %s", key, where, k.Why)
	default:
		names := keys(spec)
		for _, name := range blockKeywords(block) {
			if _, dup := spec[name]; !dup {
				names = append(names, name)
			}
		}
		d.unknown(n, where, names)
	}
}

func (d *decoder) unknown(n *node, where string, spec []string) {
	if d.diag.full {
		return
	}
	key := n.key.text
	if len(n.args) > 0 && n.args[0].glued {
		d.diag.errorf(n.pos(), "unknown keyword %q in %s: a space is missing before the quoted string, or the keyword is misspelt%s; keepalived would ignore the line", key, where, suggest(key, spec))
		return
	}
	d.diag.errorf(n.pos(), "unknown keyword %q in %s%s; keepalived would ignore the line", key, where, suggest(key, spec))
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

// addrStripPrefix reads an address that may carry a /LEN, which
// keepalived strips (unicast_src_ip, unicast_peer): accepted with a
// warning, as the prefix means nothing there.
func (d *decoder) addrStripPrefix(t token, what string) (netip.Addr, bool) {
	if a, l, ok := strings.Cut(t.text, "/"); ok {
		p, err := netip.ParsePrefix(t.text)
		if err != nil || p.Addr().Zone() != "" {
			d.diag.errorf(t.pos(), "%s: %q is not an IP address", what, t.text)
			return netip.Addr{}, false
		}
		d.diag.warnf(t.pos(), "%s: the prefix length /%s means nothing here; keepalived strips it, and so does lvsctl: write %s", what, l, a)
		return p.Addr().Unmap(), true
	}
	return d.addr(t, what)
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

// hostScript reads startup_script or shutdown_script: keepalived 2.2.7
// (global_parser.c, startup_shutdown_script) keeps the first of two.
func (d *decoder) hostScript(n *node, dst *Script) {
	if !dst.IsZero() {
		d.diag.errorf(n.pos(), "%s given twice (first at %d:%d); keepalived reports it and runs the first one: delete one", n.key.text, dst.Pos.Line, dst.Pos.Col)
		return
	}
	d.script(n, dst)
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
	// keepalived re-reads the first word of the line as the whole command
	// line (lib/notify.c, set_script_params_array): the words after an
	// unquoted command are dropped (misc_path, vrrp_script's script) or
	// read as the user and group to run it as (notify scripts,
	// notify_script_init). The command is kept, so that no "has no
	// misc_path" follows.
	if len(n.args) > 1 && !n.args[0].quoted {
		switch n.key.text {
		case "misc_path", "script":
			d.diag.errorf(n.args[1].pos(), "%s: keepalived would run only %q (the first word of an unquoted command) and drop the rest: quote the whole command", n.key.text, n.args[0].text)
		default:
			d.diag.errorf(n.args[1].pos(), "%s: keepalived would run only %q and read %q as the user to run it as: quote the whole command", n.key.text, n.args[0].text, n.args[1].text)
		}
	}
	var user, group string
	switch n.key.text {
	case "misc_path", "script":
	default:
		// A quoted command may be followed by the user and group to run
		// it as (lib/notify.c, notify_script_init).
		if len(n.args) > 1 && n.args[0].quoted {
			if len(n.args) > 3 {
				d.diag.errorf(n.args[3].pos(), "%s: expected a quoted command, then optionally a user and a group; %q is one word too many", n.key.text, n.args[3].text)
			}
			user = n.args[1].text
			if len(n.args) > 2 {
				group = n.args[2].text
			}
			parts = parts[:1]
		}
	}
	cmd := strings.TrimSpace(strings.Join(parts, " "))
	if cmd == "" {
		d.diag.errorf(n.args[0].pos(), "%s: empty command", n.key.text)
		return
	}
	*dst = Script{Pos: n.args[0].pos(), Command: cmd, User: user, Group: group}
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

// method reads a forwarding method. keepalived compares with strcmp and
// ignores anything else (check_parser.c, svr_forwarding_handler): then
// the previous method stays, which fallback names for the message.
func (d *decoder) method(t token, what, fallback string) (Method, bool) {
	switch m := Method(t.text); m {
	case MethodNAT, MethodDR, MethodTUN:
		return m, true
	}
	switch up := Method(strings.ToUpper(t.text)); up {
	case MethodNAT, MethodDR, MethodTUN:
		d.diag.errorf(t.pos(), "%s %q: keepalived is case-sensitive and would ignore this line, so %s: write %s", what, t.text, fallback, up)
	default:
		d.diag.errorf(t.pos(), "%s: unknown forwarding method %q (NAT, DR or TUN); keepalived would ignore this line, so %s", what, t.text, fallback)
	}
	return "", false
}
