//go:build e2e

package bgp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/lvsctl/lvsctl/bgp"
	"github.com/lvsctl/lvsctl/e2e/lab"
)

// The control plane against a real router: BIRD 2 (Debian's bird2) in a
// router namespace, lvsctl's speaker (GoBGP, this package's Runtime) in a
// director namespace. GoBGP dials from goroutines on any OS thread, so the
// speaker runs in a child process started inside the director namespace:
// this test binary again, as TestBGPHelperDirector, driven over stdin.

const helperEnv = "LVSCTL_BGP_HELPER_CONFIG"

// TestBGPHelperDirector is the director side; it does nothing unless the
// parent test started it.
func TestBGPHelperDirector(t *testing.T) {
	raw := os.Getenv(helperEnv)
	if raw == "" {
		return
	}
	var cfg bgp.Config
	require.NoError(t, json.Unmarshal([]byte(raw), &cfg))
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	rt := bgp.New(bgp.NewGoBGP(log), bgp.Options{Logger: log})
	ctx := context.Background()
	vip := netip.MustParsePrefix("10.16.8.100/32")
	require.NoError(t, rt.Start(ctx, cfg, []bgp.VIP{{Prefix: vip, Healthy: true}}))
	fmt.Println("started")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch sc.Text() {
		case "healthy":
			require.NoError(t, rt.SetVIPs(ctx, []bgp.VIP{{Prefix: vip, Healthy: true}}))
		case "no-quorum":
			require.NoError(t, rt.SetVIPs(ctx, []bgp.VIP{{Prefix: vip, Healthy: false}}))
		case "stop":
			require.NoError(t, rt.Stop(ctx))
			fmt.Println("stopped")
			return
		}
	}
}

const birdConf = `router id 10.99.0.1;
protocol device {}
protocol kernel {
	ipv4 { export all; };
	merge paths on;
}
protocol bgp d1 {
	local 10.99.0.1 as 65000;
	neighbor 10.99.0.10 as 65010;
	hold time 3;
	keepalive time 1;
	connect retry time 1;
	ipv4 { import all; export none; };
}
`

func TestBGPAgainstBIRD(t *testing.T) {
	birdBin, err := exec.LookPath("bird")
	if err != nil {
		birdBin = "/usr/sbin/bird"
	}
	require.FileExists(t, birdBin, "BIRD 2 is needed (scripts/deps.sh installs bird2)")
	l := lab.New(t)
	router, dir := l.Host("router"), l.Host("dir1")
	sw := l.Switch("lan")
	sw.Attach(router, "eth0", "10.99.0.1/24")
	sw.Attach(dir, "eth0", "10.99.0.10/24")

	tmp := t.TempDir()
	conf, sock := filepath.Join(tmp, "bird.conf"), filepath.Join(tmp, "bird.ctl")
	require.NoError(t, os.WriteFile(conf, []byte(birdConf), 0o644))
	birdProc := router.Start(birdBin, "-f", "-c", conf, "-s", sock)
	birdc := func(args ...string) string {
		out, _ := router.Run("birdc", append([]string{"-s", sock}, args...)...)
		return out
	}
	vip := netip.MustParsePrefix("10.16.8.100/32")
	inFIB := func() bool {
		routes, err := router.Handle().RouteListFiltered(netlink.FAMILY_V4,
			&netlink.Route{Dst: netipNet(vip)}, netlink.RT_FILTER_DST)
		return err == nil && len(routes) > 0
	}

	cfg := bgp.Config{RouterID: netip.MustParseAddr("10.99.0.10"), LocalAS: 65010, ListenPort: -1,
		ShutdownDrain: time.Second,
		Neighbors: []bgp.Neighbor{{Addr: netip.MustParseAddr("10.99.0.1"), RemoteAS: 65000, Port: 179,
			HoldTime: 3 * time.Second, Keepalive: time.Second, ConnectRetry: time.Second}}}
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^TestBGPHelperDirector$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	outR, outW := io.Pipe()
	cmd.Stdout = outW
	helper := dir.StartCmd(cmd)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine := func(want string) {
		t.Helper()
		deadline := time.After(15 * time.Second)
		for {
			select {
			case s, ok := <-lines:
				require.True(t, ok, "helper exited before %q:\n%s", want, helper.Output())
				if s == want {
					return
				}
			case <-deadline:
				t.Fatalf("no %q from the helper:\n%s", want, helper.Output())
			}
		}
	}
	send := func(s string) {
		_, err := io.WriteString(stdin, s+"\n")
		require.NoError(t, err)
	}
	waitLine("started")

	// The session comes up; the route follows within one keepalive (1 s).
	require.Eventually(t, func() bool { return strings.Contains(birdc("show", "protocols", "d1"), "Established") },
		20*time.Second, 10*time.Millisecond, "BGP session with BIRD")
	up := time.Now()
	require.Eventually(t, inFIB, time.Second, 5*time.Millisecond, "VIP in the router's FIB within one keepalive")
	t.Logf("route in the router's FIB %v after the session was established", time.Since(up).Round(time.Millisecond))
	require.Contains(t, birdc("show", "route", "for", vip.String(), "all"), "10.99.0.10", "next hop self")
	require.False(t, listens179(t, helper.PID()), "no neighbor is passive: the director does not listen on 179")
	require.True(t, listens179(t, birdProc.PID()), "the check sees a listener (BIRD's)")

	// Quorum lost: withdrawn; back: announced.
	lost := time.Now()
	send("no-quorum")
	require.Eventually(t, func() bool { return !inFIB() }, 2*time.Second, 2*time.Millisecond)
	t.Logf("quorum loss → route gone from the router's FIB in %v", time.Since(lost).Round(time.Millisecond))
	back := time.Now()
	send("healthy")
	require.Eventually(t, inFIB, 2*time.Second, 2*time.Millisecond)
	t.Logf("quorum back → route in the router's FIB in %v", time.Since(back).Round(time.Millisecond))

	// Graceful stop: the graceful-shutdown community first, the route kept
	// for the drain time, then withdrawn.
	stop := time.Now()
	send("stop")
	require.Eventually(t, func() bool {
		return strings.Contains(birdc("show", "route", "for", vip.String(), "all"), "(65535,0)")
	}, 2*time.Second, 5*time.Millisecond, "GRACEFUL_SHUTDOWN community at the router")
	gshut := time.Since(stop)
	require.True(t, inFIB(), "still routed while draining")
	require.Eventually(t, func() bool { return !inFIB() }, 5*time.Second, 5*time.Millisecond)
	gone := time.Since(stop)
	t.Logf("stop → graceful shutdown at the router %v, withdrawn %v (drain 1s)", gshut.Round(time.Millisecond),
		gone.Round(time.Millisecond))
	require.GreaterOrEqual(t, gone, time.Second, "withdrawn only after the drain time")
	waitLine("stopped")
	require.NoError(t, helper.Wait(10*time.Second))
}

// listens179 reports whether a socket in pid's network namespace listens
// on TCP port 179.
func listens179(t *testing.T, pid int) bool {
	for _, f := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		require.NoError(t, err)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st …; 0A is LISTEN.
			if fs := strings.Fields(line); len(fs) > 3 && strings.HasSuffix(fs[1], ":00B3") && fs[3] == "0A" {
				return true
			}
		}
	}
	return false
}

func netipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
