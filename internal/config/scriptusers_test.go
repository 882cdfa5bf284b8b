package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/internal/script"
)

// fakeUsers knows alice (1001:1001), bob (1002:1002), the group staff (50)
// and, when withDefault, keepalived_script (999:999).
func fakeUsers(withDefault bool) LookupUser {
	return func(name, group string) (uint32, uint32, error) {
		users := map[string]uint32{"alice": 1001, "bob": 1002, "root": 0}
		if withDefault {
			users[defaultScriptUser] = 999
		}
		uid, ok := users[name]
		if !ok {
			return 0, 0, fmt.Errorf("user %q: %w", name, errNoUser)
		}
		gid := uid
		if group != "" {
			if group != "staff" {
				return 0, 0, fmt.Errorf("group %q: %w", group, errNoUser)
			}
			gid = 50
		}
		return uid, gid, nil
	}
}

func parseUsers(t *testing.T, src string, lookup LookupUser) (*Config, error) {
	t.Helper()
	cfg, _, err := Parse("/etc/keepalived/t.conf", []byte(src), Options{FS: memFS{}, LookupUser: lookup})
	return cfg, err
}

const usersConf = `global_defs {
    %s
}
vrrp_script chk {
    script "/bin/true"
    %s
}
vrrp_instance VI {
    interface eth0
    virtual_router_id 1
    priority 100
    notify_master "/etc/k/master.sh arg" %s
    notify_backup "/etc/k/backup.sh"
}
virtual_server 192.0.2.1 80 {
    protocol TCP
    quorum_up "/etc/k/up.sh" bob staff
    real_server 192.0.2.2 80 {
        MISC_CHECK {
            misc_path "/etc/k/check.sh"
            %s
        }
    }
}
`

func TestScriptUsersResolved(t *testing.T) {
	cfg, err := parseUsers(t, fmt.Sprintf(usersConf, "script_user alice", "user bob", "bob staff", "user root"), fakeUsers(true))
	require.NoError(t, err)
	alice := script.As{Set: true, User: "alice", Group: "1001", UID: 1001, GID: 1001}
	assert.Equal(t, script.As{Set: true, User: "bob", Group: "1002", UID: 1002, GID: 1002}, cfg.VRRPScripts[0].Script.As)
	in := cfg.VRRPInstances[0]
	assert.Equal(t, "/etc/k/master.sh arg", in.NotifyMaster.Command, "the user after the quoted command is not part of it")
	assert.Equal(t, script.As{Set: true, User: "bob", Group: "staff", UID: 1002, GID: 50}, in.NotifyMaster.As)
	assert.Equal(t, alice, in.NotifyBackup.As, "script_user is the default")
	vs := cfg.VirtualServers[0]
	assert.Equal(t, script.As{Set: true, User: "bob", Group: "staff", UID: 1002, GID: 50}, vs.QuorumUp.As)
	assert.Equal(t, script.As{Set: true, User: "root", Group: "0", UID: 0, GID: 0}, vs.RealServers[0].Checkers[0].Misc.Path.As)

	// Without script_user: keepalived_script when it exists, else root.
	cfg, err = parseUsers(t, fmt.Sprintf(usersConf, "", "", "", ""), fakeUsers(true))
	require.NoError(t, err)
	assert.Equal(t, script.As{Set: true, User: defaultScriptUser, Group: "999", UID: 999, GID: 999}, cfg.VRRPInstances[0].NotifyBackup.As)
	cfg, err = parseUsers(t, fmt.Sprintf(usersConf, "", "", "", ""), fakeUsers(false))
	require.NoError(t, err)
	assert.Equal(t, script.As{}, cfg.VRRPInstances[0].NotifyBackup.As, "root: lvsctl's own user")
	_, warns, err := Parse("/etc/keepalived/t.conf", []byte(fmt.Sprintf(usersConf, "", "", "", "")), Options{FS: memFS{}, LookupUser: fakeUsers(false)})
	require.NoError(t, err)
	var root []string
	for _, w := range warns {
		if strings.Contains(w.String(), "runs as root") {
			root = append(root, w.String())
		}
	}
	require.Len(t, root, 1, "one warning per file")
	assert.Contains(t, root[0], "t.conf:5:12: warning: /bin/true runs as root without enable_script_security")

	// The dump keeps the user after the command.
	cfg, err = parseUsers(t, fmt.Sprintf(usersConf, "", "", "bob staff", ""), fakeUsers(true))
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, WriteText(&b, cfg))
	assert.Contains(t, b.String(), `notify_master "/etc/k/master.sh arg" bob staff`)
	assert.Contains(t, b.String(), `quorum_up "/etc/k/up.sh" bob staff`)
}

