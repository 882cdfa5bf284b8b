package config

import (
	"fmt"
	"strconv"
	"time"

	"github.com/lvsctl/lvsctl/syncd"
)

// The lvs_sync_daemon grammar is keepalived 2.2.7's
// (keepalived/core/global_parser.c lvs_syncd_handler, vrrp/vrrp_parser.c
// vrrp_lvs_syncd_handler, defaults resolved in vrrp/vrrp.c
// vrrp_complete_init); where keepalived reports an error and goes on
// ("- ignoring", "defaulting to vrid"), lvsctl refuses the file.

// ifNameMax is IP_VS_IFNAME_MAXLEN: the name and its NUL.
const ifNameMax = 16

// lvsSyncDaemon decodes `lvs_sync_daemon IFACE [INSTANCE [SYNCID]] [inst
// NAME] [id SYNCID] [maxlen N] [port N] [ttl N] [group ADDR]`.
func (d *decoder) lvsSyncDaemon(n *node, g *GlobalDefs) {
	if g.LVSSync != nil {
		d.diag.errorf(n.pos(), "lvs_sync_daemon given twice (first at %s); keepalived ignores the second", g.LVSSync.Pos)
		return
	}
	if !d.shape(n, false, 1, -1) {
		return
	}
	s := &LVSSync{Pos: n.pos(), SyncID: -1}
	if !d.syncIface(n.args[0], s) {
		return
	}
	args := n.args
	for i := 1; i < len(args); i++ {
		t := args[i]
		val := func() (token, bool) {
			if i+1 >= len(args) {
				d.diag.errorf(t.pos(), "lvs_sync_daemon: %s needs a value", t.text)
				return token{}, false
			}
			i++
			return args[i], true
		}
		num := func(what string, lo, hi int64, dst *int) {
			if v, ok := val(); ok {
				if x, ok := d.intRange(v, "lvs_sync_daemon "+what, lo, hi); ok {
					*dst = int(x)
				}
			}
		}
		switch t.text {
		case "inst":
			if v, ok := val(); ok {
				if s.Instance.Name != "" {
					d.diag.errorf(v.pos(), "lvs_sync_daemon: the vrrp instance is already given as %s", s.Instance.Name)
					continue
				}
				s.Instance = NameRef{Pos: v.pos(), Name: v.text}
			}
		case "id":
			num("id", 0, 255, &s.SyncID)
		case "maxlen":
			num("maxlen", 1, 65535-20-8, &s.MaxLen)
		case "port":
			num("port", 1, 65535, &s.Port)
		case "ttl":
			num("ttl", 1, 255, &s.TTL)
		case "group":
			if v, ok := val(); ok {
				if a, ok := d.addr(v, "lvs_sync_daemon group"); ok {
					if !a.IsMulticast() {
						d.diag.errorf(v.pos(), "lvs_sync_daemon group %s is not a multicast address", a)
						continue
					}
					s.Group = a
				}
			}
		default:
			// keepalived's older positional form: IFACE INSTANCE [SYNCID].
			switch i {
			case 1:
				s.Instance = NameRef{Pos: t.pos(), Name: t.text}
				continue
			case 2:
				if x, ok := d.intRange(t, "lvs_sync_daemon sync ID", 0, 255); ok {
					s.SyncID = int(x)
					d.diag.warnf(t.pos(), "lvs_sync_daemon: write \"id %s\" (keepalived: Please use keyword \"id\" before lvs_sync_daemon SYNCID)", t.text)
				}
				continue
			}
			d.diag.errorf(t.pos(), "lvs_sync_daemon: unknown option %q (inst, id, maxlen, port, ttl or group)", t.text)
		}
	}
	g.LVSSync = s
}

func (d *decoder) syncIface(t token, s *LVSSync) bool {
	if len(t.text) >= ifNameMax {
		d.diag.errorf(t.pos(), "lvs_sync_daemon interface name %q is longer than %d characters", t.text, ifNameMax-1)
		return false
	}
	s.Interface = t.text
	return true
}

