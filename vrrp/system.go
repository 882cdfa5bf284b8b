package vrrp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/vrrp/packet"
)

// The kernel-facing parts. Each is a small interface so that the node can
// be tested with recording fakes.

// Transport sends and receives VRRP packets (the IP payload).
type Transport interface {
	// Join subscribes to group on the interface.
	Join(ifindex int, group netip.Addr) error
	// Send sends payload from src out of ifindex to dst with the IPv4 TTL
	// (IPv6 hop limit) ttl: 255 but for unicast_ttl.
	Send(ifindex int, src, dst netip.Addr, ttl uint8, payload []byte) error
	// Receive blocks for the next packets (one or more, in arrival order
	// per family); it fails once Close was called. The packets are the
	// caller's to keep.
	Receive() ([]Packet, error)
	Close() error
}

// AddrManager installs, removes and lists virtual addresses.
type AddrManager interface {
	AddAddr(ifindex int, v VIP) error
	DelAddr(ifindex int, v VIP) error
	// Addrs lists the addresses on the interface, whoever added them:
	// the node removes its VIPs that it does not hold and re-adds those it
	// holds that went missing.
	Addrs(ifindex int) ([]netip.Prefix, error)
}

// Announcer announces that ip is now on ifindex: one gratuitous ARP
// (request and reply) for IPv4, one unsolicited neighbour advertisement
// for IPv6.
type Announcer interface {
	Announce(ifindex int, ip netip.Addr) error
}

// LinkInfo is what the node needs to know of an interface.
type LinkInfo struct {
	Name  string
	Index int
	Up    bool
	Addrs []netip.Prefix // IPv4, primary (non-secondary) first
	// LinkLocal6 are the usable IPv6 link-local addresses, the sources
	// of IPv6 adverts.
	LinkLocal6 []netip.Addr
}

// LinkUpdate reports a change of an interface's state.
type LinkUpdate struct {
	Name  string
	Index int
	Up    bool
}

// Links looks up interfaces and reports their changes.
type Links interface {
	Lookup(name string) (LinkInfo, error)
	// Subscribe delivers link changes until ctx ends.
	Subscribe(ctx context.Context) (<-chan LinkUpdate, error)
}

// nsHandle runs functions inside the namespace the node was created in,
// for sockets and children created after New (from other OS threads).
type nsHandle struct {
	ns netns.NsHandle
	// process is true when ns is the namespace of the whole process (the
	// usual case outside tests): nothing needs switching then.
	process bool
}

func currentNS() (*nsHandle, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("current network namespace: %w", err)
	}
	h := &nsHandle{ns: ns}
	if main, err := netns.GetFromPath("/proc/self/ns/net"); err == nil {
		h.process = ns.Equal(main)
		_ = main.Close()
	}
	return h, nil
}

