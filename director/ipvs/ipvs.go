// Package ipvs is the kernel side of the director: director.IPVS
// implemented with github.com/moby/ipvs over one generic-netlink handle,
// with every call serialized, after checking that the kernel has IPVS at
// all (moby/ipvs does not tell: without the "IPVS" generic-netlink family
// it silently sends requests nowhere, and its GetConfig panics).
package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	moby "github.com/moby/ipvs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/director"
)

// FamilyName is the generic-netlink family the ip_vs module registers.
const FamilyName = "IPVS"

// ErrNoIPVS means the kernel has no IPVS support loaded.
var ErrNoIPVS = errors.New("the kernel has no IPVS (generic netlink family \"IPVS\" not found): load it with `modprobe ip_vs` " +
	"(and the scheduler modules, e.g. ip_vs_rr), or use a kernel built with CONFIG_IP_VS")

// CheckFamily verifies that the "IPVS" generic-netlink family exists, as
// seen from the network namespace at nsPath ("" for the caller's).
func CheckFamily(nsPath string) error {
	h, err := handleAt(nsPath)
	if err != nil {
		return err
	}
	defer h.Close()
	if _, err := h.GenlFamilyGet(FamilyName); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return ErrNoIPVS
		}
		return fmt.Errorf("query generic netlink family %q: %w", FamilyName, err)
	}
	return nil
}

func handleAt(nsPath string) (*netlink.Handle, error) {
	if nsPath == "" {
		h, err := netlink.NewHandle(unix.NETLINK_GENERIC)
		if err != nil {
			return nil, fmt.Errorf("open generic netlink socket: %w", err)
		}
		return h, nil
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", nsPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("open generic netlink socket in %s: %w", nsPath, err)
	}
	return h, nil
}

// Client talks to the IPVS table of one network namespace.
type Client struct {
	// mu serializes calls: moby/ipvs handles are not safe for concurrent
	// use (replies are matched by sequence on one socket).
	mu sync.Mutex
	h  *moby.Handle
	// lastKey and lastSvc cache keyService's answer.
	lastKey director.ServiceKey
	lastSvc *moby.Service
}

// Open checks for IPVS and opens a handle in the namespace at nsPath (""
// for the caller's own).
func Open(nsPath string) (*Client, error) {
	if err := CheckFamily(nsPath); err != nil {
		return nil, err
	}
	h, err := moby.New(nsPath)
	if err != nil {
		return nil, fmt.Errorf("open IPVS netlink handle: %w", err)
	}
	return &Client{h: h}, nil
}

// Close releases the handle.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h != nil {
		c.h.Close()
		c.h = nil
	}
	return nil
}

// do runs fn on the handle under the lock. what names the call in an
// error; it is a function because building the label (addresses
// formatted into a string) costs more than lvsctl's whole share of a
// successful call, and a cold start makes 11,000 of them.
func (c *Client) do(ctx context.Context, fn func(h *moby.Handle) error, what func() string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return fmt.Errorf("%s: IPVS client closed", what())
	}
	if err := fn(c.h); err != nil {
		return fmt.Errorf("%s: %w", what(), err)
	}
	return nil
}

// GetServices implements director.IPVS.
func (c *Client) GetServices(ctx context.Context) ([]director.Service, error) {
	var out []director.Service
	err := c.do(ctx, func(h *moby.Handle) error {
		svcs, err := h.GetServices()
		if err != nil {
			return err
		}
		out = make([]director.Service, 0, len(svcs))
		for _, s := range svcs {
			out = append(out, fromService(s))
		}
		return nil
	}, func() string { return "list services" })
	return out, err
}

// GetDestinations implements director.IPVS.
func (c *Client) GetDestinations(ctx context.Context, svc director.ServiceKey) ([]director.Destination, error) {
	var out []director.Destination
	err := c.do(ctx, func(h *moby.Handle) error {
		dsts, err := h.GetDestinations(c.keyService(svc))
		if err != nil {
			return err
		}
		out = make([]director.Destination, 0, len(dsts))
		for _, d := range dsts {
			out = append(out, fromDest(d))
		}
		return nil
	}, func() string { return "list destinations of " + svc.String() })
	return out, err
}

// NewService implements director.IPVS.
func (c *Client) NewService(ctx context.Context, svc director.Service) error {
	return c.do(ctx, func(h *moby.Handle) error { return h.NewService(toService(svc)) },
		func() string { return "add service " + svc.Key.String() })
}

// UpdateService implements director.IPVS.
func (c *Client) UpdateService(ctx context.Context, svc director.Service) error {
	return c.do(ctx, func(h *moby.Handle) error { return h.UpdateService(toService(svc)) },
		func() string { return "edit service " + svc.Key.String() })
}

// DelService implements director.IPVS.
func (c *Client) DelService(ctx context.Context, svc director.ServiceKey) error {
	return c.do(ctx, func(h *moby.Handle) error { return h.DelService(c.keyService(svc)) },
		func() string { return "delete service " + svc.String() })
}

