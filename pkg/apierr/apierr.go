// Package apierr is the one error type Parley's APIs answer with: a code
// clients act on, the HTTP status it maps to, whether retrying can help,
// and a message for people. Handlers return an *Error (or any error, which
// counts as a retryable outage); the HTTP layer writes it as
// {"error": message, "code": code} with its status, and the live protocol
// as an error frame, each in one place.
package apierr

import (
	"errors"
	"net/http"

	"github.com/parleychat/parley/pkg/protocol"
)

// Error is an API error. Cause, if set, is what went wrong underneath: it
// is logged and unwrapped (errors.Is), never shown to the client.
type Error struct {
	Code      string
	Status    int
	Retryable bool
	Message   string
	Cause     error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Message + ": " + e.Cause.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// New makes an error; retryable when the status is 429 or 5xx.
func New(status int, code, msg string) *Error {
	return &Error{Code: code, Status: status, Message: msg,
		Retryable: status == http.StatusTooManyRequests || status >= 500}
}

// Invalid: the request is malformed or a field is out of range (400).
func Invalid(msg string) *Error { return New(http.StatusBadRequest, protocol.CodeInvalid, msg) }

// NotFound: no such thing in the caller's workspace (404).
func NotFound(msg string) *Error { return New(http.StatusNotFound, protocol.CodeNotFound, msg) }

// Forbidden: the caller may not do this (403).
func Forbidden(msg string) *Error { return New(http.StatusForbidden, protocol.CodeForbidden, msg) }

// Conflict: the request contradicts the current state (409).
func Conflict(msg string) *Error { return New(http.StatusConflict, "conflict", msg) }

// TooBig: a body or a list exceeds its limit (413).
func TooBig(msg string) *Error {
	return New(http.StatusRequestEntityTooLarge, protocol.CodeTooBig, msg)
}

// Unavailable: a dependency (the store, the bus) failed; the same request
// may succeed later (503, retryable). cause is logged, not shown.
func Unavailable(msg string, cause error) *Error {
	e := New(http.StatusServiceUnavailable, protocol.CodeUnavailable, msg)
	e.Cause = cause
	return e
}

// From returns err as an *Error: itself if it is (or wraps) one, else an
// unavailable error with err as its cause, since an error nobody typed is
// a failure underneath, not the caller's fault.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Unavailable("the server cannot do this right now; retry", err)
}

// Frame is the error as a live-protocol error frame answering ref.
func (e *Error) Frame(ref string) protocol.Error {
	f := protocol.Error{Envelope: protocol.Envelope{Type: protocol.TypeError, Ref: ref},
		Code: e.Code, Message: e.Message, Retryable: e.Retryable}
	if e.Retryable {
		f.RetryAfterMs = 1000
	}
	return f
}
