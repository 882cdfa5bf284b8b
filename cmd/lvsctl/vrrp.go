package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/urfave/cli/v2"
	"github.com/vishvananda/netlink"

	"github.com/lvsctl/lvsctl/internal/app"
	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/internal/netroute"
	"github.com/lvsctl/lvsctl/internal/notifyfifo"
	"github.com/lvsctl/lvsctl/vrrp"
)

func vrrpCommand() *cli.Command {
	return &cli.Command{
		Name:  "vrrp",
		Usage: "run only the VRRP part of a keepalived.conf (keepalived + nginx setups without virtual servers)",
		Subcommands: []*cli.Command{
			{
				Name:  "run",
				Usage: "run the vrrp_instance blocks until SIGTERM/SIGINT, then hand the addresses over (SIGHUP reloads the file)",
				Flags: []cli.Flag{
					configFileFlag(),
					&cli.StringFlag{
						Name:    "status-file",
						Usage:   "write every instance's status as JSON to this file after each state change",
						EnvVars: []string{"LVSCTL_VRRP_STATUS_FILE"},
					},
					&cli.StringFlag{
						Name:    "log-level",
						Usage:   "debug, info, warn or error",
						Value:   "info",
						EnvVars: []string{"LVSCTL_LOG_LEVEL"},
					},
					lockMemoryFlag(),
				},
				Action: vrrpRun,
			},
		},
	}
}

func vrrpRun(c *cli.Context) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return cli.Exit(fmt.Sprintf("invalid log level %q", c.String("log-level")), 2)
	}
	log := slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level}))
	lockMemory(c, log)
	// Caught from the start: SIGHUP's default action would kill a node
	// that is still starting. One sent before Run is handled once it runs.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cfg, err := loadConfig(c.String("file"), c.App.ErrWriter)
	if err != nil {
		return err
	}
	vcfg := cfg.VRRP()
	if len(vcfg.Instances) == 0 {
		return cli.Exit("no vrrp_instance in "+c.String("file"), 1)
	}
	// startup_script before anything starts; shutdown_script (the one of
	// the file in force) after everything stopped.
	app.RunHostScript(c.Context, "startup", cfg.StartupScript(), log)
	if c.Context.Err() != nil {
		return nil
	}
	var shutdown atomic.Pointer[config.HostScript]
	sd := cfg.ShutdownScript()
	shutdown.Store(&sd)
	defer func() { app.RunHostScript(context.WithoutCancel(c.Context), "shutdown", *shutdown.Load(), log) }()
	// E-mail alerts (smtp_alert): the sender stops after the node, with
	// a bounded wait for the last mails.
	mailer := newVRRPMailer(log)
	if err := mailer.apply(cfg.HostAlerts()); err != nil {
		return fmt.Errorf("e-mail alerts: %w", err)
	}
	defer mailer.stop()
	// The notify FIFOs keepalived's VRRP process writes (notify_fifo,
	// vrrp_notify_fifo), open before the node starts and closed (after
	// the instances' STOP lines) once it has stopped.
	fifos := notifyfifo.New(notifyfifo.Options{Logger: log})
	defer fifos.Close()
	if err := fifos.Apply(cfg.NotifyFIFOs().Only(true, false)); err != nil {
		return err
	}
	// The hooks run on the node's goroutine, which must not block.
	hooks := []func(vrrp.InstanceStatus){mailer.transition}
	var node *vrrp.Node
	if path := c.String("status-file"); path != "" {
		// node is set before Run, and the writer only reads it once Run
		// has asked for a write, or from close after Run.
		sw := newStatusWriter(func() {
			if node != nil {
				writeStatus(path, node.Status(), log)
			}
		})
		defer sw.close()
		hooks = append(hooks, func(vrrp.InstanceStatus) { sw.request() })
	}
	opts := []vrrp.Option{vrrp.WithLogger(log), vrrp.WithTransitionHook(func(s vrrp.InstanceStatus) {
		for _, h := range hooks {
			h(s)
		}
	}), vrrp.WithNotices(func(n vrrp.Notice) { fifos.VRRP(app.VRRPLine(n)) })}
	node, err = vrrp.New(vcfg, opts...)
	if err != nil {
		return fmt.Errorf("vrrp: %w", err)
	}
	// static_ipaddress, static_routes and static_rules are keepalived's
	// VRRP process's too: in before the instances run, out after they
	// stopped (keepalived/vrrp/vrrp_daemon.c, start_vrrp and stop_vrrp).
	static, closeStatic, err := openStatic(log)
	if err != nil {
		_ = node.Close()
		return err
	}
	defer closeStatic()
	if err := static.Apply(cfg.StaticSet()); err != nil {
		_ = node.Close()
		if cerr := static.Clear(); cerr != nil {
			log.Error("removing static addresses, routes and rules", "err", cerr)
		}
		return fmt.Errorf("static addresses, routes and rules: %w", err)
	}
	defer func() {
		if err := static.Clear(); err != nil {
			log.Error("removing static addresses, routes and rules", "err", err)
		}
	}()

	// SIGHUP re-reads the file and reloads the node; a file with errors
	// is reported and the running configuration stays.
	ctx, stop := context.WithCancel(c.Context)
	reload := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		forwardHUP(ctx, hup, reload)
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-reload:
				if cfg := reloadVRRP(ctx, c.String("file"), node, static, mailer, fifos, log); cfg != nil {
					sd := cfg.ShutdownScript()
					shutdown.Store(&sd)
				}
			}
		}
	}()
	err = node.Run(c.Context)
	stop()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("vrrp: %w", err)
	}
	return nil
}

