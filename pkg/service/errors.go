package service

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
)

// HTTP-only error codes; the others are protocol codes.
const (
	codeUnauthorized = "unauthorized"
	codeCSRF         = "csrf"
	codeOrigin       = "origin"
	codeMediaType    = "unsupported_media_type"
	codeMetricsOff   = "metrics_off"
	codeWeakPassword = "weak_password"
	codeIdentity     = "identity"
	// codeWorkspaceRequired: the email and password open accounts in
	// several workspaces; sign in again naming one.
	codeWorkspaceRequired = "workspace_required"
)

// passwordErr is the error for a password HashPassword refused: 400
// invalid, or 400 weak_password saying what makes it weak.
func passwordErr(err error) error {
	code := protocol.CodeInvalid
	if errors.Is(err, auth.ErrWeakPassword) {
		code = codeWeakPassword
	}
	return apierr.New(http.StatusBadRequest, code, err.Error())
}

// apiError answers with the JSON error body every endpoint uses (for
// handlers not yet returning errors; see handle in api.go).
func apiError(c *gin.Context, status int, code, msg string) {
	writeError(c, nil, apierr.New(status, code, msg))
}

// errorFrame turns a service error into the protocol error frame the client
// gets. Store failures are retryable: the client resends with its client id.
func errorFrame(err error, ref string) protocol.Error { return conversation.ErrorFrame(err, ref) }

// serviceErr maps an error of the conversation service or its router to
// the API's: the one place their sentinel errors meet HTTP. Each gets its
// status and code, anything else is a retryable 503; msg is the message of
// each, but for an offer that is over.
func serviceErr(err error, msg string) *apierr.Error {
	status, code := http.StatusServiceUnavailable, protocol.CodeUnavailable
	switch {
	case errors.Is(err, conversation.ErrNoAgentAvailable):
		status, code = http.StatusConflict, "no_agent"
	case errors.Is(err, conversation.ErrNoOffer):
		status, code, msg = http.StatusConflict, "no_offer", "this offer is over (expired, declined or taken)"
	case errors.Is(err, conversation.ErrNotFound):
		status, code = http.StatusNotFound, protocol.CodeNotFound
	case errors.Is(err, conversation.ErrClosed):
		status, code = http.StatusConflict, protocol.CodeClosed
	case errors.Is(err, conversation.ErrForbidden):
		status, code = http.StatusForbidden, protocol.CodeForbidden
	case errors.Is(err, conversation.ErrInvalid):
		status, code = http.StatusBadRequest, protocol.CodeInvalid
	}
	if status == http.StatusServiceUnavailable {
		return apierr.Unavailable(msg, err)
	}
	return apierr.New(status, code, msg)
}

// serviceErrSays is serviceErr where the client's errors (4xx) say what
// went wrong in err's own words; outage is the message of a 503.
func serviceErrSays(err error, outage string) *apierr.Error {
	e := serviceErr(err, outage)
	if e.Status < 500 && e.Code != "no_offer" {
		e.Message = err.Error()
	}
	return e
}
