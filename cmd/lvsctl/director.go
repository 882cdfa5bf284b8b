package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lvsctl/lvsctl/bgp"
	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/ipvs"
	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/app"
	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/internal/control"
	"github.com/lvsctl/lvsctl/internal/humanize"
	"github.com/lvsctl/lvsctl/syncd"
)

func socketFlag() *cli.StringFlag {
	return &cli.StringFlag{
		Name:    "socket",
		Usage:   "control socket of the director daemon",
		Value:   control.DefaultSocket,
		EnvVars: []string{"LVSCTL_DIRECTOR_SOCKET"},
	}
}

func outputFlag() *cli.StringFlag {
	return &cli.StringFlag{
		Name:    "output",
		Aliases: []string{"o"},
		Usage:   "output format: text or json",
		Value:   "text",
		EnvVars: []string{"LVSCTL_OUTPUT"},
	}
}

func directorCommand() *cli.Command {
	return &cli.Command{
		Name:  "director",
		Usage: "program IPVS from keepalived.conf and keep it right (keepalived's checker, better)",
		Subcommands: []*cli.Command{
			{
				Name:  "up",
				Usage: "run the director in the foreground until SIGTERM/SIGINT (SIGHUP reloads)",
				Flags: []cli.Flag{
					configFileFlag(),
					socketFlag(),
					&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json",
						EnvVars: []string{"LVSCTL_LOG_FORMAT"}},
					&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error",
						EnvVars: []string{"LVSCTL_LOG_LEVEL"}},
					&cli.DurationFlag{Name: "resync", Value: 30 * time.Second,
						Usage:   "compare the kernel table with the desired state this often and repair drift (0: never)",
						EnvVars: []string{"LVSCTL_DIRECTOR_RESYNC"}},
					&cli.BoolFlag{Name: "keep-ipvs",
						Usage:   "leave the IPVS services in the kernel on stop (zero-downtime restart)",
						EnvVars: []string{"LVSCTL_DIRECTOR_KEEP_IPVS"}},
					&cli.StringFlag{Name: "metrics-listen",
						Usage:   "serve Prometheus metrics (/metrics) and the status page (/) on this address (e.g. 127.0.0.1:9360); off when empty",
						EnvVars: []string{"LVSCTL_METRICS_LISTEN"}},
					&cli.BoolFlag{Name: "status-page-public",
						Usage:   "serve the status page to any client (default: loopback clients only)",
						EnvVars: []string{"LVSCTL_STATUS_PAGE_PUBLIC"}},
					&cli.BoolFlag{Name: "no-vrrp",
						Usage:   "do not run the vrrp_instance blocks of the file",
						EnvVars: []string{"LVSCTL_DIRECTOR_NO_VRRP"}},
					lockMemoryFlag(),
				},
				Action: directorUp,
			},
			{
				Name:   "reload",
				Usage:  "make the running director re-read its configuration (as SIGHUP does)",
				Flags:  []cli.Flag{socketFlag()},
				Action: directorReload,
			},
			{
				Name:   "status",
				Usage:  "show the running director's services, real servers, health and connections",
				Flags:  []cli.Flag{socketFlag(), outputFlag()},
				Action: directorStatus,
			},
			{
				Name: "events",
				Usage: "stream what happens in the running director (health and VRRP transitions, reloads, " +
					"drift repairs, drains), oldest kept event first, until interrupted",
				Flags: []cli.Flag{socketFlag(), outputFlag(),
					&cli.BoolFlag{Name: "no-follow", Usage: "print the events kept so far and exit"},
					&cli.Uint64Flag{Name: "after", Usage: "start after this sequence number (resume a stream)"}},
				Action: directorEvents,
			},
			{
				Name:   "ipvs",
				Usage:  "print the kernel's IPVS table (no daemon needed), like ipvsadm -Ln",
				Flags:  []cli.Flag{outputFlag()},
				Action: directorIPVS,
			},
			{
				Name:      "drain",
				Usage:     "set a real server's weight to 0: existing connections finish, no new ones",
				ArgsUsage: "VS RS   (e.g. 10.16.8.100:80 10.16.8.8:80)",
				Flags:     []cli.Flag{socketFlag()},
				Action:    func(c *cli.Context) error { return directorDrain(c, true) },
			},
			{
				Name:      "enable",
				Usage:     "restore a drained real server's weight",
				ArgsUsage: "VS RS",
				Flags:     []cli.Flag{socketFlag()},
				Action:    func(c *cli.Context) error { return directorDrain(c, false) },
			},
			{
				Name:   "bgp-drain",
				Usage:  "announce every BGP VIP with the GRACEFUL_SHUTDOWN community: routers move the traffic to the other directors",
				Flags:  []cli.Flag{socketFlag()},
				Action: func(c *cli.Context) error { return directorBGPDrain(c, true) },
			},
			{
				Name:   "bgp-enable",
				Usage:  "announce the BGP VIPs normally again after bgp-drain",
				Flags:  []cli.Flag{socketFlag()},
				Action: func(c *cli.Context) error { return directorBGPDrain(c, false) },
			},
		},
	}
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, cli.Exit(fmt.Sprintf("invalid log level %q", level), 2)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, cli.Exit(fmt.Sprintf("invalid log format %q (text or json)", format), 2)
}

