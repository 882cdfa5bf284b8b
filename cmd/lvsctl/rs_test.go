package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/lvsctl/lvsctl/realserver"
	"github.com/lvsctl/lvsctl/realserver/rstest"
)

// rsRig drives the rs commands against recording fakes: these tests never
// touch the host, also when they run as root.
type rsRig struct {
	sys    *rstest.Sysctls
	addrs  *rstest.Addrs
	euid   int
	opened int
	dir    string
}

func newRSRig(t *testing.T) *rsRig {
	t.Helper()
	r := &rsRig{sys: rstest.NewSysctls("eth0"), addrs: rstest.NewAddrs(), dir: t.TempDir()}
	r.addrs.Put("eth0", "10.16.8.8/24", "eth0")
	return r
}

func (r *rsRig) env() rsEnv {
	return rsEnv{
		geteuid: func() int { return r.euid },
		kernel: func() (realserver.Sysctls, realserver.Addrs, func(), error) {
			r.opened++
			return r.sys, r.addrs, func() {}, nil
		},
	}
}

// run runs "lvsctl rs ARGS..." and returns stdout, stderr and the exit code
// run() would return.
func (r *rsRig) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	app := &cli.App{
		Name: "lvsctl", Writer: &stdout, ErrWriter: &stderr,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands:       []*cli.Command{rsCommandWith(r.env())},
	}
	full := append([]string{"lvsctl", "rs"}, args...)
	if len(args) > 0 && args[0] != "--help" {
		full = append([]string{"lvsctl", "rs", args[0], "--state-dir", r.dir}, args[1:]...)
	}
	err := app.Run(full)
	code := 0
	if err != nil {
		code = 1
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			code = ec.ExitCode()
		}
		if msg := err.Error(); msg != "" {
			stderr.WriteString("lvsctl: " + msg + "\n")
		}
	}
	return stdout.String(), stderr.String(), code
}

func TestRSStartStopWithVIPFlags(t *testing.T) {
	r := newRSRig(t)
	out, errOut, code := r.run(t, "start", "--vip", "10.16.8.100", "--vip", "10.16.8.101")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "set      net.ipv4.conf.all.arp_ignore=1 (was 0)\n")
	assert.Contains(t, out, "set      net.ipv4.conf.lo.arp_announce=2 (was 0)\n")
	assert.Contains(t, out, "added    10.16.8.100/32 on lo (lo:lvsctl)\n")
	assert.Contains(t, out, "added    10.16.8.101/32 on lo (lo:lvsctl)\n")
	assert.Contains(t, out, "real server ready for 10.16.8.100, 10.16.8.101")
	assert.Contains(t, r.addrs.OnLo(), "10.16.8.101/32")

	out, _, code = r.run(t, "start", "--vip", "10.16.8.100", "--vip", "10.16.8.101")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "nothing to do: already a real server for 10.16.8.100, 10.16.8.101\n")

	out, errOut, code = r.run(t, "stop")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "removed  10.16.8.100/32 from lo\n")
	assert.Contains(t, out, "restored net.ipv4.conf.all.arp_ignore=0 (was 1)\n")
	assert.Contains(t, out, "state file "+filepath.Join(r.dir, "rs.json")+" removed\n")
	assert.Equal(t, []string{"127.0.0.1/8", "::1/128"}, r.addrs.OnLo())

	out, _, code = r.run(t, "stop")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "nothing to undo")
}

