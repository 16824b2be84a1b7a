package service

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/store"
)

// requireRole lets only agents with one of the roles through.
func requireRole(roles ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		a := agentOf(c)
		for _, r := range roles {
			if a.Role == r {
				c.Next()
				return
			}
		}
		apiError(c, http.StatusForbidden, "forbidden", "only "+strings.Join(roles, " or ")+" may do this")
	}
}

type siteJSON struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	AllowedOrigins   []string `json:"allowed_origins"`
	IdentityRequired bool     `json:"identity_required"`
	// IdentitySecret is what the site's backend signs identities with.
	// Only admins see it.
	IdentitySecret string `json:"identity_secret"`
	EmbedCode      string `json:"embed_code"`
	// VisitorCalls: the site's visitors may start voice calls (PUT
	// /api/sites/:id/calls).
	VisitorCalls bool `json:"visitor_calls"`
}

func (s *Server) siteJSON(site store.Site) siteJSON {
	return siteJSON{
		ID: site.ID, Name: site.Name, AllowedOrigins: strings.Fields(site.AllowedOrigins),
		IdentityRequired: site.IdentityRequired, IdentitySecret: site.Secret, VisitorCalls: site.VisitorCalls,
		EmbedCode: `<script src="` + s.cfg.PublicOrigin() + `/widget.js" data-site="` + site.ID + `" async></script>`,
	}
}

func (s *Server) listSites(c *gin.Context) {
	sites, err := s.store.Workspace(agentOf(c).WorkspaceID).Sites(c.Request.Context())
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, "unavailable", "cannot list sites right now")
		return
	}
	// Supervisors list sites to change their routing; the identity
	// secret stays with admins.
	admin := agentOf(c).Role == "admin"
	out := make([]siteJSON, len(sites))
	for i, site := range sites {
		out[i] = s.siteJSON(site)
		if !admin {
			out[i].IdentitySecret = ""
		}
	}
	c.JSON(http.StatusOK, gin.H{"sites": out})
}

func (s *Server) updateSite(c *gin.Context) {
	var req struct {
		AllowedOrigins   []string `json:"allowed_origins"`
		IdentityRequired bool     `json:"identity_required"`
	}
	if !bindJSON(c, &req) {
		return
	}
	origins := make([]string, 0, len(req.AllowedOrigins))
	for _, o := range req.AllowedOrigins {
		clean, err := parseOrigin(o) // origins.go
		if err != nil {
			apiError(c, http.StatusBadRequest, "invalid", err.Error())
			return
		}
		origins = append(origins, clean)
	}
	if len(origins) > 50 {
		apiError(c, http.StatusBadRequest, "too_big", "at most 50 allowed origins")
		return
	}
	sc := s.store.Workspace(agentOf(c).WorkspaceID)
	err := sc.UpdateSite(c.Request.Context(), c.Param("id"), strings.Join(origins, " "), req.IdentityRequired)
	if errors.Is(err, store.ErrNotFound) {
		apiError(c, http.StatusNotFound, "not_found", "no such site")
		return
	}
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, "unavailable", "cannot update the site right now")
		return
	}
	site, err := sc.Site(c.Request.Context(), c.Param("id"))
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, "unavailable", "cannot read the site right now")
		return
	}
	s.log.Info("site updated", "site", site.ID, "by", agentOf(c).ID)
	s.audit(c, site.WorkspaceID, "site_updated", site.Name,
		fmt.Sprintf("allowed_origins=%q identity_required=%t", site.AllowedOrigins, site.IdentityRequired))
	c.JSON(http.StatusOK, gin.H{"site": s.siteJSON(site)})
}

// rotateSiteSecret replaces a site's identity secret (after a leak, or on a
// schedule). User hashes and JWTs signed with the old one stop working at
// once, so the customer's backend must switch to the new secret.
func (s *Server) rotateSiteSecret(c *gin.Context) {
	me := agentOf(c)
	sc := s.store.Workspace(me.WorkspaceID)
	ctx := c.Request.Context()
	err := sc.SetSiteSecret(ctx, c.Param("id"), randomToken())
	if errors.Is(err, store.ErrNotFound) {
		apiError(c, http.StatusNotFound, "not_found", "no such site")
		return
	}
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, "unavailable", "cannot update the site right now")
		return
	}
	site, err := sc.Site(ctx, c.Param("id"))
	if err != nil {
		apiError(c, http.StatusServiceUnavailable, "unavailable", "cannot read the site right now")
		return
	}
	s.audit(c, me.WorkspaceID, "site_secret_rotated", site.Name, "") // never the secret itself
	c.JSON(http.StatusOK, gin.H{"site": s.siteJSON(site)})
}
