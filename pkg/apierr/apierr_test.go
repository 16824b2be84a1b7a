package apierr_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/protocol"
)

func TestFromKeepsTypedErrorsAndTurnsOthersIntoRetryableOutages(t *testing.T) {
	nf := apierr.NotFound("no such site")
	if got := apierr.From(fmt.Errorf("reading: %w", nf)); got != nf {
		t.Fatalf("a wrapped *Error came back as %+v", got)
	}
	cause := errors.New("database is locked")
	got := apierr.From(cause)
	if got.Status != http.StatusServiceUnavailable || got.Code != protocol.CodeUnavailable || !got.Retryable {
		t.Fatalf("an untyped error maps to %+v, want a retryable 503 unavailable", got)
	}
	if !errors.Is(got, cause) {
		t.Fatal("the cause is not unwrapped")
	}
	if got.Message == cause.Error() {
		t.Fatal("the cause leaks into the client's message")
	}
}

func TestRetryableFollowsTheStatus(t *testing.T) {
	for _, tc := range []struct {
		err  *apierr.Error
		want bool
	}{
		{apierr.Invalid("x"), false},
		{apierr.NotFound("x"), false},
		{apierr.Forbidden("x"), false},
		{apierr.Conflict("x"), false},
		{apierr.New(http.StatusTooManyRequests, protocol.CodeRateLimited, "x"), true},
		{apierr.Unavailable("x", nil), true},
	} {
		if tc.err.Retryable != tc.want {
			t.Errorf("%s (%d): retryable %t, want %t", tc.err.Code, tc.err.Status, tc.err.Retryable, tc.want)
		}
		f := tc.err.Frame("r1")
		if f.Type != protocol.TypeError || f.Ref != "r1" || f.Code != tc.err.Code || f.Retryable != tc.want || (f.RetryAfterMs > 0) != tc.want {
			t.Errorf("%s: frame %+v", tc.err.Code, f)
		}
	}
}
