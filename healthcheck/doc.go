// Package healthcheck runs the health checks of a load balancer's real
// servers: TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, PING_CHECK, UDP_CHECK,
// DNS_CHECK and SMTP_CHECK with keepalived's timing semantics (delay_loop,
// retry, delay_before_retry, alpha, warmup), plus rise/fall hysteresis, at
// the scale of tens of thousands of checks; and FILE_CHECK, which follows a
// keepalived track file through inotify instead of a timer (file.go).
//
// The package knows nothing about IPVS: a consumer describes each real
// server as a [Server] (a key of the consumer's own comparable type, which
// the scheduler only compares, and its checkers as [Spec] values), hands
// the set to a [Scheduler] and reads [Event] values, one per change
// of a real server's state or dynamic weight. A real server is up only when
// all of its checkers pass.
//
// One goroutine owns all state and a single timer driven by an injectable
// clock (package internal/clock); a check runs in its own goroutine only while it is in flight, so
// an idle check costs a few hundred bytes of heap and no goroutine.
package healthcheck
