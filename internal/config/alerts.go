package config

import (
	"net"
	"net/netip"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/internal/alert"
)

// keepalived 2.2.7's e-mail defaults: include/smtp.h SMTP_PORT_STR,
// include/global_data.h DEFAULT_SMTP_CONNECTION_TIMEOUT.
const (
	defaultSMTPPort    = 25
	defaultSMTPTimeout = 30 * time.Second
)

// notificationEmail reads the notification_email block: every word of
// every line is a recipient (keepalived's read_value_block). Words on the
// keyword's own line count too.
func (d *decoder) notificationEmail(n *node, s *SMTPDefs) {
	s.ToPos = n.pos()
	toks := append([]token(nil), n.args...)
	for _, c := range n.children {
		toks = append(toks, c.key)
		toks = append(toks, c.args...)
		if c.block {
			d.diag.errorf(c.pos(), "notification_email: %q opens a block; list one address per line", c.key.text)
			return
		}
	}
	if len(toks) == 0 {
		// keepalived: "Warning - empty notification_email block".
		d.diag.warnf(n.pos(), "notification_email is empty: no e-mail alert is sent")
		return
	}
	for _, t := range toks {
		if bad := badMailWord(t.text); bad != "" {
			d.diag.errorf(t.pos(), "notification_email: %q %s", t.text, bad)
			continue
		}
		s.To = append(s.To, t.text)
	}
}

// mailAddr reads a one-word value that goes into an SMTP command
// (notification_email_from, smtp_helo_name).
func (d *decoder) mailAddr(n *node, dst *string) {
	t, ok := d.value(n)
	if !ok {
		return
	}
	if bad := badMailWord(t.text); bad != "" {
		d.diag.errorf(t.pos(), "%s: %q %s", n.key.text, t.text, bad)
		return
	}
	*dst = t.text
}

// badMailWord says why w cannot be sent in an SMTP command ("" when it can).
func badMailWord(w string) string {
	for _, r := range w {
		if r < 0x21 || r == 0x7f || r == '<' || r == '>' {
			return "has a space, a control character or an angle bracket"
		}
	}
	return ""
}

// smtpServer reads "smtp_server ADDR|NAME [PORT]" (global_parser.c
// smtpserver_handler; keepalived resolves a name at load, lvsctl when it
// sends).
func (d *decoder) smtpServer(n *node, s *SMTPDefs) {
	if !d.shape(n, false, 1, 2) {
		return
	}
	host := n.args[0]
	if a, err := netip.ParseAddr(host.text); err == nil && a.Zone() == "" {
		s.Server = a.Unmap().String()
	} else if isHostName(host.text) {
		s.Server = strings.ToLower(host.text)
	} else {
		d.diag.errorf(host.pos(), "smtp_server: %q is neither an IP address nor a host name; keepalived would send no alert", host.text)
		return
	}
	s.Pos = n.pos()
	if len(n.args) == 2 {
		if p, ok := d.port(n.args[1], "smtp_server"); ok {
			s.Port = p
		}
	}
}

// isHostName: dot-separated labels of letters, digits and inner hyphens,
// the last not all digits (so a mistyped IPv4 address is no name).
func isHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	_, err := strconv.Atoi(labels[len(labels)-1])
	return err != nil
}

// smtpTimeout reads smtp_connect_timeout: whole seconds; 0 becomes 1 with
// a warning, as in keepalived (smtpto_handler).
func (d *decoder) smtpTimeout(n *node, s *SMTPDefs) {
	t, ok := d.value(n)
	if !ok {
		return
	}
	v, ok := d.seconds(t, "smtp_connect_timeout", 0, maxTimer, true)
	if !ok {
		return
	}
	if v == 0 {
		d.diag.warnf(t.pos(), "smtp_connect_timeout 0: using 1 second (keepalived does the same)")
		v = time.Second
	}
	s.ConnectTimeout = v
}

// flagPtr is flag for a switch whose absence means something.
func (d *decoder) flagPtr(n *node, dst **bool) {
	if !d.shape(n, false, 0, 1) {
		return
	}
	v := true
	if len(n.args) == 1 {
		switch strings.ToLower(n.args[0].text) {
		case "on", "true", "yes", "1":
		case "off", "false", "no", "0":
			v = false
		default:
			d.diag.errorf(n.args[0].pos(), "%s: %q is not on/off, true/false or yes/no", n.key.text, n.args[0].text)
			return
		}
	}
	*dst = &v
}

// blockSMTPAlert records the smtp_alert of the block at pos.
func (d *decoder) blockSMTPAlert(n *node, pos Position) {
	var v *bool
	d.flagPtr(n, &v)
	if v == nil {
		return
	}
	if d.smtpAlert == nil {
		d.smtpAlert = map[Position]bool{}
	}
	d.smtpAlert[pos] = *v
}

