package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lvsctl/lvsctl/internal/notifyfifo"
	"github.com/lvsctl/lvsctl/internal/script"
)

// The notify FIFOs of global_defs, as keepalived 2.2.7 reads them
// (core/global_parser.c: notify_fifo, notify_fifo_script and their vrrp_
// and lvs_ variants, vrrp_notify_priority_changes,
// fifo_write_vrrp_states_on_reload, umask; core/global_data.c for the
// FIFOs that are one and the same; vrrp/vrrp_parser.c for the instances'
// and sync groups' notify_priority_changes). What keepalived ignores with
// a log line is refused here (rule 1).

// fifoKinds are the three FIFOs: the keyword prefix and where each lives.
var fifoKinds = []struct {
	prefix string
	get    func(g *GlobalDefs) **NotifyFIFO
}{
	{"", func(g *GlobalDefs) **NotifyFIFO { return &g.NotifyFIFO }},
	{"vrrp_", func(g *GlobalDefs) **NotifyFIFO { return &g.VRRPNotifyFIFO }},
	{"lvs_", func(g *GlobalDefs) **NotifyFIFO { return &g.LVSNotifyFIFO }},
}

// fifoKeywords are the global_defs entries of the FIFO keywords.
func (d *decoder) fifoKeywords(g *GlobalDefs) map[string]kw {
	out := map[string]kw{
		"vrrp_notify_priority_changes": {fn: func(n *node) { d.flag(n, &g.VRRPNotifyPriorityChanges) }},
		"fifo_write_vrrp_states_on_reload": {fn: func(n *node) {
			if len(n.args) > 0 {
				// global_parser.c reads no argument: "off" turns it on.
				d.diag.errorf(n.args[0].pos(), "fifo_write_vrrp_states_on_reload takes no value: keepalived would ignore %q and turn it on; delete the value, or the line to leave it off", n.args[0].text)
				return
			}
			if n.block {
				d.shape(n, false, 0, 0)
				return
			}
			g.FIFOWriteVRRPStatesOnReload = true
		}},
		"umask": {fn: func(n *node) { d.umask(n, g) }},
	}
	for _, k := range fifoKinds {
		dst := k.get(g)
		out[k.prefix+"notify_fifo"] = kw{fn: func(n *node) { d.notifyFIFO(n, dst) }}
		out[k.prefix+"notify_fifo_script"] = kw{fn: func(n *node) { d.notifyFIFOScript(n, dst) }}
	}
	return out
}

// notifyFIFO reads "notify_fifo PATH [USER [GROUP]]".
func (d *decoder) notifyFIFO(n *node, dst **NotifyFIFO) {
	if !d.shape(n, false, 1, 3) {
		return
	}
	if f := *dst; f != nil && f.Path != "" {
		// A second global_defs block (one block refuses repeats itself).
		d.diag.errorf(n.pos(), "%s given twice (first at %s); keepalived ignores this one", n.key.text, f.Pos)
		return
	}
	path := n.args[0].text
	if !filepath.IsAbs(path) {
		d.diag.errorf(n.args[0].pos(), "%s %q is not an absolute path: keepalived would make it in its working directory (/ as a daemon); write the full path", n.key.text, path)
		// Its script is not "without a FIFO" then: one problem, one error.
		if d.badFIFO == nil {
			d.badFIFO = map[**NotifyFIFO]bool{}
		}
		d.badFIFO[dst] = true
		return
	}
	f := *dst
	if f == nil {
		f = &NotifyFIFO{}
		*dst = f
	}
	f.Pos, f.Path = n.pos(), filepath.Clean(path)
	if len(n.args) > 1 {
		f.User = n.args[1].text
	}
	if len(n.args) > 2 {
		f.Group = n.args[2].text
	}
}

// notifyFIFOScript reads "notify_fifo_script CMD [USER [GROUP]]"
// (notify_script_init: a quoted command may be followed by its user).
func (d *decoder) notifyFIFOScript(n *node, dst **NotifyFIFO) {
	f := *dst
	if f == nil {
		f = &NotifyFIFO{}
		*dst = f
	}
	if !f.Script.IsZero() {
		d.diag.errorf(n.pos(), "%s given twice (first at %s); keepalived ignores this one", n.key.text, f.Script.Pos)
		return
	}
	d.script(n, &f.Script)
}

