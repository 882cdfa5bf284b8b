// Command healthcheck is the load benchmark of package healthcheck: it runs
// N TCP_CHECK or HTTP_GET checks against local listeners on many 127.0.0.x
// addresses (served by a child process, so the figures are the checker's
// own) and prints CPU use, heap per check, achieved check rate, and
// goroutine/FD counts before and after (leak check).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lvsctl/lvsctl/healthcheck"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type opts struct {
	kind       string
	n          int
	addrs      int
	port       int
	delay      time.Duration
	duration   time.Duration
	settle     time.Duration
	serve      bool
	cpuprofile string
	netDial    bool
}

func run() error {
	var o opts
	flag.StringVar(&o.kind, "kind", "tcp", "tcp or http")
	flag.IntVar(&o.n, "n", 10000, "number of checks")
	flag.IntVar(&o.addrs, "addrs", 100, "listener addresses 127.0.0.2 .. (ephemeral ports are per destination)")
	flag.IntVar(&o.port, "port", 18080, "listener port")
	flag.DurationVar(&o.delay, "delay", time.Second, "delay_loop")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "measured time")
	flag.DurationVar(&o.settle, "settle", 3*time.Second, "time before measuring (warmup spreads the first checks)")
	flag.BoolVar(&o.serve, "serve", false, "internal: be the server process")
	flag.BoolVar(&o.netDial, "netdial", false, "inject a net.Dialer-based DialFunc (counts connect latency) instead of the built-in dialer")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the measured period")
	flag.Parse()
	if err := raiseNoFile(); err != nil {
		return err
	}
	if o.serve {
		return serve(o)
	}
	return measure(o)
}

func raiseNoFile() error {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	r.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return fmt.Errorf("setrlimit: %w", err)
	}
	return nil
}

func addr(i, port int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, byte(i / 250), byte(2 + i%250)}), uint16(port))
}

func serve(o opts) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	body := []byte("ok\n")
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) })
	for i := 0; i < o.addrs; i++ {
		ln, err := net.Listen("tcp", addr(i, o.port).String())
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		if o.kind == "http" {
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
			srv.SetKeepAlivesEnabled(false)
			go func() { _ = srv.Serve(ln) }()
			continue
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				// Close after the checker does, as a real server would:
				// the TIME_WAIT stays on the checker's side.
				go func() {
					var b [64]byte
					_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
					for {
						if _, err := c.Read(b[:]); err != nil {
							break
						}
					}
					_ = c.Close()
				}()
			}
		}()
	}
	fmt.Println("ready")
	<-ctx.Done()
	return nil
}

type usage struct {
	wall time.Time
	cpu  time.Duration
}

func now() usage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return usage{wall: time.Now(), cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
}

func fds() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

