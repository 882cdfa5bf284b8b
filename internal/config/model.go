package config

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/lvsctl/lvsctl/internal/script"
)

// Config is the effective configuration of one keepalived.conf (with its
// includes): every keyword the file leaves out carries keepalived's default,
// and every checker carries the values it inherits from its real server and
// virtual server, so consumers never need to resolve inheritance themselves.
//
// Durations are time.Duration; in JSON they are integer nanoseconds, which
// round-trips exactly. Addresses are netip values (JSON: their text form).
type Config struct {
	Global         GlobalDefs      `json:"global_defs"`
	VRRPScripts    []VRRPScript    `json:"vrrp_scripts"`
	VRRPSyncGroups []VRRPSyncGroup `json:"vrrp_sync_groups"`
	VRRPInstances  []VRRPInstance  `json:"vrrp_instances"`
	VirtualServers []VirtualServer `json:"virtual_servers"`
	// SSL is the SSL block (nil: none): SSL_GET's client certificate.
	SSL *SSL `json:"ssl,omitempty"`
	// BGP is the bgp block, an lvsctl extension (nil: none).
	BGP *BGP `json:"bgp,omitempty"`
	// StaticAddrs, StaticRoutes and StaticRules are static_ipaddress,
	// static_routes and static_rules (routes.go): on the host while lvsctl
	// runs, whatever the VRRP states.
	StaticAddrs  []VIP   `json:"static_ipaddress,omitempty"`
	StaticRoutes []Route `json:"static_routes,omitempty"`
	StaticRules  []Rule  `json:"static_rules,omitempty"`
	// TrackFiles are the track_file / vrrp_track_file blocks and
	// TrackProcesses the vrrp_track_process blocks (track.go).
	TrackFiles     []TrackFile    `json:"track_files"`
	TrackProcesses []TrackProcess `json:"vrrp_track_processes"`
}