// lvsSyncInterface decodes the deprecated `lvs_sync_daemon_interface IFACE`
// of a vrrp_instance: the daemons follow that instance, with sync ID 0
// (keepalived resolves the VRID only for an instance named in
// lvs_sync_daemon).
func (d *decoder) lvsSyncInterface(n *node, dr *instanceDraft) {
	t, ok := d.value(n)
	if !ok {
		return
	}
	d.diag.warnf(n.pos(), "(%s) lvs_sync_daemon_interface in a vrrp_instance is deprecated: use global_defs { lvs_sync_daemon %s %s }", dr.in.Name, t.text, dr.in.Name)
	s := &LVSSync{Pos: n.pos(), SyncID: 0, Instance: NameRef{Pos: n.pos(), Name: dr.in.Name}}
	if d.syncIface(t, s) {
		dr.lvsSync = s
	}
}

// lvsSyncSysctl decodes the lvsctl extension keywords that set
// net.ipv4.vs sysctls for the sync daemons (docs/sync.md).
func (d *decoder) lvsSyncSysctl(n *node, g *GlobalDefs) {
	var value string
	one := func(hi int64) bool {
		t, ok := d.value(n)
		if !ok {
			return false
		}
		v, ok := d.intRange(t, n.key.text, 0, hi)
		value = strconv.FormatInt(v, 10)
		return ok
	}
	switch n.key.text {
	case "lvs_sync_refresh_period":
		if !one(86400) {
			return
		}
	case "lvs_sync_retries":
		if !one(3) {
			return
		}
	case "lvs_sync_threshold":
		if !d.shape(n, false, 2, 2) {
			return
		}
		th, ok1 := d.intRange(n.args[0], "lvs_sync_threshold threshold", 0, 65535)
		pe, ok2 := d.intRange(n.args[1], "lvs_sync_threshold period", 0, 65535)
		if !ok1 || !ok2 {
			return
		}
		if pe != 0 && th >= pe {
			// The kernel refuses it (proc_do_sync_threshold).
			d.diag.errorf(n.args[0].pos(), "lvs_sync_threshold: the threshold %d must be below the period %d", th, pe)
			return
		}
		value = fmt.Sprintf("%d %d", th, pe)
	}
	g.LVSSyncSysctls = append(g.LVSSyncSysctls, LVSSyncSysctl{Pos: n.pos(), Name: n.key.text[len("lvs_"):], Value: value})
}

// lvsTimeouts decodes keepalived's `lvs_timeouts [tcp N] [tcpfin N] [udp N]`
// (global_parser.c lvs_timeouts: seconds, 0..31 days, at least one).
func (d *decoder) lvsTimeouts(n *node, g *GlobalDefs) {
	if !d.shape(n, false, 2, -1) {
		return
	}
	t := &LVSTimeouts{Pos: n.pos()}
	for i := 0; i < len(n.args); i++ {
		a := n.args[i]
		var dst *time.Duration
		switch a.text {
		case "tcp":
			dst = &t.TCP
		case "tcpfin":
			dst = &t.TCPFin
		case "udp":
			dst = &t.UDP
		default:
			d.diag.errorf(a.pos(), "lvs_timeouts: unknown option %q (tcp, tcpfin or udp)", a.text)
			continue
		}
		if i+1 >= len(n.args) {
			d.diag.errorf(a.pos(), "lvs_timeouts: %s needs a value", a.text)
			continue
		}
		i++
		if v, ok := d.intRange(n.args[i], "lvs_timeouts "+a.text, 0, 86400*31); ok {
			*dst = time.Duration(v) * time.Second
		}
	}
	g.LVSTimeouts = t
}

// resolveSync takes the deprecated per-instance form when lvs_sync_daemon
// is absent, resolves the sync ID (the instance's VRID when lvs_sync_daemon
// names an instance without an id, else 0) and checks the instance exists.
func (d *decoder) resolveSync(cfg *Config, instances []*instanceDraft) {
	g := &cfg.Global
	for _, in := range instances {
		if in.lvsSync == nil {
			continue
		}
		if g.LVSSync != nil {
			d.diag.errorf(in.lvsSync.Pos, "(%s) lvs_sync_daemon_interface: the sync daemon is already configured at %s; keepalived ignores this one", in.in.Name, g.LVSSync.Pos)
			continue
		}
		g.LVSSync = in.lvsSync
	}
	s := g.LVSSync
	if s == nil {
		return
	}
	if s.Instance.Name == "" {
		s.SyncID = max(s.SyncID, 0)
		return
	}
	for i := range cfg.VRRPInstances {
		if in := &cfg.VRRPInstances[i]; in.Name == s.Instance.Name {
			if s.SyncID < 0 {
				s.SyncID = in.VirtualRouterID
			}
			return
		}
	}
	// keepalived clears the sync configuration with an error and runs without.
	d.diag.errorf(s.Instance.Pos, "lvs_sync_daemon: no vrrp_instance %s", s.Instance.Name)
	s.SyncID = max(s.SyncID, 0)
}

