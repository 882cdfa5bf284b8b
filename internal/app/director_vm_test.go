//go:build vm

package app_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/ipvs"
	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/e2e/vm/guest"
	"github.com/lvsctl/lvsctl/internal/control"
)

// vmLab is the seed's LVS-DR network: a client, the director holding the
// VIPs 10.16.8.100 and .101, and two real servers with the VIPs on lo and
// the ARP sysctls of rs.sh, all on one switch.
type vmLab struct {
	t          *testing.T
	l          *lab.Lab
	client     *lab.Host
	dir        *lab.Host
	rs1, rs2   *lab.Host
	web1, web2 *lab.HTTPServer
	ipvs       *ipvs.Client
	sock       string
	conf       string
	proc       *lab.Process
	bin        string
	// port is the last source port requests used.
	port int
}

var vips = []string{"10.16.8.100", "10.16.8.101"}

func newVMLab(t *testing.T) *vmLab {
	t.Helper()
	guest.RequireIPVS(t)
	bin, err := exec.LookPath("lvsctl")
	require.NoError(t, err, "the lvsctl binary must be in the guest's PATH: run vmrun with -bin ./cmd/lvsctl")
	l := lab.New(t)
	v := &vmLab{t: t, l: l, bin: bin, client: l.Host("client"), dir: l.Host("director"), rs1: l.Host("rs1"), rs2: l.Host("rs2"), port: 20000}
	sw := l.Switch("lan")
	sw.Attach(v.client, "eth0", "10.16.8.2/24")
	sw.Attach(v.dir, "eth0", "10.16.8.10/24")
	for _, vip := range vips {
		v.dir.AddAddr("eth0", vip+"/32")
	}
	// Connection entries to a removed real server otherwise swallow new
	// SYNs from a reused client port until they time out (docs/director.md).
	v.dir.SetSysctl("net/ipv4/vs/expire_nodest_conn", "1")
	for i, rs := range []*lab.Host{v.rs1, v.rs2} {
		sw.Attach(rs, "eth0", fmt.Sprintf("10.16.8.%d/24", 8+i))
		realServer(rs)
	}
	v.web1 = v.rs1.ServeHTTP("0.0.0.0:80")
	v.web2 = v.rs2.ServeHTTP("0.0.0.0:80")
	c, err := ipvs.Open(v.dir.NSPath())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	v.ipvs = c
	dir := t.TempDir()
	v.sock = filepath.Join(dir, "director.sock")
	v.conf = filepath.Join(dir, "keepalived.conf")
	return v
}

// realServer does what rs.sh does: VIPs on lo, no ARP for them.
func realServer(h *lab.Host) {
	for _, k := range []string{"net/ipv4/conf/all/arp_ignore", "net/ipv4/conf/lo/arp_ignore"} {
		h.SetSysctl(k, "1")
	}
	for _, k := range []string{"net/ipv4/conf/all/arp_announce", "net/ipv4/conf/lo/arp_announce"} {
		h.SetSysctl(k, "2")
	}
	for _, vip := range vips {
		h.AddAddr("lo", vip+"/32")
	}
}

func (v *vmLab) writeConf(text string) {
	require.NoError(v.t, os.WriteFile(v.conf, []byte(text), 0o644))
}

func seedConf(t *testing.T) string {
	b, err := os.ReadFile("testdata/seed-lvs-dr.conf")
	require.NoError(t, err)
	return string(b)
}

// up starts `lvsctl director up` inside the director's namespace.
func (v *vmLab) up(extra ...string) {
	args := append([]string{"director", "up", "-f", v.conf, "--socket", v.sock, "--resync", "2s"}, extra...)
	v.proc = v.dir.Start(v.bin, args...)
}

func (v *vmLab) table() director.Table {
	t, err := director.Dump(context.Background(), v.ipvs, nil)
	require.NoError(v.t, err)
	return t
}

// dests lists "VIP -> RS weight" for the VIP's service.
func (v *vmLab) dests(vip string) []string {
	k, err := director.ParseServiceKey(vip + ":80")
	require.NoError(v.t, err)
	s := v.table()[k]
	if s == nil {
		return nil
	}
	var out []string
	for _, d := range s.Dests {
		out = append(out, fmt.Sprintf("%s w%d", d.Key(), d.Weight))
	}
	sort.Strings(out)
	return out
}

