package keyring

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// EnvVar is the environment variable that holds the key ring:
// "k2:<base64>,k1:<base64>", the first key being the primary.
const EnvVar = "PARLEY_ENCRYPTION_KEYS"

// KeyFileName is the key file LoadOrCreate keeps in the data directory.
const KeyFileName = "keys"

// maxKeyFile bounds what LoadFile reads; a real key file is well under 1 KiB.
const maxKeyFile = 64 << 10

const keyFileHeader = `# Parley encryption keys: "<id>:<base64 of 32 bytes>", one per line.
# The first key encrypts new values; every key decrypts the values naming it.
# BACK THIS FILE UP. Without it, encrypted messages cannot be read again.
`

// GenerateKey returns a new random key with the given id.
func GenerateKey(id string) (Key, error) {
	if err := checkKeyID(id); err != nil {
		return Key{}, err
	}
	var b [KeySize]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Key{}, fmt.Errorf("generate key: read random: %w", err)
	}
	return keyOf(id, &b), nil
}

// Encode returns the key as "<id>:<base64>", the form Parse reads. The
// result is key material: write it only to a key file or a secret store.
func (k Key) Encode() string {
	if k.secret == nil {
		return ""
	}
	return k.id + ":" + base64.StdEncoding.EncodeToString(k.secret()[:])
}

// Parse reads a key ring specification: entries "<id>:<base64 key>"
// separated by commas and/or new lines, the first being the primary. Blank
// lines and lines starting with '#' are skipped. The base64 may be standard
// or URL-safe, padded or not, and must decode to KeySize bytes. Errors wrap
// ErrBadKey and never contain key material.
func Parse(spec string) (*Keyring, error) {
	keys, err := parseKeys(spec)
	if err != nil {
		return nil, err
	}
	return New(keys...)
}

func parseKeys(spec string) ([]Key, error) {
	var keys []Key
	for line := range strings.Lines(spec) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for entry := range strings.SplitSeq(line, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			n := len(keys) + 1
			id, enc, ok := strings.Cut(entry, ":")
			if !ok {
				// Not echoing the entry: it may be a bare key pasted without id.
				return nil, fmt.Errorf("%w: entry %d is not <id>:<base64 key>", ErrBadKey, n)
			}
			id = strings.TrimSpace(id)
			if err := checkKeyID(id); err != nil {
				return nil, fmt.Errorf("entry %d: %w", n, err)
			}
			secret, ok := decodeKey(strings.TrimSpace(enc))
			if !ok {
				return nil, fmt.Errorf("%w: key %s is not base64 of %d bytes (generate one with: head -c 32 /dev/urandom | base64)", ErrBadKey, id, KeySize)
			}
			k, err := NewKey(id, secret)
			if err != nil {
				return nil, fmt.Errorf("entry %d: %w", n, err)
			}
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no keys given", ErrBadKey)
	}
	return keys, nil
}

func decodeKey(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, true
		}
	}
	return nil, false
}

// FromEnv reads the ring from EnvVar. ok is false (and the ring nil) when the
// variable is unset or blank; a set but malformed value is an error.
func FromEnv() (kr *Keyring, ok bool, err error) {
	spec := os.Getenv(EnvVar)
	if strings.TrimSpace(spec) == "" {
		return nil, false, nil
	}
	kr, err = Parse(spec)
	if err != nil {
		return nil, true, fmt.Errorf("%s: %w", EnvVar, err)
	}
	return kr, true, nil
}

// LoadFile reads a key file in Parse's format.
func LoadFile(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read key file %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%w: key file %s is larger than %d bytes", ErrBadKey, path, maxKeyFile)
	}
	kr, err := Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return kr, nil
}

// LoadOrCreate loads <dir>/keys, or, when it does not exist, generates one
// key "k1" into it (file mode 0600, dir created 0700 if missing) and reports
// created = true, so the caller can log "generated a new encryption key at
// <path>; back it up". Two processes racing to create it end up with the
// same file: the file appears whole or not at all.
func LoadOrCreate(dir string) (kr *Keyring, path string, created bool, err error) {
	path = filepath.Join(dir, KeyFileName)
	kr, err = LoadFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return kr, path, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, path, false, fmt.Errorf("create key directory: %w", err)
	}
	k, err := GenerateKey("k1")
	if err != nil {
		return nil, path, false, err
	}
	err = writeFile(path, []byte(keyFileHeader+k.Encode()+"\n"), false)
	if errors.Is(err, fs.ErrExist) {
		kr, err = LoadFile(path) // another process won the race
		return kr, path, false, err
	}
	if err != nil {
		return nil, path, false, err
	}
	kr, err = New(k)
	return kr, path, true, err
}

// Load is the server's start-up choice: the ring from EnvVar when it is set,
// else LoadOrCreate(dataDir). source names where the keys came from (the
// variable's name or the file path), for the start-up log.
func Load(dataDir string) (kr *Keyring, source string, created bool, err error) {
	kr, ok, err := FromEnv()
	if ok {
		return kr, "environment variable " + EnvVar, false, err
	}
	return LoadOrCreate(dataDir)
}

// RotateFile generates a new key, writes it as the new primary at the top of
// the key file at path (keeping every old key, the file replaced atomically
// with mode 0600), and returns its id: "k<n+1>" where n is the highest
// number among ids of the form "k<n>". Processes that loaded the file keep
// sealing with the old primary until they reload it; values sealed by either
// open with the new file. Not safe against a concurrent RotateFile.
func RotateFile(path string) (newID string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("rotate: %w", err)
	}
	keys, err := parseKeys(string(data))
	if err != nil {
		return "", fmt.Errorf("rotate: key file %s: %w", path, err)
	}
	k, err := GenerateKey(nextID(keys))
	if err != nil {
		return "", err
	}
	all := append([]Key{k}, keys...)
	var b strings.Builder
	b.WriteString(keyFileHeader)
	for _, k := range all {
		b.WriteString(k.Encode() + "\n")
	}
	if err := writeFile(path, []byte(b.String()), true); err != nil {
		return "", fmt.Errorf("rotate: %w", err)
	}
	return k.id, nil
}

func nextID(keys []Key) string {
	highest := 0
	for _, k := range keys {
		if n, err := strconv.Atoi(strings.TrimPrefix(k.id, "k")); err == nil && strings.HasPrefix(k.id, "k") && n > highest {
			highest = n
		}
	}
	return "k" + strconv.Itoa(highest+1)
}

// writeFile writes data to a temporary 0600 file beside path, syncs it and
// then links it to path (replace false: fails with fs.ErrExist if path
// exists) or renames it over path (replace true). Readers never see a
// partial file.
func writeFile(path string, data []byte, replace bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if replace {
		err = os.Rename(tmp.Name(), path)
	} else {
		err = os.Link(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // make the new directory entry durable
		d.Close()
	}
	return nil
}
