// Package langdetect guesses the language of a few chat messages, so routing
// can find an agent who speaks it when the widget's locale does not say.
//
// Chat messages are short ("hi, my order didn't arrive"), which is where
// character n-gram models are weakest and where the frequent words of a
// language are strongest: nearly every sentence contains some. So the
// detector works in two steps:
//
//   - the writing system first: Hangul is Korean, kana is Japanese, Han
//     without kana is Chinese, Greek, Hebrew, Thai and Devanagari (Hindi)
//     are one language each here, Arabic script is Arabic unless it has
//     Persian letters, Cyrillic is Russian unless it has Ukrainian letters;
//   - for Latin script, the words of the text are looked up in an embedded
//     list of the most frequent chat words of ten languages (en, fr, de, es,
//     it, pt, nl, pl, sv, tr) and the words of support requests (cancel,
//     refund, invoice...); a word shared by several languages counts
//     for each, divided among them, and letters only one language uses (ñ,
//     ß, ã, ł, ğ...) add evidence.
//
// It answers only when confident: enough evidence, and clearly ahead of
// the runner-up. No I/O, no dependencies, safe for concurrent use.
package langdetect

import (
	_ "embed"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"
)

//go:embed words.txt
var wordsTxt string

// Result is a confident guess.
type Result struct {
	// Language is an ISO 639-1 code: "fr", "ja".
	Language string
	// Reason says what the guess rests on, for logs and the routing reason.
	Reason string
}

// Thresholds. A guess needs MinScore evidence (about two frequent words
// that belong to that language alone, or more shared ones) and must score
// at least Margin times the runner-up.
const (
	MinScore      = 2.0
	Margin        = 2.0
	minScriptRune = 4 // letters of a non-Latin script needed to name it
)

var (
	// words maps a word to the languages whose list has it.
	words = map[string][]string{}
	// names of the languages, for reasons.
	names = map[string]string{
		"en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
		"nl": "Dutch", "pl": "Polish", "sv": "Swedish", "tr": "Turkish", "ru": "Russian", "uk": "Ukrainian",
		"el": "Greek", "ar": "Arabic", "fa": "Persian", "he": "Hebrew", "ja": "Japanese", "zh": "Chinese",
		"ko": "Korean", "th": "Thai", "hi": "Hindi",
	}
	// letters that, among the Latin-script languages here, only one uses.
	letters = map[rune]string{
		'ñ': "es", '¿': "es", '¡': "es", 'ß': "de", 'ã': "pt", 'õ': "pt",
		'ł': "pl", 'ą': "pl", 'ę': "pl", 'ś': "pl", 'ż': "pl", 'ź': "pl", 'ć': "pl", 'ń': "pl",
		'ğ': "tr", 'ş': "tr", 'ı': "tr", 'ì': "it", 'ò': "it", 'œ': "fr", 'ê': "fr", 'è': "fr", 'ë': "nl", 'å': "sv",
	}
)

func init() {
	for _, line := range strings.Split(wordsTxt, "\n") {
		lang, list, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		lang = strings.TrimSpace(lang)
		for _, w := range strings.Fields(list) {
			if !slices.Contains(words[w], lang) {
				words[w] = append(words[w], lang)
			}
		}
	}
}