// waitFor polls cond until it holds or timeout passes.
func (v *vmLab) waitFor(timeout time.Duration, what string, cond func() bool) {
	v.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			out := ""
			if v.proc != nil {
				out = v.proc.Output()
			}
			v.t.Fatalf("timed out after %s waiting for %s\ndirector output:\n%s", timeout, what, out)
		}
		if v.proc != nil && v.proc.Exited() {
			v.t.Fatalf("director exited while waiting for %s:\n%s", what, v.proc.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (v *vmLab) waitDests(vip string, timeout time.Duration, want ...string) {
	v.t.Helper()
	v.waitFor(timeout, fmt.Sprintf("%s to have %v", vip, want), func() bool {
		got := v.dests(vip)
		return strings.Join(got, ",") == strings.Join(want, ",")
	})
}

// requests makes n requests to vip from the client, each on a new
// connection, and returns who answered (errors as "error: ...").
// requests sends n requests to vip, each on a new connection from a source
// port never used before in this lab (from 20000 up, below the ephemeral
// range): in DR mode the director sees only the client's half of a
// connection, so an entry of an earlier connection with the same source
// port stays in FIN_WAIT and IPVS sends the new one to the old real server
// instead of scheduling it (conn_reuse_mode 1 reschedules TIME_WAIT only),
// which made the rr counts 8/12 once.
func (v *vmLab) requests(vip string, n int) []string {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			v.port++
			var conn net.Conn
			err := v.client.Do(func() error {
				d := net.Dialer{LocalAddr: &net.TCPAddr{Port: v.port}}
				var err error
				conn, err = d.DialContext(ctx, network, addr)
				return err
			})
			return conn, err
		},
	}}
	var out []string
	for i := range n {
		start := time.Now()
		resp, err := hc.Get("http://" + vip + "/")
		if d := time.Since(start); d > 500*time.Millisecond {
			v.t.Logf("request %d to %s took %s (err %v)", i, vip, d, err)
		}
		if err != nil {
			out = append(out, "error: "+err.Error())
			continue
		}
		b := make([]byte, 64)
		k, _ := resp.Body.Read(b)
		resp.Body.Close()
		out = append(out, strings.TrimSpace(string(b[:k])))
	}
	return out
}

func count(xs []string) map[string]int {
	m := map[string]int{}
	for _, x := range xs {
		m[x]++
	}
	return m
}

func alternates(t *testing.T, answers []string) {
	t.Helper()
	for i := 1; i < len(answers); i++ {
		require.NotEqual(t, answers[i-1], answers[i], "rr must alternate: %v", answers)
	}
}

func TestVMSeedLVSDR(t *testing.T) {
	v := newVMLab(t)
	v.writeConf(seedConf(t))
	v.up()
	for _, vip := range vips {
		v.waitDests(vip, 10*time.Second, "10.16.8.8:80 w1", "10.16.8.9:80 w1")
	}

	// rr: 20 requests per VIP, answered alternately, 10 each.
	for _, vip := range vips {
		got := v.requests(vip, 20)
		assert.Equal(t, map[string]int{"rs1": 10, "rs2": 10}, count(got), vip)
		alternates(t, got)
	}

	// rs1's web server dies: the checks (delay_loop 3, 3 retries 1s
	// apart) take it out of both services, then everything goes to rs2.
	require.NoError(t, v.web1.Stop())
	stopped := time.Now()
	for _, vip := range vips {
		v.waitDests(vip, 20*time.Second, "10.16.8.9:80 w1")
	}
	t.Logf("rs1 left the table %s after its web server stopped", time.Since(stopped).Round(100*time.Millisecond))
	for _, vip := range vips {
		assert.Equal(t, map[string]int{"rs2": 20}, count(v.requests(vip, 20)), vip)
	}

	// It comes back.
	require.NoError(t, v.web1.Start())
	for _, vip := range vips {
		v.waitDests(vip, 20*time.Second, "10.16.8.8:80 w1", "10.16.8.9:80 w1")
	}
	for _, vip := range vips {
		assert.Equal(t, map[string]int{"rs1": 10, "rs2": 10}, count(v.requests(vip, 20)), vip)
	}

	// Status over the socket knows what happened.
	resp, err := control.Call(context.Background(), v.sock, control.Request{Op: control.OpStatus})
	require.NoError(t, err)
	require.True(t, resp.OK, resp.Errors)
	require.Len(t, resp.Status.Services, 2)
	for _, r := range resp.Status.Services[0].Reals {
		assert.Equal(t, "up", r.Health)
		require.NotNil(t, r.KernelWeight)
		assert.Equal(t, 1, *r.KernelWeight)
	}

	// SIGTERM: clean stop, exit 0, services removed.
	require.NoError(t, v.proc.Stop(10*time.Second))
	assert.Empty(t, v.table())
}