// do runs fn inside the namespace: directly when it is the process's, else
// on a dedicated OS thread switched into it. That thread is thrown away
// afterwards, so a failed switch back cannot leak a thread in the wrong
// namespace.
func (h *nsHandle) do(fn func() error) error {
	if h.process {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the thread dies with the goroutine.
		if err := netns.Set(h.ns); err != nil {
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func (h *nsHandle) close() { _ = h.ns.Close() }

// Packet is one received VRRP packet: the IP payload and where it came
// from.
type Packet struct {
	B    []byte
	Meta RecvMeta
}

// rawTransport holds the IP protocol 112 sockets, one per family. Each
// socket has a reader goroutine that hands packets to Receive, so that one
// Receive serves both families. The readers read up to readBatch packets
// per system call (recvmmsg) and hand them over together: under a flood
// the cost per packet falls as the backlog grows, where one read and one
// hand-over per packet would let the socket's buffer overflow.
type rawTransport struct {
	c4 net.PacketConn
	p4 *ipv4.PacketConn
	// c6/p6 are nil when the host has no IPv6 (then no IPv6 instance can
	// run: Join and Send of IPv6 fail).
	c6 net.PacketConn
	p6 *ipv6.PacketConn
	// err6 is why the IPv6 socket could not be opened.
	err6 error

	rx        chan rawPacket
	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

type rawPacket struct {
	pkts []Packet
	err  error
}

// readBatch is how many packets one read takes at most, readSize the
// room for each: the largest VRRP packet (255 IPv6 addresses) with its
// IPv4 header fits.
const (
	readBatch = 64
	readSize  = 4200
)

// The control messages asked for with every packet: the TTL (hop limit),
// destination and interface.
const (
	cmFlags4 = ipv4.FlagTTL | ipv4.FlagDst | ipv4.FlagInterface | ipv4.FlagSrc
	cmFlags6 = ipv6.FlagHopLimit | ipv6.FlagDst | ipv6.FlagInterface | ipv6.FlagSrc
)

// openRawTransport opens the IPv4 socket, and the IPv6 one unless the host
// has no IPv6 (an error then only if need6: the configuration has IPv6
// instances). The sockets belong to the calling thread's namespace.
func openRawTransport(need6 bool) (*rawTransport, error) {
	t := &rawTransport{rx: make(chan rawPacket, 64), closed: make(chan struct{})}
	c, err := net.ListenPacket(fmt.Sprintf("ip4:%d", packet.ProtocolNumber), "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("open VRRP socket (needs CAP_NET_RAW): %w", err)
	}
	p := ipv4.NewPacketConn(c)
	for _, set := range []func() error{
		func() error {
			return p.SetControlMessage(cmFlags4, true)
		},
		func() error { return p.SetMulticastTTL(255) },
		func() error { return p.SetTTL(255) },
		func() error { return p.SetTOS(0xc0) },
		func() error { return p.SetMulticastLoopback(false) },
		func() error { return setRecvBuffer(c) },
	} {
		if err := set(); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("VRRP socket options: %w", err)
		}
	}
	t.c4, t.p4 = c, p
	if t.c6, t.p6, t.err6 = openRaw6(); t.err6 != nil && need6 {
		_ = c.Close()
		return nil, t.err6
	}
	t.wg.Add(1)
	go t.readLoop(t.read4(newBatchReader(len(ipv4.NewControlMessage(cmFlags4)))))
	if t.p6 != nil {
		t.wg.Add(1)
		go t.readLoop(t.read6(newBatchReader(len(ipv6.NewControlMessage(cmFlags6)))))
	}
	return t, nil
}

// openRaw6 opens the IPv6 socket. The checksum is left to lvsctl (no
// IPV6_CHECKSUM): the kernel would otherwise drop bad packets unseen, and
// the checksum drop counter would not count them. Hop limit 255 both ways
// (RFC 5798 5.1.2.3), traffic class 0xc0 like the IPv4 TOS; the received
// hop limit is asked for, and checked by the receiver (keepalived 2.2.7
// vrrp.c asks for IPV6_RECVHOPLIMIT and IPV6_RECVPKTINFO the same way).
func openRaw6() (net.PacketConn, *ipv6.PacketConn, error) {
	c, err := net.ListenPacket(fmt.Sprintf("ip6:%d", packet.ProtocolNumber), "::")
	if err != nil {
		return nil, nil, fmt.Errorf("open IPv6 VRRP socket: %w", err)
	}
	p := ipv6.NewPacketConn(c)
	for _, set := range []func() error{
		func() error {
			return p.SetControlMessage(cmFlags6, true)
		},
		func() error { return p.SetMulticastHopLimit(255) },
		func() error { return p.SetHopLimit(255) },
		func() error { return p.SetTrafficClass(0xc0) },
		func() error { return p.SetMulticastLoopback(false) },
		func() error { return setRecvBuffer(c) },
	} {
		if err := set(); err != nil {
			_ = c.Close()
			return nil, nil, fmt.Errorf("IPv6 VRRP socket options: %w", err)
		}
	}
	return c, p, nil
}

// deliver hands one packet (or a receive error) to Receive; false once the
// transport is closed.
func (t *rawTransport) deliver(pk rawPacket) bool {
	select {
	case t.rx <- pk:
		return true
	case <-t.closed:
		return false
	}
}

// readLoop hands every batch of packets read by read (one of the two
// sockets) to Receive until the transport is closed.
func (t *rawTransport) readLoop(read func() ([]Packet, error)) {
	defer t.wg.Done()
	for {
		pkts, err := read()
		if err != nil {
			if !t.deliver(rawPacket{err: err}) || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if len(pkts) > 0 && !t.deliver(rawPacket{pkts: pkts}) {
			return
		}
	}
}

// batchReader reads with recvmmsg into one set of buffers and copies what
// arrived into one allocation per batch.
type batchReader struct {
	ms []ipv4.Message
}

func newBatchReader(oobLen int) *batchReader {
	r := &batchReader{ms: make([]ipv4.Message, readBatch)}
	for i := range r.ms {
		r.ms[i] = ipv4.Message{Buffers: [][]byte{make([]byte, readSize)}, OOB: make([]byte, oobLen)}
	}
	return r
}

// read reads one batch with recv (the family's ReadBatch) and turns each
// message into a Packet with parse.
func (r *batchReader) read(recv func([]ipv4.Message, int) (int, error), parse func(m *ipv4.Message, b []byte) (Packet, bool)) ([]Packet, error) {
	for i := range r.ms {
		r.ms[i].N, r.ms[i].NN, r.ms[i].Flags, r.ms[i].Addr = 0, 0, 0, nil
	}
	k, err := recv(r.ms, 0)
	if err != nil {
		return nil, err
	}
	size := 0
	for _, m := range r.ms[:k] {
		size += m.N
	}
	arena := make([]byte, 0, size)
	pkts := make([]Packet, 0, k)
	for i := range r.ms[:k] {
		m := &r.ms[i]
		start := len(arena)
		arena = append(arena, m.Buffers[0][:m.N]...)
		if p, ok := parse(m, arena[start:len(arena):len(arena)]); ok {
			pkts = append(pkts, p)
		}
	}
	return pkts, nil
}

// read4 reads IPv4 packets: recvmmsg on a raw socket returns the IP
// header, which is skipped here (ReadFrom would have stripped it).
func (t *rawTransport) read4(r *batchReader) func() ([]Packet, error) {
	return func() ([]Packet, error) {
		return r.read(t.p4.ReadBatch, func(m *ipv4.Message, b []byte) (Packet, bool) {
			hl := 0
			if len(b) > 0 {
				hl = int(b[0]&0x0f) << 2
			}
			if hl < ipv4.HeaderLen || hl > len(b) {
				return Packet{}, false // the kernel hands no such packet up
			}
			meta := RecvMeta{TTL: -1}
			var cm ipv4.ControlMessage
			if cm.Parse(m.OOB[:m.NN]) == nil {
				meta.TTL = cm.TTL
				meta.IfIndex = cm.IfIndex
				meta.Dst, _ = netip.AddrFromSlice(cm.Dst)
				meta.Dst = meta.Dst.Unmap()
			}
			if a, ok := m.Addr.(*net.IPAddr); ok {
				meta.Src, _ = netip.AddrFromSlice(a.IP)
				meta.Src = meta.Src.Unmap()
			}
			return Packet{B: b[hl:], Meta: meta}, true
		})
	}
}

func (t *rawTransport) read6(r *batchReader) func() ([]Packet, error) {
	return func() ([]Packet, error) {
		return r.read(t.p6.ReadBatch, func(m *ipv4.Message, b []byte) (Packet, bool) {
			// TTL carries the hop limit: the receiver's check is the same.
			meta := RecvMeta{TTL: -1}
			var cm ipv6.ControlMessage
			if cm.Parse(m.OOB[:m.NN]) == nil {
				meta.TTL = cm.HopLimit
				meta.IfIndex = cm.IfIndex
				meta.Dst, _ = netip.AddrFromSlice(cm.Dst)
			}
			if a, ok := m.Addr.(*net.IPAddr); ok {
				// The zone (the interface of a link-local source) is in IfIndex.
				meta.Src, _ = netip.AddrFromSlice(a.IP)
			}
			return Packet{B: b, Meta: meta}, true
		})
	}
}

// recvBuffer is the VRRP socket's receive buffer. The default (208 KiB,
// about 270 packets) overflows within 10 ms of a flood: the kernel then
// drops packets unseen, the peer's adverts among them. 4 MiB holds about
// 5,000; measured with TestE2EFloodHostileAdverts (docs/reliability.md).
const recvBuffer = 4 << 20

// setRecvBuffer sets the receive buffer past net.core.rmem_max when the
// process may (CAP_NET_ADMIN), else as far as rmem_max allows.
func setRecvBuffer(c net.PacketConn) error {
	sc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		return fmt.Errorf("receive buffer: %w", err)
	}
	var serr error
	if err := sc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, recvBuffer)
	}); err != nil {
		return fmt.Errorf("receive buffer: %w", err)
	}
	if serr == nil {
		return nil
	}
	if err := c.(*net.IPConn).SetReadBuffer(recvBuffer); err != nil {
		return fmt.Errorf("receive buffer: %w", err)
	}
	return nil
}

