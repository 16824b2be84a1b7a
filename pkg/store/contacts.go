package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Contacts and leads: one contact per known visitor (one who gave an
// email or a phone in the pre-chat or offline form, was identified by the
// site's backend, or answered by email), linked from visitors.contact_id.
// The same person coming back as another visitor (another browser, a
// signed-in session) is the same contact: contacts are matched by the
// verified user id and by the email, so a second visitor with either joins
// the contact, and two contacts found to be one are merged (the visitors
// of both, with their conversations, stay listed under the one kept).
//
// Name, email, phone and notes are sealed like visitors' fields. The email
// is matched without storing it in clear: email_key is
// HMAC-SHA256(workspace search key, "email\x00" + lower-cased address), the
// search package's key (search.go), and the name and email are indexed as
// that package's keyed words (search_doc_terms, kind "c") for the Contacts
// screen's search. The verified user id is the site's own id, stored in
// clear like visitors.user_id.

// Lead statuses.
const (
	LeadNew       = "new"
	LeadContacted = "contacted"
	LeadWon       = "won"
	LeadLost      = "lost"
)

// LeadStatuses lists the statuses in the order a lead moves.
var LeadStatuses = []string{LeadNew, LeadContacted, LeadWon, LeadLost}

// Contact is a known person of the workspace and their lead status.
type Contact struct {
	ID          string `gorm:"primaryKey;size:36"`
	WorkspaceID string `gorm:"size:36;not null;index:idx_contacts_ws_created,priority:1"`
	Name        string `gorm:"type:text;not null;default:''"` // sealed
	Email       string `gorm:"type:text;not null;default:''"` // sealed
	Phone       string `gorm:"type:text;not null;default:''"` // sealed
	Notes       string `gorm:"type:text;not null;default:''"` // sealed
	// EmailKey is the keyed hash of the email (hex), "" without one;
	// UserID the verified user id, "" for none. Each is unique within the
	// workspace when set (partial unique indexes, migrateContacts).
	EmailKey string `gorm:"size:64;not null;default:''"`
	UserID   string `gorm:"size:256;not null;default:''"`
	Status   string `gorm:"size:10;not null;default:'new'"`
	// OwnerID is the agent who owns the lead ("" none).
	OwnerID   string    `gorm:"size:36;not null;default:''"`
	CreatedAt time.Time `gorm:"index:idx_contacts_ws_created,priority:2"`
	UpdatedAt time.Time
}

const docContact = "c"

func contactFieldAAD(id, field string) []byte { return []byte("contact:" + id + ":" + field) }

// The schema change of 2026120891_contacts_contacts.
type (
	v860Contact struct {
		ID          string    `gorm:"primaryKey;size:36"`
		WorkspaceID string    `gorm:"size:36;not null;index:idx_contacts_ws_created,priority:1"`
		Name        string    `gorm:"type:text;not null;default:''"`
		Email       string    `gorm:"type:text;not null;default:''"`
		Phone       string    `gorm:"type:text;not null;default:''"`
		Notes       string    `gorm:"type:text;not null;default:''"`
		EmailKey    string    `gorm:"size:64;not null;default:''"`
		UserID      string    `gorm:"size:256;not null;default:''"`
		Status      string    `gorm:"size:10;not null;default:'new'"`
		OwnerID     string    `gorm:"size:36;not null;default:''"`
		CreatedAt   time.Time `gorm:"index:idx_contacts_ws_created,priority:2"`
		UpdatedAt   time.Time
	}
	v860Visitor struct {
		ContactID string `gorm:"size:36;not null;default:'';index:idx_visitors_contact"`
	}
)

func (v860Contact) TableName() string { return "contacts" }
func (v860Visitor) TableName() string { return "visitors" }

func migrateContacts(tx *gorm.DB) error {
	if err := tx.Migrator().CreateTable(&v860Contact{}); err != nil {
		return err
	}
	if err := tx.Migrator().AddColumn(&v860Visitor{}, "ContactID"); err != nil {
		return err
	}
	if err := tx.Migrator().CreateIndex(&v860Visitor{}, "idx_visitors_contact"); err != nil {
		return err
	}
	// One contact per email and per verified user in a workspace, so two
	// nodes linking the same person at once cannot make two.
	for _, sql := range []string{
		"CREATE UNIQUE INDEX idx_contacts_email_key ON contacts (workspace_id, email_key) WHERE email_key <> ''",
		"CREATE UNIQUE INDEX idx_contacts_user ON contacts (workspace_id, user_id) WHERE user_id <> ''",
	} {
		if err := tx.Exec(sql).Error; err != nil {
			return err
		}
	}
	return nil
}

// ContactFacts is what a source (a form, a sign-in, an email) says about
// a visitor beyond their record: empty fields say nothing.
type ContactFacts struct {
	Name, Email, Phone string
}

// NormalEmail is an email as contacts match it: trimmed, lower case.
func NormalEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

func (s *Store) emailKey(ctx context.Context, db *gorm.DB, ws, email string) (string, error) {
	email = NormalEmail(email)
	if email == "" {
		return "", nil
	}
	key, err := s.searchKey(ctx, db, ws)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("email\x00" + email))
	return hex.EncodeToString(m.Sum(nil)), nil
}

