//go:build e2e && !vm

package app_test

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
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
	"github.com/lvsctl/lvsctl/internal/alert/alerttest"
	"github.com/lvsctl/lvsctl/internal/app"
	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/vrrp/vrrplab"
)

// receiver runs the test's SMTP receiver inside host h on 127.0.0.1:port.
func receiver(t *testing.T, h *lab.Host, port string) *alerttest.Server {
	t.Helper()
	ln, err := h.Listen("tcp", "127.0.0.1:"+port)
	require.NoError(t, err)
	srv := alerttest.Serve(ln)
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func logMails(t *testing.T, who string, mails []alerttest.Mail) {
	t.Helper()
	for _, m := range mails {
		t.Logf("%s received from %s to %v:\n%s", who, m.From, m.To, strings.TrimSpace(m.Data))
	}
}

// TestVRRPAlertsE2E runs `lvsctl director up` and `lvsctl vrrp run` (the
// binary) on the seed's ka67.conf inside a namespace, with the test's SMTP
// receiver on the smtp_server the seed names (127.0.0.1:25 of that
// namespace). The seed sets no smtp_alert, and keepalived mails VRRP
// transitions only when asked: no mail. With smtp_alert_vrrp on, the
// instances' transitions (BACKUP at start, then MASTER for VI_1 and VI_2,
// which have no peer here) are mailed with keepalived's subjects.
func TestVRRPAlertsE2E(t *testing.T) {
	for _, cmd := range [][]string{{"director", "up"}, {"vrrp", "run"}} {
		t.Run(strings.Join(cmd, "-"), func(t *testing.T) { testVRRPAlerts(t, cmd) })
	}
}

func testVRRPAlerts(t *testing.T, cmd []string) {
	n := vrrplab.NewNet(t, false)
	srv := receiver(t, n.A, "25")
	seed, err := os.ReadFile("../../vrrp/testdata/ka67.conf")
	require.NoError(t, err)
	run := func(conf string) *lab.Process {
		path := filepath.Join(t.TempDir(), "keepalived.conf")
		require.NoError(t, os.WriteFile(path, []byte(conf), 0o644))
		args := append(append([]string(nil), cmd...), "-f", path)
		if cmd[0] == "director" {
			args = append(args, "--socket", filepath.Join(t.TempDir(), "s.sock"))
		}
		p := n.A.StartCmd(exec.Command(n.Lab.Lvsctl(), args...))
		vrrplab.WaitFor(t, 10*time.Second, "VI_1 MASTER on ka67", func() bool { return vrrplab.HasAddr(n.A, "eth1", "10.16.8.100") })
		vrrplab.WaitFor(t, 10*time.Second, "VI_2 MASTER on ka67 (no peer)", func() bool { return vrrplab.HasAddr(n.A, "eth1", "10.16.8.101") })
		return p
	}

	// The seed as it is: smtp_alert unset, so no VRRP mail.
	p := run(string(seed))
	got := srv.Wait(1, 2*time.Second)
	assert.Empty(t, got, "the seed sets no smtp_alert: keepalived sends no VRRP mail, nor does lvsctl")
	logMails(t, "seed as is", got)
	require.NoError(t, p.Stop(15*time.Second), p.Output())

	// smtp_alert_vrrp on.
	conf := strings.Replace(string(seed), "smtp_connect_timeout 60", "smtp_connect_timeout 60\n   smtp_alert_vrrp on\n   router_id ka67", 1)
	p = run(conf)
	mails := srv.Wait(4, 10*time.Second)
	require.NoError(t, p.Stop(15*time.Second), p.Output())
	logMails(t, "smtp_alert_vrrp on", mails)
	var subjects []string
	for _, m := range mails {
		subjects = append(subjects, m.Header("Subject"))
		assert.Equal(t, "ka@localhost", m.From)
		assert.Equal(t, []string{"root@localhost"}, m.To)
		assert.Equal(t, "lvsctl", m.Header("X-Mailer"))
	}
	for _, want := range []string{
		"[ka67] VRRP Instance VI_1 - Entering BACKUP state",
		"[ka67] VRRP Instance VI_1 - Entering MASTER state",
		"[ka67] VRRP Instance VI_2 - Entering BACKUP state",
		"[ka67] VRRP Instance VI_2 - Entering MASTER state",
	} {
		assert.Contains(t, subjects, want)
	}
	assert.Contains(t, p.Output(), "e-mail alert sent")
}

// TestHealthAlertsE2E: the daemon (fake IPVS: this kernel has none) checks
// a real server in another namespace with the real health checker and
// mails its DOWN and UP to the test's receiver; the second real server,
// smtp_alert off, goes down too and is not mailed.
func TestHealthAlertsE2E(t *testing.T) {
	l := lab.New(t)
	sw := l.Switch("lan")
	dir, rs1, rs2 := l.Host("dir"), l.Host("rs1"), l.Host("rs2")
	sw.Attach(dir, "eth0", "10.16.8.10/24")
	sw.Attach(rs1, "eth0", "10.16.8.8/24")
	sw.Attach(rs2, "eth0", "10.16.8.9/24")
	web1, web2 := rs1.ServeHTTP("0.0.0.0:80"), rs2.ServeHTTP("0.0.0.0:80")
	srv := receiver(t, dir, "2525")
	for _, a := range []string{"10.16.8.8:80", "10.16.8.9:80"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, dir.WaitTCP(ctx, a))
		cancel()
	}
	conf := filepath.Join(t.TempDir(), "keepalived.conf")
	require.NoError(t, os.WriteFile(conf, []byte(`global_defs {
   router_id lb1
   notification_email {
     ops@example.com
   }
   notification_email_from lvs@example.com
   smtp_server 127.0.0.1 2525
   smtp_connect_timeout 5
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
      smtp_alert off
      TCP_CHECK {
         connect_timeout 1
         retry 0
      }
   }
}
`), 0o644))
	dial := func(ctx context.Context, network string, local healthcheck.Local, remote netip.AddrPort) (net.Conn, error) {
		return dir.DialContext(ctx, network, remote.String())
	}
	logs, ipvs := &syncBuffer{}, fakeipvs.New()
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
			IPVS: ipvs, Health: healthcheck.New[director.RealRef](healthcheck.Options{Dial: dial}),
			AlertDial: dir.DialContext,
			Logger:    slog.New(slog.NewTextHandler(logs, nil)),
			Ready:     func(*app.Daemon) { close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon stopped: %v", err)
	}
	t.Cleanup(func() { cancel(); <-done })

	require.NoError(t, web2.Stop())
	require.NoError(t, web1.Stop())
	down := srv.Wait(1, 15*time.Second)
	require.Len(t, down, 1, logs.String())
	require.NoError(t, web1.Start())
	mails := srv.Wait(2, 15*time.Second)
	logMails(t, "receiver in namespace dir", mails)
	require.Len(t, mails, 2, logs.String())
	assert.Equal(t, "[lb1] Realserver [10.16.8.8]:tcp:80 of virtual server [10.16.8.100]:tcp:80 - DOWN", mails[0].Header("Subject"))
	assert.Contains(t, mails[0].Body(), "=> TCP_CHECK 10.16.8.8:80: ")
	assert.Equal(t, "[lb1] Realserver [10.16.8.8]:tcp:80 of virtual server [10.16.8.100]:tcp:80 - UP", mails[1].Header("Subject"))
	assert.Equal(t, "=> TCP_CHECK 10.16.8.8:80 passed <=\r\n", mails[1].Body())
	assert.Equal(t, "lvs@example.com", mails[0].From)
	// rs2 went down too (the director removed it), unmailed.
	svc := ipvs.Table()[key("10.16.8.100:80")]
	require.NotNil(t, svc)
	_, rs2In := svc.Dests[real("10.16.8.9:80")]
	assert.False(t, rs2In, "rs2 is down")
	assert.Len(t, srv.Wait(3, time.Second), 2, "rs2 has smtp_alert off: not mailed")
}
