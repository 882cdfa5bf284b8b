package notifyfifo_test

import (
	"bufio"
	"bytes"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/internal/notifyfifo"
	"github.com/lvsctl/lvsctl/internal/script"
)

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newHub(t *testing.T, o notifyfifo.Options) (*notifyfifo.Hub, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	h := notifyfifo.New(o)
	t.Cleanup(h.Close)
	return h, logs
}

// reader is a fifo script: it appends every line it reads from the FIFO
// (its last argument) to out, and its own arguments and pid to out.args.
func reader(t *testing.T, out string) *script.Command {
	t.Helper()
	path := filepath.Join(t.TempDir(), "reader.sh")
	require.NoError(t, os.WriteFile(path, []byte(`#!/bin/sh
echo "$$ $*" >> `+out+`.args
for fifo; do :; done
while IFS= read -r line; do
	printf '%s\n' "$line" >> `+out+`
done < "$fifo"
echo EOF >> `+out+`.args
`), 0o755))
	c, err := script.Parse(path + " fifo-arg")
	require.NoError(t, err)
	return &c
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 5*time.Millisecond, what)
}

var (
	vi1Backup = notifyfifo.Instance{Name: "VI_1", State: notifyfifo.Backup, Priority: 100}
	vi1Master = notifyfifo.Instance{Name: "VI_1", State: notifyfifo.Master, Priority: 100}
	vg1Master = notifyfifo.Group{Name: "VG_1", State: notifyfifo.Master}
	vs        = notifyfifo.Service{Endpoint: notifyfifo.Endpoint{Addr: netip.MustParseAddr("10.16.8.100"), Proto: notifyfifo.TCP, Port: 80}}
	rs8       = notifyfifo.Endpoint{Addr: netip.MustParseAddr("10.16.8.8"), Proto: notifyfifo.TCP, Port: 80}
	rsDown    = notifyfifo.RealServer{Real: rs8, Service: vs}
	vsDown    = notifyfifo.VirtualServer{Service: vs}
)

// The FIFO is made with keepalived's mode (0644 under its umask 0177),
// its script runs with the path as last argument and reads the lines in
// order, and at close the FIFO goes first, then the script reads to the
// end (EOF) and exits by itself.
func TestFIFOScriptReadsLinesAndStops(t *testing.T) {
	dir := t.TempDir()
	path, out := filepath.Join(dir, "vrrp.fifo"), filepath.Join(dir, "out")
	h, logs := newHub(t, notifyfifo.Options{})
	require.NoError(t, h.Apply(notifyfifo.Config{Mode: notifyfifo.DefaultMode,
		VRRP: &notifyfifo.FIFO{Path: path, Script: reader(t, out)}}))
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	assert.Equal(t, fs.ModeNamedPipe, fi.Mode().Type())
	assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())

	h.VRRP(vi1Backup)
	h.VRRP(vi1Master)
	h.VRRP(vg1Master)
	h.LVS(rsDown) // no lvs_notify_fifo: not written
	waitFor(t, "three lines", func() bool { return strings.Count(readFile(out), "\n") == 3 })
	assert.Equal(t, "INSTANCE \"VI_1\" BACKUP 100\nINSTANCE \"VI_1\" MASTER 100\nGROUP \"VG_1\" MASTER 0\n", readFile(out))
	args := strings.Fields(readFile(out + ".args"))
	require.Len(t, args, 3)
	assert.Equal(t, []string{"fifo-arg", path}, args[1:], "the FIFO's path is the last argument")

	start := time.Now()
	h.VRRP(notifyfifo.Instance{Name: "VI_1", State: notifyfifo.Stop, Priority: 100})
	h.Close()
	assert.Less(t, time.Since(start), notifyfifo.DefaultScriptWait, "the script read to EOF and exited by itself")
	assert.Equal(t, "INSTANCE \"VI_1\" BACKUP 100\nINSTANCE \"VI_1\" MASTER 100\nGROUP \"VG_1\" MASTER 0\nINSTANCE \"VI_1\" STOP 100\n", readFile(out))
	assert.Contains(t, readFile(out+".args"), "EOF")
	_, err = os.Lstat(path)
	assert.ErrorIs(t, err, fs.ErrNotExist, "a FIFO lvsctl made is removed")
	assert.Contains(t, logs.String(), "notify FIFO closed")

	h.VRRP(vi1Backup) // after Close: dropped silently
}

