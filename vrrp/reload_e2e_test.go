//go:build e2e

package vrrp_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/lvsctl/lvsctl/vrrp/vrrplab"
)

// vrrpInstance is one vrrp_instance block of the reload tests' files (the
// seed's style: VRRPv2, advert_int 1, PASS authentication).
func vrrpInstance(name string, vrid, prio int, vip string) string {
	state := "BACKUP"
	if prio >= 100 {
		state = "MASTER"
	}
	return fmt.Sprintf(`vrrp_instance %s {
    state %s
    interface eth1
    virtual_router_id %d
    priority %d
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass pw%d
    }
    virtual_ipaddress {
        %s
    }
}
`, name, state, vrid, prio, vrid, vip)
}

// forStarters runs fn as a subtest for each way lvsctl runs VRRP: the
// director daemon (`director up`, what operators run) and `vrrp run`.
func forStarters(t *testing.T, fn func(t *testing.T, start vrrplab.Starter)) {
	for _, st := range vrrplab.Starters() {
		t.Run(st.Name, func(t *testing.T) { fn(t, st.Start) })
	}
}

// tryGet is get without failing the test (for polling).
func tryGet(n *vrrplab.Net, vip string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	body, err := n.Client.Get(ctx, "http://"+vip+"/")
	if err != nil {
		return ""
	}
	return body
}

// writeConf writes a keepalived.conf of the given instances to path.
func writeConf(t *testing.T, path string, instances ...string) {
	t.Helper()
	conf := "global_defs {\n   vrrp_mcast_group4 224.0.0.111\n}\n" + strings.Join(instances, "")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o644))
}

// assertNoAdvertGap checks that src advertised vrid at least once per
// interval (plus scheduling slack) between from and to.
func assertNoAdvertGap(t *testing.T, ads *vrrplab.AdvertLog, vrid uint8, src string, from, to time.Time) {
	t.Helper()
	prev := from
	for _, a := range ads.Adverts() {
		if a.VRID != vrid || a.Src != netip.MustParseAddr(src) || a.At.Before(from) || a.At.After(to) {
			continue
		}
		assert.NotZero(t, a.Priority, "no priority-0 advert during a reload")
		assert.Less(t, a.At.Sub(prev), 1300*time.Millisecond, "advert gap before %v", a.At)
		prev = a.At
	}
	assert.Less(t, to.Sub(prev), 1300*time.Millisecond, "advert gap at the end")
}

// (a) Five SIGHUPs of the master with an unchanged file: the VIP never
// moves, no probe is lost, the adverts keep their rhythm, same process.
func TestE2EReloadUnchangedKeepsMaster(t *testing.T) {
	forStarters(t, func(t *testing.T, start vrrplab.Starter) {
		n := vrrplab.NewNet(t, false)
		ads := vrrplab.WatchAdverts(t, n.Client, "eth1", "224.0.0.111")
		a := start(t, n.A, n.Fixture(t, "testdata", "ka67.conf"))
		start(t, n.B, "testdata/ka68.conf")
		vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", vip1)
		pid := a.Proc.PID()
		p := vrrplab.StartProber(n.Client, vip1+":80", 10*time.Millisecond, 300*time.Millisecond)
		from := time.Now()
		for i := range 5 {
			require.True(t, a.Reload(t), "reload %d", i)
			vrrplab.WaitOwner(t, 0, n.A, n.B, n.A, "eth1", vip1)
			time.Sleep(300 * time.Millisecond)
		}
		time.Sleep(time.Second)
		to := time.Now()
		loss := vrrplab.Summarize(p.Stop(), from, time.Time{})
		assert.Zero(t, loss.Lost, "reloads lost probes: %+v", loss)
		assert.Greater(t, loss.Total, 150)
		vrrplab.WaitOwner(t, 0, n.A, n.B, n.A, "eth1", vip1)
		assertNoAdvertGap(t, ads, 191, "10.16.8.10", from, to)
		assert.Equal(t, pid, a.Proc.PID())
		assert.False(t, a.Proc.Exited())
		assert.Equal(t, 5, strings.Count(a.Proc.Output(), "VRRP reload: nothing changed"))
		assert.NotContains(t, a.Proc.Output(), "VRRP state change\" instance=VI_1 from=MASTER")
	})
}

