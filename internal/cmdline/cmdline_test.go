package cmdline

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  error
	}{
		{"/bin/check", []string{"/bin/check"}, nil},
		{"  /bin/check  -a   b ", []string{"/bin/check", "-a", "b"}, nil},
		{`/bin/check 'a b' "c d"`, []string{"/bin/check", "a b", "c d"}, nil},
		{`/bin/check a\ b`, []string{"/bin/check", "a b"}, nil},
		{`x "a \"q\" \$HOME \n"`, []string{"x", `a "q" $HOME \n`}, nil},
		{`x 'it''s'`, []string{"x", "its"}, nil},
		{`x ""`, []string{"x", ""}, nil},
		{`x $HOME; rm -rf /`, []string{"x", "$HOME;", "rm", "-rf", "/"}, nil},
		{`x 'open`, nil, ErrUnterminatedQuote},
		{`x "open`, nil, ErrUnterminatedQuote},
		{"", nil, nil},
	}
	for _, tc := range tests {
		got, err := Split(tc.in)
		if tc.err != nil {
			assert.ErrorIs(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestArgv(t *testing.T) {
	tests := []struct {
		in    string
		want  []string
		shell bool
	}{
		{`/usr/local/keepalived/etc/keepalived/notify.sh master`, []string{"/usr/local/keepalived/etc/keepalived/notify.sh", "master"}, false},
		{`killall -0 nginx`, []string{"killall", "-0", "nginx"}, false},
		{`  /bin/x  'a b'  "c \"d\""  e\ f`, []string{"/bin/x", "a b", `c "d"`, "e f"}, false},
		{`pidof nginx || exit 1`, []string{"/bin/sh", "-c", "pidof nginx || exit 1"}, true},
		{`echo $HOSTNAME > /tmp/x`, []string{"/bin/sh", "-c", "echo $HOSTNAME > /tmp/x"}, true},
	}
	for _, tc := range tests {
		argv, shell, err := Argv(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, argv, tc.in)
		assert.Equal(t, tc.shell, shell, tc.in)
	}
	_, _, err := Argv("  ")
	assert.ErrorIs(t, err, ErrEmpty)
	_, _, err = Argv(`/bin/x 'open`)
	assert.ErrorIs(t, err, ErrUnterminatedQuote)
}
