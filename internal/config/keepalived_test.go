package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keywordTemplates put a keyword (the line "@@") into each block lvsctl
// decodes.
var keywordTemplates = map[string]string{
	"":                   "@@\n",
	"global_defs":        "global_defs {\n@@\n}\n",
	"vrrp_instance":      "vrrp_instance VI {\n interface eth0\n virtual_router_id 1\n@@\n}\n",
	"vrrp_sync_group":    "vrrp_sync_group G {\n group {\n  VI\n }\n@@\n}\n",
	"vrrp_script":        "vrrp_script s {\n script /bin/true\n@@\n}\n",
	"authentication":     "vrrp_instance VI {\n interface eth0\n virtual_router_id 1\n authentication {\n@@\n }\n}\n",
	"virtual_server":     "virtual_server 192.0.2.1 80 {\n protocol TCP\n@@\n}\n",
	"real_server":        "virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 192.0.2.2 80 {\n@@\n }\n}\n",
	"HTTP_GET":           "virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 192.0.2.2 80 {\n  HTTP_GET {\n@@\n  }\n }\n}\n",
	"SSL_GET":            "virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 192.0.2.2 80 {\n  SSL_GET {\n@@\n  }\n }\n}\n",
	"TCP_CHECK":          "virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 192.0.2.2 80 {\n  TCP_CHECK {\n@@\n  }\n }\n}\n",
	"SMTP_CHECK":         "virtual_server 192.0.2.1 25 {\n protocol TCP\n real_server 192.0.2.2 25 {\n  SMTP_CHECK {\n@@\n  }\n }\n}\n",
	"host":               "virtual_server 192.0.2.1 25 {\n protocol TCP\n real_server 192.0.2.2 25 {\n  SMTP_CHECK {\n   host {\n@@\n   }\n  }\n }\n}\n",
	"DNS_CHECK":          "virtual_server 192.0.2.1 53 {\n protocol UDP\n real_server 192.0.2.2 53 {\n  DNS_CHECK {\n@@\n  }\n }\n}\n",
	"UDP_CHECK":          "virtual_server 192.0.2.1 80 {\n protocol UDP\n real_server 192.0.2.2 80 {\n  UDP_CHECK {\n@@\n  }\n }\n}\n",
	"PING_CHECK":         "virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 192.0.2.2 80 {\n  PING_CHECK {\n@@\n  }\n }\n}\n",
	"MISC_CHECK":         "virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 192.0.2.2 80 {\n  MISC_CHECK {\n@@\n  }\n }\n}\n",
	"FILE_CHECK":         "virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 192.0.2.2 80 {\n  FILE_CHECK {\n@@\n  }\n }\n}\n",
	"track_file":         "track_file tf {\n file /tmp/tf\n@@\n}\n",
	"vrrp_track_file":    "vrrp_track_file tf {\n file /tmp/tf\n@@\n}\n",
	"vrrp_track_process": "vrrp_track_process p {\n process p\n@@\n}\n",
	"SSL":                "SSL {\n@@\n}\n",
	"url":                "virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 192.0.2.2 80 {\n  HTTP_GET {\n   url {\n@@\n   }\n  }\n }\n}\n",
}

// TestKeywordTable: every entry is classified, and the parser does what
// the table says for it, at the keyword's position.
func TestKeywordTable(t *testing.T) {
	table := KeepalivedKeywords()
	seen := map[[2]string]bool{}
	blockClass := map[string]KeywordClass{}
	for _, k := range table {
		if k.Block == "" || k.Block == "real_server" {
			blockClass[k.Name] = k.Class
		}
	}
	for _, k := range table {
		name := k.Block + "/" + k.Name
		require.False(t, seen[[2]string{k.Block, k.Name}], "%s listed twice", name)
		seen[[2]string{k.Block, k.Name}] = true
		require.Contains(t, []KeywordClass{Implemented, Ignored, Unsupported, Misread}, k.Class, name)
		if k.Class != Implemented {
			require.NotEmpty(t, k.Why, "%s: a reason is needed", name)
		}
		tmpl, ok := keywordTemplates[k.Block]
		if !ok {
			// A keyword of a block lvsctl refuses as a whole: the block's
			// own keyword must be refused.
			assert.Equal(t, Unsupported, k.Class, name)
			assert.Equal(t, Unsupported, blockClass[k.Block], "%s: its block must be refused", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			src := strings.Replace(tmpl, "@@", k.Name+" 1", 1)
			line := strings.Count(tmpl[:strings.Index(tmpl, "@@")], "\n") + 1
			_, warns, err := parseString(src, nil)
			var diags []Diagnostic
			diags = append(diags, warns...)
			if list, ok := err.(ErrorList); ok {
				diags = append(diags, list...)
			}
			var at []string
			for _, d := range diags {
				if d.Pos.Line == line {
					at = append(at, d.String())
				}
			}
			joined := strings.Join(at, "\n")
			pos := fmt.Sprintf("t.conf:%d:1: ", line)
			switch k.Class {
			case Implemented:
				for _, bad := range []string{"unknown keyword", "does not support", "accepted, ignored"} {
					assert.NotContains(t, joined, bad)
				}
			case Ignored:
				assert.Contains(t, joined, pos+"warning: accepted, ignored: "+k.Name+" ("+k.Why+")")
			case Unsupported:
				assert.Contains(t, joined, pos+k.Name+" is a keepalived feature lvsctl does not support: "+k.Why)
			case Misread:
				assert.Contains(t, joined, pos+k.Name+" in ")
				assert.Contains(t, joined, k.Why)
			}
		})
	}
	// The static keyword tables of the parser hold keepalived keywords
	// only (the lvsctl extensions rise/fall live in the checkers).
	for key := range vsKeywords {
		if lvsctlExtensions["virtual_server"][key] {
			continue
		}
		k, ok := lookupKeyword("virtual_server", key)
		assert.True(t, ok && k.Class == Implemented, "virtual_server %s is decoded but not Implemented in the table", key)
	}
	for key := range rsKeywords {
		k, ok := lookupKeyword("real_server", key)
		assert.True(t, ok && k.Class == Implemented, "real_server %s is decoded but not Implemented in the table", key)
	}
}

