package syncd

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
)

// Role is the role of one kernel sync daemon. The values are the kernel's
// IP_VS_STATE_MASTER and IP_VS_STATE_BACKUP (include/uapi/linux/ip_vs.h),
// which is also how the kernel lets both run at once: they are separate
// threads with separate settings.
type Role uint32

// Roles of the kernel sync daemons.
const (
	Master Role = 1 // sends this director's connection entries
	Backup Role = 2 // receives the peer's entries into this kernel's table
)

// MarshalText writes "master" or "backup" (status JSON).
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads what MarshalText writes.
func (r *Role) UnmarshalText(b []byte) error {
	switch string(b) {
	case "master":
		*r = Master
	case "backup":
		*r = Backup
	default:
		return fmt.Errorf("sync daemon role %q is neither master nor backup", b)
	}
	return nil
}

func (r Role) String() string {
	switch r {
	case Master:
		return "master"
	case Backup:
		return "backup"
	}
	return fmt.Sprintf("Role(%d)", uint32(r))
}

// Kernel defaults for settings left zero (net/netfilter/ipvs/ip_vs_sync.c).
const (
	DefaultPort = 8848 // IP_VS_SYNC_PORT
	DefaultTTL  = 1
)

// DefaultGroup is the kernel's default multicast group (IP_VS_SYNC_GROUP).
var DefaultGroup = netip.AddrFrom4([4]byte{224, 0, 0, 81})

// Settings are what the kernel needs to start a sync daemon (the
// IPVS_DAEMON_ATTR_* of IPVS_CMD_NEW_DAEMON). Zero values are not sent and
// the kernel picks its default; Daemons reports what the kernel chose.
type Settings struct {
	// Interface the daemon sends on (master) or listens on (backup).
	Interface string `json:"interface"`
	// SyncID tags the messages; a backup drops messages of another ID, so
	// several director pairs can share one segment.
	SyncID uint8 `json:"sync_id"`
	// MaxLen is the UDP payload size of one sync message (0: the kernel
	// derives it from the interface MTU for a backup and uses 1500 for a
	// master).
	MaxLen uint16 `json:"maxlen"`
	// Port is the UDP port (0: 8848).
	Port uint16 `json:"port"`
	// TTL of the multicast messages (0: 1).
	TTL uint8 `json:"ttl"`
	// Group is the multicast group, IPv4 or IPv6 (invalid: 224.0.0.81).
	Group netip.Addr `json:"group"`
}

// Daemon is one kernel sync daemon: its role and settings.
type Daemon struct {
	Role Role `json:"role"`
	Settings
}

// Kernel is what syncd needs from the kernel, implemented by
// director/ipvs.SyncClient (generic netlink, /proc, sysctls) and by the
// recording Fake in tests.
type Kernel interface {
	// StartDaemon starts one daemon; unix.EEXIST when one of that role
	// runs already, unix.ENODEV when the interface does not exist.
	StartDaemon(ctx context.Context, d Daemon) error
	// StopDaemon stops the daemon of one role; unix.ESRCH when none runs.
	StopDaemon(ctx context.Context, r Role) error
	// Daemons lists the running daemons with the settings the kernel uses.
	Daemons(ctx context.Context) ([]Daemon, error)
	// InterfaceMTU is the MTU of a network interface; an error wrapping
	// ErrNoInterface when it does not exist.
	InterfaceMTU(ctx context.Context, name string) (int, error)
	// Connections counts the entries of the kernel's IPVS connection table.
	Connections(ctx context.Context) (ConnCount, error)
	// Sysctl reads and SetSysctl writes net.ipv4.vs.<name>.
	Sysctl(ctx context.Context, name string) (string, error)
	SetSysctl(ctx context.Context, name, value string) error
}

// ConnCount counts the kernel's IPVS connection entries.
type ConnCount struct {
	// Total counts every entry: closing connections and persistence
	// templates too.
	Total int `json:"total"`
	// Established counts the TCP entries in ESTABLISHED: on a backup, the
	// live connections it would carry on after a takeover.
	Established int `json:"established"`
}

// ErrNoInterface is wrapped by Kernel.InterfaceMTU when the interface does
// not exist.
var ErrNoInterface = errors.New("no such network interface")
