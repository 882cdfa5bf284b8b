package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/lvsctl/lvsctl/vrrp"
)

func vrrpCommand() *cli.Command {
	return &cli.Command{
		Name:  "vrrp",
		Usage: "run only the VRRP part of a keepalived.conf (keepalived + nginx setups without virtual servers)",
		Subcommands: []*cli.Command{
			{
				Name:  "run",
				Usage: "run the vrrp_instance blocks until SIGTERM/SIGINT, then hand the addresses over",
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
	cfg, err := loadConfig(c.String("file"), c.App.ErrWriter)
	if err != nil {
		return err
	}
	vcfg := cfg.VRRP()
	if len(vcfg.Instances) == 0 {
		return cli.Exit("no vrrp_instance in "+c.String("file"), 1)
	}
	opts := []vrrp.Option{vrrp.WithLogger(log)}
	var node *vrrp.Node
	var mu sync.Mutex
	write := func() {
		mu.Lock()
		defer mu.Unlock()
		writeStatus(c.String("status-file"), node, log)
	}
	if c.String("status-file") != "" {
		opts = append(opts, vrrp.WithTransitionHook(func(vrrp.InstanceStatus) {
			// Called from the node's goroutine, which must not block.
			go write()
		}))
	}
	node, err = vrrp.New(vcfg, opts...)
	if err != nil {
		return fmt.Errorf("vrrp: %w", err)
	}
	if err := node.Run(c.Context); err != nil {
		return fmt.Errorf("vrrp: %w", err)
	}
	if c.String("status-file") != "" {
		write()
	}
	return nil
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
	Drops             map[string]uint64 `json:"drops"`
	Faults            []string          `json:"faults"`
	Problems          []string          `json:"problems"`
}

func writeStatus(path string, node *vrrp.Node, log *slog.Logger) {
	if node == nil {
		return
	}
	var out []statusJSON
	for _, s := range node.Status() {
		j := statusJSON{
			Name: s.Name, State: s.State, Leaving: s.Leaving,
			BasePriority: s.BasePriority, EffectivePriority: s.EffectivePriority,
			AdvertsSent: s.Counters.AdvertsSent, AdvertsReceived: s.Counters.AdvertsReceived,
			Transitions: s.Counters.Transitions, Drops: map[string]uint64{},
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
		log.Error("status file", "err", err)
		return
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err == nil {
		err = os.Rename(tmp, path)
		if err != nil {
			log.Error("status file", "err", err)
		}
	}
}
