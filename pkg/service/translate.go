package service

import (
	"context"

	"github.com/parleychat/parley/pkg/assistant"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/translate"
)

// startTranslation turns auto-translation on (pkg/conversation/translate.go),
// each site with the provider its translation settings choose
// (http_translation.go). Apertium is found once, at start.
func (s *Server) startTranslation() {
	ap, err := translate.NewApertium(context.Background(), "")
	if err != nil {
		s.log.Info("auto-translation: Apertium not available; sites with an OpenAI-compatible endpoint translate through it", "err", err)
		ap = nil
	} else {
		s.log.Info("auto-translation: Apertium", "pairs", ap.Pairs())
	}
	s.apertium = ap
	s.conv.SetTranslator(conversation.TranslateOptions{
		Provider: func(ctx context.Context, ws, siteID string) translate.Translator {
			set, err := s.store.Workspace(ws).TranslationSettings(ctx, siteID)
			if err != nil {
				return translate.Chain{}
			}
			return s.translator(ctx, ws, set)
		},
		Allow: func(ctx context.Context, siteID string) bool {
			ok, _ := s.allow(ctx, s.rules.TranslationPerSite, siteID)
			return ok
		},
	})
}

// translator is the provider set chooses: none when off, Apertium (where
// installed), the site's own OpenAI-compatible endpoint, or by default
// Apertium then the site assistant's endpoint for the pairs it lacks.
func (s *Server) translator(ctx context.Context, ws string, set store.TranslationSettings) translate.Translator {
	var chain translate.Chain
	if s.apertium != nil && (set.Provider == store.TranslateApertium || set.Provider == store.TranslateDefault) {
		chain = append(chain, s.apertium)
	}
	switch set.Provider {
	case store.TranslateOpenAI:
		chain = append(chain, translate.OpenAI{Client: assistant.OpenAI{URL: set.URL, Model: set.Model, Key: set.APIKey, Client: s.assistant.client}})
	case store.TranslateDefault:
		if a, err := s.store.Workspace(ws).AssistantSettings(ctx, set.SiteID); err == nil && a.Provider == store.ProviderOpenAI && a.URL != "" {
			chain = append(chain, translate.OpenAI{Client: assistant.OpenAI{URL: a.URL, Model: a.Model, Key: a.APIKey, Client: s.assistant.client}})
		}
	}
	return chain
}
