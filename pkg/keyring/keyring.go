// Package keyring encrypts values at rest (message bodies, visitor personal
// fields) with AES-256-GCM under a ring of named keys, so keys can rotate
// without downtime: the primary key seals new values, every key in the ring
// opens the values that name it.
//
// # Sealed format
//
// A sealed value is ASCII text, safe for any text column:
//
//	enc1:<key id>:<base64url, no padding, of nonce(12) || ciphertext || tag(16)>
//
// "enc1" is the format version. The key id ([A-Za-z0-9_-], 1–32 characters)
// names the key that sealed the value. The GCM additional data is
// "enc1:<key id>:" followed by the caller's aad, so a value only opens with
// the same aad it was sealed with: pass the row's identity (for example the
// conversation id and the column name) and a value copied into another row
// fails to open. Nonces are random; a key should seal well under 2^32 values
// before it is rotated out (NIST SP 800-38D), far beyond a chat server's need.
//
// # Keys
//
// Keys are 32 random bytes written as "<id>:<base64>", several separated by
// commas or new lines, the first being the primary: from the environment
// variable PARLEY_ENCRYPTION_KEYS, from a file, or generated on first start
// into <data dir>/keys by LoadOrCreate. To rotate, put a new key first and
// keep the old ones (RotateFile does this for a key file), then re-seal old
// values with Reseal where NeedsRotation reports true; drop an old key only
// when no value names it any more.
//
// A Keyring never keeps the raw key bytes after construction, and its String,
// GoString and Format output, like every error of this package, names key ids
// only.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Errors. Every failure of this package wraps one of them.
var (
	// ErrBadKey: a key specification or key file is malformed (bad id, not
	// base64, not 32 bytes, duplicate id, empty ring).
	ErrBadKey = errors.New("bad encryption key")
	// ErrUnknownKey: a sealed value names a key id that is not in the ring —
	// an old key was dropped too early, or the ring is the wrong one.
	ErrUnknownKey = errors.New("value is sealed with a key that is not in the key ring")
	// ErrDecrypt: a sealed value is malformed, was altered, or was sealed
	// with other aad (copied from another row) or another key of the same id.
	ErrDecrypt = errors.New("cannot decrypt value")
	// ErrNotSealed: the value does not start with the sealed-format prefix
	// (for example plaintext written before encryption was turned on).
	ErrNotSealed = errors.New("value is not a sealed value")
)

// KeySize is the length of every key: AES-256.
const KeySize = 32

// MaxKeyIDLen is the longest key id.
const MaxKeyIDLen = 32

const (
	sealedPrefix = "enc1:"
	nonceSize    = 12
	tagSize      = 16
)

var b64 = base64.RawURLEncoding

// Keyring seals with its primary key and opens with any of its keys. It is
// immutable after construction and safe for concurrent use.
type Keyring struct {
	primary string
	ids     []string // in the order given; ids[0] == primary
	aeads   map[string]aeadFuncs
}

// aeadFuncs holds a key's AES-GCM as method values rather than the
// cipher.AEAD itself: the AEAD holds the expanded key, and fmt, reflecting
// over a Keyring stored in an unexported field, would print it; a func value
// prints as an address.
type aeadFuncs struct {
	seal func(dst, nonce, plaintext, additionalData []byte) []byte
	open func(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
}

// Key is one named key. The zero Key is invalid.
//
// Its secret is reachable only through a function: fmt prints a func value
// as an address whatever the verb, whereas it dereferences pointers (and so
// would print bytes) when it reflects over an unexported field with a verb
// such as %s or %d, where String cannot be called.
type Key struct {
	id     string
	secret func() *[KeySize]byte
}

// NewKey returns a key with the given id and secret (KeySize bytes, copied).
// Errors wrap ErrBadKey.
func NewKey(id string, secret []byte) (Key, error) {
	if err := checkKeyID(id); err != nil {
		return Key{}, err
	}
	if len(secret) != KeySize {
		return Key{}, fmt.Errorf("%w: key %s is %d bytes, want %d", ErrBadKey, id, len(secret), KeySize)
	}
	var b [KeySize]byte
	copy(b[:], secret)
	return keyOf(id, &b), nil
}

func keyOf(id string, b *[KeySize]byte) Key {
	return Key{id: id, secret: func() *[KeySize]byte { return b }}
}

// ID is the key's id.
func (k Key) ID() string { return k.id }

// String names the key id only.
func (k Key) String() string { return "keyring.Key{ID: " + k.id + "}" }

// GoString names the key id only.
func (k Key) GoString() string { return k.String() }

// New builds a keyring from keys; keys[0] is the primary. It fails with
// ErrBadKey for an empty list, a zero Key or a duplicate id. The Keyring
// keeps only the AES-GCM state, not the Keys.
func New(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: the key ring is empty", ErrBadKey)
	}
	kr := &Keyring{primary: keys[0].id, aeads: make(map[string]aeadFuncs, len(keys))}
	for i, k := range keys {
		if k.secret == nil {
			return nil, fmt.Errorf("%w: key %d is the zero Key; use NewKey or GenerateKey", ErrBadKey, i+1)
		}
		if err := checkKeyID(k.id); err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		if _, dup := kr.aeads[k.id]; dup {
			return nil, fmt.Errorf("%w: key id %s appears twice", ErrBadKey, k.id)
		}
		block, err := aes.NewCipher(k.secret()[:])
		if err != nil {
			return nil, fmt.Errorf("%w: key %s: cannot build AES cipher", ErrBadKey, k.id)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("%w: key %s: cannot build GCM", ErrBadKey, k.id)
		}
		kr.aeads[k.id] = aeadFuncs{seal: aead.Seal, open: aead.Open}
		kr.ids = append(kr.ids, k.id)
	}
	return kr, nil
}

