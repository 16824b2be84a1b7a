package conversation

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/translate"
)

// Auto-translation. Routing may give a conversation to an agent who does
// not speak the visitor's language (it relaxes to "any language", and
// marks the assignment "(translate)"): the rule here is routing's own, the
// agent's declared languages lack the conversation's. Then each visitor
// message is translated into the agent's first language for the agents,
// and each agent reply into the visitor's language for the visitor.
//
// The message is stored, acked and published as written, first; the
// translation follows as a Translation frame and is cached per message and
// language (store.MessageTranslation), so resumes and history carry it.
// A provider that fails, times out, does not know the pair or is over the
// site's rate leaves the original, which both sides already have: never a
// dead end, only an untranslated message.

// TranslateOptions configure auto-translation (SetTranslator).
type TranslateOptions struct {
	// Provider returns the translator of a site (Apertium where installed,
	// the site's OpenAI-compatible endpoint when it has one); one that
	// supports no pair translates nothing.
	Provider func(ctx context.Context, workspaceID, siteID string) translate.Translator
	// Allow reports whether the site may make one more provider call
	// (its rate limit); nil: no bound.
	Allow func(ctx context.Context, siteID string) bool
	// Timeout bounds one message's translation (DefaultTranslateTimeout
	// when 0).
	Timeout time.Duration
}

// DefaultTranslateTimeout is TranslateOptions.Timeout's default.
const DefaultTranslateTimeout = 15 * time.Second

// translateBacklog is how many of the latest messages are translated when
// an agent who needs translation takes a conversation.
const translateBacklog = 20

// SetTranslator turns auto-translation on. Call it before the service is
// used.
func (s *Service) SetTranslator(o TranslateOptions) {
	if o.Timeout == 0 {
		o.Timeout = DefaultTranslateTimeout
	}
	s.tr = &o
}

// Translates reports whether auto-translation is on.
func (s *Service) Translates() bool { return s.tr != nil && s.tr.Provider != nil }

// observeForTranslation starts translating a conversation's latest
// messages when an agent takes it (the visitor wrote before an agent who
// needs translation had it). It returns at once.
func (s *Service) observeForTranslation(ev Event) {
	if s.Translates() && ev.Type == EventConversationAssigned {
		go s.translateBacklog(ev.WorkspaceID, ev.Conversation)
	}
}

// translateNew starts translating a message just stored (Send), when its
// conversation may need it. The check is in memory: in a workspace whose
// agents all declare the conversation's language, or declare none, a
// message costs no store read here.
func (s *Service) translateNew(ctx context.Context, ws string, a store.Appended) {
	if !s.Translates() || a.Duplicate || a.Conversation.Language == "" ||
		(a.AuthorKind != protocol.AuthorVisitor && a.AuthorKind != protocol.AuthorAgent) {
		return
	}
	if err := s.router.ensure(ctx, ws); err != nil || !s.router.someAgentLacks(ws, a.Conversation.Language) {
		return
	}
	m := a.Message
	go s.translateMessages(ws, m.ConversationID, []store.Message{m})
}

// languages returns the conversation's visitor language and its agent's,
// or ok false when it needs no translation.
func (s *Service) languages(ctx context.Context, sc *store.Scoped, c store.Conversation) (visitor, agent string, ok bool) {
	visitor = translate.Base(c.Language)
	if visitor == "" || c.AgentID == nil {
		return "", "", false
	}
	a, err := sc.Agent(ctx, *c.AgentID)
	if err != nil {
		return "", "", false
	}
	langs := store.SplitList(a.Languages)
	for i := range langs {
		langs[i] = translate.Base(langs[i])
	}
	if len(langs) == 0 || slices.Contains(langs, visitor) {
		return "", "", false
	}
	return visitor, langs[0], true
}

func (s *Service) translateBacklog(ws, convID string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.tr.Timeout*4)
	defer cancel()
	sc := s.store.Workspace(ws)
	c, err := sc.Conversation(ctx, convID)
	if err != nil {
		return
	}
	ms, err := sc.MessagesAfter(ctx, convID, max(c.LastSeq-translateBacklog, 0), translateBacklog)
	if err != nil {
		s.log.Warn("translate: read messages", "conversation", convID, "err", err)
		return
	}
	s.translateMessages(ws, convID, ms)
}