func (s *Store) openContact(c *Contact) error {
	var err error
	for _, f := range []struct {
		v     *string
		field string
	}{{&c.Name, "name"}, {&c.Email, "email"}, {&c.Phone, "phone"}, {&c.Notes, "notes"}} {
		if *f.v, err = s.open(*f.v, contactFieldAAD(c.ID, f.field)); err != nil {
			return err
		}
	}
	return nil
}

// sealContactField seals one of a contact's personal fields for column.
func (s *Store) sealContactField(id, column, value string) (string, error) {
	if value == "" {
		return "", nil
	}
	return s.seal(value, contactFieldAAD(id, column))
}

// ContactLink is what LinkContact did.
type ContactLink struct {
	Contact Contact
	// Created: the contact is new; Merged: the ids of contacts merged
	// into it (and gone).
	Created bool
	Merged  []string
}

// LinkContact makes the visitor's contact agree with what is known of them
// now (their record and facts): it links the visitor to the contact of
// the same verified user or email, creating one when the visitor is known
// (a user id, an email or a phone) and none matches, and merges contacts
// found to be one person. A visitor not known gets no contact (a zero
// ContactLink). ErrNotFound: no such visitor in the workspace.
func (s *Scoped) LinkContact(ctx context.Context, visitorID string, facts ContactFacts, now time.Time) (ContactLink, error) {
	link, err := s.linkContact(ctx, visitorID, facts, now)
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		// Another request made the same person's contact meanwhile: it
		// is found now.
		link, err = s.linkContact(ctx, visitorID, facts, now)
	}
	return link, err
}

