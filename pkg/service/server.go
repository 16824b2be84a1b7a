// Package service is the signaling server's HTTP and WebSocket surface: the
// routes (all listed in routes), the handlers, and the live connections. It
// is built from a store, a bus and a conversation service; the binary in
// signaling/ only reads configuration and calls New.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/blob"
	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/device"
	"github.com/parleychat/parley/pkg/email"
	"github.com/parleychat/parley/pkg/knowledge"
	"github.com/parleychat/parley/pkg/mailer"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/relay"
	"github.com/parleychat/parley/pkg/relaynode"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/translate"
	"github.com/parleychat/parley/pkg/turn"
)

// Server serves Parley's HTTP API, WebSockets, widget and dashboard.
type Server struct {
	places   device.Locator // Deps.Places
	presence presenceBook   // presence.go
	cfg      config.Config
	store    *store.Store
	bus      bus.Bus
	conv     *conversation.Service
	tokens   *auth.TokenSigner
	log      *slog.Logger
	metrics  *metrics
	engine   *gin.Engine
	secure   bool // served over TLS: cookies get Secure
	limiter  ratelimit.Limiter
	rules    ratelimit.Rules
	relay    *relay.Relay // the in-process relay, nil without one
	// peers makes the connections' relay peers: the in-process relay or
	// the standalone relays of relayPool; nil: WebRTC off.
	peers     relaynode.Peers
	relayPool *relaynode.Pool
	ice       turn.Config
	mail      *mailer.Mailer // what gets mailed, and the queue (pkg/mailer)
	blobs     blob.Store     // attachments' bytes (http_attachments.go)

	rtcMetrics *rtcMetrics
	calls      callBook            // call.go
	resync     resyncState         // resync.go
	seen       lastSeen            // seen.go
	hooks      hookBook            // webhooks.go
	assistant  *assistantRunner    // assistant.go
	apertium   *translate.Apertium // translate.go; nil where not installed
	// now is the clock two-factor codes are checked against (tests move it).
	now func() time.Time

	mu       sync.Mutex
	conns    map[*conn]struct{}
	sockets  socketCounts // sockets.go
	draining bool
	wg       sync.WaitGroup
}

// Deps are what a Server is built from.
type Deps struct {
	Store  *store.Store
	Bus    bus.Bus
	Conv   *conversation.Service
	Tokens *auth.TokenSigner
	Logger *slog.Logger
	// Limiter enforces Rules; nil turns rate limits off.
	Limiter ratelimit.Limiter
	Rules   ratelimit.Rules
	// Relay carries chat over WebRTC data channels; nil turns WebRTC off
	// (clients get rtc_stop and stay on the WebSocket). The caller closes
	// it after Shutdown.
	Relay *relay.Relay
	// RelayPool, when not nil, puts peers on standalone relays instead
	// (PARLEY_RELAY_SECRET); the caller closes it after Shutdown.
	RelayPool *relaynode.Pool
	// ICE lists the STUN/TURN servers handed to browsers with each offer.
	ICE turn.Config
	// Mailer sends the workspaces' mail; nil gets one without reply
	// addresses. The caller runs it (Run does).
	Mailer *mailer.Mailer
	// Knowledge is this node's index of help articles (OpenKnowledge);
	// nil keeps one in memory, built from the store.
	Knowledge *knowledge.Index
	// Blobs keeps attachments' bytes; nil: OpenBlobs(cfg), the S3
	// bucket configured or the data dir.
	Blobs blob.Store
	// Places finds a visitor's approximate place from their address
	// (PARLEY_GEOIP_DB); nil: none.
	Places device.Locator
}

