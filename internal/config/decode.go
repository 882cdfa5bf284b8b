package config

import (
	"maps"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lvsctl/lvsctl/director"
)

// keepalived's defaults, named so the docs and code agree.
const (
	defaultPriority        = 100
	defaultAdvertInt       = time.Second
	defaultGarpMasterDelay = 5 * time.Second
	defaultGarpRepeat      = 5
	defaultDelayLoop       = 60 * time.Second
	defaultConnectTimeout  = 5 * time.Second
	defaultScheduler       = "wlc"
	defaultPersistence     = 360 * time.Second
	defaultScriptInterval  = time.Second
	// defaultDownTimerAdverts is the RFC's missed adverts before a backup
	// takes over (vrrp_down_timer_adverts).
	defaultDownTimerAdverts = 3
	// defaultStartStopTimeout bounds startup_script and shutdown_script
	// (global_parser.c, startup_shutdown_script).
	defaultStartStopTimeout = 10 * time.Second
	maxTimer                = 24 * time.Hour * 31
)

var (
	defaultMcast4 = netip.MustParseAddr("224.0.0.18")
	defaultMcast6 = netip.MustParseAddr("ff02::12")
)

func (d *decoder) config(nodes []*node) *Config {
	cfg := &Config{
		Global: GlobalDefs{
			VRRPMcastGroup4:             defaultMcast4,
			VRRPMcastGroup6:             defaultMcast6,
			VRRPVersion:                 2,
			VRRPGarpMasterDelay:         defaultGarpMasterDelay,
			VRRPGarpMasterRepeat:        defaultGarpRepeat,
			VRRPGarpMasterRefreshRepeat: 1,
			StartupScriptTimeout:        defaultStartStopTimeout,
			VRRPDownTimerAdverts:        defaultDownTimerAdverts,
			ShutdownScriptTimeout:       defaultStartStopTimeout,
			SMTP:                        SMTPDefs{Port: defaultSMTPPort, ConnectTimeout: defaultSMTPTimeout, To: []string{}},
		},
		VRRPScripts:    []VRRPScript{},
		VRRPSyncGroups: []VRRPSyncGroup{},
		VRRPInstances:  []VRRPInstance{},
		VirtualServers: []VirtualServer{},
		TrackFiles:     []TrackFile{},
		TrackProcesses: []TrackProcess{},
	}
	root := &node{children: nodes, block: true}
	var instances []*instanceDraft
	var vsNodes, groups []*node
	globalSeen := false
	lowPrio := lowPrioDraft{}
	d.rulePrio = newRulePriorities()
	d.walk(root, "", "the top level", map[string]kw{
		"global_defs": {multi: true, fn: func(n *node) {
			if globalSeen {
				d.diag.warnf(n.pos(), "several global_defs blocks: they are merged")
			}
			globalSeen = true
			if d.shape(n, true, 0, 0) {
				d.global(n, &cfg.Global, &lowPrio)
			}
		}},
		"vrrp_script": {multi: true, fn: func(n *node) {
			if d.shape(n, true, 1, 1) {
				cfg.VRRPScripts = append(cfg.VRRPScripts, d.vrrpScript(n))
			}
		}},
		"vrrp_sync_group": {multi: true, fn: func(n *node) {
			if d.shape(n, true, 1, 1) {
				cfg.VRRPSyncGroups = append(cfg.VRRPSyncGroups, d.syncGroup(n))
			}
		}},
		"vrrp_instance": {multi: true, fn: func(n *node) {
			if d.shape(n, true, 1, 1) {
				instances = append(instances, d.instance(n))
			}
		}},
		"virtual_server":   {multi: true, fn: func(n *node) { vsNodes = append(vsNodes, n) }},
		"static_ipaddress": {multi: true, fn: func(n *node) { cfg.StaticAddrs = append(cfg.StaticAddrs, d.staticAddrs(n)...) }},
		"static_routes":    {multi: true, fn: func(n *node) { cfg.StaticRoutes = append(cfg.StaticRoutes, d.routes(n)...) }},
		"static_rules":     {multi: true, fn: func(n *node) { cfg.StaticRules = append(cfg.StaticRules, d.rules(n, d.rulePrio)...) }},
		"track_file":       {multi: true, fn: func(n *node) { d.addTrackFile(cfg, n) }},
		"vrrp_track_file":  {multi: true, fn: func(n *node) { d.addTrackFile(cfg, n) }},
		"vrrp_track_process": {multi: true, fn: func(n *node) {
			if d.shape(n, true, 1, 1) {
				cfg.TrackProcesses = append(cfg.TrackProcesses, d.trackProcessBlock(n))
			}
		}},
		// An lvsctl extension (docs/bgp.md).
		"bgp": {fn: func(n *node) { d.bgpBlock(n, cfg) }},
		"SSL": {multi: true, fn: func(n *node) {
			if d.shape(n, true, 0, 0) {
				d.sslBlock(n, cfg)
			}
		}},
		"virtual_server_group": {multi: true, fn: func(n *node) {
			if d.shape(n, true, 1, 1) {
				groups = append(groups, n)
			}
		}},
	})
	// Groups may be defined after the virtual servers that use them; so
	// may track files (keepalived wants them before: docs/config.md).
	d.trackFiles = cfg.TrackFiles
	cfg.VirtualServers = d.virtualServers(vsNodes, d.vsGroups(groups))
	// keepalived: the lower-priority ARP settings default to the master ones.
	cfg.Global.VRRPGarpLowerPrioDelay = cfg.Global.VRRPGarpMasterDelay
	if lowPrio.delay != nil {
		cfg.Global.VRRPGarpLowerPrioDelay = *lowPrio.delay
	}
	cfg.Global.VRRPGarpLowerPrioRepeat = cfg.Global.VRRPGarpMasterRepeat
	if lowPrio.repeat != nil {
		cfg.Global.VRRPGarpLowerPrioRepeat = *lowPrio.repeat
	}
	// Instance defaults come from global_defs, wherever it appears.
	for _, in := range instances {
		r := in.resolve(&cfg.Global)
		d.advertTuning(in, &r, &cfg.Global)
		if in.nativeIPv6.Line > 0 && !r.IPv6() {
			d.diag.errorf(in.nativeIPv6, "native_ipv6 in vrrp_instance %s, whose virtual_ipaddress is IPv4 or empty: keepalived refuses it with IPv4 addresses; lvsctl takes the family from virtual_ipaddress: give IPv6 addresses or delete the line", r.Name)
		}
		if r.Version == 2 && r.IPv6() {
			// keepalived 2.2.7 runs an instance with IPv6 addresses as
			// VRRPv3 whatever the global vrrp_version (vrrp.c,
			// vrrp_complete_instance). An explicit "version 2" is either
			// refused with a config error and ignored (it follows
			// virtual_ipaddress: vrrp_parser.c, vrrp_version_handler) or,
			// before the addresses, kept: non-standard VRRPv2 over IPv6
			// that no RFC peer accepts (vrrp_strict turns it into 3).
			d.diag.errorf(in.versionPos, "version 2: vrrp_instance %s has IPv6 addresses, which VRRP only carries in version 3; keepalived would ignore this line if it follows virtual_ipaddress, else send non-standard VRRPv2 over IPv6 (version 3 with vrrp_strict): delete the line or write version 3", r.Name)
		}
		cfg.VRRPInstances = append(cfg.VRRPInstances, r)
		d.vridPos = append(d.vridPos, in.vridPos)
	}
	d.resolveSync(cfg, instances)
	d.resolveSMTPAlerts(cfg)
	d.resolveFIFOs(cfg)
	resolvePriorityChanges(cfg, instances)
	return cfg
}

// lowPrioDraft holds the global lower-priority ARP settings until the
// master ones they default to are known.
type lowPrioDraft struct {
	delay  *time.Duration
	repeat *int
}

