package realserver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNoInterface is wrapped when an interface has no sysctl directory,
// that is, it does not exist in the network namespace.
var ErrNoInterface = errors.New("no such interface")

// arpSetting is one row of the table of what a DR real server needs.
type arpSetting struct {
	name string
	// want is what Start writes when the current value is not in ok.
	want string
	// ok are the values that already do the job; Start leaves them, so a
	// stricter choice of the administrator is kept.
	ok []int
	// why explains a value outside ok, for status.
	why string
}

// arpSettings is the table of sysctls Start sets on "all", "lo" and every
// --iface. arp_ignore 1 and 2 only answer ARP for addresses of the receiving
// interface (3 would answer for the global-scope VIP, 8 for nothing at all,
// not even the host's own address); arp_announce 2 always picks the
// outgoing interface's own address as ARP sender, never the VIP.
func arpSettings() []arpSetting {
	return []arpSetting{
		{name: "arp_ignore", want: "1", ok: []int{1, 2},
			why: "needs 1 or 2, else the interface answers ARP for addresses on lo"},
		{name: "arp_announce", want: "2", ok: []int{2},
			why: "needs 2, else ARP requests may carry the VIP as sender address"},
	}
}

// acceptable reports whether value (as read from /proc) already does the job.
func (s arpSetting) acceptable(value string) bool {
	n, err := strconv.Atoi(strings.TrimSpace(value))
	return err == nil && slices.Contains(s.ok, n)
}

// SysctlKey names one per-interface IPv4 sysctl:
// net.ipv4.conf.<Iface>.<Name>.
type SysctlKey struct {
	Iface string `json:"iface"`
	Name  string `json:"name"`
}

func (k SysctlKey) String() string { return "net.ipv4.conf." + k.Iface + "." + k.Name }

// ProcSysctlRoot is where the per-interface IPv4 sysctls live.
const ProcSysctlRoot = "/proc/sys/net/ipv4/conf"

// ProcSysctls reads and writes sysctls as files under Root
// (ProcSysctlRoot in production). /proc/sys/net resolves in the network
// namespace of the calling thread.
type ProcSysctls struct {
	Root string
}

// NewProcSysctls returns ProcSysctls on ProcSysctlRoot.
func NewProcSysctls() *ProcSysctls { return &ProcSysctls{Root: ProcSysctlRoot} }

func (p *ProcSysctls) path(iface, name string) (string, error) {
	if iface == "" || iface == "." || iface == ".." || strings.ContainsAny(iface, "/\x00") {
		return "", fmt.Errorf("%w: invalid interface name %q", ErrNoInterface, iface)
	}
	return filepath.Join(p.Root, iface, name), nil
}

// Get returns the value with surrounding white space removed.
func (p *ProcSysctls) Get(iface, name string) (string, error) {
	path, err := p.path(iface, name)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: %s (no %s)", ErrNoInterface, iface, path)
		}
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Set writes value. It never creates a file: a missing interface is an
// error, as it is in /proc.
func (p *ProcSysctls) Set(iface, name, value string) error {
	path, err := p.path(iface, name)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s (no %s)", ErrNoInterface, iface, path)
		}
		return fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := f.WriteString(value + "\n"); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s=%s: %w", path, value, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s=%s: %w", path, value, err)
	}
	return nil
}

// Interfaces lists the directories under Root: every interface plus "all"
// and "default".
func (p *ProcSysctls) Interfaces() ([]string, error) {
	entries, err := os.ReadDir(p.Root)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", p.Root, err)
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
