package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// The knowledge base and the assistant (pkg/knowledge, pkg/assistant).
//
// Articles are a site's public help: their titles and bodies are published
// on its help page, so they are not sealed like messages. The assistant's
// API key for an OpenAI-compatible endpoint is a secret and is sealed.

// Article is one help article of a site. Body is Markdown; Tags are
// comma-separated; Language is a BCP 47 tag ("en", "es", …).
type Article struct {
	ID          string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null;index:idx_articles_ws_site,priority:1"`
	SiteID      string `gorm:"size:36;not null;index:idx_articles_ws_site,priority:2"`
	Title       string `gorm:"size:300;not null"`
	Body        string `gorm:"type:text;not null"`
	Tags        string `gorm:"type:text;not null;default:''"`
	Language    string `gorm:"size:35;not null;default:''"`
	Published   bool   `gorm:"not null;default:false"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Assistant modes (AssistantSettings.Mode): when the assistant answers a
// visitor.
const (
	AssistantOff      = "off"      // never (the default)
	AssistantFirst    = "first"    // always first; a person on request
	AssistantFallback = "fallback" // only when nobody can chat (outside business hours, nobody available)
)

// Assistant providers (AssistantSettings.Provider).
const (
	ProviderBuiltin = "builtin" // the best passage and its link, offline
	ProviderOpenAI  = "openai"  // an OpenAI-compatible chat-completions endpoint
)

// AssistantSettings is how a site's assistant answers. A site without a
// row has the zero settings' defaults (DefaultAssistantSettings).
type AssistantSettings struct {
	SiteID      string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null;index"`
	Mode        string `gorm:"size:20;not null;default:'off'"`
	Provider    string `gorm:"size:20;not null;default:'builtin'"`
	URL         string `gorm:"type:text;not null;default:''"`
	Model       string `gorm:"size:200;not null;default:''"`
	APIKey      string `gorm:"type:text;not null;default:''"` // sealed
	UpdatedAt   time.Time
}

// StatusAssistant is a conversation the assistant answers: routing does
// not see it until the visitor asks for a person (Handoff).
const StatusAssistant = "assistant"

func assistantKeyAAD(siteID string) []byte { return []byte("site:" + siteID + ":assistant_key") }

// The schema change of 2026120754_assistant_knowledge.
type (
	v54Article struct {
		ID          string `gorm:"primaryKey;size:36"`
		WorkspaceID string `gorm:"size:36;not null;index:idx_articles_ws_site,priority:1"`
		SiteID      string `gorm:"size:36;not null;index:idx_articles_ws_site,priority:2"`
		Title       string `gorm:"size:300;not null"`
		Body        string `gorm:"type:text;not null"`
		Tags        string `gorm:"type:text;not null;default:''"`
		Language    string `gorm:"size:35;not null;default:''"`
		Published   bool   `gorm:"not null;default:false"`
		CreatedAt   time.Time
		UpdatedAt   time.Time
	}
	v54AssistantSettings struct {
		SiteID      string `gorm:"primaryKey;size:36"`
		WorkspaceID string `gorm:"size:36;not null;index"`
		Mode        string `gorm:"size:20;not null;default:'off'"`
		Provider    string `gorm:"size:20;not null;default:'builtin'"`
		URL         string `gorm:"type:text;not null;default:''"`
		Model       string `gorm:"size:200;not null;default:''"`
		APIKey      string `gorm:"type:text;not null;default:''"`
		UpdatedAt   time.Time
	}
	v54Message struct {
		Sources string `gorm:"type:text;not null;default:''"`
	}
	v54Conversation struct {
		HandedOff bool `gorm:"not null;default:false"`
	}
)

func (v54Article) TableName() string           { return "articles" }
func (v54AssistantSettings) TableName() string { return "assistant_settings" }
func (v54Message) TableName() string           { return "messages" }
func (v54Conversation) TableName() string      { return "conversations" }

func migrateAssistant(tx *gorm.DB) error {
	if err := tx.Migrator().CreateTable(&v54Article{}, &v54AssistantSettings{}); err != nil {
		return err
	}
	if err := tx.Migrator().AddColumn(&v54Message{}, "Sources"); err != nil {
		return err
	}
	return tx.Migrator().AddColumn(&v54Conversation{}, "HandedOff")
}