// New builds a Server.
func New(cfg config.Config, d Deps) *Server {
	s := &Server{
		cfg: cfg, store: d.Store, bus: d.Bus, conv: d.Conv, tokens: d.Tokens, log: d.Logger,
		metrics: newMetrics(), conns: map[*conn]struct{}{}, limiter: d.Limiter, rules: d.Rules,
		secure: cfg.Secure(),
		relay:  d.Relay, ice: d.ICE, relayPool: d.RelayPool,
		sockets: socketCounts{visitor: keyCounts{}, addr: keyCounts{}},
		seen:    lastSeen{st: d.Store, log: d.Logger},
		now:     time.Now,
		mail:    d.Mailer,
		places:  d.Places,
	}
	if s.blobs = d.Blobs; s.blobs == nil {
		var err error
		if s.blobs, err = OpenBlobs(cfg); err != nil {
			// pkg/config checked the S3 endpoint; nothing else fails here.
			panic(fmt.Sprintf("service: attachments store: %v", err))
		}
	}
	if s.mail == nil {
		s.mail = mailer.New(d.Store, email.Replies{}, cfg.PublicOrigin(), d.Logger)
	}
	switch {
	case d.RelayPool != nil:
		s.peers = d.RelayPool
	case d.Relay != nil:
		s.peers = relaynode.Local(d.Relay)
	}
	s.limitConversations(d.Conv) // ratelimit.go
	s.hooks.init()
	d.Conv.SetEvents(s.webhookEvent) // webhooks.go
	s.startAssistant(d)              // assistant.go
	s.startTranslation()             // translate.go
	s.rtcMetrics = newRTCMetrics(s.metrics.reg)
	if d.RelayPool != nil {
		s.metrics.reg.MustRegister(d.RelayPool.Collectors()...)
	}
	s.metrics.watch(s)
	s.watchAgentControl() // revoke.go
	s.watchCalls()        // call_fleet.go
	gin.SetMode(gin.ReleaseMode)
	s.engine = gin.New()
	// gin's ClientIP is not used: client addresses come from clientAddr,
	// which reads forwarding headers from trusted proxies only.
	s.engine.SetTrustedProxies(nil)
	s.engine.Use(gin.Recovery(), s.accessLog(), securityHeaders(s.secure), requestDeadline, validURL)
	s.engine.MaxMultipartMemory = 1 << 20
	for _, r := range s.routes() {
		s.engine.Handle(r.Method, r.Path, r.Handlers...)
	}
	s.engine.NoRoute(func(c *gin.Context) { apiError(c, http.StatusNotFound, "not_found", "no such page") })
	return s
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.engine }

// route is one entry of the server's HTTP surface.
type route struct {
	Method   string
	Path     string
	Handlers []gin.HandlerFunc
	// Doc describes an /api/v1 route for the OpenAPI document (api_v1.go).
	Doc *apiDoc
}