func (s *Scoped) linkContact(ctx context.Context, visitorID string, facts ContactFacts, now time.Time) (ContactLink, error) {
	var out ContactLink
	err := s.s.transaction(ctx, func(tx *gorm.DB) error {
		out = ContactLink{}
		var v Visitor
		if err := tx.Where("workspace_id = ? AND id = ?", s.ws, visitorID).Take(&v).Error; err != nil {
			return notFound(err)
		}
		if err := s.s.openVisitor(&v); err != nil {
			return err
		}
		email := NormalEmail(facts.Email)
		if email == "" {
			email = NormalEmail(v.Email)
		}
		phone := strings.TrimSpace(facts.Phone)
		if phone == "" {
			phone = v.Phone
		}
		if v.UserID == "" && email == "" && phone == "" && v.ContactID == "" {
			return nil // not known
		}
		ekey, err := s.s.emailKey(ctx, tx, s.ws, email)
		if err != nil {
			return err
		}
		// The candidates: the visitor's own contact, the verified user's,
		// the email's; the oldest is kept.
		var cands []Contact
		add := func(q *gorm.DB) error {
			var c Contact
			err := q.Take(&c).Error
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			for _, have := range cands {
				if have.ID == c.ID {
					return nil
				}
			}
			cands = append(cands, c)
			return nil
		}
		base := func() *gorm.DB { return tx.Model(&Contact{}).Where("workspace_id = ?", s.ws) }
		if v.ContactID != "" {
			if err := add(base().Where("id = ?", v.ContactID)); err != nil {
				return err
			}
		}
		if v.UserID != "" {
			if err := add(base().Where("user_id = ?", v.UserID)); err != nil {
				return err
			}
		}
		if ekey != "" {
			var c Contact
			err := base().Where("email_key = ?", ekey).Take(&c).Error
			switch {
			case errors.Is(err, gorm.ErrRecordNotFound):
			case err != nil:
				return err
			case c.UserID != "" && v.UserID != "" && c.UserID != v.UserID:
				// Another verified user with this email: a different
				// person, not merged; this one's contact does not take
				// the email as its key.
				ekey = ""
			default:
				if err := add(base().Where("id = ?", c.ID)); err != nil {
					return err
				}
			}
		}
		if len(cands) == 0 {
			c := Contact{ID: uuid.NewString(), WorkspaceID: s.ws, EmailKey: ekey, UserID: v.UserID, Status: LeadNew, CreatedAt: now, UpdatedAt: now}
			name := strings.TrimSpace(facts.Name)
			if name == "" && v.UserID != "" {
				name = v.Name // a verified user's name is the site's
			}
			if err := s.fillContact(&c, name, email, phone); err != nil {
				return err
			}
			if err := tx.Create(&c).Error; err != nil {
				return err
			}
			out.Created = true
			return s.finishLink(ctx, tx, &out, c, visitorID)
		}
		keep := cands[0]
		for _, c := range cands[1:] {
			if c.CreatedAt.Before(keep.CreatedAt) {
				keep = c
			}
		}
		if err := s.s.openContact(&keep); err != nil {
			return err
		}
		for _, c := range cands {
			if c.ID == keep.ID {
				continue
			}
			if err := s.s.openContact(&c); err != nil {
				return err
			}
			mergeInto(&keep, c)
			if err := tx.Model(&Visitor{}).Where("workspace_id = ? AND contact_id = ?", s.ws, c.ID).Update("contact_id", keep.ID).Error; err != nil {
				return err
			}
			if err := tx.Where("workspace_id = ? AND kind = ? AND doc_id = ?", s.ws, docContact, c.ID).Delete(&SearchDocTerm{}).Error; err != nil {
				return err
			}
			if err := tx.Where("workspace_id = ? AND id = ?", s.ws, c.ID).Delete(&Contact{}).Error; err != nil {
				return err
			}
			out.Merged = append(out.Merged, c.ID)
		}
		if keep.EmailKey == "" {
			keep.EmailKey = ekey
		}
		if keep.UserID == "" {
			keep.UserID = v.UserID
		}
		name := strings.TrimSpace(facts.Name)
		if name == "" && v.UserID != "" {
			name = v.Name
		}
		if keep.Name == "" {
			keep.Name = name
		}
		if keep.Email == "" {
			keep.Email = email
		}
		if keep.Phone == "" {
			keep.Phone = phone
		}
		plain := keep
		if err := s.fillContact(&keep, keep.Name, keep.Email, keep.Phone); err != nil {
			return err
		}
		if keep.Notes, err = s.s.sealContactField(keep.ID, "notes", plain.Notes); err != nil {
			return err
		}
		keep.UpdatedAt = now
		if err := tx.Model(&Contact{}).Where("workspace_id = ? AND id = ?", s.ws, keep.ID).Updates(map[string]any{
			"name": keep.Name, "email": keep.Email, "phone": keep.Phone, "notes": keep.Notes, "email_key": keep.EmailKey,
			"user_id": keep.UserID, "status": keep.Status, "owner_id": keep.OwnerID, "updated_at": now,
		}).Error; err != nil {
			return err
		}
		return s.finishLink(ctx, tx, &out, keep, visitorID)
	})
	return out, err
}

// fillContact sets c's sealed name, email and phone.
func (s *Scoped) fillContact(c *Contact, name, email, phone string) error {
	var err error
	if c.Name, err = s.s.sealContactField(c.ID, "name", Truncate(name, 200)); err != nil {
		return err
	}
	if c.Email, err = s.s.sealContactField(c.ID, "email", Truncate(email, 320)); err != nil {
		return err
	}
	c.Phone, err = s.s.sealContactField(c.ID, "phone", Truncate(phone, 40))
	return err
}

// finishLink points the visitor at c, reindexes c and opens it into out.
func (s *Scoped) finishLink(ctx context.Context, tx *gorm.DB, out *ContactLink, c Contact, visitorID string) error {
	if err := tx.Model(&Visitor{}).Where("workspace_id = ? AND id = ?", s.ws, visitorID).Update("contact_id", c.ID).Error; err != nil {
		return err
	}
	if err := s.s.openContact(&c); err != nil {
		return err
	}
	out.Contact = c
	return s.s.indexDoc(ctx, tx, s.ws, docContact, c.ID, c.Name, c.Email)
}

