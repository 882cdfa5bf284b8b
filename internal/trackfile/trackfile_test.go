package trackfile

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseLikeStrtol(t *testing.T) {
	for in, want := range map[string]int64{
		"":             0,
		"7\n":          7,
		"  -12 rest":   -12,
		"+3":           3,
		"0x1f":         31,
		"010":          8,
		"09":           0, // octal stops at 9
		"abc":          0,
		"2147483648":   2147483648,
		"-2147483648":  -2147483648,
		"\t\n42\n\n":   42,
		"0x":           0,
		"12abc":        12,
		"-0":           0,
		"1000000\nxyz": 1000000,
	} {
		got, err := Parse(in)
		require.NoError(t, err, "%q", in)
		assert.Equal(t, want, got, "%q", in)
	}
	for _, in := range []string{"2147483649", "-2147483649", "99999999999999999999999"} {
		_, err := Parse(in)
		assert.ErrorIs(t, err, ErrOutOfRange, in)
	}
}

func TestReadMissingIsZero(t *testing.T) {
	v, err := Read(filepath.Join(t.TempDir(), "none"))
	require.NoError(t, err)
	assert.Zero(t, v)
}

func TestInit(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	require.NoError(t, Init(p, InitCreate, 5, false))
	v, _ := Read(p)
	assert.EqualValues(t, 5, v)
	require.NoError(t, Init(p, InitCreate, 6, false))
	v, _ = Read(p)
	assert.EqualValues(t, 5, v, "create leaves an existing file")
	require.NoError(t, Init(p, InitOverwrite, 6, true))
	v, _ = Read(p)
	assert.EqualValues(t, 5, v, "a reload never overwrites")
	require.NoError(t, Init(p, InitOverwrite, 6, false))
	v, _ = Read(p)
	assert.EqualValues(t, 6, v)
	require.Error(t, Init(dir, InitOverwrite, 1, false), "a directory is not a regular file")
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	require.NoError(t, os.Mkdir(real, 0o755))
	require.NoError(t, os.Symlink(real, filepath.Join(dir, "link")))
	got, err := Resolve(filepath.Join(dir, "link", "f"))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(real, "f"), got)
	_, err = Resolve(filepath.Join(dir, "nodir", "f"))
	require.Error(t, err)
}

func TestWatcherSeesWriteRenameDelete(t *testing.T) {
	dir := t.TempDir()
	p, err := Resolve(filepath.Join(dir, "prio"))
	require.NoError(t, err)
	w, err := NewWatcher()
	require.NoError(t, err)
	require.NoError(t, w.Add(p))
	got := make(chan string, 16)
	done := make(chan error, 1)
	go func() { done <- w.Run(func(path string) { got <- path }) }()
	expect := func(what string) {
		t.Helper()
		for {
			select {
			case g := <-got:
				if g == p {
					return
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no event for %s", what)
			}
		}
	}
	require.NoError(t, os.WriteFile(p, []byte("3\n"), 0o644))
	expect("write")
	tmp := filepath.Join(dir, ".tmp")
	require.NoError(t, os.WriteFile(tmp, []byte("4\n"), 0o644))
	require.NoError(t, os.Rename(tmp, p))
	expect("rename into place")
	v, _ := Read(p)
	assert.EqualValues(t, 4, v)
	require.NoError(t, os.Remove(p))
	expect("delete")
	require.NoError(t, w.Close())
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Close")
	}
}
