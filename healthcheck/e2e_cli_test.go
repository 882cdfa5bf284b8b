//go:build e2e

package healthcheck_test

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/e2e/lab"
)

// TestE2ECheckSeedConfig runs `lvsctl check --once` on the seed's LVS-DR
// configuration (HTTP_GET on 10.16.8.8/9:80) from a director namespace
// against two real-server namespaces.
func TestE2ECheckSeedConfig(t *testing.T) {
	conf, err := filepath.Abs("../internal/config/testdata/seed/lvs-dr-ka67.conf")
	require.NoError(t, err)

	l := lab.New(t)
	bin := l.Lvsctl()
	sw := l.Switch("lan")
	dir, rs1, rs2 := l.Host("dir"), l.Host("rs1"), l.Host("rs2")
	sw.Attach(dir, "eth0", "10.16.8.2/24")
	sw.Attach(rs1, "eth0", "10.16.8.8/24")
	sw.Attach(rs2, "eth0", "10.16.8.9/24")
	rs1.ServeHTTP("10.16.8.8:80")
	web2 := rs2.ServeHTTP("10.16.8.9:80")

	text, err := dir.Run(bin, "check", "-f", conf, "--once")
	require.NoError(t, err, text)
	assert.Equal(t, 4, strings.Count(text, "HTTP_GET http://10.16.8.")/2, text)
	assert.NotContains(t, text, "DOWN")

	require.NoError(t, web2.Stop())
	text, err = dir.Run(bin, "check", "-f", conf, "--once", "-o", "json")
	var exitErr *exec.ExitError
	require.True(t, errors.As(err, &exitErr), "want exit status 1, got %v: %s", err, text)
	assert.Equal(t, 1, exitErr.ExitCode())
	// two real servers (one per virtual server), each with its checker line
	assert.Equal(t, 4, strings.Count(text, `"state":"DOWN","reason":"HTTP_GET http://10.16.8.9:80/`), text)
	assert.Equal(t, 2, strings.Count(text, `"id":"TCP 10.16.8.10`)-strings.Count(text, `"state":"DOWN","reason":"HTTP_GET http://10.16.8.9`)/2, text)

}
