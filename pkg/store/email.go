package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Email (pkg/email, pkg/service/mailer.go). A workspace's SMTP settings,
// and the mail it sends, queued in the store so that a failure of the SMTP
// server or a restart delays mail and never loses it. Which messages were
// mailed is a cursor per conversation (MailedSeq): the mailer finds what to
// send from the messages themselves, in the same transaction that queues
// the mail and moves the cursor, so nothing depends on an event that a
// crash could drop.

// EmailSettings is how a workspace sends mail.
type EmailSettings struct {
	WorkspaceID string `gorm:"primaryKey;size:36"`
	Enabled     bool   `gorm:"not null;default:false"`
	Host        string `gorm:"size:255;not null;default:''"`
	Port        int    `gorm:"not null;default:587"`
	Security    string `gorm:"size:10;not null;default:'starttls'"`
	Username    string `gorm:"size:320;not null;default:''"`
	Password    string `gorm:"type:text;not null;default:''"` // sealed
	FromAddress string `gorm:"size:320;not null;default:''"`
	FromName    string `gorm:"size:200;not null;default:''"`
	// TeamTo lists, comma-separated, who is told of offline messages.
	TeamTo    string `gorm:"size:2000;not null;default:''"`
	UpdatedAt time.Time
}

// MailOut is one queued email.
type MailOut struct {
	ID             int64  `gorm:"primaryKey;autoIncrement"`
	WorkspaceID    string `gorm:"size:36;not null;index"`
	ConversationID string `gorm:"size:36;not null;default:''"`
	// Kind says why it is sent: offline or missed (to the team), reply (an
	// agent's answer to the visitor), invite, test, transcript.
	Kind      string `gorm:"size:20;not null"`
	ToAddress string `gorm:"type:text;not null"` // sealed
	Subject   string `gorm:"type:text;not null"` // sealed
	Body      string `gorm:"type:text;not null"` // sealed
	ReplyTo   string `gorm:"size:320;not null;default:''"`
	Attempts  int    `gorm:"not null;default:0"`
	// NextAt is when it is due; LeaseUntil, while a node is sending it.
	NextAt     time.Time `gorm:"not null;index:idx_mail_due"`
	LeaseUntil *time.Time
	SentAt     *time.Time `gorm:"index:idx_mail_due"`
	FailedAt   *time.Time
	LastError  string `gorm:"size:500;not null;default:''"`
	CreatedAt  time.Time
}

// TableName keeps the queue's name plain.
func (MailOut) TableName() string { return "mail_outbox" }

func emailPasswordAAD(ws string) []byte { return []byte("workspace:" + ws + ":smtp_password") }
func mailAAD(ws, field string, createdAt time.Time) []byte {
	return []byte("mail:" + ws + ":" + field + ":" + createdAt.UTC().Format(time.RFC3339Nano))
}

// The schema change of 2026120758_email_settings_outbox.
type v58Conversation struct {
	MailedSeq int64 `gorm:"not null;default:0"`
}

func (v58Conversation) TableName() string { return "conversations" }

func migrateEmail(tx *gorm.DB) error {
	if err := tx.Migrator().AddColumn(&v58Conversation{}, "MailedSeq"); err != nil {
		return err
	}
	// Nothing stored before email existed is mailed.
	if err := tx.Exec("UPDATE conversations SET mailed_seq = last_seq").Error; err != nil {
		return err
	}
	// Frozen copies of the two tables as first made.
	type emailSettings struct {
		WorkspaceID string `gorm:"primaryKey;size:36"`
		Enabled     bool   `gorm:"not null;default:false"`
		Host        string `gorm:"size:255;not null;default:''"`
		Port        int    `gorm:"not null;default:587"`
		Security    string `gorm:"size:10;not null;default:'starttls'"`
		Username    string `gorm:"size:320;not null;default:''"`
		Password    string `gorm:"type:text;not null;default:''"`
		FromAddress string `gorm:"size:320;not null;default:''"`
		FromName    string `gorm:"size:200;not null;default:''"`
		TeamTo      string `gorm:"size:2000;not null;default:''"`
		UpdatedAt   time.Time
	}
	type mailOutbox struct {
		ID             int64     `gorm:"primaryKey;autoIncrement"`
		WorkspaceID    string    `gorm:"size:36;not null;index"`
		ConversationID string    `gorm:"size:36;not null;default:''"`
		Kind           string    `gorm:"size:20;not null"`
		ToAddress      string    `gorm:"type:text;not null"`
		Subject        string    `gorm:"type:text;not null"`
		Body           string    `gorm:"type:text;not null"`
		ReplyTo        string    `gorm:"size:320;not null;default:''"`
		Attempts       int       `gorm:"not null;default:0"`
		NextAt         time.Time `gorm:"not null;index:idx_mail_due"`
		LeaseUntil     *time.Time
		SentAt         *time.Time `gorm:"index:idx_mail_due"`
		FailedAt       *time.Time
		LastError      string `gorm:"size:500;not null;default:''"`
		CreatedAt      time.Time
	}
	if err := tx.Table("email_settings").Migrator().CreateTable(&emailSettings{}); err != nil {
		return err
	}
	return tx.Table("mail_outbox").Migrator().CreateTable(&mailOutbox{})
}

