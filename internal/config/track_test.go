package config

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/internal/trackfile"
	"github.com/lvsctl/lvsctl/vrrp"
)

const trackConf = `track_file prio {
    file /run/lvsctl/prio
    weight -10 reverse
    init_file 5 overwrite
}
vrrp_track_file down {
    file /run/lvsctl/down
}
vrrp_track_process nginx {
    process nginx
    weight 20
    quorum 2
    quorum_max 4
    delay 1.5
    fork_delay 0.5
}
vrrp_track_process haproxy {
    process /usr/sbin/haproxy -f /etc/haproxy.cfg
    param_match partial
}
vrrp_sync_group G {
    group {
        VI_1
    }
    track_file {
        down weight 0
    }
    track_process {
        haproxy
    }
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.100
    }
    track_file {
        prio
        down weight 3 noreverse
    }
    track_process {
        nginx weight -7
    }
}
`

func TestTrackBlocksDecode(t *testing.T) {
	cfg, warns, err := parseString(trackConf, nil)
	require.NoError(t, err)
	require.Len(t, warns, 2)
	assert.Equal(t, "/etc/keepalived/t.conf:6:1: warning: vrrp_track_file is deprecated (in keepalived too): write track_file; accepted with the same meaning", warns[0].String())
	require.Len(t, cfg.TrackFiles, 2)
	f := cfg.TrackFiles[0]
	assert.Equal(t, TrackFile{Pos: f.Pos, Name: "prio", File: "/run/lvsctl/prio", Weight: -10, Reverse: true, Init: "overwrite", InitValue: 5}, f)
	assert.Equal(t, 1, cfg.TrackFiles[1].Weight, "keepalived's default weight is 1")
	require.Len(t, cfg.TrackProcesses, 2)
	p := cfg.TrackProcesses[0]
	assert.Equal(t, TrackProcess{Pos: p.Pos, Name: "nginx", Process: "nginx", Weight: 20, Quorum: 2, QuorumMax: 4,
		ForkDelay: 500 * time.Millisecond, TerminateDelay: 1500 * time.Millisecond}, p)
	h := cfg.TrackProcesses[1]
	assert.Equal(t, []string{"-f", "/etc/haproxy.cfg"}, h.Params)
	assert.Equal(t, "partial", h.ParamMatch)
	assert.True(t, h.FullCommand, "parameters imply full_command")
	assert.Equal(t, 1, h.Quorum)
	assert.Equal(t, NoQuorumMax, h.QuorumMax)

	v := cfg.VRRP()
	require.NoError(t, v.Validate())
	assert.Equal(t, []vrrp.TrackFileConfig{
		{Name: "prio", Path: "/run/lvsctl/prio", Weight: -10, Reverse: true, InitMode: trackfile.InitOverwrite, InitValue: 5},
		{Name: "down", Path: "/run/lvsctl/down", Weight: 1},
	}, v.TrackFiles)
	assert.Equal(t, vrrp.ParamPartial, v.TrackProcesses[1].ParamMatch)
	assert.Equal(t, defaultProcessScan, v.ProcessScan)
	in := v.Instances[0]
	// The block's weight and direction apply without the entry's own; the
	// sync group's entry for a file the instance tracks itself is dropped.
	assert.Equal(t, []vrrp.TrackRef{{Name: "prio", Weight: -10, Reverse: true}, {Name: "down", Weight: 3}}, in.TrackFiles)
	assert.Equal(t, []vrrp.TrackRef{{Name: "nginx", Weight: -7}, {Name: "haproxy"}}, in.TrackProcesses)
}

func TestTrackTextRoundTrip(t *testing.T) {
	cfg, _, err := parseString(trackConf, nil)
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, WriteText(&b, cfg))
	again, _, err := parseString(b.String(), nil)
	require.NoError(t, err, b.String())
	assert.Equal(t, cfg.VRRP(), again.VRRP())
}

func TestTrackErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"undefined file", "vrrp_instance VI {\n interface eth0\n virtual_router_id 1\n track_file {\n  nope\n }\n}\n",
			[]string{"t.conf:5:3: track_file nope: no track_file block of that name"}},
		{"undefined process in group", "vrrp_sync_group G {\n group {\n  VI\n }\n track_process {\n  nope weight 2\n }\n}\nvrrp_instance VI {\n interface eth0\n virtual_router_id 1\n}\n",
			[]string{"t.conf:6:3: track_process nope: no vrrp_track_process of that name"}},
		{"file twice", "track_file a {\n file /x\n}\ntrack_file a {\n file /y\n}\n",
			[]string{"t.conf:4:1: track_file a defined twice (first at /etc/keepalived/t.conf:1:1)"}},
		{"no file", "track_file a {\n weight 2\n}\n",
			[]string{"t.conf:1:1: track_file a has no file"}},
		{"weight range", "track_file a {\n file /x\n weight 300\n}\n",
			[]string{"t.conf:3:9: weight 300 out of range"}},
		{"bad reverse", "track_file a {\n file /x\n weight 3 backwards\n}\n",
			[]string{"t.conf:3:11: weight: expected \"reverse\""}},
		{"bad entry", "track_file a {\n file /x\n}\nvrrp_instance VI {\n interface eth0\n virtual_router_id 1\n track_file {\n  a weight\n }\n}\n",
			[]string{"t.conf:8:5: track_file entry: expected NAME [weight N [reverse|noreverse]]"}},
		{"entry direction", "track_file a {\n file /x\n}\nvrrp_instance VI {\n interface eth0\n virtual_router_id 1\n track_file {\n  a weight 2 sideways\n }\n}\n",
			[]string{"t.conf:8:14: track_file entry: expected \"reverse\" or \"noreverse\""}},
		{"tracked twice", "track_file a {\n file /x\n}\nvrrp_instance VI {\n interface eth0\n virtual_router_id 1\n track_file {\n  a\n  a\n }\n}\n",
			[]string{"t.conf:9:3: vrrp_instance VI tracks track_file a twice"}},
		{"no process", "vrrp_track_process p {\n weight 2\n}\n",
			[]string{"t.conf:1:1: vrrp_track_process p has no process"}},
		{"quorum above max", "vrrp_track_process p {\n process x\n quorum 3\n quorum_max 2\n}\n",
			[]string{"t.conf:1:1: vrrp_track_process p: quorum 3 is above quorum_max 2"}},
		{"param_match", "vrrp_track_process p {\n process x\n param_match most\n}\n",
			[]string{"t.conf:3:14: param_match: \"most\" is not initial or partial"}},
		{"delay range", "vrrp_track_process p {\n process x\n terminate_delay 4000\n}\n",
			[]string{"t.conf:3:18: terminate_delay 4000 out of range"}},
		{"init_file value", "track_file a {\n file /x\n init_file lots\n}\n",
			[]string{"t.conf:3:12: init_file value: \"lots\" is not an integer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parseString(tc.src, nil)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestTrackQuorumMaxZero: quorum_max 0 alone tracks that no process
// runs (keepalived's vrrp_tprocess_quorum_max_handler).
func TestTrackQuorumMaxZero(t *testing.T) {
	cfg, _, err := parseString("vrrp_track_process p {\n process x\n quorum_max 0\n}\n", nil)
	require.NoError(t, err)
	assert.Equal(t, 0, cfg.TrackProcesses[0].Quorum)
	assert.Equal(t, 0, cfg.TrackProcesses[0].QuorumMax)
	assert.True(t, strings.Contains(func() string { var b bytes.Buffer; _ = WriteText(&b, cfg); return b.String() }(), "quorum_max 0"))
}