// Nobody reads: writing never blocks the caller. The pipe keeps what fits
// (about 64 KiB), the queue what fits next, and the rest is dropped,
// counted and logged once. A reader that comes later reads the first
// lines: they waited in the pipe.
func TestWritesNeverBlockWhenNobodyReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lvs.fifo")
	h, logs := newHub(t, notifyfifo.Options{Queue: 16, Flush: 50 * time.Millisecond})
	require.NoError(t, h.Apply(notifyfifo.Config{Mode: notifyfifo.DefaultMode, LVS: &notifyfifo.FIFO{Path: path}}))
	const n = 20000 // about 1 MB of lines
	start := time.Now()
	for i := range n {
		h.LVS(notifyfifo.RealServer{Real: rs8, Service: vs, Up: i%2 == 0})
	}
	took := time.Since(start)
	assert.Less(t, took, time.Second, "20,000 lines to a FIFO nobody reads")
	var c notifyfifo.Counters
	waitFor(t, "every line written or dropped", func() bool {
		cs := h.Counters()
		c = cs[0]
		return c.Written+c.Dropped >= n-16-1 // 16 queued, 1 waiting for room
	})
	assert.Equal(t, path, c.Path)
	line := len(rsDown.Line()) + 2 // "UP\n" or "DOWN\n"
	assert.Greater(t, c.Dropped, uint64(n/2))
	assert.Greater(t, c.Written, uint64(4096/line), "at least a page fits in the pipe")
	assert.LessOrEqual(t, c.Written, uint64(1<<20/line))
	assert.Equal(t, 1, strings.Count(logs.String(), "notify FIFO line dropped"), logs.String())

	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	require.NoError(t, err)
	defer r.Close()
	first, err := bufio.NewReader(r).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "RS [10.16.8.8]:tcp:80 [10.16.8.100]:tcp:80 UP\n", first)

	// Close does not wait for a reader either.
	start = time.Now()
	h.Close()
	assert.Less(t, time.Since(start), 2*time.Second)
}

// notify_fifo gets every line; vrrp_notify_fifo and lvs_notify_fifo their
// kind; one path for both of these gets both, once.
func TestLinesGoToTheirFIFOs(t *testing.T) {
	dir := t.TempDir()
	h, _ := newHub(t, notifyfifo.Options{})
	open := func(name string) *os.File {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDONLY|syscall.O_NONBLOCK, 0)
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		return f
	}
	// readAll reads what arrives within 200 ms.
	readAll := func(f *os.File) string {
		require.NoError(t, f.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				return b.String()
			}
		}
	}
	require.NoError(t, h.Apply(notifyfifo.Config{Mode: notifyfifo.DefaultMode,
		Global: &notifyfifo.FIFO{Path: filepath.Join(dir, "all")},
		VRRP:   &notifyfifo.FIFO{Path: filepath.Join(dir, "vrrp")},
		LVS:    &notifyfifo.FIFO{Path: filepath.Join(dir, "lvs")}}))
	all, vr, lv := open("all"), open("vrrp"), open("lvs")
	h.VRRP(vi1Master)
	h.LVS(vsDown)
	assert.Equal(t, vi1Master.Line()+vsDown.Line(), readAll(all))
	assert.Equal(t, vi1Master.Line(), readAll(vr))
	assert.Equal(t, vsDown.Line(), readAll(lv))

	require.NoError(t, h.Apply(notifyfifo.Config{Mode: notifyfifo.DefaultMode,
		VRRP: &notifyfifo.FIFO{Path: filepath.Join(dir, "both")},
		LVS:  &notifyfifo.FIFO{Path: filepath.Join(dir, "both")}}))
	for _, gone := range []string{"all", "vrrp", "lvs"} {
		_, err := os.Lstat(filepath.Join(dir, gone))
		assert.ErrorIs(t, err, fs.ErrNotExist, gone)
	}
	both := open("both")
	h.VRRP(vi1Backup)
	h.LVS(rsDown)
	assert.Equal(t, vi1Backup.Line()+rsDown.Line(), readAll(both))
}

// A FIFO that is there already is used as it is and left there; a path
// that is something else is refused, and a refused Apply changes nothing.
func TestExistingPaths(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "mine")
	require.NoError(t, syscall.Mkfifo(mine, 0o640))
	h, _ := newHub(t, notifyfifo.Options{})
	require.NoError(t, h.Apply(notifyfifo.Config{Mode: notifyfifo.DefaultMode, Global: &notifyfifo.FIFO{Path: mine}}))
	fi, err := os.Lstat(mine)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o640), fi.Mode().Perm(), "an existing FIFO keeps its mode")

	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(mine, link))
	for p, want := range map[string]string{
		file:                             "exists and is not a FIFO (a regular file)",
		link:                             "exists and is not a FIFO (a symbolic link)",
		dir:                              "exists and is not a FIFO (a directory)",
		filepath.Join(dir, "nodir", "x"): "create: no such file or directory",
	} {
		err := h.Apply(notifyfifo.Config{Mode: notifyfifo.DefaultMode, Global: &notifyfifo.FIFO{Path: mine},
			LVS: &notifyfifo.FIFO{Path: filepath.Join(dir, "new")}, VRRP: &notifyfifo.FIFO{Path: p}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), want)
		_, err = os.Lstat(filepath.Join(dir, "new"))
		assert.ErrorIs(t, err, fs.ErrNotExist, "what the refused Apply opened is gone again")
		assert.Len(t, h.Counters(), 1)
	}
	h.Close()
	_, err = os.Lstat(mine)
	assert.NoError(t, err, "a FIFO lvsctl did not make stays")
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Empty(t, b)
}

