package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Attachment is a file sent in a conversation. Its bytes live in a blob
// store (pkg/service/blob.go) under BlobKey; the row says what it is and
// who may read it (the conversation's participants). (ConversationID,
// ClientID) is unique, like a message's: a resent upload finds the row of
// the first one and stores nothing new. Name is sealed when encryption is
// on; so are the bytes (Sealed says which key sealed them is in the blob).
type Attachment struct {
	ID             string `gorm:"primaryKey;size:36"`
	WorkspaceID    string `gorm:"size:36;not null;index"`
	ConversationID string `gorm:"size:36;not null;uniqueIndex:idx_att_conv_client,priority:1"`
	ClientID       string `gorm:"size:64;not null;uniqueIndex:idx_att_conv_client,priority:2"`
	AuthorKind     string `gorm:"size:20;not null"`
	AuthorID       string `gorm:"size:36;not null"`
	Name           string `gorm:"type:text;not null"` // sealed when encryption is on
	ContentType    string `gorm:"size:100;not null"`
	Size           int64  `gorm:"not null"`
	BlobKey        string `gorm:"size:200;not null"`
	// Sealed: the blob is the keyring's sealing of the bytes (SealBlob).
	Sealed    bool `gorm:"not null;default:false"`
	CreatedAt time.Time
}

// The schema change of 2026120835_attach_attachments: the attachments
// table, a message's attachment (JSON of protocol.Attachment, sealed) and a
// site's limits (AttachMaxBytes 0: the default; AttachTypes, space-separated
// MIME types, empty: the default list).
type (
	v835Attachment struct {
		ID             string `gorm:"primaryKey;size:36"`
		WorkspaceID    string `gorm:"size:36;not null;index"`
		ConversationID string `gorm:"size:36;not null;uniqueIndex:idx_att_conv_client,priority:1"`
		ClientID       string `gorm:"size:64;not null;uniqueIndex:idx_att_conv_client,priority:2"`
		AuthorKind     string `gorm:"size:20;not null"`
		AuthorID       string `gorm:"size:36;not null"`
		Name           string `gorm:"type:text;not null"`
		ContentType    string `gorm:"size:100;not null"`
		Size           int64  `gorm:"not null"`
		BlobKey        string `gorm:"size:200;not null"`
		Sealed         bool   `gorm:"not null;default:false"`
		CreatedAt      time.Time
	}
	v835Message struct {
		Attachment string `gorm:"type:text;not null;default:''"`
	}
	v835Site struct {
		AttachMaxBytes int64  `gorm:"not null;default:0"`
		AttachTypes    string `gorm:"size:2000;not null;default:''"`
	}
)

func (v835Attachment) TableName() string { return "attachments" }
func (v835Message) TableName() string    { return "messages" }
func (v835Site) TableName() string       { return "sites" }

func migrateAttachments(tx *gorm.DB) error {
	if err := tx.Migrator().CreateTable(&v835Attachment{}); err != nil {
		return err
	}
	if err := tx.Migrator().AddColumn(&v835Message{}, "Attachment"); err != nil {
		return err
	}
	for _, f := range []string{"AttachMaxBytes", "AttachTypes"} {
		if err := tx.Migrator().AddColumn(&v835Site{}, f); err != nil {
			return err
		}
	}
	return nil
}

func attachmentNameAAD(id string) []byte { return []byte("attachment:" + id + ":name") }
func attachmentBlobAAD(id string) []byte { return []byte("attachment:" + id + ":blob") }
func messageAttachmentAAD(convID, clientID string) []byte {
	return []byte("msg:" + convID + ":" + clientID + ":attachment")
}

// SealBlob seals an attachment's bytes with the store's keyring (sealed
// false: encryption is off, data is returned as it is).
func (s *Store) SealBlob(id string, data []byte) (out []byte, sealed bool, err error) {
	if s.sealer == nil {
		return data, false, nil
	}
	str, err := s.sealer.Seal(data, attachmentBlobAAD(id))
	if err != nil {
		return nil, false, err
	}
	return []byte(str), true, nil
}

// OpenBlob opens what SealBlob sealed.
func (s *Store) OpenBlob(a Attachment, data []byte) ([]byte, error) {
	if !a.Sealed {
		return data, nil
	}
	if s.sealer == nil {
		return nil, errors.New("store: the attachment is sealed and no keyring is configured")
	}
	return s.sealer.Open(string(data), attachmentBlobAAD(a.ID))
}

// CreateAttachment stores a's row, or, when the conversation already has
// one for a.ClientID (a resend), returns that one with created false.
func (s *Scoped) CreateAttachment(ctx context.Context, a Attachment) (out Attachment, created bool, err error) {
	a.WorkspaceID = s.ws
	if a.CreatedAt.IsZero() {
		a.CreatedAt = time.Now().UTC()
	}
	plain := a.Name
	if a.Name, err = s.s.seal(plain, attachmentNameAAD(a.ID)); err != nil {
		return out, false, err
	}
	res := s.s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&a)
	if res.Error != nil {
		return out, false, res.Error
	}
	if res.RowsAffected == 1 {
		a.Name = plain
		return a, true, nil
	}
	out, err = s.AttachmentByClient(ctx, a.ConversationID, a.ClientID)
	return out, false, err
}

// AttachmentByClient returns the conversation's attachment sent with
// clientID; ErrNotFound when there is none.
func (s *Scoped) AttachmentByClient(ctx context.Context, convID, clientID string) (Attachment, error) {
	var a Attachment
	if err := s.q(ctx).Where("conversation_id = ? AND client_id = ?", convID, clientID).Take(&a).Error; err != nil {
		return a, notFound(err)
	}
	return a, s.s.openAttachment(&a)
}

// Attachment returns one attachment of the conversation.
func (s *Scoped) Attachment(ctx context.Context, convID, id string) (Attachment, error) {
	var a Attachment
	if err := s.q(ctx).Where("conversation_id = ? AND id = ?", convID, id).Take(&a).Error; err != nil {
		return a, notFound(err)
	}
	return a, s.s.openAttachment(&a)
}

// AttachmentKeysOfVisitor lists the blob keys of every attachment in the
// visitor's conversations: deleting the visitor deletes the rows
// (DeleteVisitor walks every conversation-keyed table), the caller deletes
// these blobs.
func (s *Scoped) AttachmentKeysOfVisitor(ctx context.Context, visitorID string) ([]string, error) {
	var keys []string
	err := s.q(ctx).Model(&Attachment{}).
		Where("conversation_id IN (?)", s.s.db.Model(&Conversation{}).Select("id").Where("workspace_id = ? AND visitor_id = ?", s.ws, visitorID)).
		Pluck("blob_key", &keys).Error
	return keys, err
}

func (s *Store) openAttachment(a *Attachment) error {
	var err error
	a.Name, err = s.open(a.Name, attachmentNameAAD(a.ID))
	return err
}