func (t *rawTransport) Join(ifindex int, group netip.Addr) error {
	// Only the index is used on Linux; building the struct avoids a lookup
	// that would resolve in the calling thread's namespace.
	ifi, g := &net.Interface{Index: ifindex}, &net.IPAddr{IP: group.AsSlice()}
	var err error
	if group.Is4() {
		err = t.p4.JoinGroup(ifi, g)
	} else {
		if t.p6 == nil {
			return t.err6
		}
		err = t.p6.JoinGroup(ifi, g)
	}
	if err != nil && !errors.Is(err, unix.EADDRINUSE) {
		return fmt.Errorf("join %s on ifindex %d: %w", group, ifindex, err)
	}
	return nil
}

func (t *rawTransport) Send(ifindex int, src, dst netip.Addr, ttl uint8, payload []byte) error {
	if dst.Is4() {
		cm := &ipv4.ControlMessage{IfIndex: ifindex}
		if src.IsValid() {
			cm.Src = src.AsSlice()
		}
		if ttl != 255 {
			return t.send4TTL(cm, dst, ttl, payload)
		}
		_, err := t.p4.WriteTo(payload, cm, &net.IPAddr{IP: dst.AsSlice()})
		return err
	}
	if t.p6 == nil {
		return t.err6
	}
	// IPV6_PKTINFO: the interface (which scopes link-local destinations
	// and the multicast group) and the source address.
	cm := &ipv6.ControlMessage{IfIndex: ifindex, HopLimit: int(ttl)}
	if src.IsValid() {
		cm.Src = src.AsSlice()
	}
	_, err := t.p6.WriteTo(payload, cm, &net.IPAddr{IP: dst.AsSlice()})
	return err
}

