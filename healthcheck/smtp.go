package healthcheck

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// SMTPSpec is the SMTP_CHECK part of a Spec (keepalived 2.2.7
// check/check_smtp.c).
type SMTPSpec struct {
	// HeloName is sent in HELO (keepalived's default
	// "smtpchecker.keepalived.org", SMTP_DEFAULT_HELO).
	HeloName string
}

// smtpLineMax bounds one reply line (keepalived's SMTP_BUFF_MAX is 512;
// RFC 5321 allows 512 octets per reply line).
const smtpLineMax = 512

// probeSMTP is keepalived's smtp_engine_thread: connect, read the greeting
// (it must be 220), send HELO, read 250, send QUIT and read one more line,
// whatever it says. Each read and write has connect_timeout, as
// keepalived's threads do. Unlike keepalived, which looks at the first
// line only and so fails a multi-line "220-" greeting, continuation lines
// are read to the final one.
func probeSMTP(ctx context.Context, s *Spec, dial DialFunc) Result {
	if dial == nil {
		dial = DefaultDial
	}
	dctx, cancel := context.WithTimeout(ctx, s.ConnectTimeout)
	conn, err := dial(dctx, "tcp", s.Local(), s.Addr)
	cancel()
	if err != nil {
		return fail(s, "", "connect: %v", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	r := bufio.NewReaderSize(conn, smtpLineMax)
	read := func(step string) (int, string, error) {
		_ = conn.SetReadDeadline(time.Now().Add(s.ConnectTimeout))
		return smtpReply(r, step)
	}
	write := func(line string) error {
		_ = conn.SetWriteDeadline(time.Now().Add(s.ConnectTimeout))
		_, err := conn.Write([]byte(line + "\r\n"))
		return err
	}
	code, text, err := read("greeting")
	switch {
	case err != nil:
		return fail(s, "", "%v", err)
	case code != 220:
		return fail(s, "", "bad greeting banner: %d %s", code, text)
	}
	if err := write("HELO " + s.SMTP.HeloName); err != nil {
		return fail(s, "", "send HELO: %v", err)
	}
	code, text, err = read("HELO reply")
	switch {
	case err != nil:
		return fail(s, "", "%v", err)
	case code != 250:
		return fail(s, "", "bad HELO response: %d %s", code, text)
	}
	if err := write("QUIT"); err != nil {
		return fail(s, "", "send QUIT: %v", err)
	}
	if _, _, err := read("QUIT reply"); err != nil {
		return fail(s, "", "%v", err)
	}
	return pass(s, "")
}

// smtpReply reads one reply, continuation lines ("250-...") included, and
// returns its code and the last line's text.
func smtpReply(r *bufio.Reader, step string) (int, string, error) {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return 0, "", fmt.Errorf("%s: read timeout", step)
			}
			if err == bufio.ErrBufferFull {
				return 0, "", fmt.Errorf("%s: line longer than %d bytes", step, smtpLineMax)
			}
			return 0, "", fmt.Errorf("%s: read: %w", step, err)
		}
		l := strings.TrimRight(string(line), "\r\n")
		if len(l) < 3 {
			return 0, "", fmt.Errorf("%s: malformed reply %q", step, l)
		}
		code, err := strconv.Atoi(l[:3])
		if err != nil || code < 100 || code > 599 || (len(l) > 3 && l[3] != ' ' && l[3] != '-') {
			return 0, "", fmt.Errorf("%s: malformed reply %q", step, l)
		}
		if len(l) > 3 && l[3] == '-' {
			continue
		}
		return code, strings.TrimSpace(l[3:]), nil
	}
}