// A reload that changes nothing leaves the script running; one that
// changes the script restarts it on the same FIFO; one that moves the
// FIFO makes the new one and removes the old.
func TestApplyIsADiff(t *testing.T) {
	dir := t.TempDir()
	path, out := filepath.Join(dir, "f"), filepath.Join(dir, "out")
	h, _ := newHub(t, notifyfifo.Options{})
	cfg := notifyfifo.Config{Mode: notifyfifo.DefaultMode, Global: &notifyfifo.FIFO{Path: path, Script: reader(t, out)}}
	require.NoError(t, h.Apply(cfg))
	waitFor(t, "script started", func() bool { return strings.Count(readFile(out+".args"), "\n") == 1 })
	same := cfg
	same.Global = &notifyfifo.FIFO{Path: path, Script: cfg.Global.Script}
	require.NoError(t, h.Apply(same))
	h.VRRP(vi1Master)
	waitFor(t, "line read", func() bool { return readFile(out) == vi1Master.Line() })
	assert.Equal(t, 1, strings.Count(readFile(out+".args"), "\n"), "not restarted")

	other := reader(t, out)
	require.NoError(t, h.Apply(notifyfifo.Config{Mode: notifyfifo.DefaultMode, Global: &notifyfifo.FIFO{Path: path, Script: other}}))
	waitFor(t, "new script started", func() bool { return strings.Count(readFile(out+".args"), fifoArg(path)) == 2 })
	h.VRRP(vi1Backup)
	waitFor(t, "line read by the new script", func() bool { return readFile(out) == vi1Master.Line()+vi1Backup.Line() })

	moved := filepath.Join(dir, "g")
	require.NoError(t, h.Apply(notifyfifo.Config{Mode: notifyfifo.DefaultMode, Global: &notifyfifo.FIFO{Path: moved, Script: other}}))
	_, err := os.Lstat(path)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = os.Lstat(moved)
	assert.NoError(t, err)
	waitFor(t, "script on the new FIFO", func() bool { return strings.Contains(readFile(out+".args"), fifoArg(moved)) })
	h.VRRP(vg1Master)
	waitFor(t, "line on the new FIFO", func() bool { return strings.HasSuffix(readFile(out), vg1Master.Line()) })

	require.NoError(t, h.Apply(notifyfifo.Config{Mode: notifyfifo.DefaultMode}))
	_, err = os.Lstat(moved)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Empty(t, h.Counters())
}

func fifoArg(path string) string { return "fifo-arg " + path }

// A script that ignores the end of the FIFO (and SIGTERM) is killed with
// its group after the grace period.
func TestStubbornScriptIsKilled(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	c, err := script.Parse(`/bin/sh -c 'trap "" TERM; echo $$ > ` + pidFile + `; while :; do sleep 0.05; done'`)
	require.NoError(t, err)
	h, logs := newHub(t, notifyfifo.Options{ScriptWait: 100 * time.Millisecond, Run: script.Runner{Grace: 200 * time.Millisecond}})
	require.NoError(t, h.Apply(notifyfifo.Config{Mode: notifyfifo.DefaultMode, Global: &notifyfifo.FIFO{Path: filepath.Join(dir, "f"), Script: &c}}))
	waitFor(t, "script started", func() bool { return readFile(pidFile) != "" })
	start := time.Now()
	h.Close()
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.NotContains(t, logs.String(), "notify FIFO script terminated", "stopped, not terminated by itself")
}

// A script that ends by itself is logged (keepalived: "notify fifo script
// terminated") and not started again.
func TestScriptThatEndsIsLogged(t *testing.T) {
	dir := t.TempDir()
	c, err := script.Parse("/bin/false")
	require.NoError(t, err)
	h, logs := newHub(t, notifyfifo.Options{})
	require.NoError(t, h.Apply(notifyfifo.Config{Mode: notifyfifo.DefaultMode, Global: &notifyfifo.FIFO{Path: filepath.Join(dir, "f"), Script: &c}}))
	waitFor(t, "logged", func() bool { return strings.Contains(logs.String(), "notify FIFO script terminated") })
	h.VRRP(vi1Master) // the pipe keeps it
	assert.Equal(t, 1, strings.Count(logs.String(), "notify FIFO script started"))
}

func TestConfigValidate(t *testing.T) {
	f := func(p string) *notifyfifo.FIFO { return &notifyfifo.FIFO{Path: p} }
	c, err := script.Parse("/bin/cat")
	require.NoError(t, err)
	withScript := func(p string) *notifyfifo.FIFO { return &notifyfifo.FIFO{Path: p, Script: &c} }
	for _, bad := range []notifyfifo.Config{
		{Global: f("relative")},
		{VRRP: f("/run/../run/x")},
		{Global: f("/run/x"), VRRP: f("/run/x")},
		{Global: f("/run/x"), LVS: f("/run/x")},
		{VRRP: withScript("/run/x"), LVS: withScript("/run/x")},
		{Mode: os.ModeNamedPipe | 0o600},
	} {
		assert.ErrorIs(t, bad.Validate(), notifyfifo.ErrInvalidConfig, "%+v", bad)
	}
	assert.NoError(t, notifyfifo.Config{VRRP: withScript("/run/x"), LVS: f("/run/x")}.Validate())
	assert.True(t, notifyfifo.Config{}.Empty())
}
