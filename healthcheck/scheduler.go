package healthcheck

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"reflect"
	"sync"
	"time"

	"github.com/lvsctl/lvsctl/internal/clock"
	"github.com/lvsctl/lvsctl/internal/trackfile"
)

// State is the health of a real server or checker.
type State int

// States. The zero value is Down so a forgotten field fails safe.
const (
	Down State = iota
	Up
)

func (s State) String() string {
	if s == Up {
		return "UP"
	}
	return "DOWN"
}

// MarshalText makes State print as UP/DOWN in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Server is one real server as the scheduler sees it: a key chosen by the
// consumer (the scheduler only compares it) and its checkers.
type Server[K comparable] struct {
	Key K
	// Weight is the real server's configured weight (keepalived's
	// iweight): what FILE_CHECK values add to, and what a misc_dynamic
	// weight replaces. Only dynamic weights (Event.HasWeight) use it.
	Weight int
	Checks []Spec
}

// Event reports a change of a real server's state or dynamic weight, or
// (FirstDown) a checker's first verdict that confirmed the down state the
// server started in.
type Event[K comparable] struct {
	Key      K
	Old, New State
	// FirstDown: Old and New are Down, and a checker of a server that
	// started down (alpha) failed its first check. keepalived 2.2.7 runs
	// the server's notify_down for it (check/ipwrapper.c,
	// update_svr_checker_state), once per checker.
	FirstDown bool
	// Reason is the outcome of the probe that caused the change.
	Reason string
	Time   time.Time
	// Weight is the absolute weight the real server should have when
	// HasWeight; without it the consumer uses the configured weight. As
	// keepalived 2.2.7 sums checker->cur_weight into effective_weight
	// (check/check_daemon.c, set_effective_weights): the configured
	// weight (Server.Weight), plus value × weight of each FILE_CHECK that
	// is up, plus for each misc_dynamic checker that passed with exit
	// code 2..255 (code - 2) - the configured weight; one misc_dynamic
	// checker alone thus sets the weight to code - 2. A server with a
	// FILE_CHECK always has a dynamic weight. It is bounded to the int32
	// range only: a weight at or below 0 leaves the server up, and the
	// consumer programs weight 0 (keepalived's real_weight).
	Weight    int
	HasWeight bool
	// Latency is how long the check round that caused the change took,
	// from its launch to its outcome (retries are rounds of their own).
	// It is 0 for a change that no check caused (checkers reconfigured).
	Latency time.Duration
}

// Status is a snapshot of one real server.
type Status[K comparable] struct {
	Key    K      `json:"key"`
	State  State  `json:"state"`
	Reason string `json:"reason"`
	// Weight is the misc_dynamic weight when HasWeight, as in Event. In
	// JSON they are one field, "weight", absent when there is none.
	Weight    int         `json:"-"`
	HasWeight bool        `json:"-"`
	Checks    []CheckInfo `json:"checks"`
	// Suspended is true while ha_suspend holds the checks (Suspend).
	Suspended bool `json:"suspended,omitempty"`
}

// MarshalJSON writes the dynamic weight as an optional number.
func (s Status[K]) MarshalJSON() ([]byte, error) {
	type plain Status[K] // without this method
	out := struct {
		plain
		Weight *int `json:"weight,omitempty"`
	}{plain: plain(s)}
	if s.HasWeight {
		out.Weight = &s.Weight
	}
	return json.Marshal(out)
}

// CheckInfo is a snapshot of one checker.
type CheckInfo struct {
	Kind    string    `json:"kind"`
	Target  string    `json:"target"`
	State   State     `json:"state"`
	Reason  string    `json:"reason"`
	LastRun time.Time `json:"last_run"`
}

// DialFunc opens the TCP connection of a check. local is where it leaves
// from: the bindto address (invalid: any), the bind_if interface and the
// fwmark, which a DialFunc must apply to its socket before it binds and
// connects (Local.Control does, for a net.Dialer). Consumers inject one
// to create sockets in another network namespace or to count
// connections.
type DialFunc func(ctx context.Context, network string, local Local, remote netip.AddrPort) (net.Conn, error)