func directorUp(c *cli.Context) error {
	log, err := newLogger(c.App.ErrWriter, c.String("log-format"), c.String("log-level"))
	if err != nil {
		return err
	}
	lockMemory(c, log)
	path := c.String("file")
	first, err := app.LoadFile(path, log)
	if err != nil {
		for _, e := range app.Unjoin(err) {
			fmt.Fprintln(c.App.ErrWriter, e)
		}
		return cli.Exit("configuration has errors, nothing applied", 1)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go forwardHUP(c.Context, hup, reload)

	loaded := first
	load := func() (*config.Desired, error) {
		if l := loaded; l != nil {
			loaded = nil
			return l, nil
		}
		return app.LoadFile(path, log)
	}
	notify, watchdog := systemdNotifier(log)
	err = app.Run(c.Context, app.Options{
		Load: load,
		OpenIPVS: func() (director.IPVS, func() error, error) {
			cl, err := ipvs.Open("")
			if err != nil {
				return nil, nil, err
			}
			return cl, cl.Close, nil
		},
		OpenSync: func() (syncd.Kernel, func() error, error) {
			k, err := ipvs.OpenSync("")
			if err != nil {
				return nil, nil, err
			}
			return k, k.Close, nil
		},
		NoVRRP:           c.Bool("no-vrrp"),
		Health:           healthcheck.New[director.RealRef](healthcheck.Options{Logger: log}),
		Logger:           log,
		Resync:           c.Duration("resync"),
		KeepIPVS:         c.Bool("keep-ipvs"),
		Socket:           c.String("socket"),
		MetricsListen:    c.String("metrics-listen"),
		StatusPagePublic: c.Bool("status-page-public"),
		Scripts:          &app.ExecScripts{Log: log},
		Reload:           reload,
		Notify:           notify,
		Watchdog:         watchdog,
	})
	if errors.Is(err, ipvs.ErrNoIPVS) {
		return cli.Exit(err.Error(), 1)
	}
	if err != nil {
		return fmt.Errorf("director: %w", err)
	}
	return nil
}

// forwardHUP turns SIGHUPs into reload requests until ctx ends (signal.Stop
// does not close hup). Requests coalesce: one pending reload reads the
// newest file anyway.
func forwardHUP(ctx context.Context, hup <-chan os.Signal, reload chan<- struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}
}

func call(c *cli.Context, req control.Request) (control.Response, error) {
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	resp, err := control.Call(ctx, c.String("socket"), req)
	if err != nil {
		return resp, err
	}
	if !resp.OK {
		for _, e := range resp.Errors {
			fmt.Fprintln(c.App.ErrWriter, e)
		}
		return resp, cli.Exit(fmt.Sprintf("director %s failed", req.Op), 1)
	}
	return resp, nil
}

func directorReload(c *cli.Context) error {
	if _, err := call(c, control.Request{Op: control.OpReload}); err != nil {
		return err
	}
	_, err := fmt.Fprintln(c.App.Writer, "reloaded")
	return err
}

