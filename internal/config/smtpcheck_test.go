package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/healthcheck"
)

// TestSMTPCheck: keepalived 2.2.7's SMTP_CHECK (check_smtp.c): HELO name
// default, common keywords, host { } blocks as checkers of their own.
func TestSMTPCheck(t *testing.T) {
	cfg, warns, err := LoadWith("testdata/keepalived-samples/keepalived.conf.SMTP_CHECK", Options{})
	require.NoError(t, err)
	rss := cfg.VirtualServers[0].RealServers
	require.Len(t, rss, 3)

	c := rss[0].Checkers
	require.Len(t, c, 1)
	assert.Equal(t, CheckSMTP, c[0].Type)
	assert.Equal(t, "foo.bar.com", c[0].SMTP.HeloName)
	assert.Equal(t, 30*time.Second, c[0].ConnectTimeout)
	assert.Equal(t, 2, c[0].Retry)
	assert.Equal(t, 5*time.Second, c[0].DelayBeforeRetry)
	assert.Equal(t, netip.MustParseAddr("172.16.1.10"), c[0].ConnectIP)
	assert.Equal(t, uint16(25), c[0].ConnectPort)

	// connect_timeout in SMTP_CHECK itself keeps its own checker (as
	// keepalived's smtp_check_end_handler), plus one per host.
	c = rss[1].Checkers
	require.Len(t, c, 4)
	var ips []string
	for _, ck := range c {
		ips = append(ips, ck.ConnectIP.String())
		assert.Equal(t, "foo.bar.com", ck.SMTP.HeloName)
		assert.Equal(t, 2, ck.Retry)
		assert.Equal(t, 10*time.Second, ck.ConnectTimeout)
	}
	assert.Equal(t, []string{"172.16.1.11", "172.16.1.11", "192.168.155.10", "64.233.167.99"}, ips)

	c = rss[2].Checkers
	require.Len(t, c, 4, "own connection (connect_timeout) and three hosts")
	assert.Equal(t, netip.MustParseAddr("172.16.1.12"), c[1].ConnectIP)
	assert.Equal(t, netip.MustParseAddr("172.16.1.2"), c[1].BindTo)

	var deprecated int
	for _, w := range warns {
		if w.Severity == SeverityWarning && strings.Contains(w.Message, "host { } blocks are deprecated") {
			deprecated++
		}
	}
	assert.Equal(t, 2, deprecated, "one warning per SMTP_CHECK with hosts")

	d, err := cfg.Desired()
	require.NoError(t, err)
	s := d.Checks[0].Checks[0]
	assert.Equal(t, healthcheck.SMTPCheck, s.Kind)
	assert.Equal(t, "foo.bar.com", s.SMTP.HeloName)
	assert.Equal(t, netip.MustParseAddrPort("172.16.1.10:25"), s.Addr)
}

func TestSMTPCheckDefaultsAndErrors(t *testing.T) {
	rs := func(body string) string {
		return "virtual_server 192.0.2.1 25 {\n protocol TCP\n real_server 192.0.2.2 25 {\n  SMTP_CHECK {\n" + body + "\n  }\n }\n}\n"
	}
	cfg, _, err := parseString(rs(""), nil)
	require.NoError(t, err)
	ck := cfg.VirtualServers[0].RealServers[0].Checkers[0]
	assert.Equal(t, "smtpchecker.keepalived.org", ck.SMTP.HeloName)
	assert.Equal(t, 1, ck.Retry)
	assert.Equal(t, time.Second, ck.DelayBeforeRetry)
	assert.Equal(t, 5*time.Second, ck.ConnectTimeout)

	// Hosts only: the SMTP_CHECK's own connection is not checked.
	cfg, _, err = parseString(rs("   host {\n    connect_ip 192.0.2.3\n    connect_port 2525\n   }"), nil)
	require.NoError(t, err)
	cks := cfg.VirtualServers[0].RealServers[0].Checkers
	require.Len(t, cks, 1)
	assert.Equal(t, netip.MustParseAddr("192.0.2.3"), cks[0].ConnectIP)
	assert.Equal(t, uint16(2525), cks[0].ConnectPort)

	for name, tc := range map[string]struct{ body, want string }{
		"helo with angle":    {"   helo_name <x>", `t.conf:5:14: helo_name: "<x>" has a space`},
		"retry in host":      {"   host {\n    retry 3\n   }", `t.conf:6:5: retry is a keepalived feature lvsctl does not support: write it in the SMTP_CHECK block`},
		"bad host address":   {"   host {\n    connect_ip 192.0.2.300\n   }", `t.conf:6:16: connect_ip: "192.0.2.300" is not an IP address`},
		"unknown in checker": {"   helo 1", `t.conf:5:4: unknown keyword "helo" in SMTP_CHECK`},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := parseString(rs(tc.body), nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestSMTPCheckTextDump: the dump of the sample (hosts expanded into
// checkers) loads back to the same configuration.
func TestSMTPCheckTextDump(t *testing.T) {
	cfg, _, err := LoadWith("testdata/keepalived-samples/keepalived.conf.SMTP_CHECK", Options{})
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, WriteText(&b, cfg))
	back, _, err := Parse("dump.conf", []byte(b.String()), Options{FS: memFS{}})
	require.NoError(t, err, b.String())
	assert.Equal(t, stripPos(t, cfg), stripPos(t, back))
}
