package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// Private notes: what agents write to each other inside a conversation.
// A note is not a message: it has its own table, never takes a seq, and
// nothing the visitor reads (resume, history, the visitor's topics) looks
// at this table, so no path can hand a note to the visitor. It remembers
// the conversation's last seq when it was written (AfterSeq), which places
// it in the agents' transcript after that message. Bodies are sealed like
// message bodies.

// Note is one private note of a conversation.
type Note struct {
	ID             string `gorm:"primaryKey;size:36"`
	WorkspaceID    string `gorm:"size:36;not null;index:idx_notes_conv,priority:1"`
	ConversationID string `gorm:"size:36;not null;index:idx_notes_conv,priority:2"`
	AfterSeq       int64  `gorm:"not null"`
	AuthorID       string `gorm:"size:36;not null"`
	Body           string `gorm:"type:text;not null"` // sealed when encryption is on
	CreatedAt      time.Time
}

// NoteMention says that a note names an agent (@Name); ReadAt is when that
// agent saw it in their list of mentions.
type NoteMention struct {
	NoteID         string    `gorm:"primaryKey;size:36"`
	AgentID        string    `gorm:"primaryKey;size:36;index:idx_mentions_agent,priority:1"`
	WorkspaceID    string    `gorm:"size:36;not null"`
	ConversationID string    `gorm:"size:36;not null"`
	CreatedAt      time.Time `gorm:"index:idx_mentions_agent,priority:2"`
	ReadAt         *time.Time
}

// Mention is a note that names an agent, as that agent lists it.
type Mention struct {
	Note
	ReadAt *time.Time
}

func noteBodyAAD(id string) []byte { return []byte("note:" + id + ":body") }

// NotesPerConversation bounds what Notes returns: notes are a handful per
// conversation; a runaway writer must not make every open slow.
const NotesPerConversation = 1000

// AddNote stores a note in a conversation of the workspace (ErrNotFound
// when there is none) with the agents it mentions, and returns it with its
// place (AfterSeq) and time.
func (s *Scoped) AddNote(ctx context.Context, n Note, mentions []string) (Note, error) {
	n.WorkspaceID = s.ws
	plain := n.Body
	sealed, err := s.s.seal(n.Body, noteBodyAAD(n.ID))
	if err != nil {
		return n, err
	}
	err = s.s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var c Conversation
		if err := tx.Select("id, last_seq").Where("workspace_id = ? AND id = ?", s.ws, n.ConversationID).Take(&c).Error; err != nil {
			return notFound(err)
		}
		n.AfterSeq = c.LastSeq
		n.Body = sealed
		if err := tx.Create(&n).Error; err != nil {
			return err
		}
		if err := s.s.indexDoc(ctx, tx, s.ws, docNote, n.ID, plain); err != nil {
			return err
		}
		for _, id := range mentions {
			m := NoteMention{NoteID: n.ID, AgentID: id, WorkspaceID: s.ws, ConversationID: n.ConversationID, CreatedAt: n.CreatedAt}
			if err := tx.Create(&m).Error; err != nil {
				return err
			}
		}
		return nil
	})
	n.Body = plain
	return n, err
}

// Notes returns a conversation's notes, oldest first.
func (s *Scoped) Notes(ctx context.Context, convID string) ([]Note, error) {
	var ns []Note
	if err := s.q(ctx).Where("conversation_id = ?", convID).Order("created_at, id").Limit(NotesPerConversation).Find(&ns).Error; err != nil {
		return nil, err
	}
	for i := range ns {
		if err := s.s.openNote(&ns[i]); err != nil {
			return nil, err
		}
	}
	return ns, nil
}