// resolveSMTPAlerts gives every instance, sync group, virtual server and
// real server its effective smtp_alert: its own, else smtp_alert_vrrp
// (VRRP) or smtp_alert_checker (LVS), else smtp_alert, else off, except
// real servers, which default to on (keepalived 2.2.7 vrrp/vrrp.c,
// check/check_data.c). It also warns about half a mail setup.
func (d *decoder) resolveSMTPAlerts(cfg *Config) {
	s := &cfg.Global.SMTP
	pick := func(pos Position, class *bool, def bool) bool {
		if v, ok := d.smtpAlert[pos]; ok {
			return v
		}
		if class != nil {
			return *class
		}
		if s.Alert != nil {
			return *s.Alert
		}
		return def
	}
	for i := range cfg.VRRPInstances {
		in := &cfg.VRRPInstances[i]
		in.SMTPAlert = pick(in.Pos, s.AlertVRRP, false)
	}
	for i := range cfg.VRRPSyncGroups {
		g := &cfg.VRRPSyncGroups[i]
		g.SMTPAlert = pick(g.Pos, s.AlertVRRP, false)
	}
	for i := range cfg.VirtualServers {
		vs := &cfg.VirtualServers[i]
		vs.SMTPAlert = pick(vs.Pos, s.AlertChecker, false)
		for j := range vs.RealServers {
			rs := &vs.RealServers[j]
			rs.SMTPAlert = pick(rs.Pos, s.AlertChecker, true)
		}
	}
	switch {
	case s.Server == "" && len(s.To) > 0:
		d.diag.warnf(s.ToPos, "notification_email without smtp_server: no e-mail alert is sent (as in keepalived); add smtp_server or delete the block")
	case s.Server != "" && len(s.To) == 0:
		d.diag.warnf(s.Pos, "smtp_server without notification_email: no e-mail alert is sent (as in keepalived); add notification_email or delete the line")
	}
}

// Alerts is what the file asks to mail, in the form internal/app takes it.
type Alerts struct {
	// Mail is where alerts go; nil when none is sent (no smtp_server or no
	// notification_email, as keepalived's smtp_alert checks).
	Mail *alert.Config
	// RouterID names this host in every subject (router_id, else the host
	// name).
	RouterID string
	// NoFaults sends no mail for FAULT transitions (no_email_faults).
	NoFaults bool
	// Services, RealServers, Instances and Groups are what is mailed
	// about (only those whose smtp_alert is on): a service's quorum, a
	// real server's health (and removal), an instance's or group's state.
	Services    map[director.ServiceKey]bool
	RealServers map[director.RealRef]bool
	Instances   map[string]bool
	// Groups maps each mailed sync group to its instances.
	Groups map[string][]string
}

// VRRP is the VRRP part of the plan.
func (a Alerts) VRRP() alert.VRRPPlan {
	return alert.VRRPPlan{RouterID: a.RouterID, NoFaults: a.NoFaults, Instances: a.Instances, Groups: a.Groups}
}

// Alerts builds the alert plan; hostname and username fill keepalived's
// defaults (global_data.c: router_id and smtp_helo_name are the host name,
// notification_email_from is user@hostname).
func (c *Config) Alerts(hostname, username string) Alerts {
	s := &c.Global.SMTP
	a := Alerts{RouterID: c.Global.RouterID, NoFaults: s.NoEmailFaults,
		Services: map[director.ServiceKey]bool{}, RealServers: map[director.RealRef]bool{}, Instances: map[string]bool{}, Groups: map[string][]string{}}
	if a.RouterID == "" {
		a.RouterID = hostname
	}
	if s.Server == "" || len(s.To) == 0 {
		return a
	}
	m := &alert.Config{Server: net.JoinHostPort(s.Server, strconv.Itoa(int(s.Port))), HeloName: s.HeloName,
		From: s.From, To: append([]string(nil), s.To...), Timeout: s.ConnectTimeout}
	if m.HeloName == "" {
		// smtp.c sends "localhost" when even the host name is unknown.
		m.HeloName = hostname
		if m.HeloName == "" {
			m.HeloName = "localhost"
		}
	}
	if m.From == "" {
		m.From = username + "@" + hostname
	}
	a.Mail = m
	for _, in := range c.VRRPInstances {
		if in.SMTPAlert {
			a.Instances[in.Name] = true
		}
	}
	for _, g := range c.VRRPSyncGroups {
		if g.SMTPAlert {
			for _, m := range g.Group {
				a.Groups[g.Name] = append(a.Groups[g.Name], m.Name)
			}
		}
	}
	for i := range c.VirtualServers {
		vs := &c.VirtualServers[i]
		key := serviceKey(vs)
		if vs.SMTPAlert {
			a.Services[key] = true
		}
		for j := range vs.RealServers {
			if rs := &vs.RealServers[j]; rs.SMTPAlert {
				a.RealServers[realRef(key, rs)] = true
			}
		}
	}
	return a
}

// hostUser is this host's name and the user lvsctl runs as, for Alerts.
func hostUser() (string, string) {
	h, _ := os.Hostname()
	name := "root"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return h, name
}
