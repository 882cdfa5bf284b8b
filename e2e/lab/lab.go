// Package lab builds throw-away test networks out of Linux network
// namespaces: hosts (one namespace each), switches (a bridge inside its own
// namespace, never in the root one) and veth links between them.
//
// Everything a Lab creates is removed when the test ends, also when it fails
// or panics, and namespaces left behind by a test binary that was killed are
// removed by the next Lab created on the machine. All traffic stays inside the
// namespaces: nothing is added to the root namespace.
//
// The package uses netlink and netns directly (no iproute2), so it also works
// inside the minimal VM that runs the real-IPVS tests.
//
//	l := lab.New(t)
//	sw := l.Switch("lan")
//	client, rs1 := l.Host("client"), l.Host("rs1")
//	sw.Attach(client, "eth0", "10.16.8.2/24")
//	sw.Attach(rs1, "eth0", "10.16.8.8/24")
//	rs1.ServeHTTP("0.0.0.0:80")
//	body, err := client.Get(ctx, "http://10.16.8.8/")
package lab

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// netnsDir is where named network namespaces are bind-mounted (as iproute2
// does), so `ip netns exec NAME` works on a lab host while debugging.
const netnsDir = "/var/run/netns"

// namePrefix starts the name of every namespace a lab creates; it is followed
// by the PID of the test process so stale namespaces can be recognised.
const namePrefix = "lvt"

// Lab owns a set of hosts and switches for one test.
type Lab struct {
	t  testing.TB
	id string // unique per Lab: "<prefix><pid>-<random>"

	mu       sync.Mutex
	hosts    map[string]*Host
	switches map[string]*Switch
	closers  []func() // run in reverse order at cleanup
	lvsctl   string   // the binary Lvsctl built, once per lab
}

// New creates an empty lab whose namespaces are removed when t ends. It fails
// the test at once when the process cannot create network namespaces (it
// must run as root).
func New(t testing.TB) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("lab: network-namespace tests must run as root (use `make test` or `sudo go test -tags e2e`)")
	}
	removeStale(t)
	var rnd [3]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatalf("lab: random id: %v", err)
	}
	l := &Lab{
		t:        t,
		id:       fmt.Sprintf("%s%d-%s", namePrefix, os.Getpid(), hex.EncodeToString(rnd[:])),
		hosts:    map[string]*Host{},
		switches: map[string]*Switch{},
	}
	t.Cleanup(l.close)
	return l
}

// onClose registers fn to run when the lab is torn down (last registered,
// first run).
func (l *Lab) onClose(fn func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closers = append(l.closers, fn)
}

func (l *Lab) close() {
	l.mu.Lock()
	closers := l.closers
	l.closers = nil
	l.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
}

// Host returns the host called name, creating its namespace (with lo up) the
// first time it is asked for.
func (l *Lab) Host(name string) *Host {
	l.t.Helper()
	l.mu.Lock()
	h, ok := l.hosts[name]
	l.mu.Unlock()
	if ok {
		return h
	}
	ns, nsName, err := l.newNamespace(name)
	if err != nil {
		l.t.Fatalf("lab: host %s: %v", name, err)
	}
	h = &Host{lab: l, name: name, nsName: nsName, ns: ns}
	h.handle, err = netlink.NewHandleAt(ns)
	if err != nil {
		l.t.Fatalf("lab: host %s: netlink handle: %v", name, err)
	}
	l.onClose(h.handle.Close)
	if h.spawn, err = newSpawner(ns); err != nil {
		l.t.Fatalf("lab: host %s: process spawner: %v", name, err)
	}
	// Registered before any process of the host: it runs after they were
	// stopped.
	l.onClose(h.spawn.close)
	if err := h.linkUp("lo"); err != nil {
		l.t.Fatalf("lab: host %s: %v", name, err)
	}
	l.mu.Lock()
	l.hosts[name] = h
	l.mu.Unlock()
	return h
}

// newNamespace creates a named namespace and registers its removal.
func (l *Lab) newNamespace(name string) (netns.NsHandle, string, error) {
	nsName := l.id + "-" + name
	var ns netns.NsHandle
	// NewNamed switches the calling thread into the new namespace; run it on
	// a throw-away locked thread so no other goroutine ever lands there.
	err := onThrowawayThread(func() error {
		var err error
		ns, err = netns.NewNamed(nsName)
		if err != nil {
			return fmt.Errorf("create namespace %s: %w", nsName, err)
		}
		return nil
	})
	if err != nil {
		return 0, "", err
	}
	l.onClose(func() {
		_ = ns.Close()
		if err := netns.DeleteNamed(nsName); err != nil {
			l.t.Logf("lab: delete namespace %s: %v", nsName, err)
		}
	})
	return ns, nsName, nil
}

// removeStale deletes namespaces of earlier labs whose test process is gone
// (a test binary killed by a timeout cannot run its cleanups).
func removeStale(t testing.TB) {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return // no namespaces yet
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, namePrefix) {
			continue
		}
		pidStr, _, ok := strings.Cut(strings.TrimPrefix(name, namePrefix), "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(filepath.Join("/proc", pidStr)); err == nil {
			continue // its test is still running
		}
		if err := netns.DeleteNamed(name); err != nil {
			t.Logf("lab: remove stale namespace %s: %v", name, err)
		}
	}
}
