//go:build e2e

package vrrp_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/vrrp"
	"github.com/lvsctl/lvsctl/vrrp/vrrplab"
)

const (
	vip1 = "10.16.8.100" // VI_1, vrid 191, ka67 priority 100, ka68 95
	vip2 = "10.16.8.101" // VI_2, vrid 192, ka68 priority 100, ka67 95
	// startup: both start BACKUP and the higher priority wins after
	// 3 × advert_int + skew = 3.61 s. The bound is a wait, not a measured
	// property (bench/vrrp-handover.sh measures): generous, for a loaded
	// CI machine under the race detector.
	electTimeout = 15 * time.Second
)

func get(t *testing.T, n *vrrplab.Net, vip string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	body, err := n.Client.Get(ctx, "http://"+vip+"/")
	require.NoError(t, err)
	return body
}

// The seed's two-master setup: VI_1 on ka67, VI_2 on ka68, each VIP on
// exactly one director, and the client reaches each through its owner.
// maxHandoverLoss is the number of 10 ms probes a make-before-break handover
// may lose: a TCP handshake whose SYN reached the old master while its ACK
// follows the gratuitous ARP to the new one is reset (no connection sync
// between the two). It happens in about one handover of ten on a busy
// machine; keepalived loses ~33 probes on the same graceful stop.
const maxHandoverLoss = 1

func TestE2ETwoMasters(t *testing.T) {
	n := vrrplab.NewNet(t, false)
	a := vrrplab.StartLvsctl(t, n.A, "testdata/ka67.conf")
	b := vrrplab.StartLvsctl(t, n.B, "testdata/ka68.conf")
	vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", vip1)
	vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.B, "eth1", vip2)
	assert.Equal(t, "ka67", get(t, n, vip1))
	assert.Equal(t, "ka68", get(t, n, vip2))
	// The seed's notify.sh does not exist here: reported, VRRP runs anyway.
	assert.Contains(t, a.Proc.Output(), "notify script cannot run")
	// Stopping ka68 moves VI_2 to ka67 without losing a probe.
	p := vrrplab.StartProber(n.Client, vip2+":80", 10*time.Millisecond, 300*time.Millisecond)
	b.Stop(t)
	vrrplab.WaitOwner(t, 6*time.Second, n.A, n.B, n.A, "eth1", vip2)
	time.Sleep(300 * time.Millisecond)
	loss := vrrplab.Summarize(p.Stop(), time.Time{}, time.Time{})
	assert.LessOrEqual(t, loss.Lost, maxHandoverLoss, "graceful handover lost probes: %+v", loss)
	a.Stop(t)
	assert.False(t, vrrplab.HasAddr(n.A, "eth1", vip1), "addresses removed on stop")
	assert.False(t, vrrplab.HasAddr(n.A, "eth1", vip2), "addresses removed on stop")
}

