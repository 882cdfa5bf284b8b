//go:build e2e

package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/realserver"
)

// rsExec runs lvsctl inside h and returns its output and exit code.
func rsExec(t *testing.T, h *lab.Host, bin string, args ...string) (string, int) {
	t.Helper()
	out, err := h.Run(bin, args...)
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out, exit.ExitCode()
	}
	require.NoError(t, err)
	return out, 0
}

// rsARPReply asks, from inside client, who has ip, and returns the MAC of
// the answer or nil when nobody answers within about two seconds.
func rsARPReply(t *testing.T, client *lab.Host, ifname, ip string) net.HardwareAddr {
	t.Helper()
	var c *arp.Client
	require.NoError(t, client.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		c, err = arp.Dial(ifi)
		return err
	}))
	defer c.Close()
	for range 3 {
		require.NoError(t, c.SetDeadline(time.Now().Add(700*time.Millisecond)))
		mac, err := c.Resolve(netip.MustParseAddr(ip))
		if err == nil {
			return mac
		}
		var ne net.Error
		require.True(t, errors.As(err, &ne) && ne.Timeout(), "ARP for %s: %v", ip, err)
	}
	return nil
}

// TestRSCLIRestoresNonDefaultSysctls: a fresh namespace whose ARP sysctls
// are not the defaults; rs start then rs stop leaves them exactly as found.
func TestRSCLIRestoresNonDefaultSysctls(t *testing.T) {
	l := lab.New(t)
	bin := l.Lvsctl()
	rs := l.Host("rs")
	l.Switch("lan").Attach(rs, "eth0", "10.16.8.8/24")
	keys := map[string]string{
		"net.ipv4.conf.all.arp_ignore": "3", "net.ipv4.conf.all.arp_announce": "1",
		"net.ipv4.conf.lo.arp_ignore": "0", "net.ipv4.conf.lo.arp_announce": "1",
		"net.ipv4.conf.eth0.arp_ignore": "8", "net.ipv4.conf.eth0.arp_announce": "0",
	}
	for k, v := range keys {
		rs.SetSysctl(k, v)
	}
	state := t.TempDir()
	loBefore := rs.Addrs("lo")

	out, code := rsExec(t, rs, bin, "rs", "start", "--state-dir", state,
		"--vip", "10.16.8.100", "--vip", "10.16.8.101", "--iface", "eth0")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "set      net.ipv4.conf.eth0.arp_ignore=1 (was 8)")
	for k, want := range map[string]string{
		"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": "2",
		"net.ipv4.conf.lo.arp_ignore": "1", "net.ipv4.conf.lo.arp_announce": "2",
		"net.ipv4.conf.eth0.arp_ignore": "1", "net.ipv4.conf.eth0.arp_announce": "2",
	} {
		assert.Equal(t, want, rs.Sysctl(k), k)
	}
	assert.Subset(t, rs.Addrs("lo"), []string{"10.16.8.100/32", "10.16.8.101/32"})
	label, err := rs.Run("ip", "-4", "-o", "addr", "show", "dev", "lo", "label", "lo:lvsctl")
	require.NoError(t, err)
	assert.Contains(t, label, "10.16.8.100/32")

	// Second start: nothing to do, nothing changes.
	recorded, err := os.ReadFile(filepath.Join(state, "rs.json"))
	require.NoError(t, err)
	out, code = rsExec(t, rs, bin, "rs", "start", "--state-dir", state,
		"--vip", "10.16.8.100,10.16.8.101", "--iface", "eth0")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "nothing to do")
	again, err := os.ReadFile(filepath.Join(state, "rs.json"))
	require.NoError(t, err)
	assert.Equal(t, string(recorded), string(again))

	out, code = rsExec(t, rs, bin, "rs", "stop", "--state-dir", state)
	require.Equal(t, 0, code, out)
	for k, want := range keys {
		assert.Equal(t, want, rs.Sysctl(k), "%s restored", k)
	}
	assert.ElementsMatch(t, loBefore, rs.Addrs("lo"))
	assert.NoFileExists(t, filepath.Join(state, "rs.json"))

	out, code = rsExec(t, rs, bin, "rs", "stop", "--state-dir", state)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "nothing to undo")
}