func directorDrain(c *cli.Context, on bool) error {
	if c.NArg() != 2 {
		return cli.Exit("usage: lvsctl director "+c.Command.Name+" VS RS (e.g. 10.16.8.100:80 10.16.8.8:80)", 2)
	}
	op := control.OpEnable
	if on {
		op = control.OpDrain
	}
	q, err := director.ParseRealQuery(c.Args().Get(0), c.Args().Get(1))
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	if _, err := call(c, control.Request{Op: op, Real: &q}); err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.App.Writer, "%s %s in %s\n", map[bool]string{true: "drained", false: "enabled"}[on],
		c.Args().Get(1), c.Args().Get(0))
	return err
}

func directorBGPDrain(c *cli.Context, on bool) error {
	if c.NArg() != 0 {
		return cli.Exit("usage: lvsctl director "+c.Command.Name, 2)
	}
	op := control.OpBGPEnable
	if on {
		op = control.OpBGPDrain
	}
	if _, err := call(c, control.Request{Op: op}); err != nil {
		return err
	}
	_, err := fmt.Fprintln(c.App.Writer, map[bool]string{true: "BGP routes drained (graceful shutdown)",
		false: "BGP routes announced normally"}[on])
	return err
}

func directorStatus(c *cli.Context) error {
	format := c.String("output")
	if format != "text" && format != "json" {
		return cli.Exit(fmt.Sprintf("invalid output format %q (text or json)", format), 2)
	}
	resp, err := call(c, control.Request{Op: control.OpStatus})
	if err != nil {
		return err
	}
	if resp.Status == nil {
		return errors.New("director returned no status")
	}
	if format == "json" {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(resp.Status)
	}
	return writeDirectorStatus(c.App.Writer, *resp.Status, time.Now())
}

func directorEvents(c *cli.Context) error {
	format := c.String("output")
	if format != "text" && format != "json" {
		return cli.Exit(fmt.Sprintf("invalid output format %q (text or json)", format), 2)
	}
	enc := json.NewEncoder(c.App.Writer)
	req := control.Request{Op: control.OpEvents, After: c.Uint64("after"), Follow: !c.Bool("no-follow")}
	err := control.Stream(c.Context, c.String("socket"), req, func(l control.StreamLine) error {
		if format == "json" {
			return enc.Encode(l)
		}
		return writeEvent(c.App.Writer, l)
	})
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	return nil
}

// writeEvent prints one event line:
//
//	2026-11-26T00:21:15.813Z  #12  health  TCP 10.16.8.100:80 10.16.8.8:80  UP -> DOWN  connection refused
func writeEvent(w io.Writer, l control.StreamLine) error {
	if l.Missed > 0 {
		_, err := fmt.Fprintf(w, "... %d older events dropped (this client read too slowly)\n", l.Missed)
		return err
	}
	e := l.Event
	if e == nil {
		return nil
	}
	parts := []string{e.Time.UTC().Format("2006-01-02T15:04:05.000Z"), fmt.Sprintf("#%d", e.Seq), e.Kind}
	if e.Subject != "" {
		parts = append(parts, e.Subject)
	}
	switch {
	case e.From != "" && e.To != "":
		parts = append(parts, e.From+" -> "+e.To)
	case e.To != "":
		parts = append(parts, e.To)
	}
	if e.Message != "" {
		parts = append(parts, e.Message)
	}
	_, err := fmt.Fprintln(w, strings.Join(parts, "  "))
	return err
}

