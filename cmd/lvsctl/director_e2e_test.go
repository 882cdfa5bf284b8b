//go:build e2e && !vm

package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The host tier's kernel has no IPVS: the director must say so and how to
// fix it, before touching anything.
func TestDirectorWithoutIPVSExplainsModprobe(t *testing.T) {
	code, _, errs := runDirectorCLI("director", "ipvs")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "modprobe ip_vs")

	sock := filepath.Join(t.TempDir(), "d.sock")
	code, _, errs = runDirectorCLI("director", "up", "-f", "../../internal/config/testdata/seed/lvs-dr-ka67.conf",
		"--socket", sock, "--no-vrrp")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "modprobe ip_vs")
	assert.NoFileExists(t, sock)
}