// mergeInto fills keep's empty fields from c (both opened): the older
// contact's status and owner stand unless it has none yet.
func mergeInto(keep *Contact, c Contact) {
	for _, f := range []struct{ to, from *string }{
		{&keep.Name, &c.Name}, {&keep.Email, &c.Email}, {&keep.Phone, &c.Phone}, {&keep.OwnerID, &c.OwnerID},
		{&keep.UserID, &c.UserID}, {&keep.EmailKey, &c.EmailKey},
	} {
		if *f.to == "" {
			*f.to = *f.from
		}
	}
	if keep.Status == LeadNew && c.Status != LeadNew {
		keep.Status = c.Status
	}
	if c.Notes != "" {
		if keep.Notes != "" {
			keep.Notes += "\n\n"
		}
		keep.Notes += c.Notes
	}
}

// Contact returns one contact, opened.
func (s *Scoped) Contact(ctx context.Context, id string) (Contact, error) {
	var c Contact
	if err := s.q(ctx).Where("id = ?", id).Take(&c).Error; err != nil {
		return c, notFound(err)
	}
	return c, s.s.openContact(&c)
}

// ContactOfVisitor returns the visitor's contact; ErrNotFound when the
// visitor has none (or is not the workspace's).
func (s *Scoped) ContactOfVisitor(ctx context.Context, visitorID string) (Contact, error) {
	var v Visitor
	if err := s.q(ctx).Select("id, contact_id").Where("id = ?", visitorID).Take(&v).Error; err != nil {
		return Contact{}, notFound(err)
	}
	if v.ContactID == "" {
		return Contact{}, ErrNotFound
	}
	return s.Contact(ctx, v.ContactID)
}

// ContactFilter chooses a page of contacts.
type ContactFilter struct {
	// Status and OwnerID ("" any); Query: every word in the name or email.
	Status, OwnerID, Query string
	After                  PageAfter
	Limit                  int
}

// Contacts returns up to f.Limit contacts created before f.After, newest
// first, that pass f.
func (s *Scoped) Contacts(ctx context.Context, f ContactFilter) ([]Contact, error) {
	// Its text varies with the filters and words: not for the statement
	// cache (Store.plain).
	q := s.s.plain.WithContext(ctx).Where("workspace_id = ?", s.ws)
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.OwnerID != "" {
		q = q.Where("owner_id = ?", f.OwnerID)
	}
	words := SearchWords(f.Query)
	if len(words) > 8 {
		words = words[:8]
	}
	if len(words) > 0 {
		key, err := s.s.searchKey(ctx, s.s.plain, s.ws)
		if err != nil {
			return nil, err
		}
		toks := keyedTokens(key, words)
		q = q.Where("id IN (?)", s.s.plain.Model(&SearchDocTerm{}).Select("doc_id").
			Where("workspace_id = ? AND kind = ? AND token IN ?", s.ws, docContact, toks).
			Group("doc_id").Having("COUNT(*) = ?", len(toks)))
	}
	if f.After.ID != "" {
		q = q.Where("(created_at < ? OR (created_at = ? AND id < ?))", f.After.CreatedAt, f.After.CreatedAt, f.After.ID)
	}
	var cs []Contact
	if err := q.Order("created_at DESC, id DESC").Limit(f.Limit).Find(&cs).Error; err != nil {
		return nil, err
	}
	out := cs[:0]
	for i := range cs {
		if err := s.s.openContact(&cs[i]); err != nil {
			return nil, err
		}
		// A 64-bit token collision must not show a contact without the words.
		if len(words) == 0 || hasAll(cs[i].Name+" "+cs[i].Email, words) {
			out = append(out, cs[i])
		}
	}
	return out, nil
}

// ContactEdit changes a contact: nil leaves a field as it is.
type ContactEdit struct {
	Status, OwnerID, Notes *string
}

