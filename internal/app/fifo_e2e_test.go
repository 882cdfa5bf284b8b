//go:build e2e && !vm

package app_test

import (
	"context"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/fakeipvs"
	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/app"
	"github.com/lvsctl/lvsctl/internal/config"
)

// TestHealthFIFOE2E: the daemon (fake IPVS: this kernel has none) checks
// two real servers in other namespaces with the real health checker, from
// a keepalived.conf with lvs_notify_fifo and lvs_notify_fifo_script. The
// script reads keepalived 2.2.7's lines (check/ipwrapper.c notify_fifo_vs,
// notify_fifo_rs): the service's quorum at start, then rs1's web server
// stopping and starting again; rs2 going down too loses the quorum.
func TestHealthFIFOE2E(t *testing.T) {
	l := lab.New(t)
	sw := l.Switch("lan")
	dir, rs1, rs2 := l.Host("dir"), l.Host("rs1"), l.Host("rs2")
	sw.Attach(dir, "eth0", "10.16.8.10/24")
	sw.Attach(rs1, "eth0", "10.16.8.8/24")
	sw.Attach(rs2, "eth0", "10.16.8.9/24")
	web1, web2 := rs1.ServeHTTP("0.0.0.0:80"), rs2.ServeHTTP("0.0.0.0:80")
	for _, a := range []string{"10.16.8.8:80", "10.16.8.9:80"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, dir.WaitTCP(ctx, a))
		cancel()
	}
	tmp := t.TempDir()
	fifo, out := filepath.Join(tmp, "lvs.fifo"), filepath.Join(tmp, "out")
	reader := fifoReader(t, out)
	conf := filepath.Join(tmp, "keepalived.conf")
	require.NoError(t, os.WriteFile(conf, []byte(`global_defs {
   lvs_notify_fifo `+fifo+`
   lvs_notify_fifo_script `+reader.Line+`
}
virtual_server 10.16.8.100 80 {
   delay_loop 1
   lb_algo rr
   lb_kind DR
   protocol TCP
   real_server 10.16.8.8 80 {
      TCP_CHECK {
         connect_timeout 1
         retry 0
      }
   }
   real_server 10.16.8.9 80 {
      TCP_CHECK {
         connect_timeout 1
         retry 0
      }
   }
}
`), 0o644))
	dial := func(ctx context.Context, network string, _ healthcheck.Local, remote netip.AddrPort) (net.Conn, error) {
		return dir.DialContext(ctx, network, remote.String())
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done, ready := make(chan error, 1), make(chan struct{})
	go func() {
		done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) {
				c, _, err := config.Load(conf)
				if err != nil {
					return nil, err
				}
				return c.Desired()
			},
			IPVS: fakeipvs.New(), Health: healthcheck.New[director.RealRef](healthcheck.Options{Dial: dial}),
			Logger: slog.New(slog.NewTextHandler(logs, nil)),
			Ready:  func(*app.Daemon) { close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon stopped: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitLines := func(n int) []string {
		t.Helper()
		require.Eventually(t, func() bool { return len(lines(out)) >= n }, 20*time.Second, 10*time.Millisecond,
			"%d lines: %q\n%s", n, lines(out), logs.String())
		return lines(out)
	}

	// rs1 down, then up again.
	require.NoError(t, web1.Stop())
	waitLines(2)
	require.NoError(t, web1.Start())
	waitLines(3)
	// Both down: the quorum goes; rs1 back: it comes back.
	require.NoError(t, web2.Stop())
	require.NoError(t, web1.Stop())
	waitLines(6)
	require.NoError(t, web1.Start())
	got := waitLines(8)
	t.Logf("the FIFO script read:\n%s", strings.Join(got, "\n"))
	assert.Equal(t, []string{
		"VS [10.16.8.100]:tcp:80 UP",
		"RS [10.16.8.8]:tcp:80 [10.16.8.100]:tcp:80 DOWN",
		"RS [10.16.8.8]:tcp:80 [10.16.8.100]:tcp:80 UP",
	}, got[:3])
	assert.ElementsMatch(t, []string{
		"RS [10.16.8.9]:tcp:80 [10.16.8.100]:tcp:80 DOWN",
		"RS [10.16.8.8]:tcp:80 [10.16.8.100]:tcp:80 DOWN",
	}, got[3:5], "rs1 and rs2 in the order their checks found them down")
	assert.Equal(t, []string{
		"VS [10.16.8.100]:tcp:80 DOWN",
		"RS [10.16.8.8]:tcp:80 [10.16.8.100]:tcp:80 UP",
		"VS [10.16.8.100]:tcp:80 UP",
	}, got[5:])

	cancel()
	require.NoError(t, <-done)
	done <- nil
	_, err := os.Lstat(fifo)
	assert.ErrorIs(t, err, fs.ErrNotExist, "removed at stop")
	assert.Equal(t, "EOF\n", readOrEmpty(out+".end"), "the script read to the end")
}

func lines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}
