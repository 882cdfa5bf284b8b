// Package realserver turns a host into an LVS direct-routing real server and
// back: it binds the virtual IPs (VIPs) as host routes on lo, so the host
// accepts packets the director forwards to it unchanged, and sets the ARP
// sysctls (arp_ignore, arp_announce) so the host never answers ARP for, nor
// announces, a VIP that belongs to the director.
//
// Everything it changes is recorded first in a state file (the original value
// of every sysctl it writes, every VIP it adds), so Stop undoes exactly that
// and nothing else: addresses and values that were there before stay.
//
// The kernel is reached through two small interfaces, Sysctls and Addrs, so
// the start/stop/rollback logic is tested against recording fakes (package
// rstest); ProcSysctls and NetlinkAddrs are the real implementations. Both
// act in the network namespace of the calling thread (NetlinkAddrs in that of
// its handle).
package realserver