// TestKeywordSuggestions: a misspelt keyword gets a suggestion among the
// keywords keepalived knows in that block, never a different real one.
func TestKeywordSuggestions(t *testing.T) {
	_, _, err := parseString(keywordTemplates["vrrp_instance"][:0]+"vrrp_instance VI {\n interface eth0\n virtual_router_id 1\n mcast_dst_ip 224.0.0.1\n unicst_peer {\n }\n}\n", nil)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, `t.conf:4:2: mcast_dst_ip is a keepalived feature lvsctl does not support: per-instance multicast groups`)
	assert.NotContains(t, msg, `did you mean "mcast_src_ip"`)
	assert.Contains(t, msg, `t.conf:5:2: unknown keyword "unicst_peer" in vrrp_instance VI (did you mean "unicast_peer"?); keepalived would ignore the line`)
}

// sampleOutcome is what lvsctl does with one of keepalived's samples:
// load it, or refuse it with exactly these errors ("LINE:COL: prefix").
var sampleOutcomes = map[string][]string{
	"keepalived.conf.HTTP_GET.port":        nil,
	"keepalived.conf.IPv6":                 nil,
	"keepalived.conf.PING_CHECK":           nil,
	"keepalived.conf.SMTP_CHECK":           nil,
	"keepalived.conf.SSL_GET":              {"20:19: auth_type AH is not supported by lvsctl"},
	"keepalived.conf.UDP_CHECK":            nil,
	"keepalived.conf.conditional_conf":     {"3:7: net_namespace is a keepalived feature lvsctl does not support"},
	"keepalived.conf.fwmark":               nil,
	"keepalived.conf.inhibit":              nil,
	"keepalived.conf.misc_check":           nil,
	"keepalived.conf.misc_check_arg":       nil,
	"keepalived.conf.quorum":               nil,
	"keepalived.conf.sample":               nil,
	"keepalived.conf.status_code":          nil,
	"keepalived.conf.track_interface":      nil,
	"keepalived.conf.virtual_server_group": nil,
	"keepalived.conf.virtualhost":          nil,
	"keepalived.conf.vrrp": {
		"32:9: address 192.168.200.18 listed twice in vrrp_instance VI_1: keepalived would send it twice in adverts",
	},
	"keepalived.conf.vrrp.localcheck": nil,
	"keepalived.conf.vrrp.lvs_syncd": {
		"3:1: vrrp_sync_group VG1 has no group { } block: keepalived would drop the sync group",
		`4:3: unknown keyword "VI_2" in vrrp_sync_group VG1; keepalived would ignore the line`,
		`5:3: unknown keyword "VI_3" in vrrp_sync_group VG1; keepalived would ignore the line`,
	},
	"keepalived.conf.vrrp.routes": nil,
	"keepalived.conf.vrrp.rules": {
		// keepalived cannot read the address either and drops the rule.
		`11:8: static_rules: "192.168.100./24" after to is not ADDR[/LEN] or all`,
		`26:12: virtual_rules: "192.168.200./24" after to is not ADDR[/LEN] or all`,
	},
	"keepalived.conf.vrrp.scripts":          nil,
	"keepalived.conf.vrrp.static_ipaddress": nil,
	"keepalived.conf.vrrp.sync":             nil,
}

// TestKeepalivedSamples pins the outcome of every doc/samples file of
// keepalived 2.2.7 (testdata/keepalived-samples/README.md).
func TestKeepalivedSamples(t *testing.T) {
	dir := "testdata/keepalived-samples"
	files, err := filepath.Glob(filepath.Join(dir, "keepalived.conf.*"))
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	var want []string
	for k := range sampleOutcomes {
		want = append(want, k)
	}
	sort.Strings(want)
	require.Equal(t, want, names, "every sample has an expected outcome")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			// The conditional sample is meant for "keepalived -i high".
			cfg, _, err := Parse(name, src, Options{FS: memFS{}, ConfigID: "high"})
			exp := sampleOutcomes[name]
			if exp == nil {
				require.NoError(t, err)
				_, err := cfg.Desired()
				require.NoError(t, err)
				return
			}
			list, ok := err.(ErrorList)
			require.True(t, ok, "want errors, got %v", err)
			var got []string
			for _, d := range list {
				got = append(got, strings.TrimPrefix(d.String(), name+":"))
			}
			require.Len(t, got, len(exp), strings.Join(got, "\n"))
			for i := range exp {
				assert.True(t, strings.HasPrefix(got[i], exp[i]), "got  %s\nwant %s", got[i], exp[i])
			}
		})
	}
}
