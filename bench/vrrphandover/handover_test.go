//go:build bench

// Package vrrphandover measures VRRP handover for lvsctl and keepalived
// side by side, in network namespaces: a client probes the VIP with a TCP
// connect every 10 ms while the master stops gracefully, loses its cable
// and comes back. Run it with bench/vrrp-handover.sh (root).
package vrrphandover

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsctl/lvsctl/vrrp/vrrplab"
)

const (
	vip      = "10.16.8.100"
	vrid     = 191
	interval = 10 * time.Millisecond
	timeout  = 300 * time.Millisecond
)

var (
	ka67 = netip.MustParseAddr("10.16.8.10")
	ka68 = netip.MustParseAddr("10.16.8.11")
)

// result is one round of one implementation.
type result struct {
	gracefulLost    int
	gracefulOutage  time.Duration
	restartPreempt  time.Duration // process start → first advert as master
	restartLost     int
	crashOutage     time.Duration // cable cut → first answered probe
	crashTakeover   time.Duration // last advert of the old master → first of the new
	returnPreempt   time.Duration // reconnect → first advert as master again
	returnLost      int
	v3CrashOutage   time.Duration
	v3CrashTakeover time.Duration
}

func TestVRRPHandover(t *testing.T) {
	rounds := 3
	if s := os.Getenv("LVSCTL_BENCH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("LVSCTL_BENCH_ROUNDS=%q: want a positive number", s)
		}
		rounds = n
	}
	impls := []string{"keepalived", "lvsctl"}
	res := map[string][]result{}
	for r := 0; r < rounds; r++ {
		for _, impl := range impls {
			t.Run(fmt.Sprintf("%s-%d", impl, r), func(t *testing.T) {
				res[impl] = append(res[impl], measure(t, impl))
			})
		}
	}
	if t.Failed() {
		return
	}
	printTable(rounds, impls, res)
}

func measure(t *testing.T, impl string) result {
	var out result
	n := vrrplab.NewNet(t, false)
	ads := vrrplab.WatchAdverts(t, n.Client, "eth1", "224.0.0.111")
	conf67, conf68 := "../../vrrp/testdata/ka67.conf", "../../vrrp/testdata/ka68.conf"
	a := n.Start(t, impl, n.A, conf67)
	n.Start(t, impl, n.B, conf68)
	vrrplab.WaitOwner(t, 8*time.Second, n.A, n.B, n.A, "eth1", vip)
	time.Sleep(1500 * time.Millisecond)

	// (1) graceful stop of the master.
	p := vrrplab.StartProber(n.Client, vip+":80", interval, timeout)
	stop := time.Now()
	a.Stop(t)
	vrrplab.WaitOwner(t, 5*time.Second, n.A, n.B, n.B, "eth1", vip)
	time.Sleep(time.Second)
	l := vrrplab.Summarize(p.Stop(), stop, time.Time{})
	out.gracefulLost, out.gracefulOutage = l.Lost, l.Outage

	// (1b) the master comes back and preempts.
	p = vrrplab.StartProber(n.Client, vip+":80", interval, timeout)
	start := time.Now()
	n.Start(t, impl, n.A, conf67) // the lab stops it at the end
	vrrplab.WaitOwner(t, 8*time.Second, n.A, n.B, n.A, "eth1", vip)
	time.Sleep(time.Second)
	out.restartPreempt = ads.FirstFrom(vrid, ka67, start).At.Sub(start)
	out.restartLost = vrrplab.Summarize(p.Stop(), start, time.Time{}).Lost

	// (2) the master's cable is cut.
	time.Sleep(1500 * time.Millisecond)
	p = vrrplab.StartProber(n.Client, vip+":80", interval, timeout)
	time.Sleep(time.Duration(time.Now().UnixNano()%1000) * time.Millisecond) // random advert phase
	cut := time.Now()
	n.LinkA1.Cut()
	vrrplab.WaitOwner(t, 6*time.Second, n.A, n.B, n.B, "eth1", vip)
	time.Sleep(500 * time.Millisecond)
	l = vrrplab.Summarize(p.Stop(), cut, time.Time{})
	out.crashOutage = l.Outage
	first := ads.FirstFrom(vrid, ka68, cut)
	out.crashTakeover = first.At.Sub(ads.LastFrom(vrid, ka67, first.At).At)

	// (3) the cable is plugged back in: the master returns and preempts.
	p = vrrplab.StartProber(n.Client, vip+":80", interval, timeout)
	back := time.Now()
	n.LinkA1.Reconnect()
	vrrplab.WaitOwner(t, 8*time.Second, n.A, n.B, n.A, "eth1", vip)
	time.Sleep(time.Second)
	out.returnPreempt = ads.FirstFrom(vrid, ka67, back).At.Sub(back)
	out.returnLost = vrrplab.Summarize(p.Stop(), back, time.Time{}).Lost

	// (4) VRRPv3, advert_int 0.1: cable cut.
	v3 := vrrplab.NewNet(t, false)
	v3ads := vrrplab.WatchAdverts(t, v3.Client, "eth1", "224.0.0.111")
	v3.Start(t, impl, v3.A, "../../vrrp/testdata/v3-ka67.conf")
	v3.Start(t, impl, v3.B, "../../vrrp/testdata/v3-ka68.conf")
	vrrplab.WaitOwner(t, 3*time.Second, v3.A, v3.B, v3.A, "eth1", vip)
	time.Sleep(time.Second)
	p = vrrplab.StartProber(v3.Client, vip+":80", interval, timeout)
	time.Sleep(time.Duration(time.Now().UnixNano()%100) * time.Millisecond)
	cut = time.Now()
	v3.LinkA1.Cut()
	vrrplab.WaitOwner(t, 3*time.Second, v3.A, v3.B, v3.B, "eth1", vip)
	time.Sleep(500 * time.Millisecond)
	out.v3CrashOutage = vrrplab.Summarize(p.Stop(), cut, time.Time{}).Outage
	first = v3ads.FirstFrom(vrid, ka68, cut)
	out.v3CrashTakeover = first.At.Sub(v3ads.LastFrom(vrid, ka67, first.At).At)
	return out
}

