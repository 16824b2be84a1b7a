package service

import (
	"net/http"
	"strings"
	"testing"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// Clients' message ids cannot take the system notices' ids: a visitor who
// sends "sys:close" first gets a final invalid error, and the close notice
// still appears when the chat ends (it was taken for a resend of the
// visitor's message, and never stored nor shown).
func TestClientIDsCannotSilenceSystemNotices(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite(t))
	v := ts.visitor(t)
	v.hello(nil)
	conv := v.start()
	for _, id := range []string{"sys:close", "sys:join:someone", "sys:call:x:ring"} {
		v.send(protocol.Send{Envelope: protocol.Envelope{Type: protocol.TypeSend, Ref: id}, ClientID: id, Conversation: conv.ID, Body: "gotcha"})
		if e := v.expectError(protocol.CodeInvalid); e.Retryable || e.Ref != id {
			t.Fatalf("send with client id %s: %+v", id, e)
		}
	}
	v.send(protocol.Close{Envelope: protocol.Envelope{Type: protocol.TypeClose, Ref: "c"}, Conversation: conv.ID})
	for {
		var m protocol.Message
		v.next(protocol.TypeMessage, &m)
		if m.ClientID == "sys:close" {
			if m.Author.Kind != protocol.AuthorSystem || !strings.Contains(m.Body, "ended the chat") {
				t.Fatalf("close notice %+v", m)
			}
			break
		}
	}

	// The offline form's client id likewise.
	req, _ := http.NewRequest("POST", ts.URL+"/api/widget/offline", strings.NewReader(
		`{"token":"`+ts.visitorToken(t)+`","client_id":"sys:join:x","name":"Ada","email":"ada@example.com","message":"hi"}`))
	req.Header.Set("Origin", ts.origin())
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("offline message with a system client id: %d", res.StatusCode)
	}
}