// vrrpReloader is the part of *vrrp.Node a reload uses.
type vrrpReloader interface {
	Reload(ctx context.Context, cfg vrrp.Config) error
}

// openStatic returns the owner of the static entries, on a netlink handle
// of the calling thread's namespace, and what closes it.
func openStatic(log *slog.Logger) (*netroute.Owner, func(), error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, nil, fmt.Errorf("netlink: %w", err)
	}
	return netroute.NewOwner(netroute.NewNetlink(h), log.With("part", "static")), h.Close, nil
}

// reloadVRRP reads path again and hands its VRRP part to node and its
// static entries to static (nil: none), and returns the configuration
// now in force. Every problem is logged (configuration errors with their
// FILE:LINE:COL), leaves the running configuration as it is and returns
// nil.
func reloadVRRP(ctx context.Context, path string, node vrrpReloader, static *netroute.Owner, mailer *vrrpMailer, fifos *notifyfifo.Hub, log *slog.Logger) *config.Config {
	log.Info("reloading", "file", path)
	cfg, warns, err := config.Load(path)
	for _, w := range warns {
		log.Warn("configuration", "diagnostic", w.String())
	}
	var list config.ErrorList
	if errors.As(err, &list) {
		for _, d := range list {
			log.Error("reload failed, keeping the running configuration", "err", d.String())
		}
		return nil
	}
	if err != nil {
		log.Error("reload failed, keeping the running configuration", "err", err)
		return nil
	}
	vcfg := cfg.VRRP()
	if len(vcfg.Instances) == 0 {
		log.Error("reload failed, keeping the running configuration", "err", "no vrrp_instance in "+path)
		return nil
	}
	// The FIFOs first: the reload's lines go to the new ones (a FIFO that
	// cannot be opened changes nothing).
	if fifos != nil {
		if err := fifos.Apply(cfg.NotifyFIFOs().Only(true, false)); err != nil {
			log.Error("reload failed, keeping the running configuration", "err", err)
			return nil
		}
	}
	if static != nil {
		if err := static.Apply(cfg.StaticSet()); err != nil {
			log.Error("reload failed, keeping the running configuration", "err", err)
			return nil
		}
	}
	if err := node.Reload(ctx, vcfg); err != nil {
		log.Error("reload failed, keeping the running configuration", "err", err)
		return nil
	}
	if mailer != nil {
		if err := mailer.apply(cfg.HostAlerts()); err != nil {
			log.Error("e-mail alerts: the new settings are not applied", "err", err)
		}
	}
	log.Info("reload done", "file", path)
	return cfg
}

// statusWriter writes the status file from a single goroutine, so writes
// never overlap and none outlives the command. Requests made while a write
// runs are coalesced into one more write: only the latest state matters.
type statusWriter struct {
	write func()
	kick  chan struct{}
	quit  chan struct{}
	wg    sync.WaitGroup
}

func newStatusWriter(write func()) *statusWriter {
	w := &statusWriter{write: write, kick: make(chan struct{}, 1), quit: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case <-w.kick:
				w.write()
			case <-w.quit:
				return
			}
		}
	}()
	return w
}

// request asks for a write without blocking.
func (w *statusWriter) request() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// close waits for a running write to finish, then writes the final state.
func (w *statusWriter) close() {
	close(w.quit)
	w.wg.Wait()
	w.write()
}

// statusJSON is the status file format.
type statusJSON struct {
	Name              string            `json:"name"`
	State             string            `json:"state"`
	Leaving           bool              `json:"leaving"`
	BasePriority      uint8             `json:"base_priority"`
	EffectivePriority uint8             `json:"effective_priority"`
	Master            string            `json:"master"`
	AdvertsSent       uint64            `json:"adverts_sent"`
	AdvertsReceived   uint64            `json:"adverts_received"`
	Transitions       uint64            `json:"transitions"`
	VIPRepairs        uint64            `json:"vip_repairs"`
	Drops             map[string]uint64 `json:"drops"`
	Faults            []string          `json:"faults"`
	Problems          []string          `json:"problems"`
}

func writeStatus(path string, statuses []vrrp.InstanceStatus, log *slog.Logger) {
	var out []statusJSON
	for _, s := range statuses {
		j := statusJSON{
			Name: s.Name, State: s.State.String(), Leaving: s.Leaving,
			BasePriority: s.BasePriority, EffectivePriority: s.EffectivePriority,
			AdvertsSent: s.Counters.AdvertsSent, AdvertsReceived: s.Counters.AdvertsReceived,
			Transitions: s.Counters.Transitions, VIPRepairs: s.Counters.VIPRepairs, Drops: map[string]uint64{},
			Faults: s.Faults, Problems: s.Problems,
		}
		if s.MasterAddr.IsValid() {
			j.Master = s.MasterAddr.String()
		}
		for k, v := range s.Counters.Drops {
			j.Drops[string(k)] = v
		}
		out = append(out, j)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		log.Error("status file", "path", path, "err", err)
		return
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		log.Error("status file", "path", path, "err", err)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		log.Error("status file", "path", path, "err", err)
	}
}