// send4TTL sends with an IP_TTL control message beside IP_PKTINFO (Linux
// 4.7 and later read it on a raw socket): x/net's ipv4 marshals the
// packet info only, and the socket's own TTL is 255 for every other
// advert.
func (t *rawTransport) send4TTL(cm *ipv4.ControlMessage, dst netip.Addr, ttl uint8, payload []byte) error {
	c, ok := t.c4.(*net.IPConn)
	if !ok {
		return fmt.Errorf("unicast_ttl: the IPv4 socket is a %T", t.c4)
	}
	oob := cm.Marshal()
	ttlMsg := make([]byte, unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&ttlMsg[0]))
	h.Level, h.Type = unix.IPPROTO_IP, unix.IP_TTL
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(ttlMsg[unix.CmsgLen(0):], uint32(ttl))
	_, _, err := c.WriteMsgIP(payload, append(oob, ttlMsg...), &net.IPAddr{IP: dst.AsSlice()})
	return err
}

func (t *rawTransport) Receive() ([]Packet, error) {
	select {
	case pk := <-t.rx:
		return pk.pkts, pk.err
	case <-t.closed:
		return nil, net.ErrClosed
	}
}

func (t *rawTransport) Close() error {
	var err error
	t.closeOnce.Do(func() {
		close(t.closed)
		err = t.c4.Close()
		if t.c6 != nil {
			if e := t.c6.Close(); err == nil {
				err = e
			}
		}
		t.wg.Wait()
	})
	return err
}

