package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Visitor tokens are short-lived (PARLEY_VISITOR_TOKEN_TTL, 1 h by default):
// a token leaks more easily than other credentials (it travels in the
// socket URL), so it must not be good for long. Connected widgets get a
// fresh one over their socket (a token frame) every quarter of the
// lifetime. A widget that comes back after its token expired gets its
// visitor back only with the visitor's refresh secret: 256 random bits
// handed to the widget with the visitor's first token, kept in its storage,
// sent only in POST bodies (never in a URL), stored as a SHA-256 hash and
// replaced by a new one on every use. The expired token names the site and
// visitor the secret must belong to. Verified users get no refresh secret:
// they come back by proving their identity again.
var refreshRules = store.RefreshRules{
	// A visitor away longer than this starts anew, as with the 30-day
	// tokens before.
	MaxAge: 30 * 24 * time.Hour,
	// Two tabs may refresh with one secret at the same moment; the one that
	// loses still gets through.
	Grace: time.Minute,
}

// visitorToken signs a token for the visitor, valid for the configured
// lifetime from now.
func (s *Server) visitorToken(site store.Site, v store.Visitor, now time.Time) (string, time.Time) {
	exp := now.Add(s.cfg.VisitorTokenTTL)
	claims := auth.VisitorClaims{Workspace: site.WorkspaceID, Site: site.ID, Visitor: v.ID, UserID: v.UserID, Expires: exp}
	if v.UserID != "" {
		claims.Proof = proofBasis(site)
	}
	return s.tokens.Sign(claims), exp
}

// proofBasis fingerprints the site's identity secret, which a verified
// user's proof was checked with (without revealing it).
func proofBasis(site store.Site) string {
	m := hmac.New(sha256.New, []byte(site.Secret))
	m.Write([]byte("parley identity proof basis"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}

// proofLost says why a visitor may no longer chat as its token says, or
// "": a verified user whose proof was checked with another secret than the
// site's now (rotated), or an anonymous visitor on a site that now
// requires identity verification.
func proofLost(site store.Site, v store.Visitor, proof string) string {
	switch {
	case v.UserID == "" && site.IdentityRequired:
		return "this site now requires identity verification; start a new session"
	case v.UserID != "" && proof != proofBasis(site):
		return "the site's identity secret changed; verify again"
	}
	return ""
}

// newRefresh returns a new refresh secret and its stored hash.
func newRefresh() (secret, hash string) {
	secret = randomToken()
	return secret, hashToken(secret)
}

// restoreVisitor finds the anonymous visitor a widget comes back as: the
// one its token names while the token is valid, or, once it expired, the
// one whose refresh secret the widget presents (the secret is rotated: the
// new one is returned). The zero Visitor means none (a new visitor
// follows); an error is a store failure.
func (s *Server) restoreVisitor(ctx context.Context, sc *store.Scoped, site store.Site, token, refresh string, now time.Time) (store.Visitor, string, error) {
	claims, err := s.tokens.VerifyExpired(token, now, refreshRules.MaxAge)
	// A token of a verified user does not let an unverified page act as
	// that user, refresh secret or not.
	if err != nil || claims.Site != site.ID || claims.Workspace != site.WorkspaceID || claims.UserID != "" {
		return store.Visitor{}, "", nil
	}
	v, err := sc.Visitor(ctx, claims.Visitor)
	if errors.Is(err, store.ErrNotFound) {
		return store.Visitor{}, "", nil
	}
	if err != nil {
		return store.Visitor{}, "", err
	}
	expired := !now.Before(claims.Expires)
	if !expired && v.RefreshHash != "" {
		return v, "", sc.TouchVisitor(ctx, v.ID, now)
	}
	if expired && refresh == "" {
		return store.Visitor{}, "", nil
	}
	// Expired: exchange the refresh secret. Valid, but the visitor has no
	// secret (it came before they existed): issue its first.
	presented := ""
	if expired {
		presented = hashToken(refresh)
	}
	secret, hash := newRefresh()
	err = sc.RotateVisitorRefresh(ctx, v.ID, presented, hash, now, refreshRules)
	if errors.Is(err, store.ErrNotFound) {
		return store.Visitor{}, "", nil
	}
	if err != nil {
		return store.Visitor{}, "", err
	}
	return v, secret, nil
}

// renewToken pushes a fresh token to a visitor's connection (called from
// the connection's writer every quarter of the token lifetime). The site
// and the visitor are read again: a token still names a verified user as
// such, and one whose proof no longer holds (proofLost) gets no new token
// and loses its socket.
func (c *conn) renewToken() {
	site, v, ok := c.recheckProof()
	if !ok {
		return
	}
	token, exp := c.srv.visitorToken(site, v, time.Now().UTC())
	c.tokenExp.Store(exp.UnixNano())
	data, _ := json.Marshal(protocol.Token{Envelope: protocol.Envelope{Type: protocol.TypeToken}, Token: token, ExpiresAt: exp.Format(time.RFC3339)})
	c.enqueue(outFrame{data: data, wsOnly: true})
}

// recheckProof reads the visitor's site and visitor again and closes the
// socket (CloseRevoked) when the proof its token rests on no longer holds
// (proofLost). It runs at each renewal and whenever the site's settings
// change (a publication on its site topic: a rotated secret, identity now
// required). ok is false when the socket was closed or the store failed
// (the next tick retries; a socket whose token expired a renewal period
// ago closes, keepalive).
func (c *conn) recheckProof() (site store.Site, v store.Visitor, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), handleTimeout)
	defer cancel()
	site, err := c.srv.store.SiteByID(ctx, c.p.SiteID)
	if err == nil {
		v, err = c.srv.store.Workspace(c.p.WorkspaceID).Visitor(ctx, c.p.ID)
	}
	if errors.Is(err, store.ErrNotFound) {
		// The visitor was deleted (data rights), or its site.
		c.log.Info("visitor socket revoked", "reason", "deleted")
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(CloseRevoked, "deleted"), time.Now().Add(writeWait))
		c.close()
		return site, v, false
	}
	if err != nil {
		c.log.Debug("visitor's proof not rechecked", "err", err)
		return site, v, false
	}
	if why := proofLost(site, v, c.proof); why != "" {
		c.log.Info("visitor socket revoked", "reason", why)
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(CloseRevoked, why), time.Now().Add(writeWait))
		c.close()
		return site, v, false
	}
	return site, v, true
}

// CloseRevoked is the close code of a visitor socket whose token no longer
// holds (the site's identity secret rotated, or identity is now
// required); the reason says which. The widget starts a new session.
const CloseRevoked = 4401
