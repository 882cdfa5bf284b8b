package director

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Fingerprint identifies what a consistent-hashing scheduler (mh, sh)
// hashes on: the service (key, scheduler, flags, persistence) and its
// destinations in canonical order with their weights and forwarding
// methods. Directors that serve one VIP behind an ECMP router must pick the
// same real server for every flow, so their fingerprints must be equal:
// operators alert when they differ (docs/bgp.md). It is the first 16 hex
// digits of a SHA-256 over a fixed binary encoding, stable across
// versions of lvsctl for the same table.
func Fingerprint(ts *TableService) string {
	h := sha256.New()
	var b []byte
	s := ts.Service
	b = binary.BigEndian.AppendUint16(b, uint16(s.Key.Family))
	b = binary.BigEndian.AppendUint16(b, uint16(s.Key.Protocol))
	b = append(b, s.Key.Addr.AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, s.Key.Port)
	b = binary.BigEndian.AppendUint32(b, s.Key.FWMark)
	b = append(b, s.Scheduler...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint32(b, s.Flags&^FlagHashed)
	b = binary.BigEndian.AppendUint32(b, s.Timeout)
	b = binary.BigEndian.AppendUint32(b, s.Netmask)
	h.Write(b)
	for _, d := range sortedDests(ts.Dests) {
		b = b[:0]
		b = append(b, d.Addr.Unmap().AsSlice()...)
		b = binary.BigEndian.AppendUint16(b, d.Port)
		b = binary.BigEndian.AppendUint32(b, uint32(d.Weight))
		b = binary.BigEndian.AppendUint32(b, uint32(d.Forward&fwdMask))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// Quorums reports whether each managed service has quorum, without
// reading the kernel: cheap enough to poll (the BGP announcements follow
// it).
func (d *Director) Quorums() map[ServiceKey]bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[ServiceKey]bool, len(d.services))
	for _, vs := range d.services {
		out[vs.cfg.Service.Key] = vs.quorumUp
	}
	return out
}
