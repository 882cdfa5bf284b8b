package config

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/healthcheck"
)

// checkerConf is a virtual server with one real server whose body is
// body: the checker block starts on line 5, its keywords on line 6.
func checkerConf(proto, body string) string {
	return "virtual_server 192.0.2.1 80 {\n protocol " + proto + "\n lb_kind DR\n real_server 192.0.2.2 80 {\n" + body + "\n }\n}\n"
}

// TestCheckerBindIfFWMark: bind_if and fwmark as keepalived 2.2.7 reads
// them (check_api.c) reach the checker, its healthcheck.Spec and the dump,
// in every checker whose socket keepalived applies them to (core/layer4.c
// socket_bind_connect), and in SMTP_CHECK's host blocks.
func TestCheckerBindIfFWMark(t *testing.T) {
	for _, kind := range []string{"TCP_CHECK", "HTTP_GET", "SSL_GET", "DNS_CHECK", "SMTP_CHECK"} {
		t.Run(kind, func(t *testing.T) {
			extra := ""
			if kind == "HTTP_GET" || kind == "SSL_GET" {
				extra = "   url {\n    path /\n   }\n"
			}
			cfg, warns, err := parseString(checkerConf("TCP", "  "+kind+" {\n   bind_if eth1\n   fwmark 42\n"+extra+"  }"), nil)
			require.NoError(t, err)
			assert.Empty(t, warns)
			ck := cfg.VirtualServers[0].RealServers[0].Checkers[0]
			assert.Equal(t, "eth1", ck.BindIf)
			assert.Equal(t, uint32(42), ck.FWMark)
			servers, err := HealthServers(cfg)
			require.NoError(t, err)
			s := servers[0].Checks[0]
			assert.Equal(t, healthcheck.Local{Iface: "eth1", Mark: 42}, s.Local())
		})
	}

	// The largest mark, a leading '+' (strtoul takes it), and 0, which
	// marks nothing (keepalived: co->fwmark 0 sets no SO_MARK).
	for text, want := range map[string]uint32{"4294967295": 4294967295, "+7": 7, "0": 0} {
		cfg, _, err := parseString(checkerConf("TCP", "  TCP_CHECK {\n   fwmark "+text+"\n  }"), nil)
		require.NoError(t, err, text)
		assert.Equal(t, want, cfg.VirtualServers[0].RealServers[0].Checkers[0].FWMark, text)
	}
}

// TestCheckerBindIfFWMarkNotApplied: keepalived 2.2.7 never sets
// SO_BINDTODEVICE on a UDP_CHECK's socket (udp_bind_connect sets SO_MARK
// only) and neither option on a PING_CHECK's (check_ping.c): the lines
// are accepted with a warning and change nothing, as in keepalived.
func TestCheckerBindIfFWMarkNotApplied(t *testing.T) {
	cfg, warns, err := parseString(checkerConf("UDP", "  UDP_CHECK {\n   bind_if eth1\n   fwmark 42\n  }"), nil)
	require.NoError(t, err)
	require.Len(t, warns, 1)
	assert.Contains(t, warns[0].String(), "t.conf:6:4: warning: accepted, ignored: bind_if (keepalived 2.2.7 never applies it to a UDP_CHECK's socket (core/layer4.c udp_bind_connect sets SO_MARK, not SO_BINDTODEVICE)")
	ck := cfg.VirtualServers[0].RealServers[0].Checkers[0]
	assert.Equal(t, "", ck.BindIf)
	assert.Equal(t, uint32(42), ck.FWMark, "UDP_CHECK's mark is applied")
	s, err := HealthSpec(&cfg.VirtualServers[0], &cfg.VirtualServers[0].RealServers[0], &ck)
	require.NoError(t, err)
	assert.Equal(t, healthcheck.Local{Mark: 42}, s.Local())

	cfg, warns, err = parseString(checkerConf("TCP", "  PING_CHECK {\n   bind_if eth1\n   fwmark 42\n  }"), nil)
	require.NoError(t, err)
	require.Len(t, warns, 2)
	assert.Contains(t, warns[0].String(), "t.conf:6:4: warning: accepted, ignored: bind_if (keepalived 2.2.7 never applies it to a PING_CHECK's socket")
	assert.Contains(t, warns[1].String(), "t.conf:7:4: warning: accepted, ignored: fwmark (keepalived 2.2.7 never applies it to a PING_CHECK's socket")
	ck = cfg.VirtualServers[0].RealServers[0].Checkers[0]
	assert.Equal(t, "", ck.BindIf)
	assert.Equal(t, uint32(0), ck.FWMark)
}