// GlobalDefs is the global_defs block.
type GlobalDefs struct {
	Pos Position `json:"pos"`
	// RouterID identifies this host; keepalived defaults it to the hostname,
	// lvsctl leaves it empty when unset (consumers may fill the hostname).
	RouterID string `json:"router_id"`
	// VRRPMcastGroup4 is the IPv4 multicast group for adverts (224.0.0.18).
	VRRPMcastGroup4 netip.Addr `json:"vrrp_mcast_group4"`
	// VRRPMcastGroup6 is the IPv6 multicast group for adverts (ff02::12).
	VRRPMcastGroup6 netip.Addr `json:"vrrp_mcast_group6"`
	// VRRPVersion is the default VRRP version of instances (2).
	VRRPVersion int `json:"vrrp_version"`
	// VRRPGarp* are the defaults of the instances' garp_* keywords
	// (master delay 5s, repeat 5, refresh 0 = off, refresh repeat 1; the
	// lower-priority delay and repeat default to the master ones).
	VRRPGarpMasterDelay         time.Duration `json:"vrrp_garp_master_delay"`
	VRRPGarpMasterRepeat        int           `json:"vrrp_garp_master_repeat"`
	VRRPGarpMasterRefresh       time.Duration `json:"vrrp_garp_master_refresh"`
	VRRPGarpMasterRefreshRepeat int           `json:"vrrp_garp_master_refresh_repeat"`
	VRRPGarpLowerPrioDelay      time.Duration `json:"vrrp_garp_lower_prio_delay"`
	VRRPGarpLowerPrioRepeat     int           `json:"vrrp_garp_lower_prio_repeat"`
	// VRRPGarpInterval is the pause between gratuitous ARPs of one burst.
	VRRPGarpInterval time.Duration `json:"vrrp_garp_interval"`
	// VRRPGnaInterval is the pause between unsolicited neighbour adverts.
	VRRPGnaInterval time.Duration `json:"vrrp_gna_interval"`
	// StartupScript runs before lvsctl starts anything and ShutdownScript
	// after it stopped everything, each bounded by its timeout (default
	// 10 s): keepalived 2.2.7 core/main.c, run_startup_script and
	// stop_keepalived.
	StartupScript         Script        `json:"startup_script"`
	StartupScriptTimeout  time.Duration `json:"startup_script_timeout"`
	ShutdownScript        Script        `json:"shutdown_script"`
	ShutdownScriptTimeout time.Duration `json:"shutdown_script_timeout"`
	// RSInitNotifies is rs_init_notifies: notify_up for the real servers
	// that start alive.
	RSInitNotifies bool `json:"rs_init_notifies,omitempty"`
	// VRRPStartupDelay is vrrp_startup_delay: after lvsctl starts, backups
	// take over no earlier than this plus their master-down interval.
	VRRPStartupDelay time.Duration `json:"vrrp_startup_delay"`
	// VRRPLowerPrioNoAdvert, VRRPHigherPrioSendAdvert and
	// VRRPDownTimerAdverts are the instances' advert tuning defaults (nil:
	// off; 3).
	VRRPLowerPrioNoAdvert    *bool `json:"vrrp_lower_prio_no_advert,omitempty"`
	VRRPHigherPrioSendAdvert *bool `json:"vrrp_higher_prio_send_advert,omitempty"`
	VRRPDownTimerAdverts     int   `json:"vrrp_down_timer_adverts"`
	// VRRPStrict enforces RFC compliance (no unicast, no auth with v3...).
	VRRPStrict bool `json:"vrrp_strict"`
	// VRRPSkipCheckAdvAddr skips checking the addresses of adverts from the
	// current master.
	VRRPSkipCheckAdvAddr bool `json:"vrrp_skip_check_adv_addr"`
	// EnableScriptSecurity refuses scripts writable by non-root users.
	EnableScriptSecurity bool `json:"enable_script_security"`
	// ScriptUser and ScriptGroup run scripts that name no user (default:
	// keepalived_script when that user exists, else root).
	ScriptUser  string `json:"script_user"`
	ScriptGroup string `json:"script_group"`
	// ScriptUserPos and ScriptSecurityPos place errors about those lines.
	ScriptUserPos     Position `json:"script_user_pos"`
	ScriptSecurityPos Position `json:"script_security_pos"`
	// LVSSync is lvs_sync_daemon, or a vrrp_instance's deprecated
	// lvs_sync_daemon_interface; nil when neither is given (lvssync.go).
	LVSSync *LVSSync `json:"lvs_sync_daemon,omitempty"`
	// LVSSyncSysctls are the lvsctl extensions lvs_sync_refresh_period,
	// lvs_sync_threshold and lvs_sync_retries, in file order.
	LVSSyncSysctls []LVSSyncSysctl `json:"lvs_sync_sysctls,omitempty"`
	// LVSTimeouts is lvs_timeouts; nil when absent (lvssync.go).
	LVSTimeouts *LVSTimeouts `json:"lvs_timeouts,omitempty"`
	// SMTP holds the e-mail alert keywords (alerts.go).
	SMTP SMTPDefs `json:"smtp"`
	// NotifyFIFO, VRRPNotifyFIFO and LVSNotifyFIFO are notify_fifo,
	// vrrp_notify_fifo and lvs_notify_fifo with their *_notify_fifo_script
	// (nil: none; notifyfifo.go).
	NotifyFIFO     *NotifyFIFO `json:"notify_fifo,omitempty"`
	VRRPNotifyFIFO *NotifyFIFO `json:"vrrp_notify_fifo,omitempty"`
	LVSNotifyFIFO  *NotifyFIFO `json:"lvs_notify_fifo,omitempty"`
	// VRRPNotifyPriorityChanges is vrrp_notify_priority_changes, the
	// default of the instances' notify_priority_changes.
	VRRPNotifyPriorityChanges bool `json:"vrrp_notify_priority_changes"`
	// FIFOWriteVRRPStatesOnReload is fifo_write_vrrp_states_on_reload.
	FIFOWriteVRRPStatesOnReload bool `json:"fifo_write_vrrp_states_on_reload"`
	// Umask is umask (nil: not given, keepalived's 0177). lvsctl creates
	// no other file on keepalived's behalf: it sets the mode of the notify
	// FIFOs only (0644 less the umask).
	Umask *uint32 `json:"umask,omitempty"`
}

// NotifyFIFO is a notify FIFO of global_defs: "notify_fifo PATH [USER
// [GROUP]]" and its "notify_fifo_script CMD [USER [GROUP]]" (likewise
// vrrp_ and lvs_).
type NotifyFIFO struct {
	Pos  Position `json:"pos"`
	Path string   `json:"path"`
	// User and Group own a FIFO lvsctl creates; Owner is resolved at load
	// (scriptusers.go): them, else script_user, else keepalived_script
	// when that user exists, else lvsctl's own (not Set).
	User  string    `json:"user,omitempty"`
	Group string    `json:"group,omitempty"`
	Owner script.As `json:"owner"`
	// Script reads the FIFO (zero: none); keepalived appends the path.
	Script Script `json:"script"`
}

