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
	return err
}

func (s *Store) openConversation(c *Conversation) error {
	b, err := s.open(c.LastBody, previewAAD(c.ID))
	c.LastBody = b
	return err
}

// Resealer re-encrypts a sealed value with the primary key
// (keyring.Keyring.Reseal).
type Resealer interface {
	Reseal(sealed string, aad []byte) (out string, changed bool, err error)
}

// Reencrypt rewrites every message body and conversation preview not sealed
// with the primary key (and seals any still in plaintext), in batches, while
// the server runs. It returns how many values it rewrote.
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
			out, changed, err := reseal(k, m.Body, bodyAAD(m.ConversationID, m.ClientID))
			if err != nil {
				return n, fmt.Errorf("message %d: %w", m.ID, err)
			}
			if changed {
				if err := s.db.WithContext(ctx).Model(&Message{}).Where("id = ? AND body = ?", m.ID, m.Body).Update("body", out).Error; err != nil {
					return n, err
				}
				n++
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
			if c.LastBody == "" {
				continue
			}
			out, changed, err := reseal(k, c.LastBody, previewAAD(c.ID))
			if err != nil {
				return n, fmt.Errorf("conversation %s: %w", c.ID, err)
			}
			if changed {
				// Conditional on the old value: a message committed meanwhile
				// wrote a fresh preview, sealed with the primary key already.
				if err := s.db.WithContext(ctx).Model(&Conversation{}).Where("id = ? AND last_body = ?", c.ID, c.LastBody).Update("last_body", out).Error; err != nil {
					return n, err
				}
				n++
			}
		}
	}
	return n, nil
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