// TestCheckerBindIfFWMarkErrors: what keepalived would mis-read is
// refused at the value, saying what keepalived would do (rule 1).
func TestCheckerBindIfFWMarkErrors(t *testing.T) {
	for name, tc := range map[string]struct{ body, want string }{
		"name too long": {"  TCP_CHECK {\n   bind_if abcdefghijklmnop\n  }",
			`t.conf:6:12: bind_if: "abcdefghijklmnop" is longer than 15 characters: keepalived would ignore the line`},
		"alias label": {"  TCP_CHECK {\n   bind_if eth0:1\n  }",
			`t.conf:6:12: bind_if: "eth0:1" is not a valid interface name (no '/', ':' or white space, not . or ..): keepalived would accept it and every check would fail`},
		"empty name": {"  TCP_CHECK {\n   bind_if \"\"\n  }",
			`t.conf:6:12: bind_if: empty interface name: keepalived would bind the check to no interface`},
		"two names": {"  TCP_CHECK {\n   bind_if eth0 eth1\n  }", `t.conf:6:17: bind_if takes 1 argument; unexpected "eth1"`},
		"hex mark": {"  TCP_CHECK {\n   fwmark 0x10\n  }",
			`t.conf:6:11: fwmark: "0x10" is not a decimal number 0..4294967295: keepalived would read it as 0 and mark nothing`},
		"trailing garbage": {"  TCP_CHECK {\n   fwmark 12abc\n  }",
			`t.conf:6:11: fwmark: "12abc" is not a decimal number 0..4294967295: keepalived would read it as 12`},
		"negative mark": {"  TCP_CHECK {\n   fwmark -1\n  }",
			`t.conf:6:11: fwmark: "-1" is not a decimal number 0..4294967295: keepalived would ignore the line`},
		"mark too large": {"  TCP_CHECK {\n   fwmark 4294967296\n  }",
			`t.conf:6:11: fwmark: "4294967296" is not a decimal number 0..4294967295: keepalived would ignore the line`},
		"mark twice": {"  TCP_CHECK {\n   fwmark 1\n   fwmark 2\n  }",
			`t.conf:7:4: fwmark given twice in TCP_CHECK (first at 6:4); keepalived silently uses the last one`},
		"in MISC_CHECK": {"  MISC_CHECK {\n   misc_path /bin/true\n   bind_if eth0\n  }",
			`t.conf:7:4: unknown keyword "bind_if" in MISC_CHECK`},
		"link-local connect_ip": {"  TCP_CHECK {\n   connect_ip fe80::8\n  }",
			`t.conf:5:3: TCP_CHECK: connect address fe80::8 is link-local: add bind_if IFACE (keepalived would drop this checker: a link-local address requires a bind_if)`},
		"link-local bindto": {"  TCP_CHECK {\n   connect_ip 2001:db8::8\n   bindto fe80::2\n  }",
			`t.conf:5:3: TCP_CHECK: bindto fe80::2 is link-local: add bind_if IFACE`},
		"link-local UDP_CHECK": {"  UDP_CHECK {\n   connect_ip fe80::8\n   bind_if eth1\n  }",
			`t.conf:5:3: UDP_CHECK: connect address fe80::8 is link-local: keepalived requires bind_if for it but never applies bind_if to a UDP_CHECK, so every check would fail; use a global address`},
		"link-local PING_CHECK": {"  PING_CHECK {\n   connect_ip fe80::8\n  }",
			`t.conf:5:3: PING_CHECK: connect address fe80::8 is link-local: keepalived requires bind_if for it but never applies bind_if to a PING_CHECK`},
		"link-local host": {"  SMTP_CHECK {\n   host {\n    connect_ip fe80::8\n   }\n  }",
			`t.conf:6:4: SMTP_CHECK: connect address fe80::8 is link-local: add bind_if IFACE`},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := parseString(checkerConf("TCP", tc.body), nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}

	// A link-local address with bind_if is what bind_if is for.
	cfg, _, err := parseString(checkerConf("TCP", "  TCP_CHECK {\n   connect_ip fe80::8\n   bindto fe80::2\n   bind_if eth1\n  }"), nil)
	require.NoError(t, err)
	assert.Equal(t, "eth1", cfg.VirtualServers[0].RealServers[0].Checkers[0].BindIf)
}

// TestCheckerBindIfHostInterface: a bind_if naming an interface this host
// does not have is a warning (files are checked on other machines), once
// per name.
func TestCheckerBindIfHostInterface(t *testing.T) {
	src := checkerConf("TCP", "  TCP_CHECK {\n   bind_if eth9\n  }\n  HTTP_GET {\n   bind_if eth9\n   url {\n    path /\n   }\n  }\n  TCP_CHECK {\n   bind_if eth1\n  }")
	fsys := memFS{"/k.conf": src}
	_, warns, err := LoadWith("/k.conf", Options{FS: fsys, InterfaceExists: func(n string) bool { return n == "eth1" }})
	require.NoError(t, err)
	require.Len(t, warns, 1)
	assert.Equal(t, "/k.conf:5:3: warning: TCP_CHECK: bind_if eth9: interface does not exist on this host: the check fails until it does", warns[0].String())
}

// TestCheckerBindIfSMTPHosts: bind_if and fwmark in SMTP_CHECK count as
// its own connection (keepalived's smtp_check_end_handler checks
// bind_if[0] and fwmark), except fwmark 0; a host block has its own, not
// the SMTP_CHECK's.
func TestCheckerBindIfSMTPHosts(t *testing.T) {
	host := "   host {\n    connect_ip 192.0.2.3\n    bind_if eth2\n    fwmark 9\n   }\n"
	for name, tc := range map[string]struct {
		own  string
		want []healthcheck.Local
	}{
		"bind_if":  {"   bind_if eth1\n", []healthcheck.Local{{Iface: "eth1"}, {Iface: "eth2", Mark: 9}}},
		"fwmark":   {"   fwmark 5\n", []healthcheck.Local{{Mark: 5}, {Iface: "eth2", Mark: 9}}},
		"fwmark 0": {"   fwmark 0\n", []healthcheck.Local{{Iface: "eth2", Mark: 9}}},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, _, err := parseString(checkerConf("TCP", "  SMTP_CHECK {\n"+tc.own+host+"  }"), nil)
			require.NoError(t, err)
			servers, err := HealthServers(cfg)
			require.NoError(t, err)
			var got []healthcheck.Local
			for _, s := range servers[0].Checks {
				got = append(got, s.Local())
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestCheckerBindIfFWMarkRoundTrip: the text dump writes bind_if and
// fwmark back (fwmark 0 and no bind_if are left out), and both the text
// and the JSON dump load to the same configuration.
func TestCheckerBindIfFWMarkRoundTrip(t *testing.T) {
	src := checkerConf("TCP", "  TCP_CHECK {\n   bind_if eth1\n   fwmark 4294967295\n  }\n"+
		"  HTTP_GET {\n   connect_ip fe80::8\n   bindto fe80::2\n   bind_if veth-rs.1\n   fwmark 7\n   url {\n    path /\n   }\n  }\n"+
		"  SMTP_CHECK {\n   host {\n    bind_if eth2\n    fwmark 9\n   }\n  }\n"+
		"  UDP_CHECK {\n   fwmark 3\n  }\n  PING_CHECK {\n  }\n  TCP_CHECK {\n   fwmark 0\n  }")
	cfg, _, err := parseString(src, nil)
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, WriteText(&b, cfg))
	text := b.String()
	for _, line := range []string{"bind_if eth1\n", "fwmark 4294967295\n", "bind_if veth-rs.1\n", "fwmark 7\n", "bind_if eth2\n", "fwmark 9\n", "fwmark 3\n"} {
		assert.Contains(t, text, line)
	}
	assert.Equal(t, 3, strings.Count(text, "bind_if "), text)
	assert.Equal(t, 4, strings.Count(text, "fwmark "), text)
	back, warns, err := Parse("dump.conf", []byte(text), Options{FS: memFS{}})
	require.NoError(t, err, text)
	assert.Empty(t, warns)
	assert.Equal(t, stripPos(t, cfg), stripPos(t, back))

	j, err := json.Marshal(cfg)
	require.NoError(t, err)
	assert.Contains(t, string(j), `"bind_if":"veth-rs.1","fwmark":7`)
	var fromJSON Config
	require.NoError(t, json.Unmarshal(j, &fromJSON))
	assert.Equal(t, cfg, &fromJSON)
}
