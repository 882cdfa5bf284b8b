//go:build vm

package guest_test

import (
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/e2e/vm/guest"
)

// TestGuestEnvironment checks what the VM tier promises every test: IPVS,
// a sane clock and random source, writable /var/run, the package directory
// as working directory and the runner's extra binaries in PATH.
func TestGuestEnvironment(t *testing.T) {
	guest.RequireIPVS(t)

	_, err := os.Stat("/proc/net/ip_vs")
	require.NoError(t, err, "IPVS proc file")
	hostUnix, err := strconv.ParseInt(os.Getenv("LVSCTL_VM_HOST_TIME"), 10, 64)
	require.NoError(t, err, "LVSCTL_VM_HOST_TIME from the runner")
	skew := time.Since(time.Unix(hostUnix, 0))
	assert.True(t, skew > -time.Minute && skew < 10*time.Minute,
		"the guest clock (from the emulated RTC) should be close to the host's: %v after the initramfs was made", skew)
	var b [32]byte
	_, err = rand.Read(b[:])
	require.NoError(t, err)

	dir := filepath.Join("/var/run", "netns")
	require.NoError(t, os.MkdirAll(dir, 0o755), "named network namespaces live here")

	wd, err := os.Getwd()
	require.NoError(t, err)
	assert.Equal(t, "/src/e2e/vm/guest", wd, "tests run in their package directory, like go test")

	for _, name := range strings.Fields(os.Getenv("LVSCTL_VM_BINS")) {
		p, err := exec.LookPath(name)
		require.NoError(t, err, "extra binary %s", name)
		out, err := exec.Command(p, "--help").CombinedOutput()
		require.NoError(t, err, "%s --help: %s", name, out)
	}
	// Dynamically linked host programs (-host-bin): the loader, their
	// libraries and whatever they need at start must be in the guest.
	for _, name := range strings.Fields(os.Getenv("LVSCTL_VM_HOST_BINS")) {
		p, err := exec.LookPath(name)
		require.NoError(t, err, "host binary %s", name)
		out, err := exec.Command(p, "--version").CombinedOutput()
		require.NoError(t, err, "%s --version: %s", name, out)
	}
}
