package healthcheck

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"reflect"
	"sync"
	"time"
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

// NoWeight is the Weight of an Event or Status when no misc_dynamic checker
// set one: the consumer uses the configured weight.
const NoWeight = -1

// Server is one real server as the scheduler sees it: an ID chosen by the
// consumer (opaque here) and its checkers.
type Server struct {
	ID     string
	Checks []Spec
}

// Event reports a change of a real server's state or dynamic weight.
type Event struct {
	ID       string
	Old, New State
	// Reason is the outcome of the probe that caused the change.
	Reason string
	Time   time.Time
	// Weight is the misc_dynamic weight (exit code - 2), or NoWeight.
	Weight int
	// Latency is how long the check round that caused the change took,
	// from its launch to its outcome (retries are rounds of their own).
	// It is 0 for a change that no check caused (checkers reconfigured).
	Latency time.Duration
}

// Status is a snapshot of one real server.
type Status struct {
	ID     string      `json:"id"`
	State  State       `json:"state"`
	Reason string      `json:"reason"`
	Weight int         `json:"weight"`
	Checks []CheckInfo `json:"checks"`
}

// CheckInfo is a snapshot of one checker.
type CheckInfo struct {
	Kind    string    `json:"kind"`
	Target  string    `json:"target"`
	State   State     `json:"state"`
	Reason  string    `json:"reason"`
	LastRun time.Time `json:"last_run"`
}

// DialFunc opens the TCP connection of a check. local is the bindto
// address (invalid: any). Consumers inject one to create sockets in another
// network namespace or to count connections.
type DialFunc func(ctx context.Context, network string, local, remote netip.AddrPort) (net.Conn, error)

// DefaultDial dials with net.Dialer, bound to local when it is valid.
func DefaultDial(ctx context.Context, network string, local, remote netip.AddrPort) (net.Conn, error) {
	// No TCP keep-alive: a check's connection lives for one request, and
	// the three setsockopt calls are a measurable share of a TCP_CHECK.
	d := net.Dialer{KeepAlive: -1}
	if local.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(local)
	}
	return d.DialContext(ctx, network, remote.String())
}