func TestScriptUsersUnknown(t *testing.T) {
	_, err := parseUsers(t, fmt.Sprintf(usersConf, "script_user nobody-here", "user carol", "bob nogroup", "user dave"), fakeUsers(true))
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, `t.conf:2:17: script_user: user "nobody-here"`)
	assert.Contains(t, msg, `t.conf:5:12: /bin/true: user "carol"`)
	assert.Contains(t, msg, `t.conf:12:19: /etc/k/master.sh arg: group "nogroup"`)
	assert.Contains(t, msg, `t.conf:20:23: /etc/k/check.sh: user "dave"`)

	_, err = parseUsers(t, fmt.Sprintf(usersConf, "enable_script_security", "", "", ""), fakeUsers(false))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "t.conf:2:5: enable_script_security: no script_user and no keepalived_script user")
}

// TestScriptSecurityAtLoad: with enable_script_security a root script in a
// world-writable place is refused at load, where keepalived disables it.
func TestScriptSecurityAtLoad(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root-owned files: run the tests as root (make test does)")
	}
	dir, err := os.MkdirTemp("", "lvsctl-cfg-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	sh := filepath.Join(dir, "n.sh")
	require.NoError(t, os.WriteFile(sh, []byte("#!/bin/sh\n"), 0o755))
	require.NoError(t, os.Chmod(sh, 0o757))
	src := "global_defs {\n    enable_script_security\n    script_user root\n}\nvrrp_instance VI {\n    interface eth0\n    virtual_router_id 1\n    priority 100\n    notify \"" + sh + "\"\n}\n"
	_, err = parseUsers(t, src, fakeUsers(false))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "t.conf:9:12: enable_script_security: "+sh)
	assert.ErrorContains(t, err, "writable by non-root")

	require.NoError(t, os.Chmod(sh, 0o755))
	cfg, err := parseUsers(t, src, fakeUsers(false))
	require.NoError(t, err)
	assert.True(t, cfg.VRRPInstances[0].Notify.As.Secure)
}

// TestScriptUsersReachDesired: the resolved users reach every consumer
// through config.Desired (director, checks, VRRP).
func TestScriptUsersReachDesired(t *testing.T) {
	cfg, err := parseUsers(t, fmt.Sprintf(usersConf, "script_user alice", "user bob", "bob staff", "user root"), fakeUsers(true))
	require.NoError(t, err)
	d, err := cfg.Desired()
	require.NoError(t, err)
	bobStaff := script.As{Set: true, User: "bob", Group: "staff", UID: 1002, GID: 50}
	assert.Equal(t, bobStaff, d.Director.Services[0].QuorumUp.As)
	assert.Equal(t, "/etc/k/up.sh", d.Director.Services[0].QuorumUp.Line)
	require.Len(t, d.Checks, 1)
	require.NotEmpty(t, d.Checks[0].Checks)
	assert.Equal(t, uint32(0), d.Checks[0].Checks[0].Misc.As.UID)
	assert.True(t, d.Checks[0].Checks[0].Misc.As.Set)
	assert.Equal(t, bobStaff, d.VRRP.Instances[0].Notify.As.Master)
	assert.Equal(t, uint32(1001), d.VRRP.Instances[0].Notify.As.Backup.UID)
	assert.Equal(t, uint32(1002), d.VRRP.Scripts[0].As.UID)
}