// (b) The backup's priority raised above the master's by editing its file
// and SIGHUP: it takes over within the preempt bound (the master-down
// interval of the last advert it accepted), without a restart.
func TestE2EReloadRaisedPriorityPreempts(t *testing.T) {
	forStarters(t, func(t *testing.T, start vrrplab.Starter) {
		for _, peer := range []string{"lvsctl", "keepalived"} {
			t.Run(peer+"-master", func(t *testing.T) {
				n := vrrplab.NewNet(t, false)
				ads := vrrplab.WatchAdverts(t, n.Client, "eth1", "224.0.0.111")
				n.Start(t, peer, n.A, "testdata/ka67.conf")
				bConf := n.Fixture(t, "testdata", "ka68.conf")
				b := start(t, n.B, bConf)
				vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", vip1)
				time.Sleep(1500 * time.Millisecond)
				pid := b.Proc.PID()
				p := vrrplab.StartProber(n.Client, vip1+":80", 10*time.Millisecond, 300*time.Millisecond)

				raw, err := os.ReadFile(bConf)
				require.NoError(t, err)
				raised := strings.Replace(string(raw), "priority 95", "priority 110", 1)
				require.NotEqual(t, string(raw), raised)
				require.NoError(t, os.WriteFile(bConf, []byte(raised), 0o644))
				hup := time.Now()
				require.True(t, b.Reload(t))
				vrrplab.WaitOwner(t, 5*time.Second, n.A, n.B, n.B, "eth1", vip1)
				first := ads.FirstFrom(191, netip.MustParseAddr("10.16.8.11"), hup)
				require.False(t, first.At.IsZero(), "no advert of the new master")
				assert.Equal(t, uint8(110), first.Priority)
				// Master-down interval 3 × 1 s + (256-95)/256 s from the last
				// advert accepted, which came at most 1 s before the SIGHUP.
				took := first.At.Sub(hup)
				assert.LessOrEqual(t, took.Milliseconds(), int64(3629+600), "preempted %v after the SIGHUP", took)
				assert.GreaterOrEqual(t, took.Milliseconds(), int64(3629-1000-50), "preempted %v after the SIGHUP: too early", took)
				assert.Equal(t, pid, b.Proc.PID(), "same process")
				assert.False(t, b.Proc.Exited())
				// VI_2 (not changed) stayed on B the whole time.
				vrrplab.WaitOwner(t, 0, n.A, n.B, n.B, "eth1", vip2)
				time.Sleep(300 * time.Millisecond)
				loss := vrrplab.Summarize(p.Stop(), hup, time.Time{})
				if peer == "lvsctl" {
					assert.LessOrEqual(t, loss.Lost, maxHandoverLoss, "preemption lost probes: %+v", loss)
				} else {
					// keepalived drops the VIP the moment it is preempted.
					t.Logf("keepalived preempted by a reload: %d probes lost (%v)", loss.Lost, loss.Outage)
				}
				assert.Equal(t, "ka68", get(t, n, vip1))
			})
		}
	})
}

