package config

// Every keyword keepalived 2.2.7's parsers accept, with the block it
// belongs to and what lvsctl does with it. The list is derived from the
// install_keyword / install_keyword_root / install_sublevel calls of
// keepalived v2.2.7 (commit e7c9e7f16535a31ccf61154011519ff9c97d52a3):
//
//	keepalived/core/global_parser.c     init_global_keywords (top level, global_defs)
//	keepalived/vrrp/vrrp_parser.c       init_vrrp_keywords
//	keepalived/check/check_parser.c     init_check_keywords (SSL, virtual_server*, real_server)
//	keepalived/check/check_api.c        install_checker_common_keywords
//	keepalived/check/check_{http,tcp,misc,smtp,udp,dns,file,ping,bfd}.c
//	keepalived/trackers/track_file.c    track_file, vrrp_track_file
//	keepalived/bfd/bfd_parser.c         bfd_instance
//
// Keywords compiled in only with some build options (#ifdef) are listed
// too: a file written for any keepalived 2.2.7 build must get a
// meaningful answer. TestKeywordTable checks that the parser does what
// the table says for each entry.

// KeywordClass says what lvsctl does with a keepalived keyword.
type KeywordClass uint8

// Keyword classes (docs/config.md, "Policy").
const (
	// Implemented keywords are decoded and act as in keepalived.
	Implemented KeywordClass = iota + 1
	// Ignored keywords change nothing in lvsctl's job (notification,
	// process tuning, obsolete lines keepalived itself ignores): accepted
	// with a warning that says what to write instead (rule 2).
	Ignored
	// Unsupported keywords are keepalived features lvsctl does not
	// implement: an error with the reason (rule 3).
	Unsupported
	// Misread entries are not keepalived keywords in that block:
	// keepalived ignores the line (with a log line most users never
	// see), so the configuration does not do what it says; lvsctl refuses
	// it and explains (rule 1).
	Misread
)

func (c KeywordClass) String() string {
	switch c {
	case Implemented:
		return "implemented"
	case Ignored:
		return "ignored"
	case Unsupported:
		return "unsupported"
	case Misread:
		return "misread"
	}
	return "unclassified"
}

// Keyword is one entry of the keyword table.
type Keyword struct {
	// Block is the block the keyword is valid in: "" for the top level,
	// else the keyword opening the block ("global_defs", "vrrp_instance",
	// "real_server", "HTTP_GET", "url", ...).
	Block string
	Name  string
	Class KeywordClass
	// Why is the reason given in the warning or error (empty for
	// Implemented): for Ignored it ends with what to write instead.
	Why string
	// Source is the keepalived source file that installs the keyword
	// ("" for Misread entries and keywords of older keepalived versions).
	Source string
}

// Reasons shared by many entries.
const (
	whySNMP       = "lvsctl has no SNMP agent, it serves metrics instead; delete the line"
	whyDBus       = "lvsctl has no D-Bus interface, it serves a status socket instead; delete the line"
	whyProcess    = "tuning of keepalived's own processes, which lvsctl does not have; delete the line"
	whyBufs       = "netlink buffer sizes of keepalived's processes; lvsctl sizes its own; delete the line"
	whyReload     = "keepalived's reload machinery; lvsctl checks a new file before applying it anyway; delete the line"
	whyLog        = "lvsctl logs every check transition; delete the line"
	whyFirewall   = "lvsctl does not manage iptables/nftables rules: keep them in your firewall configuration"
	whyVMAC       = "lvsctl creates the use_vmac macvlan only (no ipvlan, no VMAC on base-interface addresses, no extra-interface GARPs)"
	whyNamespace  = "lvsctl does not switch network namespaces: run it inside the namespace (ip netns exec)"
	whyTrackOther = "only track_interface, track_script, track_file and track_process are supported"
	whyBFD        = "lvsctl has no BFD"
	whyNotifyMore = "lvsctl runs notify scripts on state changes only"
	whyGarpTuning = "lvsctl sends gratuitous ARPs as garp_master_* says and has no per-interface garp tuning"
	whyChecker    = "lvsctl implements HTTP_GET, SSL_GET, TCP_CHECK, MISC_CHECK, PING_CHECK, UDP_CHECK, DNS_CHECK, SMTP_CHECK and FILE_CHECK"
	whyRegex      = "lvsctl's HTTP checks match status codes and MD5 digests, not regular expressions"
	whyPE         = "the IPVS library lvsctl uses (github.com/moby/ipvs v1.1.0) sends a persistence engine but does not read it back, so lvsctl could neither adopt nor repair such a service: use keepalived for SIP persistence"
	whyBlock      = "inside a block lvsctl does not support"
)

