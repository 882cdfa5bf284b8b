package config

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchConf is the keepalived.conf of the director comparison bench
// (bench/directorvm): nsvc TCP/DR/wrr virtual servers × nrs real servers,
// no checkers — about 330 KB for 1,000 × 10.
func benchConf(nsvc, nrs int) []byte {
	var b strings.Builder
	b.WriteString("global_defs {\n    router_id bench\n}\n\n")
	for i := range nsvc {
		vip := netip.AddrFrom4([4]byte{10, 100, byte(i / 250), byte(i%250 + 1)})
		fmt.Fprintf(&b, "virtual_server %s 80 {\n    delay_loop 60\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP\n\n", vip)
		for j := range nrs {
			fmt.Fprintf(&b, "    real_server 10.200.0.%d 80 {\n        weight 1\n    }\n", j+1)
		}
		b.WriteString("}\n\n")
	}
	return []byte(b.String())
}

func writeBenchConf(b *testing.B) string {
	b.Helper()
	file := filepath.Join(b.TempDir(), "keepalived.conf")
	if err := os.WriteFile(file, benchConf(1000, 10), 0o644); err != nil {
		b.Fatal(err)
	}
	return file
}

// BenchmarkLoad1000x10 is `lvsctl config check` on the comparison file:
// read, lex, parse, decode and validate.
func BenchmarkLoad1000x10(b *testing.B) {
	file := writeBenchConf(b)
	b.ReportAllocs()
	for b.Loop() {
		cfg, _, err := LoadWith(file, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(cfg.VirtualServers) != 1000 {
			b.Fatal("wrong count")
		}
	}
}

// BenchmarkConvert1000x10 is what the daemon does after loading: the
// director's configuration and the health-check servers.
func BenchmarkConvert1000x10(b *testing.B) {
	cfg, _, err := LoadWith(writeBenchConf(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		dc := cfg.Director()
		hs, err := HealthServers(cfg)
		if err != nil || len(dc.Services) != 1000 || len(hs) != 10000 {
			b.Fatal("conversion failed", err)
		}
	}
}

// BenchmarkLoadAndConvert1000x10 is the daemon's whole load on start and
// on every reload (daemon.LoadFile).
func BenchmarkLoadAndConvert1000x10(b *testing.B) {
	file := writeBenchConf(b)
	b.ReportAllocs()
	for b.Loop() {
		cfg, _, err := LoadWith(file, Options{})
		if err != nil {
			b.Fatal(err)
		}
		dc := cfg.Director()
		hs, err := HealthServers(cfg)
		if err != nil || len(dc.Services) != 1000 || len(hs) != 10000 {
			b.Fatal("conversion failed", err)
		}
		_ = cfg.VRRP()
	}
}

// Position.String is built without fmt for speed; its text must stay what
// fmt made of it.
func TestPositionTextAsFmt(t *testing.T) {
	for _, p := range []Position{{File: "/etc/keepalived/keepalived.conf", Line: 12, Col: 5}, {}, {File: "a:b", Line: 1, Col: 100000}} {
		if got, want := p.String(), fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col); got != want {
			t.Errorf("Position.String = %q, want %q", got, want)
		}
	}
}
