package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/pkg/assistant"
	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/knowledge"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store"
)

// The site assistant in conversations (conversation.Assistant): a site
// whose assistant answers first starts its conversations with it; one
// that answers only when nobody can chat takes the conversations routing
// would have sent to the offline form. Each visitor message in such a
// conversation is answered here, on the node that stored it: retrieval in
// this node's index (only the site's own published articles), then the
// site's provider, streamed to the visitor as drafts and stored as an
// assistant message with its sources. A refused, failed or timed out
// provider hands the visitor to a person, never to silence.

// assistantName is the assistant's author name in transcripts.
const assistantName = "Assistant"

// Limits of one answer: the provider's whole answer, drafts at most this
// often, answers running at once on a node (more are handed to a person).
const (
	answerTimeout   = 45 * time.Second
	draftEvery      = 60 * time.Millisecond
	answersAtOnce   = 32
	historyTurns    = 10
	passagesPerTurn = 4
)

// knowledgeTopic tells every node that an article changed: each keeps its
// own index of the store's articles (knowledge.Index.Update).
var knowledgeTopic = bus.Topic[articleChanged]{Name: "knowledge"}

type articleChanged struct {
	Workspace string `json:"workspace"`
	Article   string `json:"article"`
}

// assistantRunner is the Server's conversation.Assistant.
type assistantRunner struct {
	st      *store.Store
	conv    *conversation.Service
	index   *knowledge.Index
	log     *slog.Logger
	allow   func(ctx context.Context, rule ratelimit.Rule, subject string) (bool, time.Duration)
	rule    ratelimit.Rule
	origin  string       // the server's public origin, for links to help pages
	client  *http.Client // the OpenAI-compatible provider's
	timeout time.Duration
	running chan struct{} // answersAtOnce slots
	wg      sync.WaitGroup
}

func (a *assistantRunner) settings(ctx context.Context, ws, siteID string) (store.AssistantSettings, error) {
	return a.st.Workspace(ws).AssistantSettings(ctx, siteID)
}

// TakesNew implements conversation.Assistant.
func (a *assistantRunner) TakesNew(ctx context.Context, ws, siteID string) bool {
	set, err := a.settings(ctx, ws, siteID)
	if err != nil {
		return false
	}
	switch set.Mode {
	case store.AssistantFirst:
		return true
	case store.AssistantFallback:
		av, err := a.conv.Router().Availability(ctx, ws, siteID)
		return err == nil && !av.Online
	}
	return false
}

// TakeOffline implements conversation.Assistant.
func (a *assistantRunner) TakeOffline(ctx context.Context, ws, convID string) bool {
	sc := a.st.Workspace(ws)
	c, err := sc.Conversation(ctx, convID)
	if err != nil || c.HandedOff {
		return false
	}
	set, err := a.settings(ctx, ws, c.SiteID)
	if err != nil || set.Mode == store.AssistantOff {
		return false
	}
	if ok, err := sc.ToAssistant(ctx, convID); err != nil || !ok {
		return false
	}
	a.conv.Changed(ctx, ws, convID)
	// A question the visitor asked while it waited gets its answer now.
	ms, err := sc.MessagesAfter(ctx, convID, max(c.LastSeq-1, 0), 1)
	if err == nil && len(ms) == 1 && ms[0].AuthorKind == protocol.AuthorVisitor {
		a.VisitorWrote(ctx, ws, ms[0])
	}
	return true
}

// VisitorWrote implements conversation.Assistant: the answer is written
// in the background, so the visitor's ack is not held up.
func (a *assistantRunner) VisitorWrote(ctx context.Context, ws string, m store.Message) {
	select {
	case a.running <- struct{}{}:
	default:
		a.log.Warn("assistant: too many answers at once; handing to a person", "conversation", m.ConversationID)
		go a.handoff(context.WithoutCancel(ctx), ws, m.ConversationID, "the assistant was too busy to answer")
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer func() { <-a.running }()
		a.answer(ws, m)
	}()
}