// (c) An instance added by a reload starts and announces its VIP; removed
// by the next reload, it hands the VIP over to the peer make-before-break.
func TestE2EReloadAddAndRemoveInstance(t *testing.T) {
	forStarters(t, func(t *testing.T, start vrrplab.Starter) {
		const vip3 = "10.16.8.103"
		for _, peer := range []string{"lvsctl", "keepalived"} {
			t.Run(peer+"-peer", func(t *testing.T) {
				n := vrrplab.NewNet(t, false)
				ads := vrrplab.WatchAdverts(t, n.Client, "eth1", "224.0.0.111")
				aConf := filepath.Join(n.Dir, "a.conf")
				bConf := filepath.Join(n.Dir, "b.conf")
				writeConf(t, aConf, vrrpInstance("VI_1", 191, 100, vip1))
				writeConf(t, bConf, vrrpInstance("VI_1", 191, 95, vip1), vrrpInstance("VI_3", 193, 90, vip3))
				a := start(t, n.A, aConf)
				n.Start(t, peer, n.B, bConf)
				vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", vip1)
				vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.B, "eth1", vip3)
				assert.Equal(t, "ka68", get(t, n, vip3))
				// Both nodes start together, so their first master-down
				// timers can expire together: the client may hold ka68's
				// MAC for VI_1 until ka67's contested-mastership burst an
				// advert interval later. Probe from when it reaches ka67.
				vrrplab.WaitFor(t, 3*time.Second, "client reaches ka67 on "+vip1, func() bool { return tryGet(n, vip1) == "ka67" })
				pid := a.Proc.PID()
				p1 := vrrplab.StartProber(n.Client, vip1+":80", 10*time.Millisecond, 300*time.Millisecond)

				// Added: it starts as BACKUP and preempts the peer's 90.
				writeConf(t, aConf, vrrpInstance("VI_1", 191, 100, vip1), vrrpInstance("VI_3", 193, 110, vip3))
				added := time.Now()
				require.True(t, a.Reload(t))
				vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", vip3)
				first := ads.FirstFrom(193, netip.MustParseAddr("10.16.8.10"), added)
				require.False(t, first.At.IsZero())
				assert.Equal(t, uint8(110), first.Priority)
				// The gratuitous ARP moved the client, which had ka68's MAC.
				vrrplab.WaitFor(t, 3*time.Second, "client reaches ka67 on "+vip3, func() bool { return tryGet(n, vip3) == "ka67" })

				// Removed: priority 0, the VIP stays until the peer is master.
				time.Sleep(1500 * time.Millisecond)
				p3 := vrrplab.StartProber(n.Client, vip3+":80", 10*time.Millisecond, 300*time.Millisecond)
				time.Sleep(200 * time.Millisecond)
				writeConf(t, aConf, vrrpInstance("VI_1", 191, 100, vip1))
				removed := time.Now()
				require.True(t, a.Reload(t))
				vrrplab.WaitOwner(t, 5*time.Second, n.A, n.B, n.B, "eth1", vip3)
				var zero bool
				for _, ad := range ads.Adverts() {
					if ad.VRID == 193 && ad.Src == netip.MustParseAddr("10.16.8.10") && ad.At.After(removed) && ad.Priority == 0 {
						zero = true
					}
				}
				assert.True(t, zero, "the removed master sent priority 0")
				time.Sleep(300 * time.Millisecond)
				loss := vrrplab.Summarize(p3.Stop(), removed, time.Time{})
				assert.LessOrEqual(t, loss.Lost, maxHandoverLoss, "make-before-break handover of a removed instance lost probes: %+v", loss)
				assert.Equal(t, "ka68", get(t, n, vip3))

				// VI_1 was not touched by either reload.
				l1 := vrrplab.Summarize(p1.Stop(), added, time.Time{})
				assert.Zero(t, l1.Lost, "the unchanged instance lost probes: %+v", l1)
				vrrplab.WaitOwner(t, 0, n.A, n.B, n.A, "eth1", vip1)
				assert.Equal(t, pid, a.Proc.PID())
				assert.False(t, a.Proc.Exited())
			})
		}
	})
}

