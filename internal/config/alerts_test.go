package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
)

const alertFile = `global_defs {
  notification_email {
    ops@example.com
    noc@example.com
  }
  smtp_server 192.0.2.25
%s
}
vrrp_sync_group G {
  group {
    VI_1
  }
%s
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress {
    192.0.2.100
  }
%s
}
virtual_server 192.0.2.100 80 {
  protocol TCP
  lb_kind DR
%s
  real_server 192.0.2.8 80 {
%s
  }
  real_server 192.0.2.9 80 {
  }
}
`

// fill puts the five snippets into alertFile in order.
func fill(parts ...string) string {
	out := alertFile
	for _, p := range parts {
		out = strings.Replace(out, "%s", p, 1)
	}
	return out
}

// TestAlertDefaults: keepalived 2.2.7's defaults (global_data.c,
// check_data.c, vrrp.c): port 25, 30s, HELO the host name, sender
// user@hostname, router_id the host name; real servers mailed by
// default, VRRP instances, groups and virtual servers not.
func TestAlertDefaults(t *testing.T) {
	cfg, warns, err := parseString(fill("", "", "", "", ""), nil)
	require.NoError(t, err)
	for _, w := range warns {
		assert.NotContains(t, w.String(), "mail")
	}
	s := cfg.Global.SMTP
	assert.Equal(t, "192.0.2.25", s.Server)
	assert.Equal(t, uint16(25), s.Port)
	assert.Equal(t, 30*time.Second, s.ConnectTimeout)
	assert.Equal(t, []string{"ops@example.com", "noc@example.com"}, s.To)
	a := cfg.Alerts("lb1", "root")
	require.NotNil(t, a.Mail)
	assert.Equal(t, "192.0.2.25:25", a.Mail.Server)
	assert.Equal(t, "lb1", a.Mail.HeloName)
	assert.Equal(t, "root@lb1", a.Mail.From)
	assert.Equal(t, 30*time.Second, a.Mail.Timeout)
	assert.Equal(t, "lb1", a.RouterID)
	require.NoError(t, a.Mail.Validate())
	assert.Empty(t, a.Instances)
	assert.Empty(t, a.Groups)
	assert.Empty(t, a.Services)
	svc := director.ServiceKey{Family: director.IPv4, Protocol: director.TCP, Addr: netip.MustParseAddr("192.0.2.100"), Port: 80}
	assert.Equal(t, map[director.RealRef]bool{
		{Service: svc, Real: director.DestKey{Addr: netip.MustParseAddr("192.0.2.8"), Port: 80}}: true,
		{Service: svc, Real: director.DestKey{Addr: netip.MustParseAddr("192.0.2.9"), Port: 80}}: true,
	}, a.RealServers)
}

// TestAlertSwitches: a block's own smtp_alert, else smtp_alert_vrrp /
// smtp_alert_checker, else smtp_alert.
func TestAlertSwitches(t *testing.T) {
	for name, tc := range map[string]struct {
		parts                     []string
		inst, group, vs, rs8, rs9 bool
	}{
		"smtp_alert on":            {[]string{"  smtp_alert", "", "", "", ""}, true, true, true, true, true},
		"smtp_alert off":           {[]string{"  smtp_alert off", "", "", "", ""}, false, false, false, false, false},
		"vrrp over global":         {[]string{"  smtp_alert off\n  smtp_alert_vrrp on", "", "", "", ""}, true, true, false, false, false},
		"checker over global":      {[]string{"  smtp_alert on\n  smtp_alert_checker no", "", "", "", ""}, true, true, false, false, false},
		"block over class":         {[]string{"  smtp_alert_vrrp off\n  smtp_alert_checker off", "smtp_alert", "smtp_alert yes", "smtp_alert true", "smtp_alert"}, true, true, true, true, false},
		"real server opts out":     {[]string{"", "", "", "", "smtp_alert off"}, false, false, false, false, true},
		"global after the blocks?": {[]string{"", "", "smtp_alert", "", ""}, true, false, false, true, true},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, _, err := parseString(fill(tc.parts...), nil)
			require.NoError(t, err)
			assert.Equal(t, tc.inst, cfg.VRRPInstances[0].SMTPAlert, "instance")
			assert.Equal(t, tc.group, cfg.VRRPSyncGroups[0].SMTPAlert, "group")
			assert.Equal(t, tc.vs, cfg.VirtualServers[0].SMTPAlert, "virtual server")
			assert.Equal(t, tc.rs8, cfg.VirtualServers[0].RealServers[0].SMTPAlert, "real server .8")
			assert.Equal(t, tc.rs9, cfg.VirtualServers[0].RealServers[1].SMTPAlert, "real server .9")
			a := cfg.Alerts("h", "u")
			assert.Equal(t, tc.inst, a.Instances["VI_1"])
			assert.Equal(t, tc.group, len(a.Groups["G"]) > 0)
			if tc.group {
				assert.Equal(t, []string{"VI_1"}, a.Groups["G"], "the group's instances")
			}
			svc := director.ServiceKey{Family: director.IPv4, Protocol: director.TCP, Addr: netip.MustParseAddr("192.0.2.100"), Port: 80}
			assert.Equal(t, tc.vs, a.Services[svc], "virtual server's quorum mails")
		})
	}
}