// SMTPDefs are global_defs' e-mail alert keywords (keepalived 2.2.7
// core/global_parser.c). The per-block smtp_alert switches are resolved
// into each instance, group, virtual and real server's SMTPAlert.
type SMTPDefs struct {
	// Pos is where smtp_server is (invalid: not given).
	Pos Position `json:"pos"`
	// Server is smtp_server's host, an IP address or a name ("": none,
	// no alert is mailed); Port its port (25).
	Server string `json:"smtp_server"`
	Port   uint16 `json:"smtp_port"`
	// HeloName is smtp_helo_name ("": the host name, filled when the
	// alerts are built).
	HeloName string `json:"smtp_helo_name"`
	// From is notification_email_from ("": user@hostname, likewise).
	From string `json:"notification_email_from"`
	// To are the notification_email addresses; ToPos where the block is.
	To    []string `json:"notification_email"`
	ToPos Position `json:"notification_email_pos"`
	// ConnectTimeout is smtp_connect_timeout (30s).
	ConnectTimeout time.Duration `json:"smtp_connect_timeout"`
	// Alert, AlertVRRP and AlertChecker are smtp_alert, smtp_alert_vrrp
	// and smtp_alert_checker (nil: not given).
	Alert        *bool `json:"smtp_alert,omitempty"`
	AlertVRRP    *bool `json:"smtp_alert_vrrp,omitempty"`
	AlertChecker *bool `json:"smtp_alert_checker,omitempty"`
	// NoEmailFaults sends no mail for FAULT transitions (no_email_faults).
	NoEmailFaults bool `json:"no_email_faults"`
}

// LVSTimeouts are the kernel's IPVS connection timeouts to set (ipvsadm
// --set); 0 leaves that one unchanged.
type LVSTimeouts struct {
	Pos    Position      `json:"pos"`
	TCP    time.Duration `json:"tcp"`
	TCPFin time.Duration `json:"tcpfin"`
	UDP    time.Duration `json:"udp"`
}

// LVSSync configures the kernel's IPVS connection-sync daemons.
type LVSSync struct {
	Pos       Position `json:"pos"`
	Interface string   `json:"interface"`
	// Instance is the vrrp_instance the daemons follow (Name "": none,
	// both daemons always run).
	Instance NameRef `json:"instance"`
	// SyncID is resolved: the id given, else the instance's VRID when
	// lvs_sync_daemon names one, else 0.
	SyncID int `json:"sync_id"`
	// MaxLen, Port and TTL are 0 and Group invalid when not given: the
	// sync runtime and the kernel pick the defaults (maxlen from the
	// interface MTU, port 8848, TTL 1, group 224.0.0.81).
	MaxLen int        `json:"maxlen"`
	Port   int        `json:"port"`
	TTL    int        `json:"ttl"`
	Group  netip.Addr `json:"group"`
}

// LVSSyncSysctl is one net.ipv4.vs.<Name> value to set (lvsctl extension).
type LVSSyncSysctl struct {
	Pos   Position `json:"pos"`
	Name  string   `json:"name"`
	Value string   `json:"value"`
}

// Script is a command line run by lvsctl (notify scripts, vrrp_script,
// MISC_CHECK). Command is the full text as written (quotes removed).
type Script struct {
	Pos     Position `json:"pos"`
	Command string   `json:"command"`
	// User and Group follow the quoted command of notify scripts
	// (notify_master "/x.sh" USER [GROUP]); keepalived's notify_script_init
	// (lib/notify.c) reads them so. vrrp_script and MISC_CHECK name theirs
	// on a "user" line (VRRPScript.User, MiscChecker.User).
	User  string `json:"user,omitempty"`
	Group string `json:"group,omitempty"`
	// As is who runs the script, resolved at load (scriptusers.go): the
	// script's own user, else global_defs script_user, else the
	// keepalived_script user when it exists, else root.
	As script.As `json:"run_as"`
}

// IsZero reports whether no script was configured.
func (s Script) IsZero() bool { return s.Command == "" }

// VRRPScript is a vrrp_script block.
type VRRPScript struct {
	Pos    Position `json:"pos"`
	Name   string   `json:"name"`
	Script Script   `json:"script"`
	// Interval between runs (1s).
	Interval time.Duration `json:"interval"`
	// Timeout of one run; keepalived's default is the interval.
	Timeout time.Duration `json:"timeout"`
	// Weight added to the priority of tracking instances (0: the script
	// puts the instance into FAULT instead). Range -254..254.
	Weight int `json:"weight"`
	// WeightReverse applies the weight when the script fails instead.
	WeightReverse bool `json:"weight_reverse"`
	// Rise successes in a row mark it OK, Fall failures mark it KO (1, 1).
	Rise int `json:"rise"`
	Fall int `json:"fall"`
	// User (and Group) to run as; empty means global script_user.
	User  string `json:"user"`
	Group string `json:"group"`
	// InitFail starts the script in the failed state.
	InitFail bool `json:"init_fail"`
}

