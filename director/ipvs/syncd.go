package ipvs

// The kernel's IPVS connection-synchronisation daemons over generic
// netlink. moby/ipvs has the command numbers but no calls for them, so the
// requests are built here (a pure function, golden-tested against the
// layout net/netfilter/ipvs/ip_vs_ctl.c parses: ip_vs_genl_set_daemon,
// ip_vs_genl_new_daemon, ip_vs_genl_del_daemon, ip_vs_genl_dump_daemons)
// and sent with vishvananda/netlink's nl package, the library moby/ipvs
// itself is built on.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/syncd"
)

// From include/uapi/linux/ip_vs.h.
const (
	genlVersion = 0x1 // IPVS_GENL_VERSION

	cmdNewDaemon = 9  // IPVS_CMD_NEW_DAEMON
	cmdDelDaemon = 10 // IPVS_CMD_DEL_DAEMON
	cmdGetDaemon = 11 // IPVS_CMD_GET_DAEMON

	cmdAttrDaemon = 3 // IPVS_CMD_ATTR_DAEMON (nested)

	daemonAttrState      = 1 // u32: IP_VS_STATE_MASTER / IP_VS_STATE_BACKUP
	daemonAttrMcastIfn   = 2 // NUL-terminated string, at most IP_VS_IFNAME_MAXLEN-1 bytes
	daemonAttrSyncID     = 3 // u32
	daemonAttrSyncMaxlen = 4 // u16
	daemonAttrMcastGroup = 5 // in_addr (network order)
	daemonAttrMcastGrp6  = 6 // in6_addr
	daemonAttrMcastPort  = 7 // u16, host order (nla_get_u16, not be16)
	daemonAttrMcastTTL   = 8 // u8

	ifNameMax = 16 // IP_VS_IFNAME_MAXLEN, the NUL included

	nlaTypeMask = ^uint16(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
)

// daemonRequest is the generic-netlink payload (genlmsghdr + attributes)
// of IPVS_CMD_NEW_DAEMON (start) or IPVS_CMD_DEL_DAEMON (stop). The kernel
// requires STATE, MCAST_IFN and SYNC_ID to start and only STATE to stop;
// optional settings left zero are not sent, so the kernel applies its
// defaults exactly as for ipvsadm and keepalived (libipvs.c
// ipvs_start_daemon). Pure: the golden-byte tests pin it.
func daemonRequest(start bool, d syncd.Daemon) ([]byte, error) {
	if d.Role != syncd.Master && d.Role != syncd.Backup {
		return nil, fmt.Errorf("sync daemon role %d is neither master nor backup", uint32(d.Role))
	}
	cmd := uint8(cmdDelDaemon)
	attr := nl.NewRtAttr(cmdAttrDaemon, nil)
	attr.AddRtAttr(daemonAttrState, nl.Uint32Attr(uint32(d.Role)))
	if start {
		cmd = cmdNewDaemon
		if d.Interface == "" || len(d.Interface) >= ifNameMax || strings.ContainsRune(d.Interface, 0) {
			return nil, fmt.Errorf("sync daemon interface %q: must be 1 to %d bytes", d.Interface, ifNameMax-1)
		}
		attr.AddRtAttr(daemonAttrMcastIfn, nl.ZeroTerminated(d.Interface))
		attr.AddRtAttr(daemonAttrSyncID, nl.Uint32Attr(uint32(d.SyncID)))
		if d.MaxLen != 0 {
			attr.AddRtAttr(daemonAttrSyncMaxlen, nl.Uint16Attr(d.MaxLen))
		}
		if g := d.Group; g.IsValid() {
			switch {
			case g.Is4() && g.IsMulticast():
				b := g.As4()
				attr.AddRtAttr(daemonAttrMcastGroup, b[:])
			case g.Is6() && !g.Is4In6() && g.IsMulticast():
				b := g.As16()
				attr.AddRtAttr(daemonAttrMcastGrp6, b[:])
			default:
				// The kernel answers EINVAL without saying why.
				return nil, fmt.Errorf("sync daemon group %s is not a multicast address", g)
			}
		}
		if d.Port != 0 {
			attr.AddRtAttr(daemonAttrMcastPort, nl.Uint16Attr(d.Port))
		}
		if d.TTL != 0 {
			attr.AddRtAttr(daemonAttrMcastTTL, nl.Uint8Attr(d.TTL))
		}
	}
	return append(genlHeader(cmd), attr.Serialize()...), nil
}

// dumpDaemonsRequest is the payload of the IPVS_CMD_GET_DAEMON dump.
func dumpDaemonsRequest() []byte { return genlHeader(cmdGetDaemon) }

// genlHeader is struct genlmsghdr: command, version, two reserved bytes.
// (nl.Genlmsg.Serialize would copy 4 bytes out of its 2-byte struct.)
func genlHeader(cmd uint8) []byte { return []byte{cmd, genlVersion, 0, 0} }

// parseDaemon reads one message of the IPVS_CMD_GET_DAEMON dump (the
// kernel answers with IPVS_CMD_NEW_DAEMON messages, one per running
// daemon, filled by ip_vs_genl_fill_daemon).
func parseDaemon(msg []byte) (syncd.Daemon, error) {
	var d syncd.Daemon
	if len(msg) < nl.SizeofGenlmsg {
		return d, fmt.Errorf("sync daemon reply of %d bytes: too short", len(msg))
	}
	top, err := nl.ParseRouteAttr(msg[nl.SizeofGenlmsg:])
	if err != nil {
		return d, fmt.Errorf("parse sync daemon reply: %w", err)
	}
	native := nl.NativeEndian()
	for _, a := range top {
		if a.Attr.Type&nlaTypeMask != cmdAttrDaemon {
			continue
		}
		attrs, err := nl.ParseRouteAttr(a.Value)
		if err != nil {
			return d, fmt.Errorf("parse sync daemon attributes: %w", err)
		}
		for _, b := range attrs {
			v := b.Value
			switch b.Attr.Type & nlaTypeMask {
			case daemonAttrState:
				if len(v) >= 4 {
					d.Role = syncd.Role(native.Uint32(v))
				}
			case daemonAttrMcastIfn:
				d.Interface = string(bytes.TrimRight(v, "\x00"))
			case daemonAttrSyncID:
				if len(v) >= 4 {
					d.SyncID = uint8(native.Uint32(v))
				}
			case daemonAttrSyncMaxlen:
				if len(v) >= 2 {
					d.MaxLen = native.Uint16(v)
				}
			case daemonAttrMcastPort:
				if len(v) >= 2 {
					d.Port = native.Uint16(v)
				}
			case daemonAttrMcastTTL:
				if len(v) >= 1 {
					d.TTL = v[0]
				}
			case daemonAttrMcastGroup, daemonAttrMcastGrp6:
				if a, ok := netip.AddrFromSlice(v); ok {
					d.Group = a
				}
			}
		}
		return d, nil
	}
	return d, errors.New("sync daemon reply without IPVS_CMD_ATTR_DAEMON")
}

// SyncClient drives the kernel's sync daemons of one network namespace. It
// implements syncd.Kernel.
type SyncClient struct {
	nsPath string
	// mu serializes requests: replies are matched by sequence number on
	// one socket, and the route handle is not safe for concurrent use.
	mu     sync.Mutex
	family uint16
	sock   *nl.SocketHandle
	route  *netlink.Handle
}

// netlinkTimeout bounds the wait for one reply, so that a lost reply
// cannot block forever. syncd.Runtime calls the kernel from its own
// goroutine, so VRRP never waits for this.
const netlinkTimeout = 5 * time.Second

// OpenSync checks for IPVS and opens the sockets the sync-daemon calls use
// in the namespace at nsPath ("" for the caller's own).
func OpenSync(nsPath string) (*SyncClient, error) {
	g, err := handleAt(nsPath)
	if err != nil {
		return nil, err
	}
	fam, err := g.GenlFamilyGet(FamilyName)
	g.Close()
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, ErrNoIPVS
		}
		return nil, fmt.Errorf("query generic netlink family %q: %w", FamilyName, err)
	}
	ns := netns.None()
	if nsPath != "" {
		if ns, err = netns.GetFromPath(nsPath); err != nil {
			return nil, fmt.Errorf("open network namespace %s: %w", nsPath, err)
		}
		defer ns.Close()
	}
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("open generic netlink socket: %w", err)
	}
	tv := unix.NsecToTimeval(netlinkTimeout.Nanoseconds())
	if err := errors.Join(s.SetSendTimeout(&tv), s.SetReceiveTimeout(&tv)); err != nil {
		s.Close()
		return nil, fmt.Errorf("set generic netlink socket timeouts: %w", err)
	}
	// NETLINK_ROUTE alone: a handle for every family fails on kernels
	// without nfnetlink/xfrm_user (notes/ipvs-sync.md).
	var route *netlink.Handle
	if nsPath == "" {
		route, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	} else {
		route, err = netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open route netlink socket: %w", err)
	}
	return &SyncClient{nsPath: nsPath, family: fam.ID, sock: &nl.SocketHandle{Socket: s}, route: route}, nil
}