// TestHASuspendDesired: ha_suspend virtual servers reach the daemon with
// their address and their checked real servers.
func TestHASuspendDesired(t *testing.T) {
	src := `virtual_server 192.0.2.1 80 {
    protocol TCP
    ha_suspend
    real_server 192.0.2.2 80 {
        TCP_CHECK {
        }
    }
    real_server 192.0.2.3 80 {
    }
}
virtual_server 192.0.2.9 80 {
    protocol TCP
    real_server 192.0.2.2 80 {
        TCP_CHECK {
        }
    }
}
`
	cfg, err := parseUsers(t, src, fakeUsers(false))
	require.NoError(t, err)
	d, err := cfg.Desired()
	require.NoError(t, err)
	require.Len(t, d.HASuspend, 1)
	assert.Equal(t, "192.0.2.1", d.HASuspend[0].Addr.String())
	require.Len(t, d.HASuspend[0].Servers, 1, "only checked servers have checks to suspend")
	assert.Equal(t, "192.0.2.2", d.HASuspend[0].Servers[0].Real.Addr.String())
}

// TestPingCheckParsed: PING_CHECK (keepalived check/check_ping.c) takes
// the checker's common keywords and pings the address only.
func TestPingCheckParsed(t *testing.T) {
	src := `virtual_server 192.0.2.1 80 {
    protocol TCP
    real_server 192.0.2.2 80 {
        PING_CHECK {
            connect_ip 192.0.2.7
            connect_timeout 2
            retry 4
        }
    }
}
`
	cfg, err := parseUsers(t, src, fakeUsers(false))
	require.NoError(t, err)
	d, err := cfg.Desired()
	require.NoError(t, err)
	s := d.Checks[0].Checks[0]
	assert.Equal(t, "PING_CHECK", s.Kind.String())
	assert.Equal(t, "192.0.2.7", s.Target())
	assert.Equal(t, 4, s.Retry)
	assert.Equal(t, "2s", s.ConnectTimeout.String())
	var b strings.Builder
	require.NoError(t, WriteText(&b, cfg))
	back, err := parseUsers(t, b.String(), fakeUsers(false))
	require.NoError(t, err, b.String())
	assert.Equal(t, cfg.VirtualServers[0].RealServers[0].Checkers[0].Type, back.VirtualServers[0].RealServers[0].Checkers[0].Type)
}

// TestUDPCheckParsed: UDP_CHECK's keywords (keepalived check/check_udp.c)
// and hex strings (lib/parser.c read_hex_str) reach the checker, and the
// dump loads back to the same values.
func TestUDPCheckParsed(t *testing.T) {
	src := `virtual_server 192.0.2.1 53 {
    protocol UDP
    real_server 192.0.2.2 53 {
        UDP_CHECK {
            payload 0a 1b2c d
            require_reply ab Xc 1
            min_reply_length 2
            max_reply_length 512
        }
    }
}
`
	cfg, err := parseUsers(t, src, fakeUsers(false))
	require.NoError(t, err)
	d, err := cfg.Desired()
	require.NoError(t, err)
	s := d.Checks[0].Checks[0]
	require.NotNil(t, s.UDP)
	assert.Equal(t, []byte{0x0a, 0x1b, 0x2c, 0x0d}, s.UDP.Payload)
	assert.Equal(t, []byte{0xab, 0x0c, 0x01}, s.UDP.Reply)
	assert.Equal(t, []byte{0, 0xf0, 0}, s.UDP.ReplyMask)
	assert.True(t, s.UDP.RequireReply)
	assert.Equal(t, [2]int{2, 512}, [2]int{s.UDP.MinReply, s.UDP.MaxReply})
	var b strings.Builder
	require.NoError(t, WriteText(&b, cfg))
	back, err := parseUsers(t, b.String(), fakeUsers(false))
	require.NoError(t, err, b.String())
	assert.Equal(t, cfg.VirtualServers[0].RealServers[0].Checkers[0].UDP, back.VirtualServers[0].RealServers[0].Checkers[0].UDP)

	_, err = parseUsers(t, strings.Replace(src, "payload 0a 1b2c d", "payload 0g", 1), fakeUsers(false))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `t.conf:5:21: payload: 'g' is not a hex digit`)
	_, err = parseUsers(t, strings.Replace(src, "min_reply_length 2", "min_reply_length 600", 1), fakeUsers(false))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "min_reply_length 600 > max_reply_length 512")
}

