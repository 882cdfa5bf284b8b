package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	var states []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var st struct {
			ID     string `json:"id"`
			State  string `json:"state"`
			Checks []struct {
				Kind string `json:"kind"`
			} `json:"checks"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &st), sc.Text())
		require.Len(t, st.Checks, 1)
		states = append(states, st.State+" "+st.Checks[0].Kind)
	}
	assert.Equal(t, []string{"UP HTTP_GET", "DOWN TCP_CHECK"}, states)

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