// Close releases the sockets.
func (c *SyncClient) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sock != nil {
		c.sock.Close()
		c.route.Close()
		c.sock, c.route = nil, nil
	}
	return nil
}

func (c *SyncClient) execute(ctx context.Context, what string, flags int, payload []byte, each func([]byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sock == nil {
		return fmt.Errorf("%s: sync client closed", what)
	}
	req := nl.NewNetlinkRequest(int(c.family), flags)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_GENERIC: c.sock}
	req.AddRawData(payload)
	var perr error
	err := req.ExecuteIter(unix.NETLINK_GENERIC, 0, func(m []byte) bool {
		if each != nil && perr == nil {
			perr = each(m)
		}
		return true
	})
	if err = errors.Join(err, perr); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// StartDaemon implements syncd.Kernel.
func (c *SyncClient) StartDaemon(ctx context.Context, d syncd.Daemon) error {
	p, err := daemonRequest(true, d)
	if err != nil {
		return err
	}
	err = c.execute(ctx, fmt.Sprintf("start %s sync daemon on %s (sync ID %d)", d.Role, d.Interface, d.SyncID), unix.NLM_F_ACK, p, nil)
	return confirm(err, d.Role, true, func() ([]syncd.Daemon, error) { return c.Daemons(ctx) })
}

// StopDaemon implements syncd.Kernel.
func (c *SyncClient) StopDaemon(ctx context.Context, r syncd.Role) error {
	p, err := daemonRequest(false, syncd.Daemon{Role: r})
	if err != nil {
		return err
	}
	err = c.execute(ctx, "stop "+r.String()+" sync daemon", unix.NLM_F_ACK, p, nil)
	return confirm(err, r, false, func() ([]syncd.Daemon, error) { return c.Daemons(ctx) })
}

// confirm turns a timed-out start or stop into success when the kernel did
// it anyway. In the test VM the acknowledgement of a stopped master daemon
// sometimes came more than 5 s late (TCG; the daemon was gone at once and
// the next request was answered in a millisecond); a later reply on the
// socket is skipped by its sequence number.
func confirm(err error, r syncd.Role, running bool, dump func() ([]syncd.Daemon, error)) error {
	if !errors.Is(err, unix.EAGAIN) {
		return err
	}
	ds, derr := dump()
	if derr != nil {
		return err
	}
	found := false
	for _, d := range ds {
		found = found || d.Role == r
	}
	if found == running {
		return nil
	}
	return err
}

// Daemons implements syncd.Kernel.
func (c *SyncClient) Daemons(ctx context.Context) ([]syncd.Daemon, error) {
	var out []syncd.Daemon
	err := c.execute(ctx, "list sync daemons", unix.NLM_F_DUMP, dumpDaemonsRequest(), func(m []byte) error {
		d, err := parseDaemon(m)
		if err == nil {
			out = append(out, d)
		}
		return err
	})
	return out, err
}

// InterfaceMTU implements syncd.Kernel.
func (c *SyncClient) InterfaceMTU(ctx context.Context, name string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.route == nil {
		return 0, errors.New("sync client closed")
	}
	l, err := c.route.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return 0, fmt.Errorf("interface %s: %w", name, syncd.ErrNoInterface)
		}
		return 0, fmt.Errorf("interface %s: %w", name, err)
	}
	return l.Attrs().MTU, nil
}

