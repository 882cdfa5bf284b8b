package vrrp

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/internal/trackfile"
)

func TestFileStatus(t *testing.T) {
	for _, tc := range []struct {
		v      int64
		ref    TrackRef
		delta  int
		fault  bool
		reason string
	}{
		{0, TrackRef{Weight: 0}, 0, false, "weight 0, value 0: fine"},
		{3, TrackRef{Weight: 0}, 0, true, "weight 0, non-zero: FAULT"},
		{-1, TrackRef{Weight: 0}, 0, true, "weight 0, negative: FAULT"},
		{0, TrackRef{Weight: 0, Reverse: true}, 0, true, "weight 0 reverse, zero: FAULT"},
		{5, TrackRef{Weight: 0, Reverse: true}, 0, false, "weight 0 reverse, non-zero: fine"},
		{2, TrackRef{Weight: -10}, -20, false, "value × weight"},
		{2, TrackRef{Weight: 10, Reverse: true}, -20, false, "reverse negates"},
		{100, TrackRef{Weight: 10}, 253, false, "held at 253"},
		{25, TrackRef{Weight: -10}, -250, false, "-250 is a priority change"},
		{26, TrackRef{Weight: -10}, 0, true, "-254 or less is FAULT"},
		{-254, TrackRef{Weight: 1}, 0, true, "exactly -254 is FAULT"},
	} {
		d, f := fileStatus(tc.v, tc.ref)
		assert.Equal(t, tc.delta, d, tc.reason)
		assert.Equal(t, tc.fault, f, tc.reason)
	}
}

func TestProcStatus(t *testing.T) {
	for _, tc := range []struct {
		up     bool
		ref    TrackRef
		delta  int
		fault  bool
		reason string
	}{
		{true, TrackRef{}, 0, false, "weight 0 with quorum"},
		{false, TrackRef{}, 0, true, "weight 0 without quorum: FAULT"},
		{true, TrackRef{Reverse: true}, 0, true, "weight 0 reverse with quorum: FAULT"},
		{false, TrackRef{Reverse: true}, 0, false, "weight 0 reverse without quorum"},
		{true, TrackRef{Weight: 10}, 10, false, "positive weight added with quorum"},
		{false, TrackRef{Weight: 10}, 0, false, "positive weight not added without"},
		{false, TrackRef{Weight: -10}, -10, false, "negative weight added without quorum"},
		{true, TrackRef{Weight: -10}, 0, false, "negative weight not added with"},
		{true, TrackRef{Weight: 10, Reverse: true}, -10, false, "reverse: subtracted with quorum"},
	} {
		d, f := procStatus(tc.up, tc.ref)
		assert.Equal(t, tc.delta, d, tc.reason)
		assert.Equal(t, tc.fault, f, tc.reason)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	// Write and rename, as an operator's tooling would: one close-write
	// of a temporary file, then a move into place.
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(s), 0o644))
	require.NoError(t, os.Rename(tmp, path))
}

func TestNodeTrackFilePriorityAndFault(t *testing.T) {
	dir := t.TempDir()
	prio, down := filepath.Join(dir, "prio"), filepath.Join(dir, "down")
	require.NoError(t, os.WriteFile(prio, []byte("2\n"), 0o644))
	a := instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")
	a.TrackFiles = []TrackRef{{Name: "prio", Weight: -10}}
	b := instCfg("VI_2", "eth2", 192, 100, "172.16.8.100")
	b.TrackFiles = []TrackRef{{Name: "down", Weight: 0}}
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{a, b},
		TrackFiles: []TrackFileConfig{
			{Name: "prio", Path: prio, Weight: 1},
			// init_file writes 0 at start: VI_2 starts healthy.
			{Name: "down", Path: down, Weight: 1, InitMode: trackfile.InitCreate},
		}})
	h.eventually("initial value read", func() bool { return h.status("VI_1").EffectivePriority == 80 })
	h.waitState("VI_2", "BACKUP")
	got, err := os.ReadFile(down)
	require.NoError(t, err)
	assert.Equal(t, "0\n", string(got))

	writeFile(t, prio, "5")
	h.eventually("priority follows the file", func() bool { return h.status("VI_1").EffectivePriority == 50 })
	writeFile(t, prio, "-3")
	h.eventually("a negative value raises it", func() bool { return h.status("VI_1").EffectivePriority == 130 })
	writeFile(t, prio, "26")
	h.waitState("VI_1", "FAULT")
	assert.Equal(t, []string{"track_file prio value 26"}, h.status("VI_1").Faults)
	require.NoError(t, os.Remove(prio))
	h.waitState("VI_1", "BACKUP")
	assert.Equal(t, uint8(100), h.status("VI_1").EffectivePriority, "a removed file counts as 0")

	writeFile(t, down, "1")
	h.waitState("VI_2", "FAULT")
	// Plain overwrite in place (close-write of the file itself).
	require.NoError(t, os.WriteFile(down, []byte("0\n"), 0o644))
	h.waitState("VI_2", "BACKUP")
}

