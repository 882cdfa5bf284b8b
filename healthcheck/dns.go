package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/miekg/dns"
)

// DNSSpec is the DNS_CHECK part of a Spec (keepalived 2.2.7
// check/check_dns.c).
type DNSSpec struct {
	// Type is the query type (keepalived's default SOA).
	Type uint16
	// Name is the queried name ("" or ".": the root, keepalived's default).
	Name string
}

// dnsBuffer is the largest reply keepalived reads (DNS_BUFFER_SIZE).
const dnsBuffer = 768

// probeDNS sends one recursive query over UDP and passes when a response
// with the query's ID comes back with rcode NOERROR within
// connect_timeout, whatever its answers: keepalived's dns_make_query and
// dns_recv_thread. Datagrams too short for a header, with another ID or
// that are not responses are skipped, as keepalived does.
func probeDNS(ctx context.Context, s *Spec) Result {
	ctx, cancel := context.WithTimeout(ctx, s.ConnectTimeout)
	defer cancel()
	conn, release, err := dialUDP(ctx, s, net.Dialer{})
	if err != nil {
		return fail(s, "", "%v", err)
	}
	defer release()

	q := new(dns.Msg)
	q.Id = dns.Id()
	q.RecursionDesired = true
	q.Question = []dns.Question{{Name: dnsName(s.DNS.Name), Qtype: s.DNS.Type, Qclass: dns.ClassINET}}
	b, err := q.Pack()
	if err != nil {
		return fail(s, "", "build query: %v", err)
	}
	if _, err := conn.Write(b); err != nil {
		return fail(s, "", "send: %v", err)
	}
	buf := make([]byte, dnsBuffer)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) || ctx.Err() != nil {
				return fail(s, "", "no response within %s", s.ConnectTimeout)
			}
			return fail(s, "", "%v", err)
		}
		var h dns.Msg
		if n < 12 || h.Unpack(buf[:n]) != nil && !headerOnly(buf[:n], &h) {
			continue
		}
		if h.Id != q.Id || !h.Response {
			continue
		}
		if h.Rcode != dns.RcodeSuccess {
			return fail(s, "", "rcode %s", rcodeName(h.Rcode))
		}
		return pass(s, "")
	}
}

// headerOnly reads just the header of a reply whose body does not parse
// (keepalived looks at nothing else either).
func headerOnly(b []byte, m *dns.Msg) bool {
	if len(b) < 12 {
		return false
	}
	m.Id = uint16(b[0])<<8 | uint16(b[1])
	m.Response = b[2]&0x80 != 0
	m.Rcode = int(b[3] & 0x0f)
	return true
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return fmt.Sprintf("%d (%s)", rc, s)
	}
	return fmt.Sprint(rc)
}

// dnsName is the name as sent: "" and "." are the root; others are made
// fully qualified, as keepalived sends the labels followed by the root.
func dnsName(n string) string {
	if n == "" || n == "." {
		return "."
	}
	return dns.Fqdn(n)
}
