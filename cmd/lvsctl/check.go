package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/config"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "run every health check of a keepalived.conf as the director would, without touching IPVS",
		Description: "Prints each real server's initial state, then every transition as it happens, until " +
			"interrupted (or --duration). With --once, runs one round (each checker once, failed probes " +
			"retried as configured) and exits 0 when every real server is up, 1 otherwise.\n\n" +
			"   lvsctl check -f /etc/keepalived/keepalived.conf --once\n" +
			"   lvsctl check -f keepalived.conf -o json",
		Flags: []cli.Flag{
			configFileFlag(),
			&cli.BoolFlag{Name: "once", Usage: "run one round, print every real server's state, exit 0 if all are up", EnvVars: []string{"LVSCTL_CHECK_ONCE"}},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "text or json (one object per line)", EnvVars: []string{"LVSCTL_CHECK_OUTPUT"}},
			&cli.DurationFlag{Name: "duration", Usage: "stop after this long (0: until interrupted)", EnvVars: []string{"LVSCTL_CHECK_DURATION"}},
		},
		Action: func(c *cli.Context) error {
			format := c.String("output")
			if format != "text" && format != "json" {
				return cli.Exit(fmt.Sprintf("unknown output format %q (text or json)", format), 2)
			}
			cfg, err := loadConfig(c.String("file"), c.App.ErrWriter)
			if err != nil {
				return err
			}
			servers, err := config.HealthServers(cfg)
			if err != nil {
				return fmt.Errorf("check: %w", err)
			}
			out := &printer{w: c.App.Writer, json: format == "json"}
			if c.Bool("once") {
				statuses := checkOnce(c.Context, servers)
				allUp := true
				for _, st := range statuses {
					allUp = allUp && st.State == healthcheck.Up
					if err := out.status(st); err != nil {
						return err
					}
				}
				if !allUp {
					return cli.Exit("", 1)
				}
				return nil
			}
			ctx := c.Context
			if d := c.Duration("duration"); d > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, d)
				defer cancel()
			}
			return watch(ctx, servers, out)
		},
	}
}

// checkOnce checks all servers concurrently (bounded), each checker once.
func checkOnce(ctx context.Context, servers []healthcheck.Server) []healthcheck.Status {
	out := make([]healthcheck.Status, len(servers))
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			srv := &servers[i]
			st := healthcheck.Status{ID: srv.ID, State: healthcheck.Up, Weight: healthcheck.NoWeight, Reason: "no checkers"}
			for j := range srv.Checks {
				sp := &srv.Checks[j]
				r := healthcheck.CheckOnce(ctx, sp, nil)
				ci := healthcheck.CheckInfo{Kind: sp.Kind.String(), Target: sp.Target(), State: healthcheck.Down, Reason: r.Reason, LastRun: time.Now()}
				if r.OK {
					ci.State = healthcheck.Up
					if r.Weight != healthcheck.NoWeight {
						st.Weight = r.Weight
					}
				}
				if st.State == healthcheck.Up {
					st.Reason = r.Reason
				}
				if !r.OK {
					st.State = healthcheck.Down
				}
				st.Checks = append(st.Checks, ci)
			}
			out[i] = st
		}()
	}
	wg.Wait()
	return out
}

func watch(ctx context.Context, servers []healthcheck.Server, out *printer) error {
	s := healthcheck.New(healthcheck.Options{})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	// The initial states are printed before the first check can run, so
	// they are followed only by transitions: a real server starts UP
	// unless one of its checkers has alpha (keepalived's rule).
	initial := make([]healthcheck.Status, 0, len(servers))
	for _, srv := range servers {
		st := healthcheck.Status{ID: srv.ID, State: healthcheck.Up, Reason: "initial state", Weight: healthcheck.NoWeight}
		for _, sp := range srv.Checks {
			if sp.Alpha {
				st.State = healthcheck.Down
			}
		}
		initial = append(initial, st)
	}
	sort.Slice(initial, func(i, j int) bool { return initial[i].ID < initial[j].ID })
	for _, st := range initial {
		if err := out.status(st); err != nil {
			cancel()
			<-done
			return err
		}
	}
	if err := s.Set(ctx, servers); err != nil {
		cancel()
		<-done
		return fmt.Errorf("check: %w", err)
	}
	for ev := range s.Events() {
		if err := out.event(ev); err != nil {
			cancel()
			<-done
			return err
		}
	}
	return <-done
}

type printer struct {
	w    io.Writer
	json bool
}

func (p *printer) status(st healthcheck.Status) error {
	if p.json {
		return json.NewEncoder(p.w).Encode(st)
	}
	if _, err := fmt.Fprintf(p.w, "%-4s %s: %s%s\n", st.State, st.ID, st.Reason, weightText(st.Weight)); err != nil {
		return err
	}
	for _, c := range st.Checks {
		if _, err := fmt.Fprintf(p.w, "     %-4s %s\n", c.State, c.Reason); err != nil {
			return err
		}
	}
	return nil
}

func (p *printer) event(ev healthcheck.Event) error {
	if p.json {
		return json.NewEncoder(p.w).Encode(struct {
			Time   time.Time         `json:"time"`
			ID     string            `json:"id"`
			Old    healthcheck.State `json:"old"`
			New    healthcheck.State `json:"new"`
			Reason string            `json:"reason"`
			Weight int               `json:"weight"`
		}{ev.Time, ev.ID, ev.Old, ev.New, ev.Reason, ev.Weight})
	}
	_, err := fmt.Fprintf(p.w, "%s %s -> %s %s: %s%s\n", ev.Time.Format(time.RFC3339Nano), ev.Old, ev.New, ev.ID, ev.Reason, weightText(ev.Weight))
	return err
}

func weightText(w int) string {
	if w == healthcheck.NoWeight {
		return ""
	}
	return fmt.Sprintf(" (weight %d)", w)
}