func printTable(rounds int, impls []string, res map[string][]result) {
	type row struct {
		name string
		get  func(result) string
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
	rows := []row{
		{"graceful stop: probes lost", func(r result) string { return strconv.Itoa(r.gracefulLost) }},
		{"graceful stop: outage", func(r result) string { return ms(r.gracefulOutage) }},
		{"restart: preempt after start", func(r result) string { return ms(r.restartPreempt) }},
		{"restart: probes lost", func(r result) string { return strconv.Itoa(r.restartLost) }},
		{"cable cut: outage", func(r result) string { return ms(r.crashOutage) }},
		{"cable cut: last advert → takeover (RFC 3629 ms)", func(r result) string { return ms(r.crashTakeover) }},
		{"reconnect: preempt after link up", func(r result) string { return ms(r.returnPreempt) }},
		{"reconnect: probes lost", func(r result) string { return strconv.Itoa(r.returnLost) }},
		{"v3 0.1s cable cut: outage", func(r result) string { return ms(r.v3CrashOutage) }},
		{"v3 0.1s: last advert → takeover (RFC 363 ms)", func(r result) string { return ms(r.v3CrashTakeover) }},
	}
	fmt.Printf("\nVRRP handover, advert_int 1 (v2) / 0.1 (v3), priorities 100/95, TCP connect probe every %v (timeout %v), %d rounds\n\n", interval, timeout, rounds)
	w := 50
	fmt.Printf("%-*s", w, "")
	for _, impl := range impls {
		fmt.Printf(" | %-28s", impl)
	}
	fmt.Println()
	fmt.Println(strings.Repeat("-", w+len(impls)*31))
	for _, r := range rows {
		fmt.Printf("%-*s", w, r.name)
		for _, impl := range impls {
			var vals []string
			for _, x := range res[impl] {
				vals = append(vals, r.get(x))
			}
			fmt.Printf(" | %-28s", strings.Join(vals, ", "))
		}
		fmt.Println()
	}
	fmt.Println()
}
