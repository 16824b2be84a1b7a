package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	"gorm.io/gorm"
)

// Data rights: everything stored about one visitor, exported opened for an
// admin, or deleted for good.
//
// Deletion does not list tables by hand: it walks every table of the
// schema and deletes, within the workspace, the rows whose visitor_id is
// the visitor's or whose conversation_id is one of their conversations, so
// a table added later is covered without touching this file. Rows keyed
// only through another row (a note's mentions by note_id) also carry
// conversation_id here; a table that did not would be caught by the test
// that checks no row refers to a deleted visitor (data_rights_test.go).

// VisitorExport is what the store holds about one visitor, opened.
type VisitorExport struct {
	Visitor       Visitor
	Attributes    map[string]Attribute
	Pages         []VisitorPage
	Events        []VisitorEvent
	TriggersFired []string
	// Conversions: the visitor's purchases attributed to their chats.
	Conversions   []Conversion
	Conversations []ConversationExport
	// Contact: the contact the visitor is one of (nil: none).
	Contact *Contact
}

// ConversationExport is one of the visitor's conversations with what is
// keyed by it.
type ConversationExport struct {
	Conversation Conversation
	Messages     []Message
	Notes        []Note
	// Mentions maps a note's id to the agents it names.
	Mentions map[string][]string
	Tags     []Tag
	Mails    []MailOut
	// Attachments: the files sent in it (what they are; their bytes are
	// downloaded from the conversation).
	Attachments []Attachment
	// Announcements: changes of owner not yet told to its clients (ids
	// only; deleted once told).
	Announcements []Announcement
	// Translations: its messages as auto-translated for the other side.
	Translations []MessageTranslation
	// Figures: what reports keep of its messages (counts, answer times);
	// none until it is computed (conversation_stats.go).
	Figures []ConversationStat
}

// ExportedTables are the tables ExportVisitor reads rows keyed by a visitor
// or a conversation from; a test checks it names every such table, so a
// new one is not forgotten in the export.
var ExportedTables = []string{"visitors", "visitor_attributes", "visitor_pages", "visitor_events", "trigger_fires",
	"conversations", "messages", "notes", "note_mentions", "conversation_tags", "mail_outbox", "attachments", "announcements",
	"message_translations", "conversions", "conversation_stats"}

// ExportVisitor returns everything stored about the visitor, opened;
// ErrNotFound when it is not this workspace's.
func (s *Scoped) ExportVisitor(ctx context.Context, id string) (VisitorExport, error) {
	var out VisitorExport
	v, err := s.Visitor(ctx, id)
	if err != nil {
		return out, err
	}
	out.Visitor = v
	if v.ContactID != "" {
		ct, err := s.Contact(ctx, v.ContactID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return out, err
		}
		if err == nil {
			out.Contact = &ct
		}
	}
	if out.Attributes, err = s.attributes(s.s.db.WithContext(ctx), id); err != nil {
		return out, err
	}
	const all = 1 << 30 // an export holds every row; the readers take a limit
	if out.Pages, err = s.VisitorPages(ctx, id, all); err != nil {
		return out, err
	}
	if out.Events, err = s.VisitorEvents(ctx, id, all); err != nil {
		return out, err
	}
	if out.TriggersFired, err = s.TriggersFired(ctx, id); err != nil {
		return out, err
	}
	if err := s.q(ctx).Where("visitor_id = ?", id).Order("id").Find(&out.Conversions).Error; err != nil {
		return out, err
	}
	convs, err := s.ConversationsOfVisitor(ctx, id, all)
	if err != nil {
		return out, err
	}
	ids := make([]string, len(convs))
	for i, c := range convs {
		ids[i] = c.ID
	}
	tags, err := s.TagsOf(ctx, ids)
	if err != nil {
		return out, err
	}
	for _, c := range convs {
		ce := ConversationExport{Conversation: c, Tags: tags[c.ID]}
		for after := int64(0); ; {
			ms, err := s.MessagesAfter(ctx, c.ID, after, HistoryPage)
			if err != nil {
				return out, err
			}
			ce.Messages = append(ce.Messages, ms...)
			if len(ms) < HistoryPage {
				break
			}
			after = ms[len(ms)-1].Seq
		}
		if ce.Notes, err = s.Notes(ctx, c.ID); err != nil {
			return out, err
		}
		if ce.Translations, err = s.Translations(ctx, c.ID, 0, math.MaxInt64); err != nil {
			return out, err
		}
		noteIDs := make([]string, len(ce.Notes))
		for i, n := range ce.Notes {
			noteIDs[i] = n.ID
		}
		if ce.Mentions, err = s.NoteMentions(ctx, noteIDs); err != nil {
			return out, err
		}
		if err := s.q(ctx).Where("conversation_id = ?", c.ID).Order("created_at, id").Find(&ce.Attachments).Error; err != nil {
			return out, err
		}
		for i := range ce.Attachments {
			if err := s.s.openAttachment(&ce.Attachments[i]); err != nil {
				return out, err
			}
		}
		if err := s.q(ctx).Where("conversation_id = ?", c.ID).Order("id").Find(&ce.Mails).Error; err != nil {
			return out, err
		}
		for i := range ce.Mails {
			if err := s.s.openMail(&ce.Mails[i]); err != nil {
				return out, err
			}
		}
		if err := s.q(ctx).Where("conversation_id = ?", c.ID).Order("id").Find(&ce.Announcements).Error; err != nil {
			return out, err
		}
		if err := s.q(ctx).Where("conversation_id = ?", c.ID).Find(&ce.Figures).Error; err != nil {
			return out, err
		}
		out.Conversations = append(out.Conversations, ce)
	}
	return out, nil
}