func (d *decoder) global(n *node, g *GlobalDefs, low *lowPrioDraft) {
	if !g.Pos.IsValid() {
		g.Pos = n.pos()
	}
	spec := map[string]kw{
		"router_id":         {fn: func(n *node) { d.str(n, &g.RouterID) }},
		"lvs_flush_on_stop": {fn: d.lvsFlushOnStop},
		// core/global_parser.c: a quoted command [user [group]], run by
		// keepalived's parent before it starts anything / after it
		// stopped everything; timeouts are whole seconds 1..1000.
		"startup_script":          {multi: true, fn: func(n *node) { d.hostScript(n, &g.StartupScript) }},
		"shutdown_script":         {multi: true, fn: func(n *node) { d.hostScript(n, &g.ShutdownScript) }},
		"startup_script_timeout":  {fn: func(n *node) { d.durKw(n, time.Second, 1000*time.Second, true, &g.StartupScriptTimeout) }},
		"shutdown_script_timeout": {fn: func(n *node) { d.durKw(n, time.Second, 1000*time.Second, true, &g.ShutdownScriptTimeout) }},
		"lvs_flush_onstop":        {fn: d.lvsFlushOnStop},
		"default_interface": {fn: func(n *node) {
			d.str(n, &d.defaultIface)
			if u := d.defaultIfaceUsed; u != nil {
				d.diag.errorf(n.pos(), "default_interface comes after static_ipaddress %s (%s), which keepalived already put on %s: move global_defs above static_ipaddress", u.Prefix, u.Pos, defaultInterface)
			}
		}},
		"lvs_id": {fn: func(n *node) { d.str(n, &g.RouterID) }},
		"vrrp_mcast_group4": {fn: func(n *node) {
			var a netip.Addr
			d.addrKw(n, &a)
			if a.IsValid() {
				if !a.Is4() || !a.IsMulticast() {
					d.diag.errorf(n.args[0].pos(), "vrrp_mcast_group4 must be an IPv4 multicast address, not %s", a)
					return
				}
				g.VRRPMcastGroup4 = a
			}
		}},
		"vrrp_mcast_group6": {fn: func(n *node) {
			var a netip.Addr
			d.addrKw(n, &a)
			if a.IsValid() {
				if !a.Is6() || !a.IsMulticast() {
					d.diag.errorf(n.args[0].pos(), "vrrp_mcast_group6 must be an IPv6 multicast address, not %s", a)
					return
				}
				if !a.IsLinkLocalMulticast() {
					// global_parser.c warns the same and uses it.
					d.diag.warnf(n.args[0].pos(), "vrrp_mcast_group6 %s should be a link-local multicast address (ff02::/16)", a)
				}
				g.VRRPMcastGroup6 = a
			}
		}},
		"vrrp_version":                    {fn: func(n *node) { d.intKw(n, 2, 3, &g.VRRPVersion) }},
		"vrrp_garp_master_delay":          {fn: func(n *node) { d.durKw(n, 0, maxTimer, true, &g.VRRPGarpMasterDelay) }},
		"vrrp_garp_master_repeat":         {fn: func(n *node) { d.intKw(n, 1, 1<<20, &g.VRRPGarpMasterRepeat) }},
		"vrrp_garp_master_refresh":        {fn: func(n *node) { d.durKw(n, 0, maxTimer, true, &g.VRRPGarpMasterRefresh) }},
		"vrrp_garp_master_refresh_repeat": {fn: func(n *node) { d.intKw(n, 1, 1<<20, &g.VRRPGarpMasterRefreshRepeat) }},
		"vrrp_garp_lower_prio_delay":      {fn: func(n *node) { d.durPtr(n, 0, maxTimer, true, &low.delay) }},
		"vrrp_garp_lower_prio_repeat":     {fn: func(n *node) { d.intPtr(n, 0, 1<<20, &low.repeat) }},
		"vrrp_garp_interval":              {fn: func(n *node) { d.durKw(n, 0, time.Second, false, &g.VRRPGarpInterval) }},
		"vrrp_gna_interval":               {fn: func(n *node) { d.durKw(n, 0, time.Second, false, &g.VRRPGnaInterval) }},
		"vrrp_strict":                     {fn: func(n *node) { d.flag(n, &g.VRRPStrict) }},
		"vrrp_lower_prio_no_advert":       {fn: func(n *node) { d.flagPtr(n, &g.VRRPLowerPrioNoAdvert) }},
		"vrrp_higher_prio_send_advert":    {fn: func(n *node) { d.flagPtr(n, &g.VRRPHigherPrioSendAdvert) }},
		"vrrp_down_timer_adverts":         {fn: func(n *node) { d.intKw(n, 1, 100, &g.VRRPDownTimerAdverts) }},
		"rs_init_notifies":                {fn: func(n *node) { d.flag(n, &g.RSInitNotifies) }},
		// global_parser.c vrrp_min_garp_handler: one gratuitous ARP/NA
		// burst of one, no delayed second burst, no refresh; only the
		// values still at their defaults change (file order counts).
		"vrrp_min_garp": {fn: func(n *node) {
			var on *bool
			d.flagPtr(n, &on)
			if on == nil || !*on {
				return
			}
			if g.VRRPGarpMasterRepeat == defaultGarpRepeat {
				g.VRRPGarpMasterRepeat = 1
			}
			if g.VRRPGarpMasterDelay == defaultGarpMasterDelay {
				g.VRRPGarpMasterDelay = 0
			}
		}},
		// global_parser.c: decimal seconds, 1 ms..UINT_MAX µs.
		"vrrp_startup_delay":       {fn: func(n *node) { d.durKw(n, time.Millisecond, (1<<32-1)*time.Microsecond, false, &g.VRRPStartupDelay) }},
		"vrrp_skip_check_adv_addr": {fn: func(n *node) { d.flag(n, &g.VRRPSkipCheckAdvAddr) }},
		"enable_script_security":   {fn: func(n *node) { g.ScriptSecurityPos = n.pos(); d.flag(n, &g.EnableScriptSecurity) }},
		"lvs_sync_daemon":          {fn: func(n *node) { d.lvsSyncDaemon(n, g) }},
		"lvs_sync_refresh_period":  {fn: func(n *node) { d.lvsSyncSysctl(n, g) }},
		"lvs_sync_threshold":       {fn: func(n *node) { d.lvsSyncSysctl(n, g) }},
		"lvs_sync_retries":         {fn: func(n *node) { d.lvsSyncSysctl(n, g) }},
		"lvs_timeouts":             {fn: func(n *node) { d.lvsTimeouts(n, g) }},
		"notification_email":       {fn: func(n *node) { d.notificationEmail(n, &g.SMTP) }},
		"notification_email_from":  {fn: func(n *node) { d.mailAddr(n, &g.SMTP.From) }},
		"smtp_server":              {fn: func(n *node) { d.smtpServer(n, &g.SMTP) }},
		"smtp_helo_name":           {fn: func(n *node) { d.mailAddr(n, &g.SMTP.HeloName) }},
		"smtp_connect_timeout":     {fn: func(n *node) { d.smtpTimeout(n, &g.SMTP) }},
		"smtp_alert":               {fn: func(n *node) { d.flagPtr(n, &g.SMTP.Alert) }},
		"smtp_alert_vrrp":          {fn: func(n *node) { d.flagPtr(n, &g.SMTP.AlertVRRP) }},
		"smtp_alert_checker":       {fn: func(n *node) { d.flagPtr(n, &g.SMTP.AlertChecker) }},
		"no_email_faults":          {fn: func(n *node) { d.flag(n, &g.SMTP.NoEmailFaults) }},
		"script_user": {fn: func(n *node) {
			if d.shape(n, false, 1, 2) {
				g.ScriptUserPos = n.args[0].pos()
				g.ScriptUser = n.args[0].text
				if len(n.args) == 2 {
					g.ScriptGroup = n.args[1].text
				}
			}
		}},
	}
	maps.Copy(spec, d.fifoKeywords(g))
	d.walk(n, "global_defs", "global_defs", spec)
}

func (d *decoder) vrrpScript(n *node) VRRPScript {
	s := VRRPScript{Pos: n.pos(), Name: n.args[0].text, Interval: defaultScriptInterval, Rise: 1, Fall: 1}
	var timeout *time.Duration
	d.walk(n, "vrrp_script", "vrrp_script "+s.Name, map[string]kw{
		"script":   {fn: func(n *node) { d.script(n, &s.Script) }},
		"interval": {fn: func(n *node) { d.durKw(n, time.Millisecond, maxTimer, false, &s.Interval) }},
		"timeout":  {fn: func(n *node) { d.durPtr(n, time.Millisecond, maxTimer, false, &timeout) }},
		"weight":   {fn: func(n *node) { d.weightReverse(n, -253, 253, &s.Weight, &s.WeightReverse) }},
		"rise":     {fn: func(n *node) { d.intKw(n, 1, 1<<20, &s.Rise) }},
		"fall":     {fn: func(n *node) { d.intKw(n, 1, 1<<20, &s.Fall) }},
		"user": {fn: func(n *node) {
			if d.shape(n, false, 1, 2) {
				s.User = n.args[0].text
				if len(n.args) == 2 {
					s.Group = n.args[1].text
				}
			}
		}},
		"init_fail": {fn: func(n *node) { d.flag(n, &s.InitFail) }},
	})
	s.Timeout = s.Interval
	if timeout != nil {
		s.Timeout = *timeout
	}
	if s.Script.IsZero() {
		d.diag.errorf(n.pos(), "vrrp_script %s has no script: keepalived would drop it (\"No script set for vrrp_script - removing\")", s.Name)
	}
	return s
}

func (d *decoder) syncGroup(n *node) VRRPSyncGroup {
	g := VRRPSyncGroup{Pos: n.pos(), Name: n.args[0].text, Group: []NameRef{}, TrackScripts: []TrackScript{}, TrackIfaces: []TrackIface{}}
	groupSeen := false
	d.walk(n, "vrrp_sync_group", "vrrp_sync_group "+g.Name, map[string]kw{
		"group": {fn: func(n *node) {
			groupSeen = true
			g.Group = append(g.Group, d.names(n)...)
		}},
		"notify_master":           {fn: func(n *node) { d.script(n, &g.NotifyMaster) }},
		"notify_backup":           {fn: func(n *node) { d.script(n, &g.NotifyBackup) }},
		"notify_fault":            {fn: func(n *node) { d.script(n, &g.NotifyFault) }},
		"notify_stop":             {fn: func(n *node) { d.script(n, &g.NotifyStop) }},
		"notify":                  {fn: func(n *node) { d.script(n, &g.Notify) }},
		"track_script":            {multi: true, fn: func(n *node) { g.TrackScripts = append(g.TrackScripts, d.trackScripts(n)...) }},
		"track_interface":         {multi: true, fn: func(n *node) { g.TrackIfaces = append(g.TrackIfaces, d.trackIfaces(n)...) }},
		"smtp_alert":              {fn: func(n *node) { d.blockSMTPAlert(n, g.Pos) }},
		"track_file":              {multi: true, fn: func(n *node) { g.TrackFiles = append(g.TrackFiles, d.trackRefs(n)...) }},
		"track_process":           {multi: true, fn: func(n *node) { g.TrackProcesses = append(g.TrackProcesses, d.trackRefs(n)...) }},
		"notify_priority_changes": {fn: func(n *node) { d.flagPtr(n, &g.NotifyPriorityChanges) }},
	})
	if !groupSeen {
		d.diag.errorf(n.pos(), "vrrp_sync_group %s has no group { } block: keepalived would drop the sync group (\"has no virtual router(s)\"); list its instances in group { }", g.Name)
	}
	return g
}

func (d *decoder) trackScripts(n *node) []TrackScript {
	out := []TrackScript{}
	if !d.shape(n, true, 0, 0) {
		return out
	}
	for _, c := range n.children {
		if d.special(c) {
			continue
		}
		if c.block {
			d.diag.errorf(c.pos(), "unexpected block in track_script")
			continue
		}
		ts := TrackScript{Pos: c.pos(), Name: c.key.text}
		args := c.args
		if len(args) > 0 {
			if args[0].text != "weight" || len(args) < 2 || len(args) > 3 {
				d.diag.errorf(args[0].pos(), "track_script entry: expected NAME [weight N [reverse]]")
				continue
			}
			v, ok := d.intRange(args[1], "track_script weight", -253, 253)
			if !ok {
				continue
			}
			ts.Weight, ts.WeightSet = int(v), true
			if len(args) == 3 {
				if args[2].text != "reverse" {
					d.diag.errorf(args[2].pos(), "track_script entry: expected \"reverse\", got %q", args[2].text)
					continue
				}
				ts.Reverse = true
			}
		}
		out = append(out, ts)
	}
	return out
}

