package healthcheck

import "time"

// machine is the per-checker state of keepalived's checker epilogs, as a
// step function: feed it the outcome of one probe, it returns whether the
// checker changed state and when to probe next. It is pure so the timing
// rules can be tested exactly; docs/healthcheck.md lists every rule.
type machine struct {
	// configuration
	http         bool // HTTP_GET/SSL_GET epilog (per-URL) instead of TCP/MISC
	fromStart    bool // MISC_CHECK: the next run is timed from the last start
	steps        int
	retry        int
	rise, fall   int
	delayLoop    time.Duration
	retryDelay   time.Duration
	fastRecovery bool

	// state, named after keepalived's checker fields
	up        bool
	hasRun    bool
	retryIt   int
	urlIt     int  // next URL to fetch (HTTP)
	failedURL bool // the URL at urlIt made the checker go down (HTTP)
	rises     int  // extension: consecutive passes while down
	falls     int  // extension: consecutive exhausted retries while up
	// firstSame: the checker's first verdict (a set before has_run) kept
	// the state it started in; takeFirstSame reads and clears it.
	firstSame bool
}

func newMachine(s *Spec) *machine {
	m := &machine{}
	m.configure(s)
	m.up = !s.Alpha
	// keepalived starts every checker with its retries used up, so one
	// failure before the first success is enough to mark it down.
	m.retryIt = m.retry
	return m
}

// configure applies the timing of s while keeping the state, as a reload
// of an unchanged checker does.
func (m *machine) configure(s *Spec) {
	m.http = s.Kind == HTTPGet || s.Kind == SSLGet
	m.fromStart = s.Kind == MiscCheck
	m.steps = s.steps()
	m.retry = s.Retry
	m.rise, m.fall = max(s.Rise, 1), max(s.Fall, 1)
	m.delayLoop = s.DelayLoop
	m.retryDelay = s.DelayBeforeRetry
	if s.HTTP != nil {
		m.fastRecovery = s.HTTP.FastRecovery
	}
	if m.urlIt >= m.steps {
		m.urlIt = 0
	}
	if m.retryIt > m.retry {
		m.retryIt = m.retry
	}
}

// step is the probe index (URL) of the next run.
func (m *machine) step() int { return m.urlIt }

// result applies the outcome of one probe. It returns whether the checker
// changed between up and down and the delay until the next probe, counted
// from the end of this probe, or from its start when fromStart is set.
func (m *machine) result(ok bool) (changed bool, delay time.Duration, fromStart bool) {
	if m.http {
		changed, delay = m.httpResult(ok)
		return changed, delay, false
	}
	changed, delay = m.simpleResult(ok)
	return changed, delay, m.fromStart
}

func (m *machine) set(up bool) bool {
	if m.up == up {
		// keepalived 2.2.7 (check/ipwrapper.c, update_svr_checker_state):
		// a verdict equal to the state, before the checker has run,
		// still notifies (an alpha server's first failed check runs
		// notify_down).
		if !m.hasRun {
			m.firstSame = true
		}
		return false
	}
	m.up = up
	m.rises, m.falls = 0, 0
	return true
}

// takeFirstSame reports (once) that the last result was the checker's
// first verdict and left its state as it started.
func (m *machine) takeFirstSame() bool {
	f := m.firstSame
	m.firstSame = false
	return f
}

// simpleResult is the TCP_CHECK / MISC_CHECK epilog.
func (m *machine) simpleResult(ok bool) (bool, time.Duration) {
	changed := false
	switch {
	case ok:
		m.retryIt = 0
		m.falls = 0
		if !m.up {
			if m.hasRun && m.rises+1 < m.rise {
				m.rises++
			} else {
				changed = m.set(true)
			}
		}
	case (m.up || !m.hasRun) && m.retryIt >= m.retry:
		m.retryIt = 0
		m.rises = 0
		if m.up && m.hasRun && m.falls+1 < m.fall {
			m.falls++
		} else {
			changed = m.set(false)
		}
	case m.up:
		m.retryIt++
	default:
		m.rises = 0
	}
	m.hasRun = true
	if m.retryIt > 0 {
		return changed, m.retryDelay
	}
	return changed, m.delayLoop
}

// httpResult is the HTTP_GET / SSL_GET epilog: each probe fetches one URL;
// a pass moves to the next URL one delay_loop later, the checker is up
// after a full pass over all URLs, and a failed URL is retried on its own.
func (m *machine) httpResult(ok bool) (bool, time.Duration) {
	changed := false
	const (
		next = iota
		retry
		failed
	)
	method := next
	if !ok {
		m.rises = 0
		if m.up || !m.hasRun {
			m.hasRun = true
			method = retry
		} else {
			method = failed
		}
	}
	done := false
	switch method {
	case next:
		m.urlIt++
		done = m.urlIt >= m.steps
		m.retryIt = 0
	case retry:
		m.retryIt++
	}
	switch {
	case method == next && done && !m.failedURL:
		m.falls = 0
		if !m.up || !m.hasRun {
			if !m.up && m.hasRun && m.rises+1 < m.rise {
				m.rises++
			} else {
				changed = m.set(true)
			}
			m.hasRun = true
		}
		m.urlIt, m.retryIt = 0, 0
	case method == retry && m.retryIt > m.retry:
		if m.up && m.falls+1 < m.fall {
			// Extension: this failed check counts towards fall; start
			// the URL over after a full delay_loop.
			m.falls++
			m.retryIt = 0
			return false, m.delayLoop
		}
		changed = m.set(false)
		m.failedURL = true
	case method == next && m.failedURL:
		m.failedURL = false
		m.urlIt, m.retryIt = 0, 0
	}
	var delay time.Duration
	switch {
	case method == next:
		delay = m.delayLoop
		if !m.hasRun {
			m.retryIt = m.retry
		}
	case m.failedURL:
		delay = max(m.retryDelay, m.delayLoop)
	default:
		delay = m.retryDelay
	}
	if m.fastRecovery && (!m.hasRun || (!m.up && !m.failedURL)) {
		delay = 0
	}
	return changed, delay
}
