// Package soak runs `lvsctl director up` for a long time inside the test
// VM under constant churn (1,000 virtual servers × 10 real servers, real
// servers flapping, a reload every 10 s, drift injected every 30 s, VRRP
// against a peer) and prints, every minute, its memory, goroutines,
// descriptors, reload latency, drift repairs and whether the kernel table
// is the desired one. Its only test has the vm build tag and is run by
// bench/soak.sh.
package soak
