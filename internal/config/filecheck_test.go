package config

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/trackfile"
)

// The virtual server comes first: lvsctl resolves track_file names after
// reading the whole file (keepalived needs the block before its use).
const fileCheckConf = `virtual_server 192.0.2.1 80 {
    protocol TCP
    lb_kind DR
    alpha
    real_server 192.0.2.2 80 {
        weight 10
        FILE_CHECK {
            track_file drain
        }
    }
    real_server 192.0.2.3 80 {
        FILE_CHECK {
            track_file drain
            weight 0
        }
        FILE_CHECK {
            track_file load
            weight -3
        }
        FILE_CHECK {
            track_file load
            weight 7 noreverse
        }
    }
}
track_file drain {
    file /run/lvsctl/drain
    weight 5 reverse
    init_file 2
}
track_file load {
    file /run/lvsctl/load
}
`

func TestFileCheckDecode(t *testing.T) {
	cfg, warns, err := parseString(fileCheckConf, nil)
	require.NoError(t, err)
	assert.Empty(t, warns)
	rs := cfg.VirtualServers[0].RealServers
	require.Len(t, rs[0].Checkers, 1)
	c := rs[0].Checkers[0]
	assert.Equal(t, CheckFile, c.Type)
	// Without a weight line, the block's weight and direction.
	assert.Equal(t, &FileChecker{TrackFile: "drain", File: "/run/lvsctl/drain", Weight: 5, Reverse: true, Init: "create", InitValue: 2}, c.File)
	require.Len(t, rs[1].Checkers, 3)
	assert.Equal(t, 0, rs[1].Checkers[0].File.Weight)
	assert.False(t, rs[1].Checkers[0].File.Reverse, "a weight line without reverse is not reversed (check_file.c)")
	assert.Equal(t, -3, rs[1].Checkers[1].File.Weight)
	assert.Equal(t, 7, rs[1].Checkers[2].File.Weight)

	servers, err := HealthServers(cfg)
	require.NoError(t, err)
	require.Len(t, servers, 2)
	assert.Equal(t, 10, servers[0].Weight, "the base FILE_CHECK adds to")
	assert.Equal(t, 1, servers[1].Weight)
	s := servers[0].Checks[0]
	assert.Equal(t, healthcheck.FileCheck, s.Kind)
	assert.True(t, s.Alpha, "the director starts an alpha server down; the first read reports it")
	assert.Equal(t, &healthcheck.FileSpec{Name: "drain", Path: "/run/lvsctl/drain", Weight: 5, Reverse: true,
		InitMode: trackfile.InitCreate, InitValue: 2}, s.File)
	assert.Equal(t, "/run/lvsctl/load", servers[1].Checks[1].Target())
}

func TestFileCheckTextRoundTrip(t *testing.T) {
	cfg, _, err := parseString(fileCheckConf, nil)
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, WriteText(&b, cfg))
	again, _, err := parseString(b.String(), nil)
	require.NoError(t, err, b.String())
	want, err := HealthServers(cfg)
	require.NoError(t, err)
	got, err := HealthServers(again)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestFileCheckErrors(t *testing.T) {
	const head = "track_file tf {\n file /run/tf\n}\nvirtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 192.0.2.2 80 {\n  FILE_CHECK {\n"
	const tail = "  }\n }\n}\n"
	for _, tc := range []struct {
		name, body string
		want       string
	}{
		{"unknown track_file", "   track_file nope\n", "t.conf:8:15: track_file nope: no track_file block of that name (keepalived would ignore the FILE_CHECK)"},
		{"no track_file", "   weight 2\n", "t.conf:7:3: FILE_CHECK has no track_file: keepalived would ignore the checker"},
		{"weight not a number", "   track_file tf\n   weight heavy\n", "t.conf:9:11: FILE_CHECK weight: \"heavy\" is not an integer"},
		{"weight out of range", "   track_file tf\n   weight 2147483648\n", "t.conf:9:11: FILE_CHECK weight 2147483648 out of range -2147483647..2147483647"},
		{"bad direction", "   track_file tf\n   weight 2 backwards\n", "t.conf:9:13: FILE_CHECK weight: expected \"reverse\" or \"noreverse\", got \"backwards\""},
		{"timing keyword", "   track_file tf\n   delay_loop 3\n", "t.conf:9:4: unknown keyword \"delay_loop\" in FILE_CHECK"},
		{"track_file twice", "   track_file tf\n   track_file tf\n", "t.conf:9:4: track_file given twice in FILE_CHECK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parseString(head+tc.body+tail, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "/etc/keepalived/"+tc.want)
		})
	}
}
