package auth

import (
	_ "embed"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrWeakPassword is the class of the errors CheckPasswordStrength returns;
// each says what is wrong in words an agent can act on.
var ErrWeakPassword = errors.New("weak password")

type weakPassword string

func (e weakPassword) Error() string        { return string(e) }
func (e weakPassword) Is(target error) bool { return target == ErrWeakPassword }

const advice = "; a few unrelated words make a strong one."

//go:embed common_passwords.txt
var commonList string

// common holds the 10,000 most common passwords, lowercase.
var common = func() map[string]struct{} {
	m := make(map[string]struct{}, 10000)
	for _, l := range strings.Split(commonList, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			m[strings.ToLower(l)] = struct{}{}
		}
	}
	return m
}()

// CheckPasswordStrength refuses passwords that guessing finds first: a
// common password (also with digits or symbols around it, "Dragon2024!"),
// few distinct characters ("aaaaaaaaaa"), a run along the alphabet, the
// digits or the keyboard ("1234567890", "qwertyuiop"), or one built on
// personal (the agent's email, name, the workspace's name). Length limits
// are HashPassword's.
func CheckPasswordStrength(pw string, personal ...string) error {
	lower := strings.ToLower(pw)
	if isCommon(lower) {
		return weakPassword("This password is one of the most common passwords" + advice)
	}
	if fewDistinct(lower) {
		return weakPassword("This password repeats too few different characters" + advice)
	}
	if isRun(lower) {
		return weakPassword("This password is a sequence of neighbouring characters, like 1234567890 or qwerty" + advice)
	}
	rest := lower
	for _, p := range personalWords(personal) {
		rest = strings.ReplaceAll(rest, p, "")
	}
	if rest != lower {
		// What is left, without the separators around the name.
		rest = strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				return r
			}
			return -1
		}, rest)
	}
	if rest != lower && (utf8.RuneCountInString(rest) < 6 || isCommon(rest) || fewDistinct(rest) || isRun(rest)) {
		return weakPassword("This password is built on your email address, your name or your workspace's name" + advice)
	}
	return nil
}

// isCommon: s, or s without the digits and symbols around it, is common.
func isCommon(s string) bool {
	if _, ok := common[s]; ok {
		return true
	}
	core := strings.TrimFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	if utf8.RuneCountInString(core) < 4 {
		return false
	}
	_, ok := common[core]
	return ok
}

func fewDistinct(s string) bool {
	seen := map[rune]bool{}
	for _, r := range s {
		seen[r] = true
	}
	return len(seen) < 4
}

// runs are the lines a sequence follows, forwards or backwards.
var runs = []string{"abcdefghijklmnopqrstuvwxyz", "01234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p"}

// isRun: s is made of at most two stretches of the runs, forwards or
// backwards ("1234567890", "abcdefabcdef", "qwertyasdfgh").
func isRun(s string) bool {
	for parts := 0; parts < 2; parts++ {
		n := 0
		for _, line := range runs {
			n = max(n, longestPrefixIn(s, line), longestPrefixIn(s, reverse(line)))
		}
		if n < 3 {
			return false
		}
		if s = s[n:]; s == "" {
			return true
		}
	}
	return false
}

// longestPrefixIn is the length of the longest prefix of s found in l.
func longestPrefixIn(s, l string) int {
	n := 0
	for n < len(s) && strings.Contains(l, s[:n+1]) {
		n++
	}
	return n
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// personalWords splits the personal strings into the words a password
// could be built on: an email's local part and domain labels, a name's
// words; words under 4 letters are too short to tell.
func personalWords(personal []string) []string {
	var out []string
	for _, p := range personal {
		for _, w := range strings.FieldsFunc(strings.ToLower(p), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			if utf8.RuneCountInString(w) >= 4 {
				out = append(out, w)
			}
		}
	}
	return out
}