// TestNodeTrackFileBadValueKeepsPrevious: keepalived ignores a number
// outside the 32-bit range and keeps the last value.
func TestNodeTrackFileBadValueKeepsPrevious(t *testing.T) {
	prio := filepath.Join(t.TempDir(), "prio")
	require.NoError(t, os.WriteFile(prio, []byte("1"), 0o644))
	a := instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")
	a.TrackFiles = []TrackRef{{Name: "prio", Weight: 7}}
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{a},
		TrackFiles: []TrackFileConfig{{Name: "prio", Path: prio, Weight: 1}}})
	h.eventually("initial", func() bool { return h.status("VI_1").EffectivePriority == 107 })
	writeFile(t, prio, "99999999999")
	writeFile(t, prio, "2")
	h.eventually("next good value", func() bool { return h.status("VI_1").EffectivePriority == 114 })
}

func TestNewRejectsTrackFileWithoutDirectory(t *testing.T) {
	a := instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")
	a.TrackFiles = []TrackRef{{Name: "f", Weight: 1}}
	_, err := New(testConfig(Config{McastGroup4: group, Instances: []InstanceConfig{a},
		TrackFiles: []TrackFileConfig{{Name: "f", Path: "/nonexistent-dir/f", Weight: 1}}}),
		WithTransport(newFakeTransport()), WithAddrManager(&fakeAddrs{}), WithAnnouncer(&fakeARP{}),
		WithLinks(&fakeLinks{links: map[string]LinkInfo{"eth1": {Name: "eth1", Index: 2, Up: true,
			Addrs: []netip.Prefix{netip.MustParsePrefix("10.16.8.10/24")}}}}), withStarter(func(*exec.Cmd) error { return nil }))
	require.ErrorIs(t, err, ErrConfig)
	assert.Contains(t, err.Error(), "nonexistent-dir")
}

// fakeProcs is a process table a test changes.
type fakeProcs struct {
	mu    sync.Mutex
	procs []ProcInfo
}

func (f *fakeProcs) list() ([]ProcInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ProcInfo(nil), f.procs...), nil
}

func (f *fakeProcs) set(n int, p ProcInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.procs = nil
	for range n {
		f.procs = append(f.procs, p)
	}
}

func TestNodeTrackProcessQuorumAndDelays(t *testing.T) {
	procs := &fakeProcs{}
	nginx := ProcInfo{Comm: "nginx", Cmdline: []string{"/usr/sbin/nginx", "-g", "daemon off;"}}
	procs.set(2, nginx)
	a := instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")
	a.TrackProcesses = []TrackRef{{Name: "nginx", Weight: -20}}
	b := instCfg("VI_2", "eth2", 192, 100, "172.16.8.100")
	b.TrackProcesses = []TrackRef{{Name: "nginx"}}
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{a, b}, ProcessScan: 100 * time.Millisecond,
		TrackProcesses: []TrackProcessConfig{{Name: "nginx", Process: "nginx", Quorum: 2, QuorumMax: 3,
			TerminateDelay: time.Second}}},
		func(h *nodeHarness) { h.opts = append(h.opts, WithProcLister(procs.list)) })
	// The initial scan finds quorum: no change, no FAULT.
	h.waitState("VI_2", "BACKUP")
	assert.Equal(t, uint8(100), h.status("VI_1").EffectivePriority)

	// One exits: quorum is lost only after terminate_delay.
	procs.set(1, nginx)
	h.clock.Advance(500 * time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, "BACKUP", h.status("VI_2").State.String(), "held by terminate_delay")
	h.eventuallyAdvancing("quorum lost", 100*time.Millisecond, func() bool { return h.status("VI_2").State.String() == "FAULT" })
	assert.Equal(t, uint8(80), h.status("VI_1").EffectivePriority, "negative weight applies without quorum")
	assert.Contains(t, h.status("VI_2").Faults, "track_process nginx without quorum")

	// Back to two: no fork_delay, quorum at the next scan.
	procs.set(2, nginx)
	h.eventuallyAdvancing("quorum back", 100*time.Millisecond, func() bool { return h.status("VI_2").State.String() != "FAULT" })
	assert.Equal(t, uint8(100), h.status("VI_1").EffectivePriority)

	// Above quorum_max is no quorum either; a zombie is not counted.
	procs.set(4, nginx)
	h.eventuallyAdvancing("too many", 100*time.Millisecond, func() bool { return h.status("VI_2").State.String() == "FAULT" })
	procs.set(3, nginx)
	procs.mu.Lock()
	procs.procs = append(procs.procs, ProcInfo{Comm: "nginx", Zombie: true})
	procs.mu.Unlock()
	h.eventuallyAdvancing("zombie ignored", 100*time.Millisecond, func() bool { return h.status("VI_2").State.String() != "FAULT" })
}