func TestRSStartFromEnvironment(t *testing.T) {
	r := newRSRig(t)
	t.Setenv("LVSCTL_VIPS", "10.16.8.100,2001:db8::100")
	t.Setenv("LVSCTL_IFACES", "eth0")
	_, errOut, code := r.run(t, "start")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, []string{"127.0.0.1/8", "::1/128", "10.16.8.100/32", "2001:db8::100/128"}, r.addrs.OnLo())
	assert.Equal(t, "1", r.sys.Value("eth0", "arp_ignore"))

	// LVSCTL_STATE_DIR is honoured as well.
	other := t.TempDir()
	t.Setenv("LVSCTL_STATE_DIR", other)
	var stdout, stderr bytes.Buffer
	app := &cli.App{Name: "lvsctl", Writer: &stdout, ErrWriter: &stderr, Commands: []*cli.Command{rsCommandWith(r.env())}}
	require.NoError(t, app.Run([]string{"lvsctl", "rs", "stop"}))
	assert.Contains(t, stdout.String(), "nothing to undo: no state file "+filepath.Join(other, "rs.json"))
}

func TestRSStartRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		euid    int
		wantErr string
	}{
		{name: "no VIPs", args: []string{"start"}, wantErr: "no VIPs: give --vip ADDR"},
		{name: "bad VIP", args: []string{"start", "--vip", "10.16.8.300"}, wantErr: `"10.16.8.300" is not an IP address`},
		{name: "network", args: []string{"start", "--vip", "10.16.8.0/24"}, wantErr: "10.16.8.0/24 is a network"},
		{name: "network of eth0", args: []string{"start", "--vip", "10.16.8.0"},
			wantErr: "10.16.8.0 is the network address of 10.16.8.0/24 (on eth0)"},
		{name: "duplicate", args: []string{"start", "--vip", "10.16.8.100,10.16.8.100"}, wantErr: "given twice"},
		{name: "both sources", args: []string{"start", "--vip", "10.16.8.100", "-f", "x.conf"}, wantErr: "not both"},
		{name: "missing config", args: []string{"start", "-f", "/nonexistent/keepalived.conf"}, wantErr: "no such file"},
		{name: "unknown interface", args: []string{"start", "--vip", "10.16.8.100", "--iface", "eth9"},
			wantErr: "no such interface: eth9"},
		{name: "not root", args: []string{"start", "--vip", "10.16.8.100"}, euid: 1000,
			wantErr: "lvsctl: rs start must run as root"},
		{name: "stop not root", args: []string{"stop"}, euid: 1000, wantErr: "lvsctl: rs stop must run as root"},
		{name: "bad output", args: []string{"start", "--vip", "10.16.8.100", "-o", "yaml"}, wantErr: `unknown output format "yaml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRSRig(t)
			r.euid = tc.euid
			_, errOut, code := r.run(t, tc.args...)
			assert.NotEqual(t, 0, code)
			assert.Contains(t, errOut, tc.wantErr)
			assert.Empty(t, r.sys.Writes, "nothing changed")
			assert.Empty(t, r.addrs.Calls, "nothing changed")
			_, err := os.Stat(filepath.Join(r.dir, "rs.json"))
			assert.True(t, os.IsNotExist(err))
			if tc.euid != 0 {
				assert.Zero(t, r.opened, "a non-root run does not even open the kernel side")
			}
		})
	}
}

const rsTestConf = `global_defs {
    router_id ka67
}
virtual_server 10.16.8.100 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.16.8.8 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
virtual_server 10.16.8.100 443 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.16.8.8 443 {
        weight 1
    }
}
virtual_server 10.16.8.101 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.16.8.8 80 {
        weight 1
    }
}
`

func writeConf(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keepalived.conf")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

func TestRSStartFromKeepalivedConf(t *testing.T) {
	r := newRSRig(t)
	conf := writeConf(t, rsTestConf)
	out, errOut, code := r.run(t, "start", "-f", conf)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, []string{"add 10.16.8.100/32 lo:lvsctl", "add 10.16.8.101/32 lo:lvsctl"}, r.addrs.Calls,
		"one VIP per distinct virtual_server address")
	assert.Contains(t, out, "real server ready for 10.16.8.100, 10.16.8.101")

	// status -f judges the file's VIPs.
	out, errOut, code = r.run(t, "status", "-f", conf)
	assert.Equal(t, 0, code, errOut+out)
}

func TestRSStartFromConfWithoutVirtualServers(t *testing.T) {
	r := newRSRig(t)
	conf := writeConf(t, "global_defs {\n    router_id ka67\n}\n")
	_, errOut, code := r.run(t, "start", "-f", conf)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "has no virtual_server with an address: no VIP to bind")
	assert.Empty(t, r.sys.Writes)
}

func TestRSStartFromInvalidConf(t *testing.T) {
	r := newRSRig(t)
	conf := writeConf(t, "virtual_server 10.16.8.100 80 {\n    lb_kind DR\n    bogus_keyword 1\n}\n")
	_, errOut, code := r.run(t, "start", "-f", conf)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, conf+":3:")
	assert.Contains(t, errOut, "is invalid")
	assert.Empty(t, r.sys.Writes)
	assert.Empty(t, r.addrs.Calls)
}

func TestRSStopLimitedToVIP(t *testing.T) {
	r := newRSRig(t)
	_, _, code := r.run(t, "start", "--vip", "10.16.8.100,10.16.8.101")
	require.Equal(t, 0, code)
	out, errOut, code := r.run(t, "stop", "--vip", "10.16.8.101", "--vip", "10.16.8.102")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "removed  10.16.8.101/32 from lo\n")
	assert.Contains(t, out, "left     10.16.8.102: not added by lvsctl\n")
	assert.Contains(t, out, "still bound: 10.16.8.100/32\n")
	assert.Contains(t, out, "the ARP sysctls stay while an IPv4 VIP of lvsctl is bound\n")
	assert.Equal(t, "1", r.sys.Value("all", "arp_ignore"))
}

func TestRSStatus(t *testing.T) {
	r := newRSRig(t)
	out, _, code := r.run(t, "status")
	assert.Equal(t, rsNotReadyExit, code)
	assert.Contains(t, out, "no VIP on lo: not a real server")
	assert.Contains(t, out, "state file: none")

	out, _, code = r.run(t, "status", "--vip", "10.16.8.100")
	assert.Equal(t, rsNotReadyExit, code)
	assert.Regexp(t, `10\.16\.8\.100 +no +- +no +NOT READY: not bound on lo`, out)
	assert.Contains(t, out, "eth0: arp_ignore is 0 (max of all=0, eth0=0)")

	_, _, code = r.run(t, "start", "--vip", "10.16.8.100")
	require.Equal(t, 0, code)
	out, errOut, code := r.run(t, "status")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `10\.16\.8\.100 +yes +lo:lvsctl +yes +ready`, out)
	assert.Regexp(t, `eth0 +1/0=1 +2/0=2`, out)
	assert.Contains(t, out, "(1 VIPs, 4 sysctls recorded)")

	out, errOut, code = r.run(t, "status", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var st realserver.Status
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Len(t, st.VIPs, 1)
	assert.True(t, st.VIPs[0].Ready)
	assert.Equal(t, realserver.Effective{All: 1, Iface: 0, Effective: 1}, st.Interfaces[0].ARPIgnore)
	require.NotNil(t, st.State)
	assert.Len(t, st.State.Sysctls, 4)

	// status needs no root.
	r.euid = 1000
	_, _, code = r.run(t, "status")
	assert.Equal(t, 0, code)
}

func TestRSStartJSON(t *testing.T) {
	r := newRSRig(t)
	out, errOut, code := r.run(t, "start", "--vip", "10.16.8.100", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var rep realserver.StartReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Len(t, rep.Set, 4)
	assert.Equal(t, "10.16.8.100/32", rep.Added[0].String())
}

func TestRSIsWiredIntoTheApp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"lvsctl", "rs", "start", "--help"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	for _, env := range []string{"LVSCTL_VIPS", "LVSCTL_CONFIG", "LVSCTL_IFACES", "LVSCTL_STATE_DIR"} {
		assert.Contains(t, stdout.String(), env)
	}
}