// translateMessages translates the visitor and agent messages of ms (one
// conversation) that need it and have no cached translation, in order,
// and publishes each.
func (s *Service) translateMessages(ws, convID string, ms []store.Message) {
	if len(ms) == 0 {
		return
	}
	ctx := context.Background()
	sc := s.store.Workspace(ws)
	c, err := sc.Conversation(ctx, convID)
	if err != nil {
		return
	}
	visitor, agent, ok := s.languages(ctx, sc, c)
	if !ok {
		return
	}
	cached, err := sc.Translations(ctx, convID, ms[0].Seq, ms[len(ms)-1].Seq)
	if err != nil {
		s.log.Warn("translate: read cache", "conversation", convID, "err", err)
		return
	}
	tr := s.tr.Provider(ctx, ws, c.SiteID)
	have := map[string]bool{}
	for _, t := range cached {
		have[fmt.Sprintf("%d>%s", t.Seq, t.Language)] = true
	}
	for _, m := range ms {
		from, to, audience := visitor, agent, protocol.AudienceAgent
		switch m.AuthorKind {
		case protocol.AuthorVisitor:
		case protocol.AuthorAgent:
			from, to, audience = agent, visitor, protocol.AudienceVisitor
		default:
			continue
		}
		if have[fmt.Sprintf("%d>%s", m.Seq, to)] || !tr.Supports(from, to) {
			continue
		}
		if s.tr.Allow != nil && !s.tr.Allow(ctx, c.SiteID) {
			s.log.Warn("translate: site over its rate; message left untranslated", "conversation", convID, "seq", m.Seq)
			continue
		}
		tctx, cancel := context.WithTimeout(ctx, s.tr.Timeout)
		text, err := tr.Translate(tctx, m.Body, from, to)
		cancel()
		if err != nil {
			s.log.Warn("translate: provider failed; message left untranslated", "conversation", convID, "seq", m.Seq, "from", from, "to", to, "err", err)
			continue
		}
		provider := tr.Name()
		if ch, ok := tr.(translate.Chain); ok {
			provider = ch.For(from, to)
		}
		t := store.MessageTranslation{ConversationID: convID, Seq: m.Seq, Language: to, Text: text, Provider: provider}
		if err := sc.SaveTranslation(ctx, t); err != nil {
			s.log.Warn("translate: cache", "conversation", convID, "err", err)
		}
		f := protocol.Translation{Envelope: protocol.Envelope{Type: protocol.TypeTranslation},
			Conversation: convID, Seq: m.Seq, For: audience,
			Translation: protocol.TranslationInfo{Language: to, From: from, Text: text, Provider: provider}}
		if audience == protocol.AudienceVisitor {
			// The visitor reads the agent's reply translated; the agents
			// see what it was translated into (their own words stay
			// theirs, the translation one click away).
			s.publish(ctx, bus.ConversationTopic(convID), mustJSON(f))
			f.For = protocol.AudienceAgent
			s.publish(ctx, bus.AgentsTopic(ws), mustJSON(f))
			continue
		}
		frame := mustJSON(f)
		s.publish(ctx, bus.ConversationTopic(convID), frame)
		s.publish(ctx, bus.AgentsTopic(ws), frame)
	}
}

// withTranslations puts the cached translations of ms that are for p's
// side into their frames: a visitor gets the agents' replies in its
// language, an agent the visitor's messages in any language they were
// translated into and the agents' replies in the visitor's (what the
// visitor read).
func (s *Service) withTranslations(ctx context.Context, p Participant, c store.Conversation, ms []store.Message, out []protocol.Message) {
	if len(ms) == 0 || !s.Translates() {
		return
	}
	ts, err := s.store.Workspace(p.WorkspaceID).Translations(ctx, c.ID, ms[0].Seq, ms[len(ms)-1].Seq)
	if err != nil || len(ts) == 0 {
		return
	}
	bySeq := map[int64][]store.MessageTranslation{}
	for _, t := range ts {
		bySeq[t.Seq] = append(bySeq[t.Seq], t)
	}
	visitor := translate.Base(c.Language)
	for i, m := range ms {
		for _, t := range bySeq[m.Seq] {
			mine := false
			if p.Kind == protocol.AuthorVisitor {
				mine = m.AuthorKind == protocol.AuthorAgent && t.Language == visitor
			} else {
				mine = (m.AuthorKind == protocol.AuthorVisitor) != (t.Language == visitor)
			}
			if mine {
				from := visitor
				if m.AuthorKind == protocol.AuthorAgent {
					from = ""
				}
				out[i].Translation = &protocol.TranslationInfo{Language: t.Language, From: from, Text: t.Text, Provider: t.Provider}
				break
			}
		}
	}
}
