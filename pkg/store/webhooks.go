package store

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Webhooks (pkg/service/webhooks.go): a workspace's subscriptions, and the
// deliveries of its events to them. A delivery is a row from the moment
// the event happens until its receiver took it (or it was given up), so
// deliveries outlast a restart and any node may carry them out: a node
// claims a due delivery for a while (LockedUntil) before it sends it.
// Secrets and payloads (which hold messages and contacts) are sealed.

// Webhook is one subscription: where to send which events, signed with
// Secret.
type Webhook struct {
	ID          string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null;index"`
	URL         string `gorm:"size:2000;not null"`
	// Events lists the event types, comma-separated.
	Events    string `gorm:"size:1000;not null"`
	Secret    string `gorm:"type:text;not null"` // sealed
	CreatedBy string `gorm:"size:36;not null;default:''"`
	CreatedAt time.Time
	// Disabled: an admin paused it; events meanwhile are not queued for it.
	Disabled bool `gorm:"not null;default:false"`
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed" // given up after the last attempt
)

// WebhookDelivery is one event on its way to one webhook, and its log.
type WebhookDelivery struct {
	ID          string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null;index"`
	WebhookID   string `gorm:"size:36;not null;index:idx_whd_hook,priority:1"`
	// EventID names the event; a replay sends the same event again.
	EventID string `gorm:"size:40;not null"`
	Event   string `gorm:"size:50;not null"`
	Payload string `gorm:"type:text;not null"` // sealed
	Status  string `gorm:"size:10;not null;index:idx_whd_due,priority:1"`
	// Attempts made so far; the next is due at NextAttemptAt, unless a
	// node holds it until LockedUntil.
	Attempts      int       `gorm:"not null;default:0"`
	NextAttemptAt time.Time `gorm:"index:idx_whd_due,priority:2"`
	LockedUntil   *time.Time
	// The last attempt's answer: its HTTP status (0: none came) and,
	// when it failed, why.
	ResponseStatus int    `gorm:"not null;default:0"`
	LastError      string `gorm:"size:500;not null;default:''"`
	// ReplayOf is the delivery an admin replayed to make this one.
	ReplayOf    string    `gorm:"size:36;not null;default:''"`
	CreatedAt   time.Time `gorm:"index:idx_whd_hook,priority:2"`
	DeliveredAt *time.Time
	// ResponseExcerpt is the start of the last answer's body (what the
	// receiver said, for the delivery log; not sealed: it is the
	// receiver's text, not the event's).
	ResponseExcerpt string `gorm:"size:500;not null;default:''"`
}

// The schema of 2026120751_webhooks.
type (
	v51Webhook struct {
		ID          string `gorm:"primaryKey;size:36"`
		WorkspaceID string `gorm:"size:36;not null;index"`
		URL         string `gorm:"size:2000;not null"`
		Events      string `gorm:"size:1000;not null"`
		Secret      string `gorm:"type:text;not null"`
		CreatedBy   string `gorm:"size:36;not null;default:''"`
		CreatedAt   time.Time
	}
	v51WebhookDelivery struct {
		ID             string    `gorm:"primaryKey;size:36"`
		WorkspaceID    string    `gorm:"size:36;not null;index"`
		WebhookID      string    `gorm:"size:36;not null;index:idx_whd_hook,priority:1"`
		EventID        string    `gorm:"size:40;not null"`
		Event          string    `gorm:"size:50;not null"`
		Payload        string    `gorm:"type:text;not null"`
		Status         string    `gorm:"size:10;not null;index:idx_whd_due,priority:1"`
		Attempts       int       `gorm:"not null;default:0"`
		NextAttemptAt  time.Time `gorm:"index:idx_whd_due,priority:2"`
		LockedUntil    *time.Time
		ResponseStatus int       `gorm:"not null;default:0"`
		LastError      string    `gorm:"size:500;not null;default:''"`
		ReplayOf       string    `gorm:"size:36;not null;default:''"`
		CreatedAt      time.Time `gorm:"index:idx_whd_hook,priority:2"`
		DeliveredAt    *time.Time
	}
)

func (v51Webhook) TableName() string         { return "webhooks" }
func (v51WebhookDelivery) TableName() string { return "webhook_deliveries" }

func migrateWebhooks(tx *gorm.DB) error {
	return tx.Migrator().CreateTable(&v51Webhook{}, &v51WebhookDelivery{})
}

// The columns of 2026120890_admin_webhook_controls.
type (
	v890Webhook struct {
		Disabled bool `gorm:"not null;default:false"`
	}
	v890WebhookDelivery struct {
		ResponseExcerpt string `gorm:"size:500;not null;default:''"`
	}
)

