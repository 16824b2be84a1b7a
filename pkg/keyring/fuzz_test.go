package keyring

import (
	"errors"
	"testing"
)

// FuzzOpen: Open never panics on stored text, fails with one of the package
// errors, and succeeds only on a value this ring sealed with the same aad.
func FuzzOpen(f *testing.F) {
	k1, _ := NewKey("k1", []byte("0123456789abcdef0123456789abcdef"))
	k2, _ := NewKey("k2", []byte("abcdef0123456789abcdef0123456789"))
	kr, _ := New(k2, k1)
	old, _ := New(k1)
	sealedNew, _ := kr.Seal([]byte("hello"), []byte("row-1"))
	sealedOld, _ := old.Seal([]byte("older"), []byte("row-1"))
	f.Add(sealedNew, []byte("row-1"))
	f.Add(sealedOld, []byte("row-1"))
	f.Add(sealedNew, []byte("row-2"))
	f.Add("enc1:k9:AAAA", []byte(nil))
	f.Add("enc1::", []byte(nil))
	f.Add("plain text", []byte(nil))
	f.Fuzz(func(t *testing.T, sealed string, aad []byte) {
		plain, err := kr.Open(sealed, aad)
		if err != nil {
			if plain != nil {
				t.Fatalf("error %v with plaintext", err)
			}
			if !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrNotSealed) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if !IsSealed(sealed) {
			t.Fatalf("opened a value IsSealed rejects: %q", sealed)
		}
		id, err := KeyID(sealed)
		if err != nil || (id != "k1" && id != "k2") || kr.NeedsRotation(sealed) != (id == "k1") {
			t.Fatalf("KeyID %q %v for an opened value", id, err)
		}
		// Resealing keeps the plaintext.
		again, _, err := kr.Reseal(sealed, aad)
		if err != nil {
			t.Fatal(err)
		}
		if p2, err := kr.Open(again, aad); err != nil || string(p2) != string(plain) {
			t.Fatalf("reseal changed the plaintext: %v", err)
		}
	})
}