// Languages lists the languages Detect can name, sorted.
func Languages() []string {
	out := make([]string, 0, len(names))
	for l := range names {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Name returns the English name of a language code, or the code itself.
func Name(lang string) string {
	if n, ok := names[lang]; ok {
		return n
	}
	return lang
}

// Detect guesses the language of text, or reports false when the text does
// not say clearly enough (too short, mixed, or a language it does not know).
func Detect(text string) (Result, bool) {
	if r, ok := byScript(text); ok {
		return r, true
	}
	return byWords(text)
}

// byScript names the language of a text written mostly in a script other
// than Latin.
func byScript(text string) (Result, bool) {
	var latin, other, kana, han, hangul, cyr, ukr, greek, arabic, persian, hebrew, thai, deva int
	for _, r := range text {
		switch {
		case !unicode.IsLetter(r):
		case unicode.Is(unicode.Latin, r):
			latin++
		case unicode.In(r, unicode.Hiragana, unicode.Katakana):
			kana++
		case unicode.Is(unicode.Han, r):
			han++
		case unicode.Is(unicode.Hangul, r):
			hangul++
		case unicode.Is(unicode.Cyrillic, r):
			cyr++
			if strings.ContainsRune("іїєґІЇЄҐ", r) {
				ukr++
			}
		case unicode.Is(unicode.Greek, r):
			greek++
		case unicode.Is(unicode.Arabic, r):
			arabic++
			if strings.ContainsRune("پچژگ", r) {
				persian++
			}
		case unicode.Is(unicode.Hebrew, r):
			hebrew++
		case unicode.Is(unicode.Thai, r):
			thai++
		case unicode.Is(unicode.Devanagari, r):
			deva++
		default:
			other++
		}
	}
	nonLatin := kana + han + hangul + cyr + greek + arabic + hebrew + thai + deva
	if nonLatin < minScriptRune || nonLatin <= latin+other {
		return Result{}, false
	}
	pick := func(lang, why string) (Result, bool) {
		return Result{Language: lang, Reason: fmt.Sprintf("%s: %d of %d letters are %s", Name(lang), nonLatin, nonLatin+latin+other, why)}, true
	}
	switch {
	case hangul*2 > nonLatin:
		return pick("ko", "Hangul")
	case kana > 0 && (kana+han)*2 > nonLatin:
		return pick("ja", "kana and kanji")
	case han*2 > nonLatin:
		return pick("zh", "Han characters without kana")
	case cyr*2 > nonLatin && ukr > 0:
		return pick("uk", "Cyrillic with Ukrainian letters (і ї є ґ)")
	case cyr*2 > nonLatin:
		return pick("ru", "Cyrillic")
	case greek*2 > nonLatin:
		return pick("el", "Greek")
	case arabic*2 > nonLatin && persian > 0:
		return pick("fa", "Arabic script with Persian letters (پ چ ژ گ)")
	case arabic*2 > nonLatin:
		return pick("ar", "Arabic script")
	case hebrew*2 > nonLatin:
		return pick("he", "Hebrew")
	case thai*2 > nonLatin:
		return pick("th", "Thai")
	case deva*2 > nonLatin:
		return pick("hi", "Devanagari")
	}
	return Result{}, false
}

// byWords scores Latin-script text by its frequent words and telling
// letters.
func byWords(text string) (Result, bool) {
	text = strings.ToLower(strings.ReplaceAll(text, "’", "'"))
	scores := map[string]float64{}
	hits := map[string]int{}
	total := 0
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' && r != '-' }) {
		w = strings.Trim(w, "'-")
		if w == "" {
			continue
		}
		total++
		langs := words[w]
		for _, l := range langs {
			scores[l] += 1 / float64(len(langs))
			hits[l]++
		}
	}
	for _, r := range text {
		if l, ok := letters[r]; ok {
			scores[l] += 0.5
		}
	}
	type scored struct {
		lang  string
		score float64
	}
	var ranked []scored
	for l, s := range scores {
		ranked = append(ranked, scored{l, s})
	}
	sort.Slice(ranked, func(i, j int) bool {
		if ranked[i].score != ranked[j].score {
			return ranked[i].score > ranked[j].score
		}
		return ranked[i].lang < ranked[j].lang
	})
	if len(ranked) == 0 || ranked[0].score < MinScore {
		return Result{}, false
	}
	best, second := ranked[0], scored{}
	if len(ranked) > 1 {
		second = ranked[1]
	}
	if best.score < Margin*second.score {
		return Result{}, false
	}
	why := fmt.Sprintf("%s: %d of %d words are frequent %s words (score %.1f", Name(best.lang), hits[best.lang], total, Name(best.lang), best.score)
	if second.lang != "" {
		why += fmt.Sprintf(", next %s %.1f", Name(second.lang), second.score)
	}
	return Result{Language: best.lang, Reason: why + ")"}, true
}
