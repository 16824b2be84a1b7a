package conversation

import (
	"errors"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
)

// ErrorFrame is the error frame answering a request (ref) that failed with
// err: the sentinel errors get their codes; anything else is the store
// failing, retryable (the client resends with the same client id). Every
// transport that calls the service (signaling's connections, standalone
// relays) answers with it.
func ErrorFrame(err error, ref string) protocol.Error {
	f := protocol.Error{Envelope: protocol.Envelope{Type: protocol.TypeError, Ref: ref}}
	var limited *RateLimitedError
	switch {
	case errors.As(err, &limited):
		f = RateLimitedFrame(ref, limited.RetryAfter)
		f.Message = limited.Error()
	case errors.Is(err, ErrNotFound):
		f.Code, f.Message = protocol.CodeNotFound, "no such conversation"
	case errors.Is(err, ErrClosed):
		f.Code, f.Message = protocol.CodeClosed, "this conversation is closed"
	case errors.Is(err, ErrNotOwner):
		f.Code, f.Message = protocol.CodeForbidden, "another agent handles this conversation now; only they (or a supervisor) may write in it or close it"
	case errors.Is(err, ErrForbidden):
		f.Code, f.Message = protocol.CodeForbidden, "not allowed"
	case errors.Is(err, ErrInvalid):
		f.Code, f.Message = protocol.CodeInvalid, err.Error()
	default:
		f.Code, f.Message, f.Retryable, f.RetryAfterMs = protocol.CodeUnavailable, "the server cannot store this right now; retry", true, 1000
	}
	return f
}

// RateLimitedFrame answers a frame (ref) refused by a message rate limit;
// the client may retry after retry.
func RateLimitedFrame(ref string, retry time.Duration) protocol.Error {
	return protocol.Error{Envelope: protocol.Envelope{Type: protocol.TypeError, Ref: ref}, Code: protocol.CodeRateLimited,
		Message: "too many messages; slow down", Retryable: true, RetryAfterMs: int(max(retry.Milliseconds(), 1))}
}
