package config

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/internal/notifyfifo"
	"github.com/lvsctl/lvsctl/internal/script"
)

const fifoConf = `global_defs {
    script_user alice
%s
}
vrrp_sync_group VG_1 {
    group {
        VI_1
        VI_2
    }
%s
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
%s
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 2
}
vrrp_instance VI_3 {
    interface eth0
    virtual_router_id 3
}
virtual_server 192.0.2.1 80 {
    protocol TCP
    real_server 192.0.2.8 80 {
    }
}
`

func fifoFile(global, group, instance string) string {
	out := fifoConf
	for _, p := range []string{global, group, instance} {
		out = strings.Replace(out, "%s", p, 1)
	}
	return out
}

func parseFIFO(t *testing.T, src string) (*Config, []Diagnostic, error) {
	t.Helper()
	return Parse("/etc/keepalived/t.conf", []byte(src), Options{FS: memFS{}, LookupUser: fakeUsers(false)})
}

// Every FIFO keyword as keepalived 2.2.7's global_parser.c reads it, with
// the owners and users resolved as its notify_fifo and notify_script_init
// do; the dump spells it out and loads back the same, in text and JSON.
func TestNotifyFIFODecode(t *testing.T) {
	src := fifoFile(`    notify_fifo /run/keepalived/all.fifo
    notify_fifo_script "/usr/local/bin/all.sh -v" bob staff
    vrrp_notify_fifo /run/keepalived/vrrp.fifo bob
    vrrp_notify_fifo_script /usr/local/bin/vrrp.sh
    lvs_notify_fifo /run//keepalived/lvs.fifo bob staff
    vrrp_notify_priority_changes
    fifo_write_vrrp_states_on_reload
    umask IWGRP|IWOTH | IXOTH`, "    notify_priority_changes off", "    notify_priority_changes on")
	cfg, warns, err := parseFIFO(t, src)
	require.NoError(t, err)
	for _, w := range warns {
		assert.NotContains(t, w.String(), "fifo")
	}
	g := cfg.Global
	alice := script.As{Set: true, User: "alice", Group: "1001", UID: 1001, GID: 1001}
	bob := script.As{Set: true, User: "bob", Group: "1002", UID: 1002, GID: 1002}
	bobStaff := script.As{Set: true, User: "bob", Group: "staff", UID: 1002, GID: 50}
	require.NotNil(t, g.NotifyFIFO)
	assert.Equal(t, "/etc/keepalived/t.conf:3:5", g.NotifyFIFO.Pos.String())
	assert.Equal(t, "/run/keepalived/all.fifo", g.NotifyFIFO.Path)
	assert.Equal(t, alice, g.NotifyFIFO.Owner, "no user: script_user, as keepalived's get_default_script_user")
	assert.Equal(t, "/usr/local/bin/all.sh -v", g.NotifyFIFO.Script.Command)
	assert.Equal(t, "/etc/keepalived/t.conf:4:24", g.NotifyFIFO.Script.Pos.String())
	assert.Equal(t, bobStaff, g.NotifyFIFO.Script.As)
	require.NotNil(t, g.VRRPNotifyFIFO)
	assert.Equal(t, bob, g.VRRPNotifyFIFO.Owner)
	assert.Equal(t, alice, g.VRRPNotifyFIFO.Script.As)
	require.NotNil(t, g.LVSNotifyFIFO)
	assert.Equal(t, "/run/keepalived/lvs.fifo", g.LVSNotifyFIFO.Path, "cleaned")
	assert.Equal(t, bobStaff, g.LVSNotifyFIFO.Owner)
	assert.True(t, g.LVSNotifyFIFO.Script.IsZero())
	assert.True(t, g.VRRPNotifyPriorityChanges)
	assert.True(t, g.FIFOWriteVRRPStatesOnReload)
	require.NotNil(t, g.Umask)
	assert.Equal(t, uint32(0o023), *g.Umask)

	// notify_priority_changes: the instance's, else its group's, else
	// the global one (vrrp.c vrrp_complete_instance).
	byName := map[string]bool{}
	for _, in := range cfg.VRRPInstances {
		byName[in.Name] = in.NotifyPriorityChanges
	}
	assert.Equal(t, map[string]bool{"VI_1": true, "VI_2": false, "VI_3": true}, byName)

	f := cfg.NotifyFIFOs()
	assert.Equal(t, os.FileMode(0o644&^0o023), f.Mode)
	require.NotNil(t, f.Global.Script)
	assert.Equal(t, []string{"/usr/local/bin/all.sh", "-v"}, f.Global.Script.Argv)
	assert.Equal(t, bobStaff, f.Global.Script.As)
	assert.Nil(t, f.LVS.Script)
	require.NoError(t, f.Validate())
	v := cfg.VRRP()
	assert.True(t, v.StatesOnReload)
	assert.True(t, v.Instances[0].NotifyPriorityChanges)
	assert.False(t, v.Instances[1].NotifyPriorityChanges)

	// Text and JSON dumps load back the same.
	var b bytes.Buffer
	require.NoError(t, WriteText(&b, cfg))
	again, _, err := parseFIFO(t, b.String())
	require.NoError(t, err, b.String())
	assert.Equal(t, stripPos(t, cfg), stripPos(t, again), b.String())
	j, err := json.Marshal(cfg)
	require.NoError(t, err)
	var back Config
	require.NoError(t, json.Unmarshal(j, &back))
	assert.Equal(t, cfg.Global, back.Global)
}

