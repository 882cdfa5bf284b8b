package config

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lvsctl/lvsctl/director"
)

// WriteText writes cfg in keepalived.conf syntax with every effective
// value spelt out (defaults included), so the output is itself a valid
// configuration that loads to the same Config (positions aside).
func WriteText(w io.Writer, cfg *Config) error {
	p := &printer{w: bufio.NewWriter(w)}
	// notify_priority_changes is spelt out on every instance of a file
	// that uses it anywhere, so that no default can change it on reload.
	p.prioChanges = cfg.Global.VRRPNotifyPriorityChanges
	for _, g := range cfg.VRRPSyncGroups {
		p.prioChanges = p.prioChanges || g.NotifyPriorityChanges != nil
	}
	for _, in := range cfg.VRRPInstances {
		p.prioChanges = p.prioChanges || in.NotifyPriorityChanges
	}
	p.global(&cfg.Global)
	p.vips("static_ipaddress", cfg.StaticAddrs)
	p.routes("static_routes", cfg.StaticRoutes)
	p.rules("static_rules", cfg.StaticRules)
	for i := range cfg.VRRPScripts {
		p.vrrpScript(&cfg.VRRPScripts[i])
	}
	for i := range cfg.TrackFiles {
		p.trackFile(&cfg.TrackFiles[i])
	}
	for i := range cfg.TrackProcesses {
		p.trackProcess(&cfg.TrackProcesses[i])
	}
	for i := range cfg.VRRPSyncGroups {
		p.syncGroup(&cfg.VRRPSyncGroups[i])
	}
	for i := range cfg.VRRPInstances {
		p.instance(&cfg.VRRPInstances[i])
	}
	if s := cfg.SSL; s != nil {
		p.open("SSL")
		p.opt("password", s.Password)
		p.opt("ca", s.CA)
		p.opt("certificate", s.Certificate)
		p.opt("key", s.Key)
		p.close()
	}
	if cfg.BGP != nil {
		p.bgp(cfg.BGP)
	}
	for i := range cfg.VirtualServers {
		p.virtualServer(&cfg.VirtualServers[i])
	}
	return p.w.Flush()
}

type printer struct {
	w      *bufio.Writer
	indent int
	// prioChanges: write every instance's notify_priority_changes.
	prioChanges bool
}

func (p *printer) line(args ...string) {
	p.w.WriteString(strings.Repeat("    ", p.indent))
	p.w.WriteString(strings.Join(args, " "))
	p.w.WriteByte('\n')
}

func (p *printer) open(args ...string) {
	p.line(append(args, "{")...)
	p.indent++
}

func (p *printer) close() {
	p.indent--
	p.line("}")
}

func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\r\f\v\"{}#!\\") && !strings.ContainsAny(s[:1], "$@~") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

func secs(d time.Duration) string { return fmtSeconds(d) }
func itoa(i int) string           { return strconv.Itoa(i) }

func (p *printer) flag(name string, on bool) {
	if on {
		p.line(name)
	}
}

func (p *printer) opt(name, val string) {
	if val != "" {
		p.line(name, quote(val))
	}
}

func (p *printer) addr(name string, a netip.Addr) {
	if a.IsValid() {
		p.line(name, a.String())
	}
}

func (p *printer) script(name string, s Script) {
	if !s.IsZero() {
		if s.User == "" {
			p.line(name, quote(s.Command))
			return
		}
		// The command must be quoted for the words after it to be read
		// as its user and group (lib/notify.c, notify_script_init).
		cmd := quote(s.Command)
		if !strings.HasPrefix(cmd, `"`) {
			cmd = `"` + cmd + `"`
		}
		p.line(strings.TrimSpace(name + " " + cmd + " " + quote(s.User) + " " + quoteOpt(s.Group)))
	}
}

