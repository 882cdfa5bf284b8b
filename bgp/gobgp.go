package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	bgppkt "github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// GoBGP is a Speaker over an embedded GoBGP server.
type GoBGP struct {
	log *slog.Logger
	s   *server.BgpServer
}

// NewGoBGP returns a speaker that runs GoBGP in this process once started.
// GoBGP's own logs (sessions up and down, at info) go to log.
func NewGoBGP(log *slog.Logger) *GoBGP {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &GoBGP{log: log}
}

// Start implements Speaker.
func (g *GoBGP) Start(ctx context.Context, cfg Config) error {
	lvl := &slog.LevelVar{}
	lvl.Set(slog.LevelWarn)
	s := server.NewBgpServer(server.LoggerOption(g.log.With("component", "gobgp"), lvl))
	go s.Serve()
	err := s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:        cfg.LocalAS,
		RouterId:   cfg.RouterID.String(),
		ListenPort: cfg.ListenPort,
	}})
	if err == nil {
		err = exportOnly(ctx, s)
	}
	if err != nil {
		s.Stop()
		return err
	}
	g.s = s
	return nil
}

// exportOnly makes the global import policy accept the paths lvsctl adds
// and reject everything else: whatever a router sends is dropped before
// any table. (GoBGP runs local paths through the import policy too, so a
// plain default reject would drop the VIPs as well.)
func exportOnly(ctx context.Context, s *server.BgpServer) error {
	const name = "lvsctl-export-only"
	pol := &api.Policy{Name: name, Statements: []*api.Statement{{
		Name:       name + "-local",
		Conditions: &api.Conditions{RouteType: api.Conditions_ROUTE_TYPE_LOCAL},
		Actions:    &api.Actions{RouteAction: api.RouteAction_ROUTE_ACTION_ACCEPT},
	}}}
	if err := s.AddPolicy(ctx, &api.AddPolicyRequest{Policy: pol}); err != nil {
		return fmt.Errorf("import policy: %w", err)
	}
	if err := s.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name:          "global",
		Direction:     api.PolicyDirection_POLICY_DIRECTION_IMPORT,
		Policies:      []*api.Policy{{Name: name}},
		DefaultAction: api.RouteAction_ROUTE_ACTION_REJECT,
	}}); err != nil {
		return fmt.Errorf("import policy: %w", err)
	}
	return nil
}

// Stop implements Speaker.
func (g *GoBGP) Stop(ctx context.Context) error {
	if g.s == nil {
		return nil
	}
	// Stop runs StopBgp (a Cease to every peer) and ends the server's
	// goroutines; calling StopBgp first would only log a second stop.
	g.s.Stop()
	g.s = nil
	return nil
}

func apiPeer(n Neighbor) *api.Peer {
	p := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: n.Addr.String(), PeerAsn: n.RemoteAS, AuthPassword: n.Password},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime:          uint64(n.HoldTime / time.Second),
			KeepaliveInterval: uint64(n.Keepalive / time.Second),
			ConnectRetry:      uint64(n.ConnectRetry / time.Second),
		}},
		Transport: &api.Transport{PassiveMode: n.Passive, RemotePort: uint32(n.Port)},
		// Both families, whatever the session's: a v4 session may carry
		// v6 VIPs when the router agrees.
		AfiSafis: []*api.AfiSafi{
			{Config: &api.AfiSafiConfig{Enabled: true, Family: &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}}},
			{Config: &api.AfiSafiConfig{Enabled: true, Family: &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}}},
		},
	}
	if n.LocalAddr.IsValid() {
		p.Transport.LocalAddress = n.LocalAddr.String()
	}
	if n.Multihop > 0 {
		p.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(n.Multihop)}
	}
	if n.TTLSecurity > 0 {
		p.TtlSecurity = &api.TtlSecurity{Enabled: true, TtlMin: uint32(n.TTLSecurity)}
	}
	return p
}

