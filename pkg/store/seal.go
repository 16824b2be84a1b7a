package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/parleychat/parley/pkg/keyring"
)

// notSealed: a value stored before encryption was turned on is read as it is
// (and sealed by Reencrypt).
func notSealed(err error) bool { return errors.Is(err, keyring.ErrNotSealed) }

func bodyAAD(convID, clientID string) []byte { return []byte("msg:" + convID + ":" + clientID) }
func previewAAD(convID string) []byte        { return []byte("conv:" + convID + ":last_body") }

// Visitors' personal fields are sealed too: the name (a verified user's
// real name), and the contact an offline visitor left.
func visitorNameAAD(id string) []byte        { return []byte("visitor:" + id + ":name") }
func contactAAD(convID, field string) []byte { return []byte("conv:" + convID + ":" + field) }

func (s *Store) seal(plain string, aad []byte) (string, error) {
	if s.sealer == nil {
		return plain, nil
	}
	out, err := s.sealer.Seal([]byte(plain), aad)
	if err != nil {
		return "", fmt.Errorf("store: encrypt: %w", err)
	}
	return out, nil
}

func (s *Store) open(stored string, aad []byte) (string, error) {
	if s.sealer == nil || stored == "" {
		return stored, nil
	}
	out, err := s.sealer.Open(stored, aad)
	if notSealed(err) {
		return stored, nil // written before encryption was on
	}
	if err != nil {
		return "", fmt.Errorf("store: decrypt: %w", err)
	}
	return string(out), nil
}

func (s *Store) openMessage(m *Message) error {
	b, err := s.open(m.Body, bodyAAD(m.ConversationID, m.ClientID))
	m.Body = b
	if err != nil {
		return err
	}
	if m.AuthorName, err = s.open(m.AuthorName, authorNameAAD(m.ConversationID, m.ClientID)); err != nil {
		return err
	}
	m.Attachment, err = s.open(m.Attachment, messageAttachmentAAD(m.ConversationID, m.ClientID))
	return err
}

