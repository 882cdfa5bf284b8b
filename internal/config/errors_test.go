package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const inst = `vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        192.0.2.1
    }
}
`

const vsHead = `virtual_server 192.0.2.1 80 {
    protocol TCP
    lb_kind DR
`

// Each case is one mistake; want is "LINE:COL: message" in t.conf (the
// message may be a prefix of the full message).
func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown top-level keyword", "vrrp_instanse VI_1 {\n}\n",
			[]string{`1:1: unknown keyword "vrrp_instanse" in the top level (did you mean "vrrp_instance"?)`}},
		{"unknown keyword no suggestion", "global_defs {\n  frobnicate 1\n}\n",
			[]string{`2:3: unknown keyword "frobnicate" in global_defs`}},
		{"glued quote", "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n notify_\"/bin/x fault\"\n}\n",
			[]string{`4:2: unknown keyword "notify_" in vrrp_instance VI_1: a space is missing before the quoted string`}},
		{"unterminated quote", "global_defs {\n  router_id \"abc\n}\n",
			[]string{`2:13: unterminated quoted string`}},
		{"unclosed block", "global_defs {\n  router_id a\n",
			[]string{`1:13: block opened here is never closed (missing '}')`}},
		{"stray close", "}\n", []string{`1:1: unexpected '}' (no block is open)`}},
		{"stray open", "{\n}\n", []string{`1:1: unexpected '{' (a block must follow a keyword)`}},
		{"undefined substitution", "vrrp_instance VI_1 {\n interface $IF\n virtual_router_id 1\n}\n",
			[]string{`1:1: vrrp_instance VI_1 has no interface`, `2:12: $IF is not defined: keepalived would use the text "$IF" as it is; define it with $IF=VALUE before this line`}},
		{"AH auth", strings.Replace(inst, "interface eth0", "interface eth0\n    authentication {\n        auth_type AH\n        auth_pass x\n    }", 1),
			[]string{`4:19: auth_type AH is not supported by lvsctl`}},
		{"unsupported keyword", strings.Replace(inst, "interface eth0", "interface eth0\n    use_ipvlan", 1),
			[]string{`3:5: use_ipvlan is a keepalived feature lvsctl does not support: lvsctl creates the use_vmac macvlan only`}},
		{"priority 0", strings.Replace(inst, "interface eth0", "interface eth0\n    priority 0", 1),
			[]string{`3:14: priority 0 out of range 1..255`}},
		{"priority 256", strings.Replace(inst, "interface eth0", "interface eth0\n    priority 256", 1),
			[]string{`3:14: priority 256 out of range 1..255`}},
		{"priority 255 backup", strings.Replace(inst, "interface eth0", "interface eth0\n    state BACKUP\n    priority 255", 1),
			[]string{`1:1: vrrp_instance VI_1: priority 255 means address owner, which must be state MASTER`}},
		{"strict master not owner", "global_defs {\n vrrp_strict\n}\n" + strings.Replace(inst, "interface eth0", "interface eth0\n    state MASTER", 1),
			[]string{`4:1: vrrp_instance VI_1: with vrrp_strict, state MASTER must match priority 255`}},
		{"strict with auth", "global_defs {\n vrrp_strict\n}\n" + strings.Replace(inst, "interface eth0", "interface eth0\n    authentication {\n        auth_pass x\n        auth_type PASS\n    }", 1),
			[]string{`6:5: vrrp_instance VI_1: vrrp_strict does not allow authentication`}},
		{"strict with unicast", "global_defs {\n vrrp_strict\n}\n" + strings.Replace(inst, "interface eth0", "interface eth0\n    unicast_peer {\n        192.0.2.9\n    }", 1),
			[]string{`7:9: unicast_peer is not allowed with vrrp_strict`}},
		{"priority not a number", strings.Replace(inst, "interface eth0", "interface eth0\n    priority high", 1),
			[]string{`3:14: priority: "high" is not an integer`}},
		{"advert_int v2 fraction", strings.Replace(inst, "interface eth0", "interface eth0\n    advert_int 0.5", 1),
			[]string{`1:1: vrrp_instance VI_1: advert_int 0.5: VRRPv2 needs whole seconds 1..255`}},
		{"advert_int too big", strings.Replace(inst, "interface eth0", "interface eth0\n    advert_int 300", 1),
			[]string{`3:16: advert_int 300 out of range 0.01..255`}},
		{"advert_int v3 too big", strings.Replace(inst, "interface eth0", "interface eth0\n    version 3\n    advert_int 41", 1),
			[]string{`1:1: vrrp_instance VI_1: advert_int 41: VRRPv3 needs centiseconds 0.01..40.95`}},
		{"vrid range", strings.Replace(inst, "virtual_router_id 51", "virtual_router_id 256", 1),
			[]string{`3:23: virtual_router_id 256 out of range 1..255`}},
		{"missing vrid", strings.Replace(inst, "virtual_router_id 51\n", "", 1),
			[]string{`1:1: vrrp_instance VI_1 has no virtual_router_id`}},
		{"duplicate keyword", strings.Replace(inst, "interface eth0", "interface eth0\n    priority 10\n    priority 20", 1),
			[]string{`4:5: priority given twice in vrrp_instance VI_1 (first at 3:5)`}},
		{"bad state", strings.Replace(inst, "interface eth0", "interface eth0\n    state MASTR", 1),
			[]string{`3:11: state: "MASTR" is not MASTER or BACKUP`}},
		{"duplicate vrid", inst + strings.NewReplacer("VI_1", "VI_2", "192.0.2.1", "192.0.2.2").Replace(inst),
			[]string{`10:23: virtual_router_id 51 is already used on interface eth0 by vrrp_instance VI_1 (/etc/keepalived/t.conf:1:1)`}},
		{"same vip twice", inst + strings.NewReplacer("VI_1", "VI_2", "51", "52").Replace(inst),
			[]string{`12:9: address 192.0.2.1 is already a virtual address of vrrp_instance VI_1 (/etc/keepalived/t.conf:1:1)`}},
		{"mixed families", strings.Replace(inst, "192.0.2.1\n", "192.0.2.1\n        2001:db8::1\n", 1),
			[]string{`6:9: vrrp_instance VI_1 mixes IPv4 and IPv6 addresses in virtual_ipaddress (first is 192.0.2.1): keepalived would drop 2001:db8::1`}},
		{"ipv6 with version 2 after the addresses", strings.Replace(inst, "192.0.2.1\n    }", "2001:db8::1\n    }\n    version 2", 1),
			[]string{`7:13: version 2: vrrp_instance VI_1 has IPv6 addresses, which VRRP only carries in version 3; keepalived would ignore this line`}},
		{"ipv6 with version 2 before the addresses", strings.Replace(strings.Replace(inst, "192.0.2.1", "2001:db8::1", 1), "interface eth0", "interface eth0\n  version 2", 1),
			[]string{`3:11: version 2: vrrp_instance VI_1 has IPv6 addresses`}},
		{"mcast group6 not multicast", "global_defs {\n vrrp_mcast_group6 2001:db8::12\n}\n",
			[]string{`2:20: vrrp_mcast_group6 must be an IPv6 multicast address, not 2001:db8::12`}},
		{"bad vip", strings.Replace(inst, "192.0.2.1", "192.0.2.300", 1),
			[]string{`5:9: virtual_ipaddress: "192.0.2.300" is not an IP address or ADDR/LEN`}},
		{"bad vip option", strings.Replace(inst, "192.0.2.1", "192.0.2.1 dev eth0 preferred_lft 0", 1),
			[]string{`5:28: virtual_ipaddress: unsupported address option "preferred_lft"`}},
		{"vip option without value", strings.Replace(inst, "192.0.2.1", "192.0.2.1 dev", 1),
			[]string{`5:19: virtual_ipaddress: option "dev" needs a value`}},
		{"track_script missing", strings.Replace(inst, "interface eth0", "interface eth0\n    track_script {\n        chk_gone\n    }", 1),
			[]string{`4:9: track_script chk_gone: no vrrp_script of that name`}},
		{"vrrp_script without script", "vrrp_script chk {\n    interval 2\n}\n",
			[]string{`1:1: vrrp_script chk has no script`}},
		{"vrrp_script weight range", "vrrp_script chk {\n    script /bin/true\n    weight 300\n}\n",
			[]string{`3:12: weight 300 out of range -253..253`}},
		{"sync group missing instance", inst + "vrrp_sync_group G {\n    group {\n        VI_1\n        VI_9\n    }\n}\n",
			[]string{`11:9: vrrp_sync_group G: no vrrp_instance VI_9`}},
		{"instance in two groups", inst + "vrrp_sync_group G {\n group {\n VI_1\n }\n}\nvrrp_sync_group H {\n group {\n VI_1\n }\n}\n",
			[]string{`15:2: vrrp_instance VI_1 is already in vrrp_sync_group G`}},
		{"block expected", "global_defs router_id x\n", []string{`1:1: global_defs needs a { } block`, `1:13: global_defs takes no arguments; unexpected "router_id"`}},
		{"no block expected", "global_defs {\n  router_id x {\n  }\n}\n", []string{`2:3: router_id takes no { } block`}},
		{"too many args", "global_defs {\n  router_id x y\n}\n", []string{`2:15: router_id takes 1 argument; unexpected "y"`}},
		{"missing arg", "global_defs {\n  router_id\n}\n", []string{`2:3: router_id needs 1 argument`}},
		{"mcast not multicast", "global_defs {\n  vrrp_mcast_group4 10.0.0.1\n}\n",
			[]string{`2:21: vrrp_mcast_group4 must be an IPv4 multicast address, not 10.0.0.1`}},
		// virtual servers
		{"no protocol", "virtual_server 192.0.2.1 80 {\n    lb_kind DR\n    real_server 192.0.2.2 80 {\n    }\n}\n",
			[]string{`1:1: virtual_server 192.0.2.1:80 has no protocol: add "protocol TCP" (or UDP/SCTP); keepalived would silently default to UDP`}},
		{"unknown scheduler", vsHead + "    lb_algo rrr\n    real_server 192.0.2.2 80 {\n    }\n}\n",
			[]string{`4:13: lb_algo: unknown scheduler "rrr" (one of rr wrr lc wlc lblc lblcr dh sh sed nq mh fo ovf twos) (did you mean "rr"?)`}},
		{"unknown method", "virtual_server 192.0.2.1 80 {\n    protocol TCP\n    lvs_method FNAT\n}\n",
			[]string{`3:16: lvs_method: unknown forwarding method "FNAT" (NAT, DR or TUN)`}},
		{"bad protocol", "virtual_server 192.0.2.1 80 {\n    protocol ICMP\n    lb_kind DR\n}\n",
			[]string{`2:14: protocol: "ICMP" is not TCP, UDP or SCTP`}},
		{"DR port mismatch", vsHead + "    real_server 192.0.2.2 8080 {\n    }\n}\n",
			[]string{`4:5: real_server 192.0.2.2:8080: with lb_kind DR the real server port must equal the virtual server port 80 (the kernel cannot change ports without NAT); keepalived would silently use port 80`}},
		{"weight range", vsHead + "    real_server 192.0.2.2 80 {\n        weight 70000\n    }\n}\n",
			[]string{`5:16: weight 70000 out of range 0..65535`}},
		{"duplicate real server", vsHead + "    real_server 192.0.2.2 80 {\n    }\n    real_server 192.0.2.2 80 {\n    }\n}\n",
			[]string{`6:5: real_server 192.0.2.2:80 is already in virtual_server 192.0.2.1:80 (first at /etc/keepalived/t.conf:4:5)`}},
		{"duplicate virtual server", vsHead + "}\n" + vsHead + "}\n",
			[]string{`5:1: virtual_server 192.0.2.1:80 TCP defined twice (first at /etc/keepalived/t.conf:1:1)`}},
		{"http without url", vsHead + "    real_server 192.0.2.2 80 {\n        HTTP_GET {\n            connect_timeout 3\n        }\n    }\n}\n",
			[]string{`5:9: HTTP_GET has no url { } block`}},
		{"bad status code", vsHead + "    real_server 192.0.2.2 80 {\n        HTTP_GET {\n            url {\n                path /\n                status_code 2000\n            }\n        }\n    }\n}\n",
			[]string{`8:29: status_code: "2000" is not a code or range within 100..599`}},
		{"bad digest", vsHead + "    real_server 192.0.2.2 80 {\n        HTTP_GET {\n            url {\n                path /\n                digest xyz\n            }\n        }\n    }\n}\n",
			[]string{`8:24: digest: "xyz" is not an MD5 sum (32 hex digits)`}},
		{"misc without path", vsHead + "    real_server 192.0.2.2 80 {\n        MISC_CHECK {\n        }\n    }\n}\n",
			[]string{`5:9: MISC_CHECK has no misc_path`}},
		{"unsupported checker", vsHead + "    real_server 192.0.2.2 80 {\n        BFD_CHECK {\n        }\n    }\n}\n",
			[]string{`5:9: BFD_CHECK is a keepalived feature lvsctl does not support: lvsctl implements HTTP_GET, SSL_GET, TCP_CHECK, MISC_CHECK, PING_CHECK, UDP_CHECK, DNS_CHECK, SMTP_CHECK and FILE_CHECK; lvsctl has no BFD`}},
		{"FILE_CHECK without track_file", vsHead + "    real_server 192.0.2.2 80 {\n        FILE_CHECK {\n        }\n    }\n}\n",
			[]string{`5:9: FILE_CHECK has no track_file: keepalived would ignore the checker`}},
		{"quorum unreachable", vsHead + "    quorum 5\n    real_server 192.0.2.2 80 {\n    }\n}\n",
			[]string{`4:5: virtual_server 192.0.2.1:80: quorum 5 exceeds the total weight 1 of its real servers: keepalived would silently lower it to 1`}},
		{"hysteresis >= quorum", vsHead + "    quorum 2\n    hysteresis 2\n    real_server 192.0.2.2 80 {\n        weight 5\n    }\n}\n",
			[]string{`1:1: virtual_server 192.0.2.1:80: hysteresis 2 must be below quorum 2`}},
		{"ops needs udp", vsHead + "    ops\n    real_server 192.0.2.2 80 {\n    }\n}\n",
			[]string{`1:1: virtual_server 192.0.2.1:80: ops (one-packet scheduling) needs protocol UDP`}},
		{"bad vs address", "virtual_server 192.0.2 80 {\n}\n",
			[]string{`1:16: virtual_server: "192.0.2" is not an IP address`}},
		{"bad port", "virtual_server 192.0.2.1 99999 {\n}\n",
			[]string{`1:26: virtual_server port 99999 out of range 0..65535`}},
		{"delay_loop not a number", vsHead + "    delay_loop soon\n}\n",
			[]string{`4:16: delay_loop: "soon" is not a number of seconds`}},
		{"include missing", "include nothere.conf\n",
			[]string{`1:9: included file /etc/keepalived/nothere.conf does not exist`}},
		{"errors reported together", "global_defs {\n  router_id\n}\nvrrp_instance X {\n}\n",
			[]string{`2:3: router_id needs 1 argument`, `4:1: vrrp_instance X has no interface`, `4:1: vrrp_instance X has no virtual_router_id`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseString(tt.src, nil)
			var list ErrorList
			require.True(t, errors.As(err, &list), "want errors, got %v", err)
			var got []string
			for _, d := range list {
				require.Equal(t, "/etc/keepalived/t.conf", d.Pos.File)
				got = append(got, strings.TrimPrefix(d.String(), "/etc/keepalived/t.conf:"))
			}
			require.Len(t, got, len(tt.want), "errors: %s", strings.Join(got, "\n"))
			for i := range tt.want {
				assert.True(t, strings.HasPrefix(got[i], tt.want[i]), "error %d\n got: %s\nwant: %s", i, got[i], tt.want[i])
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"smtp_server alone", "global_defs {\n  smtp_server 127.0.0.1\n}\n", `2:3: warning: smtp_server without notification_email: no e-mail alert is sent (as in keepalived)`},
		{"snmp ignored", "global_defs {\n  enable_snmp_vrrp\n}\n", `2:3: warning: accepted, ignored: enable_snmp_vrrp`},
		{"notification_email alone", "global_defs {\n  notification_email {\n    a@b\n  }\n}\n", `2:3: warning: notification_email without smtp_server: no e-mail alert is sent`},
		{"no_checker_emails", "global_defs {\n  no_checker_emails\n}\n", `2:3: warning: accepted, ignored: no_checker_emails (lvsctl mails a real server's transitions`},
		{"nb_get_retry in TCP_CHECK", vsHead + "    real_server 192.0.2.2 80 {\n        TCP_CHECK {\n            nb_get_retry 3\n        }\n    }\n}\n",
			`6:13: warning: accepted, ignored: nb_get_retry (keepalived 2.2.7 knows nb_get_retry only in HTTP_GET/SSL_GET and ignores it here`},
		{"vs without real servers", vsHead + "}\n", `1:1: warning: virtual_server 192.0.2.1:80 has no real servers`},
		{"long password", strings.Replace(inst, "interface eth0", "interface eth0\n    authentication {\n        auth_pass 0123456789\n        auth_type PASS\n    }", 1), `4:19: warning: auth_pass is longer than 8 characters: only "01234567" is used`},
		{"include matches nothing", "include conf.d/*.conf\n", `1:9: warning: include "conf.d/*.conf" matches no file`},
		{"no lb_kind", "virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 192.0.2.2 80 {\n }\n}\n", `1:1: warning: virtual_server 192.0.2.1:80 has no lb_kind: using NAT`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warns, err := parseString(tt.src, nil)
			require.NoError(t, err)
			var got []string
			for _, d := range warns {
				got = append(got, strings.TrimPrefix(d.String(), "/etc/keepalived/t.conf:"))
			}
			found := false
			for _, g := range got {
				found = found || strings.HasPrefix(g, tt.want)
			}
			assert.True(t, found, "want %q among:\n%s", tt.want, strings.Join(got, "\n"))
		})
	}
}

func TestInterfaceWarning(t *testing.T) {
	fsys := memFS{"/k.conf": inst}
	exists := func(name string) bool { return name == "lo" }
	_, warns, err := LoadWith("/k.conf", Options{FS: fsys, InterfaceExists: exists})
	require.NoError(t, err)
	require.Len(t, warns, 1)
	assert.Equal(t, "/k.conf:1:1: warning: interface eth0 does not exist on this host", warns[0].String())

	exists = func(string) bool { return true }
	_, warns, err = LoadWith("/k.conf", Options{FS: fsys, InterfaceExists: exists})
	require.NoError(t, err)
	assert.Empty(t, warns)
}

func TestLoadMissingMainFile(t *testing.T) {
	_, _, err := LoadWith("/nope.conf", Options{FS: memFS{}})
	require.Error(t, err)
	var list ErrorList
	assert.False(t, errors.As(err, &list))
}
