package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/healthcheck"
)

func writeCheckConf(t *testing.T, upAddr, downAddr string) string {
	t.Helper()
	host, port, err := net.SplitHostPort(upAddr)
	require.NoError(t, err)
	_, downPort, err := net.SplitHostPort(downAddr)
	require.NoError(t, err)
	conf := fmt.Sprintf(`
virtual_server 10.16.8.100 80 {
    delay_loop 1
    lb_kind NAT
    protocol TCP
    real_server %[1]s %[2]s {
        HTTP_GET {
            url {
              path /
              status_code 200
            }
            connect_timeout 1
            retry 0
            delay_before_retry 1
        }
    }
    real_server 127.0.0.1 %[3]s {
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
}
`, host, port, downPort)
	path := filepath.Join(t.TempDir(), "keepalived.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
	return path
}

func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a := ln.Addr().String()
	require.NoError(t, ln.Close())
	return a
}

func TestCheckOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	up := strings.TrimPrefix(srv.URL, "http://")
	down := closedAddr(t)

	conf := writeCheckConf(t, up, down)
	code, out, errOut := runLvsctl("check", "-f", conf, "--once")
	assert.Equal(t, 1, code, "one real server is down: %s", errOut)
	assert.Contains(t, out, "UP   TCP 10.16.8.100:80 -> "+up+": HTTP_GET http://"+up+"/ passed")
	assert.Contains(t, out, "DOWN TCP 10.16.8.100:80 -> "+down+": TCP_CHECK "+down+": connect:")

	code, out, _ = runLvsctl("check", "-f", conf, "--once", "-o", "json")
	assert.Equal(t, 1, code)
	var states, reals []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var st struct {
			ID      string `json:"id"`
			Service struct {
				Protocol string `json:"protocol"`
				Address  string `json:"address"`
				Port     int    `json:"port"`
				Family   string `json:"family"`
			} `json:"service"`
			Real struct {
				Address string `json:"address"`
				Port    int    `json:"port"`
			} `json:"real"`
			State  string `json:"state"`
			Checks []struct {
				Kind string `json:"kind"`
			} `json:"checks"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &st), sc.Text())
		require.Len(t, st.Checks, 1)
		states = append(states, st.State+" "+st.Checks[0].Kind)
		assert.Equal(t, "TCP 10.16.8.100:80 inet", fmt.Sprintf("%s %s:%d %s", st.Service.Protocol, st.Service.Address, st.Service.Port, st.Service.Family))
		real := net.JoinHostPort(st.Real.Address, strconv.Itoa(st.Real.Port))
		reals = append(reals, real)
		assert.Equal(t, "TCP 10.16.8.100:80 -> "+real, st.ID)
		assert.NotContains(t, sc.Text(), `"weight"`, "no dynamic weight: no weight field")
	}
	assert.Equal(t, []string{"UP HTTP_GET", "DOWN TCP_CHECK"}, states)
	assert.Equal(t, []string{up, down}, reals)

	// With the second server listening too, all are up: exit 0.
	ln, err := net.Listen("tcp", down)
	require.NoError(t, err)
	defer ln.Close()
	code, _, errOut = runLvsctl("check", "-f", conf, "--once")
	assert.Equal(t, 0, code, errOut)
}

func TestCheckWatchPrintsInitialStates(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	up := strings.TrimPrefix(srv.URL, "http://")
	down := closedAddr(t)
	conf := writeCheckConf(t, up, down)
	code, out, errOut := runLvsctl("check", "-f", conf, "--duration", "1500ms")
	assert.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// Initial states first (both up: keepalived starts real servers up),
	// then the transition of the closed port to DOWN.
	assert.Contains(t, out, "UP   TCP 10.16.8.100:80 -> "+down+": initial state")
	assert.Contains(t, lines[len(lines)-1], "UP -> DOWN TCP 10.16.8.100:80 -> "+down+": TCP_CHECK "+down+": connect:")
}

func TestCheckBadOutput(t *testing.T) {
	code, _, errOut := runLvsctl("check", "-f", "/nonexistent", "-o", "yaml")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "unknown output format")
}

// The text names a real server as keepalived.conf does (a fwmark service
// by its mark alone); JSON gives the same identity as fields, and a
// dynamic weight only when there is one.
func TestCheckOutputOfKeys(t *testing.T) {
	ap := func(s string) director.DestKey {
		a := netip.MustParseAddrPort(s)
		return director.DestKey{Addr: a.Addr(), Port: a.Port()}
	}
	v4 := director.ServiceKey{Family: director.IPv4, Protocol: director.TCP, Addr: netip.MustParseAddr("10.16.8.100"), Port: 80}
	v6 := director.ServiceKey{Family: director.IPv6, Protocol: director.UDP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 53}
	fwm6 := director.ServiceKey{Family: director.IPv6, FWMark: 7}
	for _, c := range []struct {
		ref        director.RealRef
		text, json string
	}{
		{director.RealRef{Service: v4, Real: ap("10.16.8.8:80")}, "TCP 10.16.8.100:80 -> 10.16.8.8:80",
			`"service":{"protocol":"TCP","address":"10.16.8.100","port":80,"family":"inet"},"real":{"address":"10.16.8.8","port":80},"id":"TCP 10.16.8.100:80 -> 10.16.8.8:80"`},
		{director.RealRef{Service: v6, Real: ap("[2001:db8::8]:53")}, "UDP [2001:db8::1]:53 -> [2001:db8::8]:53",
			`"service":{"protocol":"UDP","address":"2001:db8::1","port":53,"family":"inet6"},"real":{"address":"2001:db8::8","port":53},"id":"UDP [2001:db8::1]:53 -> [2001:db8::8]:53"`},
		{director.RealRef{Service: fwm6, Real: ap("[2001:db8::8]:80")}, "FWM 7 -> [2001:db8::8]:80",
			`"service":{"fwmark":7,"family":"inet6"},"real":{"address":"2001:db8::8","port":80},"id":"FWM 7 -> [2001:db8::8]:80"`},
	} {
		assert.Equal(t, c.text, realText(c.ref))
		var b strings.Builder
		p := &printer{w: &b, json: true}
		at := time.Date(2026, 11, 25, 17, 40, 1, 0, time.UTC)
		require.NoError(t, p.event(healthcheck.Event[director.RealRef]{Key: c.ref, Old: healthcheck.Up, New: healthcheck.Down, Reason: "r", Time: at}))
		assert.Equal(t, `{"time":"2026-11-25T17:40:01Z",`+c.json+`,"old":"UP","new":"DOWN","reason":"r"}`+"\n", b.String())
		b.Reset()
		require.NoError(t, p.status(healthcheck.Status[director.RealRef]{Key: c.ref, State: healthcheck.Up, Reason: "ok", Weight: 0, HasWeight: true}))
		assert.Equal(t, `{`+c.json+`,"state":"UP","reason":"ok","weight":0,"checks":null}`+"\n", b.String())
		b.Reset()
		p.json = false
		require.NoError(t, p.event(healthcheck.Event[director.RealRef]{Key: c.ref, Old: healthcheck.Down, New: healthcheck.Up, Reason: "r", Time: at, Weight: 3, HasWeight: true}))
		assert.Equal(t, "2026-11-25T17:40:01Z DOWN -> UP "+c.text+": r (weight 3)\n", b.String())
	}
}
