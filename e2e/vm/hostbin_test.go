package vm

import (
	"debug/elf"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dynamicHostBinary is a dynamically linked program every Debian host has
// (the shell); the closure tests need a real ELF file with real libraries.
func dynamicHostBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/bin/sh", "/usr/bin/env", "/bin/ls"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		dynamic := false
		for _, prog := range f.Progs {
			dynamic = dynamic || prog.Type == elf.PT_INTERP
		}
		f.Close()
		if dynamic {
			return p
		}
	}
	t.Fatalf("no dynamically linked program (/bin/sh, /usr/bin/env, /bin/ls) on this host to test the closure with")
	return ""
}

func TestResolveHostBinaryHasLoaderLibcAndSymlinkChains(t *testing.T) {
	bin := dynamicHostBinary(t)
	files, err := ResolveHostBinary(bin, DefaultLibDirs())
	require.NoError(t, err)
	byGuest := map[string]HostFile{}
	for _, f := range files {
		byGuest[f.Guest] = f
	}

	prog, ok := byGuest[bin]
	require.True(t, ok, "the program itself: %v", files)
	// The interpreter as the program names it, and whatever it links to.
	interp := "/lib64/ld-linux-x86-64.so.2"
	require.Contains(t, byGuest, interp)
	var libc string
	for _, d := range DefaultLibDirs() {
		if f, ok := byGuest[filepath.Join(d, "libc.so.6")]; ok {
			libc = f.Guest
		}
	}
	require.NotEmpty(t, libc, "libc.so.6 (DT_NEEDED) in the closure: %v", files)

	// Every symlink's target is in the closure too, and every regular
	// entry is readable ELF.
	for _, f := range files {
		if f.Link != "" {
			target := f.Link
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(f.Guest), target)
			}
			assert.Contains(t, byGuest, filepath.Clean(target), "target of %s", f.Guest)
			continue
		}
		e, err := elf.Open(f.Source)
		require.NoError(t, err, f.Source)
		e.Close()
	}
	if prog.Link == "" {
		assert.Equal(t, bin, prog.Source)
	}
}

func TestResolveHostBinaryNamesTheMissingLibrary(t *testing.T) {
	_, err := ResolveHostBinary(dynamicHostBinary(t), []string{t.TempDir()})
	require.ErrorIs(t, err, errLibNotFound)
	assert.ErrorContains(t, err, "libc.so.6")

	_, err = ResolveHostBinary(filepath.Join(t.TempDir(), "nope"), DefaultLibDirs())
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestBaseArchiveCarriesHostBinaryClosureAndPATHLink(t *testing.T) {
	bin := dynamicHostBinary(t)
	dir := fakeModules(t)
	busybox := filepath.Join(t.TempDir(), "busybox")
	require.NoError(t, os.WriteFile(busybox, []byte("ELF busybox"), 0o755))
	cache := t.TempDir()
	b := Base{Kernel: Kernel{Version: "6.1.0-test", Modules: dir}, Busybox: busybox, Modules: []string{"ip_vs"}}
	plain, _, err := BuildBase(t.Context(), b, cache)
	require.NoError(t, err)

	b.HostBins = []string{bin}
	archive, _, err := BuildBase(t.Context(), b, cache)
	require.NoError(t, err)
	assert.NotEqual(t, plain, archive, "host binaries are part of the cache key")
	data, err := os.ReadFile(archive)
	require.NoError(t, err)
	byName := map[string]cpioEntry{}
	for _, e := range readCPIO(t, data) {
		byName[e.name] = e
	}
	files, err := ResolveHostBinary(bin, DefaultLibDirs())
	require.NoError(t, err)
	for _, f := range files {
		e, ok := byName[f.Guest[1:]]
		require.True(t, ok, "%s in the archive", f.Guest)
		if f.Link != "" {
			assert.Equal(t, uint32(modeSymlink|0o777), e.mode, f.Guest)
			assert.Equal(t, f.Link, e.data, f.Guest)
			continue
		}
		want, err := os.ReadFile(f.Source)
		require.NoError(t, err)
		assert.Equal(t, len(want), len(e.data), f.Guest)
		assert.Equal(t, uint32(modeFile), e.mode&0o170000, f.Guest)
	}
	link := byName["usr/local/bin/"+filepath.Base(bin)]
	assert.Equal(t, uint32(modeSymlink|0o777), link.mode)
	assert.Equal(t, bin, link.data)
	assert.Contains(t, byName, "bin/busybox", "the rest of the base is still there")

	again, _, err := BuildBase(t.Context(), b, cache)
	require.NoError(t, err)
	assert.Equal(t, archive, again, "cached")

	b.HostBins = []string{bin, "/elsewhere/" + filepath.Base(bin)}
	_, _, err = BuildBase(t.Context(), b, cache)
	require.ErrorContains(t, err, "same name")
}
