// Package assistant answers a visitor from a site's help articles. A
// Provider turns a question and the passages retrieval found for it
// (pkg/knowledge) into an answer with its sources, or says it is unsure,
// in which case the visitor is offered a person. Two providers: Builtin
// (offline, the default: the best passage itself) and OpenAI (any
// OpenAI-compatible chat-completions endpoint, retrieval-augmented and
// streamed).
//
// What reaches a provider is exactly a Question: the site's name, the
// passages of that site's own published articles, and the visitor's and
// assistant's turns of the one conversation. Nothing else of the workspace
// (other conversations, agents' messages, settings, keys) is ever part of
// it, so no instruction hidden in an article or a message can make a model
// reveal what it was never given.
package assistant

import (
	"context"
	"errors"
	"strings"

	"github.com/parleychat/parley/pkg/knowledge"
)

// Turn is one earlier message of the conversation the provider may read.
type Turn struct {
	Assistant bool // the assistant wrote it; else the visitor
	Text      string
}

// Question is everything a provider is given.
type Question struct {
	Site     string          // the site's name, for the model's introduction
	Language string          // the visitor's language tag, when known
	Text     string          // the visitor's latest message
	History  []Turn          // the conversation's earlier visitor and assistant turns, oldest first
	Passages []knowledge.Hit // the site's best passages for Text, best first
}

// Answer is a provider's reply.
type Answer struct {
	Text string
	// Sources are the passages the answer came from (a subset of the
	// question's), best first; empty when Unsure.
	Sources []knowledge.Hit
	// Unsure: the passages do not answer the question; the visitor is
	// offered a person.
	Unsure bool
}

// Provider answers a question. emit, when not nil, is called with each
// piece of the text as it is produced (token by token for a streaming
// provider); the Answer's Text is the whole. An error means no answer:
// the caller hands the visitor to a person.
type Provider interface {
	Answer(ctx context.Context, q Question, emit func(delta string)) (Answer, error)
}

// ErrNoAnswer is a provider's answer that did not come (empty stream).
var ErrNoAnswer = errors.New("the assistant gave no answer")

// Builtin is the offline provider: the best passage, word for word, with
// its article, when it covers enough of the question; else unsure.
type Builtin struct {
	// MinCoverage is the share of the question's words the best passage
	// must hold (knowledge.Hit.Coverage); 0 means DefaultMinCoverage.
	MinCoverage float64
}

// DefaultMinCoverage: half of the question's words (after stop words
// and stemming), measured on the retrieval set to answer its questions
// without answering unrelated ones.
const DefaultMinCoverage = 0.5

// Answer implements Provider.
func (b Builtin) Answer(ctx context.Context, q Question, emit func(string)) (Answer, error) {
	min := b.MinCoverage
	if min == 0 {
		min = DefaultMinCoverage
	}
	if len(q.Passages) == 0 || q.Passages[0].Coverage < min {
		a := Answer{Text: NotFound(q.Language), Unsure: true}
		if emit != nil {
			emit(a.Text)
		}
		return a, nil
	}
	best := q.Passages[0]
	text := best.Text
	if best.Heading != "" && best.Heading != best.Title {
		text = best.Heading + ": " + text
	}
	if emit != nil {
		emit(text)
	}
	return Answer{Text: text, Sources: []knowledge.Hit{best}}, nil
}

// NotFound is the assistant's words when the help articles do not answer,
// in the visitor's language where it has them.
func NotFound(lang string) string {
	base, _, _ := strings.Cut(strings.ToLower(lang), "-")
	switch base {
	case "es":
		return "No encuentro la respuesta en nuestros artículos de ayuda. ¿Quieres hablar con una persona?"
	case "fr":
		return "Je ne trouve pas la réponse dans nos articles d'aide. Voulez-vous parler à une personne ?"
	case "de":
		return "Dazu finde ich nichts in unseren Hilfeartikeln. Möchten Sie mit einem Menschen sprechen?"
	case "pt":
		return "Não encontro a resposta nos nossos artigos de ajuda. Quer falar com uma pessoa?"
	}
	return "I couldn't find the answer in our help articles. Would you like to talk to a person?"
}
