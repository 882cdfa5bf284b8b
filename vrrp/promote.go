package vrrp

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// IfaceSysctls reads and writes an interface's net.ipv4.conf sysctls in
// the node's namespace (promote_secondaries, the VMAC's settings).
type IfaceSysctls interface {
	Get(ifname, key string) (string, error)
	Set(ifname, key, value string) error
}

// procConf implements IfaceSysctls with /proc/sys; the paths are per
// namespace, so they are opened on a thread inside it.
type procConf struct{ ns *nsHandle }

func (c procConf) do(fn func() error) error {
	if c.ns == nil {
		return fn()
	}
	return c.ns.do(fn)
}

func confPath(ifname, key string) string {
	return "/proc/sys/net/ipv4/conf/" + ifname + "/" + key
}

func (c procConf) Set(ifname, key, value string) error {
	err := c.do(func() error { return os.WriteFile(confPath(ifname, key), []byte(value), 0o644) })
	if err != nil {
		return fmt.Errorf("sysctl net.ipv4.conf.%s.%s: %w", ifname, key, err)
	}
	return nil
}

func (c procConf) Get(ifname, key string) (string, error) {
	var out string
	err := c.do(func() error {
		b, err := os.ReadFile(confPath(ifname, key))
		out = strings.TrimSpace(string(b))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("sysctl net.ipv4.conf.%s.%s: %w", ifname, key, err)
	}
	return out, nil
}

// syncPromote is keepalived 2.2.7's promote_secondaries (vrrp/vrrp.c,
// vrrp_complete_init and restore_interface; vrrp/vrrp_if_config.c): while
// an instance with it runs, its interface has promote_secondaries=1, so
// that removing the interface's primary address promotes a VIP of the
// same subnet instead of deleting every secondary with it. A value lvsctl
// changed from 0 is put back when the last such instance goes (closing:
// all of them). Failures are logged; VRRP runs on.
func (n *Node) syncPromote(closing bool) {
	want := map[string]bool{}
	if !closing {
		for _, in := range n.insts {
			if !in.removed && in.cfg.PromoteSecondaries {
				want[in.cfg.Interface] = true
			}
		}
	}
	if n.conf == nil {
		if len(want) > 0 {
			n.log.Error("promote_secondaries: the node has no interface sysctls (WithIfaceSysctls)")
		}
		return
	}
	for _, ifname := range sortedKeys(want) {
		if _, ok := n.promoted[ifname]; ok {
			continue
		}
		v, err := n.conf.Get(ifname, "promote_secondaries")
		if err != nil {
			n.log.Error("promote_secondaries: cannot read the interface's setting", "interface", ifname, "err", err)
			continue
		}
		changed := false
		if v == "0" {
			if err := n.conf.Set(ifname, "promote_secondaries", "1"); err != nil {
				n.log.Error("promote_secondaries: cannot set it", "interface", ifname, "err", err)
				continue
			}
			changed = true
			n.log.Info("promote_secondaries set", "interface", ifname)
		}
		n.promoted[ifname] = changed
	}
	for _, ifname := range sortedKeys(n.promoted) {
		if want[ifname] {
			continue
		}
		if n.promoted[ifname] {
			if err := n.conf.Set(ifname, "promote_secondaries", "0"); err != nil {
				n.log.Error("promote_secondaries: cannot put it back to 0", "interface", ifname, "err", err)
			} else {
				n.log.Info("promote_secondaries put back to 0", "interface", ifname)
			}
		}
		delete(n.promoted, ifname)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