func (p *printer) global(g *GlobalDefs) {
	p.open("global_defs")
	p.opt("router_id", g.RouterID)
	p.line("vrrp_mcast_group4", g.VRRPMcastGroup4.String())
	p.line("vrrp_mcast_group6", g.VRRPMcastGroup6.String())
	p.line("vrrp_version", itoa(g.VRRPVersion))
	p.line("vrrp_garp_master_delay", secs(g.VRRPGarpMasterDelay))
	p.line("vrrp_garp_master_repeat", itoa(g.VRRPGarpMasterRepeat))
	p.line("vrrp_garp_master_refresh", secs(g.VRRPGarpMasterRefresh))
	p.line("vrrp_garp_master_refresh_repeat", itoa(g.VRRPGarpMasterRefreshRepeat))
	p.line("vrrp_garp_lower_prio_delay", secs(g.VRRPGarpLowerPrioDelay))
	p.line("vrrp_garp_lower_prio_repeat", itoa(g.VRRPGarpLowerPrioRepeat))
	p.line("vrrp_garp_interval", secs(g.VRRPGarpInterval))
	p.line("vrrp_gna_interval", secs(g.VRRPGnaInterval))
	if g.VRRPStartupDelay > 0 {
		p.line("vrrp_startup_delay", secs(g.VRRPStartupDelay))
	}
	p.flag("vrrp_strict", g.VRRPStrict)
	p.flag("rs_init_notifies", g.RSInitNotifies)
	p.flag("vrrp_skip_check_adv_addr", g.VRRPSkipCheckAdvAddr)
	p.flag("enable_script_security", g.EnableScriptSecurity)
	if g.ScriptUser != "" {
		p.line(strings.TrimSpace("script_user " + quote(g.ScriptUser) + " " + quoteOpt(g.ScriptGroup)))
	}
	p.script("startup_script", g.StartupScript)
	p.line("startup_script_timeout", secs(g.StartupScriptTimeout))
	p.script("shutdown_script", g.ShutdownScript)
	p.line("shutdown_script_timeout", secs(g.ShutdownScriptTimeout))
	if g.LVSSync != nil {
		p.line(g.LVSSync.text()...)
	}
	for _, x := range g.LVSSyncSysctls {
		p.line("lvs_"+x.Name, x.Value, "! lvsctl extension")
	}
	if t := g.LVSTimeouts; t != nil {
		p.line("lvs_timeouts", "tcp", secs(t.TCP), "tcpfin", secs(t.TCPFin), "udp", secs(t.UDP))
	}
	p.smtp(&g.SMTP)
	if g.Umask != nil {
		p.line("umask", "0"+strconv.FormatUint(uint64(*g.Umask), 8))
	}
	for _, f := range []struct {
		prefix string
		f      *NotifyFIFO
	}{{"", g.NotifyFIFO}, {"vrrp_", g.VRRPNotifyFIFO}, {"lvs_", g.LVSNotifyFIFO}} {
		if f.f == nil {
			continue
		}
		p.line(strings.TrimSpace(f.prefix + "notify_fifo " + quote(f.f.Path) + " " + quoteOpt(f.f.User) + " " + quoteOpt(f.f.Group)))
		p.script(f.prefix+"notify_fifo_script", f.f.Script)
	}
	p.flag("vrrp_notify_priority_changes", g.VRRPNotifyPriorityChanges)
	p.flag("fifo_write_vrrp_states_on_reload", g.FIFOWriteVRRPStatesOnReload)
	p.close()
}

func (p *printer) smtp(s *SMTPDefs) {
	if len(s.To) > 0 {
		p.open("notification_email")
		for _, a := range s.To {
			p.line(a)
		}
		p.close()
	}
	p.opt("notification_email_from", s.From)
	if s.Server != "" {
		p.line("smtp_server", s.Server, strconv.Itoa(int(s.Port)))
	}
	p.opt("smtp_helo_name", s.HeloName)
	p.line("smtp_connect_timeout", secs(s.ConnectTimeout))
	for _, f := range []struct {
		name string
		v    *bool
	}{{"smtp_alert", s.Alert}, {"smtp_alert_vrrp", s.AlertVRRP}, {"smtp_alert_checker", s.AlertChecker}} {
		if f.v != nil {
			p.line(f.name, onOff(*f.v))
		}
	}
	p.flag("no_email_faults", s.NoEmailFaults)
}

func quoteOpt(s string) string {
	if s == "" {
		return ""
	}
	return quote(s)
}

