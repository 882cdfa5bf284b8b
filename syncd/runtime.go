package syncd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/internal/clock"
	"github.com/lvsctl/lvsctl/vrrp/fsm"
)

// Runtime keeps the kernel's sync daemons as Decide wants them. Start,
// Reload and Stop work synchronously and return the kernel's error.
// SetVRRPState and Resync never block: VRRP transitions come from the VRRP
// goroutine, and a kernel call can take seconds (the kernel holds RTNL
// while it tears down a network namespace, and leaving the multicast group
// of a stopping daemon needs it), so a worker goroutine reconciles, logs
// and keeps the error for Status, and retries a failed reconcile every
// RetryEvery. Settle waits for the worker (tests, and callers that want
// the outcome). Its methods are safe for concurrent use.
type Runtime struct {
	k     Kernel
	log   *slog.Logger
	clk   clock.Clock
	retry time.Duration

	// mu serializes the kernel work and guards what it uses.
	mu    sync.Mutex
	cfg   *Config
	state fsm.State // as last applied
	// running is what this runtime started, per role, as it was sent (a
	// kernel reports defaults and clamped sizes, so it is compared with
	// what was sent, not with what the kernel reports).
	running map[Role]Daemon
	// saved are the sysctl values found before the first write, restored
	// at Stop or when a sysctl leaves the configuration.
	saved map[string]string

	// sm guards the hand-over to the worker, which SetVRRPState must get
	// without waiting for kernel work under mu.
	sm       sync.Mutex
	started  bool
	view     *Config   // cfg as the hand-over sees it
	want     fsm.State // the latest VRRP state of view.Instance
	gen      uint64    // bumped by every request to the worker
	done     uint64    // the last gen the worker finished
	lastErr  error
	progress chan struct{} // closed and replaced when the worker finishes one
	kick     chan struct{}
	stopW    context.CancelFunc
	workerWG sync.WaitGroup
}

// Option configures a Runtime.
type Option func(*Runtime)

// WithClock sets the clock of the retry timer (default: the system's).
func WithClock(c clock.Clock) Option { return func(r *Runtime) { r.clk = c } }

// WithRetry sets how long after a failed reconcile the worker tries again
// (default 5 s; 0 disables).
func WithRetry(d time.Duration) Option { return func(r *Runtime) { r.retry = d } }

