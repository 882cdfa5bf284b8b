package syncd

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// Fake is a recording Kernel for tests: it behaves like the kernel (EEXIST,
// ESRCH, ENODEV, defaults filled in on read-back) and records every call
// that changes something as one line in Ops.
type Fake struct {
	mu sync.Mutex
	// Ops are the recorded changes: "start master eth1 id=191 maxlen=1472
	// port=0 ttl=0 group=invalid IP", "stop backup", "sysctl NAME=VALUE".
	Ops []string
	// MTUs of the interfaces that exist.
	MTUs map[string]int
	// Conns is what Connections returns.
	Conns ConnCount
	// Sysctls holds the net.ipv4.vs values (missing names read as "0").
	Sysctls map[string]string
	// Err, when set, is returned by the next call of that name
	// ("StartDaemon", "StopDaemon", "Daemons", ...) and then cleared.
	Err     map[string]error
	daemons map[Role]Daemon
}

// NewFake returns a fake kernel with the given interfaces and MTUs.
func NewFake(mtus map[string]int) *Fake {
	return &Fake{MTUs: mtus, Sysctls: map[string]string{}, Err: map[string]error{}, daemons: map[Role]Daemon{}}
}

func (f *Fake) fail(name string) error {
	err := f.Err[name]
	delete(f.Err, name)
	return err
}

// TakeOps returns the recorded operations and forgets them.
func (f *Fake) TakeOps() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ops := f.Ops
	f.Ops = nil
	return ops
}

// Running returns the daemons as the kernel would report them.
func (f *Fake) Running() map[Role]Daemon {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[Role]Daemon{}
	for r, d := range f.daemons {
		out[r] = d
	}
	return out
}

// SetMTU adds (mtu > 0) or removes an interface while the runtime runs.
func (f *Fake) SetMTU(name string, mtu int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if mtu > 0 {
		f.MTUs[name] = mtu
	} else {
		delete(f.MTUs, name)
	}
}

// Fail makes the next call of method (e.g. "StartDaemon") return err.
func (f *Fake) Fail(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Err[method] = err
}

// Kill stops a daemon behind the runtime's back (as ipvsadm would).
func (f *Fake) Kill(r Role) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.daemons, r)
}

// StartDaemon implements Kernel.
func (f *Fake) StartDaemon(_ context.Context, d Daemon) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("StartDaemon"); err != nil {
		return err
	}
	if _, ok := f.daemons[d.Role]; ok {
		return unix.EEXIST
	}
	mtu, ok := f.MTUs[d.Interface]
	if !ok {
		return unix.ENODEV
	}
	f.Ops = append(f.Ops, fmt.Sprintf("start %s %s id=%d maxlen=%d port=%d ttl=%d group=%s",
		d.Role, d.Interface, d.SyncID, d.MaxLen, d.Port, d.TTL, d.Group))
	k := d
	k.Settings = k.Settings.Normalize()
	if k.MaxLen == 0 { // ip_vs_sync.c start_sync_thread
		k.MaxLen = 1500 - hlen4
		if d.Role == Backup {
			k.MaxLen = uint16(max(mtu, 1500) - hlen4)
		}
	}
	f.daemons[d.Role] = k
	return nil
}

// StopDaemon implements Kernel.
func (f *Fake) StopDaemon(_ context.Context, r Role) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("StopDaemon"); err != nil {
		return err
	}
	if _, ok := f.daemons[r]; !ok {
		return unix.ESRCH
	}
	delete(f.daemons, r)
	f.Ops = append(f.Ops, "stop "+r.String())
	return nil
}

// Daemons implements Kernel.
func (f *Fake) Daemons(context.Context) ([]Daemon, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("Daemons"); err != nil {
		return nil, err
	}
	var out []Daemon
	for _, r := range []Role{Master, Backup} {
		if d, ok := f.daemons[r]; ok {
			out = append(out, d)
		}
	}
	return slices.Clip(out), nil
}

// InterfaceMTU implements Kernel.
func (f *Fake) InterfaceMTU(_ context.Context, name string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("InterfaceMTU"); err != nil {
		return 0, err
	}
	mtu, ok := f.MTUs[name]
	if !ok {
		return 0, fmt.Errorf("interface %s: %w", name, ErrNoInterface)
	}
	return mtu, nil
}

// Connections implements Kernel.
func (f *Fake) Connections(context.Context) (ConnCount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Conns, f.fail("Connections")
}

// Sysctl implements Kernel.
func (f *Fake) Sysctl(_ context.Context, name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("Sysctl"); err != nil {
		return "", err
	}
	if v, ok := f.Sysctls[name]; ok {
		return v, nil
	}
	return "0", nil
}

// SetSysctl implements Kernel.
func (f *Fake) SetSysctl(_ context.Context, name, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("SetSysctl"); err != nil {
		return err
	}
	f.Sysctls[name] = value
	f.Ops = append(f.Ops, "sysctl "+name+"="+value)
	return nil
}

var _ Kernel = (*Fake)(nil)