func (p *printer) vrrpScript(s *VRRPScript) {
	p.open("vrrp_script", quote(s.Name))
	p.script("script", s.Script)
	p.line("interval", secs(s.Interval))
	p.line("timeout", secs(s.Timeout))
	if s.WeightReverse {
		p.line("weight", itoa(s.Weight), "reverse")
	} else {
		p.line("weight", itoa(s.Weight))
	}
	p.line("rise", itoa(s.Rise))
	p.line("fall", itoa(s.Fall))
	if s.User != "" {
		p.line(strings.TrimSpace("user " + quote(s.User) + " " + quoteOpt(s.Group)))
	}
	p.flag("init_fail", s.InitFail)
	p.close()
}

func (p *printer) trackScripts(ts []TrackScript) {
	if len(ts) == 0 {
		return
	}
	p.open("track_script")
	for _, t := range ts {
		switch {
		case t.WeightSet && t.Reverse:
			p.line(quote(t.Name), "weight", itoa(t.Weight), "reverse")
		case t.WeightSet:
			p.line(quote(t.Name), "weight", itoa(t.Weight))
		default:
			p.line(quote(t.Name))
		}
	}
	p.close()
}

func (p *printer) trackIfaces(ts []TrackIface) {
	if len(ts) == 0 {
		return
	}
	p.open("track_interface")
	for _, t := range ts {
		if t.WeightSet {
			p.line(quote(t.Name), "weight", itoa(t.Weight))
		} else {
			p.line(quote(t.Name))
		}
	}
	p.close()
}

func (p *printer) syncGroup(g *VRRPSyncGroup) {
	p.open("vrrp_sync_group", quote(g.Name))
	p.open("group")
	for _, m := range g.Group {
		p.line(quote(m.Name))
	}
	p.close()
	p.script("notify_master", g.NotifyMaster)
	p.script("notify_backup", g.NotifyBackup)
	p.script("notify_fault", g.NotifyFault)
	p.script("notify_stop", g.NotifyStop)
	p.script("notify", g.Notify)
	p.trackScripts(g.TrackScripts)
	p.trackRefs("track_file", g.TrackFiles)
	p.trackRefs("track_process", g.TrackProcesses)
	p.trackIfaces(g.TrackIfaces)
	p.line("smtp_alert", onOff(g.SMTPAlert))
	if g.NotifyPriorityChanges != nil {
		p.line("notify_priority_changes", onOff(*g.NotifyPriorityChanges))
	}
	p.close()
}

func (p *printer) vips(name string, vs []VIP) {
	if len(vs) == 0 {
		return
	}
	p.open(name)
	for _, v := range vs {
		args := []string{v.Prefix.String()}
		if v.Broadcast.IsValid() {
			args = append(args, "brd", v.Broadcast.String())
		}
		if v.Dev != "" {
			args = append(args, "dev", quote(v.Dev))
		}
		args = append(args, "scope", v.Scope)
		if v.Label != "" {
			args = append(args, "label", quote(v.Label))
		}
		p.line(args...)
	}
	p.close()
}