// AddPeer implements Speaker.
func (g *GoBGP) AddPeer(ctx context.Context, n Neighbor) error {
	return g.s.AddPeer(ctx, &api.AddPeerRequest{Peer: apiPeer(n)})
}

// UpdatePeer implements Speaker.
func (g *GoBGP) UpdatePeer(ctx context.Context, n Neighbor) error {
	_, err := g.s.UpdatePeer(ctx, &api.UpdatePeerRequest{Peer: apiPeer(n)})
	return err
}

// DeletePeer implements Speaker.
func (g *GoBGP) DeletePeer(ctx context.Context, addr netip.Addr) error {
	return g.s.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr.String()})
}

// path builds p as GoBGP's API wants it. The next hop is the unspecified
// address: GoBGP replaces it with the session's local address (next-hop
// self), the address the router reaches this director on.
func path(p Path, withdraw bool) (*apiutil.Path, error) {
	nlri, err := bgppkt.NewIPAddrPrefix(p.Prefix)
	if err != nil {
		return nil, err
	}
	attrs := []bgppkt.PathAttributeInterface{bgppkt.NewPathAttributeOrigin(bgppkt.BGP_ORIGIN_ATTR_TYPE_IGP)}
	fam := bgppkt.RF_IPv4_UC
	if p.Prefix.Addr().Is4() {
		nh, err := bgppkt.NewPathAttributeNextHop(netip.IPv4Unspecified())
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, nh)
	} else {
		fam = bgppkt.RF_IPv6_UC
		mp, err := bgppkt.NewPathAttributeMpReachNLRI(fam, []bgppkt.PathNLRI{{NLRI: nlri}}, netip.IPv6Unspecified())
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, mp)
	}
	if len(p.Communities) > 0 {
		attrs = append(attrs, bgppkt.NewPathAttributeCommunities(p.Communities))
	}
	if p.GracefulShutdown || p.LocalPref > 0 {
		attrs = append(attrs, bgppkt.NewPathAttributeLocalPref(p.LocalPref))
	}
	return &apiutil.Path{Family: fam, Nlri: nlri, Attrs: attrs, Withdrawal: withdraw}, nil
}

// Announce implements Speaker: a new announcement of a prefix replaces the
// old one (the same local source), so routers see one UPDATE.
func (g *GoBGP) Announce(ctx context.Context, p Path) error {
	ap, err := path(p, false)
	if err != nil {
		return err
	}
	res, err := g.s.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{ap}})
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Error != nil {
			return r.Error
		}
	}
	return nil
}

// Withdraw implements Speaker.
func (g *GoBGP) Withdraw(ctx context.Context, prefix netip.Prefix) error {
	ap, err := path(Path{Prefix: prefix}, true)
	if err != nil {
		return err
	}
	return g.s.DeletePath(apiutil.DeletePathRequest{Paths: []*apiutil.Path{ap}})
}

// Peers implements Speaker.
func (g *GoBGP) Peers(ctx context.Context) ([]PeerState, error) {
	var out []PeerState
	var perr error
	err := g.s.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		if p.Conf == nil {
			return
		}
		addr, err := netip.ParseAddr(p.Conf.NeighborAddress)
		if err != nil {
			perr = fmt.Errorf("neighbor address %q: %w", p.Conf.NeighborAddress, err)
			return
		}
		ps := PeerState{Addr: addr, RemoteAS: p.Conf.PeerAsn, State: "unknown"}
		if p.State != nil {
			ps.State = sessionState(p.State.SessionState)
			ps.Established = p.State.SessionState == api.PeerState_SESSION_STATE_ESTABLISHED
		}
		if ps.Established && p.Timers != nil && p.Timers.State != nil && p.Timers.State.Uptime != nil {
			ps.Since = p.Timers.State.Uptime.AsTime()
			ps.Uptime = time.Since(ps.Since)
		}
		out = append(out, ps)
	})
	if err == nil {
		err = perr
	}
	return out, err
}

// sessionState is the FSM state as people write it ("established").
func sessionState(s api.PeerState_SessionState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "SESSION_STATE_"))
}
