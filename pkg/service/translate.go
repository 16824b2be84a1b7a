package service

import (
	"context"

	"github.com/parleychat/parley/pkg/assistant"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/translate"
)

// startTranslation turns auto-translation on (pkg/conversation/translate.go):
// Apertium where installed (found once, at start), then the site's
// OpenAI-compatible endpoint when its assistant has one, for the pairs
// Apertium lacks. Without either, messages go through as written.
func (s *Server) startTranslation() {
	ap, err := translate.NewApertium(context.Background(), "")
	if err != nil {
		s.log.Info("auto-translation: Apertium not available; sites with an OpenAI-compatible assistant translate through it", "err", err)
		ap = nil
	} else {
		s.log.Info("auto-translation: Apertium", "pairs", ap.Pairs())
	}
	s.conv.SetTranslator(conversation.TranslateOptions{
		Provider: func(ctx context.Context, ws, siteID string) translate.Translator {
			var chain translate.Chain
			if ap != nil {
				chain = append(chain, ap)
			}
			if set, err := s.store.Workspace(ws).AssistantSettings(ctx, siteID); err == nil && set.Provider == store.ProviderOpenAI && set.URL != "" {
				chain = append(chain, translate.OpenAI{Client: assistant.OpenAI{URL: set.URL, Model: set.Model, Key: set.APIKey, Client: s.assistant.client}})
			}
			return chain
		},
		Allow: func(ctx context.Context, siteID string) bool {
			ok, _ := s.allow(ctx, s.rules.TranslationPerSite, siteID)
			return ok
		},
	})
}
