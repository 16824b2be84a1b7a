package service

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/assistant"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/translate"
)

// A site's auto-translation provider (admins): GET and PUT
// /api/sites/:id/translation, and POST /api/sites/:id/translation/test,
// which translates a sample through the settings sent (unsaved) and says
// what came back. The API key is write-only: never returned, never logged,
// audited as "key set" at most.

// translationStore is what the translation settings need of one
// workspace's store.
type translationStore interface {
	TranslationSettings(ctx context.Context, siteID string) (store.TranslationSettings, error)
	SetTranslationSettings(ctx context.Context, t store.TranslationSettings) error
}

type translationAPI struct {
	store      func(workspaceID string) translationStore
	translator func(ctx context.Context, ws string, set store.TranslationSettings) translate.Translator
	audit      func(c *gin.Context, workspaceID, action, target, detail string)
	pairs      func() []string // Apertium's on this server
	timeout    time.Duration
}

func (s *Server) translationAPI() *translationAPI {
	return &translationAPI{
		store:      func(ws string) translationStore { return s.store.Workspace(ws) },
		translator: s.translator,
		audit:      s.audit,
		pairs:      s.apertiumPairs,
		timeout:    conversation.DefaultTranslateTimeout,
	}
}

type translationJSON struct {
	Provider string `json:"provider"`
	URL      string `json:"url"`
	Model    string `json:"model"`
	// KeySet says whether an API key is stored; the key is never sent back.
	KeySet bool `json:"key_set"`
	// Apertium lists the pairs the built-in provider has on this server
	// ("eng-spa", …), empty where it is not installed.
	Apertium []string `json:"apertium"`
}

func (t *translationAPI) json(set store.TranslationSettings, pairs []string) gin.H {
	if pairs == nil {
		pairs = []string{}
	}
	return gin.H{"translation": translationJSON{Provider: set.Provider, URL: set.URL, Model: set.Model, KeySet: set.APIKey != "", Apertium: pairs}}
}

func (s *Server) apertiumPairs() []string {
	if s.apertium == nil {
		return nil
	}
	return s.apertium.Pairs()
}

// settings reads the site's stored settings and applies the request's:
// the provider and its endpoint, the key when one is sent ("" removes it).
func (t *translationAPI) settings(c *gin.Context) (store.TranslationSettings, error) {
	var req struct {
		Provider string  `json:"provider"`
		URL      string  `json:"url"`
		Model    string  `json:"model"`
		Key      *string `json:"key"` // absent: keep the stored one
	}
	if err := bindBody(c, &req); err != nil {
		return store.TranslationSettings{}, err
	}
	set, err := t.store(agentOf(c).WorkspaceID).TranslationSettings(c.Request.Context(), c.Param("id"))
	if err != nil {
		return set, articleErr(err, "site")
	}
	switch req.Provider {
	case store.TranslateDefault, store.TranslateOff, store.TranslateApertium:
		req.URL, req.Model = "", ""
	case store.TranslateOpenAI:
		u := strings.TrimSpace(req.URL)
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") || len(u) > 500 {
			return set, apierr.Invalid("the OpenAI-compatible provider needs the API's http(s) URL, such as http://127.0.0.1:11434/v1")
		}
		if strings.TrimSpace(req.Model) == "" || len(req.Model) > 200 {
			return set, apierr.Invalid("the OpenAI-compatible provider needs a model name")
		}
	default:
		return set, apierr.Invalid("provider is default, off, apertium or openai")
	}
	set.Provider, set.URL, set.Model = req.Provider, strings.TrimSpace(req.URL), strings.TrimSpace(req.Model)
	if req.Key != nil {
		if len(*req.Key) > 500 {
			return set, apierr.Invalid("the API key is at most 500 characters")
		}
		set.APIKey = strings.TrimSpace(*req.Key)
	}
	return set, nil
}

func (t *translationAPI) get(c *gin.Context) error {
	set, err := t.store(agentOf(c).WorkspaceID).TranslationSettings(c.Request.Context(), c.Param("id"))
	if err != nil {
		return articleErr(err, "site")
	}
	c.JSON(http.StatusOK, t.json(set, t.pairs()))
	return nil
}

func (t *translationAPI) set(c *gin.Context) error {
	set, err := t.settings(c)
	if err != nil {
		return err
	}
	me := agentOf(c)
	if err := t.store(me.WorkspaceID).SetTranslationSettings(c.Request.Context(), set); err != nil {
		return articleErr(err, "site")
	}
	detail := set.Provider
	if set.APIKey != "" {
		detail += ", key set"
	}
	t.audit(c, me.WorkspaceID, "site.translation", set.SiteID, detail)
	c.JSON(http.StatusOK, t.json(set, t.pairs()))
	return nil
}

// test translates a short sample (English to Spanish unless the request
// names a pair) with the settings sent, unsaved. A failure is an answer
// like a success ({ok: false, code, error, detail}): the test ran, the
// provider failed; code is "unsupported" (the pair) or an
// assistant.Failure (unreachable, timeout, auth…).
func (t *translationAPI) test(c *gin.Context) error {
	set, err := t.settings(c)
	if err != nil {
		return err
	}
	from, to := translate.Base(c.Query("from")), translate.Base(c.Query("to"))
	if from == "" || to == "" {
		from, to = "en", "es"
	}
	me := agentOf(c)
	t.audit(c, me.WorkspaceID, "site.translation.test", set.SiteID, set.Provider+" "+from+">"+to)
	tr := t.translator(c.Request.Context(), me.WorkspaceID, set)
	if set.Provider == store.TranslateOff || !tr.Supports(from, to) {
		c.JSON(http.StatusOK, gin.H{"ok": false, "code": "unsupported", "error": "this provider does not translate " + from + " to " + to + " here"})
		return nil
	}
	const sample = "Hello! Your order has been shipped and will arrive tomorrow."
	ctx, cancel := context.WithTimeout(c.Request.Context(), t.timeout)
	defer cancel()
	start := time.Now()
	text, err := tr.Translate(ctx, sample, from, to)
	if err != nil {
		// What failed, by class, for the dashboard to say what to check;
		// the host and the endpoint's own words, never the key nor the
		// URL's path and query.
		d := assistant.Diagnose(err)
		c.JSON(http.StatusOK, gin.H{"ok": false, "code": d.Failure, "error": d.Message, "detail": d.Detail})
		return nil
	}
	c.JSON(http.StatusOK, gin.H{"ok": true, "from": from, "to": to, "sample": sample, "text": text, "ms": time.Since(start).Milliseconds()})
	return nil
}