// EmailSettings returns the workspace's SMTP settings, the password opened;
// ErrNotFound when none were saved.
func (s *Scoped) EmailSettings(ctx context.Context) (EmailSettings, error) {
	var es EmailSettings
	if err := s.q(ctx).Take(&es).Error; err != nil {
		return EmailSettings{}, notFound(err)
	}
	pw, err := s.s.open(es.Password, emailPasswordAAD(s.ws))
	if err != nil {
		return EmailSettings{}, err
	}
	es.Password = pw
	return es, nil
}

// SaveEmailSettings writes the workspace's SMTP settings (the password
// sealed). Turning mail on moves every conversation's mail cursor to now:
// what was said before is not mailed.
func (s *Scoped) SaveEmailSettings(ctx context.Context, es EmailSettings) error {
	es.WorkspaceID = s.ws
	pw, err := s.s.seal(es.Password, emailPasswordAAD(s.ws))
	if err != nil {
		return err
	}
	es.Password = pw
	return s.s.transaction(ctx, func(tx *gorm.DB) error {
		var was EmailSettings
		err := tx.Where("workspace_id = ?", s.ws).Take(&was).Error
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		if es.Enabled && !was.Enabled {
			if err := tx.Model(&Conversation{}).Where("workspace_id = ? AND mailed_seq < last_seq", s.ws).
				Update("mailed_seq", gorm.Expr("last_seq")).Error; err != nil {
				return err
			}
		}
		return tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(&es).Error
	})
}

// MailingWorkspaces lists the workspaces with mail turned on.
func (s *Store) MailingWorkspaces(ctx context.Context) ([]string, error) {
	var ids []string
	return ids, s.db.WithContext(ctx).Model(&EmailSettings{}).Where("enabled = ?", true).Pluck("workspace_id", &ids).Error
}

// Unmailed lists conversations with messages after their mail cursor and
// no new message since quietSince (a burst of replies is one mail).
func (s *Scoped) Unmailed(ctx context.Context, quietSince time.Time, limit int) ([]Conversation, error) {
	var cs []Conversation
	err := s.q(ctx).Where("mailed_seq < last_seq AND updated_at <= ?", quietSince).
		Order("updated_at").Limit(limit).Find(&cs).Error
	return s.openAll(cs, err)
}

// QueueMail stores mails and moves conversation convID's mail cursor from
// `from` to `to` in one transaction. ErrConflict: another node moved it.
// With convID "" it only queues.
func (s *Scoped) QueueMail(ctx context.Context, convID string, from, to int64, mails []MailOut) error {
	// Microseconds: what PostgreSQL keeps, so the sealing's AAD matches
	// when the row is read back.
	now := time.Now().UTC().Truncate(time.Microsecond)
	rows := make([]MailOut, 0, len(mails))
	for _, m := range mails {
		m.WorkspaceID = s.ws
		m.CreatedAt = now
		if m.NextAt.IsZero() {
			m.NextAt = now
		}
		var err error
		for _, f := range []struct {
			v    *string
			name string
		}{{&m.ToAddress, "to"}, {&m.Subject, "subject"}, {&m.Body, "body"}} {
			if *f.v, err = s.s.seal(*f.v, mailAAD(s.ws, f.name, now)); err != nil {
				return err
			}
		}
		rows = append(rows, m)
	}
	return s.s.transaction(ctx, func(tx *gorm.DB) error {
		if convID != "" {
			res := tx.Model(&Conversation{}).Where("workspace_id = ? AND id = ? AND mailed_seq = ?", s.ws, convID, from).Update("mailed_seq", to)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				return ErrConflict
			}
		}
		if len(rows) == 0 {
			return nil
		}
		return tx.Create(&rows).Error
	})
}

// ClaimMail leases up to limit due mails of any workspace to this node
// until leaseUntil, and returns them opened. A mail whose lease ran out
// (its node died while sending) is due again: it may go out twice, never
// zero times.
func (s *Store) ClaimMail(ctx context.Context, now, leaseUntil time.Time, limit int) ([]MailOut, error) {
	due, err := leaseDue(ctx, s.db, "sent_at IS NULL AND failed_at IS NULL", now, leaseUntil, limit, func(m *MailOut) int64 { return m.ID })
	if err != nil {
		return nil, err
	}
	for i := range due {
		if err := s.openMail(&due[i]); err != nil {
			return nil, err
		}
	}
	return due, nil
}

