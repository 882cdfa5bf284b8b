// Package directorvm compares lvsctl's director with keepalived's checker on
// the real kernel inside the test VM: the same keepalived.conf of 1,000
// virtual services × 10 real servers, cold start and a one-weight reload
// timed from outside the daemon by watching the kernel's IPVS table, and the
// daemons' memory. Its only test has the vm build tag and is run by
// bench/director.sh (it needs keepalived in the guest: vmrun -host-bin).
package directorvm
