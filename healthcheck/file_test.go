package healthcheck

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/internal/trackfile"
)

// TestFileVerdict: keepalived 2.2.7's rules (track_file.c,
// update_track_file_status; check_file.c).
func TestFileVerdict(t *testing.T) {
	tests := []struct {
		name    string
		weight  int
		reverse bool
		value   int64
		up      bool
		delta   int
	}{
		{"weight 0, zero is up", 0, false, 0, true, 0},
		{"weight 0, non-zero is down", 0, false, 3, false, 0},
		{"weight 0, negative is down", 0, false, -1, false, 0},
		{"weight 0 reverse, zero is down", 0, true, 0, false, 0},
		{"weight 0 reverse, non-zero is up", 0, true, 7, true, 0},
		{"value times weight", 5, false, 3, true, 15},
		{"reverse negates", 5, true, 3, true, -15},
		{"negative weight", -5, false, 3, true, -15},
		{"negative result stays up", 1, false, -100, true, -100},
		{"bounded above", 254, false, math.MaxInt32, true, math.MaxInt32},
		{"INT_MIN+1 stays up", 1, false, math.MinInt32 + 1, true, math.MinInt32 + 1},
		{"INT_MIN is a fault", 1, false, math.MinInt32, false, 0},
		{"below INT_MIN is a fault", 2, false, -1<<30 - 1, false, 0},
		{"INT32_MAX+1 reversed is a fault", 1, true, math.MaxInt32 + 1, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up, delta := fileVerdict(&FileSpec{Weight: tc.weight, Reverse: tc.reverse}, tc.value)
			assert.Equal(t, tc.up, up)
			assert.Equal(t, tc.delta, delta)
		})
	}
}

func fileSpec(name, path string, weight int, reverse bool) Spec {
	return Spec{Kind: FileCheck, File: &FileSpec{Name: name, Path: path, Weight: weight, Reverse: reverse}}
}

// fileRig runs a real scheduler (system clock, real inotify).
type fileRig struct {
	t *testing.T
	s *Scheduler[string]
}

func newFileRig(t *testing.T) *fileRig {
	s := New[string](Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &fileRig{t: t, s: s}
}

// next returns the next event, failing after a few seconds.
func (r *fileRig) next() Event[string] {
	r.t.Helper()
	select {
	case ev := <-r.s.Events():
		return ev
	case <-time.After(5 * time.Second):
		r.t.Fatal("no event within 5s")
	}
	return Event[string]{}
}

// none asserts that no event comes within d.
func (r *fileRig) none(d time.Duration) {
	r.t.Helper()
	select {
	case ev := <-r.s.Events():
		r.t.Fatalf("unexpected event %+v", ev)
	case <-time.After(d):
	}
}

func write(t *testing.T, path string, v string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(v), 0o644))
}

type wantEv struct {
	key      string
	old, new State
	weight   int
}

func (r *fileRig) expect(want ...wantEv) {
	r.t.Helper()
	got := map[string]Event[string]{}
	for range want {
		ev := r.next()
		got[ev.Key] = ev
	}
	for _, w := range want {
		ev, ok := got[w.key]
		require.True(r.t, ok, "no event for %s (got %+v)", w.key, got)
		assert.Equal(r.t, w.old, ev.Old, "%s old", w.key)
		assert.Equal(r.t, w.new, ev.New, "%s new", w.key)
		assert.True(r.t, ev.HasWeight, "%s has a weight", w.key)
		assert.Equal(r.t, w.weight, ev.Weight, "%s weight (%s)", w.key, ev.Reason)
	}
}

// TestFileCheckFollowsFile: the value at start, a write, a value that
// takes a server down, an atomic rename, an invalid number and removal,
// each seen at once through inotify.
func TestFileCheckFollowsFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "tf")
	write(t, f, "5\n")
	r := newFileRig(t)
	// "w": configured weight 10, FILE_CHECK weight 2. "s": weight 0 (a
	// state). "rev": weight 3 reverse.
	require.NoError(t, r.s.Set(context.Background(), []Server[string]{
		{Key: "w", Weight: 10, Checks: []Spec{fileSpec("tf", f, 2, false)}},
		{Key: "s", Weight: 1, Checks: []Spec{fileSpec("tf", f, 0, false)}},
		{Key: "rev", Weight: 100, Checks: []Spec{fileSpec("tf", f, 3, true)}},
	}))
	// The start value is known at once: no alpha, no delay_loop.
	r.expect(wantEv{"w", Up, Up, 20}, wantEv{"s", Up, Down, 1}, wantEv{"rev", Up, Up, 85})

	write(t, f, "0")
	r.expect(wantEv{"w", Up, Up, 10}, wantEv{"s", Down, Up, 1}, wantEv{"rev", Up, Up, 100})

	// A weight at or below 0 leaves the server up (the director programs
	// weight 0): only "s" goes down.
	write(t, f, "-7")
	r.expect(wantEv{"w", Up, Up, -4}, wantEv{"s", Up, Down, 1}, wantEv{"rev", Up, Up, 121})

	// Written elsewhere and renamed into place (IN_MOVED_TO).
	tmp := filepath.Join(dir, ".tf.tmp")
	write(t, tmp, "0x10")
	require.NoError(t, os.Rename(tmp, f))
	// "s" stays down: no event for it.
	r.expect(wantEv{"w", Up, Up, 42}, wantEv{"rev", Up, Up, 52})

	// An out-of-range number is ignored: the value stays.
	write(t, f, "99999999999")
	r.none(300 * time.Millisecond)

	// Removed: the value is 0.
	require.NoError(t, os.Remove(f))
	r.expect(wantEv{"w", Up, Up, 10}, wantEv{"s", Down, Up, 1}, wantEv{"rev", Up, Up, 100})

	st, err := r.s.Status(context.Background())
	require.NoError(t, err)
	for _, s := range st {
		require.Len(t, s.Checks, 1)
		assert.Equal(t, "FILE_CHECK", s.Checks[0].Kind)
		assert.Equal(t, f, s.Checks[0].Target)
		assert.Contains(t, s.Checks[0].Reason, "value 0")
	}
}

