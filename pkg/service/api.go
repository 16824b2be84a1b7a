package service

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/protocol"
)

// handle adapts a handler that returns an error to gin: the handler writes
// its answer on success and returns an error (an *apierr.Error, or any
// error, which is an outage) otherwise, which writeError answers. Handlers
// written this way have one exit per failure instead of an answer and a
// return at each.
func handle(log *slog.Logger, h func(*gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			writeError(c, log, err)
		}
	}
}

// writeError answers with err as the JSON error body every endpoint uses:
// {"error": message, "code": code}, plus "retryable": true when the same
// request may succeed later. The cause of an outage is logged, never sent.
func writeError(c *gin.Context, log *slog.Logger, err error) {
	var limited *limitedError
	if errors.As(err, &limited) { // its body says when to retry (ratelimit.go)
		limited.write(c)
		return
	}
	e := apierr.From(err)
	if e.Cause != nil && log != nil {
		log.Warn("request failed", "method", c.Request.Method, "route", c.FullPath(), "code", e.Code, "err", e.Cause)
	}
	body := gin.H{"error": e.Message, "code": e.Code}
	if e.Retryable {
		body["retryable"] = true
	}
	c.AbortWithStatusJSON(e.Status, body)
}

// bindBody decodes a JSON body into v; a body that is too large or not
// JSON is the client's error. Text no store can keep (invalid UTF-8, an
// escaped NUL) is refused before decoding, which would hide it
// (protocol.CheckJSONText).
func bindBody(c *gin.Context, v any) error {
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apierr.TooBig("request body too large")
		}
		return apierr.Invalid("cannot read the request body")
	}
	if err := protocol.CheckJSONText(raw); err != nil {
		return apierr.Invalid("request body refused: " + err.Error())
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return apierr.Invalid("request body must be JSON: " + err.Error())
	}
	return nil
}
