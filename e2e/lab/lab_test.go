//go:build e2e

package lab_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/e2e/lab"
)

func TestLabHostsTalkOverSwitch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := lab.New(t)
	sw := l.Switch("lan")
	client, rs1 := l.Host("client"), l.Host("rs1")
	sw.Attach(client, "eth0", "10.16.8.2/24")
	link := sw.Attach(rs1, "eth0", "10.16.8.8/24")
	srv := rs1.ServeHTTP("0.0.0.0:80")

	body, err := client.Get(ctx, "http://10.16.8.8/")
	require.NoError(t, err)
	require.Equal(t, "rs1", body)
	require.EqualValues(t, 1, srv.Requests())

	// A cut cable stops traffic; reconnecting restores it.
	link.Cut()
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = client.Get(short, "http://10.16.8.8/")
	cancelShort()
	require.Error(t, err)
	link.Reconnect()
	require.NoError(t, client.WaitTCP(ctx, "10.16.8.8:80"))

	// A stopped server refuses connections, a restarted one answers.
	require.NoError(t, srv.Stop())
	_, err = client.Get(ctx, "http://10.16.8.8/")
	require.ErrorContains(t, err, "connection refused")
	require.NoError(t, srv.Start())
	body, err = client.Get(ctx, "http://10.16.8.8/")
	require.NoError(t, err)
	require.Equal(t, "rs1", body)
}

func TestLabSysctlsAndProcessesStayInTheHost(t *testing.T) {
	l := lab.New(t)
	h := l.Host("h1")
	root, err := os.ReadFile("/proc/sys/net/ipv4/conf/all/arp_ignore")
	require.NoError(t, err)

	h.SetSysctl("net.ipv4.conf.all.arp_ignore", "2")
	require.Equal(t, "2", h.Sysctl("net.ipv4.conf.all.arp_ignore"))
	after, err := os.ReadFile("/proc/sys/net/ipv4/conf/all/arp_ignore")
	require.NoError(t, err)
	require.Equal(t, string(root), string(after), "the root namespace must not change")

	h.AddAddr("lo", "10.16.8.100/32")
	require.Contains(t, h.Addrs("lo"), "10.16.8.100/32")

	// A process started in the host sees the host's sysctl.
	p := h.Start("cat", "/proc/sys/net/ipv4/conf/all/arp_ignore")
	require.NoError(t, p.Wait(10*time.Second))
	require.Equal(t, "2", strings.TrimSpace(p.Output()))
}

func TestLabRemovesItsNamespaces(t *testing.T) {
	var nsPath string
	t.Run("inner", func(t *testing.T) {
		h := lab.New(t).Host("gone")
		nsPath = h.NSPath()
		_, err := os.Stat(nsPath)
		require.NoError(t, err)
	})
	_, err := os.Stat(nsPath)
	require.True(t, os.IsNotExist(err), "namespace %s still exists: %v", filepath.Base(nsPath), err)
}
