package healthcheck

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dnsServer answers on loopback with answer(query) (nil: silence), after
// first sending a response with another ID when decoy is set.
func dnsServer(t *testing.T, decoy bool, answer func(q *dns.Msg) *dns.Msg) (netip.AddrPort, <-chan *dns.Msg) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	got := make(chan *dns.Msg, 16)
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil {
				continue
			}
			got <- q
			if decoy {
				d := new(dns.Msg).SetReply(q)
				d.Id = q.Id + 1
				d.Rcode = dns.RcodeServerFailure
				b, _ := d.Pack()
				_, _ = pc.WriteTo(b, from)
			}
			if r := answer(q); r != nil {
				b, _ := r.Pack()
				_, _ = pc.WriteTo(b, from)
			}
		}
	}()
	return netip.MustParseAddrPort(pc.LocalAddr().String()), got
}

func dnsSpec(addr netip.AddrPort, typ uint16, name string) *Spec {
	return &Spec{Kind: DNSCheck, Addr: addr, ConnectTimeout: 300 * time.Millisecond, DelayLoop: time.Second,
		DNS: &DNSSpec{Type: typ, Name: name}}
}

// TestDNSCheck follows keepalived's DNS_CHECK: a recursive query of the
// configured type and name (default SOA of the root); NOERROR passes
// whatever the answer, another rcode fails, replies with another ID are
// skipped, silence fails at connect_timeout.
func TestDNSCheck(t *testing.T) {
	ctx := context.Background()
	ok, got := dnsServer(t, true, func(q *dns.Msg) *dns.Msg { return new(dns.Msg).SetReply(q) })
	s := dnsSpec(ok, dns.TypeSOA, "")
	require.NoError(t, s.Validate())
	r := probeDNS(ctx, s)
	assert.True(t, r.OK, r.Reason)
	q := <-got
	assert.True(t, q.RecursionDesired)
	require.Len(t, q.Question, 1)
	assert.Equal(t, dns.Question{Name: ".", Qtype: dns.TypeSOA, Qclass: dns.ClassINET}, q.Question[0])

	r = probeDNS(ctx, dnsSpec(ok, dns.TypeA, "www.example.com"))
	assert.True(t, r.OK, r.Reason)
	assert.Equal(t, "www.example.com.", (<-got).Question[0].Name)

	nx, _ := dnsServer(t, false, func(q *dns.Msg) *dns.Msg {
		return new(dns.Msg).SetRcode(q, dns.RcodeNameError)
	})
	r = probeDNS(ctx, dnsSpec(nx, dns.TypeA, "nope.example."))
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "rcode 3 (NXDOMAIN)")

	silent, _ := dnsServer(t, false, func(*dns.Msg) *dns.Msg { return nil })
	r = probeDNS(ctx, dnsSpec(silent, dns.TypeSOA, ""))
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "no response within 300ms")
}
