package control_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/lvsctl/lvsctl/internal/control"
)

// FuzzDecodeRequest feeds arbitrary bytes to the control socket's request
// decoder: it must never panic, must refuse anything over the size limit,
// and whatever it accepts must encode and decode back to the same request.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"op":"status"}`,
		`{"op":"reload"}` + "\n",
		`{"op":"drain","real":{"service":"TCP 10.16.8.100:80","any_protocol":true,"real":"10.16.8.8:80"}}`,
		`{"op":"enable","real":{"service":"FWM 5","real":"10.16.8.8","any_port":true}}`,
		`{"op":"drain","real":{"service":"udp [2001:db8::1]:53","real":"[2001:db8::8]:53"}}`,
		`{"op":"status"} trailing`,
		`[[[[`,
		`{"op":"drain","real":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := control.DecodeRequest(bytes.NewReader(b))
		if err != nil {
			if len(b) <= control.MaxRequestSize && errors.Is(err, control.ErrRequestTooLarge) {
				t.Fatalf("%d bytes refused as too large", len(b))
			}
			return
		}
		out, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("accepted request does not encode: %v", err)
		}
		back, err := control.DecodeRequest(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("re-encoded request %s does not decode: %v", out, err)
		}
		again, _ := json.Marshal(back)
		if !bytes.Equal(out, again) {
			t.Fatalf("round trip changed the request: %s vs %s", out, again)
		}
	})
}