func (d *decoder) trackIfaces(n *node) []TrackIface {
	out := []TrackIface{}
	if !d.shape(n, true, 0, 0) {
		return out
	}
	for _, c := range n.children {
		if d.special(c) {
			continue
		}
		if c.block {
			d.diag.errorf(c.pos(), "unexpected block in track_interface")
			continue
		}
		ti := TrackIface{Pos: c.pos(), Name: c.key.text}
		if len(c.args) > 0 {
			if c.args[0].text != "weight" || len(c.args) != 2 {
				d.diag.errorf(c.args[0].pos(), "track_interface entry: expected IFACE [weight N]")
				continue
			}
			v, ok := d.intRange(c.args[1], "track_interface weight", -254, 254)
			if !ok {
				continue
			}
			ti.Weight, ti.WeightSet = int(v), true
		}
		out = append(out, ti)
	}
	return out
}

// instanceDraft holds an instance whose defaults from global_defs are not
// applied yet (global_defs may come after it).
type instanceDraft struct {
	in VRRPInstance
	// vridPos is where virtual_router_id's value is, for duplicates.
	vridPos Position
	// versionPos is where the instance's version value is.
	versionPos                                   Position
	version                                      *int
	garpDelay, garpRefresh, garpLowDelay         *time.Duration
	garpRepeat, garpRefreshRepeat, garpLowRepeat *int
	lvsSync                                      *LVSSync // deprecated lvs_sync_daemon_interface
	// nativeIPv6 is where native_ipv6 is (zero: absent).
	nativeIPv6 Position
	// The advert tuning of the instance (nil: global_defs', or
	// vrrp_strict's), with the lines' positions.
	lowerNoAdvert, higherSendAdvert *bool
	downAdverts                     *int
	lowerPos, higherPos, downPos    Position
	// prioChanges is the instance's own notify_priority_changes.
	prioChanges *bool
}

func (dr *instanceDraft) resolve(g *GlobalDefs) VRRPInstance {
	in := dr.in
	pick := func(p *int, def int) int {
		if p != nil {
			return *p
		}
		return def
	}
	pickD := func(p *time.Duration, def time.Duration) time.Duration {
		if p != nil {
			return *p
		}
		return def
	}
	def := g.VRRPVersion
	if in.IPv6() {
		// keepalived 2.2.7 vrrp.c (vrrp_complete_instance): an IPv6
		// instance without a version is VRRPv3, whatever vrrp_version says.
		def = 3
	}
	in.Version = pick(dr.version, def)
	in.GarpMasterDelay = pickD(dr.garpDelay, g.VRRPGarpMasterDelay)
	in.GarpMasterRepeat = pick(dr.garpRepeat, g.VRRPGarpMasterRepeat)
	in.GarpMasterRefresh = pickD(dr.garpRefresh, g.VRRPGarpMasterRefresh)
	in.GarpMasterRefreshRepeat = pick(dr.garpRefreshRepeat, g.VRRPGarpMasterRefreshRepeat)
	in.GarpLowerPrioDelay = pickD(dr.garpLowDelay, g.VRRPGarpLowerPrioDelay)
	in.GarpLowerPrioRepeat = pick(dr.garpLowRepeat, g.VRRPGarpLowerPrioRepeat)
	if in.UseVMAC != nil {
		v := *in.UseVMAC
		in.UseVMAC = &v
		// keepalived 2.2.7 vrrp_parser.c vrrp_end_handler: "unicast with
		// use_vmac requires vmac_xmit_base - setting" (validate warns).
		if len(in.UnicastPeers) > 0 {
			in.VMACXmitBase = true
		}
	}
	return in
}

func (d *decoder) instance(n *node) *instanceDraft {
	dr := &instanceDraft{in: VRRPInstance{
		Pos: n.pos(), Name: n.args[0].text, State: StateBackup, Priority: defaultPriority,
		AdvertInt: defaultAdvertInt, VIPs: []VIP{}, VIPsExcluded: []VIP{}, UnicastPeers: []UnicastPeer{},
		TrackIfaces: []TrackIface{}, TrackScripts: []TrackScript{},
	}}
	in := &dr.in
	where := "vrrp_instance " + in.Name
	stateSet := false
	var preemptPos, delayPos, promotePos, ttlPos Position
	d.walk(n, "vrrp_instance", where, map[string]kw{
		"state": {fn: func(n *node) {
			if t, ok := d.value(n); ok {
				// keepalived compares with strcmp: anything but MASTER
				// or BACKUP, "master" too, starts the instance as BACKUP.
				switch s := State(t.text); s {
				case StateMaster, StateBackup:
					in.State = s
					stateSet = true
				default:
					stateSet = true
					if up := State(strings.ToUpper(t.text)); up == StateMaster || up == StateBackup {
						d.diag.errorf(t.pos(), "state: %q: keepalived is case-sensitive and would start this instance as BACKUP (unknown state): write %s", t.text, up)
					} else {
						d.diag.errorf(t.pos(), "state: %q is not MASTER or BACKUP (keepalived would start this instance as BACKUP)", t.text)
					}
				}
			}
		}},
		"interface": {fn: func(n *node) { d.str(n, &in.Interface) }},
		"virtual_router_id": {fn: func(n *node) {
			d.intKw(n, 1, 255, &in.VirtualRouterID)
			if len(n.args) > 0 {
				dr.vridPos = n.args[0].pos()
			}
		}},
		"priority": {fn: func(n *node) { d.intKw(n, 1, 255, &in.Priority) }},
		"advert_int": {fn: func(n *node) {
			// The version-dependent range is checked in validate.
			d.durKw(n, 10*time.Millisecond, 255*time.Second, false, &in.AdvertInt)
		}},
		"version": {fn: func(n *node) {
			d.intPtr(n, 2, 3, &dr.version)
			if len(n.args) > 0 {
				dr.versionPos = n.args[0].pos()
			}
		}},
		"authentication": {fn: func(n *node) {
			if d.shape(n, true, 0, 0) {
				in.Auth = d.auth(n)
			}
		}},
		"virtual_ipaddress":          {multi: true, fn: func(n *node) { in.VIPs = append(in.VIPs, d.vips(n)...) }},
		"virtual_ipaddress_excluded": {multi: true, fn: func(n *node) { in.VIPsExcluded = append(in.VIPsExcluded, d.vips(n)...) }},
		"virtual_routes":             {multi: true, fn: func(n *node) { in.VirtualRoutes = append(in.VirtualRoutes, d.routes(n)...) }},
		"virtual_rules":              {multi: true, fn: func(n *node) { in.VirtualRules = append(in.VirtualRules, d.rules(n, d.rulePrio)...) }},
		// vrrp_parser.c vrrp_ttl_handler: 0..255; 0 would make the
		// kernel refuse every send (IP_TTL must be 1..255).
		"unicast_ttl": {fn: func(n *node) {
			if t, ok := d.value(n); ok && t.text == "0" {
				d.diag.errorf(t.pos(), "unicast_ttl 0: keepalived accepts it, and the kernel then refuses every advert (a TTL is 1..255)")
				return
			}
			d.intKw(n, 1, 255, &in.UnicastTTL)
			ttlPos = n.pos()
		}},
		"unicast_src_ip": {fn: func(n *node) {
			if t, ok := d.value(n); ok {
				if a, ok := d.addrStripPrefix(t, n.key.text); ok {
					in.UnicastSrcIP = a
				}
			}
		}},
		"mcast_src_ip": {fn: func(n *node) { d.addrKw(n, &in.MCastSrcIP) }},
		"unicast_peer": {multi: true, fn: func(n *node) { in.UnicastPeers = append(in.UnicastPeers, d.peers(n)...) }},
		"nopreempt": {fn: func(n *node) {
			d.flag(n, &in.NoPreempt)
			preemptPos = n.pos()
		}},
		"preempt": {fn: func(n *node) {
			var p bool
			d.flag(n, &p)
			in.NoPreempt = !p
			preemptPos = n.pos()
		}},
		"preempt_delay": {fn: func(n *node) {
			d.durKw(n, 0, 1000*time.Second, false, &in.PreemptDelay)
			delayPos = n.pos()
		}},
		"garp_master_delay":          {fn: func(n *node) { d.durPtr(n, 0, maxTimer, true, &dr.garpDelay) }},
		"garp_master_repeat":         {fn: func(n *node) { d.intPtr(n, 1, 1<<20, &dr.garpRepeat) }},
		"garp_master_refresh":        {fn: func(n *node) { d.durPtr(n, 0, maxTimer, true, &dr.garpRefresh) }},
		"garp_master_refresh_repeat": {fn: func(n *node) { d.intPtr(n, 1, 1<<20, &dr.garpRefreshRepeat) }},
		"garp_lower_prio_delay":      {fn: func(n *node) { d.durPtr(n, 0, maxTimer, true, &dr.garpLowDelay) }},
		"garp_lower_prio_repeat":     {fn: func(n *node) { d.intPtr(n, 0, 1<<20, &dr.garpLowRepeat) }},
		"dont_track_primary":         {fn: func(n *node) { d.flag(n, &in.DontTrackPrimary) }},
		"use_vmac":                   {fn: func(n *node) { in.UseVMAC = d.useVMAC(n) }},
		"vmac_xmit_base":             {fn: func(n *node) { d.flag(n, &in.VMACXmitBase) }},
		"lower_prio_no_advert":       {fn: func(n *node) { d.flagPtr(n, &dr.lowerNoAdvert); dr.lowerPos = n.pos() }},
		"higher_prio_send_advert":    {fn: func(n *node) { d.flagPtr(n, &dr.higherSendAdvert); dr.higherPos = n.pos() }},
		"down_timer_adverts":         {fn: func(n *node) { d.intPtr(n, 1, 100, &dr.downAdverts); dr.downPos = n.pos() }},
		// vrrp_parser.c: IPv6 (hence VRRPv3) without needing an address
		// first; with IPv4 addresses an error. lvsctl takes the family
		// from virtual_ipaddress, so the line must agree with it.
		"native_ipv6": {fn: func(n *node) {
			if d.shape(n, false, 0, 0) {
				dr.nativeIPv6 = n.pos()
			}
		}},
		"promote_secondaries": {fn: func(n *node) {
			d.flag(n, &in.PromoteSecondaries)
			promotePos = n.pos()
		}},
		"track_interface":           {multi: true, fn: func(n *node) { in.TrackIfaces = append(in.TrackIfaces, d.trackIfaces(n)...) }},
		"track_script":              {multi: true, fn: func(n *node) { in.TrackScripts = append(in.TrackScripts, d.trackScripts(n)...) }},
		"track_file":                {multi: true, fn: func(n *node) { in.TrackFiles = append(in.TrackFiles, d.trackRefs(n)...) }},
		"track_process":             {multi: true, fn: func(n *node) { in.TrackProcesses = append(in.TrackProcesses, d.trackRefs(n)...) }},
		"notify_master":             {fn: func(n *node) { d.script(n, &in.NotifyMaster) }},
		"notify_backup":             {fn: func(n *node) { d.script(n, &in.NotifyBackup) }},
		"notify_fault":              {fn: func(n *node) { d.script(n, &in.NotifyFault) }},
		"notify_stop":               {fn: func(n *node) { d.script(n, &in.NotifyStop) }},
		"notify":                    {fn: func(n *node) { d.script(n, &in.Notify) }},
		"lvs_sync_daemon_interface": {fn: func(n *node) { d.lvsSyncInterface(n, dr) }},
		"smtp_alert":                {fn: func(n *node) { d.blockSMTPAlert(n, dr.in.Pos) }},
		"notify_priority_changes":   {fn: func(n *node) { d.flagPtr(n, &dr.prioChanges) }},
	})
	// With use_vmac the addresses without a dev go on the VMAC interface
	// (keepalived 2.2.7: vrrp->ifp is the VMAC, the default of every VIP).
	defDev := in.Interface
	if in.UseVMAC != nil {
		if in.UseVMAC.Name == "" {
			in.UseVMAC.Name = "vrrp." + strconv.Itoa(in.VirtualRouterID)
		}
		if len(in.UseVMAC.MAC) == 5 {
			in.UseVMAC.MAC = append(in.UseVMAC.MAC, byte(in.VirtualRouterID))
		}
		defDev = in.UseVMAC.Name
	}
	for _, list := range [][]VIP{in.VIPs, in.VIPsExcluded} {
		for i := range list {
			if list[i].Dev == "" {
				list[i].Dev = defDev
			}
		}
	}
	if !stateSet && in.Priority == 255 {
		// keepalived derives the initial state from the priority.
		in.State = StateMaster
	}
	// keepalived (vrrp.c, vrrp_complete_instance) clears nopreempt and
	// preempt_delay of an instance that starts as MASTER, with a log
	// line: the node preempts. Do the same, and say so.
	if in.State == StateMaster && in.NoPreempt {
		d.diag.warnf(preemptPos, "%s: nopreempt does not work with state MASTER: keepalived clears it, and so does lvsctl (this node preempts); write state BACKUP on every node to stop preemption", where)
		in.NoPreempt = false
	}
	if in.State == StateMaster && in.PreemptDelay > 0 {
		d.diag.warnf(delayPos, "%s: preempt_delay does not work with state MASTER: keepalived clears it, and so does lvsctl (this node preempts at once); write state BACKUP to delay preemption", where)
		in.PreemptDelay = 0
	}
	if in.UnicastTTL != 0 && len(in.UnicastPeers) == 0 {
		// vrrp_parser.c vrrp_end_handler: "Cannot use unicast_ttl
		// without unicast peers - resetting".
		d.diag.warnf(ttlPos, "%s: unicast_ttl without unicast_peer changes nothing (keepalived says so and drops it); delete the line", where)
		in.UnicastTTL = 0
	}
	if in.PromoteSecondaries && in.UseVMAC != nil {
		// vrrp.c vrrp_complete_instance: "promote_secondaries is
		// automatically set for vmacs - ignoring".
		d.diag.warnf(promotePos, "%s: promote_secondaries with use_vmac: keepalived ignores it (the VMAC has it set anyway), and so does lvsctl; delete the line", where)
		in.PromoteSecondaries = false
	}
	if in.Interface == "" {
		d.diag.errorf(n.pos(), "%s has no interface", where)
	}
	if in.VirtualRouterID == 0 && !d.hasKey(n, "virtual_router_id") {
		d.diag.errorf(n.pos(), "%s has no virtual_router_id", where)
	}
	return dr
}