// VRRPSyncGroup is a vrrp_sync_group block.
type VRRPSyncGroup struct {
	Pos  Position `json:"pos"`
	Name string   `json:"name"`
	// Group lists the member instances by name (each with its position).
	Group        []NameRef     `json:"group"`
	NotifyMaster Script        `json:"notify_master"`
	NotifyBackup Script        `json:"notify_backup"`
	NotifyFault  Script        `json:"notify_fault"`
	NotifyStop   Script        `json:"notify_stop"`
	Notify       Script        `json:"notify"`
	TrackScripts []TrackScript `json:"track_script"`
	TrackIfaces  []TrackIface  `json:"track_interface"`
	// SMTPAlert mails the group's transitions: its smtp_alert, else
	// smtp_alert_vrrp, else smtp_alert, else off (vrrp/vrrp.c).
	SMTPAlert bool `json:"smtp_alert"`
	// TrackFiles and TrackProcesses are the track_file and track_process
	// entries, applied to every member.
	TrackFiles     []TrackRef `json:"track_file"`
	TrackProcesses []TrackRef `json:"track_process"`
	// NotifyPriorityChanges is the group's notify_priority_changes (nil:
	// not given), the default of its instances'.
	NotifyPriorityChanges *bool `json:"notify_priority_changes,omitempty"`
}

// NameRef is a reference to a named object (instance, script) with the
// position of the reference, so a dangling reference can be reported there.
type NameRef struct {
	Pos  Position `json:"pos"`
	Name string   `json:"name"`
}

// State is the initial VRRP state of an instance.
type State string

// Initial states.
const (
	StateMaster State = "MASTER"
	StateBackup State = "BACKUP"
)

