package director_test

import (
	"encoding/json"
	"testing"

	"github.com/lvsctl/lvsctl/director"
)

// FuzzParseRealQuery feeds operator input (`director drain VS RS`, and the
// control socket's JSON, which carries keys as these strings) to
// ParseRealQuery and ParseServiceKey: never a panic, and what parses
// prints and parses back to the same identity.
func FuzzParseRealQuery(f *testing.F) {
	for _, s := range [][2]string{
		{"10.16.8.100:80", "10.16.8.8:80"},
		{"TCP 10.16.8.100:80", "10.16.8.8"},
		{"udp [2001:db8::1]:53", "[2001:db8::8]:53"},
		{"FWM 5", "10.16.8.8:80"},
		{"fwmark 0x10", " 10.16.8.8 "},
		{"sctp 10.0.0.1:0", "::ffff:10.0.0.1"},
		{"TCP [fe80::1%eth0]:80", "[fe80::2%eth0]:80"},
		{"FWM 0", ""},
		{"", ":"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, vs, rs string) {
		if k, err := director.ParseServiceKey(vs); err == nil && k.FWMark == 0 {
			back, err := director.ParseServiceKey(k.String())
			if err != nil || back != k {
				t.Fatalf("%q -> %v -> %q -> %v, %v", vs, k, k.String(), back, err)
			}
		}
		q, err := director.ParseRealQuery(vs, rs)
		if err != nil {
			return
		}
		if !q.Service.Addr.IsValid() && q.Service.FWMark == 0 {
			t.Fatalf("%q parsed without address or fwmark: %+v", vs, q)
		}
		if q.Service.Addr.Zone() != "" || q.Real.Addr.Zone() != "" {
			t.Fatalf("zoned address accepted: %+v", q)
		}
		if !q.Real.Addr.IsValid() {
			t.Fatalf("%q parsed without a real server address: %+v", rs, q)
		}
		// The control socket carries the query as JSON.
		b, err := json.Marshal(q)
		if err != nil {
			t.Fatalf("query %+v does not encode: %v", q, err)
		}
		var back director.RealQuery
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("query %s does not decode: %v", b, err)
		}
		if back != q {
			t.Fatalf("JSON round trip changed the query: %+v vs %+v (%s)", q, back, b)
		}
	})
}
