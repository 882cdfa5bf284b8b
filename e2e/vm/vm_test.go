package vm

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type cpioEntry struct {
	name         string
	mode         uint32
	rmaj, rmin   uint32
	data         string
	headerOffset int
}

// readCPIO parses newc archives (several may be concatenated, like the
// initrd) the way the kernel does, checking alignment as it goes.
func readCPIO(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	hex := func(i int) uint32 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+6+8*i+8]), 16, 32)
		require.NoError(t, err)
		return uint32(v)
	}
	align := func(n int) int { return (n + 3) &^ 3 }
	for off < len(b) {
		require.Zero(t, off%4, "entry at %d not aligned", off)
		require.Equal(t, "070701", string(b[off:off+6]), "magic at %d", off)
		mode, size, rmaj, rmin, nameSize := hex(1), int(hex(6)), hex(9), hex(10), int(hex(11))
		nameStart := off + 110
		name := string(b[nameStart : nameStart+nameSize-1])
		require.Zero(t, b[nameStart+nameSize-1], "name of %q not NUL terminated", name)
		dataStart := align(nameStart + nameSize)
		e := cpioEntry{name: name, mode: mode, rmaj: rmaj, rmin: rmin, data: string(b[dataStart : dataStart+size]), headerOffset: off}
		off = align(dataStart + size)
		if name == "TRAILER!!!" {
			continue
		}
		out = append(out, e)
	}
	return out
}

func entryNames(es []cpioEntry) []string {
	var names []string
	for _, e := range es {
		names = append(names, e.name)
	}
	return names
}

func TestCPIOWriterEmitsParentsFirstAndAligns(t *testing.T) {
	var buf bytes.Buffer
	w := NewCPIOWriter(&buf)
	require.NoError(t, w.File("/lib/modules/v/a.ko", 0o644, []byte("abcde")))
	require.NoError(t, w.Symlink("sbin/modprobe", "/bin/busybox"))
	require.NoError(t, w.CharDev("dev/console", 0o600, 5, 1))
	require.NoError(t, w.Dir("lib/modules/", 0o755)) // already there: no second entry
	require.NoError(t, w.Close())
	require.Error(t, w.File("late", 0o644, nil), "write after Close")

	es := readCPIO(t, buf.Bytes())
	assert.Equal(t, []string{"lib", "lib/modules", "lib/modules/v", "lib/modules/v/a.ko", "sbin", "sbin/modprobe", "dev", "dev/console"}, entryNames(es))
	assert.Equal(t, uint32(modeFile|0o644), es[3].mode)
	assert.Equal(t, "abcde", es[3].data)
	assert.Equal(t, uint32(modeSymlink|0o777), es[5].mode)
	assert.Equal(t, "/bin/busybox", es[5].data)
	assert.Equal(t, uint32(modeCharDev|0o600), es[7].mode)
	assert.Equal(t, [2]uint32{5, 1}, [2]uint32{es[7].rmaj, es[7].rmin})
	assert.Zero(t, buf.Len()%4)
}

// fakeModules writes a module tree like /lib/modules/<version>.
func fakeModules(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"modules.dep": "kernel/net/netfilter/ipvs/ip_vs.ko: kernel/net/netfilter/nf_conntrack.ko kernel/lib/libcrc32c.ko\n" +
			"kernel/net/netfilter/ipvs/ip_vs_rr.ko: kernel/net/netfilter/ipvs/ip_vs.ko kernel/net/netfilter/nf_conntrack.ko kernel/lib/libcrc32c.ko\n" +
			"kernel/net/netfilter/nf_conntrack.ko: kernel/lib/libcrc32c.ko\n" +
			"kernel/lib/libcrc32c.ko:\n" +
			"kernel/crypto/crc32c_generic.ko.gz:\n" +
			"kernel/drivers/net/veth.ko:\n" +
			"kernel/net/unused.ko:\n",
		"modules.builtin": "kernel/net/bridge/bridge.ko\n",
		"modules.alias":   "alias rtnl-link-veth veth\n",
	}
	for _, mod := range []string{"kernel/net/netfilter/ipvs/ip_vs.ko", "kernel/net/netfilter/ipvs/ip_vs_rr.ko",
		"kernel/net/netfilter/nf_conntrack.ko", "kernel/lib/libcrc32c.ko", "kernel/drivers/net/veth.ko", "kernel/net/unused.ko"} {
		files[mod] = "ELF " + mod
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	// A gzip-compressed module: stored uncompressed in the initramfs.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write([]byte("ELF crc32c"))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "kernel/crypto"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kernel/crypto/crc32c_generic.ko.gz"), gz.Bytes(), 0o644))
	return dir
}

