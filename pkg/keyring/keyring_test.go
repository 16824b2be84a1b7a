package keyring

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func mustKey(t *testing.T, id string) Key {
	t.Helper()
	k, err := GenerateKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustRing(t *testing.T, keys ...Key) *Keyring {
	t.Helper()
	kr, err := New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestSealOpenRoundTrip(t *testing.T) {
	kr := mustRing(t, mustKey(t, "k1"))
	aad := []byte("conversation:c-123:body")
	for _, plain := range [][]byte{[]byte("hello, I need help with my order"), {}, bytes.Repeat([]byte{0, 0xff}, 64<<10), []byte("emoji 👋 and ünïcode")} {
		sealed, err := kr.Seal(plain, aad)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sealed, "enc1:k1:") || !IsSealed(sealed) {
			t.Fatalf("sealed %q lacks the format", sealed[:min(len(sealed), 20)])
		}
		if len(plain) > 8 && strings.Contains(sealed, base64.RawURLEncoding.EncodeToString(plain[:8])) {
			t.Fatal("plaintext visible in sealed value")
		}
		got, err := kr.Open(sealed, aad)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plain) || got == nil {
			t.Fatalf("round trip: got %d bytes, want %d", len(got), len(plain))
		}
	}
	// Random nonces: the same plaintext seals differently every time.
	a, _ := kr.Seal([]byte("same"), aad)
	b, _ := kr.Seal([]byte("same"), aad)
	if a == b {
		t.Fatal("two seals of the same plaintext are equal")
	}
}