// netlinkSystem implements AddrManager and Links with one netlink handle
// bound to the node's namespace.
type netlinkSystem struct {
	h   *netlink.Handle
	ns  *nsHandle
	log *slog.Logger
}

func (s *netlinkSystem) addr(v VIP) (*netlink.Addr, error) {
	scope, err := scopeValue(v.Scope)
	if err != nil {
		return nil, err
	}
	a := &netlink.Addr{
		IPNet: &net.IPNet{IP: v.Prefix.Addr().AsSlice(), Mask: net.CIDRMask(v.Prefix.Bits(), v.Prefix.Addr().BitLen())},
		Scope: scope,
	}
	if v.Prefix.Addr().Is6() {
		// No duplicate address detection: the address moves between
		// routers that both know it, and a tentative address could not
		// be used (or announced) for the second DAD takes (keepalived
		// adds IPv6 VIPs with IFA_F_NODAD too, vrrp_ipaddress.c).
		// Labels and broadcast addresses are IPv4 notions.
		a.Flags = unix.IFA_F_NODAD
		return a, nil
	}
	a.Label = v.Label
	if v.Broadcast.IsValid() {
		a.Broadcast = v.Broadcast.AsSlice()
	}
	return a, nil
}

func (s *netlinkSystem) AddAddr(ifindex int, v VIP) error {
	link, err := s.h.LinkByIndex(ifindex)
	if err != nil {
		return fmt.Errorf("link %d: %w", ifindex, err)
	}
	a, err := s.addr(v)
	if err != nil {
		return err
	}
	if err := s.h.AddrReplace(link, a); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add %s to %s: %w", v.Prefix, link.Attrs().Name, err)
	}
	return nil
}

func (s *netlinkSystem) DelAddr(ifindex int, v VIP) error {
	link, err := s.h.LinkByIndex(ifindex)
	if err != nil {
		return fmt.Errorf("link %d: %w", ifindex, err)
	}
	a, err := s.addr(v)
	if err != nil {
		return err
	}
	if err := s.h.AddrDel(link, a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("remove %s from %s: %w", v.Prefix, link.Attrs().Name, err)
	}
	return nil
}

func (s *netlinkSystem) Addrs(ifindex int) ([]netip.Prefix, error) {
	link, err := s.h.LinkByIndex(ifindex)
	if err != nil {
		return nil, fmt.Errorf("link %d: %w", ifindex, err)
	}
	list, err := s.h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", link.Attrs().Name, err)
	}
	out := make([]netip.Prefix, 0, len(list))
	for _, a := range list {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok || a.IPNet == nil {
			continue
		}
		bits, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip.Unmap(), bits))
	}
	return out, nil
}

func linkUp(a *netlink.LinkAttrs) bool {
	return a.Flags&net.FlagUp != 0 && (a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown)
}

func (s *netlinkSystem) Lookup(name string) (LinkInfo, error) {
	link, err := s.h.LinkByName(name)
	if err != nil {
		return LinkInfo{}, fmt.Errorf("interface %s: %w", name, err)
	}
	attrs := link.Attrs()
	info := LinkInfo{Name: attrs.Name, Index: attrs.Index, Up: linkUp(attrs)}
	addrs, err := s.h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return LinkInfo{}, fmt.Errorf("addresses of %s: %w", name, err)
	}
	var secondary []netip.Prefix
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && a.IP.To4() == nil {
			// A tentative address (duplicate address detection still
			// running) cannot be a source yet.
			if ip.IsLinkLocalUnicast() && a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0 {
				info.LinkLocal6 = append(info.LinkLocal6, ip)
			}
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		p := netip.PrefixFrom(ip, ones)
		if a.Flags&unix.IFA_F_SECONDARY != 0 {
			secondary = append(secondary, p)
		} else {
			info.Addrs = append(info.Addrs, p)
		}
	}
	info.Addrs = append(info.Addrs, secondary...)
	return info, nil
}

