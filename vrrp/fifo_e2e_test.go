//go:build e2e

package vrrp_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/vrrp/vrrplab"
)

// fifoConf runs VI_1 (priority 100) and VI_2 (90) in sync group VG_1 on
// ka67, with notify_fifo and vrrp_notify_fifo, each read by its
// *_notify_fifo_script: reader.sh appends what it reads to OUT.
const fifoConf = `global_defs {
    vrrp_mcast_group4 224.0.0.111
    notify_fifo @DIR@/all.fifo
    notify_fifo_script "@DIR@/reader.sh @DIR@/all.out"
    vrrp_notify_fifo @DIR@/vrrp.fifo
    vrrp_notify_fifo_script "@DIR@/reader.sh @DIR@/vrrp.out"
}
vrrp_sync_group VG_1 {
    group {
        VI_1
        VI_2
    }
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth1
    virtual_router_id 191
    priority 100
    advert_int 1
    virtual_ipaddress {
        10.16.8.100
    }
}
vrrp_instance VI_2 {
    state BACKUP
    interface eth1
    virtual_router_id 192
    priority 90
    advert_int 1
    virtual_ipaddress {
        10.16.8.101
    }
}
`

// reader.sh OUT FIFO: keepalived appends the FIFO's path to the script's
// words; the script appends every line it reads to OUT, and "EOF" to
// OUT.end when the FIFO ends.
const fifoReaderScript = `#!/bin/sh
out=$1
for fifo; do :; done
while IFS= read -r line; do
	printf '%s\n' "$line" >> "$out"
done < "$fifo"
echo EOF >> "$out.end"
`