func writeDirectorStatus(w io.Writer, st control.Status, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(st.Services) == 0 && !st.IPVS {
		fmt.Fprintln(tw, "no virtual_server: IPVS not used")
	}
	for i, s := range st.Services {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		q := fmt.Sprintf("quorum up (%d >= %d)", s.LiveWeight, s.Quorum)
		if !s.QuorumUp {
			q = fmt.Sprintf("QUORUM LOST (%d < %d)", s.LiveWeight, s.Quorum)
		}
		extra := ""
		if s.Flags != "" {
			extra += " " + s.Flags
		}
		if s.Timeout > 0 {
			extra += fmt.Sprintf(" timeout %d mask %s", s.Timeout, s.Netmask)
		}
		if !s.InKernel {
			extra += " NOT IN KERNEL"
		}
		if s.Fingerprint != "" {
			extra += " fp " + s.Fingerprint
		}
		fmt.Fprintf(tw, "%s %s%s\t%s\t%s\n", s.Key, s.Scheduler, extra, q, trafficString(s.Stats))
		fmt.Fprintln(tw, "  REAL SERVER\tFWD\tWEIGHT\tKERNEL\tHEALTH\tSINCE\tLAST CHECK\tACTIVE\tINACTIVE\tCONNS\tCPS\tPPS IN\tBPS IN")
		reals := s.Reals
		if s.Sorry != nil {
			reals = append(reals[:len(reals):len(reals)], *s.Sorry)
		}
		for _, r := range reals {
			kw := "-"
			if r.KernelWeight != nil {
				kw = fmt.Sprint(*r.KernelWeight)
			}
			health := r.Health
			if r.Drained {
				health += " (drained)"
			}
			since := "-"
			if !r.Since.IsZero() {
				since = now.Sub(r.Since).Truncate(time.Second).String() + " ago"
			}
			last := r.LastResult
			if last == "" {
				last = "-"
			}
			fmt.Fprintf(tw, "  -> %s\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", r.Addr, r.Forward, r.Weight, kw, health,
				since, last, r.Active, r.Inactive, r.Stats.Connections, humanize.SI(r.Stats.CPS), humanize.SI(r.Stats.PPSIn), humanize.SI(r.Stats.BPSIn))
		}
	}
	if st.Dirty {
		fmt.Fprintln(tw, "\nsome IPVS edits failed and are being retried (see the daemon log)")
	}
	if d := st.Daemon; d.Generation > 0 {
		reload := "no reload yet"
		if !d.LastReload.IsZero() {
			res := "applied"
			if !d.ReloadOK {
				res = "REFUSED (the previous configuration runs)"
			}
			reload = fmt.Sprintf("last reload %s ago: %s", now.Sub(d.LastReload).Truncate(time.Second), res)
		}
		fmt.Fprintf(tw, "\nconfiguration generation %d (hash %s), %s\n", d.Generation, d.Hash, reload)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st.VRRP) > 0 {
		if len(st.Services) > 0 || !st.IPVS {
			fmt.Fprintln(w)
		}
		if err := writeVRRPStatus(w, st.VRRP, now); err != nil {
			return err
		}
	}
	if len(st.VRRPUnmatched) > 0 {
		// Packets that reached no instance: a VRID not configured here (a
		// neighbouring cluster on the same segment, or a typo in a peer's
		// virtual_router_id), or too short to carry one.
		if _, err := fmt.Fprintf(w, "VRRP packets for no instance here: %s\n", countsString(st.VRRPUnmatched)); err != nil {
			return err
		}
	}
	if st.Sync != nil {
		fmt.Fprintln(w)
		if err := writeSyncStatus(w, *st.Sync); err != nil {
			return err
		}
	}
	if st.BGP != nil {
		fmt.Fprintln(w)
		return writeBGPStatus(w, *st.BGP, now)
	}
	return nil
}