// NewDestination implements director.IPVS.
func (c *Client) NewDestination(ctx context.Context, svc director.ServiceKey, d director.Destination) error {
	return c.do(ctx, func(h *moby.Handle) error { return h.NewDestination(c.keyService(svc), toDest(d)) },
		func() string { return "add destination " + d.Key().String() + " to " + svc.String() })
}

// UpdateDestination implements director.IPVS.
func (c *Client) UpdateDestination(ctx context.Context, svc director.ServiceKey, d director.Destination) error {
	return c.do(ctx, func(h *moby.Handle) error { return h.UpdateDestination(c.keyService(svc), toDest(d)) },
		func() string { return "edit destination " + d.Key().String() + " of " + svc.String() })
}

// DelDestination implements director.IPVS.
func (c *Client) DelDestination(ctx context.Context, svc director.ServiceKey, d director.DestKey) error {
	return c.do(ctx, func(h *moby.Handle) error {
		return h.DelDestination(c.keyService(svc), toDest(director.Destination{Addr: d.Addr, Port: d.Port}))
	}, func() string { return "delete destination " + d.String() + " from " + svc.String() })
}

// keyService returns the lookup form of k (see lookupService), reusing
// the last one: edits come grouped by service (a cold start adds a
// service's destinations one after the other), and moby/ipvs only reads
// it. Called under c.mu.
func (c *Client) keyService(k director.ServiceKey) *moby.Service {
	if c.lastSvc == nil || c.lastKey != k {
		c.lastKey, c.lastSvc = k, lookupService(k)
	}
	return c.lastSvc
}

// lookupService is the part of a moby Service the kernel uses to find it.
// Scheduler, flags and netmask do not matter for lookups, but the kernel
// parses them, so they are sent valid.
func lookupService(k director.ServiceKey) *moby.Service {
	return toService(director.Service{Key: k, Scheduler: "rr", Netmask: director.DefaultNetmask(k.Family)})
}

func toService(s director.Service) *moby.Service {
	ms := &moby.Service{
		AddressFamily: uint16(s.Key.Family),
		Protocol:      uint16(s.Key.Protocol),
		Port:          s.Key.Port,
		FWMark:        s.Key.FWMark,
		SchedName:     s.Scheduler,
		Flags:         s.Flags &^ director.FlagHashed,
		Timeout:       s.Timeout,
		Netmask:       s.Netmask,
	}
	if s.Key.FWMark == 0 {
		ms.Address = net.IP(s.Key.Addr.AsSlice())
	}
	return ms
}

func toDest(d director.Destination) *moby.Destination {
	return &moby.Destination{
		Address:         net.IP(d.Addr.AsSlice()),
		Port:            d.Port,
		Weight:          d.Weight,
		ConnectionFlags: uint32(d.Forward),
		AddressFamily:   uint16(director.FamilyOf(d.Addr)),
		UpperThreshold:  d.UpperThreshold,
		LowerThreshold:  d.LowerThreshold,
	}
}

func fromService(s *moby.Service) director.Service {
	k := director.ServiceKey{Family: director.Family(s.AddressFamily), FWMark: s.FWMark}
	if s.FWMark == 0 {
		k.Protocol = director.Protocol(s.Protocol)
		k.Port = s.Port
		k.Addr = addrOf(s.Address)
	}
	return director.Service{
		Key:       k,
		Scheduler: s.SchedName,
		Flags:     s.Flags,
		Timeout:   s.Timeout,
		Netmask:   s.Netmask,
		Stats:     statsOf(s.Stats),
	}
}

func fromDest(d *moby.Destination) director.Destination {
	return director.Destination{
		Addr:           addrOf(d.Address),
		Port:           d.Port,
		Weight:         d.Weight,
		Forward:        director.Forward(d.ConnectionFlags & moby.ConnFwdMask),
		UpperThreshold: d.UpperThreshold,
		LowerThreshold: d.LowerThreshold,
		ActiveConns:    uint32(d.ActiveConnections),
		InactiveConns:  uint32(d.InactiveConnections),
		Stats:          statsOf(moby.SvcStats(d.Stats)),
	}
}

// statsOf converts the kernel's counters and rate estimates.
func statsOf(s moby.SvcStats) director.Stats {
	return director.Stats{Connections: uint64(s.Connections), PacketsIn: uint64(s.PacketsIn),
		PacketsOut: uint64(s.PacketsOut), BytesIn: s.BytesIn, BytesOut: s.BytesOut, CPS: uint64(s.CPS),
		PPSIn: uint64(s.PPSIn), PPSOut: uint64(s.PPSOut), BPSIn: uint64(s.BPSIn), BPSOut: uint64(s.BPSOut)}
}

func addrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

var _ director.IPVS = (*Client)(nil)
