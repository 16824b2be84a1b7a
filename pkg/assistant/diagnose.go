package assistant

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// Failure is the class of an OpenAI-compatible endpoint's failure: what an
// admin who set the endpoint up has to check. The dashboard says each in
// the admin's language, by this code.
type Failure string

const (
	// FailUnreachable: nothing answers at the address (refused, no such
	// host, no route): the URL's host and port, or the server is down.
	FailUnreachable Failure = "unreachable"
	// FailTimeout: no answer, or no first word of one, in time.
	FailTimeout Failure = "timeout"
	// FailTLS: the HTTPS connection failed (a certificate this server does
	// not trust or for another name, or no HTTPS at that address).
	FailTLS Failure = "tls"
	// FailAuth: 401 or 403, the API key is missing, wrong or not allowed.
	FailAuth Failure = "auth"
	// FailNotFound: 404, the URL's path (usually up to /v1) or the model.
	FailNotFound Failure = "not_found"
	// FailRateLimited: 429, the endpoint's rate limit or quota.
	FailRateLimited Failure = "rate_limited"
	// FailServer: 5xx, the model server failed (a model that cannot load).
	FailServer Failure = "server_error"
	// FailRejected: another refusal (400, an error in the stream); the
	// endpoint's own words say why.
	FailRejected Failure = "rejected"
	// FailBadResponse: an answer that is not a chat completion (not an
	// OpenAI-compatible API at that URL, or an empty reply).
	FailBadResponse Failure = "bad_response"
	// FailOther: anything else.
	FailOther Failure = "failed"
)

// Diagnosis is why a call to an endpoint failed, said for the admin
// testing it, with no secret in it: the host is named, never the URL's
// path or query (which may carry a token), nor the key.
type Diagnosis struct {
	Failure Failure
	// Message is one English sentence: what failed, where.
	Message string
	// Detail is the endpoint's own words when it gave any (a model "not
	// found, try pulling it first"), shortened (the client blanked the key
	// out); never for an authentication refusal, whose words may quote
	// part of the key.
	Detail string
}

// maxDetail bounds Detail: a sentence, not an error page.
const maxDetail = 200

// Diagnose classifies err, from Complete or Answer.
func Diagnose(err error) Diagnosis {
	host := "the endpoint"
	var pe *ProviderError
	status := 0
	if errors.As(err, &pe) {
		status = pe.Status
		if pe.Host != "" {
			host = pe.Host
		}
	}
	d := Diagnosis{Failure: FailOther, Message: "the provider failed"}
	var ne net.Error
	var unknownCA x509.UnknownAuthorityError
	var wrongName x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	switch {
	case errors.Is(err, ErrFirstTokenTimeout), errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		d.Failure, d.Message = FailTimeout, host+" did not answer in time"
	case errors.As(err, &unknownCA):
		d.Failure, d.Message = FailTLS, "HTTPS to "+host+" failed: its certificate is not from an authority this server trusts"
	case errors.As(err, &wrongName):
		d.Failure, d.Message = FailTLS, "HTTPS to "+host+" failed: its certificate is for another name"
	case errors.As(err, &invalidCert), errors.As(err, &verify):
		d.Failure, d.Message = FailTLS, "HTTPS to "+host+" failed: its certificate is not valid"
	case errors.As(err, &record), errors.Is(err, http.ErrSchemeMismatch):
		d.Failure, d.Message = FailTLS, "HTTPS to "+host+" failed: it does not speak HTTPS there"
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		d.Failure, d.Message = FailAuth, fmt.Sprintf("%s refused the API key (HTTP %d)", host, status)
		return d
	case status == http.StatusNotFound:
		d.Failure, d.Message = FailNotFound, host+" has no such API path or model (HTTP 404)"
	case status == http.StatusTooManyRequests:
		d.Failure, d.Message = FailRateLimited, host+" refused: too many requests, or the quota is used up (HTTP 429)"
	case status >= 500:
		d.Failure, d.Message = FailServer, fmt.Sprintf("%s failed (HTTP %d)", host, status)
	case errors.Is(err, ErrNotChatStream):
		d.Failure, d.Message = FailBadResponse, host+" answered, but not as an OpenAI-compatible chat-completions API"
		return d
	case errors.Is(err, ErrNoAnswer):
		d.Failure, d.Message = FailBadResponse, host+" answered with an empty reply"
		return d
	case status == http.StatusOK: // an error in the stream
		d.Failure, d.Message = FailRejected, host+" refused the request"
	case status != 0:
		d.Failure, d.Message = FailRejected, fmt.Sprintf("%s refused the request (HTTP %d)", host, status)
	case errors.Is(err, syscall.ECONNREFUSED):
		d.Failure, d.Message = FailUnreachable, "nothing answers at "+host+" (connection refused)"
	case errors.As(err, new(*net.DNSError)):
		d.Failure, d.Message = FailUnreachable, "no such host: "+host
	case errors.As(err, new(*net.OpError)):
		d.Failure, d.Message = FailUnreachable, "cannot connect to "+host
	case strings.Contains(err.Error(), "malformed HTTP"):
		d.Failure, d.Message = FailBadResponse, host+" does not answer in HTTP"
		return d
	}
	if pe != nil && pe.Status != 0 {
		d.Detail = shorten(pe.Message)
	}
	return d
}

// shorten cuts an endpoint's words to maxDetail characters, on one line.
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxDetail {
		s = string(r[:maxDetail]) + "…"
	}
	return s
}