// UpdateContact applies e; the caller checked the status and that the
// owner is the workspace's agent.
func (s *Scoped) UpdateContact(ctx context.Context, id string, e ContactEdit, now time.Time) (Contact, error) {
	updates := map[string]any{"updated_at": now}
	if e.Status != nil {
		updates["status"] = *e.Status
	}
	if e.OwnerID != nil {
		updates["owner_id"] = *e.OwnerID
	}
	if e.Notes != nil {
		sealed, err := s.s.sealContactField(id, "notes", Truncate(*e.Notes, 5000))
		if err != nil {
			return Contact{}, err
		}
		updates["notes"] = sealed
	}
	res := s.q(ctx).Model(&Contact{}).Where("id = ?", id).Updates(updates)
	if res.Error != nil {
		return Contact{}, res.Error
	}
	if res.RowsAffected == 0 {
		return Contact{}, ErrNotFound
	}
	return s.Contact(ctx, id)
}

// DeleteContact deletes the contact and its keyed index words (its email
// key goes with its row), in one transaction; its visitors stay, unlinked,
// with their conversations and messages: erasing a person is
// DeleteVisitor's. A visitor who is known comes back as a new contact the
// next time a source links them. ErrNotFound: not the workspace's contact.
func (s *Scoped) DeleteContact(ctx context.Context, id string) error {
	return s.s.transaction(ctx, func(tx *gorm.DB) error {
		res := tx.Where("workspace_id = ? AND id = ?", s.ws, id).Delete(&Contact{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if err := tx.Where("workspace_id = ? AND kind = ? AND doc_id = ?", s.ws, docContact, id).Delete(&SearchDocTerm{}).Error; err != nil {
			return err
		}
		return tx.Model(&Visitor{}).Where("workspace_id = ? AND contact_id = ?", s.ws, id).Update("contact_id", "").Error
	})
}

// ContactVisitors lists the contact's visitors, latest seen first.
func (s *Scoped) ContactVisitors(ctx context.Context, contactID string) ([]Visitor, error) {
	var vs []Visitor
	if err := s.q(ctx).Where("contact_id = ?", contactID).Order("last_seen_at DESC, id").Find(&vs).Error; err != nil {
		return nil, err
	}
	for i := range vs {
		if err := s.s.openVisitor(&vs[i]); err != nil {
			return nil, err
		}
	}
	return vs, nil
}

// ContactConversations lists up to limit conversations of the contact's
// visitors, newest first.
func (s *Scoped) ContactConversations(ctx context.Context, contactID string, limit int) ([]Conversation, error) {
	var cs []Conversation
	err := s.q(ctx).Where("visitor_id IN (?)", s.s.db.Model(&Visitor{}).Select("id").Where("workspace_id = ? AND contact_id = ?", s.ws, contactID)).
		Order("created_at DESC, id DESC").Limit(limit).Find(&cs).Error
	return s.openAll(cs, err)
}

// VisitorConversions is the count and value, by currency, of the
// purchases attributed to the visitor's conversations.
type VisitorConversions struct {
	Count int64
	// Values by currency ("" when the page gave none).
	Values map[string]float64
}

// ConversionsOfVisitor sums the visitor's conversions.
func (s *Scoped) ConversionsOfVisitor(ctx context.Context, visitorID string) (VisitorConversions, error) {
	out := VisitorConversions{Values: map[string]float64{}}
	var rows []struct {
		Currency string
		N        int64
		Total    float64
	}
	if err := s.q(ctx).Model(&Conversion{}).Select("currency, COUNT(*) AS n, SUM(value) AS total").
		Where("visitor_id = ?", visitorID).Group("currency").Scan(&rows).Error; err != nil {
		return out, err
	}
	for _, r := range rows {
		out.Count += r.N
		out.Values[r.Currency] += r.Total
	}
	return out, nil
}

// unlinkDeletedVisitor is DeleteVisitor's part for the visitor's contact:
// a contact left with no visitor is deleted with its index (it holds
// nothing the remaining visitors did not give; with other visitors it
// stays theirs).
func unlinkDeletedVisitor(tx *gorm.DB, ws, contactID string, out Deleted) error {
	if contactID == "" {
		return nil
	}
	var n int64
	if err := tx.Model(&Visitor{}).Where("workspace_id = ? AND contact_id = ?", ws, contactID).Count(&n).Error; err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if err := deleteIn(tx, ws, out, "search_doc_terms", "kind = ? AND doc_id = ?", docContact, contactID); err != nil {
		return err
	}
	return deleteIn(tx, ws, out, "contacts", "id = ?", contactID)
}