// Options configure a Scheduler. Every field has a working zero value.
type Options struct {
	Clock Clock
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

// Scheduler runs the checkers of a set of real servers.
type Scheduler struct {
	clock  Clock
	dial   DialFunc
	log    *slog.Logger
	rand   func(int64) int64
	events chan Event
	cmds   chan command
	done   chan struct{}

	// owned by the Run goroutine
	servers map[string]*server
	queue   checkHeap
	results chan *outcome
	running sync.WaitGroup
	pending []Event
	workers int
	jobs    chan job
	inline  bool // tests: run probes inside the loop, for exact fake time
	mkProbe func(*Spec, DialFunc) probeFunc
}

type server struct {
	id     string
	checks []*check
	state  State
	weight int
	reason string
}

type check struct {
	srv     *server
	spec    Spec
	probe   probeFunc
	m       *machine
	due     time.Time
	index   int // in the heap, -1 when absent
	running bool
	removed bool
	reason  string
	weight  int
	lastRun time.Time
}

type job struct {
	c     *check
	step  int
	start time.Time
}

type outcome struct {
	c          *check
	res        Result
	start, end time.Time
}

// New returns a Scheduler; call Run to start it.
func New(o Options) *Scheduler {
	if o.Clock == nil {
		o.Clock = SystemClock{}
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
	return &Scheduler{
		clock:   o.Clock,
		dial:    o.Dial,
		log:     o.Logger,
		rand:    o.Rand,
		events:  make(chan Event, o.EventBuffer),
		cmds:    make(chan command),
		done:    make(chan struct{}),
		servers: map[string]*server{},
		results: make(chan *outcome, 1024),
		mkProbe: newProbe,
		workers: o.Workers,
		jobs:    make(chan job),
	}
}

// Events delivers one Event per change, in order; it is closed when Run
// returns.
func (s *Scheduler) Events() <-chan Event { return s.events }

// Run runs checks until ctx is cancelled, then waits for the checks in
// flight to end (they see ctx cancelled) and returns.
func (s *Scheduler) Run(ctx context.Context) error {
	defer close(s.events)
	defer close(s.done)
	defer s.running.Wait()
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
func (s *Scheduler) call(ctx context.Context, f func()) error {
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
func (s *Scheduler) Set(ctx context.Context, servers []Server) error {
	seen := make(map[string]bool, len(servers))
	for i := range servers {
		if seen[servers[i].ID] {
			return fmt.Errorf("%w: duplicate server id %q", ErrInvalidSpec, servers[i].ID)
		}
		seen[servers[i].ID] = true
		for j := range servers[i].Checks {
			if err := servers[i].Checks[j].Validate(); err != nil {
				return fmt.Errorf("server %s: %w", servers[i].ID, err)
			}
		}
	}
	return s.call(ctx, func() { s.apply(servers) })
}

// Upsert adds or updates one real server, with the rules of Set.
func (s *Scheduler) Upsert(ctx context.Context, srv Server) error {
	for j := range srv.Checks {
		if err := srv.Checks[j].Validate(); err != nil {
			return fmt.Errorf("server %s: %w", srv.ID, err)
		}
	}
	return s.call(ctx, func() { s.upsert(srv, s.clock.Now()) })
}

// Remove stops checking one real server; a check in flight is abandoned.
func (s *Scheduler) Remove(ctx context.Context, id string) error {
	return s.call(ctx, func() { s.remove(id) })
}

// Status returns a snapshot of every real server, in no particular order.
func (s *Scheduler) Status(ctx context.Context) ([]Status, error) {
	var out []Status
	err := s.call(ctx, func() {
		out = make([]Status, 0, len(s.servers))
		for _, srv := range s.servers {
			st := Status{ID: srv.id, State: srv.state, Reason: srv.reason, Weight: srv.weight}
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

func (s *Scheduler) apply(servers []Server) {
	keep := make(map[string]bool, len(servers))
	now := s.clock.Now()
	for _, srv := range servers {
		keep[srv.ID] = true
		s.upsert(srv, now)
	}
	for id := range s.servers {
		if !keep[id] {
			s.remove(id)
		}
	}
}

func (s *Scheduler) remove(id string) {
	srv := s.servers[id]
	if srv == nil {
		return
	}
	for _, c := range srv.checks {
		s.drop(c)
	}
	delete(s.servers, id)
}

func (s *Scheduler) drop(c *check) {
	c.removed = true
	if c.index >= 0 {
		heap.Remove(&s.queue, c.index)
	}
}

func (s *Scheduler) upsert(in Server, now time.Time) {
	srv := s.servers[in.ID]
	isNew := srv == nil
	if isNew {
		srv = &server{id: in.ID, weight: NoWeight}
		s.servers[in.ID] = srv
	}
	old := srv.checks
	used := make([]bool, len(old))
	srv.checks = make([]*check, 0, len(in.Checks))
	for i := range in.Checks {
		spec := in.Checks[i]
		var c *check
		for j, oc := range old {
			if !used[j] && sameProbe(&oc.spec, &spec) {
				used[j], c = true, oc
				break
			}
		}
		if c == nil {
			c = &check{srv: srv, index: -1, weight: NoWeight, m: newMachine(&spec)}
			c.due = now
			if spec.Warmup > 0 {
				c.due = now.Add(time.Duration(s.rand(int64(spec.Warmup))))
			}
			c.reason = "not checked yet"
			defer s.schedule(c)
		} else {
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
	// one whose checkers changed may change state, which is an event.
	st, w := aggregate(srv)
	if isNew {
		srv.state, srv.weight, srv.reason = st, w, "initial state"
		return
	}
	s.maybeEmit(srv, "checkers changed", now, 0)
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

func (s *Scheduler) schedule(c *check) {
	if !c.removed && c.index < 0 && !c.running {
		heap.Push(&s.queue, c)
	}
}

func (s *Scheduler) launchDue(ctx context.Context) {
	now := s.clock.Now()
	for len(s.queue) > 0 && !s.queue[0].due.After(now) {
		c := heap.Pop(&s.queue).(*check)
		c.running = true
		step := c.m.step()
		if s.inline {
			res := c.probe(ctx, step)
			s.finish(ctx, &outcome{c: c, res: res, start: now, end: s.clock.Now()})
			continue
		}
		j := job{c: c, step: step, start: now}
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

func (s *Scheduler) worker(ctx context.Context) {
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

func (s *Scheduler) runJob(ctx context.Context, j job) {
	res := j.c.probe(ctx, j.step)
	o := &outcome{c: j.c, res: res, start: j.start, end: s.clock.Now()}
	select {
	case s.results <- o:
	case <-ctx.Done():
	}
}

func (s *Scheduler) finish(ctx context.Context, o *outcome) {
	c := o.c
	c.running = false
	if c.removed || ctx.Err() != nil {
		return
	}
	c.lastRun = o.end
	c.reason = o.res.Reason
	if o.res.OK {
		c.weight = o.res.Weight
	}
	_, delay, fromStart := c.m.result(o.res.OK)
	if !c.m.up {
		c.weight = NoWeight
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
	s.maybeEmit(c.srv, o.res.Reason, o.end, o.end.Sub(o.start))
	s.sendPending(ctx)
}

// aggregate is the server's state: up only when every checker is up; its
// weight is the last dynamic weight reported by a checker that is up.
func aggregate(srv *server) (State, int) {
	st, w := Up, NoWeight
	for _, c := range srv.checks {
		if !c.m.up {
			st = Down
		}
		if c.weight != NoWeight {
			w = c.weight
		}
	}
	return st, w
}

func (s *Scheduler) maybeEmit(srv *server, reason string, now time.Time, latency time.Duration) {
	st, w := aggregate(srv)
	if st == srv.state && w == srv.weight {
		return
	}
	ev := Event{ID: srv.id, Old: srv.state, New: st, Reason: reason, Time: now, Weight: w, Latency: latency}
	srv.state, srv.weight, srv.reason = st, w, reason
	s.log.Info("real server health changed", "id", ev.ID, "old", ev.Old, "new", ev.New, "reason", reason, "weight", w)
	s.pending = append(s.pending, ev)
}

// sendPending delivers queued events, blocking while the consumer's buffer
// is full (back-pressure rather than lost transitions).
func (s *Scheduler) sendPending(ctx context.Context) {
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

type checkHeap []*check

func (h checkHeap) Len() int           { return len(h) }
func (h checkHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h checkHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *checkHeap) Push(x any) {
	c := x.(*check)
	c.index = len(*h)
	*h = append(*h, c)
}
func (h *checkHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	c.index = -1
	return c
}
