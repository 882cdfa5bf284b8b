package realserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// DefaultStateDir is where the state file lives unless told otherwise. It is
// on tmpfs on purpose: after a reboot the kernel has forgotten the VIPs and
// sysctls, and so must lvsctl.
const DefaultStateDir = "/run/lvsctl"

// StateFileName is the state file's name inside the state directory.
const StateFileName = "rs.json"

const (
	lockFileName = "rs.lock"
	stateVersion = 1
)

// ErrBusy is returned when another lvsctl rs start/stop holds the lock.
var ErrBusy = errors.New("another lvsctl rs start/stop is running")

// State is what lvsctl changed on this host: the content of the state file.
type State struct {
	Version int `json:"version"`
	// Sysctls are the sysctls lvsctl wrote, with the value each had before.
	Sysctls []SysctlRecord `json:"sysctls"`
	// VIPs are the addresses lvsctl added to lo (never one that was there
	// before).
	VIPs []VIPRecord `json:"vips"`
}

// SysctlRecord is one sysctl lvsctl wrote.
type SysctlRecord struct {
	SysctlKey
	// Original is the value before lvsctl first wrote it; Stop restores it.
	Original string `json:"original"`
	// Value is what lvsctl wrote.
	Value string `json:"value"`
}

// VIPRecord is one address lvsctl added to lo.
type VIPRecord struct {
	Prefix netip.Prefix `json:"prefix"`
	Label  string       `json:"label,omitempty"`
}

func (s *State) empty() bool { return len(s.Sysctls) == 0 && len(s.VIPs) == 0 }

func (s *State) sysctl(k SysctlKey) (SysctlRecord, bool) {
	for _, r := range s.Sysctls {
		if r.SysctlKey == k {
			return r, true
		}
	}
	return SysctlRecord{}, false
}

func (s *State) hasVIP(a netip.Addr) bool {
	for _, v := range s.VIPs {
		if v.Prefix.Addr() == a {
			return true
		}
	}
	return false
}

func (s *State) clone() State {
	return State{
		Version: s.Version,
		Sysctls: append([]SysctlRecord(nil), s.Sysctls...),
		VIPs:    append([]VIPRecord(nil), s.VIPs...),
	}
}

// stateStore reads and writes the state file of one directory.
type stateStore struct {
	dir string
}

func (st stateStore) path() string { return filepath.Join(st.dir, StateFileName) }

// load returns the state and whether the file existed.
func (st stateStore) load() (State, bool, error) {
	b, err := os.ReadFile(st.path())
	if errors.Is(err, fs.ErrNotExist) {
		return State{Version: stateVersion}, false, nil
	}
	if err != nil {
		return State{}, false, fmt.Errorf("read state file: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, false, fmt.Errorf("state file %s is damaged: %w", st.path(), err)
	}
	if s.Version != stateVersion {
		return State{}, false, fmt.Errorf("state file %s has version %d, this lvsctl understands %d",
			st.path(), s.Version, stateVersion)
	}
	return s, true, nil
}

// save replaces the state file atomically: a crash leaves the old or the new
// file, never a torn one.
func (st stateStore) save(s State) error {
	s.Version = stateVersion
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := os.MkdirAll(st.dir, 0o755); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	tmp, err := os.CreateTemp(st.dir, "."+StateFileName+".*")
	if err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write state file: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write state file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	if err := os.Rename(tmp.Name(), st.path()); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	return syncDir(st.dir)
}

// remove deletes the state file; a missing file is fine.
func (st stateStore) remove() error {
	if err := os.Remove(st.path()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove state file: %w", err)
	}
	return syncDir(st.dir)
}

// restore puts back a state read earlier (existed=false: no file).
func (st stateStore) restore(s State, existed bool) error {
	if existed {
		return st.save(s)
	}
	return st.remove()
}

// lock takes an exclusive lock on the state directory, so two concurrent
// runs cannot both record "original" values. It does not wait.
func (st stateStore) lock() (unlock func(), err error) {
	if err := os.MkdirAll(st.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(st.dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (lock %s)", ErrBusy, f.Name())
		}
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	// Closing the descriptor releases the lock.
	return func() { _ = f.Close() }, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync state directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync state directory: %w", err)
	}
	return nil
}