// DefaultDial dials with net.Dialer, bound to local's address when it is
// valid, with local's interface and mark.
func DefaultDial(ctx context.Context, network string, local Local, remote netip.AddrPort) (net.Conn, error) {
	// No TCP keep-alive: a check's connection lives for one request, and
	// the three setsockopt calls are a measurable share of a TCP_CHECK.
	d := net.Dialer{KeepAlive: -1, Control: local.chainControl(nil)}
	if local.Addr.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(local.Addr)
	}
	return d.DialContext(ctx, network, remote.String())
}

// Options configure a Scheduler. Every field has a working zero value.
type Options struct {
	// Clock is the time source (nil: clock.System).
	Clock clock.Clock
	// Dial opens check connections (nil: the built-in dialer, which for
	// TCP_CHECK is a cheaper connect-and-close on a raw socket).
	Dial   DialFunc
	Logger *slog.Logger
	// Rand returns a number in [0, n); it spreads first checks over warmup.
	Rand func(n int64) int64
	// EventBuffer is the capacity of the Events channel (default 4096).
	// When it is full the scheduler waits for the consumer.
	EventBuffer int
	// Workers is how many goroutines wait for checks to run (default
	// 64). Their stacks stay grown, which saves a stack copy per check;
	// when all are busy a check gets a goroutine of its own, so a burst of
	// slow checks never delays the others.
	Workers int
}

// ErrStopped is returned by calls made after Run has returned.
var ErrStopped = errors.New("healthcheck scheduler stopped")

// Scheduler runs the checkers of a set of real servers, each named by a
// key of type K that the scheduler never looks inside.
type Scheduler[K comparable] struct {
	clock  clock.Clock
	dial   DialFunc
	log    *slog.Logger
	rand   func(int64) int64
	events chan Event[K]
	cmds   chan command
	done   chan struct{}

	// owned by the Run goroutine
	servers map[K]*server[K]
	queue   checkHeap[K]
	results chan *outcome[K]
	running sync.WaitGroup
	pending []Event[K]
	workers int
	jobs    chan job[K]
	inline  bool // tests: run probes inside the loop, for exact fake time
	mkProbe func(*Spec, DialFunc) probeFunc
	// suspended keys are not probed (ha_suspend); see Suspend.
	suspended map[K]bool
	// runCtx is Run's context (for the track file watcher).
	runCtx context.Context
	// sets counts applied Set/Upsert calls: init_file never overwrites
	// after the first.
	sets int
	// FILE_CHECK: the checks of each resolved file, the watcher (started
	// with the first FILE_CHECK) and the files it reports changed.
	files       map[string]map[*check[K]]struct{}
	watcher     *trackfile.Watcher
	watchFailed bool
	fileCh      chan string
}

type server[K comparable] struct {
	key K
	// base is the configured weight (Server.Weight).
	base      int
	checks    []*check[K]
	state     State
	weight    int
	hasWeight bool
	reason    string
}

type check[K comparable] struct {
	srv     *server[K]
	spec    Spec
	probe   probeFunc
	m       *machine
	due     time.Time
	index   int // in the heap, -1 when absent
	running bool
	removed bool
	reason  string
	// weight is the dynamic weight of the last passed probe, if it had one.
	weight    int
	hasWeight bool
	lastRun   time.Time
	// file is set for a FILE_CHECK, which is never in the queue.
	file *fileState
}

type job[K comparable] struct {
	c     *check[K]
	step  int
	start time.Time
}

type outcome[K comparable] struct {
	c          *check[K]
	res        Result
	start, end time.Time
}