// (d) A reload with a syntax error keeps everything running: the error is
// logged with its position, the VIP stays, the process lives.
func TestE2EReloadSyntaxErrorKeepsRunning(t *testing.T) {
	forStarters(t, func(t *testing.T, start vrrplab.Starter) {
		n := vrrplab.NewNet(t, false)
		conf := n.Fixture(t, "testdata", "ka67.conf")
		a := start(t, n.A, conf)
		start(t, n.B, "testdata/ka68.conf")
		vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", vip1)
		pid := a.Proc.PID()
		p := vrrplab.StartProber(n.Client, vip1+":80", 10*time.Millisecond, 300*time.Millisecond)

		raw, err := os.ReadFile(conf)
		require.NoError(t, err)
		broken := strings.Replace(string(raw), "virtual_router_id 191", "virtual_router_id 191 {", 1)
		require.NotEqual(t, string(raw), broken)
		require.NoError(t, os.WriteFile(conf, []byte(broken), 0o644))
		from := time.Now()
		assert.False(t, a.Reload(t), "the reload must fail")
		out := a.Proc.Output()
		assert.Regexp(t, regexp.MustCompile(regexp.QuoteMeta(vrrplab.ReloadFailed)+` err="?`+regexp.QuoteMeta(conf)+`:\d+:\d+: `), out)
		time.Sleep(2 * time.Second)
		loss := vrrplab.Summarize(p.Stop(), from, time.Time{})
		assert.Zero(t, loss.Lost, "%+v", loss)
		vrrplab.WaitOwner(t, 0, n.A, n.B, n.A, "eth1", vip1)
		assert.Equal(t, pid, a.Proc.PID())
		assert.False(t, a.Proc.Exited())

		// Fixed again: the next reload goes through.
		require.NoError(t, os.WriteFile(conf, raw, 0o644))
		assert.True(t, a.Reload(t))
	})
}

// (e) Stale VIPs: pre-added on the backup before start, deleted on the
// master behind its back, added on the backup at run time: each repaired.
func TestE2EStaleVIPs(t *testing.T) {
	forStarters(t, func(t *testing.T, start vrrplab.Starter) {
		n := vrrplab.NewNet(t, false)
		// Left over on ka68 (as by a crashed keepalived) before it starts.
		n.B.AddAddr("eth1", vip1+"/32")
		b := start(t, n.B, "testdata/ka68.conf")
		vrrplab.WaitFor(t, 2*time.Second, "stale VIP removed at start", func() bool { return !vrrplab.HasAddr(n.B, "eth1", vip1) })
		assert.Contains(t, b.Proc.Output(), "not master; removing it")
		start(t, n.A, "testdata/ka67.conf")
		vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", vip1)

		// Deleted on the master: re-added (and announced) within the resync period.
		link, err := n.A.Handle().LinkByName("eth1")
		require.NoError(t, err)
		addr, err := netlink.ParseAddr(vip1 + "/32")
		require.NoError(t, err)
		require.NoError(t, n.A.Handle().AddrDel(link, addr))
		deleted := time.Now()
		vrrplab.WaitFor(t, 7*time.Second, "VIP re-added on the master", func() bool { return vrrplab.HasAddr(n.A, "eth1", vip1) })
		assert.Less(t, time.Since(deleted), 5*time.Second+500*time.Millisecond)
		// The client follows the re-announcement (within the first
		// election's contested burst when both nodes started together).
		vrrplab.WaitFor(t, 3*time.Second, "client reaches ka67 on "+vip1, func() bool { return tryGet(n, vip1) == "ka67" })

		// Added on the backup at run time: removed within the resync period.
		n.B.AddAddr("eth1", vip1+"/24")
		added := time.Now()
		vrrplab.WaitFor(t, 7*time.Second, "stale VIP removed from the backup", func() bool { return !vrrplab.HasAddr(n.B, "eth1", vip1) })
		assert.Less(t, time.Since(added), 5*time.Second+500*time.Millisecond)
		vrrplab.WaitOwner(t, 0, n.A, n.B, n.A, "eth1", vip1)
		assert.Equal(t, "ka67", get(t, n, vip1))
	})
}
