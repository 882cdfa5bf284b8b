package main

import (
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/lvsctl/lvsctl/internal/memlock"
)

// lockMemoryFlag is the daemons' --lock-memory (on by default).
func lockMemoryFlag() cli.Flag {
	return &cli.BoolFlag{Name: "lock-memory", Value: true,
		Usage:   "lock the daemon's memory (mlockall) so that it never waits on a page fault; keepalived's vrrp_no_swap/checker_no_swap, always on",
		EnvVars: []string{"LVSCTL_LOCK_MEMORY"}}
}

// lockMemory locks the daemon's memory unless --lock-memory=false; a
// failure (no CAP_IPC_LOCK, RLIMIT_MEMLOCK too low) is logged and the
// daemon runs on.
func lockMemory(c *cli.Context, log *slog.Logger) {
	if !c.Bool("lock-memory") {
		return
	}
	if err := memlock.Lock(); err != nil {
		log.Warn("cannot lock the daemon's memory: a page fault on a busy disk can now delay adverts and checks", "err", err)
		return
	}
	log.Debug("memory locked (mlockall)")
}