func (d *decoder) hasKey(n *node, key string) bool {
	for _, c := range n.children {
		if c.key.text == key {
			return true
		}
	}
	return false
}

func (d *decoder) auth(n *node) *Authentication {
	a := &Authentication{Pos: n.pos()}
	typeSet := false
	d.walk(n, "authentication", "authentication", map[string]kw{
		"auth_type": {fn: func(n *node) {
			if t, ok := d.value(n); ok {
				typeSet = true
				// keepalived compares with strcmp: "pass" is an unknown
				// type, and the instance runs without authentication.
				switch t.text {
				case "PASS":
					a.Type = "PASS"
				case "AH":
					d.diag.errorf(t.pos(), "auth_type AH is not supported by lvsctl (it changes the packet format; keepalived deprecates it): use PASS or no authentication")
				default:
					if up := strings.ToUpper(t.text); up == "PASS" || up == "AH" {
						d.diag.errorf(t.pos(), "auth_type %q: keepalived is case-sensitive and would run this instance without authentication (unknown type): write %s", t.text, up)
					} else {
						d.diag.errorf(t.pos(), "auth_type: %q is not PASS (keepalived would run this instance without authentication)", t.text)
					}
				}
			}
		}},
		"auth_pass": {fn: func(n *node) {
			if t, ok := d.value(n); ok {
				a.Pass = t.text
				if len(a.Pass) > 8 {
					d.diag.warnf(t.pos(), "auth_pass is longer than 8 characters: only %q is used (as keepalived does)", a.Pass[:8])
					a.Pass = a.Pass[:8]
				}
			}
		}},
	})
	if !typeSet && a.Pass != "" {
		d.diag.errorf(n.pos(), "authentication without auth_type: keepalived would run this instance without authentication and ignore auth_pass: add \"auth_type PASS\", or remove the block")
	}
	if a.Type == "PASS" && a.Pass == "" {
		d.diag.errorf(n.pos(), "authentication with auth_type PASS needs auth_pass")
	}
	return a
}

