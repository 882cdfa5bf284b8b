//go:build vm

package demo_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsctl/lvsctl/director/ipvs"
	"github.com/lvsctl/lvsctl/e2e/lab"
)

// conf is the seed article's LVS-DR virtual_server, as written there.
const conf = `virtual_server 10.16.8.100 80 {
    delay_loop 3
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.16.8.8 80 {
        weight 1
        HTTP_GET {
            url {
              path /
              status_code 200
            }
            connect_timeout 1
            retry 3
            delay_before_retry 1
        }
    }
    real_server 10.16.8.9 80 {
        weight 1
        HTTP_GET {
            url {
              path /
              status_code 200
            }
            connect_timeout 1
            retry 3
            delay_before_retry 1
        }
    }
}
`

const vip = "10.16.8.100"

type demo struct {
	t   *testing.T
	out io.Writer
	bin string
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "\n\033[1m==> "+format+"\033[0m\n", args...)
}

func (d *demo) show(h *lab.Host, args ...string) string {
	d.t.Helper()
	fmt.Fprintf(d.out, "%s# lvsctl %s\n", h.Name(), strings.Join(args, " "))
	out, err := h.Run(d.bin, args...)
	fmt.Fprint(d.out, out)
	if err != nil {
		d.t.Fatalf("lvsctl %s on %s: %v", strings.Join(args, " "), h.Name(), err)
	}
	return out
}

func (d *demo) requests(client *lab.Host, n int) map[string]int {
	d.t.Helper()
	hc := client.HTTPClient(5 * time.Second)
	seen := map[string]int{}
	var line []string
	for i := range n {
		resp, err := hc.Get("http://" + vip + "/")
		if err != nil {
			d.t.Fatalf("request %d: %v", i+1, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		who := strings.TrimSpace(string(b))
		seen[who]++
		line = append(line, who)
	}
	fmt.Fprintf(d.out, "client# 20 × curl http://%s/\n%s\n", vip, strings.Join(line, " "))
	fmt.Fprintf(d.out, "answered: rs1 %d, rs2 %d\n", seen["rs1"], seen["rs2"])
	return seen
}

func (d *demo) waitTable(dir *lab.Host, what string, cond func(table string) bool) {
	d.t.Helper()
	start := time.Now()
	for {
		out, err := dir.Run(d.bin, "director", "ipvs")
		if err == nil && cond(out) {
			fmt.Fprintf(d.out, "(%s after %s)\n", what, time.Since(start).Round(100*time.Millisecond))
			return
		}
		if time.Since(start) > 30*time.Second {
			d.t.Fatalf("timed out waiting for %s; table:\n%s", what, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestDemo(t *testing.T) {
	// The demo runs wherever the kernel has IPVS: in the test VM, or
	// directly on a host whose kernel has it.
	if err := ipvs.CheckFamily(""); err != nil {
		t.Fatalf("%v\nrun the demo in the test VM: go run ./e2e/vm/cmd/vmrun -v -bin ./cmd/lvsctl -run TestDemo ./e2e/demo", err)
	}
	bin := os.Getenv("LVSCTL_BIN")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("lvsctl"); err != nil {
			t.Fatalf("lvsctl must be in PATH (vmrun -bin ./cmd/lvsctl) or named by LVSCTL_BIN: %v", err)
		}
	}
	d := &demo{t: t, out: os.Stdout, bin: bin}
	tmp := t.TempDir()

	d.say("Building the lab: client 10.16.8.2, director 10.16.8.10 (VIP %s), rs1 10.16.8.8, rs2 10.16.8.9", vip)
	l := lab.New(t)
	sw := l.Switch("lan")
	client, dir, rs1, rs2 := l.Host("client"), l.Host("director"), l.Host("rs1"), l.Host("rs2")
	sw.Attach(client, "eth0", "10.16.8.2/24")
	sw.Attach(dir, "eth0", "10.16.8.10/24", vip+"/32")
	sw.Attach(rs1, "eth0", "10.16.8.8/24")
	sw.Attach(rs2, "eth0", "10.16.8.9/24")
	// Recommended on every director (docs/director.md): without it, a
	// client port reused while its old connection entry still points at a
	// removed real server is dropped until that entry times out.
	dir.SetSysctl("net/ipv4/vs/expire_nodest_conn", "1")
	web1 := rs1.ServeHTTP("0.0.0.0:80")
	rs2.ServeHTTP("0.0.0.0:80")

	d.say("Real servers: lvsctl rs start (VIP on lo, ARP sysctls; replaces rs.sh)")
	for _, rs := range []*lab.Host{rs1, rs2} {
		d.show(rs, "rs", "start", "--vip", vip, "--iface", "eth0", "--state-dir", filepath.Join(tmp, rs.Name()))
	}

	d.say("Director: lvsctl director up -f keepalived.conf")
	cfg := filepath.Join(tmp, "keepalived.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(d.out, conf)
	sock := filepath.Join(tmp, "director.sock")
	daemon := dir.Start(bin, "director", "up", "-f", cfg, "--socket", sock)
	d.waitTable(dir, "both real servers in the table", func(s string) bool {
		return strings.Contains(s, "10.16.8.8:80") && strings.Contains(s, "10.16.8.9:80")
	})

	d.say("The IPVS table")
	d.show(dir, "director", "ipvs")

	d.say("20 requests from the client: rr answers alternately")
	if got := d.requests(client, 20); got["rs1"] != 10 || got["rs2"] != 10 {
		t.Fatalf("rr split %v, want 10/10", got)
	}

	d.say("rs1's web server stops: its HTTP_GET check fails and lvsctl takes it out")
	if err := web1.Stop(); err != nil {
		t.Fatal(err)
	}
	d.waitTable(dir, "rs1 gone from the table", func(s string) bool { return !strings.Contains(s, "10.16.8.8:80") })
	d.show(dir, "director", "ipvs")
	d.show(dir, "director", "status", "--socket", sock)

	d.say("20 requests: all answered by rs2")
	if got := d.requests(client, 20); got["rs2"] != 20 {
		t.Fatalf("answers %v, want all from rs2", got)
	}

	d.say("rs1 comes back: the check passes and lvsctl adds it again")
	if err := web1.Start(); err != nil {
		t.Fatal(err)
	}
	d.waitTable(dir, "rs1 back in the table", func(s string) bool { return strings.Contains(s, "10.16.8.8:80") })
	d.show(dir, "director", "ipvs")
	if got := d.requests(client, 20); got["rs1"] != 10 || got["rs2"] != 10 {
		t.Fatalf("rr split %v, want 10/10", got)
	}

	d.say("Stopping the director (SIGTERM): it removes its services")
	if err := daemon.Stop(10 * time.Second); err != nil {
		t.Fatalf("director did not stop cleanly: %v\n%s", err, daemon.Output())
	}
	d.show(dir, "director", "ipvs")
	d.say("Demo done.")
}
