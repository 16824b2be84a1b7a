package service

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// The notes resource: agents write private notes in a conversation
// (/api/conversations/:id/notes) and list the notes that mention them
// (/api/mentions). A note is written over HTTP only and published only on
// the workspace's agents topic, which no visitor connection (WebSocket or
// data channel) follows; it is stored apart from messages, so no seq, no
// resume and no history of the visitor's carries it (pkg/store/notes.go).

// noteStore is what the notes API needs of one workspace's store.
type noteStore interface {
	Conversation(ctx context.Context, id string) (store.Conversation, error)
	Agents(ctx context.Context) ([]store.Agent, error)
	AddNote(ctx context.Context, n store.Note, mentions []string) (store.Note, error)
	Notes(ctx context.Context, convID string) ([]store.Note, error)
	NoteMentions(ctx context.Context, noteIDs []string) (map[string][]string, error)
	Mentions(ctx context.Context, agentID string, limit int) ([]store.Mention, error)
	ReadMentions(ctx context.Context, agentID string, now time.Time) error
}

// notesAPI serves private notes and mentions.
type notesAPI struct {
	store   func(workspaceID string) noteStore
	publish func(ctx context.Context, topic string, payload []byte) error
	now     func() time.Time
}

func (s *Server) notesAPI() *notesAPI {
	return &notesAPI{
		store:   func(ws string) noteStore { return s.store.Workspace(ws) },
		publish: s.bus.Publish,
		now:     time.Now,
	}
}

// mentionsListed is how many of an agent's latest mentions /api/mentions
// lists.
const mentionsListed = 50

type noteReq struct {
	Body string `json:"body"`
}

func noteErr(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("no such conversation")
	}
	return apierr.Unavailable("cannot "+what+" right now; retry", err)
}

// noteInfo is a note as the API and the note frame give it; names maps
// agents' ids to their names.
func noteInfo(n store.Note, mentions []string, names map[string]string) protocol.NoteInfo {
	return protocol.NoteInfo{ID: n.ID, Conversation: n.ConversationID, AfterSeq: n.AfterSeq,
		Author: protocol.Author{Kind: protocol.AuthorAgent, ID: n.AuthorID, Name: names[n.AuthorID]},
		Body:   n.Body, Mentions: nonNil(mentions), CreatedAt: n.CreatedAt}
}

func agentNames(as []store.Agent) map[string]string {
	out := make(map[string]string, len(as))
	for _, a := range as {
		out[a.ID] = a.Name
	}
	return out
}

// mentioned returns the agents a note's body names with @Name (their name
// as the workspace knows it, any case, not followed by a letter or digit),
// longest names first so "@Ann Lee" is not also "@Ann" when both exist.
// Disabled agents are not notified.
func mentioned(body string, agents []store.Agent) []string {
	sorted := append([]store.Agent(nil), agents...)
	sort.Slice(sorted, func(i, j int) bool { return len(sorted[i].Name) > len(sorted[j].Name) })
	lower := strings.ToLower(body)
	taken := make([]bool, len(lower))
	var out []string
	for _, a := range sorted {
		name := strings.ToLower(strings.TrimSpace(a.Name))
		if name == "" || a.DisabledAt != nil {
			continue
		}
		for from := 0; ; {
			i := strings.Index(lower[from:], "@"+name)
			if i < 0 {
				break
			}
			i += from
			end := i + 1 + len(name)
			from = end
			if taken[i] {
				continue
			}
			if r, _ := utf8.DecodeRuneInString(lower[end:]); end < len(lower) && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
				continue
			}
			for k := i; k < end; k++ {
				taken[k] = true
			}
			out = append(out, a.ID)
			break
		}
	}
	return out
}

func (a *notesAPI) list(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	st := a.store(me.WorkspaceID)
	if _, err := st.Conversation(ctx, c.Param("id")); err != nil {
		return noteErr(err, "read the notes")
	}
	ns, err := st.Notes(ctx, c.Param("id"))
	if err != nil {
		return noteErr(err, "read the notes")
	}
	ids := make([]string, len(ns))
	for i, n := range ns {
		ids[i] = n.ID
	}
	who, err := st.NoteMentions(ctx, ids)
	if err != nil {
		return noteErr(err, "read the notes")
	}
	agents, err := st.Agents(ctx)
	if err != nil {
		return noteErr(err, "read the notes")
	}
	names := agentNames(agents)
	out := make([]protocol.NoteInfo, len(ns))
	for i, n := range ns {
		out[i] = noteInfo(n, who[n.ID], names)
	}
	c.JSON(http.StatusOK, gin.H{"notes": out})
	return nil
}

func (a *notesAPI) create(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	var req noteReq
	if err := bindBody(c, &req); err != nil {
		return err
	}
	body := strings.TrimSpace(req.Body)
	if body == "" {
		return apierr.Invalid("a note needs some text")
	}
	if len(body) > protocol.MaxBodyBytes {
		return apierr.TooBig("a note is at most 8 KB")
	}
	st := a.store(me.WorkspaceID)
	agents, err := st.Agents(ctx)
	if err != nil {
		return noteErr(err, "write the note")
	}
	mentions := mentioned(body, agents)
	n, err := st.AddNote(ctx, store.Note{ID: uuid.NewString(), ConversationID: c.Param("id"), AuthorID: me.ID, Body: body}, mentions)
	if err != nil {
		return noteErr(err, "write the note")
	}
	info := noteInfo(n, mentions, agentNames(agents))
	// Agents' dashboards only: the mentioned agent is notified live
	// whether or not the conversation is theirs. A lost publication is
	// not lost for good: the note is listed on the conversation's open
	// and in the agent's mentions.
	frame, _ := json.Marshal(protocol.Note{Envelope: protocol.Envelope{Type: protocol.TypeNote}, Note: info})
	_ = a.publish(ctx, bus.AgentsTopic(me.WorkspaceID), frame)
	c.JSON(http.StatusCreated, gin.H{"note": info})
	return nil
}

type mentionJSON struct {
	protocol.NoteInfo
	Read bool `json:"read"`
}

func (a *notesAPI) mentions(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	st := a.store(me.WorkspaceID)
	ms, err := st.Mentions(ctx, me.ID, mentionsListed)
	if err != nil {
		return noteErr(err, "list your mentions")
	}
	agents, err := st.Agents(ctx)
	if err != nil {
		return noteErr(err, "list your mentions")
	}
	names := agentNames(agents)
	out := make([]mentionJSON, len(ms))
	for i, m := range ms {
		out[i] = mentionJSON{NoteInfo: noteInfo(m.Note, []string{me.ID}, names), Read: m.ReadAt != nil}
	}
	c.JSON(http.StatusOK, gin.H{"mentions": out})
	return nil
}

func (a *notesAPI) readMentions(c *gin.Context) error {
	me := agentOf(c)
	if err := a.store(me.WorkspaceID).ReadMentions(c.Request.Context(), me.ID, a.now()); err != nil {
		return noteErr(err, "mark your mentions read")
	}
	c.Status(http.StatusNoContent)
	return nil
}