// TestRSCLIRealPackets: client and real server on one switch. After rs
// start the real server does not answer ARP for the VIP, yet a connection to
// VIP:80 sent to its MAC (as a DR director does) is answered; after rs stop
// it answers ARP for nothing it did not own before.
func TestRSCLIRealPackets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := lab.New(t)
	bin := l.Lvsctl()
	sw := l.Switch("lan")
	client, rs := l.Host("client"), l.Host("rs")
	sw.Attach(client, "eth0", "10.16.8.2/24")
	sw.Attach(rs, "eth0", "10.16.8.8/24")
	rs.ServeHTTP("0.0.0.0:80")
	rsMAC := rs.HWAddr("eth0")
	state := t.TempDir()
	const vip = "10.16.8.100"
	// An address that was on lo before lvsctl: with the kernel defaults the
	// host answers ARP for it on eth0, which is what rs.sh exists to stop.
	rs.AddAddr("lo", "10.16.8.99/32")

	// Controls: the probe sees answers, and nobody has the VIP yet.
	assert.Equal(t, rsMAC, rsARPReply(t, client, "eth0", "10.16.8.8"))
	assert.Equal(t, rsMAC, rsARPReply(t, client, "eth0", "10.16.8.99"), "defaults answer for lo addresses")
	assert.Nil(t, rsARPReply(t, client, "eth0", vip))

	out, code := rsExec(t, rs, bin, "rs", "start", "--state-dir", state, "--vip", vip)
	require.Equal(t, 0, code, out)

	assert.Nil(t, rsARPReply(t, client, "eth0", vip), "the real server must not answer ARP for the VIP")
	assert.Nil(t, rsARPReply(t, client, "eth0", "10.16.8.99"))
	assert.Equal(t, rsMAC, rsARPReply(t, client, "eth0", "10.16.8.8"), "its own address still resolves")

	// The director's job, done by hand: VIP traffic goes to the rs's MAC.
	client.AddNeigh("eth0", vip, rsMAC)
	body, err := client.Get(ctx, "http://"+vip+"/")
	require.NoError(t, err)
	assert.Equal(t, "rs", body)

	out, code = rsExec(t, rs, bin, "rs", "status", "--state-dir", state, "-o", "json")
	require.Equal(t, 0, code, out)
	var st realserver.Status
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	var verdicts []string
	for _, v := range st.VIPs {
		verdicts = append(verdicts, v.Addr.String()+"="+map[bool]string{true: "ready", false: "not"}[v.Ready])
	}
	assert.ElementsMatch(t, []string{"10.16.8.99=ready", vip + "=ready"}, verdicts)

	out, code = rsExec(t, rs, bin, "rs", "stop", "--state-dir", state)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "removed  "+vip+"/32 from lo")

	assert.Nil(t, rsARPReply(t, client, "eth0", vip), "after stop the VIP is not the rs's")
	assert.Equal(t, rsMAC, rsARPReply(t, client, "eth0", "10.16.8.99"), "back to what it was before")
	assert.Equal(t, rsMAC, rsARPReply(t, client, "eth0", "10.16.8.8"))
	short, cancelShort := context.WithTimeout(ctx, time.Second)
	_, err = client.Get(short, "http://"+vip+"/")
	cancelShort()
	require.Error(t, err, "the rs no longer accepts VIP traffic")

	out, code = rsExec(t, rs, bin, "rs", "status", "--state-dir", state)
	assert.Equal(t, rsNotReadyExit, code, out)
	assert.True(t, strings.Contains(out, "10.16.8.99") && strings.Contains(out, "NOT READY"), out)
}