// routes lists every route in one place, so the whole HTTP surface (and
// what guards each route) can be read, and tested, at a glance.
func (s *Server) routes() []route {
	// Private notes, mentions, canned replies, notification settings.
	notes, canned, notify := s.notesAPI(), s.cannedAPI(), s.notifyAPI()
	r := func(m, p string, h ...gin.HandlerFunc) route { return route{Method: m, Path: p, Handlers: h} }
	agent := s.requireAgent
	csrf := s.requireCSRF
	body := limitBody(64 << 10)
	h := func(f func(*gin.Context) error) gin.HandlerFunc { return handle(s.log, f) }
	sites := s.sitesAPI()
	conversations := s.conversationsAPI()
	queue := s.queueAPI()
	widget := s.widgetAPI()
	agents := s.agentsAPI()
	activity := s.activityAPI()
	invites := s.invitesAPI()
	mail := s.emailAPI()
	audit := s.auditAPI()
	totp := s.totpAPI()
	visitors, retention := s.visitorsAPI(), s.retentionAPI()
	csat := s.csatAPI()
	siteRouting := s.siteRoutingAPI()
	inbox := s.inboxAPI()
	// v1 is an /api/v1 route: its doc says which token scope it needs,
	// and writes take a body and an Idempotency-Key (api_auth.go).
	v1 := func(m, p string, doc apiDoc, f func(*gin.Context) error) route {
		hs := []gin.HandlerFunc{s.requireToken(doc.Write)}
		if doc.Write {
			hs = append(hs, body, s.idempotent)
		}
		return route{Method: m, Path: p, Handlers: append(hs, h(f)), Doc: &doc}
	}
	api, tokens, hooks := s.v1API(), s.tokensAPI(), s.webhooksAPI()
	kb := s.knowledgeAPI()
	tl := s.translationAPI()
	panel := s.visitorPanelAPI()
	reports := s.reportsAPI()
	search := s.searchAPI()
	supervision := s.supervisionAPI()
	files := s.attachmentsAPI()
	contacts := s.contactsAPI()
	upload := limitBody(maxAttachMaxBytes + 1<<20) // a site's own limit is checked in the handler
	return []route{
		r("GET", "/healthz", s.healthz),
		r("GET", "/readyz", s.readyz),
		r("GET", "/metrics", s.metricsHandler),
		r("POST", relaynode.HeartbeatPath, s.relayHeartbeat), // standalone relays (rtc.go)
		r("GET", "/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/app/") }),

		// Visitor side.
		r("GET", "/widget.js", s.widgetLoader),
		r("GET", "/widget/frame", s.widgetFrame),
		r("GET", "/widget/:file", s.widgetAsset),
		r("POST", "/api/widget/session", body, h(widget.session)), // http_widget.go
		r("GET", "/ws/visitor", s.visitorSocket),
		r("GET", "/demo", s.demoPage),

		// Agent side.
		r("GET", "/app", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, "/app/") }),
		r("GET", "/app/*file", s.agentApp),
		r("POST", "/api/auth/login", s.requireOwnPage, body, s.login),
		r("POST", "/api/auth/logout", agent, csrf, s.logout),
		r("GET", "/api/me", agent, s.me),
		r("PUT", "/api/me/locale", agent, csrf, body, h(s.setLocale)),
		r("GET", "/api/conversations", agent, h(conversations.list)), // http_conversations.go
		r("GET", "/api/conversations/:id/messages", agent, h(conversations.messages)),
		r("GET", "/ws/agent", agent, s.agentSocket),

		// Two-factor sign-in (http_totp.go).
		r("POST", "/api/me/totp", agent, csrf, h(totp.start)),
		r("POST", "/api/me/totp/confirm", agent, csrf, body, h(totp.confirm)),
		r("POST", "/api/me/totp/disable", agent, csrf, body, h(totp.disable)),
		r("PATCH", "/api/workspace", agent, csrf, requireRole("admin"), body, h(totp.updateWorkspace)),
		r("POST", "/api/agents/:id/totp/reset", agent, csrf, requireRole("admin"), h(totp.reset)),

		// Security (http_invites.go, http_audit.go).
		r("DELETE", "/api/agents/:id/sessions", agent, csrf, h(agents.endSessions)), // http_agents.go
		r("GET", "/api/invites", agent, requireRole("admin"), h(invites.list)),
		r("POST", "/api/invites", agent, csrf, requireRole("admin"), body, h(invites.create)),
		r("DELETE", "/api/invites/:id", agent, csrf, requireRole("admin"), h(invites.revoke)),
		r("POST", "/api/invites/check", s.requireOwnPage, body, h(invites.check)),
		r("POST", "/api/invites/accept", s.requireOwnPage, body, h(invites.accept)),
		r("GET", invitePathPrefix+":token", invites.page),
		r("GET", "/api/audit", agent, requireRole("admin"), h(audit.list)),

		// Sites (http_sites.go).
		r("GET", "/api/sites", agent, requireRole("admin", "supervisor"), h(sites.list)),
		r("POST", "/api/sites", agent, csrf, requireRole("admin"), body, h(sites.create)),
		r("GET", "/api/sites/:id", agent, requireRole("admin", "supervisor"), h(sites.get)),
		r("PATCH", "/api/sites/:id", agent, csrf, requireRole("admin"), body, h(sites.update)),
		r("DELETE", "/api/sites/:id", agent, csrf, requireRole("admin"), h(sites.remove)),
		r("POST", "/api/sites/:id/secret", agent, csrf, requireRole("admin"), h(sites.rotateSecret)),
		r("GET", "/api/widget/look", h(sites.look)),

		// Agents (http_agents.go).
		r("GET", "/api/agents", agent, h(agents.list)),
		r("POST", "/api/agents", agent, csrf, requireRole("admin"), body, h(agents.create)),
		r("GET", "/api/agents/:id", agent, h(agents.get)),
		r("PATCH", "/api/agents/:id", agent, csrf, requireRole("admin"), body, h(agents.update)),
		r("POST", "/api/agents/:id/disable", agent, csrf, requireRole("admin"), h(agents.disable)),
		r("POST", "/api/agents/:id/enable", agent, csrf, requireRole("admin"), h(agents.enable)),
		// Email (http_email.go).
		r("GET", "/api/email/settings", agent, requireRole("admin"), h(mail.get)),
		r("PUT", "/api/email/settings", agent, csrf, requireRole("admin"), body, h(mail.update)),
		r("POST", "/api/email/test", agent, csrf, requireRole("admin"), body, h(mail.test)),
		r("GET", "/api/email/outbox", agent, requireRole("admin"), h(mail.outbox)),
		r("POST", "/api/email/outbox/:id/retry", agent, csrf, requireRole("admin"), h(mail.retry)),
		r("POST", "/api/conversations/:id/transcript", agent, csrf, h(mail.transcript)), // the visitor's, to their own address

		// A site's routing and calls settings (http_site_routing.go).
		r("GET", "/api/sites/:id/routing", agent, requireRole("admin", "supervisor"), h(siteRouting.get)),
		r("PATCH", "/api/sites/:id/routing", agent, csrf, requireRole("admin", "supervisor"), body, h(siteRouting.update)),
		r("PUT", "/api/sites/:id/calls", agent, csrf, requireRole("admin"), body, h(siteRouting.setCalls)),

		// The routing queue (http_queue.go).
		r("GET", "/api/routing/queue", agent, h(queue.list)),

		// Conversations: transfers, offers, routing (http_conversations.go).
		r("POST", "/api/conversations/:id/transfer", agent, csrf, body, h(conversations.transfer)),
		r("POST", "/api/conversations/:id/accept", agent, csrf, h(conversations.accept)),
		r("POST", "/api/conversations/:id/decline", agent, csrf, h(conversations.decline)),
		r("GET", "/api/conversations/:id/routing", agent, h(conversations.routing)),
		r("PATCH", "/api/conversations/:id/routing", agent, csrf, body, h(conversations.updateRouting)),

		// The widget's availability, offline form and pre-chat choice (http_widget.go).
		r("GET", "/api/widget/availability", h(widget.availability)),
		r("POST", "/api/widget/offline", body, h(widget.offline)),
		r("POST", "/api/widget/prechat", body, h(widget.prechat)),

		// Visitor activity: page trail, events, attributes, proactive
		// triggers (http_activity.go).
		r("GET", "/api/sites/:id/proactive", agent, requireRole("admin", "supervisor"), h(activity.getProactive)),
		r("PUT", "/api/sites/:id/proactive", agent, csrf, requireRole("admin"), body, h(activity.putProactive)),
		r("GET", "/api/visitors/:id/pages", agent, h(activity.visitorPages)),
		r("GET", "/api/visitors/:id/events", agent, h(activity.visitorEvents)),
		r("GET", "/api/visitors/:id/attributes", agent, h(activity.visitorAttributes)),
		r("GET", "/api/widget/proactive", h(activity.widgetProactive)),
		r("POST", "/api/widget/pages", body, h(activity.widgetPages)),
		r("POST", "/api/widget/events", body, h(activity.widgetEvent)),
		r("POST", "/api/widget/attributes", body, h(activity.widgetAttributes)),
		r("POST", "/api/widget/triggers/fire", body, h(activity.widgetFireTrigger)),
		r("POST", "/api/widget/csat", body, h(csat.rate)), // http_csat.go
		// Attachments, both ways (http_attachments.go).
		r("POST", "/api/widget/conversations/:id/attachments", upload, h(files.visitorUpload)),
		r("GET", "/api/widget/conversations/:id/attachments/:aid", h(files.visitorDownload)),
		r("POST", "/api/conversations/:id/attachments", agent, s.requireCSRFUpload, upload, h(files.agentUpload)),
		r("GET", "/api/conversations/:id/attachments/:aid", agent, h(files.agentDownload)),
		// Data rights: export and delete a visitor (http_visitors.go).
		r("GET", "/api/visitors/:id/export", agent, requireRole("admin"), h(visitors.export)),
		r("DELETE", "/api/visitors/:id", agent, csrf, requireRole("admin"), h(visitors.remove)),
		r("GET", "/api/workspace/retention", agent, requireRole("admin"), h(retention.get)), // http_retention.go
		r("PUT", "/api/workspace/retention", agent, csrf, requireRole("admin"), body, h(retention.put)),
		// Private notes, mentions, canned replies, notification settings
		// (http_notes.go, http_canned.go, http_notify.go).
		r("GET", "/api/conversations/:id/notes", agent, h(notes.list)),
		r("POST", "/api/conversations/:id/notes", agent, csrf, body, h(notes.create)),
		r("GET", "/api/mentions", agent, h(notes.mentions)),
		r("POST", "/api/mentions/read", agent, csrf, h(notes.readMentions)),
		r("GET", "/api/canned", agent, h(canned.list)),
		r("POST", "/api/canned", agent, csrf, body, h(canned.create)),
		r("PATCH", "/api/canned/:id", agent, csrf, body, h(canned.update)),
		r("DELETE", "/api/canned/:id", agent, csrf, h(canned.remove)),
		r("GET", "/api/me/notifications", agent, h(notify.get)),
		r("PUT", "/api/me/notifications", agent, csrf, body, h(notify.put)),

		// Inbox views, states and tags (http_inbox.go).
		r("GET", "/api/inbox", agent, h(inbox.list)),
		r("GET", "/api/inbox/counts", agent, h(inbox.counts)),
		r("POST", "/api/conversations/:id/state", agent, csrf, body, h(inbox.setConversationState)),
		r("GET", "/api/conversations/:id/tags", agent, h(inbox.conversationTags)),
		r("PUT", "/api/conversations/:id/tags", agent, csrf, body, h(inbox.putConversationTags)),
		r("GET", "/api/tags", agent, h(inbox.listTags)),
		r("POST", "/api/tags", agent, csrf, requireRole("admin", "supervisor"), body, h(inbox.createTag)),
		r("DELETE", "/api/tags/:id", agent, csrf, requireRole("admin", "supervisor"), h(inbox.deleteTag)),
		// REST API for a workspace's systems, with API tokens (api_v1.go).
		r("GET", "/api/openapi.json", h(s.openAPIJSON())),
		v1("GET", "/api/v1/conversations", docListConversations, api.listConversations),
		v1("GET", "/api/v1/conversations/:id", docGetConversation, api.getConversation),
		v1("GET", "/api/v1/conversations/:id/messages", docListMessages, api.listMessages),
		v1("POST", "/api/v1/conversations/:id/messages", docPostMessage, api.postMessage),
		v1("POST", "/api/v1/conversations/:id/close", docCloseConversation, api.closeConversation),
		v1("GET", "/api/v1/visitors", docListVisitors, api.listVisitors),
		v1("GET", "/api/v1/visitors/:id", docGetVisitor, api.getVisitor),
		v1("GET", "/api/v1/contacts", docListContacts, contacts.list(tokenWorkspace)), // http_contacts.go
		v1("GET", "/api/v1/contacts/:id", docGetContact, contacts.getV1),
		v1("PATCH", "/api/v1/contacts/:id", docUpdateContact, contacts.updateV1),
		v1("DELETE", "/api/v1/contacts/:id", docDeleteContact, contacts.deleteV1),
		v1("GET", "/api/v1/agents", docListAgents, api.listAgents),
		v1("GET", "/api/v1/sites", docListSites, api.listSites),
		v1("GET", "/api/v1/sites/:id", docGetSite, api.getSite),
		v1("GET", "/api/v1/reports", docReport, reports.json(tokenWorkspace)), // http_reports.go
		v1("GET", "/api/v1/reports/csv", docReportCSV, reports.csv(tokenWorkspace)),
		r("GET", "/api/tokens", agent, requireRole("admin"), h(tokens.list)), // http_tokens.go
		r("POST", "/api/tokens", agent, csrf, requireRole("admin"), body, h(tokens.create)),
		r("DELETE", "/api/tokens/:id", agent, csrf, requireRole("admin"), h(tokens.revoke)),

		// Webhooks (webhooks.go).
		r("GET", "/api/webhooks", agent, requireRole("admin"), h(hooks.list)),
		r("POST", "/api/webhooks", agent, csrf, requireRole("admin"), body, h(hooks.create)),
		r("DELETE", "/api/webhooks/:id", agent, csrf, requireRole("admin"), h(hooks.remove)),
		r("PATCH", "/api/webhooks/:id", agent, csrf, requireRole("admin"), body, h(hooks.update)),
		r("POST", "/api/webhooks/:id/secret", agent, csrf, requireRole("admin"), h(hooks.rotateSecret)),
		r("POST", "/api/webhooks/:id/test", agent, csrf, requireRole("admin"), h(hooks.test)),
		r("GET", "/api/webhooks/:id/deliveries", agent, requireRole("admin"), h(hooks.deliveries)),
		r("POST", "/api/webhook-deliveries/:id/replay", agent, csrf, requireRole("admin"), h(hooks.replay)),

		// The knowledge base and the assistant (http_knowledge.go).
		r("GET", "/api/sites/:id/articles", agent, requireRole("admin", "supervisor"), h(kb.list)),
		r("POST", "/api/sites/:id/articles", agent, csrf, requireRole("admin"), limitBody(maxArticleBytes+4096), h(kb.create)),
		r("POST", "/api/sites/:id/articles/import", agent, csrf, requireRole("admin"), limitBody(4<<20), h(kb.importFiles)),
		r("GET", "/api/articles/:id", agent, requireRole("admin", "supervisor"), h(kb.get)),
		r("PATCH", "/api/articles/:id", agent, csrf, requireRole("admin"), limitBody(maxArticleBytes+4096), h(kb.update)),
		r("DELETE", "/api/articles/:id", agent, csrf, requireRole("admin"), h(kb.remove)),
		r("GET", "/api/sites/:id/assistant", agent, requireRole("admin"), h(kb.getAssistant)),
		r("PUT", "/api/sites/:id/assistant", agent, csrf, requireRole("admin"), body, h(kb.setAssistant)),
		r("GET", "/api/sites/:id/translation", agent, requireRole("admin"), h(tl.get)), // http_translation.go
		r("PUT", "/api/sites/:id/translation", agent, csrf, requireRole("admin"), body, h(tl.set)),
		r("POST", "/api/sites/:id/translation/test", agent, csrf, requireRole("admin"), body, h(tl.test)),
		r("GET", "/help/:site", h(kb.helpIndex)),
		r("GET", "/help/:site/:article", h(kb.helpArticle)),
		r("POST", "/api/widget/handoff", body, h(s.widgetHandoff)),
		r("GET", "/api/visitors/:id", agent, h(panel.get)), // http_visitorpanel.go
		r("PATCH", "/api/visitors/:id", agent, csrf, h(panel.update)),
		// Reports (http_reports.go).
		r("GET", "/api/reports", agent, requireRole("admin", "supervisor"), h(reports.json(sessionWorkspace))),
		r("GET", "/api/reports/csv", agent, requireRole("admin", "supervisor"), h(reports.csv(sessionWorkspace))),
		r("GET", "/api/search", agent, h(search.search)), // http_search.go
		// Contacts and leads (http_contacts.go).
		r("GET", "/api/contacts", agent, h(contacts.list(sessionWorkspace))),
		r("GET", "/api/contacts/:id", agent, h(contacts.get)),
		r("PATCH", "/api/contacts/:id", agent, csrf, body, h(contacts.update)),
		r("DELETE", "/api/contacts/:id", agent, csrf, requireRole("admin"), h(contacts.delete)),
		// Supervision (http_supervision.go).
		r("GET", "/api/supervision", agent, requireRole("admin", "supervisor"), h(supervision.view)),
		r("GET", "/api/agents/:id/status-history", agent, requireRole("admin", "supervisor"), h(supervision.statusHistory)),
	}
}

