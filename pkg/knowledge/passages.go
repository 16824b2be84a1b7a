// Package knowledge is a site's help articles as the assistant reads them:
// articles split into passages, a full-text index of the passages with
// language-aware analysis (bleve), imports from Markdown and HTML files,
// and the safe rendering of an article's Markdown for the public help page.
package knowledge

import (
	"regexp"
	"strings"
)

// Passage is a piece of an article small enough to answer one question:
// the text under one heading, cut at paragraph ends near passageWords.
type Passage struct {
	N       int    // 0, 1, … within the article
	Heading string // the nearest heading above it ("" before the first)
	Text    string // plain text, Markdown marks removed
}

// passageWords is the length a passage is cut near: long enough to hold an
// answer with its context, short enough that the best one is the answer.
const passageWords = 90

var (
	headingRE  = regexp.MustCompile(`^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	linkRE     = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	marksRE    = regexp.MustCompile("[*_`~]+")
	listMarkRE = regexp.MustCompile(`^\s*([-+*]|\d+[.)])\s+`)
	quoteRE    = regexp.MustCompile(`^\s*>\s?`)
	htmlTagRE  = regexp.MustCompile(`<[^>]*>`)
)

// Plain turns one line of Markdown into plain text: links become their
// words, emphasis and code marks and raw HTML go.
func Plain(line string) string {
	line = linkRE.ReplaceAllString(line, "$1")
	line = htmlTagRE.ReplaceAllString(line, "")
	line = listMarkRE.ReplaceAllString(line, "")
	line = quoteRE.ReplaceAllString(line, "")
	line = marksRE.ReplaceAllString(line, "")
	return strings.TrimSpace(line)
}

// Split cuts an article's Markdown body into passages. Each heading starts
// a passage; a long section is cut at a paragraph end once it passes
// passageWords. Code fences are kept as text.
func Split(body string) []Passage {
	var (
		out     []Passage
		heading string
		buf     []string
		words   int
	)
	flush := func() {
		text := strings.TrimSpace(strings.Join(buf, " "))
		buf, words = nil, 0
		if text == "" {
			return
		}
		out = append(out, Passage{N: len(out), Heading: heading, Text: text})
	}
	for _, line := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		if m := headingRE.FindStringSubmatch(line); m != nil {
			flush()
			heading = Plain(m[2])
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			continue
		}
		p := Plain(line)
		if p == "" {
			// A paragraph ends: cut here when the passage is long enough.
			if words >= passageWords {
				flush()
			}
			continue
		}
		buf = append(buf, p)
		words += len(strings.Fields(p))
		if words >= 2*passageWords {
			flush() // one very long paragraph
		}
	}
	flush()
	return out
}