func TestVMDriftIsHealed(t *testing.T) {
	v := newVMLab(t)
	v.writeConf(seedConf(t))
	v.up()
	v.waitDests("10.16.8.100", 10*time.Second, "10.16.8.8:80 w1", "10.16.8.9:80 w1")
	k, err := director.ParseServiceKey("10.16.8.100:80")
	require.NoError(t, err)
	ctx := context.Background()
	rs1 := director.DestKey{Addr: netip.MustParseAddr("10.16.8.8"), Port: 80}
	require.NoError(t, v.ipvs.DelDestination(ctx, k, rs1))
	require.NoError(t, v.ipvs.UpdateDestination(ctx, k, director.Destination{Addr: netip.MustParseAddr("10.16.8.9"), Port: 80,
		Weight: 7, Forward: director.DirectRoute}))
	deleted := time.Now()
	v.waitDests("10.16.8.100", 10*time.Second, "10.16.8.8:80 w1", "10.16.8.9:80 w1")
	t.Logf("drift repaired %s after the change (resync 2s)", time.Since(deleted).Round(100*time.Millisecond))
	// The repair is in the kernel before its log line has reached the
	// captured output: wait for the line too.
	assert.Eventually(t, func() bool { return strings.Contains(v.proc.Output(), "behind lvsctl's back") },
		5*time.Second, 20*time.Millisecond, "the drift was not logged")
}

func TestVMQuorumSorryServer(t *testing.T) {
	v := newVMLab(t)
	sorry := v.l.Host("sorry")
	v.l.Switch("lan").Attach(sorry, "eth0", "10.16.8.50/24")
	realServer(sorry)
	sorry.ServeHTTP("0.0.0.0:80")
	v.writeConf(`virtual_server 10.16.8.100 80 {
    delay_loop 1
    lb_algo rr
    lb_kind DR
    protocol TCP
    quorum 2
    sorry_server 10.16.8.50 80
    real_server 10.16.8.8 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
    real_server 10.16.8.9 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
}
`)
	v.up()
	v.waitDests("10.16.8.100", 10*time.Second, "10.16.8.8:80 w1", "10.16.8.9:80 w1")
	require.NoError(t, v.web1.Stop())
	// 1 < quorum 2: the sorry server replaces everyone.
	v.waitDests("10.16.8.100", 20*time.Second, "10.16.8.50:80 w1")
	assert.Equal(t, map[string]int{"sorry": 6}, count(v.requests("10.16.8.100", 6)))
	require.NoError(t, v.web1.Start())
	v.waitDests("10.16.8.100", 20*time.Second, "10.16.8.8:80 w1", "10.16.8.9:80 w1")
	assert.Equal(t, map[string]int{"rs1": 3, "rs2": 3}, count(v.requests("10.16.8.100", 6)))
}

// A long-lived connection through the VIP survives a reload, a bad reload
// and a kill -9 + restart of the director (which adopts the table).
func TestVMLongConnectionSurvivesReloadAndRestart(t *testing.T) {
	v := newVMLab(t)
	v.writeConf(seedConf(t))
	v.up()
	v.waitDests("10.16.8.100", 10*time.Second, "10.16.8.8:80 w1", "10.16.8.9:80 w1")

	ctx := context.Background()
	conn, err := v.client.DialContext(ctx, "tcp", "10.16.8.100:80")
	require.NoError(t, err)
	defer conn.Close()
	br := bufio.NewReader(conn)
	first := ask(t, conn, br)

	// A reload with a change elsewhere (the other VIP's scheduler).
	v.writeConf(strings.Replace(seedConf(t), "lb_algo rr", "lb_algo wrr", 1))
	require.NoError(t, v.proc.Signal(syscall.SIGHUP))
	v.waitFor(10*time.Second, "the reload", func() bool { return strings.Contains(v.proc.Output(), "reload done") })
	assert.Equal(t, first, ask(t, conn, br), "same connection, same real server")

	// A bad reload: the old config keeps running, the error has its position.
	v.writeConf(strings.Replace(seedConf(t), "lb_algo rr", "lb_algo fastest", 1))
	out, err := v.client.Run(v.bin, "director", "reload", "--socket", v.sock)
	require.Error(t, err)
	assert.Regexp(t, `keepalived\.conf:\d+:\d+: `, out)
	assert.Equal(t, first, ask(t, conn, br))

	// kill -9 and start again: the entries are adopted, nothing changes.
	v.writeConf(strings.Replace(seedConf(t), "lb_algo rr", "lb_algo wrr", 1))
	_ = v.proc.Kill() // reports "signal: killed"
	require.True(t, v.proc.Exited())
	before := v.table()
	v.up()
	v.waitFor(10*time.Second, "the restarted director", func() bool {
		return strings.Contains(v.proc.Output(), "director running")
	})
	assert.Contains(t, v.proc.Output(), "ops=0", "a restart on a correct table makes no edit")
	assert.Equal(t, len(before), len(v.table()))
	assert.Equal(t, first, ask(t, conn, br))
}