// umask reads keepalived's umask: a number (strtol base 0: 022, 0x12, 18)
// or bit names joined by "|" (IWGRP|IWOTH, spaces allowed).
func (d *decoder) umask(n *node, g *GlobalDefs) {
	if !d.shape(n, false, 1, -1) {
		return
	}
	d.umaskPos = n.pos()
	first := n.args[0]
	if first.text[0] >= '0' && first.text[0] <= '9' {
		if len(n.args) > 1 {
			d.diag.errorf(n.args[1].pos(), "umask: unexpected %q after the value", n.args[1].text)
			return
		}
		v, err := strconv.ParseInt(first.text, 0, 64)
		if strings.HasPrefix(first.text, "0o") || strings.HasPrefix(first.text, "0b") || strings.Contains(first.text, "_") {
			err = strconv.ErrSyntax // not C's strtol forms
		}
		if err != nil || v < 0 || v > 0o777 {
			d.diag.errorf(first.pos(), "umask: %q is not a mask 0..0777 (C notation: 022 octal, 0x12 hex, 18 decimal); keepalived would ignore the line", first.text)
			return
		}
		u := uint32(v)
		g.Umask = &u
		return
	}
	bits := map[string]uint32{"IRUSR": 0o400, "IWUSR": 0o200, "IXUSR": 0o100, "IRGRP": 0o040, "IWGRP": 0o020,
		"IXGRP": 0o010, "IROTH": 0o004, "IWOTH": 0o002, "IXOTH": 0o001}
	var u uint32
	var words []string
	for _, a := range n.args {
		words = append(words, a.text)
	}
	for part := range strings.SplitSeq(strings.Join(words, ""), "|") {
		b, ok := bits[part]
		if !ok {
			d.diag.errorf(first.pos(), "umask: %q is not a number or bit names joined by | (IRUSR IWUSR IXUSR IRGRP IWGRP IXGRP IROTH IWOTH IXOTH); keepalived would ignore the line", strings.Join(words, " "))
			return
		}
		u |= b
	}
	g.Umask = &u
}

// groupVS is a virtual_server that names a virtual_server_group.
type groupVS struct {
	pos  Position
	name string
}

// resolveFIFOs checks the FIFOs once global_defs and the virtual servers
// are read.
func (d *decoder) resolveFIFOs(cfg *Config) {
	g := &cfg.Global
	for _, k := range fifoKinds {
		dst := k.get(g)
		f := *dst
		if f == nil {
			continue
		}
		if f.Path == "" {
			*dst = nil
			if d.badFIFO[dst] {
				continue
			}
			// lib/notify.c fifo_open does nothing without a name.
			d.diag.errorf(f.Script.Pos, "%snotify_fifo_script without %snotify_fifo: keepalived would never run it; add %snotify_fifo PATH or delete the line", k.prefix, k.prefix, k.prefix)
			continue
		}
		if !f.Script.IsZero() {
			if _, err := script.Parse(f.Script.Command); err != nil {
				d.diag.errorf(f.Script.Pos, "%snotify_fifo_script: %v", k.prefix, err)
			}
		}
	}
	global, vrrp, lvs := g.NotifyFIFO, g.VRRPNotifyFIFO, g.LVSNotifyFIFO
	if global != nil {
		for _, x := range []struct {
			f      *NotifyFIFO
			prefix string
		}{{vrrp, "vrrp_"}, {lvs, "lvs_"}} {
			if x.f != nil && x.f.Path == global.Path {
				// core/global_data.c: "notify FIFO %s has been specified
				// for global and vrrp FIFO - ignoring vrrp FIFO".
				d.diag.errorf(x.f.Pos, "%snotify_fifo %s is notify_fifo's FIFO (%s), which gets these lines already: keepalived would ignore %snotify_fifo and its script; delete them, or name another FIFO", x.prefix, x.f.Path, global.Pos, x.prefix)
			}
		}
	}
	if vrrp != nil && lvs != nil && vrrp.Path == lvs.Path && !vrrp.Script.IsZero() && !lvs.Script.IsZero() {
		d.diag.errorf(lvs.Script.Pos, "lvs_notify_fifo %s is vrrp_notify_fifo's FIFO, and both have a script: keepalived would ignore lvs_notify_fifo_script; one script reads both kinds of lines, delete one", lvs.Path)
	}
	if len(d.groupVS) > 0 {
		gv := d.groupVS[0]
		for _, f := range []struct {
			f   *NotifyFIFO
			key string
		}{{global, "notify_fifo"}, {lvs, "lvs_notify_fifo"}} {
			if f.f != nil {
				d.diag.errorf(f.f.Pos, "%s is a keepalived feature lvsctl does not support with virtual_server group %s (%s): keepalived writes one line per group virtual server (\"VS [%s]:0 UP\"), lvsctl runs one virtual server per member of the group; use virtual servers of their own, or notify_up/notify_down and quorum_up/quorum_down scripts", f.key, gv.name, gv.pos, gv.name)
			}
		}
	}
	if g.Umask != nil && global == nil && vrrp == nil && lvs == nil {
		d.diag.warnf(d.umaskPos, "umask sets only the mode of the notify FIFOs lvsctl creates (lvsctl's own files have their own modes), and this file has none: delete the line")
	}
}

