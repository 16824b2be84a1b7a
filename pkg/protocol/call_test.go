package protocol

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeCall(t *testing.T) {
	for _, tc := range []struct {
		frame string
		ok    bool
	}{
		{`{"type":"call","conversation":"c1","action":"start","kind":"voice"}`, true},
		{`{"type":"call","conversation":"c1","action":"start","kind":"screen"}`, true},
		{`{"type":"call","conversation":"c1","action":"accept","id":"k1"}`, true},
		{`{"type":"call","conversation":"c1","action":"mute"}`, true},
		{`{"type":"call","conversation":"c1","action":"start"}`, false},                // no kind
		{`{"type":"call","conversation":"c1","action":"start","kind":"video"}`, false}, // unknown kind
		{`{"type":"call","action":"hangup"}`, false},                                   // no conversation
		{`{"type":"call","conversation":"c1","action":"transfer"}`, false},             // unknown action
		{`{"type":"call","conversation":"c1","action":"accept","id":"` + strings.Repeat("x", 65) + `"}`, false},
	} {
		f, err := Decode([]byte(tc.frame))
		if tc.ok {
			if _, isCall := f.(*Call); err != nil || !isCall {
				t.Errorf("Decode(%s) = %T, %v; want a call frame", tc.frame, f, err)
			}
			continue
		}
		var de *DecodeError
		if !errors.As(err, &de) || de.Code != CodeInvalid {
			t.Errorf("Decode(%s): err = %v; want an invalid-frame error", tc.frame, err)
		}
	}
}