// Graceful stop, return (preemption), crash (cable cut) and return, with a
// client probing the VIP every 10 ms.
func TestE2EHandover(t *testing.T) {
	n := vrrplab.NewNet(t, false)
	ads := vrrplab.WatchAdverts(t, n.Client, "eth1", "224.0.0.111")
	a := vrrplab.StartLvsctl(t, n.A, "testdata/ka67.conf")
	vrrplab.StartLvsctl(t, n.B, "testdata/ka68.conf")
	vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", vip1)
	p := vrrplab.StartProber(n.Client, vip1+":80", 10*time.Millisecond, 300*time.Millisecond)
	defer p.Stop()

	t.Run("graceful", func(t *testing.T) {
		from := time.Now()
		a.Stop(t)
		vrrplab.WaitOwner(t, 2*time.Second, n.A, n.B, n.B, "eth1", vip1)
		time.Sleep(200 * time.Millisecond)
		loss := vrrplab.Summarize(p.Stop(), from, time.Time{})
		assert.LessOrEqual(t, loss.Lost, maxHandoverLoss, "make-before-break lost probes: %+v", loss)
		p = vrrplab.StartProber(n.Client, vip1+":80", 10*time.Millisecond, 300*time.Millisecond)
	})
	t.Run("preempt", func(t *testing.T) {
		start := time.Now()
		a = vrrplab.StartLvsctl(t, n.A, "testdata/ka67.conf")
		vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", vip1)
		first := ads.FirstFrom(191, netip.MustParseAddr("10.16.8.10"), start)
		took := first.At.Sub(start)
		// 3 × 1 s + (256-100)/256 s after start, plus process start-up.
		assert.GreaterOrEqual(t, took.Milliseconds(), int64(3609-20), "preempt took %v", took)
		assert.LessOrEqual(t, took.Milliseconds(), int64(3609+600), "preempt took %v", took)
		time.Sleep(300 * time.Millisecond)
		loss := vrrplab.Summarize(p.Stop(), start, time.Time{})
		assert.LessOrEqual(t, loss.Lost, maxHandoverLoss, "preemption lost probes: %+v", loss)
		p = vrrplab.StartProber(n.Client, vip1+":80", 10*time.Millisecond, 300*time.Millisecond)
	})
	t.Run("crash", func(t *testing.T) {
		time.Sleep(1500 * time.Millisecond)
		cut := time.Now()
		n.LinkA1.Cut()
		vrrplab.WaitOwner(t, 5*time.Second, n.A, n.B, n.B, "eth1", vip1)
		first := ads.FirstFrom(191, netip.MustParseAddr("10.16.8.11"), cut)
		last := ads.LastFrom(191, netip.MustParseAddr("10.16.8.10"), first.At)
		require.False(t, last.At.IsZero() || first.At.IsZero(), "adverts around the cut not seen")
		// RFC bound: 3 × 1 s + (256-95)/256 s after the last advert heard.
		took := first.At.Sub(last.At)
		// Never before the bound; late only by scheduling delay. The 50 ms
		// target is measured by bench/vrrp-handover.sh on a quiet machine:
		// here other tests share the CPU.
		assert.GreaterOrEqual(t, took.Milliseconds(), int64(3629-20), "backup took over %v after the last advert", took)
		assert.LessOrEqual(t, took.Milliseconds(), int64(3629+400), "backup took over %v after the last advert", took)
		time.Sleep(200 * time.Millisecond)
		loss := vrrplab.Summarize(p.Stop(), cut, time.Time{})
		assert.Less(t, loss.Outage, 4100*time.Millisecond, "%+v", loss)
		p = vrrplab.StartProber(n.Client, vip1+":80", 10*time.Millisecond, 300*time.Millisecond)
	})
	t.Run("return", func(t *testing.T) {
		back := time.Now()
		n.LinkA1.Reconnect()
		vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", vip1)
		time.Sleep(300 * time.Millisecond)
		loss := vrrplab.Summarize(p.Stop(), back, time.Time{})
		assert.LessOrEqual(t, loss.Lost, maxHandoverLoss, "return lost probes: %+v", loss)
		assert.Equal(t, "ka67", get(t, n, vip1))
		p = vrrplab.StartProber(n.Client, vip1+":80", 10*time.Millisecond, 300*time.Millisecond)
	})
}

