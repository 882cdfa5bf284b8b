//go:build e2e && !vm

package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/internal/control"
	"github.com/lvsctl/lvsctl/vrrp/vrrplab"
)

// fakeNotifySocket is systemd's end of sd_notify: a unixgram socket read
// at once, as systemd does (a full datagram queue would block the sender).
type fakeNotifySocket struct {
	path string
	msgs chan string
}

func listenNotify(t *testing.T) *fakeNotifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	f := &fakeNotifySocket{path: path, msgs: make(chan string, 10000)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(f.msgs)
				return
			}
			f.msgs <- string(buf[:n])
		}
	}()
	return f
}

// next returns the next datagram that is not a watchdog ping, counting
// the pings it skipped.
func (f *fakeNotifySocket) next(t *testing.T, timeout time.Duration, pings *int) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case msg := <-f.msgs:
			if msg != "WATCHDOG=1" {
				return msg
			}
			if pings != nil {
				*pings++
			}
		case <-deadline:
			t.Fatalf("no sd_notify message within %s", timeout)
		}
	}
}

// The director unit is Type=notify with WatchdogSec: `lvsctl director up`
// (the real binary, in a namespace, a VRRP-only file) says READY=1 once VRRP
// runs, pings the watchdog at half WATCHDOG_USEC, brackets a reload with
// RELOADING=1 (plus MONOTONIC_USEC) and READY=1, and says STOPPING=1 on
// SIGTERM before it hands the VIP over.
func TestDirectorUpNotifiesSystemd(t *testing.T) {
	n := vrrplab.NewNet(t, false)
	ns := listenNotify(t)
	sock := filepath.Join(n.Dir, "a.sock")
	bin := n.Lab.Lvsctl()
	cmd := exec.Command(bin, "director", "up", "-f", "../../vrrp/testdata/ka67.conf", "--socket", sock)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+ns.path, "WATCHDOG_USEC=400000")
	proc := n.A.StartCmd(cmd)

	require.Equal(t, "READY=1", ns.next(t, 10*time.Second, nil), proc.Output())
	vrrplab.WaitOwner(t, 8*time.Second, n.A, n.B, n.A, "eth1", "10.16.8.100")

	// The VRRP transitions are in the event log (the node's transition
	// hook), in order: BACKUP first, then MASTER.
	out, err := exec.Command(bin, "director", "events", "--no-follow", "-o", "json", "--socket", sock).Output()
	require.NoError(t, err, "%s", out)
	var states []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var l control.StreamLine
		require.NoError(t, dec.Decode(&l))
		if l.Event != nil && l.Event.Kind == "vrrp" && l.Event.Subject == "VI_1" {
			states = append(states, l.Event.From+">"+l.Event.To)
		}
	}
	require.Equal(t, []string{">BACKUP", "BACKUP>MASTER"}, states, "%s", out)

	// Watchdog pings every 200 ms while idle.
	pings := 0
	for drained := false; !drained; { // the pings so far
		select {
		case <-ns.msgs:
		default:
			drained = true
		}
	}
	time.Sleep(time.Second)
	out, err = exec.Command(bin, "director", "reload", "--socket", sock).CombinedOutput()
	require.NoError(t, err, "%s", out)
	reloading := ns.next(t, 5*time.Second, &pings)
	require.Regexp(t, regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=[1-9][0-9]*$`), reloading)
	require.Equal(t, "READY=1", ns.next(t, 5*time.Second, &pings))
	require.GreaterOrEqual(t, pings, 3, "watchdog pings in about a second at 200 ms")

	require.NoError(t, proc.Signal(syscall.SIGTERM))
	require.Equal(t, "STOPPING=1", ns.next(t, 5*time.Second, nil))
	require.NoError(t, proc.Wait(15*time.Second), proc.Output())
	require.True(t, strings.Contains(proc.Output(), "director stopped"), proc.Output())
}
