package config

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"

	"github.com/lvsctl/lvsctl/internal/script"
)

// LookupUser resolves a user name, and a group name when given, to the
// ids a script runs with: the user's primary group unless group is set.
type LookupUser func(name, group string) (uid, gid uint32, err error)

// defaultScriptUser is the user keepalived runs scripts as when the file
// names none and it exists (lib/notify.c, get_default_script_user).
const defaultScriptUser = "keepalived_script"

// errNoUser is wrapped by LookupOSUser when the user or group does not exist.
var errNoUser = errors.New("no such user or group")

// LookupOSUser resolves names in this host's user database, as
// keepalived's set_uid_gid does with getpwnam_r/getgrnam_r.
func LookupOSUser(name, group string) (uint32, uint32, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, fmt.Errorf("user %q: %w", name, errors.Join(errNoUser, err))
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("user %q: uid %q: %w", name, u.Uid, err)
	}
	gidText := u.Gid
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return 0, 0, fmt.Errorf("group %q: %w", group, errors.Join(errNoUser, err))
		}
		gidText = g.Gid
	}
	gid, err := strconv.ParseUint(gidText, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("user %q: gid %q: %w", name, gidText, err)
	}
	return uint32(uid), uint32(gid), nil
}

// resolveScriptUsers fills Script.As for every script of cfg, following
// keepalived 2.2.7 (lib/notify.c: notify_script_init, set_uid_gid,
// get_default_script_user; check/check_misc.c: misc_user_handler,
// misc_end_handler; vrrp/vrrp_parser.c: vrrp_vscript_user_handler): a
// script's own user, else script_user, else keepalived_script when that
// user exists, else root. keepalived drops a script whose user does not
// resolve (with a log line); lvsctl refuses the file at the user's
// position instead (rule 1). With enable_script_security, keepalived
// disables scripts that run as root from a path a non-root user can
// modify (check_script_secure): lvsctl refuses them here, and the runner
// checks again before each run (package script).
func resolveScriptUsers(cfg *Config, diag *diagnostics, lookup LookupUser) {
	if lookup == nil {
		lookup = LookupOSUser
	}
	g := &cfg.Global
	secure := g.EnableScriptSecurity
	// The default user, resolved once and only when a script needs it.
	var (
		defAs      script.As
		defDone    bool
		defFailed  bool
		warnedRoot bool
	)
	def := func() (script.As, bool) {
		if !defDone {
			defDone = true
			switch {
			case g.ScriptUser != "":
				uid, gid, err := lookup(g.ScriptUser, g.ScriptGroup)
				if err != nil {
					diag.errorf(g.ScriptUserPos, "script_user: %v (keepalived would not run any script that names no user)", err)
					defFailed = true
					break
				}
				defAs = script.As{Set: true, User: g.ScriptUser, Group: groupName(g.ScriptGroup, gid), UID: uid, GID: gid}
			default:
				if uid, gid, err := lookup(defaultScriptUser, ""); err == nil {
					defAs = script.As{Set: true, User: defaultScriptUser, Group: groupName("", gid), UID: uid, GID: gid}
				} else if secure {
					diag.errorf(g.ScriptSecurityPos, "enable_script_security: no script_user and no %s user to run scripts as (keepalived would not run any script that names no user): add \"script_user USER\" or create the %s user", defaultScriptUser, defaultScriptUser)
					defFailed = true
				}
			}
		}
		return defAs, !defFailed
	}
	resolve := func(s *Script, user, group string) {
		if s.IsZero() {
			return
		}
		if user == "" {
			user, group = s.User, s.Group
		}
		var as script.As
		if user != "" {
			uid, gid, err := lookup(user, group)
			if err != nil {
				diag.errorf(s.Pos, "%s: %v: keepalived would not run this script", s.Command, err)
				return
			}
			as = script.As{Set: true, User: user, Group: groupName(group, gid), UID: uid, GID: gid}
		} else {
			var ok bool
			if as, ok = def(); !ok {
				return
			}
		}
		as.Secure = secure
		s.As = as
		if !secure && (!as.Set || as.UID == 0) && !warnedRoot {
			// keepalived logs "SECURITY VIOLATION - scripts are being
			// executed but script_security not enabled" (vrrp/vrrp.c,
			// check/check_data.c): once per file here too.
			warnedRoot = true
			diag.warnf(s.Pos, "%s runs as root without enable_script_security (keepalived warns too: SECURITY VIOLATION); add \"script_user USER\" or a %s user, and enable_script_security", s.Command, defaultScriptUser)
		}
		if secure {
			c, err := script.Parse(s.Command)
			if err != nil {
				return // reported where the line is used
			}
			c.As = as
			if err := script.Secure(c); err != nil {
				diag.errorf(s.Pos, "enable_script_security: %v; keepalived would disable this script: make the file and every directory above it writable by root only", err)
			}
		}
	}
	notify := func(ss ...*Script) {
		for _, s := range ss {
			resolve(s, "", "")
		}
	}
	notify(&g.StartupScript, &g.ShutdownScript)
	for i := range cfg.VRRPScripts {
		s := &cfg.VRRPScripts[i]
		resolve(&s.Script, s.User, s.Group)
	}
	for i := range cfg.VRRPSyncGroups {
		x := &cfg.VRRPSyncGroups[i]
		notify(&x.NotifyMaster, &x.NotifyBackup, &x.NotifyFault, &x.NotifyStop, &x.Notify)
	}
	for i := range cfg.VRRPInstances {
		x := &cfg.VRRPInstances[i]
		notify(&x.NotifyMaster, &x.NotifyBackup, &x.NotifyFault, &x.NotifyStop, &x.Notify)
	}
	resolveFIFOUsers(g, diag, lookup, def, resolve)
	for i := range cfg.VirtualServers {
		vs := &cfg.VirtualServers[i]
		notify(&vs.QuorumUp, &vs.QuorumDown)
		for j := range vs.RealServers {
			rs := &vs.RealServers[j]
			notify(&rs.NotifyUp, &rs.NotifyDown)
			for k := range rs.Checkers {
				if m := rs.Checkers[k].Misc; m != nil {
					resolve(&m.Path, m.User, m.Group)
				}
			}
		}
	}
}

// groupName is the group as named, or its id when the user's primary
// group was used (for logs only).
func groupName(group string, gid uint32) string {
	if group != "" {
		return group
	}
	return strconv.FormatUint(uint64(gid), 10)
}