func (s *Store) openMail(m *MailOut) error {
	for _, f := range []struct {
		v    *string
		name string
	}{{&m.ToAddress, "to"}, {&m.Subject, "subject"}, {&m.Body, "body"}} {
		v, err := s.open(*f.v, mailAAD(m.WorkspaceID, f.name, m.CreatedAt))
		if err != nil {
			return err
		}
		*f.v = v
	}
	return nil
}

// MailSent marks a mail sent.
func (s *Store) MailSent(ctx context.Context, id int64, now time.Time) error {
	return s.db.WithContext(ctx).Model(&MailOut{}).Where("id = ?", id).
		Updates(map[string]any{"sent_at": now, "lease_until": nil, "attempts": gorm.Expr("attempts + 1"), "last_error": ""}).Error
}

// MailFailed records a failed attempt: due again at next, or failed for
// good when next is nil.
func (s *Store) MailFailed(ctx context.Context, id int64, now time.Time, next *time.Time, reason string) error {
	up := map[string]any{"lease_until": nil, "attempts": gorm.Expr("attempts + 1"), "last_error": Truncate(reason, 500)}
	if next != nil {
		up["next_at"] = *next
	} else {
		up["failed_at"] = now
	}
	return s.db.WithContext(ctx).Model(&MailOut{}).Where("id = ?", id).Updates(up).Error
}

// HasMail says whether a mail of kind was ever queued for a conversation.
func (s *Scoped) HasMail(ctx context.Context, convID, kind string) (bool, error) {
	var n int64
	err := s.q(ctx).Model(&MailOut{}).Where("conversation_id = ? AND kind = ?", convID, kind).Limit(1).Count(&n).Error
	return n > 0, err
}

// Mails lists the workspace's latest mails, newest first, opened.
func (s *Scoped) Mails(ctx context.Context, limit int) ([]MailOut, error) {
	var ms []MailOut
	if err := s.q(ctx).Order("id DESC").Limit(limit).Find(&ms).Error; err != nil {
		return nil, err
	}
	for i := range ms {
		if err := s.s.openMail(&ms[i]); err != nil {
			return nil, err
		}
	}
	return ms, nil
}

// RetryMail makes a failed or waiting mail due now.
func (s *Scoped) RetryMail(ctx context.Context, id int64, now time.Time) error {
	res := s.q(ctx).Model(&MailOut{}).Where("id = ? AND sent_at IS NULL", id).
		Updates(map[string]any{"failed_at": nil, "next_at": now, "lease_until": nil})
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound
	}
	return res.Error
}

// reencryptMail reseals SMTP passwords and queued mails (Reencrypt).
func (s *Store) reencryptMail(ctx context.Context, k interface {
	Sealer
	Resealer
}) (int, error) {
	n := 0
	var es []EmailSettings
	if err := s.db.WithContext(ctx).Select("workspace_id, password").Where("password <> ''").Find(&es).Error; err != nil {
		return n, err
	}
	for _, e := range es {
		out, changed, err := reseal(k, e.Password, emailPasswordAAD(e.WorkspaceID))
		if err != nil {
			return n, fmt.Errorf("email settings of %s: %w", e.WorkspaceID, err)
		}
		if changed {
			if err := s.db.WithContext(ctx).Model(&EmailSettings{}).Where("workspace_id = ? AND password = ?", e.WorkspaceID, e.Password).Update("password", out).Error; err != nil {
				return n, err
			}
			n++
		}
	}
	var last int64
	for {
		var ms []MailOut
		if err := s.db.WithContext(ctx).Where("id > ?", last).Order("id").Limit(500).Find(&ms).Error; err != nil {
			return n, err
		}
		if len(ms) == 0 {
			return n, nil
		}
		for _, m := range ms {
			last = m.ID
			for _, f := range []struct{ column, value, name string }{
				{"to_address", m.ToAddress, "to"}, {"subject", m.Subject, "subject"}, {"body", m.Body, "body"},
			} {
				out, changed, err := reseal(k, f.value, mailAAD(m.WorkspaceID, f.name, m.CreatedAt))
				if err != nil {
					return n, fmt.Errorf("mail %d: %w", m.ID, err)
				}
				if changed {
					if err := s.db.WithContext(ctx).Model(&MailOut{}).Where("id = ? AND "+f.column+" = ?", m.ID, f.value).Update(f.column, out).Error; err != nil {
						return n, err
					}
					n++
				}
			}
		}
	}
}

// ConversationWorkspace returns the workspace of a conversation, for a
// reply address that names only the conversation (its signature is what
// vouches for it).
func (s *Store) ConversationWorkspace(ctx context.Context, id string) (string, error) {
	var c Conversation
	if err := s.db.WithContext(ctx).Select("workspace_id").Where("id = ?", id).Take(&c).Error; err != nil {
		return "", notFound(err)
	}
	return c.WorkspaceID, nil
}