// VRRPv3 with advert_int 0.1: crash failover well under a second.
func TestE2EV3SubSecond(t *testing.T) {
	n := vrrplab.NewNet(t, false)
	ads := vrrplab.WatchAdverts(t, n.Client, "eth1", "224.0.0.111")
	vrrplab.StartLvsctl(t, n.A, "testdata/v3-ka67.conf")
	vrrplab.StartLvsctl(t, n.B, "testdata/v3-ka68.conf")
	vrrplab.WaitOwner(t, 3*time.Second, n.A, n.B, n.A, "eth1", vip1)
	p := vrrplab.StartProber(n.Client, vip1+":80", 10*time.Millisecond, 300*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	cut := time.Now()
	n.LinkA1.Cut()
	vrrplab.WaitOwner(t, 2*time.Second, n.A, n.B, n.B, "eth1", vip1)
	time.Sleep(200 * time.Millisecond)
	loss := vrrplab.Summarize(p.Stop(), cut, time.Time{})
	first := ads.FirstFrom(191, netip.MustParseAddr("10.16.8.11"), cut)
	last := ads.LastFrom(191, netip.MustParseAddr("10.16.8.10"), first.At)
	took := first.At.Sub(last.At)
	// 3 × 0.1 s + (256-95) × 0.1 s / 256.
	assert.GreaterOrEqual(t, took.Milliseconds(), int64(363-20), "takeover %v after the last advert", took)
	assert.LessOrEqual(t, took.Milliseconds(), int64(363+250), "takeover %v after the last advert", took)
	assert.Less(t, loss.Outage, 800*time.Millisecond, "%+v", loss)
}

// The seed's sync group VG_1 (External_1 on eth1, Internal_1 on eth2):
// when the master's eth2 fails, both VIPs move together.
func TestE2ESyncGroup(t *testing.T) {
	n := vrrplab.NewNet(t, true)
	vrrplab.StartLvsctl(t, n.A, "testdata/sync-ka67.conf")
	vrrplab.StartLvsctl(t, n.B, "testdata/sync-ka68.conf")
	const ext, in = "10.16.8.100", "172.16.8.100"
	var master, other = n.A, n.B
	vrrplab.WaitFor(t, electTimeout, "both VIPs on one director", func() bool {
		if vrrplab.HasAddr(n.A, "eth1", ext) && vrrplab.HasAddr(n.A, "eth2", in) && !vrrplab.HasAddr(n.B, "eth1", ext) && !vrrplab.HasAddr(n.B, "eth2", in) {
			master, other = n.A, n.B
			return true
		}
		if vrrplab.HasAddr(n.B, "eth1", ext) && vrrplab.HasAddr(n.B, "eth2", in) && !vrrplab.HasAddr(n.A, "eth1", ext) && !vrrplab.HasAddr(n.A, "eth2", in) {
			master, other = n.B, n.A
			return true
		}
		return false
	})
	link2 := n.LinkA2
	if master == n.B {
		link2 = n.LinkB2
	}
	link2.Cut()
	vrrplab.WaitFor(t, 6*time.Second, "both VIPs moved to "+other.Name(), func() bool {
		return vrrplab.HasAddr(other, "eth1", ext) && vrrplab.HasAddr(other, "eth2", in) &&
			!vrrplab.HasAddr(master, "eth1", ext) && !vrrplab.HasAddr(master, "eth2", in)
	})
}

// track_script chk_nginx (weight -10, fall 2, rise 2): when nginx "dies" on
// ka67, VI_1 (100 → 90 < 95) moves to ka68, and back when it recovers.
func TestE2ETrackScript(t *testing.T) {
	n := vrrplab.NewNet(t, false)
	okA := filepath.Join(n.Dir, "nginx-ka67")
	for _, f := range []string{okA, filepath.Join(n.Dir, "nginx-ka68")} {
		require.NoError(t, os.WriteFile(f, nil, 0o644))
	}
	vrrplab.StartLvsctl(t, n.A, n.Fixture(t, "testdata", "track-ka67.conf"))
	vrrplab.StartLvsctl(t, n.B, n.Fixture(t, "testdata", "track-ka68.conf"))
	vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", vip1)
	vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.B, "eth1", vip2)
	require.NoError(t, os.Remove(okA))
	// fall 2 × interval 2 s, then the backup's master-down interval 3.63 s.
	vrrplab.WaitOwner(t, 10*time.Second, n.A, n.B, n.B, "eth1", vip1)
	require.NoError(t, os.WriteFile(okA, nil, 0o644))
	vrrplab.WaitOwner(t, 10*time.Second, n.A, n.B, n.A, "eth1", vip1)
}

