//go:build e2e && !vm

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPackageInstallsAndUnitsVerify installs the .deb with dpkg into an
// empty root (maintainer scripts run chrootless with DPKG_ROOT set, so they
// must leave the host's systemd alone), runs the installed binary, and
// checks the installed units with systemd-analyze verify (any complaint is
// a failure: verify exits 0 on unknown keys).
func TestPackageInstallsAndUnitsVerify(t *testing.T) {
	deb := buildPackage(t)
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644))
	out, err := exec.Command("dpkg", "--root="+root, "--force-script-chrootless", "--force-not-root",
		"--log=/dev/null", "-i", deb).CombinedOutput()
	require.NoError(t, err, "dpkg -i: %s", out)

	bin := filepath.Join(root, "usr/sbin/lvsctl")
	out, err = exec.Command(bin, "--version").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "lvsctl version 0.1.0-test\n", string(out))
	out, err = exec.Command("dpkg", "--root="+root, "-s", "lvsctl").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "Status: install ok installed")

	// The units name /usr/sbin/lvsctl; verify checks the command exists,
	// so point them at the installed copy.
	units := t.TempDir()
	var paths []string
	for _, u := range []string{"lvsctl-director.service", "lvsctl-rs.service"} {
		b, err := os.ReadFile(filepath.Join(root, "lib/systemd/system", u))
		require.NoError(t, err)
		p := filepath.Join(units, u)
		require.NoError(t, os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "/usr/sbin/lvsctl", bin)), 0o644))
		paths = append(paths, p)
	}
	out, err = exec.Command("systemd-analyze", append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify complained")

	// Removing runs prerm/postrm the same way.
	out, err = exec.Command("dpkg", "--root="+root, "--force-script-chrootless", "--force-not-root",
		"--log=/dev/null", "--purge", "lvsctl").CombinedOutput()
	require.NoError(t, err, "dpkg --purge: %s", out)
	_, err = os.Stat(bin)
	require.ErrorIs(t, err, os.ErrNotExist)
}