// Connections implements syncd.Kernel by counting the lines of
// /proc/net/ip_vs_conn (and those in state ESTABLISHED): IPVS has no
// netlink call for its connection table.
// The cost grows with the table (about 150 bytes a connection), so callers
// count on demand (a status request, a metrics scrape), never in a loop.
// Persistence templates are entries too and are counted.
func (c *SyncClient) Connections(ctx context.Context) (syncd.ConnCount, error) {
	var n syncd.ConnCount
	err := c.inNamespace(ctx, func() error {
		f, err := os.Open("/proc/thread-self/net/ip_vs_conn")
		if err != nil {
			return fmt.Errorf("count IPVS connections: %w", err)
		}
		defer f.Close()
		n, err = countConns(f)
		return err
	})
	return n, err
}

// countConns reads /proc/net/ip_vs_conn: a header, then one line per
// entry, "Pro FromIP FPrt ToIP TPrt DestIP DPrt State Expires PEName
// PEData" (ip_vs_conn_seq_show).
func countConns(r io.Reader) (syncd.ConnCount, error) {
	var n syncd.ConnCount
	sc := bufio.NewScanner(r)
	header := true
	for sc.Scan() {
		if header {
			header = false
			continue
		}
		n.Total++
		// The state is the eighth field; fixed-width hex fields before it.
		if f := bytes.Fields(sc.Bytes()); len(f) >= 8 && string(f[7]) == "ESTABLISHED" {
			n.Established++
		}
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("count IPVS connections: %w", err)
	}
	return n, nil
}