// resolveFIFOUsers resolves who owns each FIFO lvsctl creates and who runs
// its script (resolveScriptUsers' rules; resolve and def are its).
func resolveFIFOUsers(g *GlobalDefs, diag *diagnostics, lookup LookupUser, def func() (script.As, bool), resolve func(*Script, string, string)) {
	for _, k := range fifoKinds {
		f := *k.get(g)
		if f == nil {
			continue
		}
		resolve(&f.Script, "", "")
		if f.User == "" {
			// core/global_parser.c: get_default_script_user. Root (not
			// Set) leaves the FIFO lvsctl's.
			if as, ok := def(); ok {
				f.Owner = as
			}
			continue
		}
		uid, gid, err := lookup(f.User, f.Group)
		if err != nil {
			diag.errorf(f.Pos, "%snotify_fifo %s: %v: keepalived would not use this FIFO", k.prefix, f.Path, err)
			continue
		}
		f.Owner = script.As{Set: true, User: f.User, Group: groupName(f.Group, gid), UID: uid, GID: gid}
	}
}

// NotifyFIFOs is the file's notify FIFOs, every one of them; a daemon
// keeps those of the parts it runs (notifyfifo.Config.Only).
func (c *Config) NotifyFIFOs() notifyfifo.Config {
	g := &c.Global
	out := notifyfifo.Config{Mode: notifyfifo.DefaultMode}
	if g.Umask != nil {
		out.Mode = os.FileMode(0o644 &^ *g.Umask)
	}
	conv := func(f *NotifyFIFO) *notifyfifo.FIFO {
		if f == nil {
			return nil
		}
		nf := &notifyfifo.FIFO{Path: f.Path, Owner: f.Owner}
		if !f.Script.IsZero() {
			// The line parses: resolveFIFOs refused it otherwise.
			if cmd, err := script.Parse(f.Script.Command); err == nil {
				cmd.As = f.Script.As
				nf.Script = &cmd
			}
		}
		return nf
	}
	out.Global, out.VRRP, out.LVS = conv(g.NotifyFIFO), conv(g.VRRPNotifyFIFO), conv(g.LVSNotifyFIFO)
	return out
}

// resolvePriorityChanges gives every instance its notify_priority_changes:
// its own, else its sync group's, else vrrp_notify_priority_changes
// (keepalived 2.2.7 vrrp/vrrp.c vrrp_complete_instance).
func resolvePriorityChanges(cfg *Config, instances []*instanceDraft) {
	groupOf := map[string]*VRRPSyncGroup{}
	for i := range cfg.VRRPSyncGroups {
		g := &cfg.VRRPSyncGroups[i]
		for _, m := range g.Group {
			if _, ok := groupOf[m.Name]; !ok {
				groupOf[m.Name] = g
			}
		}
	}
	for i := range cfg.VRRPInstances {
		in := &cfg.VRRPInstances[i]
		v := cfg.Global.VRRPNotifyPriorityChanges
		if g := groupOf[in.Name]; g != nil && g.NotifyPriorityChanges != nil {
			v = *g.NotifyPriorityChanges
		}
		if i < len(instances) && instances[i].prioChanges != nil {
			v = *instances[i].prioChanges
		}
		in.NotifyPriorityChanges = v
	}
}
