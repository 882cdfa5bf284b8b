package syncd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/vrrp/fsm"
)

// Runtime keeps the kernel's sync daemons as Decide wants them. Its
// methods are safe for concurrent use (VRRP transitions and a reload may
// arrive from different goroutines); each one reconciles at once and
// returns the kernel's error, so the caller logs it and a later call (the
// next transition, Resync) retries.
type Runtime struct {
	k   Kernel
	log *slog.Logger

	mu      sync.Mutex
	cfg     *Config
	state   fsm.State
	started bool
	// running is what this runtime started, per role, as it was sent (a
	// kernel reports defaults and clamped sizes, so it is compared with
	// what was sent, not with what the kernel reports).
	running map[Role]Daemon
	// saved are the sysctl values found before the first write, restored
	// at Stop or when a sysctl leaves the configuration.
	saved   map[string]string
	lastErr error
}

// New returns a runtime that does nothing until Start.
func New(k Kernel, log *slog.Logger) *Runtime {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runtime{k: k, log: log.With("subsystem", "sync"), running: map[Role]Daemon{}, saved: map[string]string{}}
}

// Start applies cfg (nil: sync not configured, the kernel's daemons are
// left alone) with st the current state of cfg.Instance (fsm.Init before
// VRRP runs). Like keepalived (check_daemon.c), it first stops whatever
// sync daemons run, so a daemon left by a crashed lvsctl with other
// settings never survives; a missing interface is an error naming it.
func (r *Runtime) Start(ctx context.Context, cfg *Config, st fsm.State) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cfg, r.state, r.started = cfg, st, true
	if cfg == nil {
		return nil
	}
	var errs []error
	for _, role := range []Role{Master, Backup} {
		if err := r.stop(ctx, role); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, r.applySysctls(ctx, cfg.Sysctls))
	errs = append(errs, r.reconcile(ctx))
	return r.setErr(errors.Join(errs...))
}

// SetVRRPState is called on every transition of every VRRP instance;
// transitions of instances other than the configured one are ignored.
func (r *Runtime) SetVRRPState(ctx context.Context, instance string, st fsm.State) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started || r.cfg == nil || r.cfg.Instance == "" || instance != r.cfg.Instance {
		return nil
	}
	if st == r.state {
		return nil
	}
	r.log.Debug("VRRP state", "instance", instance, "from", r.state, "to", st)
	r.state = st
	return r.setErr(r.reconcile(ctx))
}

// Reload applies a new configuration, st being the current state of
// cfg.Instance. Changed daemon settings restart the daemons (as keepalived's
// ipvs_syncd_changed); a changed instance only re-decides which run;
// sysctls are written when their value changed. An unchanged configuration
// touches nothing.
func (r *Runtime) Reload(ctx context.Context, cfg *Config, st fsm.State) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		return errors.New("sync: reload before start")
	}
	old := r.cfg
	r.cfg, r.state = cfg, st
	if old.Equal(cfg) {
		// The state may differ if the caller missed a transition.
		if cfg == nil {
			return nil
		}
		return r.setErr(r.reconcile(ctx))
	}
	var errs []error
	if cfg == nil {
		for _, role := range []Role{Master, Backup} {
			errs = append(errs, r.stop(ctx, role))
		}
		errs = append(errs, r.applySysctls(ctx, nil))
		return r.setErr(errors.Join(errs...))
	}
	errs = append(errs, r.applySysctls(ctx, cfg.Sysctls))
	// reconcile restarts a daemon whose settings differ from what it was
	// started with: MaxLenFor makes the comparison per role.
	errs = append(errs, r.reconcile(ctx))
	return r.setErr(errors.Join(errs...))
}

// Resync reconciles again: a daemon stopped behind lvsctl's back (ipvsadm
// --stop-daemon) is started again, one it did not start is stopped.
func (r *Runtime) Resync(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started || r.cfg == nil {
		return nil
	}
	return r.setErr(r.reconcile(ctx))
}

// Stop stops both daemons and restores the sysctls. Call it after VRRP has
// stopped: until the VIPs are gone the master daemon should keep sending.
func (r *Runtime) Stop(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		return nil
	}
	r.started = false
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

func (r *Runtime) setErr(err error) error {
	r.lastErr = err
	return err
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
	r.mu.Lock()
	var st Status
	if r.cfg != nil {
		w := Decide(r.cfg, r.state)
		st = Status{Configured: true, Instance: r.cfg.Instance, WantMaster: w.Master, WantBackup: w.Backup}
		if r.cfg.Instance != "" {
			st.VRRPState = r.state.String()
		}
	}
	if r.lastErr != nil {
		st.LastError = r.lastErr.Error()
	}
	r.mu.Unlock()
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