// TestAlertSettings: every keyword with its value, and no mail at all
// without a server or without recipients.
func TestAlertSettings(t *testing.T) {
	src := strings.Replace(fill("  smtp_helo_name lb1.example.com\n  notification_email_from lvs@example.com\n  smtp_connect_timeout 7\n  no_email_faults\n  router_id LB1", "", "", "", ""),
		"smtp_server 192.0.2.25", "smtp_server mail.example.com 2525", 1)
	cfg, _, err := parseString(src, nil)
	require.NoError(t, err)
	a := cfg.Alerts("ignored", "ignored")
	require.NotNil(t, a.Mail)
	assert.Equal(t, "mail.example.com:2525", a.Mail.Server)
	assert.Equal(t, "lb1.example.com", a.Mail.HeloName)
	assert.Equal(t, "lvs@example.com", a.Mail.From)
	assert.Equal(t, 7*time.Second, a.Mail.Timeout)
	assert.True(t, a.NoFaults)
	assert.Equal(t, "LB1", a.RouterID)

	cfg, warns, err := parseString("global_defs {\n  notification_email {\n    a@b\n  }\n}\n", nil)
	require.NoError(t, err)
	assert.Nil(t, cfg.Alerts("h", "u").Mail)
	require.Len(t, warns, 1)
	assert.Equal(t, "/etc/keepalived/t.conf:2:3: warning: notification_email without smtp_server: no e-mail alert is sent (as in keepalived); add smtp_server or delete the block", warns[0].String())

	cfg, warns, err = parseString("global_defs {\n  smtp_server ::1\n  smtp_connect_timeout 0\n}\n", nil)
	require.NoError(t, err)
	assert.Nil(t, cfg.Alerts("h", "u").Mail)
	assert.Equal(t, time.Second, cfg.Global.SMTP.ConnectTimeout)
	var got []string
	for _, w := range warns {
		got = append(got, w.String())
	}
	assert.Contains(t, got, "/etc/keepalived/t.conf:3:24: warning: smtp_connect_timeout 0: using 1 second (keepalived does the same)")
	assert.Contains(t, got, "/etc/keepalived/t.conf:2:3: warning: smtp_server without notification_email: no e-mail alert is sent (as in keepalived); add notification_email or delete the line")
}

// TestAlertErrors: bad values are errors at their position, and nothing
// loads.
func TestAlertErrors(t *testing.T) {
	for name, tc := range map[string]struct{ src, want string }{
		"server not an address": {"global_defs {\n  smtp_server 10.0.0.300\n}\n",
			`t.conf:2:15: smtp_server: "10.0.0.300" is neither an IP address nor a host name; keepalived would send no alert`},
		"server with a slash": {"global_defs {\n  smtp_server 10.0.0.1/24\n}\n",
			`t.conf:2:15: smtp_server: "10.0.0.1/24" is neither an IP address nor a host name`},
		"bad port":  {"global_defs {\n  smtp_server 10.0.0.1 smtp\n}\n", `t.conf:2:24: smtp_server port: "smtp" is not an integer`},
		"no server": {"global_defs {\n  smtp_server\n}\n", `t.conf:2:3: smtp_server `},
		"bad switch": {"global_defs {\n  smtp_alert maybe\n}\n",
			`t.conf:2:14: smtp_alert: "maybe" is not on/off, true/false or yes/no`},
		"bad block switch": {"vrrp_instance VI {\n interface eth0\n virtual_router_id 1\n smtp_alert sometimes\n}\n",
			`t.conf:4:13: smtp_alert: "sometimes" is not on/off, true/false or yes/no`},
		"bad recipient": {"global_defs {\n  notification_email {\n    <ops@example.com>\n  }\n}\n",
			`t.conf:3:5: notification_email: "<ops@example.com>" has a space, a control character or an angle bracket`},
		"bad timeout": {"global_defs {\n  smtp_connect_timeout 1.5\n}\n", `t.conf:2:24: smtp_connect_timeout`},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, _, err := parseString(tc.src, nil)
			require.Error(t, err)
			assert.Nil(t, cfg)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestAlertDesired: Desired carries the plan, with this host's name.
func TestAlertDesired(t *testing.T) {
	cfg, _, err := parseString(fill("", "", "smtp_alert", "", ""), nil)
	require.NoError(t, err)
	d, err := cfg.Desired()
	require.NoError(t, err)
	require.NotNil(t, d.Alerts.Mail)
	host, _ := hostUser()
	assert.Equal(t, host, d.Alerts.RouterID)
	assert.True(t, d.Alerts.Instances["VI_1"])
	assert.Len(t, d.Alerts.RealServers, 2)
}
