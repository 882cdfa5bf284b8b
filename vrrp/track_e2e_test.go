//go:build e2e

package vrrp_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/vrrp/vrrplab"
)

// track_file and vrrp_track_process between two lvsctl nodes: writing 1
// to the tracked file takes ka67's VI_1 from 100 to 90, below ka68's 95,
// and the VIP moves to ka68; writing 0 brings it back. Starting the
// tracked sleep (weight 0 reverse) puts VI_1 in FAULT on ka67 and the VIP
// moves; killing it brings it back.
func TestE2ETrackFileAndProcess(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	require.NoError(t, err, "the process test needs sleep(1)")
	sleep, err = filepath.EvalSymlinks(sleep)
	require.NoError(t, err)
	n := vrrplab.NewNet(t, false)
	src, err := os.ReadFile("testdata/trackfp-ka67.conf")
	require.NoError(t, err)
	conf := filepath.Join(n.Dir, "trackfp-ka67.conf")
	text := strings.NewReplacer("@DIR@", n.Dir, "@SLEEP@", sleep).Replace(string(src))
	require.NoError(t, os.WriteFile(conf, []byte(text), 0o644))
	prio := filepath.Join(n.Dir, "prio")

	vrrplab.StartLvsctl(t, n.A, conf)
	vrrplab.StartLvsctl(t, n.B, n.Fixture(t, "testdata", "ka68.conf"))
	vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", vip1)
	got, err := os.ReadFile(prio)
	require.NoError(t, err)
	require.Equal(t, "0\n", string(got), "init_file wrote the file")

	// The file: ka68 preempts when ka67's adverts carry 90 (one advert
	// interval), and ka67 preempts back at 100.
	require.NoError(t, os.WriteFile(prio, []byte("1\n"), 0o644))
	vrrplab.WaitOwner(t, 10*time.Second, n.A, n.B, n.B, "eth1", vip1)
	require.NoError(t, os.WriteFile(prio, []byte("0\n"), 0o644))
	vrrplab.WaitOwner(t, 10*time.Second, n.A, n.B, n.A, "eth1", vip1)

	// The process: FAULT while it runs.
	cmd := exec.Command(sleep, "7777.4242")
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	vrrplab.WaitOwner(t, 10*time.Second, n.A, n.B, n.B, "eth1", vip1)
	require.NoError(t, cmd.Process.Kill(), "kill pid %d", pid)
	_ = cmd.Wait()
	vrrplab.WaitOwner(t, electTimeout, n.A, n.B, n.A, "eth1", vip1)
}