func (s *Server) healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		apiError(c, http.StatusServiceUnavailable, "unavailable", "store unreachable")
		return
	}
	if b, ok := s.bus.(bus.Checker); ok {
		if err := b.Healthy(ctx); err != nil {
			apiError(c, http.StatusServiceUnavailable, "unavailable", "bus (redis) unreachable")
			return
		}
	}
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	if draining {
		apiError(c, http.StatusServiceUnavailable, "unavailable", "draining")
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// track counts live connections, and refuses none: Upgrade handlers check
// draining before they upgrade.
func (s *Server) track(c *conn, open bool) {
	s.mu.Lock()
	if open {
		s.conns[c] = struct{}{}
		s.metrics.connections.WithLabelValues(c.p.Kind, c.counted).Inc()
	} else if _, live := s.conns[c]; live {
		delete(s.conns, c)
		s.metrics.connections.WithLabelValues(c.p.Kind, c.counted).Dec()
	}
	s.mu.Unlock()
}

// Shutdown drains live connections: new upgrades are refused, each
// connection finishes the frame it is handling (a commit in flight gets its
// ack), flushes what is queued and closes with 1001 so the client
// reconnects, to this node after a restart or to another. It returns when
// all connections are gone or ctx ends.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.draining = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		go c.drain()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.close()
		}
		s.mu.Unlock()
	}
	s.seen.flush() // the agents whose sockets just closed were seen
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}