// writeBGPStatus prints the BGP sessions and the VIP routes with why each
// is announced or withdrawn.
func writeBGPStatus(w io.Writer, s bgp.Status, now time.Time) error {
	ew := &errWriter{w: w}
	drained := ""
	if s.Drained {
		drained = ", DRAINED (graceful shutdown)"
	}
	fmt.Fprintf(ew, "BGP  router_id %s, AS %d, phase %s%s\n", s.RouterID, s.LocalAS, s.Phase, drained)
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NEIGHBOR\tAS\tSTATE\tUPTIME")
	for _, p := range s.Peers {
		up := "-"
		if p.Established {
			up = p.Uptime.Truncate(time.Second).String()
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\n", p.Addr, p.RemoteAS, p.State, up)
	}
	fmt.Fprintln(tw, "  ROUTE\tSTATE\tREASON\tSINCE")
	for _, r := range s.Routes {
		state := "withdrawn"
		switch {
		case r.Announced && r.GracefulShutdown:
			state = "announced (graceful shutdown)"
		case r.Announced:
			state = "announced"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s ago\n", r.Prefix, state, r.Reason, now.Sub(r.Since).Truncate(time.Second))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if s.LastError != "" {
		fmt.Fprintf(ew, "  last error: %s\n", s.LastError)
	}
	return ew.err
}

// writeSyncStatus prints the IPVS sync daemons: what the state table wants,
// what the kernel runs, and how many connections the kernel holds (on a
// backup: the master's, synced).
func writeSyncStatus(w io.Writer, s syncd.Status) error {
	ew := &errWriter{w: w}
	follows := "no vrrp_instance (both daemons run)"
	if s.Instance != "" {
		follows = fmt.Sprintf("vrrp_instance %s (%s)", s.Instance, s.VRRPState)
	}
	fmt.Fprintf(ew, "IPVS SYNC  follows %s; connection entries %d (%d established)\n", follows,
		s.Connections.Total, s.Connections.Established)
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ROLE\tWANTED\tRUNNING\tINTERFACE\tSYNC ID\tMAXLEN\tGROUP\tPORT")
	for _, role := range []syncd.Role{syncd.Master, syncd.Backup} {
		wanted := s.WantMaster
		if role == syncd.Backup {
			wanted = s.WantBackup
		}
		d, running := s.Running(role)
		if !running {
			fmt.Fprintf(tw, "  %s\t%s\tno\t-\t-\t-\t-\t-\n", role, yesNo(wanted))
			continue
		}
		group := "-"
		if d.Group.IsValid() {
			group = d.Group.String()
		}
		fmt.Fprintf(tw, "  %s\t%s\tyes\t%s\t%d\t%d\t%s\t%d\n", role, yesNo(wanted), d.Interface, d.SyncID, d.MaxLen, group, d.Port)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if s.LastError != "" {
		fmt.Fprintf(ew, "  last error: %s\n", s.LastError)
	}
	return ew.err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// writeVRRPStatus prints one line per VRRP instance, then what is wrong
// with each (tracked objects down, scripts that cannot run).
func writeVRRPStatus(w io.Writer, insts []control.VRRPInstance, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VRRP INSTANCE\tIF\tVRID\tSTATE\tPRIO\tBASE\tMASTER\tVIPS\tSINCE\tSENT\tRECEIVED\tTRANSITIONS\tDROPS")
	for _, v := range insts {
		state := v.State
		if v.Leaving {
			state += " (leaving)"
		}
		master := v.Master
		if master == "" {
			master = "-"
		}
		since := "-"
		if !v.LastTransition.IsZero() {
			since = now.Sub(v.LastTransition).Truncate(time.Second).String() + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", v.Name, v.Interface, v.VRID, state,
			v.EffectivePriority, v.BasePriority, master, strings.Join(v.VIPs, ","), since,
			v.Counters.AdvertsSent, v.Counters.AdvertsReceived, v.Counters.Transitions, countsString(v.Counters.Drops))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	ew := &errWriter{w: w}
	for _, v := range insts {
		for _, f := range v.Faults {
			fmt.Fprintf(ew, "  %s: %s\n", v.Name, f)
		}
		for _, p := range v.Problems {
			fmt.Fprintf(ew, "  %s: problem: %s\n", v.Name, p)
		}
		if c := v.Counters; c.VIPRepairs > 0 {
			fmt.Fprintf(ew, "  %s: %d VIP repairs (a VIP on this host while not master, or missing while master; see the daemon log)\n", v.Name, c.VIPRepairs)
		}
		if c := v.Counters; c.SendErrors+c.GARPErrors+c.VIPErrors > 0 {
			fmt.Fprintf(ew, "  %s: errors: send %d, gratuitous ARP %d, VIP add/remove %d (see the daemon log)\n", v.Name,
				c.SendErrors, c.GARPErrors, c.VIPErrors)
		}
	}
	return ew.err
}

// trafficString is a service's traffic on one line: connections, and the
// kernel's rate estimates (per second; out is 0 in DR mode).
func trafficString(s director.Stats) string {
	return fmt.Sprintf("conns %d  cps %s  pps %s/%s  bps %s/%s (in/out)", s.Connections, humanize.SI(s.CPS),
		humanize.SI(s.PPSIn), humanize.SI(s.PPSOut), humanize.SI(s.BPSIn), humanize.SI(s.BPSOut))
}

// countsString prints {"ttl": 1, "auth_pass": 4} as "auth_pass=4 ttl=1".
func countsString(m map[string]uint64) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// ipvsJSON is `director ipvs -o json`.
type ipvsJSON struct {
	Service      string         `json:"service"`
	Scheduler    string         `json:"scheduler"`
	Flags        string         `json:"flags,omitempty"`
	Timeout      uint32         `json:"persistence_timeout,omitempty"`
	Netmask      string         `json:"persistence_netmask,omitempty"`
	Stats        director.Stats `json:"stats"`
	Destinations []ipvsDestJSON `json:"destinations"`
}

type ipvsDestJSON struct {
	Addr     string         `json:"addr"`
	Forward  string         `json:"forward"`
	Weight   int            `json:"weight"`
	Upper    uint32         `json:"upper_threshold,omitempty"`
	Lower    uint32         `json:"lower_threshold,omitempty"`
	Active   uint32         `json:"active_conns"`
	Inactive uint32         `json:"inactive_conns"`
	Stats    director.Stats `json:"stats"`
}

func directorIPVS(c *cli.Context) error {
	format := c.String("output")
	if format != "text" && format != "json" {
		return cli.Exit(fmt.Sprintf("invalid output format %q (text or json)", format), 2)
	}
	client, err := ipvs.Open("")
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	defer client.Close()
	t, err := director.Dump(c.Context, client, nil)
	if err != nil {
		return err
	}
	return writeIPVS(c.App.Writer, t, format)
}

// writeIPVS prints a table like `ipvsadm -Ln`, sorted.
func writeIPVS(w io.Writer, t director.Table, format string) error {
	var out []ipvsJSON
	for _, s := range t {
		j := ipvsJSON{Service: s.Service.Key.String(), Scheduler: s.Service.Scheduler,
			Flags: director.FlagsString(s.Service.Scheduler, s.Service.Flags), Stats: s.Service.Stats}
		if s.Service.Flags&director.FlagPersistent != 0 {
			j.Timeout = s.Service.Timeout
			j.Netmask = director.NetmaskString(s.Service.Key.Family, s.Service.Netmask)
		}
		for _, d := range s.Dests {
			j.Destinations = append(j.Destinations, ipvsDestJSON{Addr: d.Key().String(), Forward: d.Forward.String(),
				Weight: d.Weight, Upper: d.UpperThreshold, Lower: d.LowerThreshold, Active: d.ActiveConns,
				Inactive: d.InactiveConns, Stats: d.Stats})
		}
		sort.Slice(j.Destinations, func(a, b int) bool { return j.Destinations[a].Addr < j.Destinations[b].Addr })
		if j.Destinations == nil {
			j.Destinations = []ipvsDestJSON{}
		}
		out = append(out, j)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Service < out[b].Service })
	if format == "json" {
		if out == nil {
			out = []ipvsJSON{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	// The column layout of ipvsadm -Ln, which people read and parse.
	tw := &errWriter{w: w}
	fmt.Fprintln(tw, "Prot LocalAddress:Port Scheduler Flags")
	fmt.Fprintf(tw, "  -> %-28s %-7s %-6s %-10s %-10s\n", "RemoteAddress:Port", "Forward", "Weight", "ActiveConn", "InActConn")
	for _, s := range out {
		proto, addr, _ := strings.Cut(s.Service, " ")
		line := fmt.Sprintf("%-4s %s %s", proto, addr, s.Scheduler)
		if s.Flags != "" {
			line += " " + s.Flags
		}
		if s.Timeout > 0 {
			line += fmt.Sprintf(" timeout %d mask %s", s.Timeout, s.Netmask)
		}
		fmt.Fprintln(tw, line)
		for _, d := range s.Destinations {
			fmt.Fprintf(tw, "  -> %-28s %-7s %-6d %-10d %-10d\n", d.Addr, d.Forward, d.Weight, d.Active, d.Inactive)
		}
	}
	return tw.err
}

// errWriter remembers the first write error so printing code stays flat.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
