package service

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/parleychat/parley/pkg/protocol"
)

// Typing takes the signals channel when the frame starts with
// typingPrefix: check that the frames the server encodes do, and that no
// other frame does (a message must never go on the lossy channel).
func TestTypingPrefix(t *testing.T) {
	enc := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	typing := enc(protocol.Typing{Envelope: protocol.Envelope{Type: protocol.TypeTyping}, Conversation: "c1", On: true,
		Author: &protocol.Author{ID: "a1", Kind: protocol.AuthorAgent}})
	if !bytes.HasPrefix(typing, typingPrefix) {
		t.Fatalf("typing frame %s does not start with %s", typing, typingPrefix)
	}
	for _, other := range [][]byte{
		enc(protocol.Message{Envelope: protocol.Envelope{Type: protocol.TypeMessage}}),
		enc(protocol.Ack{Envelope: protocol.Envelope{Type: protocol.TypeAck, Ref: "typing"}}),
		[]byte(`{"type":"typing_x"}`),
	} {
		if bytes.HasPrefix(other, typingPrefix) {
			t.Errorf("%s would go on the signals channel", other)
		}
	}
}