// TestProcessDelayCancelled: a count that returns within the delay
// changes nothing (keepalived cancels the timer).
func TestProcessDelayCancelled(t *testing.T) {
	procs := &fakeProcs{}
	p := ProcInfo{Comm: "x"}
	procs.set(1, p)
	h := startNode(t, Config{McastGroup4: group}) // only for its clock and logger
	s := newProcScanner([]TrackProcessConfig{{Name: "x", Process: "x", Quorum: 1, QuorumMax: 1, TerminateDelay: time.Second, ForkDelay: 2 * time.Second}},
		procs.list, h.clock, h.node.log)
	assert.Equal(t, map[string]bool{"x": true}, s.initial())
	var got []bool
	report := func(_ string, up bool) { got = append(got, up) }
	procs.set(0, p)
	s.scan(report)
	h.clock.Advance(500 * time.Millisecond)
	procs.set(1, p)
	s.scan(report)
	h.clock.Advance(time.Second)
	s.scan(report)
	assert.Empty(t, got, "the exit was undone within terminate_delay")
	procs.set(2, p) // above quorum_max: a fork-caused loss waits fork_delay
	s.scan(report)
	h.clock.Advance(1500 * time.Millisecond)
	s.scan(report)
	assert.Empty(t, got)
	h.clock.Advance(500 * time.Millisecond)
	s.scan(report)
	assert.Equal(t, []bool{false}, got)
}

func TestProcessMatch(t *testing.T) {
	p := ProcInfo{Comm: "haproxy", Cmdline: []string{"/usr/sbin/haproxy", "-f", "/etc/haproxy/haproxy.cfg", "-Ws"}}
	for _, tc := range []struct {
		c    TrackProcessConfig
		want bool
	}{
		{TrackProcessConfig{Process: "haproxy"}, true},
		{TrackProcessConfig{Process: "/usr/sbin/haproxy"}, false},
		{TrackProcessConfig{Process: "/usr/sbin/haproxy", FullCommand: true}, true},
		{TrackProcessConfig{Process: "haproxy", FullCommand: true}, false},
		{TrackProcessConfig{Process: "/usr/sbin/haproxy", FullCommand: true, ParamMatch: ParamExact}, false},
		{TrackProcessConfig{Process: "/usr/sbin/haproxy", FullCommand: true, ParamMatch: ParamExact,
			Params: []string{"-f", "/etc/haproxy/haproxy.cfg", "-Ws"}}, true},
		{TrackProcessConfig{Process: "/usr/sbin/haproxy", FullCommand: true, ParamMatch: ParamPartial,
			Params: []string{"-f", "/etc/haproxy/haproxy.cfg"}}, true},
		{TrackProcessConfig{Process: "/usr/sbin/haproxy", FullCommand: true, ParamMatch: ParamPartial,
			Params: []string{"-f", "/etc/haproxy/"}}, false},
		{TrackProcessConfig{Process: "/usr/sbin/haproxy", FullCommand: true, ParamMatch: ParamInitial,
			Params: []string{"-f", "/etc/haproxy/"}}, true},
		{TrackProcessConfig{Process: "/usr/sbin/haproxy", FullCommand: true, ParamMatch: ParamInitial,
			Params: []string{"-", "/etc/haproxy/"}}, false},
	} {
		assert.Equal(t, tc.want, tc.c.matches(p), "%+v", tc.c)
	}
}

// TestListProcsFindsItself: the /proc reader sees this test's process by
// its name and full command line.
func TestListProcsFindsItself(t *testing.T) {
	ps, err := ListProcs()
	require.NoError(t, err)
	self, err := os.Executable()
	require.NoError(t, err)
	c := TrackProcessConfig{Process: filepath.Base(self)[:min(15, len(filepath.Base(self)))]}
	n := 0
	for _, p := range ps {
		if c.matches(p) {
			n++
		}
	}
	assert.GreaterOrEqual(t, n, 1, "comm %q", c.Process)
}

func TestNodeReloadAddsTrackFile(t *testing.T) {
	prio := filepath.Join(t.TempDir(), "prio")
	require.NoError(t, os.WriteFile(prio, []byte("3"), 0o644))
	a := instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")
	cfg := Config{McastGroup4: group, Instances: []InstanceConfig{a}}
	h := startNode(t, cfg)
	h.waitState("VI_1", "BACKUP")
	a.TrackFiles = []TrackRef{{Name: "prio", Weight: -5}}
	cfg.Instances = []InstanceConfig{a}
	cfg.TrackFiles = []TrackFileConfig{{Name: "prio", Path: prio, Weight: 1}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, h.node.Reload(ctx, testConfig(cfg)))
	h.eventually("tracked after reload", func() bool { return h.status("VI_1").EffectivePriority == 85 })
	writeFile(t, prio, "4")
	h.eventually("watched after reload", func() bool { return h.status("VI_1").EffectivePriority == 80 })
}