func (p *printer) instance(in *VRRPInstance) {
	p.open("vrrp_instance", quote(in.Name))
	p.line("state", string(in.State))
	p.line("interface", quote(in.Interface))
	p.line("virtual_router_id", itoa(in.VirtualRouterID))
	p.line("priority", itoa(in.Priority))
	p.line("advert_int", secs(in.AdvertInt))
	p.line("version", itoa(in.Version))
	if in.Auth != nil {
		p.open("authentication")
		p.opt("auth_type", in.Auth.Type)
		p.opt("auth_pass", in.Auth.Pass)
		p.close()
	}
	p.vips("virtual_ipaddress", in.VIPs)
	p.vips("virtual_ipaddress_excluded", in.VIPsExcluded)
	p.routes("virtual_routes", in.VirtualRoutes)
	p.rules("virtual_rules", in.VirtualRules)
	p.addr("unicast_src_ip", in.UnicastSrcIP)
	if in.UnicastTTL != 0 {
		p.line("unicast_ttl", itoa(in.UnicastTTL))
	}
	p.addr("mcast_src_ip", in.MCastSrcIP)
	if len(in.UnicastPeers) > 0 {
		p.open("unicast_peer")
		for _, u := range in.UnicastPeers {
			p.line(u.Addr.String())
		}
		p.close()
	}
	p.flag("nopreempt", in.NoPreempt)
	p.flag("promote_secondaries", in.PromoteSecondaries)
	p.line("lower_prio_no_advert", strconv.FormatBool(in.LowerPrioNoAdvert))
	p.line("higher_prio_send_advert", strconv.FormatBool(in.HigherPrioSendAdvert))
	p.line("down_timer_adverts", itoa(in.DownTimerAdverts))
	p.line("preempt_delay", secs(in.PreemptDelay))
	p.line("garp_master_delay", secs(in.GarpMasterDelay))
	p.line("garp_master_repeat", itoa(in.GarpMasterRepeat))
	p.line("garp_master_refresh", secs(in.GarpMasterRefresh))
	p.line("garp_master_refresh_repeat", itoa(in.GarpMasterRefreshRepeat))
	p.line("garp_lower_prio_delay", secs(in.GarpLowerPrioDelay))
	p.line("garp_lower_prio_repeat", itoa(in.GarpLowerPrioRepeat))
	p.flag("dont_track_primary", in.DontTrackPrimary)
	if in.UseVMAC != nil {
		if in.UseVMAC.MAC != nil {
			p.line("use_vmac", in.UseVMAC.Name, in.UseVMAC.MAC.String())
		} else {
			p.line("use_vmac", in.UseVMAC.Name)
		}
	}
	p.flag("vmac_xmit_base", in.VMACXmitBase)
	p.trackIfaces(in.TrackIfaces)
	p.trackScripts(in.TrackScripts)
	p.trackRefs("track_file", in.TrackFiles)
	p.trackRefs("track_process", in.TrackProcesses)
	p.script("notify_master", in.NotifyMaster)
	p.script("notify_backup", in.NotifyBackup)
	p.script("notify_fault", in.NotifyFault)
	p.script("notify_stop", in.NotifyStop)
	p.script("notify", in.Notify)
	p.line("smtp_alert", onOff(in.SMTPAlert))
	if p.prioChanges {
		p.line("notify_priority_changes", onOff(in.NotifyPriorityChanges))
	}
	if in.SyncGroup != "" {
		p.line("! member of vrrp_sync_group", quote(in.SyncGroup))
	}
	p.close()
}

func (p *printer) virtualServer(vs *VirtualServer) {
	if vs.IsFWMark() {
		p.open("virtual_server", "fwmark", strconv.FormatUint(uint64(vs.FWMark), 10))
	} else {
		p.open("virtual_server", vs.Addr.String(), strconv.Itoa(int(vs.Port)))
		p.line("protocol", string(vs.Protocol))
	}
	p.line("delay_loop", secs(vs.DelayLoop))
	p.line("lb_algo", vs.Scheduler)
	p.line("lb_kind", string(vs.Method))
	if vs.PersistenceTimeout > 0 {
		p.line("persistence_timeout", secs(vs.PersistenceTimeout))
	}
	if g := vs.PersistenceGranularity; g.IsValid() {
		if g.Addr().Is4() {
			// keepalived reads a bare number as an address on IPv4.
			p.line("persistence_granularity", net.IP(net.CIDRMask(g.Bits(), 32)).String())
		} else {
			p.line("persistence_granularity", strconv.Itoa(g.Bits()))
		}
	}
	p.flag("ops", vs.OPS)
	for i, name := range []string{"flag-1", "flag-2", "flag-3"} {
		p.flag(name, vs.SchedulerFlags&(director.FlagSched1<<i) != 0)
	}
	if s := vs.SorryServer; s != nil {
		p.line("sorry_server", s.Addr.String(), strconv.Itoa(int(s.Port)))
		p.line("sorry_server_lvs_method", string(s.Method))
		p.flag("sorry_server_inhibit", s.Inhibit)
	}
	p.flag("inhibit_on_failure", vs.InhibitOnFailure)
	p.line("quorum", itoa(vs.Quorum))
	p.line("hysteresis", itoa(vs.Hysteresis))
	p.script("quorum_up", vs.QuorumUp)
	p.script("quorum_down", vs.QuorumDown)
	p.flag("alpha", vs.Alpha)
	p.flag("omega", vs.Omega)
	p.flag("ha_suspend", vs.HASuspend)
	p.opt("virtualhost", vs.VirtualHost)
	p.flag("bgp_announce", vs.BGPAnnounce.IsValid())
	p.line("smtp_alert", onOff(vs.SMTPAlert))
	for i := range vs.RealServers {
		p.realServer(&vs.RealServers[i])
	}
	p.close()
}