func TestResolveFollowsDependenciesAndKnowsBuiltins(t *testing.T) {
	tree, err := LoadModuleTree(fakeModules(t))
	require.NoError(t, err)

	load, files, err := tree.Resolve([]string{"crc32c_generic", "ip-vs-rr", "bridge", "ip_vs_twos?", "veth"})
	require.NoError(t, err)
	assert.Equal(t, []string{"crc32c_generic", "ip_vs_rr", "veth"}, load, "built-in bridge and missing optional twos are not loaded")
	assert.Equal(t, []string{
		"kernel/crypto/crc32c_generic.ko.gz", "kernel/drivers/net/veth.ko", "kernel/lib/libcrc32c.ko",
		"kernel/net/netfilter/ipvs/ip_vs.ko", "kernel/net/netfilter/ipvs/ip_vs_rr.ko", "kernel/net/netfilter/nf_conntrack.ko",
	}, files)

	_, _, err = tree.Resolve([]string{"ip_vs", "ip_vs_nope", "also_missing"})
	require.ErrorContains(t, err, "ip_vs_nope, also_missing")
}

func TestBaseArchiveHasModulesUncompressedWithMatchingDep(t *testing.T) {
	dir := fakeModules(t)
	busybox := filepath.Join(t.TempDir(), "busybox")
	require.NoError(t, os.WriteFile(busybox, []byte("ELF busybox"), 0o755))
	cache := t.TempDir()
	b := Base{Kernel: Kernel{Version: "6.1.0-test", Modules: dir}, Busybox: busybox, Modules: []string{"crc32c_generic", "ip_vs_rr"}}

	archive, load, err := BuildBase(context.Background(), b, cache)
	require.NoError(t, err)
	assert.Equal(t, []string{"crc32c_generic", "ip_vs_rr"}, load)
	data, err := os.ReadFile(archive)
	require.NoError(t, err)
	byName := map[string]cpioEntry{}
	for _, e := range readCPIO(t, data) {
		byName[e.name] = e
	}
	prefix := "lib/modules/6.1.0-test/"
	assert.Equal(t, "ELF crc32c", byName[prefix+"kernel/crypto/crc32c_generic.ko"].data)
	assert.NotContains(t, byName, prefix+"kernel/drivers/net/veth.ko", "modules not asked for stay out")
	// The kernel's order, only the modules that are there, no ".gz".
	assert.Equal(t, "kernel/net/netfilter/ipvs/ip_vs.ko: kernel/net/netfilter/nf_conntrack.ko kernel/lib/libcrc32c.ko\n"+
		"kernel/net/netfilter/ipvs/ip_vs_rr.ko: kernel/net/netfilter/ipvs/ip_vs.ko kernel/net/netfilter/nf_conntrack.ko kernel/lib/libcrc32c.ko\n"+
		"kernel/net/netfilter/nf_conntrack.ko: kernel/lib/libcrc32c.ko\n"+
		"kernel/lib/libcrc32c.ko:\n"+
		"kernel/crypto/crc32c_generic.ko:\n", byName[prefix+"modules.dep"].data)
	assert.Equal(t, "ELF busybox", byName["bin/busybox"].data)
	assert.Equal(t, "/bin/busybox", byName["sbin/modprobe"].data)
	assert.Contains(t, byName, "dev/console")

	// Same inputs: the cached archive is reused; other modules: a new one.
	again, _, err := BuildBase(context.Background(), b, cache)
	require.NoError(t, err)
	assert.Equal(t, archive, again)
	b.Modules = []string{"crc32c_generic", "veth"}
	other, _, err := BuildBase(context.Background(), b, cache)
	require.NoError(t, err)
	assert.NotEqual(t, archive, other)
}

