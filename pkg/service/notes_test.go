package service

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// A private note reaches the workspace's agents (the mentioned one, who is
// not in the conversation, among them) and never the visitor: not live,
// not on resume, not in the history, and it takes no seq.
func TestNoteNeverReachesTheVisitor(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		ag := admin.socket(t)
		bob := admin.newAgent(t, "Bob", map[string]any{"role": "agent"})
		bobLive := bob.socket(t)

		v := ts.visitor(t)
		v.hello(nil)
		conv := v.start()
		first := v.sendMsg(conv.ID, "m1", "my order is late")

		const secret = "refund approved quietly"
		var created struct{ Note protocol.NoteInfo }
		if code := admin.call(t, "POST", "/api/conversations/"+conv.ID+"/notes", map[string]string{"body": secret + ", @BOB can you check?"}, &created); code != http.StatusCreated {
			t.Fatalf("note: %d", code)
		}
		if created.Note.AfterSeq != first.Seq || len(created.Note.Mentions) != 1 || created.Note.Mentions[0] != bob.id {
			t.Fatalf("note %+v: want after seq %d mentioning bob", created.Note, first.Seq)
		}

		// Bob, who is not in the conversation, is told live, and lists it.
		var live protocol.Note
		bobLive.next(protocol.TypeNote, &live)
		if live.Note.ID != created.Note.ID || live.Note.Author.Name == "" || live.Note.Mentions[0] != bob.id {
			t.Fatalf("bob's note frame %+v", live)
		}
		var ms struct {
			Mentions []struct {
				ID           string
				Conversation string
				Read         bool
			}
		}
		if code := bob.call(t, "GET", "/api/mentions", nil, &ms); code != 200 || len(ms.Mentions) != 1 || ms.Mentions[0].Conversation != conv.ID || ms.Mentions[0].Read {
			t.Fatalf("bob's mentions: %d %+v", code, ms)
		}
		if code := bob.call(t, "POST", "/api/mentions/read", nil, nil); code != http.StatusNoContent {
			t.Fatalf("read mentions: %d", code)
		}
		if bob.call(t, "GET", "/api/mentions", nil, &ms); !ms.Mentions[0].Read {
			t.Fatal("mention still unread")
		}
		// The admin's dashboard gets the note too.
		ag.next(protocol.TypeNote, nil)

		// The visitor: the agent's next reply comes with seq first+1 and
		// nothing of the note arrives before it.
		reply := ag.sendMsg(conv.ID, "r1", "Let me look.")
		if reply.Seq != first.Seq+1 {
			t.Fatalf("reply seq %d: a note must not take a seq", reply.Seq)
		}
		v.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			_, data, err := v.ws.ReadMessage()
			if err != nil {
				t.Fatalf("visitor: %v", err)
			}
			if bytes.Contains(data, []byte(secret)) || bytes.Contains(data, []byte(`"note"`)) {
				t.Fatalf("the visitor received the note: %s", data)
			}
			var m protocol.Message
			if json.Unmarshal(data, &m) == nil && m.Type == protocol.TypeMessage && m.Seq == reply.Seq {
				break
			}
		}
		// The visitor's resume from 0 (as after a reconnect) brings the
		// messages only.
		v.send(protocol.Resume{Envelope: protocol.Envelope{Type: protocol.TypeResume, Ref: "r"}, Conversations: map[string]int64{conv.ID: 0}})
		v.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		seen := 0
		for {
			_, data, err := v.ws.ReadMessage()
			if err != nil {
				t.Fatalf("visitor resume: %v", err)
			}
			if bytes.Contains(data, []byte(secret)) {
				t.Fatalf("the visitor's resume carried the note: %s", data)
			}
			var env protocol.Envelope
			json.Unmarshal(data, &env)
			if env.Type == protocol.TypeMessage {
				seen++
			}
			if env.Type == protocol.TypeSynced {
				break
			}
		}
		if seen < 2 {
			t.Fatalf("resume brought %d messages, want the 2 and more system ones", seen)
		}

		// The agents' history of messages does not carry it either (notes
		// are listed apart).
		var hist struct{ Messages []protocol.Message }
		admin.call(t, "GET", "/api/conversations/"+conv.ID+"/messages", nil, &hist)
		for _, m := range hist.Messages {
			if bytes.Contains([]byte(m.Body), []byte(secret)) {
				t.Fatal("the note is in the message history")
			}
		}
		var notes struct{ Notes []protocol.NoteInfo }
		if code := bob.call(t, "GET", "/api/conversations/"+conv.ID+"/notes", nil, &notes); code != 200 || len(notes.Notes) != 1 || notes.Notes[0].Body != created.Note.Body {
			t.Fatalf("notes: %d %+v", code, notes)
		}
		// Empty and oversized notes are refused.
		var e struct{ Code string }
		if code := admin.call(t, "POST", "/api/conversations/"+conv.ID+"/notes", map[string]string{"body": "  "}, &e); code != 400 || e.Code != protocol.CodeInvalid {
			t.Fatalf("empty note: %d %q", code, e.Code)
		}
	})
}