// New returns a Scheduler of real servers keyed by K; call Run to start it.
func New[K comparable](o Options) *Scheduler[K] {
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Rand == nil {
		o.Rand = rand.Int64N
	}
	if o.EventBuffer <= 0 {
		o.EventBuffer = 4096
	}
	if o.Workers <= 0 {
		o.Workers = 64
	}
	return &Scheduler[K]{
		clock:     o.Clock,
		dial:      o.Dial,
		log:       o.Logger,
		rand:      o.Rand,
		events:    make(chan Event[K], o.EventBuffer),
		cmds:      make(chan command),
		done:      make(chan struct{}),
		servers:   map[K]*server[K]{},
		suspended: map[K]bool{},
		results:   make(chan *outcome[K], 1024),
		mkProbe:   newProbe,
		workers:   o.Workers,
		jobs:      make(chan job[K]),
		files:     map[string]map[*check[K]]struct{}{},
		fileCh:    make(chan string, 16),
	}
}

// Events delivers one Event per change, in order; it is closed when Run
// returns.
func (s *Scheduler[K]) Events() <-chan Event[K] { return s.events }

// Run runs checks until ctx is cancelled, then waits for the checks in
// flight to end (they see ctx cancelled) and returns.
func (s *Scheduler[K]) Run(ctx context.Context) error {
	defer close(s.events)
	defer close(s.done)
	defer s.running.Wait()
	// Before the Wait: closing the watcher ends its goroutine.
	defer s.closeWatcher()
	s.runCtx = ctx
	for range s.workers {
		s.running.Add(1)
		go s.worker(ctx)
	}
	timer := s.clock.NewTimer(time.Hour)
	timer.Stop()
	var armed time.Time
	fired := false
	for {
		var ack chan struct{}
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C():
			fired, armed = true, time.Time{}
			s.launchDue(ctx)
		case o := <-s.results:
			s.finish(ctx, o)
		case p := <-s.fileCh:
			s.fileChanged(p)
			s.sendPending(ctx)
		case c := <-s.cmds:
			c.f()
			s.sendPending(ctx)
			ack = c.done
		}
		// One timer for all checks: re-arm it only when the earliest
		// deadline moved, which keeps the cost per check constant.
		if len(s.queue) == 0 {
			if fired || !armed.IsZero() {
				timer.Stop()
				armed = time.Time{}
			}
		} else if next := s.queue[0].due; fired || !next.Equal(armed) {
			timer.Reset(next.Sub(s.clock.Now()))
			armed = next
		}
		fired = false
		if ack != nil {
			close(ack)
		}
	}
}

type command struct {
	f    func()
	done chan struct{}
}

// call runs f on the loop goroutine and waits until it ran and the timer
// reflects its effect.
func (s *Scheduler[K]) call(ctx context.Context, f func()) error {
	c := command{f: f, done: make(chan struct{})}
	select {
	case s.cmds <- c:
	case <-s.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-c.done:
		return nil
	case <-s.done:
		return ErrStopped
	}
}

// Set makes servers the complete set of checked real servers. Servers and
// checkers that did not change keep their state and schedule (a reload
// must not flap anything); changed timing is applied to the kept state;
// new checkers start as keepalived starts them. It validates every Spec
// first and changes nothing on error.
func (s *Scheduler[K]) Set(ctx context.Context, servers []Server[K]) error {
	paths, err := validate(servers)
	if err != nil {
		return err
	}
	return s.call(ctx, func() { s.apply(servers, paths) })
}

// Validate reports every reason Set would refuse servers (duplicate keys,
// invalid checkers, a FILE_CHECK whose directory is missing), so that a
// caller can check a whole configuration before it changes anything.
func Validate[K comparable](servers []Server[K]) error {
	_, err := validate(servers)
	return err
}