// VRRPInstance is a vrrp_instance block.
type VRRPInstance struct {
	Pos  Position `json:"pos"`
	Name string   `json:"name"`
	// State is the initial state (BACKUP). keepalived starts a MASTER with
	// priority < 255 as BACKUP anyway until its first advert timer.
	State     State  `json:"state"`
	Interface string `json:"interface"`
	// VirtualRouterID is the VRID, 1..255 (required).
	VirtualRouterID int `json:"virtual_router_id"`
	// Priority 1..255 (100); 255 means address owner.
	Priority int `json:"priority"`
	// AdvertInt is the advertisement interval (1s); VRRPv2 only supports
	// whole seconds, VRRPv3 centiseconds.
	AdvertInt time.Duration `json:"advert_int"`
	// Version is the VRRP version, 2 or 3 (global vrrp_version, default 2).
	Version int `json:"version"`
	// Auth is nil when no authentication block is configured.
	Auth *Authentication `json:"authentication,omitempty"`
	// VIPs are the virtual_ipaddress entries; VIPsExcluded those of
	// virtual_ipaddress_excluded (added/removed, not in adverts).
	VIPs         []VIP `json:"virtual_ipaddress"`
	VIPsExcluded []VIP `json:"virtual_ipaddress_excluded"`
	// UnicastSrcIP is the source of unicast adverts (invalid = primary
	// address of the interface). MCastSrcIP the same for multicast.
	UnicastSrcIP netip.Addr `json:"unicast_src_ip"`
	// UnicastTTL is unicast_ttl: the TTL of adverts to unicast peers
	// (0: 255).
	UnicastTTL   int           `json:"unicast_ttl,omitempty"`
	MCastSrcIP   netip.Addr    `json:"mcast_src_ip"`
	UnicastPeers []UnicastPeer `json:"unicast_peer"`
	// NoPreempt: a higher priority BACKUP does not take over a MASTER.
	NoPreempt bool `json:"nopreempt"`
	// LowerPrioNoAdvert, HigherPrioSendAdvert and DownTimerAdverts are
	// the resolved advert tuning (decode.go, advertTuning).
	LowerPrioNoAdvert    bool `json:"lower_prio_no_advert"`
	HigherPrioSendAdvert bool `json:"higher_prio_send_advert"`
	DownTimerAdverts     int  `json:"down_timer_adverts"`
	// PromoteSecondaries sets net.ipv4.conf.IFACE.promote_secondaries
	// while the instance runs (not with use_vmac, whose interface has it).
	PromoteSecondaries bool `json:"promote_secondaries,omitempty"`
	// PreemptDelay delays preemption after startup (0).
	PreemptDelay time.Duration `json:"preempt_delay"`
	// Garp* default to the global vrrp_garp_* values.
	GarpMasterDelay         time.Duration `json:"garp_master_delay"`
	GarpMasterRepeat        int           `json:"garp_master_repeat"`
	GarpMasterRefresh       time.Duration `json:"garp_master_refresh"`
	GarpMasterRefreshRepeat int           `json:"garp_master_refresh_repeat"`
	GarpLowerPrioDelay      time.Duration `json:"garp_lower_prio_delay"`
	GarpLowerPrioRepeat     int           `json:"garp_lower_prio_repeat"`
	// DontTrackPrimary: a fault of Interface does not make the instance FAULT.
	DontTrackPrimary bool `json:"dont_track_primary"`
	// UseVMAC is use_vmac [NAME] (nil: not given): the instance's
	// addresses go on a macvlan with the VRRP virtual MAC.
	UseVMAC *VMAC `json:"use_vmac,omitempty"`
	// VMACXmitBase (vmac_xmit_base): adverts leave by Interface rather
	// than the VMAC interface. Set too (with a warning, as keepalived
	// does) for use_vmac with unicast peers.
	VMACXmitBase bool          `json:"vmac_xmit_base,omitempty"`
	TrackIfaces  []TrackIface  `json:"track_interface"`
	TrackScripts []TrackScript `json:"track_script"`
	NotifyMaster Script        `json:"notify_master"`
	NotifyBackup Script        `json:"notify_backup"`
	NotifyFault  Script        `json:"notify_fault"`
	NotifyStop   Script        `json:"notify_stop"`
	// Notify is called with "INSTANCE" NAME STATE PRIORITY on every change.
	Notify Script `json:"notify"`
	// VirtualRoutes and VirtualRules are virtual_routes and virtual_rules
	// (routes.go): added after the VIPs on becoming MASTER, removed before
	// them on leaving it.
	VirtualRoutes []Route `json:"virtual_routes,omitempty"`
	VirtualRules  []Rule  `json:"virtual_rules,omitempty"`
	// SyncGroup is the name of the vrrp_sync_group this instance belongs to
	// ("" if none); filled by the loader.
	SyncGroup string `json:"sync_group"`
	// SMTPAlert mails the instance's transitions: its smtp_alert, else
	// smtp_alert_vrrp, else smtp_alert, else off (vrrp/vrrp.c).
	SMTPAlert bool `json:"smtp_alert"`
	// TrackFiles and TrackProcesses are the track_file and track_process
	// entries.
	TrackFiles     []TrackRef `json:"track_file"`
	TrackProcesses []TrackRef `json:"track_process"`
	// NotifyPriorityChanges writes the instance's priority changes to the
	// notify FIFOs: its notify_priority_changes, else its sync group's,
	// else vrrp_notify_priority_changes (vrrp/vrrp.c).
	NotifyPriorityChanges bool `json:"notify_priority_changes"`
}

// Authentication is the authentication block (VRRPv2 only). lvsctl only
// supports PASS: AH changes the packet format and is refused.
type Authentication struct {
	Pos  Position `json:"pos"`
	Type string   `json:"auth_type"`
	// Pass is the password; keepalived uses at most 8 characters.
	Pass string `json:"auth_pass"`
}

// VIP is one virtual_ipaddress line:
// ADDR[/LEN] [brd ADDR] [dev IFACE] [scope SCOPE] [label LABEL].
type VIP struct {
	Pos Position `json:"pos"`
	// Prefix is the address with its prefix length (/32 or /128 when the
	// file gives none, as keepalived does).
	Prefix netip.Prefix `json:"prefix"`
	// Broadcast is the brd address (invalid when not given).
	Broadcast netip.Addr `json:"brd"`
	// Dev is the interface the address goes on (filled with the instance's
	// interface when not given).
	Dev string `json:"dev"`
	// Scope is the address scope (global, site, link, host, nowhere) ("global").
	Scope string `json:"scope"`
	// Label is the address label (e.g. eth0:1), "" for none.
	Label string `json:"label"`
}

// UnicastPeer is one unicast_peer entry.
type UnicastPeer struct {
	Pos  Position   `json:"pos"`
	Addr netip.Addr `json:"addr"`
}

// TrackIface is one track_interface entry; Weight 0 means the interface
// going down puts the instance into FAULT.
type TrackIface struct {
	Pos    Position `json:"pos"`
	Name   string   `json:"name"`
	Weight int      `json:"weight"`
	// WeightSet is true when the entry gave its own weight.
	WeightSet bool `json:"weight_set"`
}

