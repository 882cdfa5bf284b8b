package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestVRRPRunRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	noVRRP := filepath.Join(dir, "novrrp.conf")
	assert.NoError(t, os.WriteFile(noVRRP, []byte("global_defs {\n    router_id ka67\n}\n"), 0o644))
	ah := filepath.Join(dir, "ah.conf")
	assert.NoError(t, os.WriteFile(ah, []byte(`vrrp_instance VI_1 {
    interface lo
    virtual_router_id 1
    authentication {
        auth_type AH
        auth_pass x
    }
    virtual_ipaddress {
        10.16.8.100
    }
}
`), 0o644))
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"missing file":   {[]string{"lvsctl", "vrrp", "run", "-f", filepath.Join(dir, "nope.conf")}, "nope.conf"},
		"no instance":    {[]string{"lvsctl", "vrrp", "run", "-f", noVRRP}, "no vrrp_instance"},
		"bad log level":  {[]string{"lvsctl", "vrrp", "run", "-f", noVRRP, "--log-level", "loud"}, "invalid log level"},
		"AH unsupported": {[]string{"lvsctl", "vrrp", "run", "-f", ah}, "AH"},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			assert.NotZero(t, code)
			assert.Contains(t, stderr.String(), tc.want)
		})
	}
}