func heap() uint64 {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func measure(o opts) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("executable: %w", err)
	}
	child := exec.Command(self, "-serve", "-kind", o.kind, "-addrs", fmt.Sprint(o.addrs), "-port", fmt.Sprint(o.port))
	child.Stderr = os.Stderr
	// The server must not outlive the benchmark, even if it is killed.
	child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := child.StdoutPipe()
	if err != nil {
		return fmt.Errorf("pipe: %w", err)
	}
	if err := child.Start(); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	defer func() { _ = child.Process.Signal(syscall.SIGTERM); _ = child.Wait() }()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(out, buf); err != nil {
		return fmt.Errorf("server not ready: %w", err)
	}

	g0, f0, h0 := runtime.NumGoroutine(), fds(), heap()
	var dials, fails atomic.Int64
	lat := &latencies{}
	dial := func(ctx context.Context, network string, local healthcheck.Local, remote netip.AddrPort) (net.Conn, error) {
		dials.Add(1)
		t := time.Now()
		c, err := healthcheck.DefaultDial(ctx, network, local, remote)
		lat.add(time.Since(t))
		if err != nil && fails.Add(1) <= 3 {
			fmt.Fprintln(os.Stderr, "connect failed:", err)
		}
		return c, err
	}
	hopts := healthcheck.Options{}
	if o.netDial {
		hopts.Dial = dial
	}
	s := healthcheck.New[int](hopts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	servers := make([]healthcheck.Server[int], o.n)
	for i := range servers {
		sp := healthcheck.Spec{
			Kind: healthcheck.TCPCheck, Addr: addr(i%o.addrs, o.port),
			ConnectTimeout: 5 * time.Second, DelayLoop: o.delay, DelayBeforeRetry: time.Second,
			Retry: 1, Warmup: o.delay,
		}
		if o.kind == "http" {
			sp.Kind = healthcheck.HTTPGet
			sp.DelayBeforeRetry = 3 * time.Second
			sp.HTTP = &healthcheck.HTTPSpec{URLs: []healthcheck.URL{{Path: "/health"}}}
		}
		servers[i] = healthcheck.Server[int]{Key: i, Checks: []healthcheck.Spec{sp}}
	}
	var downs atomic.Int64
	go func() {
		for ev := range s.Events() {
			if ev.New == healthcheck.Down {
				if downs.Add(1) <= 3 {
					fmt.Fprintf(os.Stderr, "DOWN: rs%d %s\n", ev.Key, ev.Reason)
				}
			}
		}
	}()
	if err := s.Set(ctx, servers); err != nil {
		return fmt.Errorf("set: %w", err)
	}
	time.Sleep(o.settle)
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return fmt.Errorf("profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("profile: %w", err)
		}
	}
	lat.reset()
	u0, d0 := now(), activeOpens()
	time.Sleep(o.duration)
	u1, d1 := now(), activeOpens()
	p50, p99, pmax := lat.summary()
	if o.cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	hSteady := heap()
	gSteady, fSteady := runtime.NumGoroutine(), fds()
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	time.Sleep(200 * time.Millisecond)
	servers = nil
	runtime.KeepAlive(s)
	g1, f1 := runtime.NumGoroutine(), fds()

	wall := u1.wall.Sub(u0.wall)
	cpu := u1.cpu - u0.cpu
	rate := float64(d1-d0) / wall.Seconds()
	fmt.Printf("kind=%s checks=%d delay_loop=%s addrs=%d measured=%s GOMAXPROCS=%d\n", o.kind, o.n, o.delay, o.addrs, wall.Round(time.Millisecond), runtime.GOMAXPROCS(0))
	fmt.Printf("checks/s:        %.0f (expected %.0f)\n", rate, float64(o.n)/o.delay.Seconds())
	fmt.Printf("cpu:             %.1f%% of one core (%.1f µs per check)\n", 100*cpu.Seconds()/wall.Seconds(), float64(cpu.Microseconds())/float64(d1-d0))
	fmt.Printf("heap:            %d bytes per check (steady %d MiB, baseline %d MiB)\n", int64(hSteady-h0)/int64(o.n), hSteady>>20, h0>>20)
	if o.netDial {
		fmt.Printf("connect time:    p50 %s, p99 %s, max %s\n", p50, p99, pmax)
	}
	fmt.Printf("failed connects: %d, DOWN events: %d\n", fails.Load(), downs.Load())
	fmt.Printf("kernel:          %s\n", netstat("ListenOverflows", "ListenDrops", "TCPTimeWaitOverflow", "TW"))
	fmt.Printf("goroutines:      before %d, steady %d, after %d\n", g0, gSteady, g1)
	fmt.Printf("fds:             before %d, steady %d, after %d\n", f0, fSteady, f1)
	if g1 > g0+2 || f1 > f0+2 {
		return fmt.Errorf("leak: goroutines %d->%d, fds %d->%d", g0, g1, f0, f1)
	}
	return nil
}

// latencies is a sample of connect times.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	if len(l.d) < 1<<20 {
		l.d = append(l.d, d)
	}
	l.mu.Unlock()
}

func (l *latencies) reset() {
	l.mu.Lock()
	l.d = l.d[:0]
	l.mu.Unlock()
}

func (l *latencies) summary() (p50, p99, pmax time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0, 0, 0
	}
	slices.Sort(l.d)
	return l.d[len(l.d)/2], l.d[len(l.d)*99/100], l.d[len(l.d)-1]
}

// netstat returns TcpExt counters of this network namespace.
func netstat(names ...string) string {
	b, err := os.ReadFile("/proc/self/net/netstat")
	if err != nil {
		return ""
	}
	lines := strings.Split(string(b), "\n")
	var out []string
	for i := 0; i+1 < len(lines); i += 2 {
		k, v := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		for j := range k {
			for _, n := range names {
				if k[j] == n && j < len(v) {
					out = append(out, n+"="+v[j])
				}
			}
		}
	}
	return strings.Join(out, " ")
}

// activeOpens is the TCP ActiveOpens counter of this network namespace:
// every check connection is one, whichever dialer made it.
func activeOpens() int64 {
	b, err := os.ReadFile("/proc/self/net/snmp")
	if err != nil {
		return 0
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Tcp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "ActiveOpens" && i < len(f) {
				v, _ := strconv.ParseInt(f[i], 10, 64)
				return v
			}
		}
	}
	return 0
}
