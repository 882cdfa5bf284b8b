// Package syncd runs the kernel's IPVS connection-synchronisation daemons
// the way keepalived's lvs_sync_daemon does, so that connections survive a
// director failover: the director holding the VIPs sends its connection
// entries (the kernel's master daemon) and its peer enters them into its
// own table (the backup daemon), so that the peer forwards mid-flow
// segments to the same real server when it takes the VIPs over instead of
// answering them with a reset.
//
// The package is a pure decision, Decide (configuration and the VRRP state
// of the instance the daemons follow → which daemons run), and a thin
// Runtime that reconciles the kernel, through the Kernel interface
// (director/ipvs.SyncClient), at start, on every VRRP transition (from its
// own goroutine: a transition never waits for the kernel), on reload and
// at stop. The state table (docs/sync.md):
//
//	instance state        master daemon  backup daemon   keepalived 2.2.7
//	(no instance named)   on             on              both (check_daemon.c)
//	INIT (starting)       off            on              backup (vrrp_scheduler.c)
//	BACKUP                off            on              backup
//	MASTER                on             on              master only (vrrp.c → ipvs_syncd_master)
//	FAULT                 off            on              backup (vrrp_state_leave_master)
//	STOP / Runtime.Stop   off            off             off (vrrp_daemon.c)
//
// lvsctl departs from keepalived in one place: a MASTER keeps its backup
// daemon. keepalived stops it (ipvs_syncd_master in keepalived/check/ipvswrapper.c), so
// during a preemption, while both directors briefly claim MASTER, and
// whenever two nodes disagree, entries the peer's master daemon sends are
// dropped. The kernel runs the two daemons as separate threads and a
// master does not receive its own multicast (the sending socket has
// IP_MULTICAST_LOOP off), so keeping the backup daemon costs one idle
// thread.
//
// What the kernel syncs is decided by net.ipv4.vs.* sysctls; lvsctl sets
// none by default (keepalived does not either, and they are per-namespace
// settings other tools may own). Config.Sysctls sets them when configured
// (the lvsctl extension keywords of docs/sync.md) and restores the previous
// values at stop. The notes measured on the kernel (docs/sync.md) explain
// why an operator may want them: a connection reaches the backup only ~2 s
// after it opened, and a returning master only learns the peer's
// connections as they are re-sent (sync_threshold, sync_refresh_period).
package syncd

import (
	"slices"

	"github.com/lvsctl/lvsctl/vrrp/fsm"
)

// Config is the fully defaulted lvs_sync_daemon configuration (built by
// internal/config): the settings of both daemons, the VRRP instance they
// follow and the sysctls to set.
type Config struct {
	// Settings of the daemons. SyncID is resolved (keepalived: the
	// instance's VRID when lvs_sync_daemon names one without `id`, else 0).
	// MaxLen 0 means derived from the interface MTU (see MaxLenFor), Port
	// 0, TTL 0 and an invalid Group mean the kernel's defaults.
	Settings Settings `json:"settings"`
	// Instance is the vrrp_instance whose state drives the daemons; ""
	// runs both daemons whatever VRRP does.
	Instance string `json:"instance"`
	// Sysctls are net.ipv4.vs.<Name> values to set (lvsctl extension), in
	// order.
	Sysctls []Sysctl `json:"sysctls"`
}

// Sysctl is one net.ipv4.vs.<Name> value.
type Sysctl struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Equal reports whether two configurations are the same.
func (c *Config) Equal(o *Config) bool {
	if c == nil || o == nil {
		return c == o
	}
	return c.Settings == o.Settings && c.Instance == o.Instance && slices.Equal(c.Sysctls, o.Sysctls)
}

// Want says which daemons should run.
type Want struct {
	Master bool
	Backup bool
}

// Decide is the state table of the package doc: which daemons run given the
// configuration (nil: sync not configured, nothing runs) and the VRRP state
// of cfg.Instance.
func Decide(cfg *Config, st fsm.State) Want {
	switch {
	case cfg == nil:
		return Want{}
	case cfg.Instance == "":
		return Want{Master: true, Backup: true}
	}
	switch st {
	case fsm.Master:
		return Want{Master: true, Backup: true}
	case fsm.Stopped:
		return Want{}
	default: // INIT, BACKUP, FAULT
		return Want{Backup: true}
	}
}

// Header sizes of one sync message: IP + UDP.
const (
	hlen4 = 20 + 8
	hlen6 = 40 + 8
)

// MaxLenFor is the message size sent to the kernel for a daemon of role r
// on an interface of the given MTU: the configured maxlen when set; else,
// for a master, the largest UDP payload that fits the interface MTU (the
// kernel would use 1500 whatever the MTU: fragments below 1500, a third of
// the possible batch with jumbo frames); for a backup 0, because the kernel
// already sizes the receive buffer from the MTU (at least 1500).
func (c *Config) MaxLenFor(r Role, mtu int) uint16 {
	if c.Settings.MaxLen != 0 || r != Master || mtu <= 0 {
		return c.Settings.MaxLen
	}
	h := hlen4
	if c.Settings.Group.IsValid() && c.Settings.Group.Is6() && !c.Settings.Group.Is4In6() {
		h = hlen6
	}
	return uint16(min(max(mtu-h, 1), 65535-h))
}

// daemon is the daemon of role r as it is started.
func (c *Config) daemon(r Role, mtu int) Daemon {
	s := c.Settings
	s.MaxLen = c.MaxLenFor(r, mtu)
	return Daemon{Role: r, Settings: s}
}

// Normalize fills the kernel's defaults into zero settings, for comparing
// configured settings with the ones the kernel reports.
func (s Settings) Normalize() Settings {
	if s.Port == 0 {
		s.Port = DefaultPort
	}
	if s.TTL == 0 {
		s.TTL = DefaultTTL
	}
	if !s.Group.IsValid() {
		s.Group = DefaultGroup
	}
	return s
}