func validate[K comparable](servers []Server[K]) (map[string]string, error) {
	var errs []error
	seen := make(map[K]bool, len(servers))
	for i := range servers {
		if seen[servers[i].Key] {
			errs = append(errs, fmt.Errorf("%w: duplicate server key %v", ErrInvalidSpec, servers[i].Key))
		}
		seen[servers[i].Key] = true
		for j := range servers[i].Checks {
			if err := servers[i].Checks[j].Validate(); err != nil {
				errs = append(errs, fmt.Errorf("server %v: %w", servers[i].Key, err))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return resolveFiles(servers)
}

// Upsert adds or updates one real server, with the rules of Set.
func (s *Scheduler[K]) Upsert(ctx context.Context, srv Server[K]) error {
	for j := range srv.Checks {
		if err := srv.Checks[j].Validate(); err != nil {
			return fmt.Errorf("server %v: %w", srv.Key, err)
		}
	}
	paths, err := resolveFiles([]Server[K]{srv})
	if err != nil {
		return err
	}
	return s.call(ctx, func() {
		s.upsert(srv, paths, s.clock.Now())
		s.sets++
	})
}

// Remove stops checking one real server; a check in flight is abandoned.
func (s *Scheduler[K]) Remove(ctx context.Context, key K) error {
	return s.call(ctx, func() { s.remove(key) })
}

// Suspend makes keys the complete set of suspended servers, whether they
// are checked now or added later. A suspended server's checkers keep
// their state and their timer, but when a check is due it is not run and
// comes round again a delay_loop later: its state cannot change until it
// is resumed, and a check then continues from where it was. This is
// keepalived 2.2.7's ha_suspend (check/check_api.c:
// update_checker_activity sets checker->enabled; every checker thread,
// e.g. check_tcp.c tcp_connect_thread, only re-registers its timer while
// disabled). A check already running when its server is suspended
// finishes and its result counts, as in keepalived.
func (s *Scheduler[K]) Suspend(ctx context.Context, keys []K) error {
	set := make(map[K]bool, len(keys))
	for _, k := range keys {
		set[k] = true
	}
	return s.call(ctx, func() {
		for k := range set {
			if !s.suspended[k] {
				s.log.Info("suspending health checks", "server", fmt.Sprint(k))
			}
		}
		for k := range s.suspended {
			if !set[k] {
				s.log.Info("activating health checks", "server", fmt.Sprint(k))
			}
		}
		s.suspended = set
	})
}

// Status returns a snapshot of every real server, in no particular order.
func (s *Scheduler[K]) Status(ctx context.Context) ([]Status[K], error) {
	var out []Status[K]
	err := s.call(ctx, func() {
		out = make([]Status[K], 0, len(s.servers))
		for _, srv := range s.servers {
			st := Status[K]{Key: srv.key, State: srv.state, Reason: srv.reason, Weight: srv.weight, HasWeight: srv.hasWeight,
				Suspended: s.suspended[srv.key]}
			for _, c := range srv.checks {
				st.Checks = append(st.Checks, CheckInfo{
					Kind: c.spec.Kind.String(), Target: c.spec.Target(),
					State: stateOf(c.m.up), Reason: c.reason, LastRun: c.lastRun,
				})
			}
			out = append(out, st)
		}
	})
	return out, err
}

func stateOf(up bool) State {
	if up {
		return Up
	}
	return Down
}

func (s *Scheduler[K]) apply(servers []Server[K], paths map[string]string) {
	keep := make(map[K]bool, len(servers))
	now := s.clock.Now()
	defer func() { s.sets++ }()
	for _, srv := range servers {
		keep[srv.Key] = true
		s.upsert(srv, paths, now)
	}
	for key := range s.servers {
		if !keep[key] {
			s.remove(key)
		}
	}
}

func (s *Scheduler[K]) remove(key K) {
	srv := s.servers[key]
	if srv == nil {
		return
	}
	for _, c := range srv.checks {
		s.drop(c)
	}
	delete(s.servers, key)
}

func (s *Scheduler[K]) drop(c *check[K]) {
	c.removed = true
	if c.index >= 0 {
		heap.Remove(&s.queue, c.index)
	}
	if c.file != nil {
		s.dropFile(c)
	}
}

func (s *Scheduler[K]) upsert(in Server[K], paths map[string]string, now time.Time) {
	srv := s.servers[in.Key]
	isNew := srv == nil
	if isNew {
		srv = &server[K]{key: in.Key}
		s.servers[in.Key] = srv
	}
	srv.base = in.Weight
	var newFiles []*check[K]
	old := srv.checks
	used := make([]bool, len(old))
	srv.checks = make([]*check[K], 0, len(in.Checks))
	for i := range in.Checks {
		spec := in.Checks[i]
		var c *check[K]
		for j, oc := range old {
			if !used[j] && sameProbe(&oc.spec, &spec) {
				used[j], c = true, oc
				break
			}
		}
		switch {
		case c == nil && spec.Kind == FileCheck:
			// Started as the consumer assumes (up, unless alpha), and
			// read below: the first read is a change like any other.
			c = &check[K]{srv: srv, index: -1, m: newMachine(&spec), file: &fileState{}}
			newFiles = append(newFiles, c)
		case c == nil:
			c = &check[K]{srv: srv, index: -1, m: newMachine(&spec)}
			c.due = now
			if spec.Warmup > 0 {
				c.due = now.Add(time.Duration(s.rand(int64(spec.Warmup))))
			}
			c.reason = "not checked yet"
			defer s.schedule(c)
		default:
			c.m.configure(&spec)
		}
		c.spec = spec
		c.probe = s.mkProbe(&c.spec, s.dial)
		srv.checks = append(srv.checks, c)
	}
	for j, oc := range old {
		if !used[j] {
			s.drop(oc)
		}
	}
	// A new server reports its initial state through Status only; a kept
	// one whose checkers changed may change state, which is an event. A
	// FILE_CHECK knows its state at once (keepalived 2.2.7 check_file.c:
	// no alpha, has_run set): what its first read changes is an event.
	if isNew {
		srv.state, srv.weight, srv.hasWeight = aggregate(srv)
		srv.reason = "initial state"
	}
	reason := "checkers changed"
	for _, c := range newFiles {
		p := paths[c.spec.File.Path]
		if p == "" {
			p = c.spec.File.Path
		}
		reason = s.startFile(c, p, now)
	}
	if isNew && len(newFiles) == 0 {
		return
	}
	s.maybeEmit(srv, reason, now, 0)
}

// sameProbe reports whether two specs probe the same thing, so the state
// of the old checker carries over to the new one (timing may differ).
func sameProbe(a, b *Spec) bool {
	x, y := *a, *b
	for _, s := range []*Spec{&x, &y} {
		s.DelayLoop, s.DelayBeforeRetry, s.Retry, s.Warmup = 0, 0, 0, 0
		s.Alpha, s.Rise, s.Fall = false, 0, 0
	}
	return reflect.DeepEqual(x, y)
}

func (s *Scheduler[K]) schedule(c *check[K]) {
	if !c.removed && c.index < 0 && !c.running && c.file == nil {
		heap.Push(&s.queue, c)
	}
}

func (s *Scheduler[K]) launchDue(ctx context.Context) {
	now := s.clock.Now()
	for len(s.queue) > 0 && !s.queue[0].due.After(now) {
		c := heap.Pop(&s.queue).(*check[K])
		if s.suspended[c.srv.key] {
			c.due = now.Add(max(c.spec.DelayLoop, time.Second))
			s.schedule(c)
			continue
		}
		c.running = true
		step := c.m.step()
		if s.inline {
			res := c.probe(ctx, step)
			s.finish(ctx, &outcome[K]{c: c, res: res, start: now, end: s.clock.Now()})
			continue
		}
		j := job[K]{c: c, step: step, start: now}
		select {
		case s.jobs <- j:
		default:
			s.running.Add(1)
			go func() {
				defer s.running.Done()
				s.runJob(ctx, j)
			}()
		}
	}
}

func (s *Scheduler[K]) worker(ctx context.Context) {
	defer s.running.Done()
	for {
		select {
		case j := <-s.jobs:
			s.runJob(ctx, j)
		case <-ctx.Done():
			return
		}
	}
}

func (s *Scheduler[K]) runJob(ctx context.Context, j job[K]) {
	res := j.c.probe(ctx, j.step)
	o := &outcome[K]{c: j.c, res: res, start: j.start, end: s.clock.Now()}
	select {
	case s.results <- o:
	case <-ctx.Done():
	}
}

func (s *Scheduler[K]) finish(ctx context.Context, o *outcome[K]) {
	c := o.c
	c.running = false
	if c.removed || ctx.Err() != nil {
		return
	}
	c.lastRun = o.end
	c.reason = o.res.Reason
	if o.res.OK {
		c.weight, c.hasWeight = o.res.Weight, o.res.HasWeight
	}
	_, delay, fromStart := c.m.result(o.res.OK)
	if !c.m.up {
		c.weight, c.hasWeight = 0, false
	}
	base := o.end
	if fromStart {
		base = o.start
	}
	c.due = base.Add(delay)
	if c.due.Before(o.end) {
		c.due = o.end
	}
	s.schedule(c)
	if c.m.takeFirstSame() && !c.m.up {
		if st, _, _ := aggregate(c.srv); st == Down && c.srv.state == Down {
			s.pending = append(s.pending, Event[K]{Key: c.srv.key, Old: Down, New: Down, FirstDown: true,
				Reason: o.res.Reason, Time: o.end, Latency: o.end.Sub(o.start)})
		}
	}
	s.maybeEmit(c.srv, o.res.Reason, o.end, o.end.Sub(o.start))
	s.sendPending(ctx)
}

// aggregate is the server's state: up only when every checker is up; and
// its dynamic weight (Event.Weight says how it is summed; hasWeight
// false: none, the consumer's configured weight applies).
func aggregate[K comparable](srv *server[K]) (st State, weight int, hasWeight bool) {
	st = Up
	sum := int64(srv.base)
	for _, c := range srv.checks {
		if !c.m.up {
			st = Down
		}
		switch {
		case c.file != nil:
			hasWeight = true
			if c.m.up {
				sum += int64(c.file.delta)
			}
		case c.hasWeight:
			hasWeight = true
			sum += int64(c.weight) - int64(srv.base)
		}
	}
	if !hasWeight {
		return st, 0, false
	}
	return st, int(min(max(sum, math.MinInt32), math.MaxInt32)), true
}

func (s *Scheduler[K]) maybeEmit(srv *server[K], reason string, now time.Time, latency time.Duration) {
	st, w, hasW := aggregate(srv)
	if st == srv.state && w == srv.weight && hasW == srv.hasWeight {
		return
	}
	ev := Event[K]{Key: srv.key, Old: srv.state, New: st, Reason: reason, Time: now,
		Weight: w, HasWeight: hasW, Latency: latency}
	srv.state, srv.weight, srv.hasWeight, srv.reason = st, w, hasW, reason
	if s.log.Enabled(context.Background(), slog.LevelInfo) {
		attrs := []any{"key", ev.Key, "old", ev.Old, "new", ev.New, "reason", reason}
		if hasW {
			attrs = append(attrs, "weight", w)
		}
		s.log.Info("real server health changed", attrs...)
	}
	s.pending = append(s.pending, ev)
}

// sendPending delivers queued events, blocking while the consumer's buffer
// is full (back-pressure rather than lost transitions).
func (s *Scheduler[K]) sendPending(ctx context.Context) {
	for _, ev := range s.pending {
		select {
		case s.events <- ev:
		case <-ctx.Done():
			s.pending = s.pending[:0]
			return
		}
	}
	s.pending = s.pending[:0]
}

type checkHeap[K comparable] []*check[K]

func (h checkHeap[K]) Len() int           { return len(h) }
func (h checkHeap[K]) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h checkHeap[K]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *checkHeap[K]) Push(x any) {
	c := x.(*check[K])
	c.index = len(*h)
	*h = append(*h, c)
}
func (h *checkHeap[K]) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	c.index = -1
	return c
}