// TrackScript is one track_script entry: a reference to a vrrp_script.
// When WeightSet is true, Weight overrides the script's own weight.
type TrackScript struct {
	Pos       Position `json:"pos"`
	Name      string   `json:"name"`
	Weight    int      `json:"weight"`
	WeightSet bool     `json:"weight_set"`
	// Reverse corresponds to the "reverse" keyword after the weight.
	Reverse bool `json:"reverse"`
}

// Protocol is the L4 protocol of a virtual server.
type Protocol string

// Virtual server protocols.
const (
	ProtoTCP  Protocol = "TCP"
	ProtoUDP  Protocol = "UDP"
	ProtoSCTP Protocol = "SCTP"
)

// Method is an IPVS forwarding method.
type Method string

// Forwarding methods (lb_kind / lvs_method).
const (
	MethodNAT Method = "NAT"
	MethodDR  Method = "DR"
	MethodTUN Method = "TUN"
)

// VirtualServer is a virtual_server block: either an address/port/protocol
// service or a firewall-mark service (FWMark != 0, Addr invalid).
type VirtualServer struct {
	Pos      Position   `json:"pos"`
	Addr     netip.Addr `json:"addr"`
	Port     uint16     `json:"port"`
	FWMark   uint32     `json:"fwmark"`
	Protocol Protocol   `json:"protocol"`
	// DelayLoop is the interval between checks (60s).
	DelayLoop time.Duration `json:"delay_loop"`
	// Scheduler is lb_algo / lvs_sched ("wlc").
	Scheduler string `json:"lb_algo"`
	// Method is lb_kind / lvs_method (NAT), the default of its real servers.
	Method Method `json:"lb_kind"`
	// PersistenceTimeout (0: not persistent).
	PersistenceTimeout time.Duration `json:"persistence_timeout"`
	// PersistenceGranularity is the client mask of persistence (invalid
	// prefix: host only).
	PersistenceGranularity netip.Prefix `json:"persistence_granularity"`
	// OPS is one-packet scheduling (UDP only).
	OPS bool `json:"ops"`
	// SorryServer is used when every real server is down (nil: none).
	SorryServer *SorryServer `json:"sorry_server,omitempty"`
	// InhibitOnFailure is the default for real servers.
	InhibitOnFailure bool `json:"inhibit_on_failure"`
	// Quorum is the minimum sum of weights of up real servers (1);
	// Hysteresis the margin around it (0).
	Quorum     int    `json:"quorum"`
	Hysteresis int    `json:"hysteresis"`
	QuorumUp   Script `json:"quorum_up"`
	QuorumDown Script `json:"quorum_down"`
	// Alpha starts real servers down until their first check passes.
	Alpha bool `json:"alpha"`
	// Omega runs notify_down / quorum_down scripts when the service is removed.
	Omega bool `json:"omega"`
	// HASuspend suspends checks while the VIP is absent.
	HASuspend bool `json:"ha_suspend"`
	// SchedulerFlags are the IPVS scheduler flags FlagSched1..3 of the
	// director (flag-1..3; sh-/mh-fallback is flag-1, sh-/mh-port flag-2).
	SchedulerFlags uint32 `json:"scheduler_flags"`
	// VirtualHost is the default Host header of HTTP/SSL checks.
	VirtualHost string `json:"virtualhost"`
	// BGPAnnounce is where bgp_announce (an lvsctl extension) is set;
	// invalid when it is not: the VIP is announced over BGP while the
	// service has quorum.
	BGPAnnounce Position `json:"bgp_announce,omitzero"`
	// SMTPAlert is the virtual server's smtp_alert, else
	// smtp_alert_checker, else smtp_alert, else off (check/check_data.c).
	SMTPAlert   bool         `json:"smtp_alert"`
	RealServers []RealServer `json:"real_servers"`
}

// IsFWMark reports whether the service is selected by firewall mark.
func (vs *VirtualServer) IsFWMark() bool { return vs.FWMark != 0 }

// SorryServer is the sorry_server of a virtual server.
type SorryServer struct {
	Pos    Position   `json:"pos"`
	Addr   netip.Addr `json:"addr"`
	Port   uint16     `json:"port"`
	Method Method     `json:"lb_kind"`
	// Inhibit is sorry_server_inhibit.
	Inhibit bool `json:"inhibit"`
}

