package lab

import (
	"fmt"
	"net"
	"sync"
)

// Listeners are TCP listeners in one host that accept connections and
// close them at once: real servers whose TCP checks pass while their
// listener is open and fail once Set closes it.
type Listeners struct {
	h   *Host
	mu  sync.Mutex
	lns map[string]net.Listener
}

// Listeners returns an empty set of listeners in h.
func (h *Host) Listeners() *Listeners {
	return &Listeners{h: h, lns: map[string]net.Listener{}}
}

// Set opens (up) or closes the listener on addr ("IP:PORT"); setting the
// state it is in already does nothing.
func (l *Listeners) Set(addr string, up bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ln := l.lns[addr]
	switch {
	case up && ln == nil:
		ln, err := l.h.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", addr, err)
		}
		l.lns[addr] = ln
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_ = c.Close()
			}
		}()
	case !up && ln != nil:
		_ = ln.Close()
		delete(l.lns, addr)
	}
	return nil
}
