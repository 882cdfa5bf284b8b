//go:build vm

package e2e_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/e2e/vm/guest"
	"github.com/lvsctl/lvsctl/internal/control"
)

// clusterConf is the seed's LVS-DR director file in its master/backup
// form: one vrrp_instance for the VIP (ka67 MASTER 100, ka68 BACKUP 95)
// and the seed's virtual_server with HTTP_GET checks. %s/%d are the state
// and priority.
const clusterConf = `global_defs {
   notification_email {
     root@localhost
   }
   notification_email_from ka@localhost
   smtp_server 127.0.0.1
   smtp_connect_timeout 60
   vrrp_mcast_group4 224.0.0.111
}
vrrp_instance VI_1 {
    state %s
    interface eth1
    virtual_router_id 191
    priority %d
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass renwole0
    }
    virtual_ipaddress {
        10.16.8.100
    }
}
virtual_server 10.16.8.100 80 {
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
            nb_get_retry 3
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
            nb_get_retry 3
            delay_before_retry 1
        }
    }
}
`

// haDirector is one `lvsctl director up` of the HA cluster.
type haDirector struct {
	host *lab.Host
	conf string
	sock string
	proc *lab.Process
}

func (d *haDirector) start(t *testing.T, bin string) {
	t.Helper()
	d.proc = d.host.Start(bin, "director", "up", "-f", d.conf, "--socket", d.sock)
}

func (d *haDirector) status(t *testing.T) control.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := control.Call(ctx, d.sock, control.Request{Op: control.OpStatus})
	require.NoError(t, err, "status of %s:\n%s", d.host.Name(), d.proc.Output())
	require.True(t, resp.OK, resp.Errors)
	return *resp.Status
}

// ready: both real servers in the kernel table, and the VRRP state.
func (d *haDirector) ready(t *testing.T) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := control.Call(ctx, d.sock, control.Request{Op: control.OpStatus})
	if err != nil || !resp.OK || len(resp.Status.Services) != 1 || len(resp.Status.VRRP) != 1 {
		return false, ""
	}
	for _, r := range resp.Status.Services[0].Reals {
		if r.KernelWeight == nil || *r.KernelWeight != 1 {
			return false, ""
		}
	}
	return true, resp.Status.VRRP[0].State
}

func hasVIP(h *lab.Host) bool {
	for _, a := range h.Addrs("eth1") {
		if strings.HasPrefix(a, vip+"/") {
			return true
		}
	}
	return false
}

// answer is one client request to the VIP.
type answer struct {
	at  time.Time
	who string
	err error
}

// requester sends requests to the VIP one after the other, each on a new
// connection, until stopped.
type requester struct {
	mu      sync.Mutex
	answers []answer
	cancel  context.CancelFunc
	done    chan struct{}
}