// New returns a runtime that does nothing until Start.
func New(k Kernel, log *slog.Logger, opts ...Option) *Runtime {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runtime{k: k, log: log.With("subsystem", "sync"), clk: clock.System{}, retry: 5 * time.Second,
		running: map[Role]Daemon{}, saved: map[string]string{}, progress: make(chan struct{}), kick: make(chan struct{}, 1)}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Start applies cfg (nil: sync not configured, the kernel's daemons are
// left alone) with st the current state of cfg.Instance (fsm.Init before
// VRRP runs), and starts the worker. Like keepalived (check_daemon.c), it
// first stops whatever sync daemons run, so a daemon left by a crashed
// lvsctl with other settings never survives; a missing interface is an
// error naming it (the worker retries).
func (r *Runtime) Start(ctx context.Context, cfg *Config, st fsm.State) error {
	r.mu.Lock()
	r.cfg, r.state = cfg, st
	var errs []error
	if cfg != nil {
		for _, role := range []Role{Master, Backup} {
			if err := r.stop(ctx, role); err != nil {
				errs = append(errs, err)
			}
		}
		errs = append(errs, r.applySysctls(ctx, cfg.Sysctls))
		errs = append(errs, r.reconcile(ctx))
	}
	r.mu.Unlock()
	err := errors.Join(errs...)

	r.sm.Lock()
	defer r.sm.Unlock()
	r.view, r.want, r.lastErr = cfg, st, err
	if !r.started {
		r.started = true
		wctx, cancel := context.WithCancel(context.Background())
		r.stopW = cancel
		r.workerWG.Add(1)
		go r.worker(wctx)
	}
	if err != nil && r.retry > 0 {
		r.kickLocked() // the worker retries after RetryEvery
	}
	return err
}

// SetVRRPState is called on every transition of every VRRP instance and
// returns at once; transitions of instances other than the configured one
// are ignored.
func (r *Runtime) SetVRRPState(instance string, st fsm.State) {
	r.sm.Lock()
	defer r.sm.Unlock()
	if !r.started || r.view == nil || r.view.Instance == "" || instance != r.view.Instance || st == r.want {
		return
	}
	r.log.Debug("VRRP state", "instance", instance, "from", r.want, "to", st)
	r.want = st
	r.kickLocked()
}

// Resync asks the worker to reconcile again: a daemon stopped behind
// lvsctl's back (ipvsadm --stop-daemon) is started again, one it did not
// start is stopped. It returns at once.
func (r *Runtime) Resync() {
	r.sm.Lock()
	defer r.sm.Unlock()
	if r.started && r.view != nil {
		r.kickLocked()
	}
}

func (r *Runtime) kickLocked() {
	r.gen++
	select {
	case r.kick <- struct{}{}:
	default: // one pending kick covers them all: the worker reads the latest state
	}
}

// Settle waits until the worker has handled every request made before the
// call and returns the outcome of the last reconcile.
func (r *Runtime) Settle(ctx context.Context) error {
	r.sm.Lock()
	target := r.gen
	r.sm.Unlock()
	for {
		r.sm.Lock()
		if r.done >= target || !r.started {
			err := r.lastErr
			r.sm.Unlock()
			return err
		}
		ch := r.progress
		r.sm.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// worker reconciles on every kick, and again RetryEvery after a failure.
func (r *Runtime) worker(ctx context.Context) {
	defer r.workerWG.Done()
	retry := r.clk.NewTimer(time.Hour)
	retry.Stop()
	for {
		select {
		case <-ctx.Done():
			retry.Stop()
			return
		case <-r.kick:
		case <-retry.C():
			r.sm.Lock()
			r.gen++
			r.sm.Unlock()
		}
		r.sm.Lock()
		gen, st := r.gen, r.want
		r.sm.Unlock()

		r.mu.Lock()
		var err error
		if r.cfg != nil {
			r.state = st
			err = r.reconcile(ctx)
		}
		r.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			r.log.Error("sync daemons", "err", err, "retry_in", r.retry)
			if r.retry > 0 {
				retry.Reset(r.retry)
			}
		} else {
			retry.Stop()
		}

		r.sm.Lock()
		r.done, r.lastErr = gen, err
		close(r.progress)
		r.progress = make(chan struct{})
		r.sm.Unlock()
	}
}

// Reload applies a new configuration, st being the current state of
// cfg.Instance. Changed daemon settings restart the daemons (as keepalived's
// ipvs_syncd_changed); a changed instance only re-decides which run;
// sysctls are written when their value changed. An unchanged configuration
// touches nothing.
func (r *Runtime) Reload(ctx context.Context, cfg *Config, st fsm.State) error {
	r.sm.Lock()
	started := r.started
	r.sm.Unlock()
	if !started {
		return errors.New("sync: reload before start")
	}
	r.mu.Lock()
	old := r.cfg
	r.cfg, r.state = cfg, st
	var errs []error
	switch {
	case cfg == nil && old == nil:
	case cfg == nil:
		for _, role := range []Role{Master, Backup} {
			errs = append(errs, r.stop(ctx, role))
		}
		errs = append(errs, r.applySysctls(ctx, nil))
	default:
		if !old.Equal(cfg) {
			errs = append(errs, r.applySysctls(ctx, cfg.Sysctls))
		}
		// reconcile restarts a daemon whose settings differ from what it
		// was started with (MaxLenFor makes the comparison per role) and
		// touches nothing when they are the same; the state may differ if
		// the caller missed a transition.
		errs = append(errs, r.reconcile(ctx))
	}
	r.mu.Unlock()
	err := errors.Join(errs...)
	r.sm.Lock()
	r.view, r.want, r.lastErr = cfg, st, err
	if err != nil && r.retry > 0 {
		r.kickLocked()
	}
	r.sm.Unlock()
	return err
}

// Stop stops the worker, both daemons and restores the sysctls. Call it
// after VRRP has stopped: until the VIPs are gone the master daemon should
// keep sending.
func (r *Runtime) Stop(ctx context.Context) error {
	r.sm.Lock()
	if !r.started {
		r.sm.Unlock()
		return nil
	}
	r.started = false
	r.stopW()
	r.sm.Unlock()
	r.workerWG.Wait()

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cfg == nil {
		return nil
	}
	var errs []error
	for _, role := range []Role{Master, Backup} {
		errs = append(errs, r.stop(ctx, role))
	}
	errs = append(errs, r.applySysctls(ctx, nil))
	return errors.Join(errs...)
}

// reconcile makes the kernel run the daemons Decide wants.
func (r *Runtime) reconcile(ctx context.Context) error {
	want := Decide(r.cfg, r.state)
	have, err := r.k.Daemons(ctx)
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	inKernel := map[Role]bool{}
	for _, d := range have {
		inKernel[d.Role] = true
	}
	var mtu int
	if want.Master || want.Backup {
		if mtu, err = r.k.InterfaceMTU(ctx, r.cfg.Settings.Interface); err != nil {
			if errors.Is(err, ErrNoInterface) {
				return fmt.Errorf("sync: lvs_sync_daemon interface %s does not exist: %w", r.cfg.Settings.Interface, err)
			}
			return fmt.Errorf("sync: %w", err)
		}
	}
	var errs []error
	// The backup first: on the way to MASTER it already runs; on the way
	// down the master daemon stops last, after the backup listens again.
	for _, role := range []Role{Backup, Master} {
		on := role == Master && want.Master || role == Backup && want.Backup
		cur, ours := r.running[role]
		if !on {
			if ours || inKernel[role] {
				errs = append(errs, r.stop(ctx, role))
			}
			continue
		}
		d := r.cfg.daemon(role, mtu)
		if ours && cur == d && inKernel[role] {
			continue
		}
		if inKernel[role] {
			if err := r.stop(ctx, role); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		errs = append(errs, r.start(ctx, d))
	}
	return errors.Join(errs...)
}

func (r *Runtime) start(ctx context.Context, d Daemon) error {
	err := r.k.StartDaemon(ctx, d)
	if errors.Is(err, unix.EEXIST) {
		// Started between the dump and now: replace it, it may not be ours.
		if err = r.stop(ctx, d.Role); err == nil {
			err = r.k.StartDaemon(ctx, d)
		}
	}
	if err != nil {
		if errors.Is(err, unix.ENODEV) {
			return fmt.Errorf("sync: lvs_sync_daemon interface %s does not exist: %w", d.Interface, err)
		}
		return fmt.Errorf("sync: %w", err)
	}
	r.running[d.Role] = d
	r.log.Info("sync daemon started", "role", d.Role, "interface", d.Interface, "sync_id", d.SyncID,
		"maxlen", d.MaxLen, "port", d.Port, "ttl", d.TTL, "group", d.Group)
	return nil
}

// stop stops the daemon of role; none running is success.
func (r *Runtime) stop(ctx context.Context, role Role) error {
	_, ours := r.running[role]
	err := r.k.StopDaemon(ctx, role)
	if err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("sync: %w", err)
	}
	delete(r.running, role)
	if err == nil {
		r.log.Info("sync daemon stopped", "role", role, "started_by_lvsctl", ours)
	}
	return nil
}

// applySysctls writes the values of want that differ from the kernel's,
// saving each value found first, and restores the saved values of names no
// longer wanted.
func (r *Runtime) applySysctls(ctx context.Context, want []Sysctl) error {
	var errs []error
	keep := map[string]bool{}
	for _, s := range want {
		keep[s.Name] = true
		cur, err := r.k.Sysctl(ctx, s.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("sync: %w", err))
			continue
		}
		if _, saved := r.saved[s.Name]; !saved {
			r.saved[s.Name] = cur
		}
		if cur == s.Value {
			continue
		}
		if err := r.k.SetSysctl(ctx, s.Name, s.Value); err != nil {
			errs = append(errs, fmt.Errorf("sync: %w", err))
			continue
		}
		r.log.Info("IPVS sysctl set", "name", "net.ipv4.vs."+s.Name, "value", s.Value, "was", cur)
	}
	for name, old := range r.saved {
		if keep[name] {
			continue
		}
		if err := r.k.SetSysctl(ctx, name, old); err != nil {
			errs = append(errs, fmt.Errorf("sync: restore: %w", err))
			continue
		}
		delete(r.saved, name)
	}
	return errors.Join(errs...)
}

// Status is what the status socket and the metrics show.
type Status struct {
	// Configured is false when the file has no lvs_sync_daemon.
	Configured bool   `json:"configured"`
	Instance   string `json:"instance,omitempty"`
	VRRPState  string `json:"vrrp_state,omitempty"`
	// Want is what the state table asks for.
	WantMaster bool `json:"want_master"`
	WantBackup bool `json:"want_backup"`
	// Daemons are the daemons the kernel runs, with its settings.
	Daemons []Daemon `json:"daemons"`
	// Connections is the number of entries in the kernel's IPVS
	// connection table: on a backup, the master's connections it holds.
	Connections ConnCount `json:"connections"`
	LastError   string    `json:"last_error,omitempty"`
}

// Running reports whether the kernel runs a daemon of role.
func (s Status) Running(role Role) (Daemon, bool) {
	for _, d := range s.Daemons {
		if d.Role == role {
			return d, true
		}
	}
	return Daemon{}, false
}

// Status queries the kernel. It counts the connection table, whose cost
// grows with it (director/ipvs.SyncClient.Connections).
func (r *Runtime) Status(ctx context.Context) (Status, error) {
	r.sm.Lock()
	var st Status
	if cfg := r.view; cfg != nil {
		w := Decide(cfg, r.want)
		st = Status{Configured: true, Instance: cfg.Instance, WantMaster: w.Master, WantBackup: w.Backup}
		if cfg.Instance != "" {
			st.VRRPState = r.want.String()
		}
	}
	if r.lastErr != nil {
		st.LastError = r.lastErr.Error()
	}
	r.sm.Unlock()
	var errs []error
	var err error
	if st.Daemons, err = r.k.Daemons(ctx); err != nil {
		errs = append(errs, err)
	}
	if st.Connections, err = r.k.Connections(ctx); err != nil {
		errs = append(errs, err)
	}
	return st, errors.Join(errs...)
}
