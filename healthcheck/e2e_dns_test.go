//go:build e2e

package healthcheck_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/healthcheck"
)

// TestE2EDNS: DNS_CHECK from the director's namespace to a name server in
// the real server's namespace (IPv4 and IPv6): NOERROR passes, REFUSED
// fails, a cut link fails at connect_timeout.
func TestE2EDNS(t *testing.T) {
	l := lab.New(t)
	sw := l.Switch("lan")
	dir, rs1 := l.Host("dir"), l.Host("rs1")
	sw.Attach(dir, "eth0", "10.16.8.2/24", "fd00:16::2/64")
	link := sw.Attach(rs1, "eth0", "10.16.8.8/24", "fd00:16::8/64")
	for _, a := range []string{"10.16.8.8:53", "[fd00:16::8]:53"} {
		pc, err := rs1.ListenPacket("udp", a)
		require.NoError(t, err)
		t.Cleanup(func() { _ = pc.Close() })
		go func() {
			buf := make([]byte, 2048)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				q := new(dns.Msg)
				if q.Unpack(buf[:n]) != nil || len(q.Question) != 1 {
					continue
				}
				r := new(dns.Msg).SetReply(q)
				if q.Question[0].Name != "." {
					r.Rcode = dns.RcodeRefused
				}
				b, _ := r.Pack()
				_, _ = pc.WriteTo(b, from)
			}
		}()
	}
	ctx := context.Background()
	spec := func(addr, name string) *healthcheck.Spec {
		return &healthcheck.Spec{Kind: healthcheck.DNSCheck, Addr: netip.MustParseAddrPort(addr),
			ConnectTimeout: time.Second, DelayLoop: time.Second, DelayBeforeRetry: 100 * time.Millisecond,
			DNS: &healthcheck.DNSSpec{Type: dns.TypeSOA, Name: name}}
	}
	check := func(s *healthcheck.Spec) healthcheck.Result {
		var res healthcheck.Result
		require.NoError(t, dir.Do(func() error {
			res = healthcheck.CheckOnce(ctx, s, nil)
			return nil
		}))
		return res
	}
	for _, a := range []string{"10.16.8.8:53", "[fd00:16::8]:53"} {
		require.Eventually(t, func() bool { return check(spec(a, "")).OK }, 10*time.Second, 200*time.Millisecond, a)
	}
	r := check(spec("10.16.8.8:53", "example.com"))
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "REFUSED")
	link.Cut()
	r = check(spec("10.16.8.8:53", ""))
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "no response within 1s")
}