// Without FIFOs nothing changes: mode 0600 (keepalived's 0644 under its
// umask 0177), priority changes and states on reload reach no node, and
// a daemon keeps the FIFOs of the parts it runs.
func TestNotifyFIFODefaultsAndSelection(t *testing.T) {
	cfg, _, err := parseFIFO(t, fifoFile("", "", ""))
	require.NoError(t, err)
	assert.True(t, cfg.NotifyFIFOs().Empty())
	assert.Equal(t, notifyfifo.DefaultMode, cfg.NotifyFIFOs().Mode)

	cfg, _, err = parseFIFO(t, fifoFile("    vrrp_notify_priority_changes\n    fifo_write_vrrp_states_on_reload", "", ""))
	require.NoError(t, err)
	assert.False(t, cfg.VRRP().StatesOnReload, "no FIFO, nobody to tell")
	assert.False(t, cfg.VRRP().Instances[0].NotifyPriorityChanges)

	cfg, _, err = parseFIFO(t, fifoFile("    notify_fifo /run/a\n    vrrp_notify_fifo /run/v\n    lvs_notify_fifo /run/l\n    umask 022", "", ""))
	require.NoError(t, err)
	d, err := cfg.Desired()
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), d.FIFOs.Mode)
	for _, c := range []struct {
		vrrp, lvs bool
		want      []string
	}{
		{true, true, []string{"/run/a", "/run/v", "/run/l"}},
		{true, false, []string{"/run/a", "/run/v", ""}},
		{false, true, []string{"/run/a", "", "/run/l"}},
		{false, false, []string{"", "", ""}},
	} {
		f := d.FIFOs.Only(c.vrrp, c.lvs)
		var got []string
		for _, x := range []*notifyfifo.FIFO{f.Global, f.VRRP, f.LVS} {
			if x == nil {
				got = append(got, "")
			} else {
				got = append(got, x.Path)
			}
		}
		assert.Equal(t, c.want, got, "vrrp=%t lvs=%t", c.vrrp, c.lvs)
	}
}

