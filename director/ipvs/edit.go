package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/director"
)

// The edit path (add/change/delete of services and destinations) speaks
// generic netlink itself instead of going through moby/ipvs: a cold start
// is 11,000 edits for 1,000 services × 10 real servers, and moby/ipvs
// costs per edit a 64 KiB receive buffer (allocated and zeroed on the
// heap), a getsockname, two socket deadlines and a freshly built attribute
// tree. Here an edit encodes into one reused buffer and costs one write and
// one read. The attributes sent are exactly the ones moby/ipvs sends, so
// the kernel sees the same requests. Dumps still go through moby/ipvs.

// Kernel ABI of IPVS over generic netlink (include/uapi/linux/ip_vs.h).
const (
	genlVersion = 1

	cmdNewService = 1
	cmdSetService = 2
	cmdDelService = 3
	cmdNewDest    = 5
	cmdSetDest    = 6
	cmdDelDest    = 7

	cmdAttrService = 1
	cmdAttrDest    = 2

	svcAttrAF        = 1
	svcAttrProtocol  = 2
	svcAttrAddr      = 3
	svcAttrPort      = 4
	svcAttrFWMark    = 5
	svcAttrSchedName = 6
	svcAttrFlags     = 7
	svcAttrTimeout   = 8
	svcAttrNetmask   = 9

	destAttrAddr      = 1
	destAttrPort      = 2
	destAttrFwdMethod = 3
	destAttrWeight    = 4
	destAttrUThresh   = 5
	destAttrLThresh   = 6

	fwdMethodMask = 0x7

	nlmsgHdrLen  = 16
	genlHdrLen   = 4
	nlaHdrLen    = 4
	nlmsgErrLen  = 4 + nlmsgHdrLen
	recvBufSize  = 8192
	replyTimeout = 30 * time.Second
)

// errReplyTimeout is returned when the kernel did not answer an edit.
var errReplyTimeout = errors.New("no reply from the kernel")

// editor sends IPVS edits over its own generic-netlink socket. It is not
// safe for concurrent use (the Client serializes).
type editor struct {
	fd     int
	family uint16
	seq    uint32
	buf    []byte // the request being built
	rbuf   []byte // replies
}

// newEditor opens a generic-netlink socket in the namespace at nsPath (""
// for the caller's) for the IPVS family id.
func newEditor(nsPath string, family uint16) (*editor, error) {
	fd, err := socketAt(nsPath)
	if err != nil {
		return nil, err
	}
	// A reply that never comes (it cannot, but a kernel bug must not hang
	// the director forever) ends the read with EAGAIN.
	tv := unix.NsecToTimeval(replyTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set netlink receive timeout: %w", err)
	}
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind netlink socket: %w", err)
	}
	return &editor{fd: fd, family: family, buf: make([]byte, 0, 512), rbuf: make([]byte, recvBufSize)}, nil
}