// TestFileCheckInitialState: a file whose value changes nothing gives no
// event; a server the consumer starts down (alpha) is reported up at once;
// a missing file is 0; init_file writes the value before the first read.
func TestFileCheckInitialState(t *testing.T) {
	dir := t.TempDir()
	zero := filepath.Join(dir, "zero")
	write(t, zero, "0")
	missing := filepath.Join(dir, "missing")
	initf := filepath.Join(dir, "init")
	r := newFileRig(t)
	alpha := fileSpec("zero", zero, 5, false)
	alpha.Alpha = true
	withInit := fileSpec("init", initf, 0, false)
	withInit.File.InitMode, withInit.File.InitValue = trackfile.InitCreate, 1
	require.NoError(t, r.s.Set(context.Background(), []Server[string]{
		{Key: "quiet", Weight: 3, Checks: []Spec{fileSpec("zero", zero, 5, false)}},
		{Key: "missing", Weight: 3, Checks: []Spec{fileSpec("missing", missing, 5, false)}},
		{Key: "alpha", Weight: 3, Checks: []Spec{alpha}},
		{Key: "init", Weight: 3, Checks: []Spec{withInit}},
	}))
	r.expect(wantEv{"alpha", Down, Up, 3}, wantEv{"init", Up, Down, 3})
	r.none(200 * time.Millisecond)
	b, err := os.ReadFile(initf)
	require.NoError(t, err)
	assert.Equal(t, "1\n", string(b))

	// A file created later is seen.
	write(t, missing, "2")
	r.expect(wantEv{"missing", Up, Up, 13})
}

// TestFileCheckWithOtherCheckers: the server is up only when every
// checker is; the file's weight counts while the FILE_CHECK is up, and
// adds to a misc_dynamic weight (keepalived sums cur_weight).
func TestFileCheckWithOtherCheckers(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "tf")
	write(t, f, "1")
	srv := &server[string]{key: "k", base: 10}
	fc := &check[string]{srv: srv, spec: fileSpec("tf", f, 4, false), m: &machine{up: true}, file: &fileState{path: f}}
	misc := &check[string]{srv: srv, m: &machine{up: true}, weight: 50, hasWeight: true}
	srv.checks = []*check[string]{fc, misc}
	s := New[string](Options{})
	s.readFile(fc, time.Now())
	st, w, has := aggregate(srv)
	assert.Equal(t, Up, st)
	assert.True(t, has)
	assert.Equal(t, 54, w, "misc_dynamic 50 plus 1×4")

	misc.m.up, misc.weight, misc.hasWeight = false, 0, false
	st, w, _ = aggregate(srv)
	assert.Equal(t, Down, st)
	assert.Equal(t, 14, w)

	write(t, f, strconv.Itoa(math.MinInt32))
	s.readFile(fc, time.Now())
	st, w, _ = aggregate(srv)
	assert.Equal(t, Down, st)
	assert.Equal(t, 10, w, "a FILE_CHECK that is down adds nothing")
}

// TestFileCheckReload: an unchanged FILE_CHECK keeps its state over a
// Set; a changed weight is a new checker, read at once; a new configured
// weight moves the dynamic weight.
func TestFileCheckReload(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "tf")
	write(t, f, "2")
	r := newFileRig(t)
	set := func(base, weight int) {
		require.NoError(t, r.s.Set(context.Background(), []Server[string]{
			{Key: "k", Weight: base, Checks: []Spec{fileSpec("tf", f, weight, false)}}}))
	}
	set(10, 1)
	r.expect(wantEv{"k", Up, Up, 12})
	set(10, 1)
	r.none(100 * time.Millisecond)
	set(10, 5)
	r.expect(wantEv{"k", Up, Up, 20})
	set(20, 5)
	r.expect(wantEv{"k", Up, Up, 30})
	// The old checker's file is no longer read twice: one event per write.
	write(t, f, "3")
	r.expect(wantEv{"k", Up, Up, 35})
	r.none(100 * time.Millisecond)
}

// TestFileCheckMissingDirectory: Set refuses a track file whose directory
// does not exist (keepalived drops the track file) and changes nothing.
func TestFileCheckMissingDirectory(t *testing.T) {
	r := newFileRig(t)
	err := r.s.Set(context.Background(), []Server[string]{
		{Key: "k", Checks: []Spec{fileSpec("tf", filepath.Join(t.TempDir(), "no", "such", "tf"), 1, false)}}})
	require.ErrorIs(t, err, ErrInvalidSpec)
	assert.Contains(t, err.Error(), "track_file tf")
	st, err := r.s.Status(context.Background())
	require.NoError(t, err)
	assert.Empty(t, st)
}

func TestFileCheckOnce(t *testing.T) {
	f := filepath.Join(t.TempDir(), "tf")
	write(t, f, "3")
	s := fileSpec("tf", f, 0, false)
	r := CheckOnce(context.Background(), &s, nil)
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "value 3 takes the server down")
	s.File.Weight = 2
	r = CheckOnce(context.Background(), &s, nil)
	assert.True(t, r.OK)
	assert.Contains(t, r.Reason, "value 3, weight +6")
}
