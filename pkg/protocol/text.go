package protocol

import (
	"errors"
	"unicode/utf8"
)

// Text that no store can keep, refused at the edge. JSON decoding hides
// both: it replaces invalid UTF-8 with U+FFFD and turns the escape \u0000
// into a NUL, which PostgreSQL refuses in text (the write then failed as
// if the database were down, and the client retried it forever). So raw
// JSON is checked before it is decoded.
var (
	ErrNotUTF8 = errors.New("text is not valid UTF-8")
	ErrNUL     = errors.New("text contains a NUL character (\\u0000)")
)

// CheckJSONText reports whether raw JSON is valid UTF-8 and escapes no NUL
// (\u0000) in any string. A raw NUL byte is not valid JSON anyway.
func CheckJSONText(data []byte) error {
	if !utf8.Valid(data) {
		return ErrNotUTF8
	}
	// Backslashes occur only inside strings, each starting an escape of
	// one character, or of "uXXXX"; stepping over the escaped character
	// keeps \\u0000 (a backslash, then the text u0000) apart from \u0000.
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		if i+5 < len(data) && data[i+1] == 'u' && string(data[i+2:i+6]) == "0000" {
			return ErrNUL
		}
		i++
	}
	return nil
}
