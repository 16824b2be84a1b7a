// Package translate turns a chat message from one language into another,
// so a visitor and an agent who share no language can talk. Providers sit
// behind one interface: Apertium (rule-based, offline, Debian's packages;
// the default where installed) and an OpenAI-compatible chat-completions
// endpoint (the assistant's client, pkg/assistant).
//
// Languages are ISO 639-1 codes ("en", "es"), as routing and langdetect
// use them; a region ("es-MX") is ignored.
package translate

import (
	"context"
	"errors"
	"strings"
)

// Translator translates text. Translate must honour ctx's deadline: the
// caller delivers the original when it passes.
type Translator interface {
	// Translate returns text in language to; from is the language it is
	// written in.
	Translate(ctx context.Context, text, from, to string) (string, error)
	// Supports reports whether the provider translates from into to.
	Supports(from, to string) bool
	// Name names the provider, for logs and the stored translation.
	Name() string
}

// ErrUnsupported: the provider does not translate that pair.
var ErrUnsupported = errors.New("translate: language pair not supported")

// Base returns the ISO 639-1 part of a language tag: "es-MX" is "es".
func Base(tag string) string {
	tag = strings.TrimSpace(tag)
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	return strings.ToLower(tag)
}

// Chain tries its translators in order: the first that supports the pair
// translates (a later one is not asked when the first fails: the caller's
// deadline is shared, and the original then goes through).
type Chain []Translator

// Translate implements Translator.
func (c Chain) Translate(ctx context.Context, text, from, to string) (string, error) {
	for _, t := range c {
		if t.Supports(from, to) {
			return t.Translate(ctx, text, from, to)
		}
	}
	return "", ErrUnsupported
}

// Supports implements Translator.
func (c Chain) Supports(from, to string) bool {
	for _, t := range c {
		if t.Supports(from, to) {
			return true
		}
	}
	return false
}

// Name implements Translator: the names of its providers.
func (c Chain) Name() string {
	names := make([]string, len(c))
	for i, t := range c {
		names[i] = t.Name()
	}
	return strings.Join(names, ",")
}

// For returns the name of the provider that would translate the pair.
func (c Chain) For(from, to string) string {
	for _, t := range c {
		if t.Supports(from, to) {
			return t.Name()
		}
	}
	return ""
}