func startRequester(client *lab.Host) *requester {
	ctx, cancel := context.WithCancel(context.Background())
	r := &requester{cancel: cancel, done: make(chan struct{})}
	// Generous: under TCG on a busy host one request can take seconds; a
	// lost SYN is retransmitted after 1 s.
	hc := client.HTTPClient(5 * time.Second)
	go func() {
		defer close(r.done)
		for ctx.Err() == nil {
			a := answer{at: time.Now()}
			resp, err := hc.Get("http://" + vip + "/")
			if err == nil {
				b, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				a.who, err = strings.TrimSpace(string(b)), rerr
			}
			a.err = err
			r.mu.Lock()
			r.answers = append(r.answers, a)
			r.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return r
}

func (r *requester) since(from time.Time) []answer {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []answer
	for _, a := range r.answers {
		if !a.at.Before(from) {
			out = append(out, a)
		}
	}
	return out
}

func (r *requester) stop() {
	r.cancel()
	<-r.done
}

// tally counts answers per real server and the failures.
func tally(as []answer) (map[string]int, []string) {
	who := map[string]int{}
	var fails []string
	for _, a := range as {
		if a.err != nil {
			fails = append(fails, fmt.Sprintf("%s: %v", a.at.Format("15:04:05.000"), a.err))
			continue
		}
		who[a.who]++
	}
	return who, fails
}

// maxHandoverFailures bounds the requests lost when the VIP moves: a
// request whose connection is half-way through the old director when the
// client's ARP entry switches is reset by the new one (it has no IPVS
// connection entry for it). New connections never fail.
const maxHandoverFailures = 2

// The seed's whole LVS-DR HA cluster, keepalived replaced by lvsctl: a
// client, two directors (VRRP + IPVS in `lvsctl director up`), two real
// servers (`lvsctl rs start`) on one switch. Traffic is split by rr, the
// VIP moves to the backup on SIGTERM of the master with the requests going
// on, and the master preempts when it comes back.
func TestVMClusterHA(t *testing.T) {
	guest.RequireIPVS(t)
	bin, err := exec.LookPath("lvsctl")
	require.NoError(t, err, "the lvsctl binary must be in the guest's PATH: run vmrun with -bin ./cmd/lvsctl")
	testStart := time.Now()
	l := lab.New(t)
	sw := l.Switch("lan")
	client := l.Host("client")
	sw.Attach(client, "eth0", "10.16.8.2/24")
	dir := t.TempDir()
	d1 := &haDirector{host: l.Host("ka67"), conf: filepath.Join(dir, "ka67.conf"), sock: filepath.Join(dir, "ka67.sock")}
	d2 := &haDirector{host: l.Host("ka68"), conf: filepath.Join(dir, "ka68.conf"), sock: filepath.Join(dir, "ka68.sock")}
	for i, d := range []*haDirector{d1, d2} {
		sw.Attach(d.host, "eth1", fmt.Sprintf("10.16.8.%d/24", 10+i))
		// Connection entries to a removed real server otherwise swallow new
		// SYNs from a reused client port until they time out (docs/director.md).
		d.host.SetSysctl("net/ipv4/vs/expire_nodest_conn", "1")
	}
	require.NoError(t, os.WriteFile(d1.conf, fmt.Appendf(nil, clusterConf, "MASTER", 100), 0o644))
	require.NoError(t, os.WriteFile(d2.conf, fmt.Appendf(nil, clusterConf, "BACKUP", 95), 0o644))
	for i, name := range []string{"rs1", "rs2"} {
		rs := l.Host(name)
		sw.Attach(rs, "eth0", fmt.Sprintf("10.16.8.%d/24", 8+i))
		out, err := rs.Run(bin, "rs", "start", "--vip", vip, "--state-dir", filepath.Join(dir, name))
		require.NoError(t, err, "lvsctl rs start on %s: %s", name, out)
		rs.ServeHTTP("0.0.0.0:80")
	}

	waitFor := func(timeout time.Duration, what string, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > timeout {
				t.Fatalf("timed out after %s waiting for %s\nka67:\n%s\nka68:\n%s", timeout, what,
					d1.proc.Output(), d2.proc.Output())
			}
			for _, d := range []*haDirector{d1, d2} {
				if d.proc.Exited() {
					t.Fatalf("%s exited while waiting for %s:\n%s", d.host.Name(), what, d.proc.Output())
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		return time.Since(start)
	}
	state := func(d *haDirector, want string) func() bool {
		return func() bool { ok, st := d.ready(t); return ok && st == want }
	}

	// Start-up: both program IPVS; VRRP elects ka67 (3 × 1 s + skew).
	d1.start(t, bin)
	d2.start(t, bin)
	took := waitFor(30*time.Second, "ka67 MASTER with the VIP, ka68 BACKUP", func() bool {
		return state(d1, "MASTER")() && state(d2, "BACKUP")() && hasVIP(d1.host) && !hasVIP(d2.host)
	})
	t.Logf("cluster up after %s", took.Round(100*time.Millisecond))
	st := d1.status(t).VRRP[0]
	assert.Equal(t, uint8(100), st.EffectivePriority)
	assert.Equal(t, "10.16.8.10", st.Master)
	st = d2.status(t).VRRP[0]
	assert.Equal(t, uint8(95), st.BasePriority)
	assert.Equal(t, "10.16.8.10", st.Master, "the backup knows the master")
	assert.Positive(t, st.Counters.AdvertsReceived)

	// rr through the master: answered alternately by rs1 and rs2.
	hc := client.HTTPClient(10 * time.Second)
	var seq []string
	for i := range 10 {
		resp, err := hc.Get("http://" + vip + "/")
		require.NoError(t, err, "request %d", i)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		seq = append(seq, strings.TrimSpace(string(b)))
	}
	t.Logf("answers through ka67: %v", seq)
	for i := 1; i < len(seq); i++ {
		require.NotEqual(t, seq[i-1], seq[i], "rr must alternate: %v", seq)
	}
	assert.ElementsMatch(t, []string{"rs1", "rs2"}, []string{seq[0], seq[1]})

	// SIGTERM on the master while the client keeps asking: ka68 takes the
	// VIP over, ka67 exits 0.
	req := startRequester(client)
	defer req.stop()
	time.Sleep(500 * time.Millisecond)
	term := time.Now()
	require.NoError(t, d1.proc.Stop(20*time.Second), "ka67 must exit 0 after SIGTERM:\n%s", d1.proc.Output())
	t.Logf("ka67 exited %s after SIGTERM", time.Since(term).Round(10*time.Millisecond))
	assert.Contains(t, d1.proc.Output(), "director stopped")
	assert.False(t, hasVIP(d1.host), "ka67 released the VIP")
	start := time.Now()
	for !(hasVIP(d2.host) && state(d2, "MASTER")()) {
		require.Less(t, time.Since(start), 10*time.Second, "ka68 did not take over:\n%s", d2.proc.Output())
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	who, fails := tally(req.since(term))
	t.Logf("SIGTERM handover: %d requests answered %v, %d failed %v", who["rs1"]+who["rs2"], who, len(fails), fails)
	assert.LessOrEqual(t, len(fails), maxHandoverFailures)
	assert.Positive(t, who["rs1"])
	assert.Positive(t, who["rs2"])
	st = d2.status(t).VRRP[0]
	assert.Equal(t, "10.16.8.11", st.Master)
	assert.True(t, st.HoldsVIPs)

	// ka67 comes back and preempts (100 > 95); requests keep succeeding.
	back := time.Now()
	d1.start(t, bin)
	took = waitFor(30*time.Second, "ka67 MASTER again", func() bool {
		return state(d1, "MASTER")() && state(d2, "BACKUP")() && hasVIP(d1.host) && !hasVIP(d2.host)
	})
	t.Logf("ka67 preempted %s after its restart", took.Round(100*time.Millisecond))
	time.Sleep(time.Second)
	req.stop()
	who, fails = tally(req.since(back))
	t.Logf("preemption: %d requests answered %v, %d failed %v", who["rs1"]+who["rs2"], who, len(fails), fails)
	assert.LessOrEqual(t, len(fails), maxHandoverFailures)
	assert.Positive(t, who["rs1"]+who["rs2"])
	st = d2.status(t).VRRP[0]
	assert.Equal(t, "10.16.8.10", st.Master)
	assert.GreaterOrEqual(t, st.Counters.Transitions, uint64(3), "BACKUP, MASTER, BACKUP")

	require.NoError(t, d1.proc.Stop(20*time.Second))
	require.NoError(t, d2.proc.Stop(20*time.Second))
	t.Logf("whole test %s", time.Since(testStart).Round(100*time.Millisecond))
}
