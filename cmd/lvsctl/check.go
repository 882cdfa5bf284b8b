package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lvsctl/lvsctl/director"
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

// realServer is the key of a checked real server.
type realServer = director.RealRef

// checkOnce checks all servers concurrently (bounded), each checker once.
func checkOnce(ctx context.Context, servers []healthcheck.Server[realServer]) []healthcheck.Status[realServer] {
	out := make([]healthcheck.Status[realServer], len(servers))
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			srv := &servers[i]
			st := healthcheck.Status[realServer]{Key: srv.Key, State: healthcheck.Up, Reason: "no checkers"}
			for j := range srv.Checks {
				sp := &srv.Checks[j]
				r := healthcheck.CheckOnce(ctx, sp, nil)
				ci := healthcheck.CheckInfo{Kind: sp.Kind.String(), Target: sp.Target(), State: healthcheck.Down, Reason: r.Reason, LastRun: time.Now()}
				if r.OK {
					ci.State = healthcheck.Up
					if r.HasWeight {
						st.Weight, st.HasWeight = r.Weight, true
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

func watch(ctx context.Context, servers []healthcheck.Server[realServer], out *printer) error {
	s := healthcheck.New[realServer](healthcheck.Options{})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	// The initial states are printed before the first check can run, so
	// they are followed only by transitions: a real server starts UP
	// unless one of its checkers has alpha (keepalived's rule).
	initial := make([]healthcheck.Status[realServer], 0, len(servers))
	for _, srv := range servers {
		st := healthcheck.Status[realServer]{Key: srv.Key, State: healthcheck.Up, Reason: "initial state"}
		for _, sp := range srv.Checks {
			if sp.Alpha {
				st.State = healthcheck.Down
			}
		}
		initial = append(initial, st)
	}
	sort.Slice(initial, func(i, j int) bool { return realText(initial[i].Key) < realText(initial[j].Key) })
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

// realText is how the text output names a real server: "TCP
// 10.16.8.100:80 -> 10.16.8.8:80", or "FWM 7 -> 10.0.0.1:80" (no family:
// keepalived.conf names a fwmark service by its mark alone).
func realText(ref realServer) string {
	svc := ref.Service.String()
	if ref.Service.FWMark != 0 {
		svc = "FWM " + strconv.FormatUint(uint64(ref.Service.FWMark), 10)
	}
	return svc + " -> " + ref.Real.String()
}

// jsonService is a virtual service in the JSON output: protocol, address
// and port, or a firewall mark (with the family the kernel keys it by).
type jsonService struct {
	Protocol string     `json:"protocol,omitempty"`
	Address  netip.Addr `json:"address,omitzero"`
	Port     uint16     `json:"port,omitempty"`
	FWMark   uint32     `json:"fwmark,omitempty"`
	Family   string     `json:"family"`
}

// jsonReal is a real server in the JSON output.
type jsonReal struct {
	Address netip.Addr `json:"address"`
	Port    uint16     `json:"port"`
}

// jsonKey is the identity part of every JSON line: structured fields to
// read, and ID, the text output's name of the real server, to show.
type jsonKey struct {
	Service jsonService `json:"service"`
	Real    jsonReal    `json:"real"`
	ID      string      `json:"id"`
}

func jsonKeyOf(ref realServer) jsonKey {
	k := jsonKey{Real: jsonReal{Address: ref.Real.Addr, Port: ref.Real.Port}, ID: realText(ref)}
	k.Service.Family = ref.Service.Family.String()
	if ref.Service.FWMark != 0 {
		k.Service.FWMark = ref.Service.FWMark
	} else {
		k.Service.Protocol = ref.Service.Protocol.String()
		k.Service.Address, k.Service.Port = ref.Service.Addr, ref.Service.Port
	}
	return k
}

// encode writes v as one JSON line, without HTML escaping: the names
// ("TCP 10.16.8.100:80 -> 10.16.8.8:80") and reasons are read by people
// and tools, not embedded in a page.
func (p *printer) encode(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// jsonWeight is the dynamic weight, absent (nil) when there is none.
func jsonWeight(w int, has bool) *int {
	if !has {
		return nil
	}
	return &w
}

func (p *printer) status(st healthcheck.Status[realServer]) error {
	if p.json {
		return p.encode(struct {
			jsonKey
			State  healthcheck.State       `json:"state"`
			Reason string                  `json:"reason"`
			Weight *int                    `json:"weight,omitempty"`
			Checks []healthcheck.CheckInfo `json:"checks"`
		}{jsonKeyOf(st.Key), st.State, st.Reason, jsonWeight(st.Weight, st.HasWeight), st.Checks})
	}
	if _, err := fmt.Fprintf(p.w, "%-4s %s: %s%s\n", st.State, realText(st.Key), st.Reason, weightText(st.Weight, st.HasWeight)); err != nil {
		return err
	}
	for _, c := range st.Checks {
		if _, err := fmt.Fprintf(p.w, "     %-4s %s\n", c.State, c.Reason); err != nil {
			return err
		}
	}
	return nil
}

func (p *printer) event(ev healthcheck.Event[realServer]) error {
	if p.json {
		return p.encode(struct {
			Time time.Time `json:"time"`
			jsonKey
			Old    healthcheck.State `json:"old"`
			New    healthcheck.State `json:"new"`
			Reason string            `json:"reason"`
			Weight *int              `json:"weight,omitempty"`
		}{ev.Time, jsonKeyOf(ev.Key), ev.Old, ev.New, ev.Reason, jsonWeight(ev.Weight, ev.HasWeight)})
	}
	_, err := fmt.Fprintf(p.w, "%s %s -> %s %s: %s%s\n", ev.Time.Format(time.RFC3339Nano), ev.Old, ev.New, realText(ev.Key), ev.Reason, weightText(ev.Weight, ev.HasWeight))
	return err
}

func weightText(w int, has bool) string {
	if !has {
		return ""
	}
	return fmt.Sprintf(" (weight %d)", w)
}