// NoteMentions returns who each of the notes mentions, by note id.
func (s *Scoped) NoteMentions(ctx context.Context, noteIDs []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(noteIDs) == 0 {
		return out, nil
	}
	var ms []NoteMention
	if err := s.s.plain.WithContext(ctx).Where("workspace_id = ? AND note_id IN ?", s.ws, noteIDs).Find(&ms).Error; err != nil {
		return nil, err
	}
	for _, m := range ms {
		out[m.NoteID] = append(out[m.NoteID], m.AgentID)
	}
	return out, nil
}

// Mentions returns the latest notes that mention an agent, newest first.
func (s *Scoped) Mentions(ctx context.Context, agentID string, limit int) ([]Mention, error) {
	var ms []NoteMention
	if err := s.q(ctx).Where("agent_id = ?", agentID).Order("created_at DESC").Limit(limit).Find(&ms).Error; err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, nil
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.NoteID
	}
	var ns []Note
	if err := s.s.plain.WithContext(ctx).Where("workspace_id = ? AND id IN ?", s.ws, ids).Find(&ns).Error; err != nil {
		return nil, err
	}
	byID := make(map[string]Note, len(ns))
	for _, n := range ns {
		if err := s.s.openNote(&n); err != nil {
			return nil, err
		}
		byID[n.ID] = n
	}
	out := make([]Mention, 0, len(ms))
	for _, m := range ms {
		if n, ok := byID[m.NoteID]; ok {
			out = append(out, Mention{Note: n, ReadAt: m.ReadAt})
		}
	}
	return out, nil
}

// ReadMentions marks every unread mention of an agent read.
func (s *Scoped) ReadMentions(ctx context.Context, agentID string, now time.Time) error {
	return s.q(ctx).Model(&NoteMention{}).Where("agent_id = ? AND read_at IS NULL", agentID).Update("read_at", now).Error
}

func (s *Store) openNote(n *Note) error {
	b, err := s.open(n.Body, noteBodyAAD(n.ID))
	n.Body = b
	return err
}

// reencryptNotes re-seals note bodies not under the primary key (part of
// Reencrypt).
func (s *Store) reencryptNotes(ctx context.Context, k interface {
	Sealer
	Resealer
}) (int, error) {
	n, last := 0, ""
	for {
		var ns []Note
		if err := s.db.WithContext(ctx).Select("id, body").Where("id > ?", last).Order("id").Limit(500).Find(&ns).Error; err != nil {
			return n, err
		}
		if len(ns) == 0 {
			return n, nil
		}
		for _, note := range ns {
			last = note.ID
			m, err := s.resealColumn(ctx, k, &Note{}, note.ID, "body", note.Body, noteBodyAAD(note.ID))
			if err != nil {
				return n, errors.Join(errors.New("note "+note.ID), err)
			}
			n += m
		}
	}
}

// The schema of 2026120746_notes_private_notes.
type (
	v46Note struct {
		ID             string `gorm:"primaryKey;size:36"`
		WorkspaceID    string `gorm:"size:36;not null;index:idx_notes_conv,priority:1"`
		ConversationID string `gorm:"size:36;not null;index:idx_notes_conv,priority:2"`
		AfterSeq       int64  `gorm:"not null"`
		AuthorID       string `gorm:"size:36;not null"`
		Body           string `gorm:"type:text;not null"`
		CreatedAt      time.Time
	}
	v46NoteMention struct {
		NoteID         string    `gorm:"primaryKey;size:36"`
		AgentID        string    `gorm:"primaryKey;size:36;index:idx_mentions_agent,priority:1"`
		WorkspaceID    string    `gorm:"size:36;not null"`
		ConversationID string    `gorm:"size:36;not null"`
		CreatedAt      time.Time `gorm:"index:idx_mentions_agent,priority:2"`
		ReadAt         *time.Time
	}
)

func (v46Note) TableName() string        { return "notes" }
func (v46NoteMention) TableName() string { return "note_mentions" }

func migrateNotes(tx *gorm.DB) error {
	return tx.Migrator().CreateTable(&v46Note{}, &v46NoteMention{})
}