// notify_* and notify get keepalived's arguments.
func TestE2ENotify(t *testing.T) {
	n := vrrplab.NewNet(t, false)
	logf := filepath.Join(n.Dir, "notify.log")
	anyf := filepath.Join(n.Dir, "any.log")
	require.NoError(t, os.WriteFile(filepath.Join(n.Dir, "notify.sh"), []byte("#!/bin/sh\necho \"$*\" >> "+logf+"\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(n.Dir, "notify-any.sh"), []byte("#!/bin/sh\necho \"$*\" >> "+anyf+"\n"), 0o755))
	a := vrrplab.StartLvsctl(t, n.A, n.Fixture(t, "testdata", "notify-ka67.conf"))
	vrrplab.WaitFor(t, electTimeout, "VIP on ka67", func() bool { return vrrplab.HasAddr(n.A, "eth1", vip1) })
	read := func(f string) string { b, _ := os.ReadFile(f); return string(b) }
	vrrplab.WaitFor(t, 2*time.Second, "notify master", func() bool { return strings.Contains(read(logf), "master") })
	a.Stop(t)
	assert.Equal(t, "backup\nmaster\nstop\n", read(logf))
	assert.Equal(t, "INSTANCE VI_1 BACKUP 100\nINSTANCE VI_1 MASTER 100\nINSTANCE VI_1 STOP 100\n", read(anyf))
}

// lvsctl and keepalived (Debian package) as peers, in both roles: they
// agree on the masters, and graceful stop, return, crash and return work
// both ways.
func TestE2EKeepalivedInterop(t *testing.T) {
	for _, roles := range [][2]string{{"keepalived", "lvsctl"}, {"lvsctl", "keepalived"}} {
		t.Run(roles[0]+"-ka67_"+roles[1]+"-ka68", func(t *testing.T) {
			n := vrrplab.NewNet(t, false)
			a := n.Start(t, roles[0], n.A, "testdata/ka67.conf")
			b := n.Start(t, roles[1], n.B, "testdata/ka68.conf")
			vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", vip1)
			vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.B, "eth1", vip2)
			// Stable: still one owner each a few adverts later.
			time.Sleep(2500 * time.Millisecond)
			vrrplab.WaitOwner(t, 0, n.A, n.B, n.A, "eth1", vip1)
			vrrplab.WaitOwner(t, 0, n.A, n.B, n.B, "eth1", vip2)

			// ka67 stops: ka68 takes VI_1; ka67 returns and preempts. When
			// the leaving master is lvsctl, no probe is lost even with
			// keepalived taking over.
			p := vrrplab.StartProber(n.Client, vip1+":80", 10*time.Millisecond, 300*time.Millisecond)
			a.Stop(t)
			vrrplab.WaitOwner(t, 6*time.Second, n.A, n.B, n.B, "eth1", vip1)
			time.Sleep(200 * time.Millisecond)
			if loss := vrrplab.Summarize(p.Stop(), time.Time{}, time.Time{}); a.Kind == "lvsctl" {
				// keepalived alone loses ~33 probes here; a probe or two
				// may time out when the machine is busy with other tests.
				assert.LessOrEqual(t, loss.Lost, 2, "graceful handover to keepalived lost probes: %+v", loss)
			} else {
				t.Logf("keepalived graceful handover to lvsctl: %d probes lost (%v)", loss.Lost, loss.Outage)
			}
			a = n.Start(t, roles[0], n.A, "testdata/ka67.conf")
			vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", vip1)

			// ka68 crashes (cable cut): ka67 takes VI_2, gives it back.
			n.LinkB1.Cut()
			vrrplab.WaitOwner(t, 5*time.Second, n.A, n.B, n.A, "eth1", vip2)
			n.LinkB1.Reconnect()
			vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.B, "eth1", vip2)

			// ka68 stops gracefully: ka67 holds both.
			b.Stop(t)
			vrrplab.WaitOwner(t, 6*time.Second, n.A, n.B, n.A, "eth1", vip2)
			vrrplab.WaitOwner(t, 0, n.A, n.B, n.A, "eth1", vip1)
			checkPeerHappy(t, a, b)
		})
	}
}

// Unicast peers and VRRPv3 (centisecond adverts, pseudo-header checksum),
// each with keepalived as the peer in both roles: one master per VIP, and
// the VIP moves when the master's cable is cut and comes back after.
func TestE2EKeepalivedInteropUnicastAndV3(t *testing.T) {
	for _, tc := range []struct {
		name, prefix string
		elect, fail  time.Duration
	}{
		{"unicast", "unicast-", electTimeout, 5 * time.Second},
		{"v3", "v3-", 6 * time.Second, 4 * time.Second},
	} {
		for _, roles := range [][2]string{{"keepalived", "lvsctl"}, {"lvsctl", "keepalived"}} {
			t.Run(tc.name+"/"+roles[0]+"-ka67_"+roles[1]+"-ka68", func(t *testing.T) {
				n := vrrplab.NewNet(t, false)
				a := n.Start(t, roles[0], n.A, "testdata/"+tc.prefix+"ka67.conf")
				b := n.Start(t, roles[1], n.B, "testdata/"+tc.prefix+"ka68.conf")
				vrrplab.WaitOwner(t, tc.elect, n.A, n.B, n.A, "eth1", vip1)
				vrrplab.WaitOwner(t, tc.elect, n.A, n.B, n.B, "eth1", vip2)
				time.Sleep(tc.fail / 2)
				vrrplab.WaitOwner(t, 0, n.A, n.B, n.A, "eth1", vip1)
				vrrplab.WaitOwner(t, 0, n.A, n.B, n.B, "eth1", vip2)
				n.LinkA1.Cut()
				vrrplab.WaitOwner(t, tc.fail, n.A, n.B, n.B, "eth1", vip1)
				n.LinkA1.Reconnect()
				vrrplab.WaitOwner(t, tc.elect, n.A, n.B, n.A, "eth1", vip1)
				n.LinkB1.Cut()
				vrrplab.WaitOwner(t, tc.fail, n.A, n.B, n.A, "eth1", vip2)
				n.LinkB1.Reconnect()
				vrrplab.WaitOwner(t, tc.elect, n.A, n.B, n.B, "eth1", vip2)
				checkPeerHappy(t, a, b)
			})
		}
	}
}

// checkPeerHappy asserts that neither side rejected the other's adverts.
func checkPeerHappy(t *testing.T, ds ...*vrrplab.Daemon) {
	t.Helper()
	for _, d := range ds {
		out := d.Proc.Output()
		if d.Kind == "lvsctl" {
			assert.NotContains(t, out, "dropping VRRP packet", "lvsctl dropped keepalived's adverts")
			assert.NotContains(t, out, "accepted with a mismatch", "lvsctl saw a mismatch in keepalived's adverts")
			continue
		}
		for _, bad := range []string{"checksum", "nvalid", "mismatch", "bogus", "expected"} {
			assert.NotContains(t, out, bad, "keepalived complained about lvsctl's adverts")
		}
	}
}

// A Node built in-process inside a lab host (as the director does in its
// tests): sockets and the netlink handle are opened in the host's namespace
// by New, Run works from any goroutine, the VIP lands on the host, and the
// gratuitous ARPs (request and reply, sender = target = VIP) reach the client.
func TestE2EInProcessNode(t *testing.T) {
	n := vrrplab.NewNet(t, false)
	vrrplab.StartLvsctl(t, n.B, "testdata/ka68.conf")

	var garp *arp.Client
	require.NoError(t, n.Client.Do(func() error {
		ifi, err := net.InterfaceByName("eth1")
		if err != nil {
			return err
		}
		garp, err = arp.Dial(ifi)
		return err
	}))
	defer garp.Close()

	// Fully defaulted, as internal/config hands it over.
	cfg := vrrp.Config{
		McastGroup4:   netip.MustParseAddr("224.0.0.111"),
		ReleaseGrace:  100 * time.Millisecond,
		NotifyTimeout: 10 * time.Second,
		Instances: []vrrp.InstanceConfig{{
			Name: "VI_1", Interface: "eth1", VRID: 191, Priority: 100, AdvertInt: time.Second, Version: 2,
			AuthType: vrrp.AuthPass, AuthPass: "renwole0",
			VIPs:       []vrrp.VIP{{Prefix: netip.MustParsePrefix(vip1 + "/32")}},
			GARPRepeat: 5, GARPDelay: 5 * time.Second, GARPRefreshRepeat: 1,
		}},
	}
	var node *vrrp.Node
	require.NoError(t, n.A.Do(func() error {
		var err error
		node, err = vrrp.New(cfg)
		return err
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()

	vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", vip1)
	var ops []arp.Operation
	require.NoError(t, garp.SetReadDeadline(time.Now().Add(2*time.Second)))
	for len(ops) < 2 {
		p, _, err := garp.Read()
		require.NoError(t, err, "no gratuitous ARP seen")
		if p.SenderIP.String() == vip1 && p.TargetIP.String() == vip1 {
			assert.Equal(t, n.A.HWAddr("eth1").String(), p.SenderHardwareAddr.String())
			ops = append(ops, p.Operation)
		}
	}
	assert.ElementsMatch(t, []arp.Operation{arp.OperationRequest, arp.OperationReply}, ops)

	// The status snapshot is taken at the end of the loop iteration that
	// added the VIP and sent the ARPs: give it that moment.
	var st []vrrp.InstanceStatus
	require.Eventually(t, func() bool {
		st = node.Status()
		return len(st) == 1 && st[0].State.String() == "MASTER"
	}, 2*time.Second, 10*time.Millisecond, "status never showed MASTER: %+v", st)
	assert.Equal(t, netip.MustParseAddr("10.16.8.10"), st[0].MasterAddr)
	assert.NotZero(t, st[0].Counters.AdvertsSent)
	// ka68 is a silent backup for VI_1 and its VI_2 adverts (vrid 192) are
	// not ours: nothing received, nothing dropped.
	assert.Zero(t, st[0].Counters.AdvertsReceived)
	assert.Empty(t, st[0].Counters.Drops)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	vrrplab.WaitOwner(t, 0, n.A, n.B, n.B, "eth1", vip1)
	assert.Equal(t, "STOP", node.Status()[0].State.String())
}
