package app_test

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/fakeipvs"
	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/app"
	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/internal/notifyfifo"
	"github.com/lvsctl/lvsctl/internal/script"
	"github.com/lvsctl/lvsctl/vrrp"
)

// fifoReader is a notify FIFO script that appends what it reads from the
// FIFO (its last argument) to out, and "EOF" to out.end when the FIFO
// ends.
func fifoReader(t *testing.T, out string) *script.Command {
	t.Helper()
	path := filepath.Join(t.TempDir(), "reader.sh")
	require.NoError(t, os.WriteFile(path, []byte(`#!/bin/sh
for fifo; do :; done
while IFS= read -r line; do
	printf '%s\n' "$line" >> `+out+`
done < "$fifo"
echo EOF >> `+out+`.end
`), 0o755))
	c, err := script.Parse(path)
	require.NoError(t, err)
	return &c
}

func fileLines(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// The director's checker side writes keepalived's lines to
// lvs_notify_fifo (check/ipwrapper.c): each service's quorum at start, a
// real server going down and up, the quorum lost and regained; the FIFO
// is made at start, its script reads it, and at stop the FIFO goes and
// the script reads to its end. A reload that moves the FIFO moves the
// script with it.
func TestDaemonWritesLVSNotifyFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo, out := filepath.Join(dir, "lvs.fifo"), filepath.Join(dir, "out")
	var mu sync.Mutex
	next := func() *config.Desired {
		d := loaded("10.16.8.100")
		d.FIFOs = notifyfifo.Config{Mode: notifyfifo.DefaultMode, LVS: &notifyfifo.FIFO{Path: fifo, Script: fifoReader(t, out)}}
		return d
	}
	h, ipvs, reload := newFakeHealth(), fakeipvs.New(), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done, ready := make(chan error, 1), make(chan struct{})
	go func() {
		done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) {
				mu.Lock()
				defer mu.Unlock()
				return next(), nil
			},
			IPVS: ipvs, Health: h, Reload: reload,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready:  func(*app.Daemon) { close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon stopped: %v", err)
	}
	defer func() {
		cancel()
		<-done
	}()
	fi, err := os.Lstat(fifo)
	require.NoError(t, err)
	assert.Equal(t, fs.ModeNamedPipe|0o600, fi.Mode().Type()|fi.Mode().Perm())

	a9 := director.RealRef{Service: a8.Service, Real: real("10.16.8.9:80")}
	health := func(ref director.RealRef, up bool) {
		old, nw := healthcheck.Up, healthcheck.Down
		if up {
			old, nw = nw, old
		}
		h.events <- healthcheck.Event[director.RealRef]{Key: ref, Old: old, New: nw, Reason: "test"}
	}
	health(a8, false)
	health(a9, false)
	health(a9, true)
	want := []string{
		"VS [10.16.8.100]:tcp:80 UP", // starting with quorum up
		"RS [10.16.8.8]:tcp:80 [10.16.8.100]:tcp:80 DOWN",
		"RS [10.16.8.9]:tcp:80 [10.16.8.100]:tcp:80 DOWN",
		"VS [10.16.8.100]:tcp:80 DOWN",
		"RS [10.16.8.9]:tcp:80 [10.16.8.100]:tcp:80 UP",
		"VS [10.16.8.100]:tcp:80 UP",
	}
	require.Eventually(t, func() bool { return len(fileLines(out)) == len(want) }, 10*time.Second, 5*time.Millisecond, "%q", fileLines(out))
	assert.Equal(t, want, fileLines(out))

	// A reload that moves the FIFO: the old one goes (its script reads to
	// its end), the new one gets the next lines.
	moved := filepath.Join(dir, "moved.fifo")
	mu.Lock()
	fifo = moved
	mu.Unlock()
	reload <- struct{}{}
	require.Eventually(t, func() bool { _, err := os.Lstat(moved); return err == nil }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return strings.Count(readOrEmpty(out+".end"), "EOF") == 1 }, 10*time.Second, 5*time.Millisecond)
	_, err = os.Lstat(filepath.Join(dir, "lvs.fifo"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	health(a8, true)
	require.Eventually(t, func() bool { return len(fileLines(out)) == len(want)+1 }, 10*time.Second, 5*time.Millisecond, "%q", fileLines(out))
	assert.Equal(t, "RS [10.16.8.8]:tcp:80 [10.16.8.100]:tcp:80 UP", fileLines(out)[len(want)])

	cancel()
	require.NoError(t, <-done)
	done <- nil
	_, err = os.Lstat(moved)
	assert.ErrorIs(t, err, fs.ErrNotExist, "removed at stop")
	assert.Equal(t, 2, strings.Count(readOrEmpty(out+".end"), "EOF"), "the script read to the end")
}

func readOrEmpty(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// A FIFO that cannot be made fails the start, with its path.
func TestDaemonFIFOStartError(t *testing.T) {
	d := loaded("10.16.8.100")
	d.FIFOs = notifyfifo.Config{Mode: notifyfifo.DefaultMode, Global: &notifyfifo.FIFO{Path: "/nonexistent/dir/n.fifo"}}
	err := app.Run(context.Background(), app.Options{
		Load: func() (*config.Desired, error) { return d, nil }, IPVS: fakeipvs.New(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "notify FIFO /nonexistent/dir/n.fifo: create")
}

// A VRRP node's notices are keepalived's lines.
func TestVRRPLine(t *testing.T) {
	assert.Equal(t, "INSTANCE \"VI_1\" MASTER 100\n", app.VRRPLine(vrrp.Notice{Name: "VI_1", Event: "MASTER", Priority: 100}).Line())
	assert.Equal(t, "INSTANCE \"VI_1\" BACKUP_PRIORITY 90\n", app.VRRPLine(vrrp.Notice{Name: "VI_1", Event: vrrp.NoticeBackupPriority, Priority: 90}).Line())
	assert.Equal(t, "GROUP \"VG_1\" FAULT 0\n", app.VRRPLine(vrrp.Notice{Group: true, Name: "VG_1", Event: "FAULT"}).Line())
}