// answer answers one visitor message.
func (a *assistantRunner) answer(ws string, m store.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	sc := a.st.Workspace(ws)
	c, err := sc.Conversation(ctx, m.ConversationID)
	if err != nil || c.Status != store.StatusAssistant {
		return
	}
	fail := func(why string, err error) {
		a.log.Warn("assistant: no answer; handing to a person", "conversation", c.ID, "why", why, "err", err)
		a.handoff(context.Background(), ws, c.ID, why)
	}
	if ok, _ := a.allow(ctx, a.rule, c.SiteID); !ok {
		fail("the assistant was asked too much at once", nil)
		return
	}
	set, err := sc.AssistantSettings(ctx, c.SiteID)
	if err != nil {
		fail("the assistant's settings could not be read", err)
		return
	}
	site, err := sc.Site(ctx, c.SiteID)
	if err != nil {
		fail("the site could not be read", err)
		return
	}
	q := assistant.Question{Site: site.Name, Language: c.Language, Text: m.Body}
	q.History, err = a.history(ctx, sc, c.ID, m.Seq)
	if err != nil {
		fail("the conversation could not be read", err)
		return
	}
	// Only this site's published passages: the index filters by
	// workspace and site, so nothing of another reaches the prompt.
	if q.Passages, err = a.index.Search(ctx, ws, c.SiteID, m.Body, passagesPerTurn); err != nil {
		fail("the help articles could not be searched", err)
		return
	}
	provider := a.provider(set)
	clientID := fmt.Sprintf("%sassistant:%d", protocol.SystemClientIDPrefix, m.Seq)
	var (
		draft strings.Builder
		last  time.Time
	)
	emit := func(delta string) {
		draft.WriteString(delta)
		if time.Since(last) < draftEvery {
			return
		}
		last = time.Now()
		a.conv.Publish(ctx, c.ID, protocol.AssistantDraft{Envelope: protocol.Envelope{Type: protocol.TypeAssistantDraft},
			Conversation: c.ID, ClientID: clientID, Text: draft.String()})
	}
	ans, err := provider.Answer(ctx, q, emit)
	if err != nil {
		fail("the assistant could not answer", err)
		return
	}
	var sources []protocol.Source
	for _, h := range ans.Sources {
		sources = append(sources, protocol.Source{ArticleID: h.ArticleID, Title: h.Title, URL: a.helpURL(c.SiteID, h.ArticleID)})
	}
	// Stored like any message; a store that fails for a moment is tried
	// again (the client id makes a retry store the answer once), and an
	// answer that cannot be stored hands the visitor to a person.
	for try := 0; ; try++ {
		err = a.conv.AssistantSays(context.Background(), ws, c.ID, clientID, assistantName, ans.Text, sources)
		if err == nil || errors.Is(err, conversation.ErrClosed) || errors.Is(err, conversation.ErrNotFound) {
			return
		}
		if try == 4 {
			fail("the answer could not be stored", err)
			return
		}
		time.Sleep(time.Duration(try+1) * 250 * time.Millisecond)
	}
}

// provider is the site's provider as its settings say.
func (a *assistantRunner) provider(set store.AssistantSettings) assistant.Provider {
	if set.Provider == store.ProviderOpenAI && set.URL != "" {
		return assistant.OpenAI{URL: set.URL, Model: set.Model, Key: set.APIKey, Client: a.client}
	}
	return assistant.Builtin{}
}

// history is the conversation's visitor and assistant turns before seq
// (agents' and system messages are never given to a provider).
func (a *assistantRunner) history(ctx context.Context, sc *store.Scoped, convID string, seq int64) ([]assistant.Turn, error) {
	ms, err := sc.MessagesAfter(ctx, convID, max(seq-4*historyTurns, 0), 4*historyTurns)
	if err != nil {
		return nil, err
	}
	var out []assistant.Turn
	for _, m := range ms {
		if m.Seq >= seq {
			break
		}
		switch m.AuthorKind {
		case protocol.AuthorVisitor:
			out = append(out, assistant.Turn{Text: m.Body})
		case protocol.AuthorAssistant:
			out = append(out, assistant.Turn{Assistant: true, Text: m.Body})
		}
	}
	if len(out) > historyTurns {
		out = out[len(out)-historyTurns:]
	}
	return out, nil
}

// helpURL is the address of an article on its site's public help page.
func (a *assistantRunner) helpURL(siteID, articleID string) string {
	return a.origin + "/help/" + siteID + "/" + articleID
}

// handoff takes the conversation from the assistant to routing, for a
// person: the agents get the assistant's summary of it, the visitor a
// notice. Only the first hand-off of a conversation does anything.
func (a *assistantRunner) handoff(ctx context.Context, ws, convID, why string) error {
	sc := a.st.Workspace(ws)
	ok, err := sc.Handoff(ctx, convID)
	if err != nil || !ok {
		return err
	}
	summary, err := a.summary(ctx, sc, convID, why)
	if err != nil {
		summary = "The assistant handed this conversation over (" + why + ")."
	}
	if err := a.conv.System(ctx, ws, convID, protocol.SystemClientIDPrefix+"handoff:agent", protocol.AudienceAgent, summary); err != nil {
		a.log.Warn("assistant: summary not stored", "conversation", convID, "err", err)
	}
	if err := a.conv.System(ctx, ws, convID, protocol.SystemClientIDPrefix+"handoff:visitor", protocol.AudienceVisitor, conversation.NoticeHandoff); err != nil {
		a.log.Warn("assistant: hand-off notice not stored", "conversation", convID, "err", err)
	}
	a.conv.Changed(ctx, ws, convID)
	a.conv.Router().Queued(ctx, ws, convID)
	return nil
}

