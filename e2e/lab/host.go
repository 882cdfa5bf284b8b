package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Host is one test machine: a network namespace with lo up.
type Host struct {
	lab    *Lab
	name   string
	nsName string
	ns     netns.NsHandle
	handle *netlink.Handle
	// spawn starts the host's processes (thread.go, spawner).
	spawn *spawner
}

// Name is the host's name in the lab ("rs1").
func (h *Host) Name() string { return h.name }

// NSName is the name of the host's namespace under /var/run/netns, for
// `ip netns exec NAME …` while debugging.
func (h *Host) NSName() string { return h.nsName }

// NS is the host's namespace handle. It stays owned by the lab.
func (h *Host) NS() netns.NsHandle { return h.ns }

// NSPath is a path that opens the host's namespace (what moby/ipvs's
// ipvs.New and netns.GetFromPath take).
func (h *Host) NSPath() string { return filepath.Join(netnsDir, h.nsName) }

// Handle is a netlink handle bound to the host's namespace.
func (h *Host) Handle() *netlink.Handle { return h.handle }

// Do runs fn on an OS thread inside the host's namespace. Sockets created in
// fn belong to the host and keep working after Do returns, from any
// goroutine; /proc/sys/net resolves to the host's sysctls inside fn.
func (h *Host) Do(fn func() error) error {
	return inNamespace(h.ns, fn)
}

func (h *Host) fatalf(format string, args ...any) {
	h.lab.t.Helper()
	h.lab.t.Fatalf("lab: host %s: "+format, append([]any{h.name}, args...)...)
}

func (h *Host) linkUp(name string) error {
	link, err := h.handle.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find link %s: %w", name, err)
	}
	if err := h.handle.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// SetLinkUp sets a link of the host up or down (a failing NIC, for
// track_interface and FAULT tests).
func (h *Host) SetLinkUp(ifname string, up bool) {
	h.lab.t.Helper()
	link, err := h.handle.LinkByName(ifname)
	if err != nil {
		h.fatalf("find link %s: %v", ifname, err)
	}
	set := h.handle.LinkSetDown
	if up {
		set = h.handle.LinkSetUp
	}
	if err := set(link); err != nil {
		h.fatalf("set link %s up=%v: %v", ifname, up, err)
	}
}

// AddAddr adds an address in CIDR form ("10.16.8.100/32") to a link of the
// host. IPv6 addresses skip duplicate address detection so they are usable
// at once.
func (h *Host) AddAddr(ifname, cidr string) {
	h.lab.t.Helper()
	if err := h.addAddr(ifname, cidr); err != nil {
		h.fatalf("%v", err)
	}
}

func (h *Host) addAddr(ifname, cidr string) error {
	link, err := h.handle.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("find link %s: %w", ifname, err)
	}
	addr, err := netlink.ParseAddr(cidr)
	if err != nil {
		return fmt.Errorf("parse address %q: %w", cidr, err)
	}
	if addr.IP.To4() == nil {
		addr.Flags |= unix.IFA_F_NODAD
	}
	if err := h.handle.AddrAdd(link, addr); err != nil {
		return fmt.Errorf("add %s to %s: %w", cidr, ifname, err)
	}
	return nil
}

// Addrs lists the addresses on a link of the host, in CIDR form.
func (h *Host) Addrs(ifname string) []string {
	h.lab.t.Helper()
	link, err := h.handle.LinkByName(ifname)
	if err != nil {
		h.fatalf("find link %s: %v", ifname, err)
	}
	addrs, err := h.handle.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		h.fatalf("list addresses of %s: %v", ifname, err)
	}
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.IPNet.String())
	}
	return out
}

// HWAddr is the MAC address of a link of the host.
func (h *Host) HWAddr(ifname string) net.HardwareAddr {
	h.lab.t.Helper()
	link, err := h.handle.LinkByName(ifname)
	if err != nil {
		h.fatalf("find link %s: %v", ifname, err)
	}
	return link.Attrs().HardwareAddr
}

