package bgp

import "github.com/osrg/gobgp/v4/pkg/server"

// Server exposes the embedded GoBGP to the tests.
func (g *GoBGP) Server() *server.BgpServer { return g.s }