// summary says in a few lines what the visitor asked the assistant, what
// it answered from and what it could not answer, and why it handed over.
func (a *assistantRunner) summary(ctx context.Context, sc *store.Scoped, convID, why string) (string, error) {
	ms, err := sc.MessagesAfter(ctx, convID, 0, 200)
	if err != nil {
		return "", err
	}
	var asked, unanswered, titles []string
	seenTitle := map[string]bool{}
	var lastQuestion string
	for _, m := range ms {
		switch m.AuthorKind {
		case protocol.AuthorVisitor:
			asked = append(asked, m.Body)
			lastQuestion = m.Body
		case protocol.AuthorAssistant:
			src := conversation.MessageFrame(m).Sources
			if len(src) == 0 && lastQuestion != "" {
				unanswered = append(unanswered, lastQuestion)
			}
			for _, s := range src {
				if !seenTitle[s.Title] {
					seenTitle[s.Title] = true
					titles = append(titles, s.Title)
				}
			}
		}
	}
	quote := func(s string) string {
		return "“" + store.Truncate(strings.Join(strings.Fields(s), " "), 160) + "”"
	}
	var b strings.Builder
	b.WriteString("Summary from the assistant: ")
	switch len(asked) {
	case 0:
		b.WriteString("the visitor asked nothing yet.")
	case 1:
		b.WriteString("the visitor asked " + quote(asked[0]) + ".")
	default:
		fmt.Fprintf(&b, "the visitor asked %s, then %d more (last: %s).", quote(asked[0]), len(asked)-1, quote(asked[len(asked)-1]))
	}
	if len(titles) > 0 {
		b.WriteString(" Answered from: " + strings.Join(titles, ", ") + ".")
	}
	if len(unanswered) > 0 {
		b.WriteString(" Could not answer: " + quote(unanswered[len(unanswered)-1]) + ".")
	}
	b.WriteString(" Handed over: " + why + ".")
	return store.Truncate(b.String(), 1000), nil
}

// watchKnowledge keeps this node's index following other nodes' edits.
func (s *Server) watchKnowledge() {
	bad := func(err error) { s.log.Warn("unreadable knowledge notice", "err", err) }
	_, err := knowledgeTopic.Subscribe(s.bus, func(m articleChanged) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := s.assistant.index.Update(ctx, s.store, m.Workspace, m.Article); err != nil {
				s.log.Warn("knowledge index not updated", "article", m.Article, "err", err)
			}
		}()
	}, bad)
	if err != nil {
		s.log.Error("other nodes' article edits will reach this node's index only at its next start", "err", err)
	}
}

// articleChanged updates this node's index at once and tells the others.
func (s *Server) articleChanged(ctx context.Context, ws, articleID string) {
	if err := s.assistant.index.Update(ctx, s.store, ws, articleID); err != nil {
		s.log.Warn("knowledge index not updated", "article", articleID, "err", err)
	}
	if err := knowledgeTopic.Publish(context.WithoutCancel(ctx), s.bus, articleChanged{Workspace: ws, Article: articleID}); err != nil {
		s.log.Warn("article change not published to other nodes", "article", articleID, "err", err)
	}
}

// startAssistant gives the conversation service this server's assistant.
func (s *Server) startAssistant(d Deps) {
	ix := d.Knowledge
	if ix == nil {
		var err error
		if ix, err = knowledge.Open(""); err != nil {
			panic(err) // an in-memory index has nothing to fail on
		}
		if _, err := ix.Reconcile(context.Background(), s.store); err != nil {
			s.log.Warn("knowledge index not built", "err", err)
		}
	}
	s.assistant = &assistantRunner{
		st: s.store, conv: s.conv, index: ix, log: s.log, allow: s.allow, rule: s.rules.AssistantPerSite,
		origin: s.cfg.PublicOrigin(), client: &http.Client{}, timeout: answerTimeout, running: make(chan struct{}, answersAtOnce),
	}
	s.conv.SetAssistant(s.assistant)
	s.watchKnowledge()
}

// OpenKnowledge opens this node's index of help articles under the data
// directory and brings it up to date with the store (built whole when
// missing; an index that cannot be opened is derived data, deleted and
// built again).
func OpenKnowledge(ctx context.Context, dataDir string, st *store.Store, log *slog.Logger) (*knowledge.Index, error) {
	dir := filepath.Join(dataDir, "knowledge")
	ix, err := knowledge.Open(dir)
	if err != nil {
		log.Warn("knowledge index unreadable; rebuilding it from the store", "dir", dir, "err", err)
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
		if ix, err = knowledge.Open(dir); err != nil {
			return nil, err
		}
	}
	n, err := ix.Reconcile(ctx, st)
	if err != nil {
		ix.Close()
		return nil, fmt.Errorf("knowledge index: %w", err)
	}
	log.Info("knowledge index ready", "dir", dir, "articles_reindexed", n)
	return ix, nil
}

// answersNow reports whether the site's assistant answers a new visitor
// now (the widget then opens the chat instead of the offline form).
func (a *assistantRunner) answersNow(ctx context.Context, ws, siteID string, online bool) bool {
	set, err := a.settings(ctx, ws, siteID)
	if err != nil {
		return false
	}
	return set.Mode == store.AssistantFirst || set.Mode == store.AssistantFallback && !online
}
