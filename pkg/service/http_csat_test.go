package service

import (
	"context"
	"net/http"
	"testing"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// A visitor rates the chat that ended, with a comment; the rating is stored
// with the conversation (the comment sealed), reaches the agents live, and
// comes back in the conversation's info. A chat still open, another
// visitor's chat and a rating out of 1–5 are refused.
func TestVisitorRatesEndedChat(t *testing.T) {
	for name, st := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			ts := newTestServer(t, st)
			ag, _ := ts.agent(t)
			ag.hello(nil)
			v, token := ts.visitorOnPage(t, "https://shop.example/")
			conv := v.start()
			rate := func(tok, conv string, rating int, comment string) int {
				return ts.widgetPost(t, "/api/widget/csat", map[string]any{"token": tok, "conversation": conv, "rating": rating, "comment": comment}, nil)
			}
			if code := rate(token, conv.ID, 5, ""); code != http.StatusNotFound {
				t.Fatalf("rating an open chat: %d, want 404", code)
			}
			v.send(protocol.Close{Envelope: protocol.Envelope{Type: protocol.TypeClose}, Conversation: conv.ID})
			for {
				var f protocol.Conversation
				v.next(protocol.TypeConversation, &f)
				if f.Conversation.ID == conv.ID && f.Conversation.Status == protocol.ConversationClosed {
					break
				}
			}
			for _, bad := range []int{0, 6, -1} {
				if code := rate(token, conv.ID, bad, ""); code != http.StatusBadRequest {
					t.Fatalf("rating %d: %d, want 400", bad, code)
				}
			}
			_, stranger := ts.visitorOnPage(t, "https://shop.example/")
			if code := rate(stranger, conv.ID, 1, "not mine"); code != http.StatusNotFound {
				t.Fatalf("another visitor's rating: %d, want 404", code)
			}
			if code := rate(token, conv.ID, 4, "  Quick and kind.  "); code != http.StatusOK {
				t.Fatalf("rating: %d", code)
			}
			// The agents hear it live.
			for {
				var f protocol.Conversation
				ag.next(protocol.TypeConversation, &f)
				if f.Conversation.ID == conv.ID && f.Conversation.CsatRating == 4 {
					if f.Conversation.CsatComment != "Quick and kind." {
						t.Fatalf("comment heard by agents: %q", f.Conversation.CsatComment)
					}
					break
				}
			}
			sc := st.Workspace(ts.site.WorkspaceID)
			c, err := sc.Conversation(ctx, conv.ID)
			if err != nil || c.CsatRating != 4 || c.CsatComment != "Quick and kind." || c.CsatAt == nil {
				t.Fatalf("stored: %+v %v", c, err)
			}
			// Another workspace's store does not see it rated.
			if err := st.Workspace("another-workspace").RateConversation(ctx, conv.ID, c.VisitorID, 1, "", c.CreatedAt); err != store.ErrNotFound {
				t.Fatalf("rating through another workspace: %v, want not found", err)
			}
		})
	}
}
