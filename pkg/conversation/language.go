package conversation

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/parleychat/parley/pkg/langdetect"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Languages: which ones the workspace's agents declare, and the language of
// a conversation whose widget locale no agent speaks, detected from the
// visitor's first messages.

// languageSpoken reports whether some agent of the workspace declares the
// visitor's language. A language nobody declares is not a requirement:
// agents without languages take every conversation.
func (r *Router) languageSpoken(ws, lang string) bool {
	if lang == "" {
		return false
	}
	lang = routingLanguage(lang)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, langs := range r.languages[ws] {
		if slices.Contains(langs, lang) {
			return true
		}
	}
	return false
}

// someAgentLacks reports whether an agent of the workspace declares
// languages without lang: one who may be given the conversation and need
// it translated (translate.go).
func (r *Router) someAgentLacks(ws, lang string) bool {
	lang = routingLanguage(lang)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, langs := range r.languages[ws] {
		if len(langs) > 0 && !slices.Contains(langs, lang) {
			return true
		}
	}
	return false
}

func routingLanguage(tag string) string {
	tag = strings.TrimSpace(tag)
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	return strings.ToLower(tag)
}

// needsWords reports whether a conversation with the widget locale lang
// should wait for the visitor's words before routing: agents of the
// workspace declare languages, but none speaks lang.
func (r *Router) needsWords(ws, lang string) bool {
	if r.languageSpoken(ws, lang) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, langs := range r.languages[ws] {
		if len(langs) > 0 {
			return true
		}
	}
	return false
}

// detection is what the first visitor messages of a conversation say about
// its language, while the widget's locale cannot route it.
type detection struct {
	text     string
	messages int
	done     bool
}

// Language detection reads at most detectMessages visitor messages (the
// first detectBytes of them) among the first detectWithin messages of a
// conversation, and watches at most maxDetecting conversations at once per
// node.
const (
	detectMessages = 5
	detectBytes    = 2000
	detectWithin   = 20
	maxDetecting   = 10000
)

// visitorWrote reads a visitor's message for the conversation's language
// while the widget's locale does not route it (none, or no agent speaks
// it): once langdetect is confident, the language is stored, the reason
// logged and kept with the conversation, and a waiting conversation is
// routed again with it; a new one held for its first message (see Queued)
// is routed now. c is the conversation as it was before the message.
func (r *Router) visitorWrote(ctx context.Context, c store.Conversation, body string) {
	if r.local.unhold(c.ID) {
		defer r.Queued(ctx, c.WorkspaceID, c.ID) // routed once the language is known, or known to be unknown
	}
	if c.Status == protocol.ConversationClosed || c.Status == protocol.ConversationOffline || c.LastSeq >= detectWithin {
		return // later messages cost nothing
	}
	if err := r.ensure(ctx, c.WorkspaceID); err != nil || r.languageSpoken(c.WorkspaceID, c.Language) {
		return
	}
	r.mu.Lock()
	d := r.detecting[c.ID]
	if d == nil && len(r.detecting) < maxDetecting {
		d = &detection{}
		r.detecting[c.ID] = d
	}
	if d == nil || d.done {
		r.mu.Unlock()
		return
	}
	d.messages++
	if len(d.text) < detectBytes {
		d.text = truncateUTF8(d.text+"\n"+body, detectBytes)
	}
	res, ok := langdetect.Detect(d.text)
	if ok || d.messages >= detectMessages {
		d.done, d.text = true, "" // decided (or given up) for good: later messages cost nothing
	}
	n := d.messages
	r.mu.Unlock()
	if !ok {
		if n >= detectMessages {
			r.log.Info("routing: language not detected; routing without one", "conversation", c.ID, "messages", n)
		}
		return
	}
	if res.Language == routingLanguage(c.Language) {
		return
	}
	locale := "the widget gave no locale"
	if c.Language != "" {
		locale = "no agent speaks the widget locale " + c.Language
	}
	why := fmt.Sprintf("language %s detected from the first %d visitor message(s), as %s: %s", res.Language, n, locale, res.Reason)
	r.log.Info("routing: language detected", "conversation", c.ID, "language", res.Language, "reason", why)
	// One write (the language and its reason) and one read for routing and
	// the announcement: this runs inside a visitor's first sends, on the
	// store connection the commits use.
	sc := r.st.Workspace(c.WorkspaceID)
	if err := sc.UpdateConversationRouting(ctx, c.ID, store.ConversationRouting{Language: &res.Language, Reason: why}); err != nil {
		r.log.Warn("cannot store the detected language", "conversation", c.ID, "err", err)
		return
	}
	now, err := sc.Conversation(ctx, c.ID)
	if err != nil {
		r.log.Warn("detected language not applied to routing", "conversation", c.ID, "err", err)
		return
	}
	// A waiting conversation is routed again (an assigned one keeps its
	// agent; the engine only records the new language).
	if err := r.conversationChanged(ctx, now); err != nil {
		r.log.Warn("detected language not applied to routing", "conversation", c.ID, "err", err)
	}
	if err := r.notify.announceConversation(ctx, sc, now); err != nil {
		r.log.Warn("announce conversation", "conversation", c.ID, "err", err)
	}
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// forgetDetection drops what was read of an ended conversation.
func (r *Router) forgetDetection(convID string) {
	r.mu.Lock()
	delete(r.detecting, convID)
	r.mu.Unlock()
}
