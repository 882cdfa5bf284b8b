// Package alerttest is a small SMTP receiver for tests: it accepts mail
// on a listener the test gives it (loopback, or inside a test network
// namespace) and records every message, so tests can read what lvsctl
// mailed.
package alerttest

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"time"
)

// Mail is one message the server accepted.
type Mail struct {
	Helo string
	From string
	To   []string
	// Data is the text after DATA, without the final dot line, with CRLF
	// line ends as received.
	Data string
}

// Header returns the value of a header of the mail ("" if absent).
func (m Mail) Header(name string) string {
	head, _, _ := strings.Cut(m.Data, "\r\n\r\n")
	for _, l := range strings.Split(head, "\r\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Body is the mail's text after the headers.
func (m Mail) Body() string {
	_, body, _ := strings.Cut(m.Data, "\r\n\r\n")
	return body
}

// Server records mails. Reject, when set, is the reply to every RCPT
// (e.g. "550 no such user"), which fails the delivery.
type Server struct {
	ln     net.Listener
	mu     sync.Mutex
	mails  []Mail
	notify chan struct{}
	Reject string
	wg     sync.WaitGroup
}

// Serve starts accepting on ln until Close.
func Serve(ln net.Listener) *Server {
	s := &Server{ln: ln, notify: make(chan struct{}, 1)}
	s.wg.Add(1)
	go s.accept()
	return s
}

// Addr is the listener's address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server and waits for its connections to end.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

// Mails returns a copy of what was received so far.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Wait returns once n mails were received, or what there is after d.
func (s *Server) Wait(n int, d time.Duration) []Mail {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		if m := s.Mails(); len(m) >= n {
			return m
		}
		select {
		case <-s.notify:
		case <-deadline.C:
			return s.Mails()
		}
	}
}

func (s *Server) reject() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Reject
}

// SetReject sets Reject while the server runs.
func (s *Server) SetReject(r string) {
	s.mu.Lock()
	s.Reject = r
	s.mu.Unlock()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.session(c)
		}()
	}
}

// session speaks just enough SMTP (RFC 5321) for a client that sends
// HELO/EHLO, MAIL, RCPT, DATA and QUIT.
func (s *Server) session(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	say := func(l string) bool {
		_, err := c.Write([]byte(l + "\r\n"))
		return err == nil
	}
	if !say("220 alerttest ESMTP") {
		return
	}
	var m Mail
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "HELO", "EHLO":
			m = Mail{Helo: arg}
			say("250 alerttest")
		case "MAIL":
			m.From = addr(arg)
			say("250 ok")
		case "RCPT":
			if rej := s.reject(); rej != "" {
				say(rej)
				continue
			}
			m.To = append(m.To, addr(arg))
			say("250 ok")
		case "DATA":
			say("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			m.Data = b.String()
			s.mu.Lock()
			s.mails = append(s.mails, m)
			s.mu.Unlock()
			select {
			case s.notify <- struct{}{}:
			default:
			}
			say("250 queued")
		case "QUIT":
			say("221 bye")
			return
		case "RSET", "NOOP":
			say("250 ok")
		default:
			say("502 not implemented")
		}
	}
}

// addr takes the address out of "FROM:<a@b> PARAMS".
func addr(arg string) string {
	_, v, _ := strings.Cut(arg, ":")
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '>'); i >= 0 {
		v = v[:i+1]
	}
	return strings.Trim(v, "<>")
}