// TestDNSCheckParsed: DNS_CHECK's type and name (keepalived
// check/check_dns.c) and its own defaults: SOA of the root, retry 3,
// delay_before_retry = delay_loop.
func TestDNSCheckParsed(t *testing.T) {
	src := `virtual_server 192.0.2.1 53 {
    protocol UDP
    delay_loop 7
    real_server 192.0.2.2 53 {
        DNS_CHECK {
        }
        DNS_CHECK {
            type aaaa
            name www.example.com
            retry 1
            delay_before_retry 2
        }
    }
}
`
	cfg, err := parseUsers(t, src, fakeUsers(false))
	require.NoError(t, err)
	d, err := cfg.Desired()
	require.NoError(t, err)
	def, own := d.Checks[0].Checks[0], d.Checks[0].Checks[1]
	assert.Equal(t, "DNS_CHECK", def.Kind.String())
	assert.Equal(t, uint16(6), def.DNS.Type)
	assert.Equal(t, "", def.DNS.Name)
	assert.Equal(t, 3, def.Retry)
	assert.Equal(t, "7s", def.DelayBeforeRetry.String())
	assert.Equal(t, uint16(28), own.DNS.Type)
	assert.Equal(t, "www.example.com", own.DNS.Name)
	assert.Equal(t, [2]any{1, "2s"}, [2]any{own.Retry, own.DelayBeforeRetry.String()})
	var b strings.Builder
	require.NoError(t, WriteText(&b, cfg))
	back, err := parseUsers(t, b.String(), fakeUsers(false))
	require.NoError(t, err, b.String())
	assert.Equal(t, cfg.VirtualServers[0].RealServers[0].Checkers[1].DNS, back.VirtualServers[0].RealServers[0].Checkers[1].DNS)

	_, err = parseUsers(t, strings.Replace(strings.Replace(src, "type aaaa", "type PTR", 1), "www.example.com", "a..b", 1), fakeUsers(false))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `t.conf:8:18: type: unknown DNS_CHECK type "PTR"`)
	assert.Contains(t, err.Error(), `t.conf:9:18: name: "a..b" has an empty label`)
}

// startup_script / shutdown_script (keepalived 2.2.7 global_parser.c): a
// quoted command with its user and group, timeouts 1..1000 s (default 10),
// resolved like every script, written back by WriteText.
func TestStartupShutdownScripts(t *testing.T) {
	src := "global_defs {\n startup_script \"/etc/k/up.sh now\" alice staff\n shutdown_script /etc/k/down.sh\n shutdown_script_timeout 30\n}\n"
	cfg, err := parseUsers(t, src, fakeUsers(true))
	require.NoError(t, err)
	up, down := cfg.StartupScript(), cfg.ShutdownScript()
	assert.Equal(t, "/etc/k/up.sh now", up.Command)
	assert.Equal(t, script.As{Set: true, User: "alice", Group: "staff", UID: 1001, GID: 50}, up.As)
	assert.Equal(t, 10*time.Second, up.Timeout, "keepalived's default")
	assert.Equal(t, "/etc/k/down.sh", down.Command)
	assert.Equal(t, defaultScriptUser, down.As.User, "no user named: the default script user")
	assert.Equal(t, 30*time.Second, down.Timeout)
	d, err := cfg.Desired()
	require.NoError(t, err)
	assert.Equal(t, up, d.Startup)
	assert.Equal(t, down, d.Shutdown)

	var b strings.Builder
	require.NoError(t, WriteText(&b, cfg))
	again, err := parseUsers(t, b.String(), fakeUsers(true))
	require.NoError(t, err, b.String())
	assert.Equal(t, up, again.StartupScript())
	assert.Equal(t, down, again.ShutdownScript())

	for _, tc := range []struct{ line, want string }{
		{"startup_script_timeout 0", "t.conf:2:25: startup_script_timeout"},
		{"shutdown_script_timeout 1001", "t.conf:2:26: shutdown_script_timeout"},
		{"startup_script /etc/k/up.sh now", `t.conf:2:30: startup_script: keepalived would run only "/etc/k/up.sh" and read "now" as the user to run it as`},
		{"startup_script \"/a\"\n startup_script \"/b\"", "t.conf:3:2: startup_script given twice (first at 2:17); keepalived reports it and runs the first one"},
	} {
		_, err := parseUsers(t, "global_defs {\n "+tc.line+"\n}\n", fakeUsers(true))
		require.Error(t, err, tc.line)
		assert.Contains(t, err.Error(), tc.want, tc.line)
	}
}
