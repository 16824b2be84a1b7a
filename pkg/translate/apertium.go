package translate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Apertium translates with the apertium command (Debian's apertium and
// its pair packages, such as apertium-eng-spa): one process per message,
// which costs tens of milliseconds and keeps no state to go stale.
type Apertium struct {
	bin     string
	timeout time.Duration
	// pairs maps "from>to" (ISO 639-1) to the Apertium mode ("spa-eng").
	pairs map[string]string
}

// DefaultApertiumTimeout bounds one apertium run when the caller's
// deadline is later.
const DefaultApertiumTimeout = 10 * time.Second

// ErrNoApertium: the apertium command is not installed, or has no pairs.
var ErrNoApertium = errors.New("translate: apertium not installed or no language pairs")

// NewApertium finds the apertium command (bin; "apertium" when empty, on
// PATH) and the pairs installed (`apertium -l`). It fails with
// ErrNoApertium when there is none.
func NewApertium(ctx context.Context, bin string) (*Apertium, error) {
	if bin == "" {
		bin = "apertium"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoApertium, err)
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultApertiumTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-l").Output()
	if err != nil {
		return nil, fmt.Errorf("%w: apertium -l: %v", ErrNoApertium, err)
	}
	a := &Apertium{bin: path, timeout: DefaultApertiumTimeout, pairs: parsePairs(string(out))}
	if len(a.pairs) == 0 {
		return nil, ErrNoApertium
	}
	return a, nil
}

// parsePairs reads `apertium -l`: one mode a line, "spa-eng"; variants
// ("spa-eng_US") and chained or debugging modes ("eng-spa-tagger") are
// not pairs of two known languages and are left out.
func parsePairs(list string) map[string]string {
	pairs := map[string]string{}
	for _, mode := range strings.Fields(list) {
		from, to, ok := strings.Cut(mode, "-")
		if !ok || strings.ContainsAny(to, "-_") {
			continue
		}
		f, t := iso1[from], iso1[to]
		if f == "" || t == "" {
			continue
		}
		pairs[f+">"+t] = mode
	}
	return pairs
}

// Pairs lists the installed pairs as "from>to", ISO 639-1.
func (a *Apertium) Pairs() []string {
	out := make([]string, 0, len(a.pairs))
	for p := range a.pairs {
		out = append(out, p)
	}
	return out
}

// Name implements Translator.
func (a *Apertium) Name() string { return "apertium" }

// Supports implements Translator.
func (a *Apertium) Supports(from, to string) bool {
	_, ok := a.pairs[Base(from)+">"+Base(to)]
	return ok
}

// Translate implements Translator: `apertium -u -f txt <mode>` with text
// on its standard input. -u drops the marks of unknown words (*word):
// the visitor should read the word as it was written.
func (a *Apertium) Translate(ctx context.Context, text, from, to string) (string, error) {
	mode, ok := a.pairs[Base(from)+">"+Base(to)]
	if !ok {
		return "", ErrUnsupported
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.bin, "-u", "-f", "txt", mode)
	cmd.Stdin = strings.NewReader(text)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The pipeline is several processes; kill them all when the deadline
	// passes rather than wait for the ones that still hold the pipes.
	cmd.WaitDelay = 500 * time.Millisecond
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("translate: apertium %s: %w", mode, ctx.Err())
		}
		return "", fmt.Errorf("translate: apertium %s: %v: %s", mode, err, strings.TrimSpace(stderr.String()))
	}
	out := strings.TrimSpace(stdout.String())
	if out == "" && strings.TrimSpace(text) != "" {
		return "", fmt.Errorf("translate: apertium %s gave nothing", mode)
	}
	return out, nil
}

// iso1 maps the ISO 639-3 codes Apertium names its pairs with to ISO
// 639-1, for the languages Debian packages pairs of.
var iso1 = map[string]string{
	"eng": "en", "spa": "es", "cat": "ca", "fra": "fr", "por": "pt", "ita": "it", "glg": "gl", "oci": "oc",
	"eus": "eu", "ron": "ro", "deu": "de", "nld": "nl", "afr": "af", "swe": "sv", "dan": "da", "nob": "nb",
	"nno": "nn", "isl": "is", "epo": "eo", "arg": "an", "ast": "ast", "bel": "be", "rus": "ru", "ukr": "uk",
	"mkd": "mk", "bul": "bg", "hbs": "sh", "slv": "sl", "ces": "cs", "slk": "sk", "pol": "pl", "cym": "cy",
	"bre": "br", "gle": "ga", "kaz": "kk", "tat": "tt", "tur": "tr", "mlt": "mt", "ara": "ar", "hin": "hi",
	"urd": "ur", "ind": "id", "msa": "ms", "zlm": "ms", "sme": "se", "fin": "fi", "est": "et", "hun": "hu",
}
