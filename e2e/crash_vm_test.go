//go:build vm

package e2e_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/ipvs"
	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/e2e/vm/guest"
)

const (
	crashServices = 50
	crashRounds   = 50
	// crashBudget bounds the whole loop; the rounds done are printed.
	crashBudget = 6 * time.Minute
)

// crashConf is crashServices virtual servers with 10 real servers each,
// checked by TCP_CHECK. Config a: real servers .11-.20 weight 1; config b:
// .11-.15 and .21-.25 weight 2 (every destination changes).
func crashConf(b bool) (string, director.Table) {
	var sb strings.Builder
	want := director.Table{}
	rss, weight := []int{11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, 1
	if b {
		rss, weight = []int{11, 12, 13, 14, 15, 21, 22, 23, 24, 25}, 2
	}
	for i := range crashServices {
		vip := fmt.Sprintf("10.16.9.%d", i+1)
		fmt.Fprintf(&sb, "virtual_server %s 80 {\n  delay_loop 1\n  lb_algo wrr\n  lb_kind DR\n  protocol TCP\n", vip)
		k := director.ServiceKey{Family: director.IPv4, Protocol: director.TCP, Addr: netip.MustParseAddr(vip), Port: 80}
		ts := &director.TableService{Service: director.Service{Key: k, Scheduler: "wrr",
			Netmask: director.DefaultNetmask(director.IPv4)}, Dests: map[director.DestKey]director.Destination{}}
		for _, r := range rss {
			rs := fmt.Sprintf("10.16.8.%d", r)
			fmt.Fprintf(&sb, "  real_server %s 80 {\n    weight %d\n    TCP_CHECK {\n      connect_timeout 1\n    }\n  }\n", rs, weight)
			d := director.Destination{Addr: netip.MustParseAddr(rs), Port: 80, Weight: weight, Forward: director.DirectRoute}
			ts.Dests[d.Key()] = d
		}
		sb.WriteString("}\n")
		want[k] = ts
	}
	return sb.String(), want
}

// TestVMCrashPoints kills `lvsctl director up` with SIGKILL at random
// moments (seeded) of a start, of a reload that changes every one of the
// 500 destinations, and of a burst of health transitions, crashRounds
// times. After each kill the daemon is started again: the kernel table
// must converge to the desired one, and a sampler dumping the table all
// along must never see a declared service missing once the first start
// has created them all (a kill leaves the table; a restart adopts it).
func TestVMCrashPoints(t *testing.T) {
	guest.RequireIPVS(t)
	bin, err := exec.LookPath("lvsctl")
	require.NoError(t, err, "run vmrun with -bin ./cmd/lvsctl")
	l := lab.New(t)
	sw := l.Switch("lan")
	dir, rs := l.Host("director"), l.Host("rs")
	sw.Attach(dir, "eth0", "10.16.8.10/24")
	sw.Attach(rs, "eth0", "10.16.8.11/24")
	for r := 12; r <= 25; r++ {
		rs.AddAddr("eth0", fmt.Sprintf("10.16.8.%d/24", r))
	}
	fl := rs.Listeners()
	all := func(up bool) {
		for r := 11; r <= 25; r++ {
			require.NoError(t, fl.Set(fmt.Sprintf("10.16.8.%d:80", r), up))
		}
	}
	all(true)
	c, err := ipvs.Open(dir.NSPath())
	require.NoError(t, err)
	defer c.Close()

	tmp := t.TempDir()
	conf, sock := filepath.Join(tmp, "keepalived.conf"), filepath.Join(tmp, "director.sock")
	confA, wantA := crashConf(false)
	confB, wantB := crashConf(true)
	write := func(b bool) director.Table {
		text, want := confA, wantA
		if b {
			text, want = confB, wantB
		}
		require.NoError(t, os.WriteFile(conf, []byte(text), 0o644))
		return want
	}
	var proc *lab.Process
	up := func() {
		proc = dir.Start(bin, "director", "up", "-f", conf, "--socket", sock, "--resync", "1s")
	}
	kill := func() {
		// Kill returns the exit status, "signal: killed".
		_ = proc.Kill()
		require.True(t, proc.Exited(), "lvsctl survived SIGKILL")
	}
	ctx := context.Background()
	converged := func(want director.Table, timeout time.Duration) (time.Duration, bool) {
		start := time.Now()
		for time.Since(start) < timeout {
			got, err := director.Dump(ctx, c, nil)
			if err == nil && len(director.Diff(want, got, func(director.ServiceKey) bool { return true })) == 0 {
				return time.Since(start), true
			}
			if proc.Exited() {
				t.Fatalf("lvsctl exited: %s", proc.Output())
			}
			time.Sleep(50 * time.Millisecond)
		}
		return timeout, false
	}

	// The sampler: once armed, a declared service missing from the
	// kernel is a violation.
	var armed atomic.Bool
	var samples, missing atomic.Int64
	var firstMissing atomic.Value
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		sc, err := ipvs.Open(dir.NSPath())
		if err != nil {
			t.Error(err)
			return
		}
		defer sc.Close()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if !armed.Load() {
				continue
			}
			svcs, err := sc.GetServices(ctx)
			if err != nil {
				continue
			}
			samples.Add(1)
			have := map[director.ServiceKey]bool{}
			for _, s := range svcs {
				have[s.Key] = true
			}
			for k := range wantA {
				if !have[k] {
					missing.Add(1)
					firstMissing.CompareAndSwap(nil, fmt.Sprintf("%s missing at sample %d", k, samples.Load()))
				}
			}
		}
	}()

	cfgB := false
	want := write(cfgB)
	up()
	took, ok := converged(want, 60*time.Second)
	require.True(t, ok, "first start never converged")
	t.Logf("first start converged after %v", took.Round(10*time.Millisecond))
	armed.Store(true)

	rng := rand.New(rand.NewPCG(15, 6))
	counts := map[string]int{}
	var worst time.Duration
	begin := time.Now()
	rounds := 0
	for ; rounds < crashRounds && time.Since(begin) < crashBudget; rounds++ {
		// Each phase kills within its own window, at a random moment.
		switch phase := rng.IntN(3); phase {
		case 0: // during a start
			kill()
			up()
			time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
			counts["start"]++
		case 1: // during a reload that changes every destination
			cfgB = !cfgB
			want = write(cfgB)
			require.NoError(t, proc.Signal(syscall.SIGHUP))
			time.Sleep(time.Duration(rng.IntN(600)) * time.Millisecond)
			counts["reload"]++
		case 2: // during a burst of health transitions
			for r := 11; r <= 25; r++ {
				require.NoError(t, fl.Set(fmt.Sprintf("10.16.8.%d:80", r), rng.IntN(2) == 0))
			}
			time.Sleep(time.Duration(500+rng.IntN(2000)) * time.Millisecond)
			counts["health"]++
		}
		kill()
		all(true)
		up()
		took, ok := converged(want, 30*time.Second)
		require.True(t, ok, "round %d: the table never converged after the restart", rounds)
		worst = max(worst, took)
	}
	close(stop)
	<-sampled
	kill()
	t.Logf("FIGURES crash points: %d rounds in %v (kills during start %d, reload %d, health burst %d); "+
		"converged after every restart, slowest %v; %d table samples, %d declared services missing",
		rounds, time.Since(begin).Round(time.Second), counts["start"], counts["reload"], counts["health"],
		worst.Round(10*time.Millisecond), samples.Load(), missing.Load())
	assert.Zero(t, missing.Load(), "a declared service disappeared from the kernel: %v", firstMissing.Load())
	assert.Positive(t, samples.Load())
	assert.GreaterOrEqual(t, rounds, 20, "too few rounds within the budget")
}
