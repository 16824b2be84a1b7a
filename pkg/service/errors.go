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

// httpStatus maps a service error to an HTTP status and code.
func httpStatus(err error) (int, string) {
	switch {
	case errors.Is(err, conversation.ErrNotFound):
		return http.StatusNotFound, protocol.CodeNotFound
	case errors.Is(err, conversation.ErrClosed):
		return http.StatusConflict, protocol.CodeClosed
	case errors.Is(err, conversation.ErrForbidden):
		return http.StatusForbidden, protocol.CodeForbidden
	case errors.Is(err, conversation.ErrInvalid):
		return http.StatusBadRequest, protocol.CodeInvalid
	}
	return http.StatusServiceUnavailable, protocol.CodeUnavailable
}
