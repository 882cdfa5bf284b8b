package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// debFile is one member of the package's data or control archive.
type debFile struct {
	Mode os.FileMode
	Type byte
	Data []byte
}

// readDeb reads a .deb (an ar archive of debian-binary, control.tar.gz and
// data.tar.gz) back into its control and data members, by path.
func readDeb(t *testing.T, path string) (control, data map[string]debFile) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	members := readAr(t, raw)
	require.Equal(t, "2.0\n", string(members["debian-binary"]))
	return readTarGz(t, members["control.tar.gz"]), readTarGz(t, members["data.tar.gz"])
}

// readAr parses the common ar format dpkg writes: a global header, then
// 60-byte member headers (name, mtime, uid, gid, mode, size, magic), each
// member padded to an even length.
func readAr(t *testing.T, raw []byte) map[string][]byte {
	t.Helper()
	require.True(t, bytes.HasPrefix(raw, []byte("!<arch>\n")), "not an ar archive")
	out := map[string][]byte{}
	for p := 8; p < len(raw); {
		require.LessOrEqual(t, p+60, len(raw), "truncated ar header")
		h := raw[p : p+60]
		require.Equal(t, "`\n", string(h[58:60]), "bad ar member magic")
		name := strings.TrimSuffix(strings.TrimSpace(string(h[0:16])), "/")
		size, err := strconv.Atoi(strings.TrimSpace(string(h[48:58])))
		require.NoError(t, err)
		p += 60
		out[name] = raw[p : p+size]
		p += size + size%2
	}
	return out
}

func readTarGz(t *testing.T, b []byte) map[string]debFile {
	t.Helper()
	require.NotEmpty(t, b)
	zr, err := gzip.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	tr := tar.NewReader(zr)
	out := map[string]debFile{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		name := "/" + strings.Trim(strings.TrimPrefix(h.Name, "."), "/")
		out[name] = debFile{Mode: os.FileMode(h.Mode).Perm(), Type: h.Typeflag, Data: data}
	}
}

// buildPackage builds lvsctl and packages it into a temporary directory.
func buildPackage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "lvsctl")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version=0.1.0-test", "-o", bin, "../../cmd/lvsctl")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	path, err := Build(Options{Bin: bin, Version: "0.1.0-test", Arch: "amd64", Root: "../..", Out: filepath.Join(dir, "out")})
	require.NoError(t, err)
	return path
}

func controlFields(t *testing.T, b []byte) map[string]string {
	t.Helper()
	f := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ": "); ok && !strings.HasPrefix(k, " ") {
			f[k] = v
		}
	}
	return f
}

func mustHave(t *testing.T, files map[string]debFile, path string, mode os.FileMode) debFile {
	t.Helper()
	f, ok := files[path]
	if !ok {
		var names []string
		for n := range files {
			names = append(names, n)
		}
		t.Fatalf("package lacks %s; it has %v", path, names)
	}
	require.Equal(t, mode, f.Mode, "mode of %s", path)
	return f
}

func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	out, err := io.ReadAll(zr)
	require.NoError(t, err)
	return string(out)
}

func TestDebVersion(t *testing.T) {
	for in, want := range map[string]string{"v1.2.3": "1.2.3", "1.2.3-4-gabc": "1.2.3~4~gabc", "abc123": "0~gitabc123", "": "0~git"} {
		require.Equal(t, want, DebVersion(in), in)
	}
}