// Subscribe follows link changes. The channel closes when ctx ends or when
// netlink ends the subscription on a receive error (e.g. ENOBUFS after a
// burst of events); the caller is expected to subscribe again.
func (s *netlinkSystem) Subscribe(ctx context.Context) (<-chan LinkUpdate, error) {
	raw := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	opts := netlink.LinkSubscribeOptions{ErrorCallback: func(err error) {
		if ctx.Err() != nil {
			// Closing the socket at shutdown ends the receive with an error.
			return
		}
		s.log.Warn("link monitor", "err", err)
	}}
	if s.ns != nil {
		ns := s.ns.ns
		opts.Namespace = &ns
	}
	if err := netlink.LinkSubscribeWithOptions(raw, done, opts); err != nil {
		return nil, fmt.Errorf("subscribe to link changes: %w", err)
	}
	out := make(chan LinkUpdate, 64)
	go func() {
		defer close(out)
		// Closing done closes the netlink socket, which ends the library's
		// receive goroutine; it may be blocked sending to raw meanwhile, so
		// raw is drained until that goroutine closes it.
		defer func() {
			close(done)
			for range raw {
			}
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case u, ok := <-raw:
				if !ok {
					return
				}
				a := u.Attrs()
				select {
				case out <- LinkUpdate{Name: a.Name, Index: a.Index, Up: linkUp(a) && u.Header.Type != unix.RTM_DELLINK}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// arpAnnouncer sends gratuitous ARPs with mdlayher/arp, one client per
// interface, dialled inside the node's namespace on first use (Dial fails
// until the interface has an IPv4 address, so failures are retried).
type arpAnnouncer struct {
	h  *netlink.Handle
	ns *nsHandle

	mu      sync.Mutex
	clients map[int]*arpClient
}

type arpClient struct {
	c  *arp.Client
	hw net.HardwareAddr
}

func (a *arpAnnouncer) client(ifindex int) (*arpClient, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.clients[ifindex]; ok {
		return c, nil
	}
	link, err := a.h.LinkByIndex(ifindex)
	if err != nil {
		return nil, fmt.Errorf("link %d: %w", ifindex, err)
	}
	attrs := link.Attrs()
	ifi := &net.Interface{Index: attrs.Index, Name: attrs.Name, HardwareAddr: attrs.HardwareAddr, MTU: attrs.MTU, Flags: attrs.Flags}
	var c *arp.Client
	dial := func() error {
		var err error
		c, err = arp.Dial(ifi)
		return err
	}
	if a.ns != nil {
		err = a.ns.do(dial)
	} else {
		err = dial()
	}
	if err != nil {
		return nil, fmt.Errorf("ARP socket on %s: %w", attrs.Name, err)
	}
	ac := &arpClient{c: c, hw: attrs.HardwareAddr}
	a.clients[ifindex] = ac
	return ac, nil
}

func (a *arpAnnouncer) Announce(ifindex int, ip netip.Addr) error {
	c, err := a.client(ifindex)
	if err != nil {
		return err
	}
	for _, op := range []arp.Operation{arp.OperationRequest, arp.OperationReply} {
		p, err := arp.NewPacket(op, c.hw, ip, ethernet.Broadcast, ip)
		if err != nil {
			return fmt.Errorf("gratuitous ARP for %s: %w", ip, err)
		}
		if err := c.c.WriteTo(p, ethernet.Broadcast); err != nil {
			return fmt.Errorf("gratuitous ARP for %s: %w", ip, err)
		}
	}
	return nil
}

func (a *arpAnnouncer) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, c := range a.clients {
		_ = c.c.Close()
		delete(a.clients, i)
	}
}

// ndpAnnouncer sends unsolicited neighbour advertisements (RFC 4861 7.2.6)
// for IPv6 virtual addresses, as keepalived 2.2.7 does (vrrp_ndisc.c): to
// all-nodes ff02::1, hop limit 255, from the address itself, with the
// override flag and the interface's MAC as target link-layer address, and
// the router flag when the interface forwards IPv6. The message is built
// by mdlayher/ndp; one ICMPv6 socket, opened in the node's namespace on
// first use, sends for every interface (IPV6_PKTINFO picks it).
type ndpAnnouncer struct {
	h  *netlink.Handle
	ns *nsHandle

	mu sync.Mutex
	pc *ipv6.PacketConn
	c  net.PacketConn
	// router caches each interface's IPv6 forwarding sysctl, read once
	// (keepalived rereads it at most every 5 s).
	router map[int]bool
}

func (a *ndpAnnouncer) conn() (*ipv6.PacketConn, error) {
	if a.pc != nil {
		return a.pc, nil
	}
	open := func() error {
		c, err := net.ListenPacket("ip6:ipv6-icmp", "::")
		if err != nil {
			return err
		}
		pc := ipv6.NewPacketConn(c)
		if err := pc.SetMulticastHopLimit(ndp.HopLimit); err != nil {
			_ = c.Close()
			return err
		}
		a.c, a.pc = c, pc
		return nil
	}
	do := open
	if a.ns != nil {
		do = func() error { return a.ns.do(open) }
	}
	if err := do(); err != nil {
		return nil, fmt.Errorf("ICMPv6 socket: %w", err)
	}
	return a.pc, nil
}

// forwarding reads net.ipv6.conf.IF.forwarding inside the namespace.
func (a *ndpAnnouncer) forwarding(ifindex int, name string) bool {
	if r, ok := a.router[ifindex]; ok {
		return r
	}
	var b []byte
	read := func() error {
		var err error
		b, err = os.ReadFile("/proc/sys/net/ipv6/conf/" + name + "/forwarding")
		return err
	}
	if a.ns != nil {
		_ = a.ns.do(read)
	} else {
		_ = read()
	}
	r := strings.TrimSpace(string(b)) == "1"
	a.router[ifindex] = r
	return r
}

func (a *ndpAnnouncer) Announce(ifindex int, ip netip.Addr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	link, err := a.h.LinkByIndex(ifindex)
	if err != nil {
		return fmt.Errorf("link %d: %w", ifindex, err)
	}
	attrs := link.Attrs()
	pc, err := a.conn()
	if err != nil {
		return err
	}
	m := &ndp.NeighborAdvertisement{
		Router:        a.forwarding(ifindex, attrs.Name),
		Override:      true,
		TargetAddress: ip,
	}
	if len(attrs.HardwareAddr) > 0 {
		m.Options = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: attrs.HardwareAddr}}
	}
	b, err := ndp.MarshalMessage(m)
	if err != nil {
		return fmt.Errorf("neighbour advertisement for %s: %w", ip, err)
	}
	// The kernel fills in the ICMPv6 checksum of raw ICMPv6 sockets.
	cm := &ipv6.ControlMessage{HopLimit: ndp.HopLimit, Src: ip.AsSlice(), IfIndex: ifindex}
	if _, err := pc.WriteTo(b, cm, &net.IPAddr{IP: netip.IPv6LinkLocalAllNodes().AsSlice()}); err != nil {
		return fmt.Errorf("neighbour advertisement for %s on %s: %w", ip, attrs.Name, err)
	}
	return nil
}

func (a *ndpAnnouncer) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.c != nil {
		_ = a.c.Close()
		a.c, a.pc = nil, nil
	}
}

// familyAnnouncer sends gratuitous ARP for IPv4 and unsolicited neighbour
// advertisements for IPv6 addresses.
type familyAnnouncer struct {
	v4, v6 Announcer
}

func (f familyAnnouncer) Announce(ifindex int, ip netip.Addr) error {
	if ip.Is6() {
		return f.v6.Announce(ifindex, ip)
	}
	return f.v4.Announce(ifindex, ip)
}