// RealServer is a real_server block.
type RealServer struct {
	Pos  Position   `json:"pos"`
	Addr netip.Addr `json:"addr"`
	Port uint16     `json:"port"`
	// Weight 0..65535 (1, or the virtual server's weight).
	Weight int `json:"weight"`
	// Method is the forwarding method (the virtual server's).
	Method Method `json:"lb_kind"`
	// InhibitOnFailure sets weight 0 instead of removing it when down.
	InhibitOnFailure bool `json:"inhibit_on_failure"`
	// Alpha starts this real server down until its checks pass (the
	// virtual server's alpha).
	Alpha      bool   `json:"alpha"`
	NotifyUp   Script `json:"notify_up"`
	NotifyDown Script `json:"notify_down"`
	// UThreshold / LThreshold are IPVS connection thresholds (0: none).
	UThreshold uint32 `json:"uthreshold"`
	LThreshold uint32 `json:"lthreshold"`
	// SMTPAlert mails the real server's transitions: its smtp_alert, else
	// smtp_alert_checker, else smtp_alert, else ON: keepalived's default
	// here differs from the others' (check/check_data.c).
	SMTPAlert bool      `json:"smtp_alert"`
	Checkers  []Checker `json:"checkers"`
}

// CheckerType is the kind of a health checker.
type CheckerType string

// Checker kinds.
const (
	CheckHTTP CheckerType = "HTTP_GET"
	CheckSSL  CheckerType = "SSL_GET"
	CheckTCP  CheckerType = "TCP_CHECK"
	CheckMisc CheckerType = "MISC_CHECK"
	CheckPing CheckerType = "PING_CHECK"
	CheckUDP  CheckerType = "UDP_CHECK"
	CheckDNS  CheckerType = "DNS_CHECK"
	CheckSMTP CheckerType = "SMTP_CHECK"
	CheckFile CheckerType = "FILE_CHECK"
)

// Checker is one health check of a real server. The common fields hold
// effective values (own keyword, else real server, else virtual server,
// else keepalived's default for that checker type); HTTP is set for
// HTTP_GET/SSL_GET and Misc for MISC_CHECK.
type Checker struct {
	Pos  Position    `json:"pos"`
	Type CheckerType `json:"type"`
	// ConnectIP / ConnectPort default to the real server's address/port.
	ConnectIP   netip.Addr `json:"connect_ip"`
	ConnectPort uint16     `json:"connect_port"`
	// BindTo / BindPort are the source address/port (invalid / 0: any).
	BindTo   netip.Addr `json:"bindto"`
	BindPort uint16     `json:"bind_port"`
	// BindIf is the interface the check's sockets are bound to (bind_if,
	// SO_BINDTODEVICE; "": none) and FWMark the mark of its packets
	// (fwmark, SO_MARK; 0: none), as keepalived 2.2.7 applies them
	// (core/layer4.c socket_bind_connect). A UDP_CHECK has no BindIf and
	// a PING_CHECK neither: keepalived never applies them there (the
	// keywords are accepted with a warning).
	BindIf string `json:"bind_if"`
	FWMark uint32 `json:"fwmark"`
	// ConnectTimeout (5s).
	ConnectTimeout time.Duration `json:"connect_timeout"`
	// DelayLoop between checks (the real/virtual server's delay_loop).
	DelayLoop time.Duration `json:"delay_loop"`
	// Retry is how many times a failed check is retried before the server
	// is marked down (retry / nb_get_retry; 1, MISC_CHECK 0).
	Retry int `json:"retry"`
	// DelayBeforeRetry (HTTP_GET/SSL_GET 3s, others 1s).
	DelayBeforeRetry time.Duration `json:"delay_before_retry"`
	// Warmup is the maximum random delay before the first check (delay_loop).
	Warmup time.Duration `json:"warmup"`
	// Rise and Fall are lvsctl extensions: consecutive passed checks needed
	// to mark a down server up, and failed checks (each after its retries)
	// to mark an up server down. Both 1, which is keepalived's behaviour.
	Rise int `json:"rise"`
	Fall int `json:"fall"`
	// Alpha starts the checker down until its first success (the real
	// server's alpha).
	Alpha bool         `json:"alpha"`
	HTTP  *HTTPChecker `json:"http,omitempty"`
	Misc  *MiscChecker `json:"misc,omitempty"`
	UDP   *UDPChecker  `json:"udp,omitempty"`
	DNS   *DNSChecker  `json:"dns,omitempty"`
	SMTP  *SMTPChecker `json:"smtp,omitempty"`
	File  *FileChecker `json:"file,omitempty"`
}