func lines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestE2ENotifyFIFO runs `lvsctl director up` and `lvsctl vrrp run` (the
// binary, in a namespace) with keepalived's notify FIFOs: the two
// instances start BACKUP, take over (no peer) and stop, and the FIFO
// scripts read keepalived 2.2.7's lines (vrrp/vrrp_notify.c notify_fifo)
// in order: each instance's state, then the sync group's; a reload moves
// one FIFO and writes the states; at stop the FIFOs are removed and the
// scripts read to their end. keepalived 2.2.7
// itself, on the same file, writes the same lines up to their order (it
// notifies a sync group starting BACKUP before its instances, and its
// group takes over once every member wants to, the last first), and no
// STOP line reaches its scripts: it kills them before it writes those.
// After the reload it writes the group's MASTER (sometimes twice: as its
// instances restart it may notify the group again) and nothing for the
// instances that stay MASTER.
func TestE2ENotifyFIFO(t *testing.T) {
	var lvsctlStart []string
	forStarters(t, func(t *testing.T, start vrrplab.Starter) {
		n := vrrplab.NewNet(t, false)
		conf := fifoSetup(t, n)
		d := start(t, n.A, conf)

		vrrpOut, allOut := filepath.Join(n.Dir, "vrrp.out"), filepath.Join(n.Dir, "all.out")
		want := []string{
			`INSTANCE "VI_1" BACKUP 100`,
			`INSTANCE "VI_2" BACKUP 90`,
			`GROUP "VG_1" BACKUP 0`,
			`INSTANCE "VI_1" MASTER 100`,
			`INSTANCE "VI_2" MASTER 90`,
			`GROUP "VG_1" MASTER 0`,
		}
		vrrplab.WaitFor(t, 15*time.Second, "BACKUP then MASTER lines", func() bool { return len(lines(vrrpOut)) >= len(want) })
		require.Equal(t, want, lines(vrrpOut), d.Proc.Output())
		lvsctlStart = want
		require.True(t, vrrplab.HasAddr(n.A, "eth1", "10.16.8.100"), "VI_1 is MASTER")
		for _, f := range []string{"vrrp.fifo", "all.fifo"} {
			fi, err := os.Lstat(filepath.Join(n.Dir, f))
			require.NoError(t, err)
			assert.Equal(t, fs.ModeNamedPipe, fi.Mode().Type())
			assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), "keepalived's mode: 0644 under its umask 0177")
		}

		// A reload (SIGHUP) moves vrrp_notify_fifo and asks for the states
		// on reload: the old FIFO goes (its script reads to the end), the
		// new one is made and its script started; notify_fifo, unchanged,
		// keeps its script. The states: the kept sync group's, not the
		// instances' (MASTER: keepalived 2.2.7 writes none for them).
		require.NoError(t, os.WriteFile(conf, []byte(reloadedFIFOConf(n.Dir)), 0o644))
		require.True(t, d.Reload(t), d.Proc.Output())
		vrrp2Out := filepath.Join(n.Dir, "vrrp2.out")
		vrrplab.WaitFor(t, 10*time.Second, "the state on reload", func() bool { return len(lines(vrrp2Out)) == 1 })
		assert.Equal(t, []string{`GROUP "VG_1" MASTER 0`}, lines(vrrp2Out))
		assert.Equal(t, "EOF\n", readString(filepath.Join(n.Dir, "vrrp.out.end")), "the old script read to the end")
		_, err := os.Lstat(filepath.Join(n.Dir, "vrrp.fifo"))
		assert.ErrorIs(t, err, fs.ErrNotExist, "the old FIFO is removed")
		assert.Equal(t, want, lines(vrrpOut))

		require.NoError(t, d.Proc.Signal(syscall.SIGTERM))
		require.NoError(t, d.Proc.Wait(15*time.Second), d.Proc.Output())
		got := lines(vrrp2Out)
		require.Len(t, got, 4, "%q", got)
		assert.ElementsMatch(t, []string{`INSTANCE "VI_1" STOP 100`, `INSTANCE "VI_2" STOP 90`}, got[1:3])
		assert.Equal(t, `GROUP "VG_1" STOP 0`, got[3])
		// notify_fifo got every VRRP line, from one script.
		assert.Equal(t, append(slices.Clone(want), got...), lines(allOut))
		for _, f := range []string{"vrrp2", "all"} {
			_, err := os.Lstat(filepath.Join(n.Dir, f+".fifo"))
			assert.ErrorIs(t, err, fs.ErrNotExist, "%s.fifo removed at stop", f)
			assert.Equal(t, "EOF\n", readString(filepath.Join(n.Dir, f+".out.end")), "the %s script read to the end", f)
		}
		t.Logf("notify_fifo's script read:\n%s", strings.Join(lines(allOut), "\n"))
	})

	t.Run("keepalived", func(t *testing.T) {
		n := vrrplab.NewNet(t, false)
		conf := fifoSetup(t, n)
		d := vrrplab.StartKeepalived(t, n.A, conf, n.Dir)
		vrrpOut, allOut := filepath.Join(n.Dir, "vrrp.out"), filepath.Join(n.Dir, "all.out")
		vrrplab.WaitFor(t, 15*time.Second, "keepalived's BACKUP and MASTER lines", func() bool {
			return len(lines(vrrpOut)) >= 6 && len(lines(allOut)) >= 6
		})
		fi, err := os.Lstat(filepath.Join(n.Dir, "vrrp.fifo"))
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
		got := lines(vrrpOut)
		t.Logf("keepalived's FIFO script read:\n%s", strings.Join(got, "\n"))
		if lvsctlStart != nil {
			assert.ElementsMatch(t, lvsctlStart, got, "the same lines as lvsctl's")
		}
		assert.Equal(t, got, lines(allOut))

		// The same reload, for the record only: keepalived's lines after a
		// reload vary from run to run (usually the group's MASTER line
		// alone; under load it has re-entered BACKUP and written the
		// BACKUP lines), and a baseline must not decide whether lvsctl's
		// tests pass.
		require.NoError(t, os.WriteFile(conf, []byte(reloadedFIFOConf(n.Dir)), 0o644))
		d.Reload(t)
		vrrp2Out := filepath.Join(n.Dir, "vrrp2.out")
		vrrplab.WaitFor(t, 10*time.Second, "keepalived's states on reload", func() bool { return len(lines(vrrp2Out)) > 0 })
		time.Sleep(2 * time.Second) // whatever else it writes
		d.Stop(t)
		t.Logf("after the reload, keepalived's new FIFO script read:\n%s", strings.Join(lines(vrrp2Out), "\n"))
		t.Logf("keepalived's first FIFO script read %d lines in all (no STOP line reaches it: it is killed first)", len(lines(vrrpOut)))
	})
}

// reloadedFIFOConf is fifoConf with vrrp_notify_fifo moved (read into
// vrrp2.out) and fifo_write_vrrp_states_on_reload.
func reloadedFIFOConf(dir string) string {
	text := strings.ReplaceAll(fifoConf, "@DIR@", dir)
	text = strings.Replace(text, "vrrp.fifo", "vrrp2.fifo", 1)
	text = strings.Replace(text, "vrrp.out", "vrrp2.out", 1)
	return strings.Replace(text, "global_defs {", "global_defs {\n    fifo_write_vrrp_states_on_reload", 1)
}

// fifoSetup writes reader.sh and fifo.conf into the net's directory.
func fifoSetup(t *testing.T, n *vrrplab.Net) string {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(n.Dir, "reader.sh"), []byte(fifoReaderScript), 0o755))
	conf := filepath.Join(n.Dir, "fifo.conf")
	require.NoError(t, os.WriteFile(conf, []byte(strings.ReplaceAll(fifoConf, "@DIR@", n.Dir)), 0o644))
	return conf
}

func readString(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(b)
}
