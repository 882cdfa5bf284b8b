package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
)

// diagLines loads src and returns its errors and warnings as
// "LINE:COL: [warning: ]message".
func diagLines(t *testing.T, src string) (*Config, []string, []string) {
	t.Helper()
	cfg, warns, err := parseString(src, nil)
	var errs, ws []string
	var list ErrorList
	if errors.As(err, &list) {
		for _, d := range list {
			errs = append(errs, strings.TrimPrefix(d.String(), "/etc/keepalived/t.conf:"))
		}
	} else {
		require.NoError(t, err)
	}
	for _, d := range warns {
		ws = append(ws, strings.TrimPrefix(d.String(), "/etc/keepalived/t.conf:"))
	}
	return cfg, errs, ws
}

func hasPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// TestKeepalivedParity: each row is a line keepalived 2.2.7 reads in a
// way the file does not say (rule 1: exactly these errors), or a line
// lvsctl now reads as keepalived does (no errors, these warnings, and
// check on the result).
func TestKeepalivedParity(t *testing.T) {
	vs := func(body string) string {
		return "virtual_server 192.0.2.1 80 {\n protocol TCP\n lb_kind DR\n" + body + "\n}\n"
	}
	rs := func(body string) string { return vs(" real_server 192.0.2.2 80 {\n" + body + "\n }") }
	tests := []struct {
		name  string
		src   string
		errs  []string
		warns []string
		check func(t *testing.T, c *Config)
	}{
		{name: "unicast_src_ip with prefix", src: withInst("unicast_src_ip 192.0.2.92/24\nunicast_peer {\n192.0.2.91/24\n}"),
			warns: []string{`3:16: warning: unicast_src_ip: the prefix length /24 means nothing here; keepalived strips it, and so does lvsctl: write 192.0.2.92`,
				`5:1: warning: unicast_peer: the prefix length /24 means nothing here; keepalived strips it`},
			check: func(t *testing.T, c *Config) {
				assert.Equal(t, "192.0.2.92", c.VRRPInstances[0].UnicastSrcIP.String())
				assert.Equal(t, "192.0.2.91", c.VRRPInstances[0].UnicastPeers[0].Addr.String())
			}},
		{name: "lb_kind lower case", src: "virtual_server 192.0.2.1 80 {\n protocol TCP\n lb_kind dr\n real_server 192.0.2.2 8080 {\n }\n}\n",
			errs: []string{`3:10: lb_kind "dr": keepalived is case-sensitive and would ignore this line, so the virtual server would use NAT: write DR`}},
		{name: "lvs_method lower case in real_server", src: rs("lvs_method tun"),
			errs: []string{`5:12: lvs_method "tun": keepalived is case-sensitive and would ignore this line, so the real server would use the virtual server's method: write TUN`}},
		{name: "TUN type ipip is IPVS's default", src: vs(" real_server 192.0.2.2 80 {\n lvs_method TUN type ipip nocsum\n }"),
			check: func(t *testing.T, c *Config) { assert.Equal(t, MethodTUN, c.VirtualServers[0].RealServers[0].Method) }},
		{name: "TUN type gue", src: rs("lvs_method TUN type gue port 6080"),
			errs: []string{`5:21: lvs_method TUN type gue is a keepalived feature lvsctl does not support: the IPVS library lvsctl uses (github.com/moby/ipvs) cannot set a destination's tunnel type, so the kernel would get IPIP; use type ipip (the default) or keepalived`}},
		{name: "TUN checksum option", src: rs("lvs_method TUN csum"),
			errs: []string{`5:16: lvs_method TUN csum: a GUE/GRE tunnel option, and lvsctl supports IPIP tunnels only (github.com/moby/ipvs cannot set a destination's tunnel type)`}},
		{name: "tunnel options on DR", src: rs("lvs_method DR type ipip"),
			errs: []string{`5:15: lvs_method DR: tunnel options apply to TUN only`}},
		{name: "TUN unknown tunnel option", src: rs("lvs_method TUN fast"),
			errs: []string{`5:16: lvs_method TUN: invalid tunnel option "fast" (type, port, nocsum, csum, remcsum); keepalived would ignore the line`}},
		{name: "auth_type lower case", src: withInst("authentication {\nauth_type pass\nauth_pass x\n}"),
			errs: []string{`4:11: auth_type "pass": keepalived is case-sensitive and would run this instance without authentication (unknown type): write PASS`}},
		{name: "auth_pass without auth_type", src: withInst("authentication {\nauth_pass x\n}"),
			errs: []string{`3:1: authentication without auth_type: keepalived would run this instance without authentication`}},
		{name: "state lower case", src: withInst("state master"),
			errs: []string{`3:7: state: "master": keepalived is case-sensitive and would start this instance as BACKUP (unknown state): write MASTER`}},
		{name: "nopreempt with MASTER", src: withInst("state MASTER\nnopreempt\npreempt_delay 10"),
			warns: []string{`4:1: warning: vrrp_instance VI_1: nopreempt does not work with state MASTER: keepalived clears it, and so does lvsctl (this node preempts)`,
				`5:1: warning: vrrp_instance VI_1: preempt_delay does not work with state MASTER: keepalived clears it`},
			check: func(t *testing.T, c *Config) {
				d, err := c.Desired()
				require.NoError(t, err)
				assert.False(t, d.VRRP.Instances[0].Nopreempt)
				assert.Zero(t, d.VRRP.Instances[0].PreemptDelay)
			}},
		{name: "nopreempt with BACKUP is kept", src: withInst("state BACKUP\nnopreempt"),
			check: func(t *testing.T, c *Config) { assert.True(t, c.VRRPInstances[0].NoPreempt) }},
		{name: "persistence_granularity alone makes the service persistent", src: vs("persistence_granularity 255.255.255.0"),
			warns: []string{`1:1: warning: virtual_server 192.0.2.1:80 has no real servers`},
			check: func(t *testing.T, c *Config) {
				assert.Equal(t, 360*time.Second, c.VirtualServers[0].PersistenceTimeout)
				svc := c.Director().Services[0].Service
				assert.Equal(t, director.FlagPersistent, svc.Flags&director.FlagPersistent)
				assert.Equal(t, uint32(360), svc.Timeout)
				assert.Equal(t, director.IPv4Netmask(24), svc.Netmask)
			}},
		{name: "persistence_granularity prefix length on IPv4", src: vs("persistence_timeout 60\npersistence_granularity 24"),
			errs: []string{`5:25: persistence_granularity 24 on an IPv4 service: keepalived reads it as the address 0.0.0.24 and would program that as the netmask: write 255.255.255.0`}},
		{name: "persistence_granularity prefix length on IPv6", src: "virtual_server 2001:db8::1 80 {\n protocol TCP\n lb_kind DR\n persistence_granularity 64\n real_server 2001:db8::2 80 {\n }\n}\n",
			check: func(t *testing.T, c *Config) { assert.Equal(t, uint32(64), c.Director().Services[0].Service.Netmask) }},
		{name: "quorum above the total weight", src: vs("quorum 3\n real_server 192.0.2.2 80 {\n weight 2\n }"),
			errs: []string{`4:1: virtual_server 192.0.2.1:80: quorum 3 exceeds the total weight 2 of its real servers: keepalived would silently lower it to 2; write quorum 2, or raise the weights`}},
		{name: "misc_path unquoted with arguments", src: rs("MISC_CHECK {\nmisc_path /bin/x arg1 arg2\n}"),
			errs: []string{`6:18: misc_path: keepalived would run only "/bin/x" (the first word of an unquoted command) and drop the rest: quote the whole command`}},
		{name: "notify_master unquoted with arguments", src: withInst("notify_master /bin/n master"),
			errs: []string{`3:22: notify_master: keepalived would run only "/bin/n" and read "master" as the user to run it as: quote the whole command`}},
		{name: "vrrp_script script unquoted with arguments", src: "vrrp_script s {\n script killall -0 nginx\n}\n",
			errs: []string{`2:17: script: keepalived would run only "killall" (the first word of an unquoted command) and drop the rest`}},
		{name: "misc_path quoted", src: rs("MISC_CHECK {\nmisc_path \"/bin/x arg1 arg2\"\n}"),
			check: func(t *testing.T, c *Config) {
				assert.Equal(t, "/bin/x arg1 arg2", c.VirtualServers[0].RealServers[0].Checkers[0].Misc.Path.Command)
			}},
		{name: "lb_kind in real_server", src: rs("lb_kind NAT"),
			errs: []string{`5:1: lb_kind in real_server 192.0.2.2:80: keepalived 2.2.7 knows lb_kind only in virtual_server and ignores this line`}},
		{name: "sorry_server without port, DR", src: vs("sorry_server 192.0.2.9\n real_server 192.0.2.2 80 {\n }"),
			check: func(t *testing.T, c *Config) { assert.Equal(t, uint16(80), c.VirtualServers[0].SorryServer.Port) }},
		{name: "sorry_server without port, NAT", src: vs("sorry_server 192.0.2.9\n sorry_server_lvs_method NAT\n real_server 192.0.2.2 80 {\n }"),
			errs: []string{`4:1: sorry_server 192.0.2.9 without a port: with lb_kind NAT keepalived would program destination port 0: add the port`}},
		{name: "sorry_server_inhibit before sorry_server", src: vs("sorry_server_inhibit\n sorry_server 192.0.2.9 80\n real_server 192.0.2.2 80 {\n }"),
			errs: []string{`4:1: sorry_server_inhibit before (or without) sorry_server: keepalived would ignore it: move it after sorry_server`}},
		{name: "persistence_engine", src: vs("persistence_engine sip\n real_server 192.0.2.2 80 {\n }"),
			errs: []string{`4:1: persistence_engine is a keepalived feature lvsctl does not support: the IPVS library lvsctl uses (github.com/moby/ipvs v1.1.0) sends a persistence engine but does not read it back, so lvsctl could neither adopt nor repair such a service: use keepalived for SIP persistence`}},
		{name: "scheduler flags", src: vs("lb_algo sh\nsh-port\nsh-fallback\nflag-3\n real_server 192.0.2.2 80 {\n }"),
			check: func(t *testing.T, c *Config) {
				assert.Equal(t, director.FlagSched1|director.FlagSched2|director.FlagSched3, c.Director().Services[0].Service.Flags)
			}},
		{name: "sh-port before lb_algo sh", src: vs("sh-port\nlb_algo sh\n real_server 192.0.2.2 80 {\n }"),
			errs: []string{`4:1: sh-port before lb_algo sh: keepalived reads the lines in order and would ignore it (the scheduler is not sh yet): move it after lb_algo`}},
		{name: "mh-port with rr", src: vs("lb_algo rr\nmh-port\n real_server 192.0.2.2 80 {\n }"),
			errs: []string{`5:1: mh-port only applies to lb_algo mh, not rr: keepalived would ignore it`}},
		{name: "virtual_server weight is the real servers' default", src: vs("weight 7\n real_server 192.0.2.2 80 {\n }\n real_server 192.0.2.3 80 {\n weight 2\n }"),
			check: func(t *testing.T, c *Config) {
				assert.Equal(t, 7, c.VirtualServers[0].RealServers[0].Weight)
				assert.Equal(t, 2, c.VirtualServers[0].RealServers[1].Weight)
			}},
		{name: "real_server alpha, fast_recovery, url virtualhost", src: rs("alpha\nHTTP_GET {\nfast_recovery\nhttp_protocol 1.0\nurl {\npath /\nvirtualhost www.example.com\n}\n}"),
			check: func(t *testing.T, c *Config) {
				d, err := c.Desired()
				require.NoError(t, err)
				assert.True(t, d.Director.Services[0].RealServers[0].Alpha)
				sp := d.Checks[0].Checks[0]
				assert.True(t, sp.Alpha)
				assert.True(t, sp.HTTP.FastRecovery)
				assert.Equal(t, "www.example.com", sp.HTTP.URLs[0].VirtualHost)
			}},
		{name: "checker alpha", src: rs("TCP_CHECK {\nalpha\n}"),
			check: func(t *testing.T, c *Config) {
				d, err := c.Desired()
				require.NoError(t, err)
				assert.False(t, d.Director.Services[0].RealServers[0].Alpha)
				assert.True(t, d.Checks[0].Checks[0].Alpha)
			}},
		{name: "enable_sni", src: rs("SSL_GET {\nvirtualhost www.example.com\nenable_sni\nurl {\npath /\n}\n}"),
			check: func(t *testing.T, c *Config) {
				d, err := c.Desired()
				require.NoError(t, err)
				assert.Equal(t, "www.example.com", d.Checks[0].Checks[0].HTTP.SNI)
			}},
		{name: "http_protocol 1.0C", src: rs("HTTP_GET {\nhttp_protocol 1.0C\nurl {\npath /\n}\n}"),
			warns: []string{`6:1: warning: accepted, ignored: http_protocol 1.0C (lvsctl's checker sends HTTP/1.0 requests`}},
		{name: "http_protocol 1.1", src: rs("HTTP_GET {\nhttp_protocol 1.1\nurl {\npath /\n}\n}"),
			errs: []string{`6:15: http_protocol 1.1 is a keepalived feature lvsctl does not support: its checker sends HTTP/1.0 requests`}},
		{name: "snmp_name", src: rs("snmp_name web1"),
			warns: []string{`5:1: warning: accepted, ignored: snmp_name (lvsctl has no SNMP agent`}},
		{name: "MISC_CHECK connect_timeout", src: rs("MISC_CHECK {\nmisc_path /bin/true\nconnect_timeout 3\n}"),
			warns: []string{`7:1: warning: accepted, ignored: connect_timeout (keepalived 2.2.7's MISC_CHECK has no connection keywords`}},
		{name: "process tuning", src: "global_defs {\n max_auto_priority 50\n vrrp_cpu_affinity 1\n checker_rlimit_rttime 10000\n vrrp_netlink_cmd_rcv_bufs 1048576\n umask 0022\n vrrp_process_name vrrp\n}\n",
			warns: []string{`2:2: warning: accepted, ignored: max_auto_priority (tuning of keepalived's own processes, which lvsctl does not have; delete the line)`,
				`3:2: warning: accepted, ignored: vrrp_cpu_affinity`, `4:2: warning: accepted, ignored: checker_rlimit_rttime`,
				`5:2: warning: accepted, ignored: vrrp_netlink_cmd_rcv_bufs (netlink buffer sizes`, `6:2: warning: umask sets only the mode of the notify FIFOs lvsctl creates`, `7:2: warning: accepted, ignored: vrrp_process_name`}},
		{name: "nat_mask", src: rs("nat_mask 255.255.255.0"),
			warns: []string{`5:1: warning: accepted, ignored: nat_mask (obsolete: keepalived 2.2.7 ignores it; delete the line)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, errs, warns := diagLines(t, tt.src)
			require.Len(t, errs, len(tt.errs), "errors:\n%s", strings.Join(errs, "\n"))
			for i, want := range tt.errs {
				assert.True(t, strings.HasPrefix(errs[i], want), "error %d\n got: %s\nwant: %s", i, errs[i], want)
			}
			for _, want := range tt.warns {
				assert.True(t, hasPrefix(warns, want), "want warning %q among:\n%s", want, strings.Join(warns, "\n"))
			}
			if tt.check != nil && cfg != nil {
				tt.check(t, cfg)
			}
		})
	}
}

// TestVirtualServerGroup: ranges, fwmark entries, one director service
// per member with all real servers, errors once.
func TestVirtualServerGroup(t *testing.T) {
	src := `virtual_server_group G {
	192.0.2.1-3 80
	2001:db8::a-b 80
	fwmark 7
}
virtual_server group G {
	protocol TCP
	lb_kind DR
	real_server 192.0.2.10 80 {
	}
	real_server 192.0.2.11 80 {
		TCP_CHECK {
			bogus 1
		}
	}
}
`
	_, errs, _ := diagLines(t, src)
	// IPv4 real servers under IPv6 members: refused (once per member
	// service, which differ), and the body's error once.
	assert.True(t, hasPrefix(errs, `13:4: unknown keyword "bogus" in TCP_CHECK`))
	n := 0
	for _, e := range errs {
		if strings.HasPrefix(e, "13:4:") {
			n++
		}
	}
	assert.Equal(t, 1, n, strings.Join(errs, "\n"))

	src = strings.Replace(strings.Replace(src, "\t2001:db8::a-b 80\n", "", 1), "\t\t\tbogus 1\n", "", 1)
	cfg, errs, _ := diagLines(t, src)
	require.Empty(t, errs)
	d := cfg.Director()
	require.Len(t, d.Services, 4)
	assert.Equal(t, "192.0.2.3", d.Services[2].Service.Key.Addr.String())
	assert.Equal(t, uint32(7), d.Services[3].Service.Key.FWMark)
	for _, s := range d.Services {
		assert.Len(t, s.RealServers, 2)
	}

	// ha_suspend in a group: keepalived would never run the checks.
	src = strings.Replace(src, "\tfwmark 7\n", "", 1)
	_, errs, _ = diagLines(t, strings.Replace(src, "\tlb_kind DR\n", "\tlb_kind DR\n\tha_suspend\n", 1))
	assert.Equal(t, []string{`7:2: virtual_server group G: ha_suspend in a virtual_server group: keepalived 2.2.7 never matches a group's addresses, so it would suspend these checks for good and never check the real servers; delete ha_suspend`}, errs)
}

// TestOneErrorPerProblem: an unknown group or a bad header is one error,
// and the body's errors are still reported.
func TestOneErrorPerProblem(t *testing.T) {
	_, errs, _ := diagLines(t, "virtual_server group NOPE {\n protocol TCP\n lb_kind DR\n delay_loop soon\n}\n")
	assert.Equal(t, []string{
		`1:22: virtual_server group NOPE: no virtual_server_group of that name (keepalived would skip this virtual server)`,
		`4:13: delay_loop: "soon" is not a number of seconds`,
	}, errs)
	_, errs, _ = diagLines(t, "virtual_server 192.0.2 80 {\n protocol TCP\n lb_kind DR\n lb_algo rrr\n}\n")
	require.Len(t, errs, 2, strings.Join(errs, "\n"))
	assert.True(t, strings.HasPrefix(errs[0], `1:16: virtual_server: "192.0.2" is not an IP address`))
	assert.True(t, strings.HasPrefix(errs[1], `4:10: lb_algo: unknown scheduler "rrr"`))
}