func sysctlFile(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "/.") {
		return "", fmt.Errorf("IPVS sysctl %q: not a name under net.ipv4.vs", name)
	}
	return filepath.Join("/proc/sys/net/ipv4/vs", name), nil
}

// Sysctl implements syncd.Kernel: net.ipv4.vs.<name> of the namespace.
func (c *SyncClient) Sysctl(ctx context.Context, name string) (string, error) {
	file, err := sysctlFile(name)
	if err != nil {
		return "", err
	}
	var v string
	err = c.inNamespace(ctx, func() error {
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("read net.ipv4.vs.%s: %w", name, err)
		}
		v = strings.Join(strings.Fields(string(b)), " ")
		return nil
	})
	return v, err
}

// SetSysctl implements syncd.Kernel.
func (c *SyncClient) SetSysctl(ctx context.Context, name, value string) error {
	file, err := sysctlFile(name)
	if err != nil {
		return err
	}
	return c.inNamespace(ctx, func() error {
		if err := os.WriteFile(file, []byte(value), 0o644); err != nil {
			return fmt.Errorf("set net.ipv4.vs.%s to %q: %w", name, value, err)
		}
		return nil
	})
}

// inNamespace runs fn on a thread in the client's namespace: /proc/sys/net
// and /proc/thread-self/net resolve in the calling thread's namespace. The
// goroutine is locked to its thread while the thread is switched, and the
// thread is switched back before it is unlocked, so no other goroutine
// ever runs in the namespace and the thread lives on: a thread that ended
// would deliver the parent-death signal to any child another goroutine had
// forked from it. Only if switching back fails is the thread left locked,
// for the runtime to discard.
func (c *SyncClient) inNamespace(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.nsPath == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("get the current network namespace: %w", err)
			return
		}
		defer orig.Close()
		ns, err := netns.GetFromPath(c.nsPath)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open network namespace %s: %w", c.nsPath, err)
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s: %w", c.nsPath, err)
			return
		}
		ferr := fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

var _ syncd.Kernel = (*SyncClient)(nil)
