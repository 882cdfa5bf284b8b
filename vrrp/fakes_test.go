package vrrp

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

type sent struct {
	ifindex  int
	src, dst netip.Addr
	ttl      uint8
	b        []byte
}

// fakeTransport records sends and delivers injected packets.
type fakeTransport struct {
	mu     sync.Mutex
	sent   []sent
	joined []netip.Addr
	// joinedOn is the interface of each joined group.
	joinedOn []int
	in       chan fakePacket
	errs     chan error
	closed   chan struct{}
	once     sync.Once
}

type fakePacket struct {
	b    []byte
	meta RecvMeta
}

func newFakeTransport() *fakeTransport {
	return &fakeTransport{in: make(chan fakePacket, 16), errs: make(chan error, 1), closed: make(chan struct{})}
}

func (f *fakeTransport) Join(ifindex int, g netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.joined = append(f.joined, g)
	f.joinedOn = append(f.joinedOn, ifindex)
	return nil
}

func (f *fakeTransport) Send(ifindex int, src, dst netip.Addr, ttl uint8, b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, sent{ifindex, src, dst, ttl, append([]byte(nil), b...)})
	return nil
}

func (f *fakeTransport) Receive() ([]Packet, error) {
	select {
	case p := <-f.in:
		return []Packet{{B: append([]byte(nil), p.b...), Meta: p.meta}}, nil
	case err := <-f.errs:
		return nil, err
	case <-f.closed:
		return nil, errors.New("closed")
	}
}

func (f *fakeTransport) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

func (f *fakeTransport) sends() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.sent...)
}

// fakeAddrs records address changes and keeps the resulting set (with
// the interface of each address, for Addrs).
type fakeAddrs struct {
	mu   sync.Mutex
	log  []string
	set  map[netip.Prefix]bool
	ifOf map[netip.Prefix]int
}

func (f *fakeAddrs) AddAddr(ifindex int, v VIP) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "add "+v.Prefix.String())
	f.put(ifindex, v.Prefix)
	return nil
}

func (f *fakeAddrs) put(ifindex int, p netip.Prefix) {
	if f.ifOf == nil {
		f.ifOf = map[netip.Prefix]int{}
	}
	f.set[p] = true
	f.ifOf[p] = ifindex
}

func (f *fakeAddrs) DelAddr(_ int, v VIP) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "del "+v.Prefix.String())
	delete(f.set, v.Prefix)
	return nil
}

func (f *fakeAddrs) Addrs(ifindex int) ([]netip.Prefix, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []netip.Prefix
	for p := range f.set {
		if f.ifOf[p] == ifindex {
			out = append(out, p)
		}
	}
	return out, nil
}

// plant adds an address behind the node's back (not logged).
func (f *fakeAddrs) plant(ifindex int, p string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.put(ifindex, netip.MustParsePrefix(p))
}

// yank deletes an address behind the node's back (not logged).
func (f *fakeAddrs) yank(p string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.set, netip.MustParsePrefix(p))
}

func (f *fakeAddrs) has(p string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.set[netip.MustParsePrefix(p)]
}

type fakeARP struct {
	mu  sync.Mutex
	ips []netip.Addr
	// on is the interface of each announcement.
	on []int
}

func (f *fakeARP) Announce(ifindex int, ip netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ips = append(f.ips, ip)
	f.on = append(f.on, ifindex)
	return nil
}

func (f *fakeARP) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ips)
}

// fakeLinks serves interfaces and lets the test push link changes and end
// the current subscription, as a netlink receive error does.
type fakeLinks struct {
	updates chan LinkUpdate

	mu    sync.Mutex
	links map[string]LinkInfo
	subs  int
	kill  chan struct{}
}

func (f *fakeLinks) Lookup(name string) (LinkInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[name]
	if !ok {
		return LinkInfo{}, errors.New("no such interface")
	}
	return l, nil
}

// setUp changes what Lookup reports, without sending an update.
func (f *fakeLinks) setUp(name string, up bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.links[name]
	l.Up = up
	f.links[name] = l
}

// endSubscription closes the current subscription's channel.
func (f *fakeLinks) endSubscription() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kill != nil {
		close(f.kill)
		f.kill = nil
	}
}

func (f *fakeLinks) subscriptions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.subs
}

func (f *fakeLinks) Subscribe(ctx context.Context) (<-chan LinkUpdate, error) {
	f.mu.Lock()
	f.subs++
	kill := make(chan struct{})
	f.kill = kill
	f.mu.Unlock()
	out := make(chan LinkUpdate)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case <-kill:
				return
			case u := <-f.updates:
				select {
				case out <- u:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// recordingStarter records the argv of every script and runs /bin/true
// (or /bin/false for argv[0] == "false") instead.
type recordingStarter struct {
	mu   sync.Mutex
	runs [][]string
	// uids is the uid each run was started as (-1: lvsctl's own).
	uids []int
}

func (r *recordingStarter) start(c *exec.Cmd) error {
	r.mu.Lock()
	r.runs = append(r.runs, append([]string(nil), c.Args...))
	uid := -1
	if c.SysProcAttr != nil && c.SysProcAttr.Credential != nil {
		uid = int(c.SysProcAttr.Credential.Uid)
		// The fake runs /bin/true as lvsctl: the credential is recorded,
		// not applied (unit tests need no root).
		c.SysProcAttr.Credential = nil
	}
	r.uids = append(r.uids, uid)
	r.mu.Unlock()
	if filepath.IsAbs(c.Args[0]) {
		if _, err := os.Stat(c.Args[0]); err != nil {
			return err
		}
	}
	bin := "true"
	if c.Args[0] == "false" {
		bin = "false"
	}
	p, err := exec.LookPath(bin)
	if err != nil {
		return err
	}
	c.Path, c.Args = p, []string{bin}
	return c.Start()
}

func (r *recordingStarter) allUIDs() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.uids...)
}

func (r *recordingStarter) all() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]string(nil), r.runs...)
}

// fakeVMACs records VMAC creation and deletion in the address log of
// addrs, so that tests see the order of both.
type fakeVMACs struct {
	addrs *fakeAddrs
	// index is the ifindex the next Up returns.
	index int
	err   error

	mu   sync.Mutex
	up   map[string]int
	spec []VMACSpec
}

func (f *fakeVMACs) Up(s VMACSpec) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	f.addrs.mu.Lock()
	f.addrs.log = append(f.addrs.log, "vmac up "+s.Name)
	f.addrs.mu.Unlock()
	if f.up == nil {
		f.up = map[string]int{}
	}
	f.up[s.Name] = f.index
	f.spec = append(f.spec, s)
	f.index++
	return f.up[s.Name], nil
}

func (f *fakeVMACs) Down(s VMACSpec, ifindex int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addrs.mu.Lock()
	f.addrs.log = append(f.addrs.log, "vmac down "+s.Name)
	f.addrs.mu.Unlock()
	if f.up[s.Name] == ifindex {
		delete(f.up, s.Name)
	}
	return nil
}

func (f *fakeVMACs) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.up)
}