// Source files of keepalived v2.2.7, for Keyword.Source.
const (
	srcGlobal = "keepalived/core/global_parser.c"
	srcVRRP   = "keepalived/vrrp/vrrp_parser.c"
	srcCheck  = "keepalived/check/check_parser.c"
	srcAPI    = "keepalived/check/check_api.c"
	srcHTTP   = "keepalived/check/check_http.c"
	srcMisc   = "keepalived/check/check_misc.c"
	srcTrackF = "keepalived/trackers/track_file.c"
	srcFile   = "keepalived/check/check_file.c"
	srcBFD    = "keepalived/bfd/bfd_parser.c"
)

// KeepalivedKeywords returns the keyword table (a new slice each call).
func KeepalivedKeywords() []Keyword {
	var out []Keyword
	add := func(block, src string, class KeywordClass, why string, names ...string) {
		for _, n := range names {
			out = append(out, Keyword{Block: block, Name: n, Class: class, Why: why, Source: src})
		}
	}
	impl := func(block, src string, names ...string) { add(block, src, Implemented, "", names...) }

	// Top level.
	impl("", srcGlobal, "global_defs")
	add("", srcGlobal, Ignored, "polls links instead of using netlink events; lvsctl uses netlink; delete the line", "linkbeat_use_polling")
	add("", srcGlobal, Unsupported, whyNamespace, "net_namespace", "net_namespace_ipvs", "namespace_with_ipsets")
	add("", srcGlobal, Ignored, "names keepalived's pid files; delete the line", "use_pid_dir", "instance")
	add("", srcGlobal, Ignored, whyProcess, "child_wait_time")
	impl("", srcCheck, "SSL")
	impl("", srcCheck, "virtual_server_group", "virtual_server")
	add("", srcVRRP, Unsupported, "track groups are not supported", "track_group")
	impl("", srcVRRP, "static_ipaddress", "static_routes", "static_rules")
	impl("", srcVRRP, "vrrp_sync_group", "vrrp_instance", "vrrp_script")
	add("", srcVRRP, Unsupported, whyGarpTuning, "garp_group")
	add("", srcVRRP, Unsupported, "linkbeat interfaces are not supported: lvsctl follows the kernel's link state", "linkbeat_interfaces")
	impl("", srcVRRP, "vrrp_track_process")
	add("", srcVRRP, Unsupported, "interface up/down delays are not supported", "interface_up_down_delays")
	impl("", srcTrackF, "track_file", "vrrp_track_file")
	add("", srcBFD, Unsupported, whyBFD, "bfd_instance")

	// global_defs.
	g := "global_defs"
	add(g, srcGlobal, Ignored, whyProcess, "process_names", "process_name", "vrrp_process_name",
		"checker_process_name", "lvs_process_name", "bfd_process_name",
		"max_auto_priority", "min_auto_priority_delay",
		"vrrp_priority", "vrrp_rt_priority", "vrrp_cpu_affinity", "vrrp_rlimit_rttime", "vrrp_rlimit_rtime",
		"checker_priority", "checker_rt_priority", "checker_cpu_affinity", "checker_rlimit_rttime", "checker_rlimit_rtime",
		"bfd_priority", "bfd_rt_priority", "bfd_cpu_affinity", "bfd_rlimit_rttime", "bfd_rlimit_rtime",
		"random_seed", "vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier")
	add(g, srcGlobal, Ignored, "lvsctl locks its memory by default (--lock-memory); delete the line", "vrrp_no_swap", "checker_no_swap", "bfd_no_swap")
	impl(g, srcGlobal, "router_id", "vrrp_mcast_group4", "vrrp_mcast_group6", "vrrp_garp_master_delay",
		"vrrp_garp_master_repeat", "vrrp_garp_master_refresh", "vrrp_garp_master_refresh_repeat",
		"vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat", "vrrp_garp_interval", "vrrp_gna_interval",
		"vrrp_version", "vrrp_skip_check_adv_addr", "vrrp_strict", "script_user", "enable_script_security")
	impl(g, srcGlobal, "notification_email_from", "smtp_server", "smtp_helo_name",
		"smtp_connect_timeout", "notification_email", "smtp_alert", "smtp_alert_vrrp", "smtp_alert_checker",
		"no_email_faults")
	add(g, srcGlobal, Ignored, "lvsctl mails a real server's transitions, not each checker's, as no_checker_emails does; delete the line", "no_checker_emails")
	impl(g, srcGlobal,
		"startup_script", "startup_script_timeout", "shutdown_script", "shutdown_script_timeout")
	add(g, srcGlobal, Ignored, whyLog, "checker_log_all_failures", "log_unknown_vrids")
	add(g, srcGlobal, Unsupported, "lvsctl needs every interface to exist when the file is loaded", "dynamic_interfaces")
	impl(g, srcGlobal, "default_interface")
	add(g, srcGlobal, Unsupported, "lvsctl always joins the VRRP multicast group", "disable_local_igmp")
	add(g, srcGlobal, Implemented, "", "lvs_timeouts")
	add(g, srcGlobal, Ignored, "lvsctl reconciles the IPVS table against the configuration instead of flushing it; delete the line", "lvs_flush")
	impl(g, srcGlobal, "lvs_flush_on_stop", "lvs_flush_onstop")
	add(g, srcGlobal, Implemented, "", "lvs_sync_daemon")
	impl(g, srcGlobal, "vrrp_down_timer_adverts", "vrrp_lower_prio_no_advert", "vrrp_higher_prio_send_advert")
	impl(g, srcGlobal, "vrrp_min_garp")
	add(g, srcGlobal, Unsupported, whyVMAC, "vrrp_garp_extra_if", "vrrp_vmac_garp_intvl", "vmac_prefix", "vmac_addr_prefix")
	add(g, srcGlobal, Unsupported, whyFirewall, "vrrp_iptables", "vrrp_ipsets", "nftables", "nftables_priority",
		"nftables_ifindex", "nftables_ipvs", "nftables_ipvs_priority", "nftables_ipvs_start_fwmark", "nftables_counters")
	add(g, srcGlobal, Ignored, "lvsctl always checks the source of unicast adverts against the peers; delete the line", "vrrp_check_unicast_src")
	// The notify FIFOs (internal/notifyfifo; umask sets their mode).
	impl(g, srcGlobal, "notify_fifo", "notify_fifo_script", "vrrp_notify_fifo", "vrrp_notify_fifo_script",
		"vrrp_notify_priority_changes", "fifo_write_vrrp_states_on_reload", "lvs_notify_fifo", "lvs_notify_fifo_script", "umask")
	add(g, srcGlobal, Ignored, whySNMP, "snmp_socket", "enable_traps", "enable_snmp_vrrp", "enable_snmp_keepalived",
		"enable_snmp_rfc", "enable_snmp_rfcv2", "enable_snmp_rfcv3", "enable_snmp_checker")
	add(g, srcGlobal, Ignored, whyDBus, "enable_dbus", "dbus_service_name")
	add(g, srcGlobal, Ignored, whyBufs, "vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_cmd_rcv_bufs_force",
		"vrrp_netlink_monitor_rcv_bufs", "vrrp_netlink_monitor_rcv_bufs_force", "process_monitor_rcv_bufs",
		"process_monitor_rcv_bufs_force", "lvs_netlink_cmd_rcv_bufs", "lvs_netlink_cmd_rcv_bufs_force",
		"lvs_netlink_monitor_rcv_bufs", "lvs_netlink_monitor_rcv_bufs_force")
	impl(g, srcGlobal, "rs_init_notifies")
	impl(g, srcGlobal, "vrrp_startup_delay")
	add(g, srcGlobal, Ignored, whyReload, "reload_check_config", "reload_time_file", "reload_repeat", "reload_file",
		"include_check", "config_save_dir", "tmp_config_directory", "data_use_instance")
	// Not keywords of 2.2.7 (older keepalived; 2.2.7 ignores the line).
	add(g, "", Ignored, "not a keepalived 2.2.7 keyword (older keepalived): use lvsctl's log level instead; delete the line", "debug", "log_detail")
	add(g, "", Ignored, "not a keepalived 2.2.7 keyword (older keepalived): FAULT transitions are mailed unless no_email_faults; delete the line", "email_faults")
	impl(g, "", "lvs_id") // old name of router_id, which only names the host in notifications

	// vrrp_sync_group.
	sg := "vrrp_sync_group"
	impl(sg, srcVRRP, "group", "track_interface", "track_script", "notify_backup", "notify_master",
		"notify_fault", "notify_stop", "notify")
	impl(sg, srcVRRP, "track_file", "track_process")
	add(sg, srcVRRP, Unsupported, whyTrackOther, "track_bfd")
	impl(sg, srcVRRP, "smtp_alert")
	add(sg, srcVRRP, Ignored, "deprecated in keepalived; lvsctl applies each instance's own tracking; delete the line", "global_tracking")
	add(sg, srcVRRP, Unsupported, "sync group tracking weights are not supported", "sync_group_tracking_weight")
	impl(sg, srcVRRP, "notify_priority_changes")

	// Blocks lvsctl refuses as a whole: their keywords are listed for
	// completeness; the block's own error covers them.
	add("track_group", srcVRRP, Unsupported, whyBlock, "group")
	add("garp_group", srcVRRP, Unsupported, whyBlock, "garp_interval", "gna_interval", "interface", "interfaces")
	impl("vrrp_track_process", srcVRRP, "process", "param_match", "weight", "quorum",
		"quorum_max", "delay", "terminate_delay", "fork_delay", "full_command")
	for _, b := range []string{"track_file", "vrrp_track_file"} {
		impl(b, srcTrackF, "file", "weight", "init_file")
	}
	add("bfd_instance", srcBFD, Unsupported, whyBlock, "source_ip", "neighbor_ip", "neighbour_ip", "min_rx",
		"min_tx", "idle_tx", "multiplier", "passive", "ttl", "hoplimit", "max_hops", "weight", "vrrp", "checker")
	impl("SSL", srcCheck, "password", "ca", "certificate", "key")

	// vrrp_instance.
	vi := "vrrp_instance"
	add(vi, srcVRRP, Unsupported, whyVMAC, "use_vmac_addr", "use_ipvlan", "garp_extra_if", "vmac_garp_intvl")
	impl(vi, srcVRRP, "use_vmac", "vmac_xmit_base", "unicast_peer", "state", "interface", "dont_track_primary", "track_interface",
		"track_script", "mcast_src_ip", "unicast_src_ip", "virtual_router_id", "version", "priority",
		"advert_int", "virtual_ipaddress", "virtual_ipaddress_excluded", "preempt", "nopreempt",
		"preempt_delay", "notify_backup", "notify_master", "notify_fault", "notify_stop", "notify",
		"garp_master_delay", "garp_master_refresh", "garp_master_repeat", "garp_master_refresh_repeat",
		"garp_lower_prio_delay", "garp_lower_prio_repeat", "authentication")
	add(vi, srcVRRP, Unsupported, "lvsctl stays BACKUP without peers instead of going to FAULT", "unicast_fault_no_peer")
	add(vi, srcVRRP, Ignored, "lvsctl always checks the source of unicast adverts against the peers; delete the line", "check_unicast_src")
	add(vi, srcVRRP, Unsupported, "the pre-1.2.x unicast checksum is not supported", "old_unicast_checksum")
	impl(vi, srcVRRP, "native_ipv6")
	add(vi, srcVRRP, Unsupported, "VRF interfaces are not supported", "vrf")
	impl(vi, srcVRRP, "track_file", "track_process")
	add(vi, srcVRRP, Unsupported, whyTrackOther, "track_bfd")
	add(vi, srcVRRP, Unsupported, "per-instance multicast groups are not supported: set vrrp_mcast_group4/vrrp_mcast_group6 in global_defs", "mcast_dst_ip")
	add(vi, srcVRRP, Unsupported, "lvsctl sends adverts from unicast_src_ip/mcast_src_ip or the interface's primary address", "track_src_ip")
	impl(vi, srcVRRP, "unicast_ttl")
	impl(vi, srcVRRP, "promote_secondaries")
	add(vi, srcVRRP, Ignored, "polls links instead of using netlink events; lvsctl uses netlink; delete the line", "linkbeat_use_polling")
	impl(vi, srcVRRP, "virtual_routes", "virtual_rules")
	// vrrp.c (vrrp_complete_instance): accept is keepalived's default
	// without vrrp_strict, and with it only firewall rules change.
	add(vi, srcVRRP, Ignored, "accept mode is keepalived's default without vrrp_strict, and lvsctl never filters traffic to the VIPs; delete the line", "accept")
	add(vi, srcVRRP, Unsupported, "lvsctl does not add the firewall rules that drop traffic to the VIPs", "no_accept")
	add(vi, srcVRRP, Unsupported, "per-instance settings of global vrrp_skip_check_adv_addr/vrrp_strict are not supported: set them in global_defs", "skip_check_adv_addr", "strict_mode")
	add(vi, srcVRRP, Ignored, "use lvsctl's log level instead; delete the line", "debug")
	add(vi, srcVRRP, Unsupported, whyNotifyMore, "notify_deleted", "notify_master_rx_lower_pri")
	impl(vi, srcVRRP, "notify_priority_changes")
	impl(vi, srcVRRP, "smtp_alert")
	add(vi, srcVRRP, Implemented, "", "lvs_sync_daemon_interface")
	impl(vi, srcVRRP, "down_timer_adverts", "lower_prio_no_advert", "higher_prio_send_advert")
	add(vi, srcVRRP, Ignored, "socket buffer size of keepalived's processes; lvsctl sizes its own; delete the line", "kernel_rx_buf_size")
	impl("authentication", srcVRRP, "auth_type", "auth_pass")

	// vrrp_script.
	impl("vrrp_script", srcVRRP, "script", "interval", "timeout", "weight", "rise", "fall", "user", "init_fail")

	// virtual_server.
	vs := "virtual_server"
	add(vs, srcCheck, Unsupported, "the address family of a fwmark service comes from its real servers", "ip_family")
	impl(vs, srcCheck, "retry", "delay_before_retry", "warmup", "connect_timeout", "delay_loop",
		"inhibit_on_failure", "lb_algo", "lvs_sched", "ops", "flag-1", "flag-2", "flag-3", "sh-port",
		"sh-fallback", "mh-port", "mh-fallback", "lb_kind", "lvs_method", "persistence_timeout",
		"persistence_granularity", "protocol", "ha_suspend", "virtualhost", "alpha", "omega", "quorum_up",
		"quorum_down", "quorum", "hysteresis", "weight", "sorry_server", "sorry_server_inhibit",
		"sorry_server_lvs_method", "real_server")
	add(vs, srcCheck, Ignored, "the kernel hashes every service; delete the line", "hashed")
	add(vs, srcCheck, Unsupported, whyPE, "persistence_engine")
	impl(vs, srcCheck, "smtp_alert")
	add(vs, srcCheck, Ignored, whySNMP, "snmp_name")
	add(vs, "", Ignored, "obsolete: keepalived 2.2.7 ignores it (the kernel takes the mask from the routes); delete the line", "nat_mask")

	// real_server.
	rs := "real_server"
	impl(rs, srcCheck, "weight", "lvs_method", "uthreshold", "lthreshold", "inhibit_on_failure", "notify_up",
		"notify_down", "alpha", "retry", "delay_before_retry", "warmup", "connect_timeout", "delay_loop",
		"virtualhost", "HTTP_GET", "SSL_GET", "TCP_CHECK", "MISC_CHECK", "PING_CHECK", "UDP_CHECK", "DNS_CHECK", "SMTP_CHECK")
	impl(rs, srcCheck, "smtp_alert")
	add(rs, srcCheck, Ignored, whySNMP, "snmp_name")
	impl(rs, srcFile, "FILE_CHECK")
	impl("FILE_CHECK", srcFile, "track_file", "weight")
	add(rs, "keepalived/check/check_bfd.c", Unsupported, whyChecker+"; "+whyBFD, "BFD_CHECK")
	add(rs, "", Misread, "keepalived 2.2.7 knows lb_kind only in virtual_server and ignores this line, so the real server keeps the virtual server's method: write lvs_method, or move lb_kind to the virtual_server", "lb_kind")
	add(rs, "", Ignored, "obsolete: keepalived 2.2.7 ignores it; delete the line", "nat_mask")

	// Checkers: install_checker_common_keywords (check_api.c).
	for _, c := range []string{"HTTP_GET", "SSL_GET", "TCP_CHECK", "PING_CHECK", "UDP_CHECK", "DNS_CHECK", "SMTP_CHECK", "host"} {
		impl(c, srcAPI, "connect_ip", "connect_port", "bindto", "bind_port", "connect_timeout")
	}
	// bind_if and fwmark: keepalived applies both in socket_bind_connect
	// (core/layer4.c: TCP_CHECK, HTTP_GET, SSL_GET, SMTP_CHECK,
	// DNS_CHECK), only fwmark in udp_bind_connect (UDP_CHECK), neither on
	// PING_CHECK's socket (check_ping.c).
	for _, c := range []string{"HTTP_GET", "SSL_GET", "TCP_CHECK", "DNS_CHECK", "SMTP_CHECK", "host"} {
		impl(c, srcAPI, "bind_if", "fwmark")
	}
	impl("UDP_CHECK", srcAPI, "fwmark")
	add("UDP_CHECK", srcAPI, Ignored, "keepalived 2.2.7 never applies it to a UDP_CHECK's socket (core/layer4.c udp_bind_connect sets SO_MARK, not SO_BINDTODEVICE), so the datagrams leave by the interface the routing table chooses, and so do lvsctl's; delete the line", "bind_if")
	add("PING_CHECK", srcAPI, Ignored, "keepalived 2.2.7 never applies it to a PING_CHECK's socket (check/check_ping.c sets neither SO_BINDTODEVICE nor SO_MARK), so the echo requests leave unmarked by the interface the routing table chooses, and so do lvsctl's; delete the line", "bind_if", "fwmark")
	for _, c := range []string{"HTTP_GET", "SSL_GET", "TCP_CHECK", "MISC_CHECK", "PING_CHECK", "UDP_CHECK", "DNS_CHECK", "SMTP_CHECK"} {
		impl(c, srcAPI, "retry", "delay_before_retry", "warmup", "delay_loop", "alpha")
		add(c, srcAPI, Ignored, whyLog, "log_all_failures")
	}
	for _, c := range []string{"HTTP_GET", "SSL_GET"} {
		impl(c, srcHTTP, "nb_get_retry", "virtualhost", "http_protocol", "enable_sni", "fast_recovery", "url")
	}
	add("TCP_CHECK", "", Ignored, "keepalived 2.2.7 knows nb_get_retry only in HTTP_GET/SSL_GET and ignores it here, so the default retry applies: write retry to change it, or delete the line", "nb_get_retry")
	impl("url", srcHTTP, "path", "digest", "status_code", "virtualhost")
	add("url", srcHTTP, Unsupported, whyRegex, "regex", "regex_no_match", "regex_options", "regex_min_offset",
		"regex_max_offset", "regex_stack")
	impl("DNS_CHECK", "keepalived/check/check_dns.c", "type", "name")
	impl("SMTP_CHECK", "keepalived/check/check_smtp.c", "helo_name", "host")
	// A host block (deprecated in keepalived) takes the common keywords
	// too, but its timing keywords change the whole SMTP_CHECK there:
	// lvsctl asks for them in SMTP_CHECK itself.
	add("host", "keepalived/check/check_smtp.c", Unsupported, "write it in the SMTP_CHECK block: in keepalived it applies to the whole checker anyway",
		"retry", "delay_before_retry", "warmup", "delay_loop", "alpha", "log_all_failures")
	impl("UDP_CHECK", "keepalived/check/check_udp.c", "payload", "require_reply", "min_reply_length", "max_reply_length")
	impl("MISC_CHECK", srcMisc, "misc_path", "misc_timeout", "misc_dynamic", "user")
	add("MISC_CHECK", "", Ignored, "keepalived 2.2.7's MISC_CHECK has no connection keywords and ignores the line; delete it",
		"connect_ip", "connect_port", "bindto", "bind_port", "connect_timeout")
	return out
}

// keywordIndex is KeepalivedKeywords by block and name. Built once and
// never written afterwards.
var keywordIndex = func() map[string]map[string]Keyword {
	idx := map[string]map[string]Keyword{}
	for _, k := range KeepalivedKeywords() {
		if idx[k.Block] == nil {
			idx[k.Block] = map[string]Keyword{}
		}
		idx[k.Block][k.Name] = k
	}
	return idx
}()

// lvsctlExtensions are the keywords lvsctl adds to keepalived's blocks
// (docs/config.md, "lvsctl extensions"); they are not in keepalived's
// table. Whole extension blocks (bgp) are not listed: nothing of theirs is
// keepalived's.
var lvsctlExtensions = map[string]map[string]bool{
	"virtual_server": {"bgp_announce": true},
}

// lookupKeyword finds key in block's table.
func lookupKeyword(block, key string) (Keyword, bool) {
	k, ok := keywordIndex[block][key]
	return k, ok
}

// blockKeywords are the keywords keepalived knows in block (for "did you
// mean" suggestions).
func blockKeywords(block string) []string {
	out := make([]string, 0, len(keywordIndex[block]))
	for k, e := range keywordIndex[block] {
		if e.Class != Misread {
			out = append(out, k)
		}
	}
	return out
}
