package healthcheck

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// smtpResponder answers every connection on loopback with script: the
// greeting, then one reply per line the client sends (HELO, QUIT); ""
// says nothing more and waits, "close" closes. It records the lines.
func smtpResponder(t *testing.T, greeting string, replies ...string) (netip.AddrPort, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	got := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				say := func(s string) bool {
					switch s {
					case "":
						time.Sleep(2 * time.Second)
						return false
					case "close":
						return false
					}
					_, err := c.Write([]byte(s))
					return err == nil
				}
				if !say(greeting) {
					return
				}
				r := bufio.NewReader(c)
				for _, rep := range replies {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					got <- strings.TrimRight(l, "\r\n")
					if !say(rep) {
						return
					}
				}
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String()), got
}

func smtpSpec(a netip.AddrPort) *Spec {
	return &Spec{Kind: SMTPCheck, Addr: a, ConnectTimeout: 300 * time.Millisecond, DelayLoop: time.Second,
		SMTP: &SMTPSpec{HeloName: "smtpchecker.keepalived.org"}}
}

// TestSMTPCheck follows keepalived's check_smtp.c: 220 greeting, HELO
// answered 250, QUIT answered (any line); anything else fails, silence at
// connect_timeout.
func TestSMTPCheck(t *testing.T) {
	ok, lines := smtpResponder(t, "220 mx.example ESMTP\r\n", "250 mx.example\r\n", "221 bye\r\n")
	r := probeSMTP(context.Background(), smtpSpec(ok), nil)
	assert.True(t, r.OK, r.Reason)
	assert.Equal(t, "SMTP_CHECK "+ok.String()+" passed", r.Reason)
	assert.Equal(t, "HELO smtpchecker.keepalived.org", <-lines)
	assert.Equal(t, "QUIT", <-lines)

	multi, _ := smtpResponder(t, "220-mx.example ESMTP\r\n220-more\r\n220 ready\r\n", "250-mx.example\r\n250 PIPELINING\r\n", "221 bye\r\n")
	r = probeSMTP(context.Background(), smtpSpec(multi), nil)
	assert.True(t, r.OK, "multi-line replies: %s", r.Reason)

	for name, tc := range map[string]struct {
		greeting string
		replies  []string
		want     string
	}{
		"5xx greeting":      {"554 no service\r\n", nil, "bad greeting banner: 554 no service"},
		"5xx HELO":          {"220 hi\r\n", []string{"501 bad HELO\r\n"}, "bad HELO response: 501 bad HELO"},
		"never answers":     {"", nil, "greeting: read timeout"},
		"silent after HELO": {"220 hi\r\n", []string{""}, "HELO reply: read timeout"},
		"closes":            {"close", nil, "greeting: read: EOF"},
		"closes on QUIT":    {"220 hi\r\n", []string{"250 ok\r\n", "close"}, "QUIT reply: read: EOF"},
		"garbage":           {"hello\r\n", nil, `greeting: malformed reply "hello"`},
	} {
		t.Run(name, func(t *testing.T) {
			a, _ := smtpResponder(t, tc.greeting, tc.replies...)
			start := time.Now()
			r := probeSMTP(context.Background(), smtpSpec(a), nil)
			assert.False(t, r.OK)
			assert.Contains(t, r.Reason, tc.want)
			assert.Less(t, time.Since(start), 1500*time.Millisecond, "bounded by connect_timeout")
		})
	}

	// Nothing listens: connect fails.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := netip.MustParseAddrPort(ln.Addr().String())
	require.NoError(t, ln.Close())
	r = probeSMTP(context.Background(), smtpSpec(closed), nil)
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "connect: ")
}

func TestSMTPSpecValidate(t *testing.T) {
	s := smtpSpec(netip.MustParseAddrPort("127.0.0.1:25"))
	require.NoError(t, s.Validate())
	s.SMTP.HeloName = "two words"
	assert.ErrorIs(t, s.Validate(), ErrInvalidSpec)
	s.SMTP = nil
	assert.ErrorIs(t, s.Validate(), ErrInvalidSpec)
}
