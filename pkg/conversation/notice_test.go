package conversation

import (
	"slices"
	"testing"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// A system notice's frame carries its template and value, so the widget can
// write it in the visitor's language; other system messages (a call's
// record, an agent's summary) and people's messages carry none.
func TestNoticeFrames(t *testing.T) {
	for _, c := range []struct {
		kind, body, notice string
		args               []string
	}{
		{protocol.AuthorSystem, Notice(NoticeJoined, "Ann Lee"), NoticeJoined, []string{"Ann Lee"}},
		{protocol.AuthorSystem, Notice(NoticeTransferred, "Bob"), NoticeTransferred, []string{"Bob"}},
		{protocol.AuthorSystem, NoticeHandoff, NoticeHandoff, nil},
		{protocol.AuthorSystem, NoticeRelaxedLanguage, NoticeRelaxedLanguage, nil},
		{protocol.AuthorSystem, NoticeRelaxedSkill, NoticeRelaxedSkill, nil},
		{protocol.AuthorSystem, "Voice call started: Ana called Zoé", "", nil},
		{protocol.AuthorSystem, " joined the chat", "", nil},
		{protocol.AuthorVisitor, "Bob joined the chat", "", nil},
	} {
		f := MessageFrame(store.Message{AuthorKind: c.kind, Body: c.body})
		if f.Notice != c.notice || !slices.Equal(f.Args, c.args) || f.Body != c.body {
			t.Errorf("%s %q: notice %q args %q, want %q %q", c.kind, c.body, f.Notice, f.Args, c.notice, c.args)
		}
	}
}