// TestPackageContents reads the built .deb back with Go's archive readers:
// every file the operator relies on is there with its mode, the defaults
// are conffiles, and the maintainer scripts start and enable nothing.
func TestPackageContents(t *testing.T) {
	control, data := readDeb(t, buildPackage(t))

	fields := controlFields(t, control["/control"].Data)
	require.Equal(t, "lvsctl", fields["Package"])
	require.Equal(t, "0.1.0~test", fields["Version"])
	require.Equal(t, "amd64", fields["Architecture"])
	require.Equal(t, "keepalived", fields["Conflicts"])

	require.Equal(t, "/etc/default/lvsctl-director\n/etc/default/lvsctl-rs\n", string(control["/conffiles"].Data))
	for _, s := range []string{"/postinst", "/prerm", "/postrm"} {
		f := mustHave(t, control, s, 0o755)
		body := string(f.Data)
		require.True(t, strings.HasPrefix(body, "#!/bin/sh\n"), s)
		for _, bad := range []string{"systemctl start", "systemctl enable", "deb-systemd-invoke start", "restart"} {
			for _, line := range strings.Split(body, "\n") {
				if !strings.HasPrefix(strings.TrimSpace(line), "#") && !strings.HasPrefix(strings.TrimSpace(line), "echo") &&
					!strings.HasPrefix(strings.TrimSpace(line), "\"") {
					require.NotContains(t, line, bad, "%s must start nothing", s)
				}
			}
		}
	}

	mustHave(t, data, "/usr/sbin/lvsctl", 0o755)
	dirUnit := string(mustHave(t, data, "/lib/systemd/system/lvsctl-director.service", 0o644).Data)
	for _, want := range []string{"Type=notify", "WatchdogSec=", "ExecStart=/usr/sbin/lvsctl director up",
		"ExecReload=/usr/sbin/lvsctl director reload", "KillSignal=SIGTERM", "CAP_NET_ADMIN", "CAP_NET_RAW",
		"ReadWritePaths=/run/lvsctl", "EnvironmentFile=-/etc/default/lvsctl-director",
		"LVSCTL_CONFIG=/etc/lvsctl/keepalived.conf"} {
		require.Contains(t, dirUnit, want)
	}
	rsUnit := string(mustHave(t, data, "/lib/systemd/system/lvsctl-rs.service", 0o644).Data)
	require.Contains(t, rsUnit, "ExecStart=/usr/sbin/lvsctl rs start")
	mustHave(t, data, "/etc/default/lvsctl-director", 0o644)
	mustHave(t, data, "/etc/default/lvsctl-rs", 0o644)
	require.Equal(t, byte(tar.TypeDir), mustHave(t, data, "/etc/lvsctl", 0o755).Type)
	mustHave(t, data, "/etc/lvsctl/README", 0o644)
	_, hasConf := data["/etc/lvsctl/keepalived.conf"]
	require.False(t, hasConf, "a shipped keepalived.conf would make the director look configured")

	man := gunzip(t, mustHave(t, data, "/usr/share/man/man8/lvsctl.8.gz", 0o644).Data)
	require.Contains(t, man, ".TH lvsctl 8")
	require.Contains(t, man, "director")
	require.Contains(t, string(mustHave(t, data, "/usr/share/bash-completion/completions/lvsctl", 0o644).Data),
		"--generate-bash-completion")
	require.Contains(t, string(mustHave(t, data, "/usr/share/zsh/vendor-completions/_lvsctl", 0o644).Data), "#compdef lvsctl")
	require.Contains(t, gunzip(t, mustHave(t, data, "/usr/share/doc/lvsctl/changelog.Debian.gz", 0o644).Data), "lvsctl (0.1.0)")
	mustHave(t, data, "/usr/share/doc/lvsctl/examples/keepalived.conf", 0o644)
	mustHave(t, data, "/usr/share/doc/lvsctl/operations.md", 0o644)
	mustHave(t, data, "/usr/share/lvsctl/grafana/lvsctl.json", 0o644)
	mustHave(t, data, "/usr/share/lvsctl/prometheus/alerts.yml", 0o644)

	// md5sums lists every regular file: dpkg --verify relies on it.
	sums := string(control["/md5sums"].Data)
	for name, f := range data {
		if f.Type == tar.TypeReg {
			require.Contains(t, sums, strings.TrimPrefix(name, "/"), fmt.Sprintf("md5sums lacks %s", name))
		}
	}
}