// Deleted counts the rows a DeleteVisitor removed, by table.
type Deleted map[string]int64

// DeleteVisitor deletes the visitor and every row of the workspace keyed by
// them or by one of their conversations, in one transaction; ErrNotFound
// when the visitor is not this workspace's.
func (s *Scoped) DeleteVisitor(ctx context.Context, id string) (Deleted, error) {
	out := Deleted{}
	err := s.s.transaction(ctx, func(tx *gorm.DB) error {
		var v Visitor
		if err := tx.Select("id, contact_id").Where("workspace_id = ? AND id = ?", s.ws, id).Take(&v).Error; err != nil {
			return notFound(err)
		}
		var convs []string
		if err := tx.Model(&Conversation{}).Where("workspace_id = ? AND visitor_id = ?", s.ws, id).Pluck("id", &convs).Error; err != nil {
			return err
		}
		keyed, err := KeyedTables(tx)
		if err != nil {
			return err
		}
		if err := deleteKeyed(tx, s.ws, keyed, convs, out); err != nil {
			return err
		}
		for _, t := range keyed {
			if t.Visitor {
				if err := deleteIn(tx, s.ws, out, t.Name, "visitor_id = ?", id); err != nil {
					return err
				}
			}
		}
		if err := deleteIn(tx, s.ws, out, "search_doc_terms", "kind = ? AND doc_id = ?", docVisitor, id); err != nil {
			return err
		}
		if err := deleteIn(tx, s.ws, out, "visitors", "id = ?", id); err != nil {
			return err
		}
		return unlinkDeletedVisitor(tx, s.ws, v.ContactID, out)
	})
	return out, err
}

// deleteKeyed deletes the workspace's rows of every keyed table whose
// conversation_id is one of convs, but not the conversations themselves.
func deleteKeyed(tx *gorm.DB, ws string, keyed []KeyedTable, convs []string, out Deleted) error {
	if len(convs) == 0 {
		return nil
	}
	if err := deleteSearchTerms(tx, ws, convs, out); err != nil {
		return err
	}
	if err := uncount(tx, ws, convs); err != nil {
		return err
	}
	for _, t := range keyed {
		if t.Conversation && t.Name != "conversations" {
			if err := deleteIn(tx, ws, out, t.Name, "conversation_id IN ?", convs); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteIn deletes the workspace's rows of table matching where, counted
// in out.
func deleteIn(tx *gorm.DB, ws string, out Deleted, table, where string, args ...any) error {
	res := tx.Exec("DELETE FROM "+table+" WHERE workspace_id = ? AND "+where, append([]any{ws}, args...)...)
	if res.RowsAffected > 0 {
		out[table] += res.RowsAffected
	}
	return res.Error
}

// KeyedTable is a table with rows keyed by a visitor or a conversation.
type KeyedTable struct {
	Name                  string
	Visitor, Conversation bool // it has a visitor_id, a conversation_id column
}

// KeyedTables lists, from the schema itself, the tables with a visitor_id
// or conversation_id column, by name. Every one has workspace_id (the
// store's rule); one without is an error, since it could not be scoped.
func KeyedTables(db *gorm.DB) ([]KeyedTable, error) {
	names, err := db.Migrator().GetTables()
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []KeyedTable
	for _, name := range names {
		cols, err := db.Migrator().ColumnTypes(name)
		if err != nil {
			return nil, err
		}
		t, ws := KeyedTable{Name: name}, false
		for _, c := range cols {
			switch c.Name() {
			case "visitor_id":
				t.Visitor = true
			case "conversation_id":
				t.Conversation = true
			case "workspace_id":
				ws = true
			}
		}
		if !t.Visitor && !t.Conversation {
			continue
		}
		if !ws {
			return nil, fmt.Errorf("store: table %s is keyed by visitor or conversation without workspace_id", name)
		}
		out = append(out, t)
	}
	return out, nil
}