// Articles lists a site's articles by title.
func (s *Scoped) Articles(ctx context.Context, siteID string) ([]Article, error) {
	var as []Article
	return as, s.q(ctx).Where("site_id = ?", siteID).Order("title, id").Find(&as).Error
}

// Article returns one article.
func (s *Scoped) Article(ctx context.Context, id string) (Article, error) {
	var a Article
	return a, notFound(s.q(ctx).Where("id = ?", id).Take(&a).Error)
}

// SaveArticle creates or replaces an article (by ID) of the workspace.
func (s *Scoped) SaveArticle(ctx context.Context, a Article) (Article, error) {
	a.WorkspaceID = s.ws
	a.Title = Truncate(a.Title, 300)
	now := time.Now().UTC()
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now
	}
	a.UpdatedAt = now
	return a, s.s.db.WithContext(ctx).Save(&a).Error
}

// DeleteArticle deletes an article.
func (s *Scoped) DeleteArticle(ctx context.Context, id string) error {
	res := s.q(ctx).Where("id = ?", id).Delete(&Article{})
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound
	}
	return res.Error
}

// EachArticle calls fn with every article of every workspace, in id order,
// in batches. It is the one unscoped read of articles: a node's search
// index (pkg/knowledge) holds every workspace's published passages, each
// labelled with its workspace and site, and every search filters by both.
func (s *Store) EachArticle(ctx context.Context, fn func(Article) error) error {
	last := ""
	for {
		var as []Article
		if err := s.db.WithContext(ctx).Where("id > ?", last).Order("id").Limit(200).Find(&as).Error; err != nil {
			return err
		}
		if len(as) == 0 {
			return nil
		}
		for _, a := range as {
			last = a.ID
			if err := fn(a); err != nil {
				return err
			}
		}
	}
}

// DefaultAssistantSettings are a site's settings before an admin saved any.
func DefaultAssistantSettings(siteID string) AssistantSettings {
	return AssistantSettings{SiteID: siteID, Mode: AssistantOff, Provider: ProviderBuiltin}
}

// AssistantSettings returns a site's assistant settings (the defaults when
// none were saved), the API key opened. The site must exist.
func (s *Scoped) AssistantSettings(ctx context.Context, siteID string) (AssistantSettings, error) {
	if _, err := s.Site(ctx, siteID); err != nil {
		return AssistantSettings{}, err
	}
	var a AssistantSettings
	err := s.q(ctx).Where("site_id = ?", siteID).Take(&a).Error
	if err == gorm.ErrRecordNotFound {
		d := DefaultAssistantSettings(siteID)
		d.WorkspaceID = s.ws
		return d, nil
	}
	if err != nil {
		return a, err
	}
	a.APIKey, err = s.s.open(a.APIKey, assistantKeyAAD(siteID))
	return a, err
}

// SetAssistantSettings stores a site's assistant settings, the API key
// sealed. The site must exist.
func (s *Scoped) SetAssistantSettings(ctx context.Context, a AssistantSettings) error {
	if _, err := s.Site(ctx, a.SiteID); err != nil {
		return err
	}
	a.WorkspaceID = s.ws
	a.UpdatedAt = time.Now().UTC()
	sealed, err := s.s.seal(a.APIKey, assistantKeyAAD(a.SiteID))
	if err != nil {
		return err
	}
	a.APIKey = sealed
	return s.s.db.WithContext(ctx).Save(&a).Error
}

// ToAssistant gives a waiting conversation (queued or offline) to the
// assistant, unless its visitor already asked for a person. It reports
// whether it did.
func (s *Scoped) ToAssistant(ctx context.Context, convID string) (bool, error) {
	res := s.q(ctx).Model(&Conversation{}).
		Where("id = ? AND status IN ? AND agent_id IS NULL AND handed_off = ?", convID, []string{"queued", StatusOffline}, false).
		Updates(map[string]any{"status": StatusAssistant, "updated_at": time.Now().UTC()})
	return res.RowsAffected > 0, res.Error
}

// Handoff takes a conversation from the assistant to the queue, for a
// person; the assistant does not take it back. It reports whether the
// conversation was the assistant's.
func (s *Scoped) Handoff(ctx context.Context, convID string) (bool, error) {
	res := s.q(ctx).Model(&Conversation{}).Where("id = ? AND status = ?", convID, StatusAssistant).
		Updates(map[string]any{"status": "queued", "handed_off": true, "updated_at": time.Now().UTC()})
	return res.RowsAffected > 0, res.Error
}