// validateSync warns about what only shows on the host (`config check`):
// the interface must exist when the daemons start.
func validateSync(cfg *Config, diag *diagnostics, ifaceExists func(string) bool) {
	s := cfg.Global.LVSSync
	if s == nil {
		for _, x := range cfg.Global.LVSSyncSysctls {
			diag.warnf(x.Pos, "lvs_%s has no effect without lvs_sync_daemon", x.Name)
		}
		return
	}
	if ifaceExists != nil && !ifaceExists(s.Interface) {
		diag.warnf(s.Pos, "lvs_sync_daemon interface %s does not exist on this host: the sync daemons will not start", s.Interface)
	}
}

// Sync converts lvs_sync_daemon into the sync runtime's configuration; nil
// when the file has none.
func (c *Config) Sync() *syncd.Config {
	s := c.Global.LVSSync
	if s == nil {
		return nil
	}
	out := &syncd.Config{
		Instance: s.Instance.Name,
		Settings: syncd.Settings{Interface: s.Interface, SyncID: uint8(s.SyncID), MaxLen: uint16(s.MaxLen),
			Port: uint16(s.Port), TTL: uint8(s.TTL), Group: s.Group},
		Sysctls: make([]syncd.Sysctl, 0, len(c.Global.LVSSyncSysctls)),
	}
	for _, x := range c.Global.LVSSyncSysctls {
		out.Sysctls = append(out.Sysctls, syncd.Sysctl{Name: x.Name, Value: x.Value})
	}
	return out
}

// text writes lvs_sync_daemon back in its keyword form, every value spelt
// out, so WriteText round-trips.
func (s *LVSSync) text() []string {
	out := []string{"lvs_sync_daemon", quote(s.Interface)}
	if s.Instance.Name != "" {
		out = append(out, "inst", quote(s.Instance.Name))
	}
	out = append(out, "id", itoa(s.SyncID))
	for _, kv := range []struct {
		k string
		v int
	}{{"maxlen", s.MaxLen}, {"port", s.Port}, {"ttl", s.TTL}} {
		if kv.v != 0 {
			out = append(out, kv.k, itoa(kv.v))
		}
	}
	if s.Group.IsValid() {
		out = append(out, "group", s.Group.String())
	}
	return out
}

// lvsFlushOnStop reads lvs_flush_on_stop [VS] (keepalived 2.2.7
// global_parser.c; check/ipwrapper.c, clear_services). keepalived removes
// its virtual servers at stop whatever the setting; VS only skips
// removing their real servers one by one first. lvsctl removes the
// services it added at stop too (unless --keep-ipvs): VS changes nothing.
// Without an argument keepalived flushes the whole table, other
// programs' services included, which lvsctl never touches.
func (d *decoder) lvsFlushOnStop(n *node) {
	if !d.shape(n, false, 0, 1) {
		return
	}
	switch {
	case len(n.args) == 0:
		d.diag.errorf(n.pos(), "%s without VS (a full flush) is a keepalived feature lvsctl does not support: lvsctl removes only the services it added, and a full flush would remove other programs' services too", n.key.text)
	case n.args[0].text == "VS":
		d.diag.warnf(n.pos(), "accepted, ignored: %s VS (lvsctl removes the services it added when it stops, as keepalived does with or without this line; delete the line)", n.key.text)
	default:
		d.diag.errorf(n.args[0].pos(), "%s %q: keepalived knows only VS (case-sensitive) or no argument, and would ignore the line", n.key.text, n.args[0].text)
	}
	if n.key.text == "lvs_flush_onstop" {
		d.diag.warnf(n.key.pos(), "lvs_flush_onstop is deprecated (keepalived says so too): write lvs_flush_on_stop")
	}
}