// vips reads virtual_ipaddress lines:
// ADDR[/LEN] [brd ADDR] [dev IFACE] [scope SCOPE] [label LABEL].
func (d *decoder) vips(n *node) []VIP {
	var out []VIP
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
		v := VIP{Pos: c.pos(), Scope: "global"}
		text := c.key.text
		var err error
		if strings.Contains(text, "/") {
			v.Prefix, err = netip.ParsePrefix(text)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(text)
			if err == nil {
				v.Prefix = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || v.Prefix.Addr().Zone() != "" {
			d.diag.errorf(c.pos(), "%s: %q is not an IP address or ADDR/LEN", n.key.text, text)
			continue
		}
		v.Prefix = netip.PrefixFrom(v.Prefix.Addr().Unmap(), v.Prefix.Bits())
		ok := true
		args := c.args
		for i := 0; i < len(args); i += 2 {
			opt := args[i]
			if i+1 >= len(args) {
				d.diag.errorf(opt.pos(), "%s: option %q needs a value", n.key.text, opt.text)
				ok = false
				break
			}
			val := args[i+1]
			switch opt.text {
			case "dev":
				v.Dev = val.text
			case "label":
				v.Label = val.text
			case "scope":
				switch val.text {
				case "global", "site", "link", "host", "nowhere":
					v.Scope = val.text
				default:
					d.diag.errorf(val.pos(), "scope: %q is not global, site, link, host or nowhere", val.text)
					ok = false
				}
			case "brd", "broadcast":
				if a, good := d.addr(val, "brd"); good {
					v.Broadcast = a
				} else {
					ok = false
				}
			default:
				d.diag.errorf(opt.pos(), "%s: unsupported address option %q (lvsctl supports dev, brd, scope and label)", n.key.text, opt.text)
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok {
			out = append(out, v)
		}
	}
	return out
}

func (d *decoder) peers(n *node) []UnicastPeer {
	var out []UnicastPeer
	if !d.shape(n, true, 0, 0) {
		return nil
	}
	for _, c := range n.children {
		if d.special(c) {
			continue
		}
		if c.block || len(c.args) > 0 {
			d.diag.errorf(c.pos(), "unicast_peer: expected one address per line (min_ttl/max_ttl are not supported)")
			continue
		}
		if a, ok := d.addrStripPrefix(c.key, "unicast_peer"); ok {
			out = append(out, UnicastPeer{Pos: c.pos(), Addr: a})
		}
	}
	return out
}

// checkDefaults are the checker settings a virtual server or real server
// may give to the checkers below it.
type checkDefaults struct {
	retry                                    *int
	delayBeforeRetry, warmup, connectTimeout *time.Duration
	delayLoop                                *time.Duration
}

func (c checkDefaults) over(parent checkDefaults) checkDefaults {
	if c.retry == nil {
		c.retry = parent.retry
	}
	if c.delayBeforeRetry == nil {
		c.delayBeforeRetry = parent.delayBeforeRetry
	}
	if c.warmup == nil {
		c.warmup = parent.warmup
	}
	if c.connectTimeout == nil {
		c.connectTimeout = parent.connectTimeout
	}
	if c.delayLoop == nil {
		c.delayLoop = parent.delayLoop
	}
	return c
}

func (d *decoder) checkDefaultKeywords(spec map[string]kw, c *checkDefaults) {
	spec["retry"] = kw{fn: func(n *node) { d.intPtr(n, 0, 1<<20, &c.retry) }}
	spec["delay_before_retry"] = kw{fn: func(n *node) { d.durPtr(n, 0, maxTimer, false, &c.delayBeforeRetry) }}
	spec["warmup"] = kw{fn: func(n *node) { d.durPtr(n, 0, maxTimer, false, &c.warmup) }}
	spec["connect_timeout"] = kw{fn: func(n *node) { d.durPtr(n, time.Millisecond, maxTimer, false, &c.connectTimeout) }}
	spec["delay_loop"] = kw{fn: func(n *node) { d.durPtr(n, time.Millisecond, maxTimer, false, &c.delayLoop) }}
}

// vsDraft is a virtual_server block being decoded.
type vsDraft struct {
	vs                  VirtualServer
	def                 checkDefaults
	protoSet, methodSet bool
	schedSet            bool
	sorryInhibit        bool
	sorryMethod         Method
	sorryNoPort         bool
	persistence         bool
	timeoutSet          bool
	weight              int // default weight of its real servers
	quorumPos           Position
	haSuspendPos        Position
	rsNodes             []*node
}

// schedFlag sets a scheduler flag; sched is the scheduler the flag needs
// ("" for any).
func (d *decoder) schedFlag(n *node, v *vsDraft, sched string, flag uint32) {
	if !d.shape(n, false, 0, 0) {
		return
	}
	if sched != "" && v.vs.Scheduler != sched {
		if v.schedSet {
			d.diag.errorf(n.pos(), "%s only applies to lb_algo %s, not %s: keepalived would ignore it", n.key.text, sched, v.vs.Scheduler)
		} else {
			d.diag.errorf(n.pos(), "%s before lb_algo %s: keepalived reads the lines in order and would ignore it (the scheduler is not %s yet): move it after lb_algo", n.key.text, sched, sched)
		}
		return
	}
	v.vs.SchedulerFlags |= flag
}

// sorryOrder refuses sorry_server_* before sorry_server: keepalived
// (check_parser.c, ssvri_handler, ss_forwarding_handler) ignores them.
func (d *decoder) sorryOrder(n *node, v *vsDraft) {
	if v.vs.SorryServer == nil {
		d.diag.errorf(n.pos(), "%s before (or without) sorry_server: keepalived would ignore it: move it after sorry_server", n.key.text)
	}
}

// checkDefaultKeywordsOf adds the inheritable checker settings to a static
// table; def finds them in the block's draft.
func checkDefaultKeywordsOf[S any](spec map[string]kwOf[S], def func(S) *checkDefaults) map[string]kwOf[S] {
	spec["retry"] = kwOf[S]{fn: func(d *decoder, s S, n *node) { d.intPtr(n, 0, 1<<20, &def(s).retry) }}
	spec["delay_before_retry"] = kwOf[S]{fn: func(d *decoder, s S, n *node) { d.durPtr(n, 0, maxTimer, false, &def(s).delayBeforeRetry) }}
	spec["warmup"] = kwOf[S]{fn: func(d *decoder, s S, n *node) { d.durPtr(n, 0, maxTimer, false, &def(s).warmup) }}
	spec["connect_timeout"] = kwOf[S]{fn: func(d *decoder, s S, n *node) {
		d.durPtr(n, time.Millisecond, maxTimer, false, &def(s).connectTimeout)
	}}
	spec["delay_loop"] = kwOf[S]{fn: func(d *decoder, s S, n *node) { d.durPtr(n, time.Millisecond, maxTimer, false, &def(s).delayLoop) }}
	return spec
}

// vsKeywords is the keyword table of virtual_server (read-only).
var vsKeywords = checkDefaultKeywordsOf(map[string]kwOf[*vsDraft]{
	"lb_algo":   {fn: func(d *decoder, v *vsDraft, n *node) { v.schedSet = d.scheduler(n, &v.vs.Scheduler) || v.schedSet }},
	"lvs_sched": {fn: func(d *decoder, v *vsDraft, n *node) { v.schedSet = d.scheduler(n, &v.vs.Scheduler) || v.schedSet }},
	"lb_kind": {fn: func(d *decoder, v *vsDraft, n *node) {
		v.methodSet = d.methodKw(n, &v.vs.Method, "the virtual server would use NAT") || v.methodSet
	}},
	"lvs_method": {fn: func(d *decoder, v *vsDraft, n *node) {
		v.methodSet = d.methodKw(n, &v.vs.Method, "the virtual server would use NAT") || v.methodSet
	}},
	// Scheduler flags (check_parser.c, lbflags_handler). keepalived only
	// takes sh-*/mh-* when lb_algo sh/mh came before them, else it logs
	// "only applies to sh scheduler - ignoring".
	"flag-1":      {fn: func(d *decoder, v *vsDraft, n *node) { d.schedFlag(n, v, "", director.FlagSched1) }},
	"flag-2":      {fn: func(d *decoder, v *vsDraft, n *node) { d.schedFlag(n, v, "", director.FlagSched2) }},
	"flag-3":      {fn: func(d *decoder, v *vsDraft, n *node) { d.schedFlag(n, v, "", director.FlagSched3) }},
	"sh-fallback": {fn: func(d *decoder, v *vsDraft, n *node) { d.schedFlag(n, v, "sh", director.FlagSched1) }},
	"sh-port":     {fn: func(d *decoder, v *vsDraft, n *node) { d.schedFlag(n, v, "sh", director.FlagSched2) }},
	"mh-fallback": {fn: func(d *decoder, v *vsDraft, n *node) { d.schedFlag(n, v, "mh", director.FlagSched1) }},
	"mh-port":     {fn: func(d *decoder, v *vsDraft, n *node) { d.schedFlag(n, v, "mh", director.FlagSched2) }},
	"weight": {fn: func(d *decoder, v *vsDraft, n *node) {
		// The weight of real servers that give none (check_data.c).
		var w int
		d.intKw(n, 1, 65535, &w)
		if w > 0 {
			v.weight = w
		}
	}},
	"protocol": {fn: func(d *decoder, v *vsDraft, n *node) {
		if t, ok := d.value(n); ok {
			switch p := Protocol(strings.ToUpper(t.text)); p {
			case ProtoTCP, ProtoUDP, ProtoSCTP:
				v.vs.Protocol, v.protoSet = p, true
			default:
				d.diag.errorf(t.pos(), "protocol: %q is not TCP, UDP or SCTP", t.text)
				v.protoSet = true
			}
		}
	}},
	"persistence_timeout": {fn: func(d *decoder, v *vsDraft, n *node) {
		v.persistence = true
		v.timeoutSet = true
		if !d.shape(n, false, 0, 1) {
			return
		}
		v.vs.PersistenceTimeout = defaultPersistence
		if len(n.args) == 1 {
			if t, ok := d.seconds(n.args[0], "persistence_timeout", 0, maxTimer, true); ok {
				v.vs.PersistenceTimeout = t
			}
		}
	}},
	"persistence_granularity": {fn: func(d *decoder, v *vsDraft, n *node) {
		if t, ok := d.value(n); ok {
			v.vs.PersistenceGranularity = d.granularity(t, &v.vs)
			// keepalived (check_parser.c, pgr_handler) makes the service
			// persistent (360s) unless persistence_timeout says otherwise.
			if !v.persistence {
				v.persistence = true
				v.vs.PersistenceTimeout = defaultPersistence
			}
		}
	}},
	"sorry_server": {fn: func(d *decoder, v *vsDraft, n *node) {
		if !d.shape(n, false, 1, 2) {
			return
		}
		a, ok1 := d.addr(n.args[0], "sorry_server")
		var p uint16
		ok2 := true
		if len(n.args) == 2 {
			p, ok2 = d.port(n.args[1], "sorry_server")
		}
		if ok1 && ok2 {
			v.vs.SorryServer = &SorryServer{Pos: n.pos(), Addr: a, Port: p}
			v.sorryNoPort = len(n.args) == 1
		}
	}},
	"sorry_server_inhibit": {fn: func(d *decoder, v *vsDraft, n *node) {
		d.sorryOrder(n, v)
		d.flag(n, &v.sorryInhibit)
	}},
	"sorry_server_lvs_method": {fn: func(d *decoder, v *vsDraft, n *node) {
		d.sorryOrder(n, v)
		d.methodKw(n, &v.sorryMethod, "the sorry server would use the virtual server's method")
	}},
	"inhibit_on_failure": {fn: func(d *decoder, v *vsDraft, n *node) { d.flag(n, &v.vs.InhibitOnFailure) }},
	"quorum": {fn: func(d *decoder, v *vsDraft, n *node) {
		d.intKw(n, 1, 1<<31-1, &v.vs.Quorum)
		v.quorumPos = n.pos()
	}},
	"hysteresis":  {fn: func(d *decoder, v *vsDraft, n *node) { d.intKw(n, 0, 1<<31-1, &v.vs.Hysteresis) }},
	"quorum_up":   {fn: func(d *decoder, v *vsDraft, n *node) { d.script(n, &v.vs.QuorumUp) }},
	"quorum_down": {fn: func(d *decoder, v *vsDraft, n *node) { d.script(n, &v.vs.QuorumDown) }},
	"alpha":       {fn: func(d *decoder, v *vsDraft, n *node) { d.flag(n, &v.vs.Alpha) }},
	"omega":       {fn: func(d *decoder, v *vsDraft, n *node) { d.flag(n, &v.vs.Omega) }},
	"ha_suspend": {fn: func(d *decoder, v *vsDraft, n *node) {
		d.flag(n, &v.vs.HASuspend)
		v.haSuspendPos = n.pos()
	}},
	"ops":         {fn: func(d *decoder, v *vsDraft, n *node) { d.flag(n, &v.vs.OPS) }},
	"smtp_alert":  {fn: func(d *decoder, v *vsDraft, n *node) { d.blockSMTPAlert(n, v.vs.Pos) }},
	"virtualhost": {fn: func(d *decoder, v *vsDraft, n *node) { d.str(n, &v.vs.VirtualHost) }},
	"real_server": {multi: true, fn: func(d *decoder, v *vsDraft, n *node) { v.rsNodes = append(v.rsNodes, n) }},
	// An lvsctl extension (docs/bgp.md): lvsctlExtensions lists it.
	"bgp_announce": {fn: func(d *decoder, v *vsDraft, n *node) {
		if d.shape(n, false, 0, 0) {
			v.vs.BGPAnnounce = n.pos()
		}
	}},
}, func(v *vsDraft) *checkDefaults { return &v.def })

// vsHeader is what a virtual_server line selects: an address and port,
// or a firewall mark. bad marks a header that could not be read: the body
// is still decoded, for its own errors, and then dropped.
type vsHeader struct {
	addr   netip.Addr
	port   uint16
	fwmark uint32
	bad    bool
	// group names the virtual_server_group this service is a member of.
	group string
}

// vsHeaderOf reads "virtual_server ADDR PORT" or "virtual_server fwmark N".
func (d *decoder) vsHeaderOf(n *node) vsHeader {
	if !d.shape(n, true, 2, 2) {
		return vsHeader{bad: true}
	}
	if n.args[0].text == "fwmark" {
		v, ok := d.intRange(n.args[1], "fwmark", 1, 1<<32-1)
		return vsHeader{fwmark: uint32(v), bad: !ok}
	}
	a, ok := d.addr(n.args[0], "virtual_server")
	p, ok2 := d.port(n.args[1], "virtual_server")
	return vsHeader{addr: a, port: p, bad: !ok || !ok2}
}

func (d *decoder) virtualServer(n *node, h vsHeader) (VirtualServer, bool) {
	// One draft per decoder, reused: the keyword tables' functions make
	// it escape, and there are thousands of blocks.
	if d.vsScratch == nil {
		d.vsScratch = &vsDraft{}
	}
	dr := d.vsScratch
	*dr = vsDraft{vs: VirtualServer{Pos: n.pos(), Scheduler: defaultScheduler, Method: MethodNAT, Quorum: 1},
		rsNodes: dr.rsNodes[:0]}
	vs := &dr.vs
	if !n.block {
		vs.RealServers = []RealServer{}
		return *vs, false
	}
	if h.bad {
		// A placeholder service, so the body's own errors are reported.
		h.addr, h.port, h.fwmark = netip.IPv4Unspecified(), 1, 0
	}
	vs.Addr, vs.Port, vs.FWMark = h.addr, h.port, h.fwmark
	where := "virtual_server " + vsName(vs)
	if h.group != "" {
		// The same text for every member: the diagnostics of a body
		// decoded once per member are then reported once.
		where = "virtual_server group " + h.group
	}
	walkWith(d, n, "virtual_server", func() string { return where }, vsKeywords, func(k kwOf[*vsDraft], c *node) { k.fn(d, dr, c) })
	def := dr.def
	vs.DelayLoop = defaultDelayLoop
	if def.delayLoop != nil {
		vs.DelayLoop = *def.delayLoop
	} else {
		dl := defaultDelayLoop
		def.delayLoop = &dl
	}
	if ss := vs.SorryServer; ss != nil {
		ss.Inhibit = dr.sorryInhibit
		ss.Method = vs.Method
		if dr.sorryMethod != "" {
			ss.Method = dr.sorryMethod
		}
		// keepalived (check_data.c, validate_check_config) gives a DR/TUN
		// sorry server without a port the service's port, and leaves a
		// NAT one at port 0, which IPVS would rewrite connections to.
		if dr.sorryNoPort && !vs.IsFWMark() {
			if ss.Method == MethodNAT {
				d.diag.errorf(ss.Pos, "sorry_server %s without a port: with lb_kind NAT keepalived would program destination port 0: add the port", ss.Addr)
			} else {
				ss.Port = vs.Port
			}
		}
	}
	// keepalived 2.2.7 (check/check_api.c, addr_matches) returns false for
	// any virtual server of a group before looking at its addresses, so
	// the group's address count stays 0 and its checkers, disabled at
	// start (register_checkers_thread), are never enabled.
	if h.group != "" && vs.HASuspend && !vs.IsFWMark() {
		d.diag.errorf(dr.haSuspendPos, "%s: ha_suspend in a virtual_server group: keepalived 2.2.7 never matches a group's addresses, so it would suspend these checks for good and never check the real servers; delete ha_suspend", where)
	}
	if !dr.protoSet && !vs.IsFWMark() && !h.bad {
		d.diag.errorf(n.pos(), "%s has no protocol: add \"protocol TCP\" (or UDP/SCTP); keepalived would silently default to UDP", where)
	}
	if vs.IsFWMark() {
		if dr.protoSet && h.group == "" {
			d.diag.warnf(n.pos(), "%s: protocol is ignored for fwmark services (keepalived ignores it too)", where)
		}
		vs.Protocol = ""
	}
	if !dr.methodSet {
		d.diag.warnf(n.pos(), "%s has no lb_kind: using NAT (keepalived's default); lvsctl is built for DR", where)
	}
	if vs.Port == 0 && !vs.IsFWMark() && !dr.persistence && !h.bad {
		d.diag.errorf(n.pos(), "%s: port 0 is only valid for persistent services; keepalived would silently make it persistent (360s)", where)
	}
	vs.RealServers = make([]RealServer, 0, len(dr.rsNodes))
	weights := 0
	for _, rn := range dr.rsNodes {
		if rs, ok := d.realServer(rn, vs, def, dr.weight); ok {
			vs.RealServers = append(vs.RealServers, rs)
			weights += rs.Weight
		}
	}
	// keepalived (check_data.c, validate_check_config) lowers a quorum
	// above the total weight to the total, with a log line.
	if len(vs.RealServers) > 0 && vs.Quorum > weights {
		at := dr.quorumPos
		if !at.IsValid() {
			at = vs.Pos
		}
		d.diag.errorf(at, "%s: quorum %d exceeds the total weight %d of its real servers: keepalived would silently lower it to %d; write quorum %d, or raise the weights", where, vs.Quorum, weights, weights, weights)
	}
	if g := vs.PersistenceGranularity; vs.IsFWMark() && g.IsValid() && g.Addr().Is6() &&
		len(vs.RealServers) > 0 && vs.RealServers[0].Addr.Is4() {
		d.diag.errorf(vs.Pos, "%s: persistence_granularity %d is read by keepalived as an IPv6 prefix length, but the service is IPv4: write a netmask (e.g. %s)", where, g.Bits(), net.IP(net.CIDRMask(min(g.Bits(), 32), 32)))
	}
	return *vs, !h.bad
}

func vsName(vs *VirtualServer) string {
	if vs.IsFWMark() {
		return "fwmark " + strconv.FormatUint(uint64(vs.FWMark), 10)
	}
	return netip.AddrPortFrom(vs.Addr, vs.Port).String()
}

func (d *decoder) scheduler(n *node, dst *string) bool {
	t, ok := d.value(n)
	if !ok {
		return false
	}
	scheds := director.Schedulers()
	sp := map[string]kw{}
	for _, s := range scheds {
		if s == t.text {
			*dst = s
			return true
		}
		sp[s] = kw{}
	}
	d.diag.errorf(t.pos(), "%s: unknown scheduler %q (one of %s)%s", n.key.text, t.text, strings.Join(scheds, " "), suggest(t.text, keys(sp)))
	return true
}

func (d *decoder) methodKw(n *node, dst *Method, fallback string) bool {
	if !d.shape(n, false, 1, -1) {
		return false
	}
	m, ok := d.method(n.args[0], n.key.text, fallback)
	if ok && d.tunnelOptions(n, m) {
		*dst = m
	}
	return true
}

// tunnelOptions checks the options after a forwarding method, as
// keepalived 2.2.7 reads them (check_parser.c, svr_forwarding_handler):
// "type ipip|gue|gre", "port N" (gue only), "nocsum|csum|remcsum". IPIP
// without a checksum option is what IPVS does when no tunnel type is set,
// so lvsctl accepts it; the other types need the destination's tunnel
// type and port attributes, which the IPVS library lvsctl uses
// (github.com/moby/ipvs v1.1.0) cannot set: refused, since lvsctl would
// otherwise program IPIP where the file asks for GUE or GRE.
func (d *decoder) tunnelOptions(n *node, m Method) bool {
	opts := n.args[1:]
	if len(opts) == 0 {
		return true
	}
	if m != MethodTUN {
		d.diag.errorf(opts[0].pos(), "%s %s: tunnel options apply to TUN only", n.key.text, m)
		return false
	}
	for i := 0; i < len(opts); i++ {
		switch t := opts[i]; t.text {
		case "type":
			if i+1 == len(opts) {
				d.diag.errorf(t.pos(), "%s TUN type: missing the tunnel type (ipip, gue or gre); keepalived would ignore the line", n.key.text)
				return false
			}
			i++
			switch ty := opts[i]; ty.text {
			case "ipip":
			case "gue", "gre":
				d.diag.errorf(ty.pos(), "%s TUN type %s is a keepalived feature lvsctl does not support: the IPVS library lvsctl uses (github.com/moby/ipvs) cannot set a destination's tunnel type, so the kernel would get IPIP; use type ipip (the default) or keepalived", n.key.text, ty.text)
				return false
			default:
				d.diag.errorf(ty.pos(), "%s TUN type %q: unknown tunnel type (ipip, gue or gre); keepalived would ignore the line", n.key.text, ty.text)
				return false
			}
		case "port", "csum", "remcsum":
			d.diag.errorf(t.pos(), "%s TUN %s: a GUE/GRE tunnel option, and lvsctl supports IPIP tunnels only (github.com/moby/ipvs cannot set a destination's tunnel type)", n.key.text, t.text)
			return false
		case "nocsum":
			// IPIP's only checksum mode.
		default:
			d.diag.errorf(t.pos(), "%s TUN: invalid tunnel option %q (type, port, nocsum, csum, remcsum); keepalived would ignore the line", n.key.text, t.text)
			return false
		}
	}
	return true
}

// granularity parses a persistence mask as keepalived does
// (check_parser.c, pgr_handler): for an IPv6 service a prefix length
// 1..128; for IPv4 an address read by getaddrinfo, which turns a bare
// number into an address ("24" is 0.0.0.24). A fwmark service without a
// family takes IPv4 when the value has a dot, else IPv6.
func (d *decoder) granularity(t token, vs *VirtualServer) netip.Prefix {
	v6 := vs.Addr.Is6()
	if vs.IsFWMark() {
		v6 = !strings.Contains(t.text, ".")
	}
	if v6 {
		bits, err := strconv.Atoi(t.text)
		if err != nil || bits < 1 || bits > 128 {
			d.diag.errorf(t.pos(), "persistence_granularity: %q is not an IPv6 prefix length 1..128 (keepalived would ignore the line)", t.text)
			return netip.Prefix{}
		}
		return netip.PrefixFrom(netip.IPv6Unspecified(), bits)
	}
	if bits, err := strconv.Atoi(t.text); err == nil {
		mask := ""
		if bits >= 0 && bits <= 32 {
			mask = ": write " + net.IP(net.CIDRMask(bits, 32)).String()
		}
		d.diag.errorf(t.pos(), "persistence_granularity %s on an IPv4 service: keepalived reads it as the address %s and would program that as the netmask%s",
			t.text, netip.AddrFrom4([4]byte{byte(bits >> 24), byte(bits >> 16), byte(bits >> 8), byte(bits)}), mask)
		return netip.Prefix{}
	}
	a, err := netip.ParseAddr(t.text)
	if err != nil || !a.Is4() {
		d.diag.errorf(t.pos(), "persistence_granularity: %q is not an IPv4 netmask", t.text)
		return netip.Prefix{}
	}
	b := a.As4()
	m := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := 0
	for m&(1<<31) != 0 {
		ones++
		m <<= 1
	}
	if m != 0 {
		d.diag.errorf(t.pos(), "persistence_granularity: %s is not a contiguous netmask", a)
		return netip.Prefix{}
	}
	return netip.PrefixFrom(netip.IPv4Unspecified(), ones)
}

// rsDraft is a real_server block being decoded.
type rsDraft struct {
	rs          RealServer
	def         checkDefaults
	virtualhost *string
	alphaSet    bool
	checkNodes  []*node
}

func addCheckNode(d *decoder, r *rsDraft, n *node) { r.checkNodes = append(r.checkNodes, n) }

// rsKeywords is the keyword table of real_server (read-only).
var rsKeywords = checkDefaultKeywordsOf(map[string]kwOf[*rsDraft]{
	"weight":             {fn: func(d *decoder, r *rsDraft, n *node) { d.intKw(n, 0, 65535, &r.rs.Weight) }},
	"inhibit_on_failure": {fn: func(d *decoder, r *rsDraft, n *node) { d.flag(n, &r.rs.InhibitOnFailure) }},
	"notify_up":          {fn: func(d *decoder, r *rsDraft, n *node) { d.script(n, &r.rs.NotifyUp) }},
	"notify_down":        {fn: func(d *decoder, r *rsDraft, n *node) { d.script(n, &r.rs.NotifyDown) }},
	"smtp_alert":         {fn: func(d *decoder, r *rsDraft, n *node) { d.blockSMTPAlert(n, r.rs.Pos) }},
	"uthreshold": {fn: func(d *decoder, r *rsDraft, n *node) {
		var v int
		d.intKw(n, 0, 1<<32-1, &v)
		r.rs.UThreshold = uint32(v)
	}},
	"lthreshold": {fn: func(d *decoder, r *rsDraft, n *node) {
		var v int
		d.intKw(n, 0, 1<<32-1, &v)
		r.rs.LThreshold = uint32(v)
	}},
	"lvs_method": {fn: func(d *decoder, r *rsDraft, n *node) {
		d.methodKw(n, &r.rs.Method, "the real server would use the virtual server's method")
	}},
	"alpha": {fn: func(d *decoder, r *rsDraft, n *node) {
		d.flag(n, &r.rs.Alpha)
		r.alphaSet = true
	}},
	"virtualhost": {fn: func(d *decoder, r *rsDraft, n *node) {
		var s string
		d.str(n, &s)
		r.virtualhost = &s
	}},
	"HTTP_GET":   {multi: true, fn: addCheckNode},
	"SSL_GET":    {multi: true, fn: addCheckNode},
	"TCP_CHECK":  {multi: true, fn: addCheckNode},
	"MISC_CHECK": {multi: true, fn: addCheckNode},
	"PING_CHECK": {multi: true, fn: addCheckNode},
	"UDP_CHECK":  {multi: true, fn: addCheckNode},
	"DNS_CHECK":  {multi: true, fn: addCheckNode},
	"SMTP_CHECK": {multi: true, fn: addCheckNode},
	"FILE_CHECK": {multi: true, fn: addCheckNode},
}, func(r *rsDraft) *checkDefaults { return &r.def })

func (d *decoder) realServer(n *node, vs *VirtualServer, parent checkDefaults, weight int) (RealServer, bool) {
	if d.rsScratch == nil {
		d.rsScratch = &rsDraft{}
	}
	dr := d.rsScratch
	if weight == 0 {
		weight = 1
	}
	*dr = rsDraft{rs: RealServer{Pos: n.pos(), Weight: weight, Method: vs.Method, InhibitOnFailure: vs.InhibitOnFailure, Alpha: vs.Alpha},
		checkNodes: dr.checkNodes[:0]}
	rs := &dr.rs
	if !d.shape(n, true, 1, 2) {
		return *rs, false
	}
	a, ok := d.addr(n.args[0], "real_server")
	if !ok {
		return *rs, false
	}
	rs.Addr = a
	if len(n.args) == 2 {
		p, ok := d.port(n.args[1], "real_server")
		if !ok {
			return *rs, false
		}
		rs.Port = p
	} else if !vs.IsFWMark() {
		rs.Port = vs.Port
	}
	where := func() string { return "real_server " + netip.AddrPortFrom(rs.Addr, rs.Port).String() }
	walkWith(d, n, "real_server", where, rsKeywords, func(k kwOf[*rsDraft], c *node) { k.fn(d, dr, c) })
	def := dr.def.over(parent)
	vh := vs.VirtualHost
	if dr.virtualhost != nil {
		vh = *dr.virtualhost
	}
	rs.Checkers = make([]Checker, 0, len(dr.checkNodes))
	for _, cn := range dr.checkNodes {
		if cn.key.text == string(CheckFile) {
			if c, ok := d.fileCheck(cn, rs.Alpha); ok {
				rs.Checkers = append(rs.Checkers, c)
			}
			continue
		}
		if c, ok := d.checker(cn, rs, def, vh, rs.Alpha); ok {
			for _, c := range d.smtpHosts(cn, c, rs) {
				d.checkLinkLocal(&c, rs)
				rs.Checkers = append(rs.Checkers, c)
			}
		}
	}
	return *rs, true
}

func (d *decoder) checker(n *node, rs *RealServer, parent checkDefaults, virtualhost string, alpha bool) (Checker, bool) {
	typ := CheckerType(n.key.text)
	c := Checker{Pos: n.pos(), Type: typ, ConnectIP: rs.Addr, ConnectPort: rs.Port, Rise: 1, Fall: 1, Alpha: alpha}
	if !d.shape(n, true, 0, 0) {
		return c, false
	}
	own := checkDefaults{}
	spec := map[string]kw{
		"connect_ip": {fn: func(n *node) { d.addrKw(n, &c.ConnectIP) }},
		"connect_port": {fn: func(n *node) {
			if t, ok := d.value(n); ok {
				if p, ok := d.port(t, "connect"); ok {
					c.ConnectPort = p
				}
			}
		}},
		"bindto": {fn: func(n *node) { d.addrKw(n, &c.BindTo) }},
		"bind_port": {fn: func(n *node) {
			if t, ok := d.value(n); ok {
				if p, ok := d.port(t, "bind"); ok {
					c.BindPort = p
				}
			}
		}},
		"bind_if": {fn: func(n *node) { d.bindIf(n, &c.BindIf) }},
		"fwmark":  {fn: func(n *node) { d.checkerMark(n, &c.FWMark) }},
		"rise":    {fn: func(n *node) { d.intKw(n, 1, 1<<20, &c.Rise) }},
		"fall":    {fn: func(n *node) { d.intKw(n, 1, 1<<20, &c.Fall) }},
		"alpha":   {fn: func(n *node) { d.flag(n, &c.Alpha) }},
	}
	d.checkDefaultKeywords(spec, &own)
	retryDefault, dbrDefault := 1, time.Second
	dbrIsDelayLoop := false
	switch typ {
	case CheckHTTP, CheckSSL:
		dbrDefault = 3 * time.Second
		h := &HTTPChecker{URLs: []URL{}, VirtualHost: virtualhost, TLS: typ == CheckSSL}
		c.HTTP = h
		spec["url"] = kw{multi: true, fn: func(n *node) {
			if u, ok := d.url(n); ok {
				h.URLs = append(h.URLs, u)
			}
		}}
		spec["virtualhost"] = kw{fn: func(n *node) { d.str(n, &h.VirtualHost) }}
		spec["fast_recovery"] = kw{fn: func(n *node) { d.flag(n, &h.FastRecovery) }}
		spec["enable_sni"] = kw{fn: func(n *node) { d.flag(n, &h.EnableSNI) }}
		spec["http_protocol"] = kw{fn: func(n *node) {
			// check_http.c, http_protocol_handler: 1.0 (the default),
			// 1.0C/1.0c (adds "Connection: close") or 1.1.
			t, ok := d.value(n)
			if !ok {
				return
			}
			switch t.text {
			case "1.0":
			case "1.0C", "1.0c":
				d.diag.warnf(n.pos(), "accepted, ignored: http_protocol %s (lvsctl's checker sends HTTP/1.0 requests, after which the server closes the connection anyway; delete the line)", t.text)
			case "1.1":
				d.diag.errorf(t.pos(), "http_protocol 1.1 is a keepalived feature lvsctl does not support: its checker sends HTTP/1.0 requests")
			default:
				d.diag.errorf(t.pos(), "http_protocol: %q is not 1.0, 1.0C or 1.1 (keepalived would ignore the line)", t.text)
			}
		}}
		spec["nb_get_retry"] = kw{fn: func(n *node) {
			d.intPtr(n, 0, 1<<20, &own.retry)
			d.diag.warnf(n.pos(), "nb_get_retry is deprecated (in keepalived too): write retry; accepted with the same meaning")
		}}
	case CheckSMTP:
		c.SMTP = &SMTPChecker{HeloName: defaultSMTPCheckHelo}
		spec["helo_name"] = kw{fn: func(n *node) { d.mailAddr(n, &c.SMTP.HeloName) }}
		// The deprecated host sub-blocks: smtpHosts reads them.
		spec["host"] = kw{multi: true, fn: func(n *node) { d.shape(n, true, 0, 0) }}
	case CheckDNS:
		// keepalived: retry 3, delay_before_retry = delay_loop
		// (dns_check_handler; check_data.c fills them in).
		retryDefault, dbrIsDelayLoop = 3, true
		dc := &DNSChecker{Type: "SOA"}
		c.DNS = dc
		spec["type"] = kw{fn: func(n *node) {
			if t, ok := d.value(n); ok {
				up := strings.ToUpper(t.text)
				if _, known := DNSTypes[up]; !known {
					d.diag.errorf(t.pos(), "type: unknown DNS_CHECK type %q (A, NS, CNAME, SOA, MX, TXT, AAAA, RRSIG, DNSKEY); keepalived would ignore the line and query SOA", t.text)
					return
				}
				dc.Type = up
			}
		}}
		spec["name"] = kw{fn: func(n *node) {
			if t, ok := d.value(n); ok {
				if (strings.HasPrefix(t.text, ".") && t.text != ".") || strings.Contains(t.text, "..") {
					d.diag.errorf(t.pos(), "name: %q has an empty label; keepalived would ignore the line and query the root", t.text)
					return
				}
				dc.Name = t.text
			}
		}}
	case CheckUDP:
		// keepalived's udp_bind_connect (core/layer4.c) sets SO_MARK but
		// never SO_BINDTODEVICE: bind_if is Ignored (keepalived.go).
		delete(spec, "bind_if")
		u := &UDPChecker{MaxReplyLength: 255}
		c.UDP = u
		hexArg := func(n *node, wildcard bool, dst *string) bool {
			parts := make([]string, len(n.args))
			for i, a := range n.args {
				parts[i] = a.text
			}
			text := strings.Join(parts, " ")
			if _, _, err := ParseHex(text, wildcard); err != nil {
				d.diag.errorf(n.args[0].pos(), "%s: %v (keepalived would ignore the value)", n.key.text, err)
				return false
			}
			*dst = text
			return true
		}
		spec["payload"] = kw{fn: func(n *node) {
			if d.shape(n, false, 1, -1) {
				hexArg(n, false, &u.Payload)
			}
		}}
		spec["require_reply"] = kw{fn: func(n *node) {
			u.RequireReply = true
			if len(n.args) > 0 {
				hexArg(n, true, &u.Reply)
			}
		}}
		spec["min_reply_length"] = kw{fn: func(n *node) { d.intKw(n, 0, 65535, &u.MinReplyLength) }}
		spec["max_reply_length"] = kw{fn: func(n *node) { d.intKw(n, 0, 65535, &u.MaxReplyLength) }}
		defer func() {
			if u.MinReplyLength > u.MaxReplyLength {
				d.diag.errorf(n.pos(), "UDP_CHECK: min_reply_length %d > max_reply_length %d: keepalived would accept it and the check would always fail", u.MinReplyLength, u.MaxReplyLength)
			}
		}()
	case CheckPing:
		// keepalived's PING_CHECK socket (check_ping.c,
		// icmp_connect_thread) gets neither SO_BINDTODEVICE nor SO_MARK:
		// both are Ignored (keepalived.go).
		delete(spec, "bind_if")
		delete(spec, "fwmark")
	case CheckMisc:
		retryDefault = 0
		m := &MiscChecker{}
		c.Misc = m
		var timeout *time.Duration
		spec["misc_path"] = kw{fn: func(n *node) { d.script(n, &m.Path) }}
		// keepalived's MISC_CHECK has no connection keywords
		// (install_checker_common_keywords(false)): it ignores them.
		for _, k := range []string{"connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "fwmark", "connect_timeout"} {
			delete(spec, k)
		}
		spec["misc_timeout"] = kw{fn: func(n *node) { d.durPtr(n, time.Second, maxTimer, true, &timeout) }}
		spec["misc_dynamic"] = kw{fn: func(n *node) { d.flag(n, &m.Dynamic) }}
		spec["user"] = kw{fn: func(n *node) {
			if d.shape(n, false, 1, 2) {
				m.User = n.args[0].text
				if len(n.args) == 2 {
					m.Group = n.args[1].text
				}
			}
		}}
		defer func() {
			m.Timeout = c.DelayLoop
			if timeout != nil {
				m.Timeout = *timeout
			}
		}()
	}
	d.walk(n, string(typ), string(typ), spec)
	// Own value, else real server, else virtual server, else the type's default.
	eff := own.over(parent)
	c.Retry = retryDefault
	if eff.retry != nil {
		c.Retry = *eff.retry
	}
	c.DelayBeforeRetry = dbrDefault
	if eff.delayBeforeRetry != nil {
		c.DelayBeforeRetry = *eff.delayBeforeRetry
	}
	c.ConnectTimeout = defaultConnectTimeout
	if eff.connectTimeout != nil {
		c.ConnectTimeout = *eff.connectTimeout
	}
	c.DelayLoop = defaultDelayLoop
	if eff.delayLoop != nil {
		c.DelayLoop = *eff.delayLoop
	}
	if dbrIsDelayLoop && eff.delayBeforeRetry == nil {
		c.DelayBeforeRetry = c.DelayLoop
	}
	// keepalived spreads first checks over delay_loop unless told otherwise,
	// so thousands of checkers do not fire together at start.
	c.Warmup = c.DelayLoop
	if eff.warmup != nil {
		c.Warmup = *eff.warmup
	}
	switch {
	case c.HTTP != nil && len(c.HTTP.URLs) == 0:
		d.diag.errorf(n.pos(), "%s has no url { } block", typ)
	case c.Misc != nil && c.Misc.Path.IsZero():
		d.diag.errorf(n.pos(), "MISC_CHECK has no misc_path")
	}
	// PING_CHECK has the connection keywords (keepalived:
	// install_checker_common_keywords(true)) but no port to connect to.
	if c.ConnectPort == 0 && typ != CheckMisc && typ != CheckPing {
		d.diag.errorf(n.pos(), "%s has no port to connect to: give connect_port (the real server has none)", typ)
	}
	return c, true
}

func (d *decoder) url(n *node) (URL, bool) {
	u := URL{Pos: n.pos(), StatusCodes: []int{}}
	if !d.shape(n, true, 0, 0) {
		return u, false
	}
	d.walk(n, "url", "url", map[string]kw{
		"path":        {fn: func(n *node) { d.str(n, &u.Path) }},
		"virtualhost": {fn: func(n *node) { d.str(n, &u.VirtualHost) }},
		"digest": {fn: func(n *node) {
			if t, ok := d.value(n); ok {
				s := strings.ToLower(t.text)
				if len(s) != 32 || strings.Trim(s, "0123456789abcdef") != "" {
					d.diag.errorf(t.pos(), "digest: %q is not an MD5 sum (32 hex digits)", t.text)
					return
				}
				u.Digest = s
			}
		}},
		"status_code": {multi: true, fn: func(n *node) {
			if !d.shape(n, false, 1, -1) {
				return
			}
			for _, t := range n.args {
				lo, hi, ok := strings.Cut(t.text, "-")
				if !ok {
					hi = lo
				}
				a, err1 := strconv.Atoi(lo)
				b, err2 := strconv.Atoi(hi)
				if err1 != nil || err2 != nil || a < 100 || b > 599 || a > b {
					d.diag.errorf(t.pos(), "status_code: %q is not a code or range within 100..599", t.text)
					continue
				}
				for x := a; x <= b; x++ {
					u.StatusCodes = append(u.StatusCodes, x)
				}
			}
		}},
	})
	if u.Path == "" {
		d.diag.errorf(n.pos(), "url has no path")
	}
	if len(u.StatusCodes) == 0 {
		for x := 200; x <= 299; x++ {
			u.StatusCodes = append(u.StatusCodes, x)
		}
	}
	return u, true
}

// advertTuning resolves lower_prio_no_advert, higher_prio_send_advert and
// down_timer_adverts as keepalived 2.2.7 does (vrrp.c,
// vrrp_complete_instance): the instance's value, else with vrrp_strict
// the RFC's (no answer to a lower priority, no advert before yielding, 3
// adverts), else global_defs'. A value vrrp_strict overrides is refused
// (keepalived resets it with a log line).
func (d *decoder) advertTuning(dr *instanceDraft, in *VRRPInstance, g *GlobalDefs) {
	strict := g.VRRPStrict
	in.LowerPrioNoAdvert = strict || (g.VRRPLowerPrioNoAdvert != nil && *g.VRRPLowerPrioNoAdvert)
	if v := dr.lowerNoAdvert; v != nil {
		if strict && !*v {
			d.diag.errorf(dr.lowerPos, "vrrp_instance %s: lower_prio_no_advert off with vrrp_strict: keepalived resets it (strict mode answers no lower-priority advert); delete the line", in.Name)
		}
		in.LowerPrioNoAdvert = *v || strict
	}
	in.HigherPrioSendAdvert = !strict && g.VRRPHigherPrioSendAdvert != nil && *g.VRRPHigherPrioSendAdvert
	if v := dr.higherSendAdvert; v != nil {
		if strict && *v {
			d.diag.errorf(dr.higherPos, "vrrp_instance %s: higher_prio_send_advert with vrrp_strict: keepalived resets it (strict mode sends no advert before yielding); delete the line", in.Name)
		}
		in.HigherPrioSendAdvert = *v && !strict
	}
	in.DownTimerAdverts = g.VRRPDownTimerAdverts
	if dr.downAdverts != nil {
		in.DownTimerAdverts = *dr.downAdverts
	}
	if strict && in.DownTimerAdverts != defaultDownTimerAdverts {
		pos := dr.downPos
		if dr.downAdverts == nil {
			pos = in.Pos
		}
		d.diag.errorf(pos, "vrrp_instance %s: down_timer_adverts %d with vrrp_strict: keepalived resets it to %d (RFC 5798); delete it", in.Name, in.DownTimerAdverts, defaultDownTimerAdverts)
		in.DownTimerAdverts = defaultDownTimerAdverts
	}
}