// AddNeigh adds a permanent neighbour entry: packets from this host to ip go
// to mac, without ARP. This is how a test sends VIP traffic to one real
// server, as a director in DR mode would.
func (h *Host) AddNeigh(ifname, ip string, mac net.HardwareAddr) {
	h.lab.t.Helper()
	link, err := h.handle.LinkByName(ifname)
	if err != nil {
		h.fatalf("find link %s: %v", ifname, err)
	}
	family := netlink.FAMILY_V4
	parsed := net.ParseIP(ip)
	if parsed == nil {
		h.fatalf("neighbour address %q does not parse", ip)
	}
	if parsed.To4() == nil {
		family = netlink.FAMILY_V6
	}
	err = h.handle.NeighSet(&netlink.Neigh{
		LinkIndex:    link.Attrs().Index,
		Family:       family,
		State:        netlink.NUD_PERMANENT,
		IP:           parsed,
		HardwareAddr: mac,
	})
	if err != nil {
		h.fatalf("add neighbour %s -> %s on %s: %v", ip, mac, ifname, err)
	}
}

// AddRoute adds a route to dst (CIDR) through the link ifname, via gw when
// gw is not empty.
func (h *Host) AddRoute(dst, ifname, gw string) {
	h.lab.t.Helper()
	link, err := h.handle.LinkByName(ifname)
	if err != nil {
		h.fatalf("find link %s: %v", ifname, err)
	}
	_, ipnet, err := net.ParseCIDR(dst)
	if err != nil {
		h.fatalf("parse route %q: %v", dst, err)
	}
	route := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipnet}
	if gw != "" {
		route.Gw = net.ParseIP(gw)
	}
	if err := h.handle.RouteAdd(route); err != nil {
		h.fatalf("add route %s dev %s via %q: %v", dst, ifname, gw, err)
	}
}

// sysctlPath maps "net.ipv4.conf.all.arp_ignore" (or the slash form
// "net/ipv4/conf/eth0.100/arp_ignore", needed when an interface name has a
// dot) to its file under /proc/sys.
func sysctlPath(key string) string {
	if !strings.Contains(key, "/") {
		key = strings.ReplaceAll(key, ".", "/")
	}
	return filepath.Join("/proc/sys", key)
}

// Sysctl reads a sysctl of the host's namespace.
func (h *Host) Sysctl(key string) string {
	h.lab.t.Helper()
	var val []byte
	err := h.Do(func() error {
		var err error
		val, err = os.ReadFile(sysctlPath(key))
		return err
	})
	if err != nil {
		h.fatalf("read sysctl %s: %v", key, err)
	}
	return strings.TrimSpace(string(val))
}

// SetSysctl writes a sysctl of the host's namespace.
func (h *Host) SetSysctl(key, value string) {
	h.lab.t.Helper()
	err := h.Do(func() error {
		return os.WriteFile(sysctlPath(key), []byte(value), 0o644)
	})
	if err != nil {
		h.fatalf("write sysctl %s=%s: %v", key, value, err)
	}
}

// Listen opens a listener inside the host ("tcp", "10.16.8.8:80").
func (h *Host) Listen(network, addr string) (net.Listener, error) {
	var ln net.Listener
	err := h.Do(func() error {
		var err error
		ln, err = net.Listen(network, addr)
		return err
	})
	return ln, err
}

// ListenPacket opens a packet socket inside the host ("udp", "ip4:112", …).
func (h *Host) ListenPacket(network, addr string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := h.Do(func() error {
		var err error
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	return pc, err
}

// DialContext connects from inside the host. It has the signature of
// net.Dialer.DialContext, so it can be injected wherever a dialer is taken.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var conn net.Conn
	err := h.Do(func() error {
		var d net.Dialer
		var err error
		conn, err = d.DialContext(ctx, network, addr)
		return err
	})
	return conn, err
}

// HTTPClient returns a client whose connections start inside the host. It
// does not reuse connections, so every request is a new TCP connection and
// is scheduled anew by IPVS.
func (h *Host) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:       h.DialContext,
			DisableKeepAlives: true,
			Proxy:             nil,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Get fetches url from inside the host with a fresh connection and returns
// the body with surrounding white space trimmed.
func (h *Host) Get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("request %s: %w", url, err)
	}
	resp, err := h.HTTPClient(5 * time.Second).Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s from %s: %w", url, h.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read body of %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s from %s: status %s", url, h.name, resp.Status)
	}
	return strings.TrimSpace(string(body)), nil
}