func TestMentionedNames(t *testing.T) {
	gone := time.Now()
	agents := []store.Agent{{ID: "ann", Name: "Ann"}, {ID: "annlee", Name: "Ann Lee"}, {ID: "bob", Name: "Bob"}, {ID: "old", Name: "Old", DisabledAt: &gone}}
	for _, tc := range []struct {
		body string
		want []string
	}{
		{"@Ann please", []string{"ann"}},
		{"@ann lee and @BOB", []string{"annlee", "bob"}},
		{"@Ann Lee only", []string{"annlee"}},
		{"@Annie is not Ann", nil},
		{"mail ann@x.test", nil},
		{"@Old left", nil},
		{"@Bob, @Bob again", []string{"bob"}},
	} {
		got := mentioned(tc.body, agents)
		if len(got) != len(tc.want) {
			t.Errorf("%q: %v, want %v", tc.body, got, tc.want)
			continue
		}
		for _, id := range tc.want {
			if !slices.Contains(got, id) {
				t.Errorf("%q: %v, want %v", tc.body, got, tc.want)
			}
		}
	}
}

// Team replies are listed to all and changed by admins and supervisors;
// personal ones are their agent's alone; notification settings are each
// agent's own and all required.
func TestCannedRepliesAndNotifySettingsAPI(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.signIn(t, "admin@parley.local", adminPassword)
		kim := admin.newAgent(t, "Kim", map[string]any{"role": "agent"})
		var team, own struct{ Canned cannedJSON }
		if code := admin.call(t, "POST", "/api/canned", map[string]string{"shortcut": "/Thanks", "body": "Thanks {{visitor.name}}!", "scope": "team"}, &team); code != http.StatusCreated || team.Canned.Shortcut != "thanks" {
			t.Fatalf("team reply: %d %+v", code, team)
		}
		var e struct{ Code string }
		if code := kim.call(t, "POST", "/api/canned", map[string]string{"shortcut": "x", "body": "y", "scope": "team"}, &e); code != http.StatusForbidden {
			t.Fatalf("an agent's team reply: %d", code)
		}
		if code := kim.call(t, "POST", "/api/canned", map[string]string{"shortcut": "has space", "body": "y", "scope": "personal"}, &e); code != 400 || e.Code != protocol.CodeInvalid {
			t.Fatalf("a shortcut with a space: %d %q", code, e.Code)
		}
		if code := kim.call(t, "POST", "/api/canned", map[string]string{"shortcut": "bye", "body": "Bye {{agent.name}}", "scope": "personal"}, &own); code != http.StatusCreated || own.Canned.Scope != "personal" {
			t.Fatalf("personal reply: %d", code)
		}
		if code := kim.call(t, "POST", "/api/canned", map[string]string{"shortcut": "bye", "body": "again", "scope": "personal"}, &e); code != http.StatusConflict {
			t.Fatalf("a taken shortcut: %d", code)
		}
		var list struct{ Canned []cannedJSON }
		kim.call(t, "GET", "/api/canned", nil, &list)
		if len(list.Canned) != 2 {
			t.Fatalf("kim lists %+v", list.Canned)
		}
		admin.call(t, "GET", "/api/canned", nil, &list)
		if len(list.Canned) != 1 || list.Canned[0].ID != team.Canned.ID {
			t.Fatalf("the admin lists %+v: kim's personal reply is hers", list.Canned)
		}
		if code := admin.call(t, "DELETE", "/api/canned/"+own.Canned.ID, nil, &e); code != http.StatusNotFound {
			t.Fatalf("the admin deletes kim's personal reply: %d", code)
		}
		if code := kim.call(t, "PATCH", "/api/canned/"+team.Canned.ID, map[string]string{"shortcut": "t", "body": "b"}, &e); code != http.StatusForbidden {
			t.Fatalf("kim changes a team reply: %d", code)
		}
		if code := kim.call(t, "PATCH", "/api/canned/"+own.Canned.ID, map[string]string{"shortcut": "ciao", "body": "Ciao"}, &own); code != 200 || own.Canned.Shortcut != "ciao" {
			t.Fatalf("kim changes her reply: %d %+v", code, own)
		}
		if code := kim.call(t, "DELETE", "/api/canned/"+own.Canned.ID, nil, nil); code != http.StatusNoContent {
			t.Fatalf("kim deletes her reply: %d", code)
		}

		var prefs struct{ Notifications notifyJSON }
		if code := kim.call(t, "GET", "/api/me/notifications", nil, &prefs); code != 200 || prefs.Notifications.Desktop || !prefs.Notifications.Sound {
			t.Fatalf("default settings: %d %+v", code, prefs)
		}
		if code := kim.call(t, "PUT", "/api/me/notifications", map[string]bool{"desktop": true}, &e); code != 400 {
			t.Fatalf("a partial settings body: %d", code)
		}
		want := notifyJSON{Desktop: true, Sound: false, Assigned: true, Mentions: true, Messages: false}
		if code := kim.call(t, "PUT", "/api/me/notifications", want, nil); code != 200 {
			t.Fatalf("save settings: %d", code)
		}
		kim.call(t, "GET", "/api/me/notifications", nil, &prefs)
		if prefs.Notifications != want {
			t.Fatalf("saved %+v, want %+v", prefs.Notifications, want)
		}
		admin.call(t, "GET", "/api/me/notifications", nil, &prefs)
		if prefs.Notifications.Desktop {
			t.Fatal("kim's settings changed the admin's")
		}
	})
}