// What keepalived ignores with a log line is refused at its position
// (rule 1), and what lvsctl cannot do is refused with the reason (rule 3).
func TestNotifyFIFOErrors(t *testing.T) {
	for _, c := range []struct {
		global string
		tail   string
		want   []string
	}{
		{global: "    vrrp_notify_fifo_script /bin/cat", want: []string{
			"3:29: vrrp_notify_fifo_script without vrrp_notify_fifo: keepalived would never run it"}},
		{global: "    notify_fifo run/n.fifo\n    notify_fifo_script /bin/cat", want: []string{
			`3:17: notify_fifo "run/n.fifo" is not an absolute path: keepalived would make it in its working directory`}},
		{global: "    notify_fifo /run/n.fifo\n    vrrp_notify_fifo /run/n.fifo", want: []string{
			"4:5: vrrp_notify_fifo /run/n.fifo is notify_fifo's FIFO (/etc/keepalived/t.conf:3:5), which gets these lines already: keepalived would ignore vrrp_notify_fifo and its script"}},
		{global: "    notify_fifo /run/n.fifo\n    lvs_notify_fifo /run/./n.fifo", want: []string{
			"4:5: lvs_notify_fifo /run/n.fifo is notify_fifo's FIFO"}},
		{global: "    vrrp_notify_fifo /run/n.fifo\n    vrrp_notify_fifo_script /bin/cat\n    lvs_notify_fifo /run/n.fifo\n    lvs_notify_fifo_script /bin/cat", want: []string{
			"6:28: lvs_notify_fifo /run/n.fifo is vrrp_notify_fifo's FIFO, and both have a script: keepalived would ignore lvs_notify_fifo_script"}},
		{global: "    notify_fifo /run/n.fifo nosuchuser", want: []string{
			`3:5: notify_fifo /run/n.fifo: user "nosuchuser": no such user or group: keepalived would not use this FIFO`}},
		{global: "    notify_fifo /run/n.fifo bob wheel", want: []string{`3:5: notify_fifo /run/n.fifo: group "wheel"`}},
		{global: "    notify_fifo /run/n.fifo bob staff extra", want: []string{`3:39: notify_fifo takes 1 to 3 arguments; unexpected "extra"`}},
		{global: "    notify_fifo /run/n.fifo\n    notify_fifo_script /bin/cat alice", want: []string{
			`4:33: notify_fifo_script: keepalived would run only "/bin/cat" and read "alice" as the user to run it as: quote the whole command`}},
		{global: "    notify_fifo /run/n.fifo\n    notify_fifo_script \"/bin/cat 'x\"", want: []string{"4:24: notify_fifo_script: script"}},
		{global: "    fifo_write_vrrp_states_on_reload off", want: []string{
			`3:38: fifo_write_vrrp_states_on_reload takes no value: keepalived would ignore "off" and turn it on`}},
		{global: "    umask 0999", want: []string{`3:11: umask: "0999" is not a mask 0..0777`}},
		{global: "    umask 0o22", want: []string{`3:11: umask: "0o22" is not a mask`}},
		{global: "    umask IWGRP|", want: []string{`3:11: umask: "IWGRP|" is not a number or bit names joined by |`}},
		{global: "    umask IWGRPIWOTH", want: []string{`3:11: umask: "IWGRPIWOTH" is not a number`}},
		{global: "    vrrp_notify_priority_changes maybe", want: []string{`3:34: vrrp_notify_priority_changes: "maybe" is not on/off`}},
		{global: "    lvs_notify_fifo /run/l.fifo", tail: "virtual_server_group G {\n    192.0.2.2 80\n}\nvirtual_server group G {\n    protocol TCP\n}\n", want: []string{
			`3:5: lvs_notify_fifo is a keepalived feature lvsctl does not support with virtual_server group G (/etc/keepalived/t.conf:33:1): keepalived writes one line per group virtual server ("VS [G]:0 UP")`}},
		// A second global_defs block (keepalived: "already specified -
		// ignoring").
		{global: "    notify_fifo /run/a", tail: "global_defs {\n    notify_fifo /run/b\n}\n", want: []string{
			"31:5: notify_fifo given twice (first at /etc/keepalived/t.conf:3:5); keepalived ignores this one"}},
	} {
		t.Run(c.global, func(t *testing.T) {
			_, _, err := parseFIFO(t, fifoFile(c.global, "", "")+c.tail)
			require.Error(t, err)
			list, ok := err.(ErrorList)
			require.True(t, ok, err.Error())
			var got []string
			for _, d := range list {
				got = append(got, strings.TrimPrefix(d.String(), "/etc/keepalived/t.conf:"))
			}
			require.Len(t, got, len(c.want), strings.Join(got, "\n"))
			for i := range c.want {
				assert.True(t, strings.HasPrefix(got[i], c.want[i]), "got  %s\nwant %s", got[i], c.want[i])
			}
		})
	}
}

// vrrp_notify_fifo and lvs_notify_fifo may be one FIFO (keepalived's two
// processes both write it); umask alone changes nothing lvsctl does.
func TestNotifyFIFOSharedAndUmaskWarning(t *testing.T) {
	cfg, _, err := parseFIFO(t, fifoFile("    vrrp_notify_fifo /run/n.fifo\n    vrrp_notify_fifo_script /bin/cat\n    lvs_notify_fifo /run/n.fifo", "", ""))
	require.NoError(t, err)
	require.NoError(t, cfg.NotifyFIFOs().Validate())

	_, warns, err := parseFIFO(t, fifoFile("    umask 022", "", ""))
	require.NoError(t, err)
	var at []string
	for _, w := range warns {
		if strings.Contains(w.String(), "umask") {
			at = append(at, w.String())
		}
	}
	assert.Equal(t, []string{"/etc/keepalived/t.conf:3:5: warning: umask sets only the mode of the notify FIFOs lvsctl creates (lvsctl's own files have their own modes), and this file has none: delete the line"}, at)
}