func TestRunArchiveQuotesTestArguments(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "e2e.test")
	require.NoError(t, os.WriteFile(bin, []byte("ELF test"), 0o755))
	td := filepath.Join(dir, "testdata")
	require.NoError(t, os.MkdirAll(filepath.Join(td, "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(td, "sub", "k.conf"), []byte("conf"), 0o644))
	r := Run{
		Nonce: "n0nce",
		Load:  []string{"crc32c_generic", "ip_vs"},
		Tests: []TestBinary{{Name: "e2e/director", Path: bin, GuestDir: "/src/e2e/director", Testdata: td,
			Args: []string{"-test.run=TestA|TestB's", "-test.v"}}},
		Bins:     map[string]string{"lvsctl": bin},
		HostBins: []string{"keepalived"},
		HostTime: time.Unix(1764000000, 0),
	}
	var buf bytes.Buffer
	require.NoError(t, r.WriteArchive(&buf))
	byName := map[string]cpioEntry{}
	for _, e := range readCPIO(t, buf.Bytes()) {
		byName[e.name] = e
	}
	assert.Equal(t, string(initScript), byName["init"].data)
	assert.Equal(t, uint32(modeFile|0o755), byName["init"].mode)
	assert.Equal(t, "NONCE='n0nce'\nMODULES='crc32c_generic ip_vs'\nexport LVSCTL_VM_BINS='lvsctl'\nexport LVSCTL_VM_HOST_BINS='keepalived'\n"+
		"export LVSCTL_VM_HOST_TIME=1764000000\n", byName["vm/config.sh"].data)
	assert.Equal(t, `'run_test' 'e2e/director' '/src/e2e/director' '/vm/tests/00-e2e_director.test' '-test.run=TestA|TestB'\''s' '-test.v'`+"\n",
		byName["vm/tests.sh"].data)
	assert.Equal(t, "ELF test", byName["vm/tests/00-e2e_director.test"].data)
	assert.Equal(t, "conf", byName["src/e2e/director/testdata/sub/k.conf"].data)
	assert.Equal(t, "ELF test", byName["usr/local/bin/lvsctl"].data)
}

func TestParseMarker(t *testing.T) {
	tests := []struct {
		line   string
		kind   string
		fields map[string]string
		ok     bool
	}{
		{"LVSCTL-VM-RESULT abc rc=0", "RESULT", map[string]string{"rc": "0"}, true},
		{"[ 1.2] noise LVSCTL-VM-RESULT abc test=e2e/director rc=1 uptime=3.5", "RESULT",
			map[string]string{"test": "e2e/director", "rc": "1", "uptime": "3.5"}, true},
		{"LVSCTL-VM-ERROR abc modprobe ip_vs failed: a=b", "ERROR", map[string]string{"": "modprobe ip_vs failed: a=b"}, true},
		{"LVSCTL-VM-RESULT other rc=0", "", nil, false}, // another run's nonce (a test printing markers)
		{"LVSCTL-VM-RESULT", "", nil, false},
		{"=== RUN TestX", "", nil, false},
	}
	for _, tt := range tests {
		kind, fields, ok := parseMarker(tt.line, "abc")
		assert.Equal(t, tt.ok, ok, tt.line)
		assert.Equal(t, tt.kind, kind, tt.line)
		assert.Equal(t, tt.fields, fields, tt.line)
	}
}

func TestVersionLess(t *testing.T) {
	assert.True(t, versionLess("6.1.0-56-amd64", "6.12.0-1-amd64"))
	assert.True(t, versionLess("6.1.0-9-amd64", "6.1.0-56-amd64"))
	assert.False(t, versionLess("6.1.0-56-amd64", "6.1.0-56-amd64"))
	assert.True(t, versionLess("6.1.0-56-amd64", "6.1.0-56-cloud-amd64") != versionLess("6.1.0-56-cloud-amd64", "6.1.0-56-amd64"))
}

func TestMachineArgsBootTheKernelWithTCG(t *testing.T) {
	m := Machine{Kernel: Kernel{Image: "/boot/vmlinuz-x"}, Initrd: "/tmp/i.cpio", MemMB: 512, CPUs: 2}
	args := strings.Join(m.Args(), " ")
	assert.Contains(t, args, "-accel tcg -cpu max -m 512 -smp 2")
	assert.Contains(t, args, "-kernel /boot/vmlinuz-x -initrd /tmp/i.cpio")
	assert.Contains(t, args, "-no-reboot")
	assert.Contains(t, args, "panic=-1 no_timer_check")
}
