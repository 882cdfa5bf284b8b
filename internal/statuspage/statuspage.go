// Package statuspage is the director's live, read-only status page, in the
// spirit of HAProxy's stats page: services and real servers with health,
// weight, connections and rates, the VRRP instances, and the last events.
// One self-contained HTML document (no scripts, styles inline, no external
// assets) that refreshes itself and reads well on a phone. It is served by
// the metrics listener, to loopback clients unless told otherwise.
package statuspage

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/internal/control"
	"github.com/lvsctl/lvsctl/internal/eventlog"
	"github.com/lvsctl/lvsctl/internal/humanize"
)

// Source is what the page shows: the daemon's status and its event log.
type Source interface {
	Status(ctx context.Context) (control.Status, error)
	Events() control.EventSource
}

// Options configure the page.
type Options struct {
	// Public serves the page to any client; otherwise only to loopback
	// clients (the metrics listener may face Prometheus on the network,
	// the page need not).
	Public bool
	// Refresh is how often the page reloads itself (default 5 s; a
	// ?refresh=N query overrides it, 0 stops it).
	Refresh time.Duration
	// Events is how many of the latest events are shown (default 20).
	Events int
	Logger *slog.Logger
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
}

//go:embed page.html.tmpl
var pageTemplate string

// Handler serves the page at any path it is mounted on.
func Handler(src Source, o Options) http.Handler {
	if o.Refresh <= 0 {
		o.Refresh = 5 * time.Second
	}
	if o.Events <= 0 {
		o.Events = 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	host, _ := os.Hostname()
	t := template.Must(template.New("page").Funcs(funcs()).Parse(pageTemplate))
	return &handler{src: src, o: o, tmpl: t, host: host}
}

type handler struct {
	src  Source
	o    Options
	tmpl *template.Template
	host string
}

// page is the template's data.
type page struct {
	Host    string
	Now     time.Time
	Refresh int
	Status  control.Status
	Err     string
	Events  []eventlog.Event
	Missed  bool
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.o.Public && !loopback(r.RemoteAddr) {
		http.Error(w, "the status page answers loopback clients only (lvsctl director up --status-page-public)", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "read-only", http.StatusMethodNotAllowed)
		return
	}
	p := page{Host: h.host, Now: h.o.Now(), Refresh: int(h.o.Refresh.Seconds())}
	if v := r.URL.Query().Get("refresh"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			p.Refresh = n
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	st, err := h.src.Status(ctx)
	if err != nil {
		p.Err = err.Error()
	}
	p.Status = st
	events, _ := h.src.Events().Since(0)
	if len(events) > h.o.Events {
		events, p.Missed = events[len(events)-h.o.Events:], true
	}
	// Newest first: the page is read top-down.
	for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
		events[i], events[j] = events[j], events[i]
	}
	p.Events = events
	var b bytes.Buffer
	if err := h.tmpl.Execute(&b, p); err != nil {
		h.o.Logger.Error("status page", "err", err)
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// Nothing on the page may load or run anything from elsewhere.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b.Bytes())
}

func loopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func funcs() template.FuncMap {
	return template.FuncMap{
		"si": humanize.SI,
		"ago": func(now, t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return now.Sub(t).Truncate(time.Second).String()
		},
		"clock": func(t time.Time) string { return t.Local().Format("15:04:05") },
		"stamp": func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05 MST") },
		"kw": func(w *int) string {
			if w == nil {
				return "-"
			}
			return strconv.Itoa(*w)
		},
		"reals": func(s director.ServiceStatus) []director.RealStatus {
			if s.Sorry == nil {
				return s.Reals
			}
			return append(s.Reals[:len(s.Reals):len(s.Reals)], *s.Sorry)
		},
		"upCount": func(s director.ServiceStatus) string {
			up := 0
			for _, r := range s.Reals {
				if r.Up {
					up++
				}
			}
			return fmt.Sprintf("%d/%d", up, len(s.Reals))
		},
		"lower": func(s string) string {
			b := []byte(s)
			for i, c := range b {
				if 'A' <= c && c <= 'Z' {
					b[i] = c + 'a' - 'A'
				}
			}
			return string(b)
		},
	}
}