// FileChecker is the FILE_CHECK specific part (keepalived
// check/check_file.c): the track_file block it reads and the weight its
// value is multiplied by. FILE_CHECK has none of the common checker
// keywords (no timing: the file is watched); the other Checker fields
// keep their zero values, Alpha excepted (the real server's).
type FileChecker struct {
	// TrackFile names a track_file block; File, Init and InitValue are
	// copied from it.
	TrackFile string `json:"track_file"`
	File      string `json:"file"`
	// Weight (-2147483647..2147483647) and Reverse are FILE_CHECK's
	// weight line, else the block's weight and direction. A weight line
	// without reverse is not reversed, whatever the block says
	// (check_file.c, track_file_weight_handler).
	Weight    int    `json:"weight"`
	Reverse   bool   `json:"reverse"`
	Init      string `json:"init_file,omitempty"`
	InitValue int    `json:"init_value,omitempty"`
}

// SMTPChecker is the SMTP_CHECK specific part (keepalived
// check/check_smtp.c): the name sent in HELO
// ("smtpchecker.keepalived.org"). Each deprecated host { } sub-block
// becomes a Checker of its own.
type SMTPChecker struct {
	HeloName string `json:"helo_name"`
}

// DNSChecker is the DNS_CHECK specific part (keepalived
// check/check_dns.c): the query's type (SOA) and name ("": the root).
type DNSChecker struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// UDPChecker is the UDP_CHECK specific part (keepalived
// check/check_udp.c). Payload and Reply are hex as written (lib/parser.c
// read_hex_str: pairs of hex digits, spaces between octets allowed, a
// lone digit before a space is one octet; x/X in Reply is a wildcard
// nibble); they were checked at load.
type UDPChecker struct {
	Payload      string `json:"payload,omitempty"`
	RequireReply bool   `json:"require_reply"`
	Reply        string `json:"reply,omitempty"`
	// MinReplyLength and MaxReplyLength bound the reply (0, 255); they
	// apply only with Reply, as in keepalived.
	MinReplyLength int `json:"min_reply_length"`
	MaxReplyLength int `json:"max_reply_length"`
}

// HTTPChecker holds the HTTP_GET / SSL_GET specific settings.
type HTTPChecker struct {
	URLs []URL `json:"urls"`
	// VirtualHost is the Host header ("" : the connect address).
	VirtualHost string `json:"virtualhost"`
	// TLS is true for SSL_GET.
	TLS bool `json:"tls"`
	// FastRecovery checks a recovering server's URLs back to back.
	FastRecovery bool `json:"fast_recovery"`
	// EnableSNI sends the virtual host as TLS server name (SSL_GET).
	EnableSNI bool `json:"enable_sni"`
}

// URL is one url block of an HTTP checker.
type URL struct {
	Pos  Position `json:"pos"`
	Path string   `json:"path"`
	// Digest is the expected MD5 of the body in lower-case hex ("" : none).
	Digest string `json:"digest"`
	// StatusCodes are the accepted codes (200-299 when none are given).
	StatusCodes []int `json:"status_code"`
	// VirtualHost is this URL's Host header ("": the checker's).
	VirtualHost string `json:"virtualhost"`
}

// MiscChecker is the MISC_CHECK specific part.
type MiscChecker struct {
	Path Script `json:"misc_path"`
	// Timeout of the script (the delay_loop when unset).
	Timeout time.Duration `json:"misc_timeout"`
	// Dynamic: exit codes 2..255 set the weight to code-2.
	Dynamic bool   `json:"misc_dynamic"`
	User    string `json:"user"`
	Group   string `json:"group"`
}

// VMAC is the use_vmac of a vrrp_instance.
type VMAC struct {
	// Name is the macvlan's name: the argument, else vrrp.<VRID>
	// (keepalived 2.2.7 vrrp.c vrrp_complete_instance/create_vmac_name).
	Name string `json:"name"`
	// MAC is the configured MAC (nil: the RFC 5798 one,
	// 00:00:5e:00:01:VRID, or 00:00:5e:00:02:VRID for IPv6); given with 5
	// octets, the VRID is added as the sixth once the instance is read.
	MAC MAC      `json:"mac,omitempty"`
	Pos Position `json:"pos"`
}

// MAC is a hardware address that reads as one in JSON
// ("00:00:5e:00:01:33", not base64).
type MAC net.HardwareAddr

func (m MAC) String() string { return net.HardwareAddr(m).String() }

// MarshalText writes the colon form.
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads the colon form.
func (m *MAC) UnmarshalText(b []byte) error {
	hw, err := net.ParseMAC(string(b))
	if err != nil {
		return fmt.Errorf("MAC: %w", err)
	}
	*m = MAC(hw)
	return nil
}