func (v890Webhook) TableName() string         { return "webhooks" }
func (v890WebhookDelivery) TableName() string { return "webhook_deliveries" }

func migrateWebhookControls(tx *gorm.DB) error {
	if err := tx.Migrator().AddColumn(&v890Webhook{}, "Disabled"); err != nil {
		return err
	}
	return tx.Migrator().AddColumn(&v890WebhookDelivery{}, "ResponseExcerpt")
}

func webhookSecretAAD(id string) []byte { return []byte("webhook:" + id + ":secret") }
func eventPayloadAAD(ws, eventID string) []byte {
	return []byte("webhook-event:" + ws + ":" + eventID)
}

// CreateWebhook stores a subscription (its secret sealed).
func (s *Scoped) CreateWebhook(ctx context.Context, w Webhook) error {
	w.WorkspaceID = s.ws
	sealed, err := s.s.seal(w.Secret, webhookSecretAAD(w.ID))
	if err != nil {
		return err
	}
	w.Secret = sealed
	return s.s.db.WithContext(ctx).Create(&w).Error
}

// Webhooks lists the workspace's subscriptions, oldest first, secrets
// opened.
func (s *Scoped) Webhooks(ctx context.Context) ([]Webhook, error) {
	var ws []Webhook
	if err := s.q(ctx).Order("created_at, id").Find(&ws).Error; err != nil {
		return nil, err
	}
	for i := range ws {
		var err error
		if ws[i].Secret, err = s.s.open(ws[i].Secret, webhookSecretAAD(ws[i].ID)); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

// Webhook returns one subscription, its secret opened.
func (s *Scoped) Webhook(ctx context.Context, id string) (Webhook, error) {
	var w Webhook
	if err := s.q(ctx).Where("id = ?", id).Take(&w).Error; err != nil {
		return w, notFound(err)
	}
	var err error
	w.Secret, err = s.s.open(w.Secret, webhookSecretAAD(w.ID))
	return w, err
}

// DeleteWebhook deletes a subscription and its delivery log: what was not
// delivered yet is not sent.
func (s *Scoped) DeleteWebhook(ctx context.Context, id string) error {
	return s.s.transaction(ctx, func(tx *gorm.DB) error {
		res := tx.Where("workspace_id = ? AND id = ?", s.ws, id).Delete(&Webhook{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return tx.Where("workspace_id = ? AND webhook_id = ?", s.ws, id).Delete(&WebhookDelivery{}).Error
	})
}

// SetWebhookDisabled pauses or resumes a subscription.
func (s *Scoped) SetWebhookDisabled(ctx context.Context, id string, disabled bool) (Webhook, error) {
	res := s.q(ctx).Model(&Webhook{}).Where("id = ?", id).Update("disabled", disabled)
	if res.Error != nil {
		return Webhook{}, res.Error
	}
	if res.RowsAffected == 0 {
		// SQLite and PostgreSQL count matched rows: 0 is a missing one.
		return Webhook{}, ErrNotFound
	}
	return s.Webhook(ctx, id)
}

// EditWebhook changes where a subscription is delivered and which events
// (comma-separated) it gets. Deliveries not sent yet go to the new URL: a
// delivery reads its webhook when it is sent.
func (s *Scoped) EditWebhook(ctx context.Context, id, url, events string) (Webhook, error) {
	res := s.q(ctx).Model(&Webhook{}).Where("id = ?", id).Updates(map[string]any{"url": url, "events": events})
	if res.Error != nil {
		return Webhook{}, res.Error
	}
	if res.RowsAffected == 0 {
		return Webhook{}, ErrNotFound
	}
	return s.Webhook(ctx, id)
}

// RotateWebhookSecret replaces a subscription's signing secret; the
// deliveries sent from now on are signed with it.
func (s *Scoped) RotateWebhookSecret(ctx context.Context, id, secret string) (Webhook, error) {
	sealed, err := s.s.seal(secret, webhookSecretAAD(id))
	if err != nil {
		return Webhook{}, err
	}
	res := s.q(ctx).Model(&Webhook{}).Where("id = ?", id).Update("secret", sealed)
	if res.Error != nil {
		return Webhook{}, res.Error
	}
	if res.RowsAffected == 0 {
		return Webhook{}, ErrNotFound
	}
	return s.Webhook(ctx, id)
}

// EnqueueDeliveries stores new pending deliveries (payloads sealed), due
// at once.
func (s *Scoped) EnqueueDeliveries(ctx context.Context, ds []WebhookDelivery) error {
	for i := range ds {
		ds[i].WorkspaceID = s.ws
		sealed, err := s.s.seal(ds[i].Payload, eventPayloadAAD(s.ws, ds[i].EventID))
		if err != nil {
			return err
		}
		ds[i].Payload = sealed
		ds[i].Status = DeliveryPending
	}
	return s.s.db.WithContext(ctx).Create(&ds).Error
}

// Deliveries is a webhook's delivery log, newest first, at most limit,
// payloads opened.
func (s *Scoped) Deliveries(ctx context.Context, webhookID string, limit int) ([]WebhookDelivery, error) {
	var ds []WebhookDelivery
	if err := s.q(ctx).Where("webhook_id = ?", webhookID).Order("created_at DESC, id DESC").Limit(limit).Find(&ds).Error; err != nil {
		return nil, err
	}
	for i := range ds {
		if err := s.s.openDelivery(&ds[i]); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// ReplayDelivery queues the event of delivery id to its webhook again as
// a new delivery (the log keeps both), due at once.
func (s *Scoped) ReplayDelivery(ctx context.Context, id, newID string, now time.Time) (WebhookDelivery, error) {
	var d WebhookDelivery
	if err := s.q(ctx).Where("id = ?", id).Take(&d).Error; err != nil {
		return d, notFound(err)
	}
	r := WebhookDelivery{ID: newID, WorkspaceID: s.ws, WebhookID: d.WebhookID, EventID: d.EventID, Event: d.Event,
		Payload: d.Payload, Status: DeliveryPending, NextAttemptAt: now, ReplayOf: d.ID, CreatedAt: now}
	if err := s.s.db.WithContext(ctx).Create(&r).Error; err != nil {
		return r, err
	}
	return r, s.s.openDelivery(&r)
}

func (s *Store) openDelivery(d *WebhookDelivery) error {
	var err error
	d.Payload, err = s.open(d.Payload, eventPayloadAAD(d.WorkspaceID, d.EventID))
	return err
}

// DueDeliveries lists the ids of up to limit deliveries of any workspace
// whose next attempt is due and that no node holds: the delivery
// worker's query, the one place deliveries are read across workspaces.
func (s *Store) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Model(&WebhookDelivery{}).
		Where("status = ? AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until < ?)", DeliveryPending, now, now).
		Order("next_attempt_at").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// ClaimDelivery holds a due delivery for this node until now+lease and
// returns it with its webhook (payload and secret opened); ok is false
// when another node got it first or it is no longer due. A node that dies
// holding it leaves it to another once the lease ends.
func (s *Store) ClaimDelivery(ctx context.Context, id string, now time.Time, lease time.Duration) (d WebhookDelivery, w Webhook, ok bool, err error) {
	res := s.db.WithContext(ctx).Model(&WebhookDelivery{}).
		Where("id = ? AND status = ? AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until < ?)", id, DeliveryPending, now, now).
		Update("locked_until", now.Add(lease))
	if res.Error != nil || res.RowsAffected == 0 {
		return d, w, false, res.Error
	}
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&d).Error; err != nil {
		return d, w, false, notFound(err)
	}
	if err := s.openDelivery(&d); err != nil {
		return d, w, false, err
	}
	w, err = s.Workspace(d.WorkspaceID).Webhook(ctx, d.WebhookID)
	return d, w, err == nil, err
}

// DeliveryAttempt is the outcome of one attempt of a delivery.
type DeliveryAttempt struct {
	Status         string     // DeliveryDelivered, DeliveryPending (retry at Next) or DeliveryFailed
	Next           time.Time  // when pending
	ResponseStatus int        // 0: no answer
	Error          string     // why it failed ("" when delivered)
	DeliveredAt    *time.Time // when delivered
	Excerpt        string     // the start of the answer's body
}

// RecordAttempt counts an attempt of a claimed delivery and releases it.
func (s *Store) RecordAttempt(ctx context.Context, id string, a DeliveryAttempt) error {
	if len(a.Error) > 500 {
		a.Error = strings.ToValidUTF8(a.Error[:500], "")
	}
	if len(a.Excerpt) > 500 {
		a.Excerpt = strings.ToValidUTF8(a.Excerpt[:500], "")
	}
	return s.db.WithContext(ctx).Model(&WebhookDelivery{}).Where("id = ?", id).Updates(map[string]any{
		"status": a.Status, "attempts": gorm.Expr("attempts + 1"), "next_attempt_at": a.Next, "locked_until": nil,
		"response_status": a.ResponseStatus, "last_error": a.Error, "delivered_at": a.DeliveredAt,
		"response_excerpt": strings.ToValidUTF8(a.Excerpt, ""),
	}).Error
}
