package app_test

import (
	"context"
	"io"
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
	"github.com/lvsctl/lvsctl/internal/app"
	"github.com/lvsctl/lvsctl/internal/config"
)

// journalIPVS appends its first read and every service removal to the
// journal the scripts write to, so the test sees the order.
type journalIPVS struct {
	director.IPVS
	journal func(string)
	once    sync.Once
}

func (j *journalIPVS) GetServices(ctx context.Context) ([]director.Service, error) {
	j.once.Do(func() { j.journal("ipvs") })
	return j.IPVS.GetServices(ctx)
}

func (j *journalIPVS) DelService(ctx context.Context, k director.ServiceKey) error {
	j.journal("del-service")
	return j.IPVS.DelService(ctx, k)
}

// startup_script runs before lvsctl touches IPVS, and is waited for;
// shutdown_script after the services are gone; a reload changes the
// shutdown script; a startup script that hangs is ended at its timeout
// and the daemon starts anyway (keepalived 2.2.7 core/main.c).
func TestDaemonStartupAndShutdownScripts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal")
	var mu sync.Mutex
	journal := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		require.NoError(t, err)
		_, err = f.WriteString(s + "\n")
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	sh := filepath.Join(dir, "note.sh")
	require.NoError(t, os.WriteFile(sh, []byte("#!/bin/sh\nsleep \"$2\"\necho \"$1\" >> "+path+"\n"), 0o755))
	read := func() []string {
		mu.Lock()
		defer mu.Unlock()
		b, _ := os.ReadFile(path)
		return strings.Fields(string(b))
	}

	var mu2 sync.Mutex
	desired := loaded("10.16.8.100")
	desired.Startup = config.HostScript{Command: sh + " startup 0.3", Timeout: 10 * time.Second}
	desired.Shutdown = config.HostScript{Command: sh + " shutdown-old 0", Timeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready, done := make(chan struct{}), make(chan error, 1)
	reload := make(chan struct{})
	go func() {
		done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) {
				mu2.Lock()
				defer mu2.Unlock()
				return desired, nil
			},
			IPVS:   &journalIPVS{IPVS: fakeipvs.New(), journal: journal},
			Health: newFakeHealth(), Socket: filepath.Join(dir, "d.sock"), Reload: reload,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready:  func(*app.Daemon) { close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon stopped: %v", err)
	}
	assert.Equal(t, []string{"startup", "ipvs"}, read(), "the startup script ran, and was waited for, before IPVS")

	next := loaded("10.16.8.100")
	next.Shutdown = config.HostScript{Command: sh + " shutdown 0", Timeout: 10 * time.Second}
	mu2.Lock()
	desired = next
	mu2.Unlock()
	reload <- struct{}{}
	// The loop takes a second reload only once the first is done.
	reload <- struct{}{}
	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, []string{"startup", "ipvs", "del-service", "shutdown"}, read(), "the reloaded shutdown script ran last")

	// A startup script that outlives its timeout is ended; lvsctl starts.
	require.NoError(t, os.Remove(path))
	hang := loaded("10.16.8.100")
	hang.Startup = config.HostScript{Command: sh + " never 30", Timeout: 300 * time.Millisecond}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	ready2 := make(chan struct{})
	begin := time.Now()
	go func() {
		done <- app.Run(ctx2, app.Options{
			Load:   func() (*config.Desired, error) { return hang, nil },
			IPVS:   &journalIPVS{IPVS: fakeipvs.New(), journal: journal},
			Health: newFakeHealth(), Socket: filepath.Join(dir, "d2.sock"),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready:  func(*app.Daemon) { close(ready2) },
		})
	}()
	select {
	case <-ready2:
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon did not start after the startup script's timeout")
	}
	assert.Less(t, time.Since(begin), 5*time.Second)
	assert.Equal(t, []string{"ipvs"}, read(), "the hanging script was ended before it wrote")
	cancel2()
	require.NoError(t, <-done)
}