func ask(t *testing.T, conn net.Conn, br *bufio.Reader) string {
	t.Helper()
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	_, err := fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: vip\r\n\r\n")
	require.NoError(t, err)
	length := -1
	for {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if strings.HasPrefix(strings.ToLower(line), "content-length:") {
			_, _ = fmt.Sscanf(strings.TrimSpace(line[len("content-length:"):]), "%d", &length)
		}
	}
	require.Positive(t, length)
	b := make([]byte, length)
	_, err = io.ReadFull(br, b)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

// wrr and lc behave as the kernel defines them, programmed from the config.
func TestVMWrrAndLc(t *testing.T) {
	v := newVMLab(t)
	v.writeConf(strings.Replace(strings.Replace(seedConf(t), "lb_algo rr", "lb_algo wrr", 1),
		"real_server 10.16.8.8 80 {\n        weight 1", "real_server 10.16.8.8 80 {\n        weight 3", 1))
	v.up()
	v.waitDests("10.16.8.100", 10*time.Second, "10.16.8.8:80 w3", "10.16.8.9:80 w1")
	assert.Equal(t, map[string]int{"rs1": 30, "rs2": 10}, count(v.requests("10.16.8.100", 40)))

	// lc: a held-open connection makes its server the busier one, so new
	// connections go to the other. The other VIP is used: its connection
	// table is empty, so no earlier connection is reused by port.
	v.writeConf(strings.ReplaceAll(seedConf(t), "lb_algo rr", "lb_algo lc"))
	out, err := v.dir.Run(v.bin, "director", "reload", "--socket", v.sock)
	require.NoError(t, err, out)
	v.waitFor(10*time.Second, "lc scheduler", func() bool {
		k, _ := director.ParseServiceKey("10.16.8.101:80")
		s := v.table()[k]
		return s != nil && s.Service.Scheduler == "lc"
	})
	conn, err := v.client.DialContext(context.Background(), "tcp", "10.16.8.101:80")
	require.NoError(t, err)
	defer conn.Close()
	held := ask(t, conn, bufio.NewReader(conn))
	other := map[string]string{"rs1": "rs2", "rs2": "rs1"}[held]
	// IPVS sees a DR connection close only when the client's FIN arrives,
	// which can be after the HTTP client returned: wait for that, or the
	// just-finished connection still counts as active and ties lc.
	active := func() uint32 {
		k, _ := director.ParseServiceKey("10.16.8.101:80")
		var n uint32
		for _, d := range v.table()[k].Dests {
			n += d.ActiveConns
		}
		return n
	}
	var got []string
	for range 10 {
		got = append(got, v.requests("10.16.8.101", 1)...)
		v.waitFor(5*time.Second, "the request's connection to close", func() bool { return active() == 1 })
	}
	assert.Equal(t, map[string]int{other: 10}, count(got))
}

// IPv6 LVS-DR end to end: VIP on the director's eth0, on the real servers'
// lo (Linux answers neighbour solicitations only for addresses of the
// receiving interface, so no arp_ignore equivalent is needed).
func TestVMIPv6DirectRouting(t *testing.T) {
	v := newVMLab(t)
	v.client.AddAddr("eth0", "2001:db8:8::2/64")
	v.dir.AddAddr("eth0", "2001:db8:8::10/64")
	// Linux prefers the /128 VIP as the source towards the real servers
	// (longest matching prefix, capped by each address's prefix length), and
	// a real server answers the VIP on its own lo: checks must bind to the
	// director's address, as with keepalived (docs/director.md).
	v.dir.AddAddr("eth0", "2001:db8:8::100/128")
	v.rs1.AddAddr("eth0", "2001:db8:8::8/64")
	v.rs2.AddAddr("eth0", "2001:db8:8::9/64")
	v.rs1.AddAddr("lo", "2001:db8:8::100/128")
	v.rs2.AddAddr("lo", "2001:db8:8::100/128")
	v.writeConf(`virtual_server 2001:db8:8::100 80 {
    delay_loop 1
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 2001:db8:8::8 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            bindto 2001:db8:8::10
        }
    }
    real_server 2001:db8:8::9 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            bindto 2001:db8:8::10
        }
    }
}
`)
	v.up()
	k, err := director.ParseServiceKey("[2001:db8:8::100]:80")
	require.NoError(t, err)
	v.waitFor(10*time.Second, "the IPv6 service", func() bool {
		s := v.table()[k]
		return s != nil && len(s.Dests) == 2
	})
	s := v.table()[k]
	assert.Equal(t, uint32(128), s.Service.Netmask, "IPv6 netmask 128, as ipvsadm")
	got := v.requests("[2001:db8:8::100]", 10)
	assert.Equal(t, map[string]int{"rs1": 5, "rs2": 5}, count(got))
	alternates(t, got)
}