// socketAt opens a blocking generic-netlink socket in a network namespace.
// A socket stays in the namespace it was created in, so only its creation
// needs a thread in that namespace.
func socketAt(nsPath string) (int, error) {
	open := func() (int, error) {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
		if err != nil {
			return -1, fmt.Errorf("open generic netlink socket: %w", err)
		}
		return fd, nil
	}
	if nsPath == "" {
		return open()
	}
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	// A dedicated, locked thread: if it cannot return to its namespace it
	// is never unlocked, so the runtime discards it with the goroutine.
	go func() {
		runtime.LockOSThread()
		ns, err := netns.GetFromPath(nsPath)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, fmt.Errorf("open network namespace %s: %w", nsPath, err)}
			return
		}
		defer ns.Close()
		cur, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, fmt.Errorf("current network namespace: %w", err)}
			return
		}
		defer cur.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, fmt.Errorf("enter network namespace %s: %w", nsPath, err)}
			return
		}
		fd, err := open()
		if rerr := netns.Set(cur); rerr == nil {
			runtime.UnlockOSThread()
		} else if err == nil {
			unix.Close(fd)
			fd, err = -1, fmt.Errorf("return from network namespace %s: %w", nsPath, rerr)
		}
		ch <- result{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

func (e *editor) close() error { return unix.Close(e.fd) }

// do sends one edit and waits for the kernel's acknowledgement.
func (e *editor) do(cmd uint8, svc director.Service, dst *director.Destination) error {
	e.seq++
	b := e.buf[:0]
	b = binary.NativeEndian.AppendUint32(b, 0) // length, set below
	b = binary.NativeEndian.AppendUint16(b, e.family)
	b = binary.NativeEndian.AppendUint16(b, unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	b = binary.NativeEndian.AppendUint32(b, e.seq)
	b = binary.NativeEndian.AppendUint32(b, 0) // port id: the kernel fills it
	b = append(b, cmd, genlVersion, 0, 0)
	b = appendService(b, svc)
	if dst != nil {
		b = appendDest(b, dst)
	}
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	e.buf = b
	if _, err := unix.Write(e.fd, b); err != nil {
		return fmt.Errorf("send netlink request: %w", err)
	}
	return e.ack(e.seq)
}

// ack reads replies until the acknowledgement of seq; replies to earlier
// requests (none are expected) are skipped.
func (e *editor) ack(seq uint32) error {
	for {
		n, from, err := unix.Recvfrom(e.fd, e.rbuf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) {
				return errReplyTimeout
			}
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("receive netlink reply: %w", err)
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // not from the kernel
		}
		msg := e.rbuf[:n]
		for len(msg) >= nlmsgHdrLen {
			l := int(binary.NativeEndian.Uint32(msg[0:4]))
			if l < nlmsgHdrLen || l > len(msg) {
				return fmt.Errorf("malformed netlink reply (length %d of %d)", l, len(msg))
			}
			typ := binary.NativeEndian.Uint16(msg[4:6])
			mseq := binary.NativeEndian.Uint32(msg[8:12])
			body := msg[nlmsgHdrLen:l]
			msg = msg[nlmAlign(l):]
			if mseq != seq {
				continue
			}
			switch typ {
			case unix.NLMSG_ERROR:
				if len(body) < nlmsgErrLen {
					return errors.New("short netlink error message")
				}
				if code := int32(binary.NativeEndian.Uint32(body[0:4])); code != 0 {
					return unix.Errno(-code)
				}
				return nil
			case unix.NLMSG_DONE:
				return nil
			}
		}
	}
}

func nlmAlign(n int) int { return (n + 3) &^ 3 }

// appendAttr appends one attribute with its padding.
func appendAttr(b []byte, typ uint16, val []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(nlaHdrLen+len(val)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func appendU16(b []byte, typ uint16, v uint16) []byte {
	var x [2]byte
	binary.NativeEndian.PutUint16(x[:], v)
	return appendAttr(b, typ, x[:])
}

func appendU32(b []byte, typ uint16, v uint32) []byte {
	var x [4]byte
	binary.NativeEndian.PutUint32(x[:], v)
	return appendAttr(b, typ, x[:])
}

// appendPort appends a port in network byte order, as the kernel wants it.
func appendPort(b []byte, typ uint16, port uint16) []byte {
	var x [2]byte
	binary.BigEndian.PutUint16(x[:], port)
	return appendAttr(b, typ, x[:])
}

// appendAddr appends an address: 4 bytes for IPv4, 16 for IPv6.
func appendAddr(b []byte, typ uint16, a netip.Addr) []byte {
	if a.Is4() || a.Is4In6() {
		x := a.Unmap().As4()
		return appendAttr(b, typ, x[:])
	}
	x := a.As16()
	return appendAttr(b, typ, x[:])
}

// nest opens a nested attribute and returns where its length goes.
func nest(b []byte, typ uint16) ([]byte, int) {
	at := len(b)
	b = binary.NativeEndian.AppendUint16(b, 0)
	b = binary.NativeEndian.AppendUint16(b, typ)
	return b, at
}

func endNest(b []byte, at int) []byte {
	binary.NativeEndian.PutUint16(b[at:at+2], uint16(len(b)-at))
	return b
}

// appendService encodes a service as moby/ipvs does: the key, then the
// scheduler, flags (with a full mask), timeout and netmask, which the
// kernel requires for new and changed services and ignores otherwise.
func appendService(b []byte, s director.Service) []byte {
	b, at := nest(b, cmdAttrService)
	k := s.Key
	b = appendU16(b, svcAttrAF, uint16(k.Family))
	if k.FWMark != 0 {
		b = appendU32(b, svcAttrFWMark, k.FWMark)
	} else {
		b = appendU16(b, svcAttrProtocol, uint16(k.Protocol))
		b = appendAddr(b, svcAttrAddr, k.Addr)
		b = appendPort(b, svcAttrPort, k.Port)
	}
	var name [32]byte
	n := copy(name[:len(name)-1], s.Scheduler)
	b = appendAttr(b, svcAttrSchedName, name[:n+1])
	var flags [8]byte
	binary.NativeEndian.PutUint32(flags[0:4], s.Flags&^director.FlagHashed)
	binary.NativeEndian.PutUint32(flags[4:8], 0xffffffff)
	b = appendAttr(b, svcAttrFlags, flags[:])
	b = appendU32(b, svcAttrTimeout, s.Timeout)
	b = appendU32(b, svcAttrNetmask, s.Netmask)
	return endNest(b, at)
}

func appendDest(b []byte, d *director.Destination) []byte {
	b, at := nest(b, cmdAttrDest)
	b = appendAddr(b, destAttrAddr, d.Addr)
	b = appendPort(b, destAttrPort, d.Port)
	b = appendU32(b, destAttrFwdMethod, uint32(d.Forward)&fwdMethodMask)
	b = appendU32(b, destAttrWeight, uint32(d.Weight))
	b = appendU32(b, destAttrUThresh, d.UpperThreshold)
	b = appendU32(b, destAttrLThresh, d.LowerThreshold)
	return endNest(b, at)
}

// keyOnly is the service sent with edits that only name it: scheduler and
// netmask valid (the kernel parses them), as moby/ipvs sends them.
func keyOnly(k director.ServiceKey) director.Service {
	return director.Service{Key: k, Scheduler: "rr", Netmask: director.DefaultNetmask(k.Family)}
}