func checkKeyID(id string) error {
	if id == "" || len(id) > MaxKeyIDLen {
		return fmt.Errorf("%w: key id must be 1 to %d characters", ErrBadKey, MaxKeyIDLen)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("%w: key id may contain only letters, digits, '-' and '_'", ErrBadKey)
		}
	}
	return nil
}

// PrimaryID is the id of the key that seals new values.
func (k *Keyring) PrimaryID() string {
	if k == nil {
		return ""
	}
	return k.primary
}

// KeyIDs lists the ids in the ring, primary first.
func (k *Keyring) KeyIDs() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.ids...)
}

// Seal encrypts plaintext with the primary key, bound to aad, and returns
// the sealed text. aad may be nil but should identify the row (see the
// package documentation). An error means the system's random source failed.
func (k *Keyring) Seal(plaintext, aad []byte) (string, error) {
	if err := k.usable(); err != nil {
		return "", err
	}
	id := k.primary
	aead := k.aeads[id]
	header := sealedPrefix + id + ":"
	buf := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("seal: read random nonce: %w", err)
	}
	buf = aead.seal(buf, buf[:nonceSize], plaintext, additionalData(header, aad))
	return header + b64.EncodeToString(buf), nil
}

// Open decrypts a value made by Seal with the key it names and the same aad.
// Errors: ErrNotSealed when the value lacks the prefix, ErrUnknownKey when
// its key is not in the ring, ErrDecrypt when it is malformed, altered, or
// sealed with other aad.
func (k *Keyring) Open(sealed string, aad []byte) ([]byte, error) {
	if err := k.usable(); err != nil {
		return nil, err
	}
	id, body, err := split(sealed)
	if err != nil {
		return nil, err
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w: key id %s (ring has %s)", ErrUnknownKey, id, strings.Join(k.ids, ", "))
	}
	raw, err := b64.DecodeString(body)
	if err != nil || len(raw) < nonceSize+tagSize {
		return nil, fmt.Errorf("%w: malformed sealed value", ErrDecrypt)
	}
	header := sealed[:len(sealedPrefix)+len(id)+1]
	out, err := aead.open(nil, raw[:nonceSize], raw[nonceSize:], additionalData(header, aad))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (altered, or sealed for another row)", ErrDecrypt)
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// usable turns a nil or zero Keyring into an error instead of a panic.
func (k *Keyring) usable() error {
	if k == nil || len(k.aeads) == 0 {
		return fmt.Errorf("%w: the key ring is empty (build it with New, Parse or Load)", ErrBadKey)
	}
	return nil
}

// NeedsRotation reports whether sealed was not sealed with the primary key
// (including when it is not a sealed value at all), i.e. whether the
// re-encryption job should Reseal it.
func (k *Keyring) NeedsRotation(sealed string) bool {
	id, _, err := split(sealed)
	return err != nil || k == nil || id != k.primary
}

// Reseal opens sealed and, when it was not sealed with the primary key,
// seals it again with the primary key and the same aad. changed reports
// whether the returned value differs from sealed (and so must be written
// back). Errors are those of Open and Seal.
func (k *Keyring) Reseal(sealed string, aad []byte) (out string, changed bool, err error) {
	plain, err := k.Open(sealed, aad)
	if err != nil {
		return "", false, err
	}
	if !k.NeedsRotation(sealed) {
		return sealed, false, nil
	}
	out, err = k.Seal(plain, aad)
	if err != nil {
		return "", false, err
	}
	return out, true, nil
}

// KeyID returns the id of the key that sealed value, without decrypting it.
func KeyID(sealed string) (string, error) {
	id, _, err := split(sealed)
	return id, err
}

// IsSealed reports whether s has the sealed-value shape (prefix, a valid key
// id, a base64url body long enough for nonce and tag). It is a heuristic for
// migrations from plaintext: a visitor could type text of that shape, so
// where it matters keep an "encrypted" flag in the row instead.
func IsSealed(s string) bool {
	_, body, err := split(s)
	if err != nil {
		return false
	}
	raw, err := b64.DecodeString(body)
	return err == nil && len(raw) >= nonceSize+tagSize
}

func split(sealed string) (id, body string, err error) {
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", "", ErrNotSealed
	}
	id, body, ok = strings.Cut(rest, ":")
	if !ok || checkKeyID(id) != nil {
		return "", "", fmt.Errorf("%w: malformed sealed value", ErrDecrypt)
	}
	return id, body, nil
}

// additionalData binds the format version and key id as well as the caller's
// aad. The header ends in ':' and ids contain none, so header||aad is
// unambiguous.
func additionalData(header string, aad []byte) []byte {
	ad := make([]byte, 0, len(header)+len(aad))
	ad = append(ad, header...)
	return append(ad, aad...)
}

// String names the primary and the key ids, never key material.
func (k Keyring) String() string {
	return fmt.Sprintf("keyring(primary=%s, keys=[%s])", k.primary, strings.Join(k.ids, " "))
}

// GoString is String: no key material in %#v either.
func (k Keyring) GoString() string { return k.String() }

// Format makes every fmt verb (%x and %d included) print String, so no
// formatting of a Keyring can reach its internals.
func (k Keyring) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(k.String())) }

// Format makes every fmt verb print String.
func (k Key) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(k.String())) }