func (p *printer) realServer(rs *RealServer) {
	p.open("real_server", rs.Addr.String(), strconv.Itoa(int(rs.Port)))
	p.line("weight", itoa(rs.Weight))
	p.line("lvs_method", string(rs.Method))
	p.flag("inhibit_on_failure", rs.InhibitOnFailure)
	p.flag("alpha", rs.Alpha)
	p.script("notify_up", rs.NotifyUp)
	p.script("notify_down", rs.NotifyDown)
	p.line("smtp_alert", onOff(rs.SMTPAlert))
	if rs.UThreshold != 0 {
		p.line("uthreshold", strconv.FormatUint(uint64(rs.UThreshold), 10))
	}
	if rs.LThreshold != 0 {
		p.line("lthreshold", strconv.FormatUint(uint64(rs.LThreshold), 10))
	}
	for i := range rs.Checkers {
		p.checker(&rs.Checkers[i])
	}
	p.close()
}

func (p *printer) checker(c *Checker) {
	p.open(string(c.Type))
	if f := c.File; f != nil {
		// FILE_CHECK has no common keywords (check_file.c).
		p.line("track_file", quote(f.TrackFile))
		w := strconv.Itoa(f.Weight)
		if f.Reverse {
			w += " reverse"
		}
		p.line("weight", w)
		p.close()
		return
	}
	if c.Type != CheckMisc {
		// keepalived's MISC_CHECK has no connection keywords.
		p.addr("connect_ip", c.ConnectIP)
		p.line("connect_port", strconv.Itoa(int(c.ConnectPort)))
		p.addr("bindto", c.BindTo)
		if c.BindPort != 0 {
			p.line("bind_port", strconv.Itoa(int(c.BindPort)))
		}
		if c.BindIf != "" {
			p.line("bind_if", quote(c.BindIf))
		}
		if c.FWMark != 0 {
			p.line("fwmark", strconv.FormatUint(uint64(c.FWMark), 10))
		}
		p.line("connect_timeout", secs(c.ConnectTimeout))
	}
	p.line("delay_loop", secs(c.DelayLoop))
	p.line("retry", itoa(c.Retry))
	p.line("delay_before_retry", secs(c.DelayBeforeRetry))
	p.line("warmup", secs(c.Warmup))
	p.line("rise", itoa(c.Rise), "! lvsctl extension")
	p.line("fall", itoa(c.Fall), "! lvsctl extension")
	p.flag("alpha", c.Alpha)
	if h := c.HTTP; h != nil {
		p.opt("virtualhost", h.VirtualHost)
		p.flag("fast_recovery", h.FastRecovery)
		p.flag("enable_sni", h.EnableSNI)
		for _, u := range h.URLs {
			p.open("url")
			p.line("path", quote(u.Path))
			p.opt("digest", u.Digest)
			p.line("status_code", codeRanges(u.StatusCodes))
			p.opt("virtualhost", u.VirtualHost)
			p.close()
		}
	}
	if sc := c.SMTP; sc != nil {
		p.line("helo_name", quote(sc.HeloName))
	}
	if dc := c.DNS; dc != nil {
		p.line("type", dc.Type)
		if dc.Name != "" {
			p.line("name", quote(dc.Name))
		}
	}
	if u := c.UDP; u != nil {
		if u.Payload != "" {
			p.line("payload", u.Payload)
		}
		if u.RequireReply {
			p.line(strings.TrimSpace("require_reply " + u.Reply))
		}
		p.line("min_reply_length", itoa(u.MinReplyLength))
		p.line("max_reply_length", itoa(u.MaxReplyLength))
	}
	if m := c.Misc; m != nil {
		p.script("misc_path", m.Path)
		p.line("misc_timeout", secs(m.Timeout))
		p.flag("misc_dynamic", m.Dynamic)
		if m.User != "" {
			p.line(strings.TrimSpace("user " + quote(m.User) + " " + quoteOpt(m.Group)))
		}
	}
	p.close()
}

// codeRanges writes status codes compactly: "200-299 301".
func codeRanges(codes []int) string {
	var parts []string
	for i := 0; i < len(codes); {
		j := i
		for j+1 < len(codes) && codes[j+1] == codes[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", codes[i], codes[j]))
		} else {
			parts = append(parts, strconv.Itoa(codes[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, " ")
}