func TestOpenRejects(t *testing.T) {
	kr := mustRing(t, mustKey(t, "k1"))
	aad := []byte("conversation:c-1")
	sealed, err := kr.Seal([]byte("card ending 4242"), aad)
	if err != nil {
		t.Fatal(err)
	}
	body := sealed[len("enc1:k1:"):]
	raw, _ := base64.RawURLEncoding.DecodeString(body)
	flip := func(i int) string {
		c := bytes.Clone(raw)
		c[i] ^= 1
		return "enc1:k1:" + base64.RawURLEncoding.EncodeToString(c)
	}
	sameIDOtherKey := mustRing(t, mustKey(t, "k1"))

	tests := []struct {
		name   string
		ring   *Keyring
		sealed string
		aad    []byte
		want   error
	}{
		{"wrong aad (copied to another row)", kr, sealed, []byte("conversation:c-2"), ErrDecrypt},
		{"nil aad for a value sealed with aad", kr, sealed, nil, ErrDecrypt},
		{"tampered nonce", kr, flip(0), aad, ErrDecrypt},
		{"tampered ciphertext", kr, flip(nonceSize), aad, ErrDecrypt},
		{"tampered tag", kr, flip(len(raw) - 1), aad, ErrDecrypt},
		{"truncated", kr, sealed[:len(sealed)-4], aad, ErrDecrypt},
		{"too short for nonce and tag", kr, "enc1:k1:" + base64.RawURLEncoding.EncodeToString(make([]byte, nonceSize+tagSize-1)), aad, ErrDecrypt},
		{"body not base64url", kr, "enc1:k1:!!!!", aad, ErrDecrypt},
		{"no key id separator", kr, "enc1:k1", aad, ErrDecrypt},
		{"bad key id", kr, "enc1:k 1:" + body, aad, ErrDecrypt},
		{"key id renamed to another key in the ring", mustRing(t, mustKey(t, "k2"), mustKey(t, "k1")), "enc1:k2:" + body, aad, ErrDecrypt},
		{"same key id, different key", sameIDOtherKey, sealed, aad, ErrDecrypt},
		{"unknown key id", mustRing(t, mustKey(t, "k2")), sealed, aad, ErrUnknownKey},
		{"plaintext", kr, "hello", aad, ErrNotSealed},
		{"empty", kr, "", aad, ErrNotSealed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ring.Open(tt.sealed, tt.aad)
			if !errors.Is(err, tt.want) {
				t.Fatalf("want %v, got %v", tt.want, err)
			}
			if got != nil {
				t.Fatalf("failed open returned %q", got)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	k1, k2 := mustKey(t, "k1"), mustKey(t, "k2")
	old := mustRing(t, k1)
	aad := []byte("visitor:v-9:email")
	sealedOld, err := old.Seal([]byte("ada@example.com"), aad)
	if err != nil {
		t.Fatal(err)
	}

	rotated := mustRing(t, k2, k1)
	if rotated.PrimaryID() != "k2" || fmt.Sprint(rotated.KeyIDs()) != "[k2 k1]" {
		t.Fatalf("primary %s ids %v", rotated.PrimaryID(), rotated.KeyIDs())
	}
	// Old values still open.
	if got, err := rotated.Open(sealedOld, aad); err != nil || string(got) != "ada@example.com" {
		t.Fatalf("old value after rotation: %q %v", got, err)
	}
	// New values use the new key.
	sealedNew, err := rotated.Seal([]byte("ada@example.com"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := KeyID(sealedNew); id != "k2" {
		t.Fatalf("new value sealed with %s", id)
	}
	if !rotated.NeedsRotation(sealedOld) || rotated.NeedsRotation(sealedNew) || !rotated.NeedsRotation("plaintext") {
		t.Fatal("NeedsRotation")
	}
	// Reseal moves the old value to the new key; a current one is untouched.
	resealed, changed, err := rotated.Reseal(sealedOld, aad)
	if err != nil || !changed {
		t.Fatalf("reseal: %v %v", changed, err)
	}
	if id, _ := KeyID(resealed); id != "k2" {
		t.Fatalf("resealed with %s", id)
	}
	if same, changed, err := rotated.Reseal(sealedNew, aad); err != nil || changed || same != sealedNew {
		t.Fatalf("reseal of current value: %v %v", changed, err)
	}
	if _, _, err := rotated.Reseal(sealedOld, []byte("other row")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("reseal with wrong aad: %v", err)
	}
	// Once resealed, the old key can be dropped.
	onlyNew := mustRing(t, k2)
	if got, err := onlyNew.Open(resealed, aad); err != nil || string(got) != "ada@example.com" {
		t.Fatalf("resealed value without old key: %q %v", got, err)
	}
	if _, err := onlyNew.Open(sealedOld, aad); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old value without old key: %v", err)
	}
}

func TestParse(t *testing.T) {
	k1, k2 := mustKey(t, "k1"), mustKey(t, "k2")
	b64 := func(k Key) string { return base64.StdEncoding.EncodeToString(k.secret()[:]) }
	good := []struct {
		name, spec string
		ids        string
	}{
		{"env form", "k2:" + b64(k2) + ",k1:" + b64(k1), "[k2 k1]"},
		{"spaces", " k2 : " + b64(k2) + " , k1:" + b64(k1) + " ", "[k2 k1]"},
		{"file form with comments", "# comment\n\nk2:" + b64(k2) + "\n  # another\nk1:" + b64(k1) + "\n", "[k2 k1]"},
		{"url-safe unpadded", "k1:" + base64.RawURLEncoding.EncodeToString(k1.secret()[:]), "[k1]"},
		{"trailing comma", "k1:" + b64(k1) + ",", "[k1]"},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			kr, err := Parse(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(kr.KeyIDs()) != tt.ids {
				t.Fatalf("ids %v", kr.KeyIDs())
			}
		})
	}
	short := base64.StdEncoding.EncodeToString(make([]byte, 31))
	bad := []struct{ name, spec string }{
		{"empty", ""},
		{"only comments", "# nothing\n"},
		{"no id", b64(k1)},
		{"empty id", ":" + b64(k1)},
		{"bad id characters", "k/1:" + b64(k1)},
		{"id too long", strings.Repeat("k", MaxKeyIDLen+1) + ":" + b64(k1)},
		{"not base64", "k1:not*base64*at*all"},
		{"31 bytes", "k1:" + short},
		{"64 bytes", "k1:" + base64.StdEncoding.EncodeToString(make([]byte, 64))},
		{"duplicate id", "k1:" + b64(k1) + ",k1:" + b64(k2)},
		{"second entry bad", "k1:" + b64(k1) + ",k2:"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			kr, err := Parse(tt.spec)
			if !errors.Is(err, ErrBadKey) || kr != nil {
				t.Fatalf("want ErrBadKey, got %v", err)
			}
			if strings.Contains(err.Error(), b64(k1)) || strings.Contains(err.Error(), b64(k2)) {
				t.Fatalf("error leaks a key: %v", err)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvVar, "")
	if kr, ok, err := FromEnv(); kr != nil || ok || err != nil {
		t.Fatalf("unset: %v %v %v", kr, ok, err)
	}
	k2, k1 := mustKey(t, "k2"), mustKey(t, "k1")
	t.Setenv(EnvVar, k2.Encode()+","+k1.Encode())
	kr, ok, err := FromEnv()
	if err != nil || !ok || kr.PrimaryID() != "k2" {
		t.Fatalf("set: %v %v %v", kr, ok, err)
	}
	t.Setenv(EnvVar, "k1:tooshort")
	if _, ok, err := FromEnv(); !ok || !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), EnvVar) {
		t.Fatalf("bad env: %v %v", ok, err)
	}
	// Load prefers the environment over the data directory.
	t.Setenv(EnvVar, k2.Encode())
	dir := t.TempDir()
	kr, source, created, err := Load(dir)
	if err != nil || created || kr.PrimaryID() != "k2" || !strings.Contains(source, EnvVar) {
		t.Fatalf("Load with env: %v %q %v %v", kr, source, created, err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFileName)); !os.IsNotExist(err) {
		t.Fatalf("Load with env wrote a key file: %v", err)
	}
}

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	kr, path, created, err := LoadOrCreate(dir)
	if err != nil || !created || path != filepath.Join(dir, KeyFileName) {
		t.Fatalf("create: %v %q %v", created, path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	if dst, _ := os.Stat(dir); dst.Mode().Perm() != 0o700 {
		t.Fatalf("key dir mode %v, want 0700", dst.Mode().Perm())
	}
	sealed, err := kr.Seal([]byte("persisted"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// A restart loads the same key.
	again, _, created, err := LoadOrCreate(dir)
	if err != nil || created {
		t.Fatalf("reload: %v %v", created, err)
	}
	if got, err := again.Open(sealed, nil); err != nil || string(got) != "persisted" {
		t.Fatalf("value after restart: %q %v", got, err)
	}
	// No temporary files left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("dir holds %d entries, want only the key file", len(entries))
	}

	// A corrupt key file is an error, never silently replaced.
	if err := os.WriteFile(path, []byte("k1:garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, created, err := LoadOrCreate(dir); !errors.Is(err, ErrBadKey) || created {
		t.Fatalf("corrupt file: %v %v", created, err)
	}
}

func TestLoadOrCreateRace(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	rings := make([]*Keyring, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { rings[i], _, created[i], errs[i] = LoadOrCreate(dir) })
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if created[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Fatalf("%d callers created the key, want 1", creators)
	}
	sealed, _ := rings[0].Seal([]byte("x"), nil)
	for i := range n {
		if _, err := rings[i].Open(sealed, nil); err != nil {
			t.Fatalf("ring %d has another key: %v", i, err)
		}
	}
}

func TestRotateFile(t *testing.T) {
	dir := t.TempDir()
	kr1, path, _, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := kr1.Seal([]byte("before rotation"), []byte("row"))
	id, err := RotateFile(path)
	if err != nil || id != "k2" {
		t.Fatalf("rotate: %q %v", id, err)
	}
	id, err = RotateFile(path)
	if err != nil || id != "k3" {
		t.Fatalf("second rotate: %q %v", id, err)
	}
	kr, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(kr.KeyIDs()) != "[k3 k2 k1]" {
		t.Fatalf("ids after rotation %v", kr.KeyIDs())
	}
	if got, err := kr.Open(sealed, []byte("row")); err != nil || string(got) != "before rotation" {
		t.Fatalf("old value: %q %v", got, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode after rotation %v", st.Mode().Perm())
	}
	if _, err := RotateFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("rotating a missing file succeeded")
	}
}

// Key material must not reach logs through fmt or errors.
func TestNoKeyMaterialInOutput(t *testing.T) {
	k := mustKey(t, "k1")
	kr := mustRing(t, k)
	type server struct {
		Keys   *Keyring
		keys   Keyring
		Key    Key
		keyArr []Key
	}
	s := server{Keys: kr, keys: *kr, Key: k, keyArr: []Key{k}}
	var out []string
	for _, v := range []any{kr, *kr, k, []Key{k}, s, &s} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
			out = append(out, fmt.Sprintf(verb, v))
		}
	}
	_, err := Parse("k1:" + base64.StdEncoding.EncodeToString(k.secret()[:][:31]))
	out = append(out, err.Error())
	forbidden := []string{
		base64.StdEncoding.EncodeToString(k.secret()[:]),
		base64.RawURLEncoding.EncodeToString(k.secret()[:]),
		hex.EncodeToString(k.secret()[:]),
		strings.ToUpper(hex.EncodeToString(k.secret()[:])),
		string(k.secret()[:]),
		fmt.Sprint(k.secret()[:][:8])[1:20], // decimal bytes as in %v of a []byte
	}
	for _, o := range out {
		for _, f := range forbidden {
			if strings.Contains(o, f) {
				t.Fatalf("output %q contains key material", o)
			}
		}
	}
	if got := kr.String(); got != "keyring(primary=k1, keys=[k1])" {
		t.Fatalf("String() = %q", got)
	}
}

func TestZeroKeyringIsAnError(t *testing.T) {
	for _, kr := range []*Keyring{nil, {}} {
		if _, err := kr.Seal([]byte("x"), nil); !errors.Is(err, ErrBadKey) {
			t.Fatalf("Seal on %v: %v", kr, err)
		}
		if _, err := kr.Open("enc1:k1:AAAA", nil); !errors.Is(err, ErrBadKey) {
			t.Fatalf("Open on %v: %v", kr, err)
		}
		if !kr.NeedsRotation("enc1:k1:AAAA") || kr.PrimaryID() != "" || kr.KeyIDs() != nil {
			t.Fatal("accessors on an empty ring")
		}
	}
	if _, err := New(Key{}); !errors.Is(err, ErrBadKey) {
		t.Fatalf("New(zero Key): %v", err)
	}
}
