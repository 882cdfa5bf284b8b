package alert

import (
	"fmt"
	"net/netip"
)

// The subjects and bodies below are keepalived 2.2.7's (core/smtp.c
// smtp_alert for the subjects; vrrp/vrrp_notify.c vrrp_smtp_notifier and
// vrrp_sync_smtp_notifier, check/check_*.c and check/ipwrapper.c for the
// bodies), so filters written for keepalived's mails keep working.

// VRRPState is a VRRP state as the mails name it.
type VRRPState string

// The states keepalived mails (vrrp_notify.c).
const (
	Master VRRPState = "MASTER"
	Backup VRRPState = "BACKUP"
	Fault  VRRPState = "FAULT"
)

// VRRPInstance is the mail of a vrrp_instance entering state:
// "[router_id] VRRP Instance NAME - Entering STATE state". ok is false for
// a state keepalived sends no mail for.
func VRRPInstance(routerID, name string, state VRRPState) (m Message, ok bool) {
	var body string
	switch state {
	case Master:
		body = "=> VRRP Instance is now owning VRRP VIPs <="
	case Backup, Fault:
		body = "=> VRRP Instance is no longer owning VRRP VIPs <="
	default:
		return Message{}, false
	}
	return Message{Subject: fmt.Sprintf("[%s] VRRP Instance %s - Entering %s state", routerID, name, state), Body: body}, true
}

// VRRPGroup is the mail of a vrrp_sync_group whose instances all entered
// state: "[router_id] VRRP Group NAME - Entering STATE state".
func VRRPGroup(routerID, name string, state VRRPState) (m Message, ok bool) {
	switch state {
	case Master, Backup, Fault:
	default:
		return Message{}, false
	}
	body := fmt.Sprintf("=> All VRRP group instances are now in %s state <=", state)
	return Message{Subject: fmt.Sprintf("[%s] VRRP Group %s - Entering %s state", routerID, name, state), Body: body}, true
}

// Endpoint is an address, port and protocol as keepalived prints them in
// mails ("[10.16.8.8]:tcp:80"; inet_sockaddrtotrio).
type Endpoint struct {
	Addr netip.Addr
	Port uint16
	// Proto is "tcp", "udp" or "sctp".
	Proto string
	// FWMark, when not 0, names a firewall-mark service ("FWM 5").
	FWMark uint32
}

func (e Endpoint) String() string {
	if e.FWMark != 0 {
		return fmt.Sprintf("FWM %d", e.FWMark)
	}
	return fmt.Sprintf("[%s]:%s:%d", e.Addr, e.Proto, e.Port)
}

// RealServer is the mail of a real server going up or down:
// "[router_id] Realserver RS of virtual server VS - UP|DOWN", with
// keepalived's "=> … <=" body around detail (the check's result).
func RealServer(routerID string, rs, vs Endpoint, up bool, detail string) Message {
	state, body := "DOWN", "=> CHECK failed on service <="
	if up {
		state, body = "UP", "=> CHECK succeed on service <="
	}
	if detail != "" {
		body = Body(detail)
	}
	return Message{Subject: fmt.Sprintf("[%s] Realserver %s of virtual server %s - %s", routerID, rs, vs, state), Body: body}
}

// VirtualServer is the mail of a virtual server's quorum:
// "[router_id] Virtualserver VS - UP|DOWN" (core/smtp.c SMTP_MSG_VS).
func VirtualServer(routerID string, vs Endpoint, up bool, body string) Message {
	state := "DOWN"
	if up {
		state = "UP"
	}
	return Message{Subject: fmt.Sprintf("[%s] Virtualserver %s - %s", routerID, vs, state), Body: body}
}

// QuorumBody is the body of a quorum mail, as keepalived 2.2.7 writes it
// (check/ipwrapper.c do_vs_notifies), its "+" and "<=" kept whichever way
// the quorum went: "=> Lost quorum 3+1=2 <= 1 <=".
func QuorumBody(up, init bool, quorum, hysteresis, threshold, weight int) string {
	what := map[[2]bool]string{
		{true, true}: "Starting with quorum up", {true, false}: "Gained quorum",
		{false, true}: "Starting with quorum down", {false, false}: "Lost quorum",
	}[[2]bool{up, init}]
	return fmt.Sprintf("=> %s %d+%d=%d <= %d <=", what, quorum, hysteresis, threshold, weight)
}

// ShuttingDown and Removing are what keepalived says of a real server
// (and, with omega, a virtual server) taken out at stop, and of a real
// server that a reload drops while it is up (check/ipwrapper.c
// clear_service_rs, do_vs_notifies).
const (
	ShuttingDown = "Shutting down"
	Removing     = "Removing"
)

// Body is detail as keepalived's bodies put it: "=> detail <=".
func Body(detail string) string { return "=> " + detail + " <=" }