func (s *Store) openConversation(c *Conversation) error {
	var err error
	for _, f := range []struct {
		v   *string
		aad []byte
	}{
		{&c.LastBody, previewAAD(c.ID)},
		{&c.ContactName, contactAAD(c.ID, "contact_name")},
		{&c.ContactEmail, contactAAD(c.ID, "contact_email")},
		{&c.CsatComment, csatAAD(c.ID)},
	} {
		if *f.v, err = s.open(*f.v, f.aad); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) openVisitor(v *Visitor) error {
	n, err := s.open(v.Name, visitorNameAAD(v.ID))
	v.Name = n
	if err != nil {
		return err
	}
	if v.Email, err = s.open(v.Email, visitorEmailAAD(v.ID)); err != nil {
		return err
	}
	if v.Phone, err = s.open(v.Phone, visitorPhoneAAD(v.ID)); err != nil {
		return err
	}
	v.Profile, err = s.open(v.Profile, visitorProfileAAD(v.ID))
	return err
}

// Resealer re-encrypts a sealed value with the primary key
// (keyring.Keyring.Reseal).
type Resealer interface {
	Reseal(sealed string, aad []byte) (out string, changed bool, err error)
}

// Reencrypt rewrites every message body, conversation preview, visitor
// personal field (name, email, offline contact) and site identity secret
// not sealed with the primary key (and seals any still in plaintext), in
// batches, while the server runs. It returns how many values it rewrote.
func (s *Store) Reencrypt(ctx context.Context, k interface {
	Sealer
	Resealer
}) (int, error) {
	n := 0
	var lastID int64
	for {
		var ms []Message
		if err := s.db.WithContext(ctx).Where("id > ?", lastID).Order("id").Limit(500).Find(&ms).Error; err != nil {
			return n, err
		}
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			lastID = m.ID
			for _, f := range []struct {
				column, value string
				aad           []byte
			}{
				{"body", m.Body, bodyAAD(m.ConversationID, m.ClientID)},
				{"author_name", m.AuthorName, authorNameAAD(m.ConversationID, m.ClientID)},
				{"attachment", m.Attachment, messageAttachmentAAD(m.ConversationID, m.ClientID)},
			} {
				if f.value == "" {
					continue // a system message has no author name
				}
				out, changed, err := reseal(k, f.value, f.aad)
				if err != nil {
					return n, fmt.Errorf("message %d: %w", m.ID, err)
				}
				if changed {
					if err := s.db.WithContext(ctx).Model(&Message{}).Where("id = ? AND "+f.column+" = ?", m.ID, f.value).Update(f.column, out).Error; err != nil {
						return n, err
					}
					n++
				}
			}
		}
	}
	lastConv := ""
	for {
		var cs []Conversation
		if err := s.db.WithContext(ctx).Where("id > ?", lastConv).Order("id").Limit(500).Find(&cs).Error; err != nil {
			return n, err
		}
		if len(cs) == 0 {
			break
		}
		for _, c := range cs {
			lastConv = c.ID
			for _, f := range []struct {
				column, value string
				aad           []byte
			}{
				{"last_body", c.LastBody, previewAAD(c.ID)},
				{"contact_name", c.ContactName, contactAAD(c.ID, "contact_name")},
				{"contact_email", c.ContactEmail, contactAAD(c.ID, "contact_email")},
				{"csat_comment", c.CsatComment, csatAAD(c.ID)},
			} {
				m, err := s.resealColumn(ctx, k, &Conversation{}, c.ID, f.column, f.value, f.aad)
				if err != nil {
					return n, fmt.Errorf("conversation %s: %w", c.ID, err)
				}
				n += m
			}
		}
	}
	lastVisitor := ""
	for {
		var vs []Visitor
		if err := s.db.WithContext(ctx).Select("id, name, email, phone, profile").Where("id > ?", lastVisitor).Order("id").Limit(500).Find(&vs).Error; err != nil {
			return n, err
		}
		if len(vs) == 0 {
			break
		}
		for _, v := range vs {
			lastVisitor = v.ID
			for _, f := range []struct {
				column, value string
				aad           []byte
			}{
				{"name", v.Name, visitorNameAAD(v.ID)},
				{"email", v.Email, visitorEmailAAD(v.ID)},
				{"phone", v.Phone, visitorPhoneAAD(v.ID)},
				{"profile", v.Profile, visitorProfileAAD(v.ID)},
			} {
				m, err := s.resealColumn(ctx, k, &Visitor{}, v.ID, f.column, f.value, f.aad)
				if err != nil {
					return n, fmt.Errorf("visitor %s: %w", v.ID, err)
				}
				n += m
			}
		}
	}
	lastSite := ""
	for {
		var ss []Site
		if err := s.db.WithContext(ctx).Select("id, secret").Where("id > ?", lastSite).Order("id").Limit(500).Find(&ss).Error; err != nil {
			return n, err
		}
		if len(ss) == 0 {
			break
		}
		for _, site := range ss {
			lastSite = site.ID
			m, err := s.resealColumn(ctx, k, &Site{}, site.ID, "secret", site.Secret, siteSecretAAD(site.ID))
			if err != nil {
				return n, fmt.Errorf("site %s: %w", site.ID, err)
			}
			n += m
		}
	}
	// Agents' TOTP secrets (totp.go); few rows, so one query.
	var as []Agent
	if err := s.db.WithContext(ctx).Select("id, totp_secret").Where("totp_secret <> ''").Find(&as).Error; err != nil {
		return n, err
	}
	for _, a := range as {
		m, err := s.resealColumn(ctx, k, &Agent{}, a.ID, "totp_secret", a.TOTPSecret, totpSecretAAD(a.ID))
		if err != nil {
			return n, fmt.Errorf("agent %s: %w", a.ID, err)
		}
		n += m
	}
	// Workspaces' mail settings, private notes (notes.go), canned
	// replies (canned.go) and the columns of moreSealed
	// (reencrypt_more.go).
	for _, f := range []func(context.Context, interface {
		Sealer
		Resealer
	}) (int, error){s.reencryptMail, s.reencryptNotes, s.reencryptCanned, s.reencryptMore} {
		m, err := f(ctx, k)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// resealColumn rewrites one sealed value of a row if it is not under the
// primary key (or still plaintext). The update is conditional on the old
// value: a write meanwhile (a new preview, say) sealed with the primary key
// already and must not be overwritten. It returns 1 when it rewrote.
func (s *Store) resealColumn(ctx context.Context, k interface {
	Sealer
	Resealer
}, model any, id, column, value string, aad []byte) (int, error) {
	if value == "" {
		return 0, nil
	}
	out, changed, err := reseal(k, value, aad)
	if err != nil || !changed {
		return 0, err
	}
	if err := s.db.WithContext(ctx).Model(model).Where("id = ? AND "+column+" = ?", id, value).Update(column, out).Error; err != nil {
		return 0, err
	}
	return 1, nil
}

func reseal(k interface {
	Sealer
	Resealer
}, stored string, aad []byte) (string, bool, error) {
	out, changed, err := k.Reseal(stored, aad)
	if notSealed(err) {
		sealed, err := k.Seal([]byte(stored), aad)
		return sealed, err == nil, err
	}
	return out, changed, err
}
