package service

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// The search resource (GET /api/search?q=): the workspace's messages,
// notes, visitors and tags holding every word of q, each hit with the
// conversation it opens and the seq to scroll to. The index holds keyed
// tokens, never words (pkg/store/search.go); messages join it after their
// commit, from runSearchIndex below, so a message is found a few seconds
// after it was sent and the send path writes nothing more.

// searchStore is what the search API needs of one workspace's store.
type searchStore interface {
	Search(ctx context.Context, q store.SearchQuery) (store.SearchResult, error)
	Agents(ctx context.Context) ([]store.Agent, error)
}

type searchAPI struct {
	store func(workspaceID string) searchStore
	infos func(ctx context.Context, workspaceID string, cs []store.Conversation) ([]protocol.ConversationInfo, error)
}

func (s *Server) searchAPI() *searchAPI {
	return &searchAPI{store: func(ws string) searchStore { return s.store.Workspace(ws) }, infos: s.conv.Infos}
}

const (
	searchMaxQuery = 200 // characters of q
	searchDefault  = 20  // hits of each kind
	searchMax      = 50
	snippetBefore  = 50 // runes of context before the first word found
	snippetLength  = 160
)

type searchHitJSON struct {
	Kind         string    `json:"kind"` // message, note, visitor, tag
	Conversation string    `json:"conversation,omitempty"`
	Seq          int64     `json:"seq,omitempty"` // a message's; the message a note follows
	MessageID    int64     `json:"message_id,omitempty"`
	NoteID       string    `json:"note_id,omitempty"`
	VisitorID    string    `json:"visitor_id,omitempty"`
	VisitorName  string    `json:"visitor_name,omitempty"`
	AuthorKind   string    `json:"author_kind,omitempty"`
	AuthorName   string    `json:"author_name,omitempty"`
	Snippet      string    `json:"snippet"`
	CreatedAt    time.Time `json:"created_at"`
}

// search answers GET /api/search?q=&limit=&before=: hits of each kind,
// messages newest first (before: a message_id, for the next page), the
// query's normalised words (for highlighting) and the hits'
// conversations, which the dashboard opens.
func (a *searchAPI) search(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	q := strings.TrimSpace(c.Query("q"))
	if q == "" || utf8.RuneCountInString(q) > searchMaxQuery {
		return apierr.Invalid("q is 1 to " + strconv.Itoa(searchMaxQuery) + " characters")
	}
	limit := searchDefault
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > searchMax {
			return apierr.Invalid("limit is 1 to " + strconv.Itoa(searchMax))
		}
		limit = n
	}
	var before int64
	if v := c.Query("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return apierr.Invalid("before is a message_id of a previous page")
		}
		before = n
	}
	if len(store.SearchWords(q)) == 0 {
		return apierr.Invalid("q has no letters or digits to search for")
	}
	sc := a.store(me.WorkspaceID)
	res, err := sc.Search(ctx, store.SearchQuery{Text: q, Limit: limit, Before: before})
	if err != nil {
		return apierr.Unavailable("cannot search right now; retry", err)
	}
	agents, err := sc.Agents(ctx)
	if err != nil {
		return apierr.Unavailable("cannot search right now; retry", err)
	}
	names := agentNames(agents) // http_notes.go
	infos, err := a.infos(ctx, me.WorkspaceID, res.Conversations)
	if err != nil {
		return apierr.Unavailable("cannot search right now; retry", err)
	}
	hits := func(hs []store.SearchHit) []searchHitJSON {
		out := make([]searchHitJSON, len(hs))
		for i, h := range hs {
			out[i] = searchHitJSON{Kind: h.Kind, Conversation: h.ConversationID, Seq: h.Seq, MessageID: h.MessageID, NoteID: h.NoteID,
				VisitorID: h.VisitorID, VisitorName: h.VisitorName, AuthorKind: h.AuthorKind, Snippet: snippet(h.Text, res.Words),
				CreatedAt: h.CreatedAt.UTC()}
			if h.AuthorKind == protocol.AuthorAgent {
				out[i].AuthorName = names[h.AuthorID]
			}
		}
		return out
	}
	c.JSON(http.StatusOK, gin.H{
		"words":         nonNil(res.Words),
		"messages":      hits(res.Messages),
		"notes":         hits(res.Notes),
		"visitors":      hits(res.Visitors),
		"tagged":        hits(res.Tagged),
		"conversations": infos,
	})
	return nil
}

// snippet cuts text around the first of words it holds (compared as the
// index normalises them), with an ellipsis where it cut.
func snippet(text string, words []string) string {
	rs := []rune(text)
	at, start := 0, -1
	for i := 0; i <= len(rs); i++ {
		inWord := i < len(rs) && (unicode.IsLetter(rs[i]) || unicode.IsDigit(rs[i]) || unicode.Is(unicode.Mn, rs[i]))
		if inWord && start < 0 {
			start = i
		}
		if !inWord && start >= 0 {
			if w := store.SearchWords(string(rs[start:i])); len(w) == 1 && slices.Contains(words, w[0]) {
				at = start
				break
			}
			start = -1
		}
	}
	from := max(0, at-snippetBefore)
	to := min(len(rs), from+snippetLength)
	out := strings.TrimSpace(string(rs[from:to]))
	if from > 0 {
		out = "…" + out
	}
	if to < len(rs) {
		out += "…"
	}
	return out
}

// searchIndexEvery is how often a node indexes the messages committed
// since its last pass (and backfills notes and visitors).
const searchIndexEvery = time.Second

// searchIndexBatch is how many messages one indexing transaction takes.
// On SQLite it holds the one writer: a pass of 1,000 messages (about ten
// postings each) kept chat commits waiting for tens of milliseconds, most
// of the delivery p99 at 500 msgs/s (issue 15). Smaller passes let commits
// in between, at a small cost per pass.
const searchIndexBatch = 128

// runSearchIndex indexes messages after their commit, from the store's
// cursor, until ctx ends. Every node runs it; the cursor moves in the
// transaction that writes the postings, so nodes never index a message
// twice over (store.IndexMessages).
func runSearchIndex(ctx context.Context, st *store.Store, log *slog.Logger) {
	t := time.NewTicker(searchIndexEvery)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			n, err := st.IndexMessages(ctx, searchIndexBatch, time.Now().UTC(), store.MessageIndexSettle)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("search: cannot index messages", "err", err)
				}
				break
			}
			if n == 0 {
				break
			}
		}
		if _, err := st.BackfillDocs(ctx, 200); err != nil && ctx.Err() == nil {
			log.Warn("search: cannot backfill notes and visitors", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
