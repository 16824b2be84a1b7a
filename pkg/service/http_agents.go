package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/routing"
	"github.com/parleychat/parley/pkg/store"
)

// The agents resource (/api/agents): everyone reads their own profile,
// supervisors and admins every agent's; admins create agents, change their
// profile and role, disable and enable them.
//
// Disabling is the way to take someone off a workspace: the agent's row
// stays, so every message keeps its author and the audit log its actor;
// its sessions end, its sockets close on every node (revoke.go), it cannot
// sign in, and routing hands its conversations to other agents as when an
// agent goes offline (its chosen status becomes offline; AgentChanged
// re-reads it on every node). There is no delete.
//
// A workspace always keeps an enabled admin (store.ErrLastAdmin).

const codeLastAdmin = "last_admin"

// agentStore is what the agents API needs of one workspace's store.
type agentStore interface {
	Agents(ctx context.Context) ([]store.Agent, error)
	Agent(ctx context.Context, id string) (store.Agent, error)
	CreateAgent(ctx context.Context, a store.Agent) (store.Agent, error)
	UpdateAgentProfile(ctx context.Context, id string, p store.AgentProfile) error
	SetAgentRole(ctx context.Context, id, role string) (store.Agent, error)
	DisableAgent(ctx context.Context, id string, now time.Time) (store.Agent, int64, error)
	EnableAgent(ctx context.Context, id string) (store.Agent, error)
	DeleteAgentSessions(ctx context.Context, agentID string) (int64, error)
}

// agentsAPI serves the agents resource.
type agentsAPI struct {
	store func(workspaceID string) agentStore
	// snapshot is routing's view of the workspace (status and load);
	// agentChanged tells routing an agent's profile or status is new.
	snapshot     func(ctx context.Context, ws string) (routing.Snapshot, error)
	agentChanged func(ctx context.Context, ws, agentID string) error
	// revoke closes (or rechecks) the agent's live sockets on every node.
	revoke        func(ctx context.Context, m agentControl)
	workspaceName func(ctx context.Context, id string) string
	// signOut clears the request's session cookies.
	signOut func(c *gin.Context)
	audit   func(c *gin.Context, workspaceID, action, target, detail string)
	log     *slog.Logger
}

func (s *Server) agentsAPI() *agentsAPI {
	return &agentsAPI{
		store:         func(ws string) agentStore { return s.store.Workspace(ws) },
		snapshot:      s.conv.Router().Snapshot,
		agentChanged:  s.conv.Router().AgentChanged,
		revoke:        s.revokeAgent,
		workspaceName: s.workspaceName,
		signOut:       s.clearSessionCookies,
		audit:         s.audit,
		log:           s.log,
	}
}

// agentProfileJSON is an agent with what routing knows of it.
type agentProfileJSON struct {
	agentJSON
	Capacity  int      `json:"capacity"`
	Languages []string `json:"languages"`
	Skills    []string `json:"skills"`
	Teams     []string `json:"teams"`
	// Routing is the status routing uses now (offline when not connected)
	// and Load the conversations the agent holds.
	Routing string `json:"routing_status"`
	Load    int    `json:"load"`
}

func nonNil[T any](l []T) []T {
	if l == nil {
		return []T{}
	}
	return l
}

func profileJSON(a store.Agent, snap map[string]routing.Agent) agentProfileJSON {
	p := agentProfileJSON{agentJSON: toAgentJSON(a), Capacity: a.Capacity,
		Languages: nonNil(store.SplitList(a.Languages)), Skills: nonNil(store.SplitList(a.Skills)), Teams: nonNil(store.SplitList(a.Teams)),
		Routing: string(routing.StatusOffline)}
	if ra, ok := snap[a.ID]; ok {
		p.Routing, p.Load = string(ra.Status), ra.Load
	}
	return p
}

// routingAgents is routing's view of the workspace's agents by id; empty
// when routing cannot be read (profiles then show offline).
func (a *agentsAPI) routingAgents(c *gin.Context, ws string) map[string]routing.Agent {
	out := map[string]routing.Agent{}
	snap, err := a.snapshot(c.Request.Context(), ws)
	if err != nil {
		return out
	}
	for _, ra := range snap.Agents {
		out[ra.ID] = ra
	}
	return out
}

func isSupervisor(a store.Agent) bool { return a.Role == "admin" || a.Role == "supervisor" }

// agentErr maps a store error of an agent change to the API's.
func agentErr(err error, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apierr.NotFound("no such agent")
	case errors.Is(err, store.ErrLastAdmin):
		return apierr.New(http.StatusConflict, codeLastAdmin, "this is the workspace's last admin: make another agent admin first")
	}
	return apierr.Unavailable("cannot "+what+" right now", err)
}

func (a *agentsAPI) list(c *gin.Context) error {
	me := agentOf(c)
	agents, err := a.store(me.WorkspaceID).Agents(c.Request.Context())
	if err != nil {
		return apierr.Unavailable("cannot list agents right now", err)
	}
	snap := a.routingAgents(c, me.WorkspaceID)
	out := make([]agentProfileJSON, len(agents))
	for i, ag := range agents {
		out[i] = profileJSON(ag, snap)
	}
	c.JSON(http.StatusOK, gin.H{"agents": out})
	return nil
}

func (a *agentsAPI) get(c *gin.Context) error {
	me := agentOf(c)
	id := c.Param("id")
	if id == "me" {
		id = me.ID
	}
	if id != me.ID && !isSupervisor(me) {
		return apierr.Forbidden("you may see only your own profile")
	}
	ag, err := a.store(me.WorkspaceID).Agent(c.Request.Context(), id)
	if err != nil {
		return agentErr(err, "read the agent")
	}
	c.JSON(http.StatusOK, gin.H{"agent": profileJSON(ag, a.routingAgents(c, me.WorkspaceID))})
	return nil
}

// profileReq is the body of POST /api/agents and PATCH /api/agents/:id.
type profileReq struct {
	Email     string    `json:"email"`
	Password  string    `json:"password"`
	Name      *string   `json:"name"`
	Role      *string   `json:"role"`
	Capacity  *int      `json:"capacity"`
	Languages *[]string `json:"languages"`
	Skills    *[]string `json:"skills"`
	Teams     *[]string `json:"teams"`
}

// check validates the profile fields.
func (req *profileReq) check() error {
	bad := apierr.Invalid
	if req.Name != nil && (strings.TrimSpace(*req.Name) == "" || utf8.RuneCountInString(*req.Name) > 200) {
		return bad("name must be 1..200 characters")
	}
	if req.Role != nil && !slices.Contains([]string{"admin", "supervisor", "agent"}, *req.Role) {
		return bad("role must be admin, supervisor or agent")
	}
	if req.Capacity != nil && (*req.Capacity < 0 || *req.Capacity > 100) {
		return bad("capacity must be 0..100")
	}
	for _, l := range []*[]string{req.Languages, req.Skills, req.Teams} {
		if l == nil {
			continue
		}
		if len(*l) > 30 {
			return bad("at most 30 languages, skills or teams")
		}
		for _, v := range *l {
			if strings.TrimSpace(v) == "" || len(v) > 60 || strings.Contains(v, ",") {
				return bad("languages, skills and teams are 1..60 characters without commas, got " + strconv.Quote(store.Truncate(v, 60)))
			}
		}
	}
	if req.Languages != nil {
		for _, l := range *req.Languages {
			if !isLanguageTag(l) {
				return bad("languages are BCP 47 tags such as en, fr or pt-BR, got " + strconv.Quote(store.Truncate(l, 60)))
			}
		}
	}
	return nil
}

func isLanguageTag(s string) bool {
	if len(s) < 2 || len(s) > 35 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (req *profileReq) profile() store.AgentProfile {
	p := store.AgentProfile{Role: req.Role, Capacity: req.Capacity, Languages: req.Languages, Skills: req.Skills, Teams: req.Teams}
	if req.Name != nil {
		n := strings.TrimSpace(*req.Name)
		p.Name = &n
	}
	return p
}

// changes describes what a profile request sets, for the audit log: the
// fields and their values (never a password, only that one was set).
func (req *profileReq) changes() string {
	var parts []string
	add := func(k string, v any) { parts = append(parts, fmt.Sprintf("%s=%v", k, v)) }
	if req.Name != nil {
		add("name", strconv.Quote(*req.Name))
	}
	if req.Role != nil {
		add("role", *req.Role)
	}
	if req.Capacity != nil {
		add("capacity", *req.Capacity)
	}
	for _, l := range []struct {
		k string
		v *[]string
	}{{"languages", req.Languages}, {"skills", req.Skills}, {"teams", req.Teams}} {
		if l.v != nil {
			add(l.k, strings.Join(*l.v, ","))
		}
	}
	if req.Password != "" {
		parts = append(parts, "password set")
	}
	return strings.Join(parts, " ")
}

func (a *agentsAPI) create(c *gin.Context) error {
	me := agentOf(c)
	var req profileReq
	if err := bindBody(c, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	if _, err := mail.ParseAddress(req.Email); err != nil || len(req.Email) > 320 {
		return apierr.Invalid("email is not a valid address")
	}
	if req.Name == nil {
		return apierr.Invalid("name is required")
	}
	ctx := c.Request.Context()
	hash, err := auth.HashPassword(req.Password, req.Email, *req.Name, a.workspaceName(ctx, me.WorkspaceID))
	if err != nil {
		return passwordErr(err)
	}
	ag := store.Agent{ID: uuid.NewString(), Email: req.Email, PasswordHash: hash, Role: "agent", Status: protocol.StatusOnline, Capacity: 5, CreatedAt: time.Now().UTC()}
	if req.Role != nil {
		ag.Role = *req.Role
	}
	p := req.profile()
	ag.Name = *p.Name
	if req.Capacity != nil {
		ag.Capacity = *req.Capacity
	}
	if req.Languages != nil {
		ag.Languages = store.JoinList(*req.Languages)
	}
	if req.Skills != nil {
		ag.Skills = store.JoinList(*req.Skills)
	}
	if req.Teams != nil {
		ag.Teams = store.JoinList(*req.Teams)
	}
	ag, err = a.store(me.WorkspaceID).CreateAgent(ctx, ag)
	if errors.Is(err, store.ErrConflict) {
		return apierr.Conflict("an agent with this email exists")
	}
	if err != nil {
		return apierr.Unavailable("cannot create the agent right now", err)
	}
	if err := a.agentChanged(ctx, me.WorkspaceID, ag.ID); err != nil {
		a.log.Warn("new agent not routable", "agent", ag.ID, "err", err)
	}
	a.log.Info("agent created", "agent", ag.ID, "by", me.ID)
	a.audit(c, me.WorkspaceID, "agent_created", ag.Email, req.changes())
	c.JSON(http.StatusCreated, gin.H{"agent": profileJSON(ag, nil)})
	return nil
}

func (a *agentsAPI) update(c *gin.Context) error {
	me := agentOf(c)
	var req profileReq
	if err := bindBody(c, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	if req.Email != "" || req.Password != "" {
		return apierr.Invalid("email and password cannot be changed here")
	}
	ctx := c.Request.Context()
	sc := a.store(me.WorkspaceID)
	id := c.Param("id")
	// The role first: the store keeps the workspace an enabled admin.
	if req.Role != nil {
		if _, err := sc.SetAgentRole(ctx, id, *req.Role); err != nil {
			return agentErr(err, "change the role")
		}
	}
	profile := req.profile()
	profile.Role = nil
	if err := sc.UpdateAgentProfile(ctx, id, profile); err != nil {
		return agentErr(err, "update the agent")
	}
	if err := a.agentChanged(ctx, me.WorkspaceID, id); err != nil {
		a.log.Warn("agent profile not applied to routing", "agent", id, "err", err)
	}
	ag, err := sc.Agent(ctx, id)
	if err != nil {
		return apierr.Unavailable("cannot read the agent right now", err)
	}
	if req.Role != nil { // live sockets carry the role they opened with (revoke.go)
		a.revoke(ctx, agentControl{Workspace: me.WorkspaceID, Agent: ag.ID, Reason: revokeRoleChanged, Role: ag.Role})
	}
	a.log.Info("agent profile updated", "agent", ag.ID, "by", me.ID)
	a.audit(c, me.WorkspaceID, "agent_updated", ag.Email, req.changes())
	c.JSON(http.StatusOK, gin.H{"agent": profileJSON(ag, a.routingAgents(c, me.WorkspaceID))})
	return nil
}

func (a *agentsAPI) disable(c *gin.Context) error {
	me := agentOf(c)
	id := c.Param("id")
	if id == me.ID {
		return apierr.Invalid("you cannot disable yourself; ask another admin")
	}
	ctx := c.Request.Context()
	ag, ended, err := a.store(me.WorkspaceID).DisableAgent(ctx, id, time.Now().UTC())
	if err != nil {
		return agentErr(err, "disable the agent")
	}
	a.revoke(ctx, agentControl{Workspace: me.WorkspaceID, Agent: ag.ID, Reason: revokeDisabled})
	// The stored status is offline now: routing requeues the agent's
	// conversations, here and (announced) on the other nodes.
	if err := a.agentChanged(ctx, me.WorkspaceID, ag.ID); err != nil {
		a.log.Warn("disabled agent not taken out of routing", "agent", ag.ID, "err", err)
	}
	a.log.Info("agent disabled", "agent", ag.ID, "by", me.ID)
	a.audit(c, me.WorkspaceID, "agent_disabled", ag.Email, strconv.FormatInt(ended, 10)+" sessions ended")
	c.JSON(http.StatusOK, gin.H{"agent": profileJSON(ag, a.routingAgents(c, me.WorkspaceID)), "sessions_ended": ended})
	return nil
}

func (a *agentsAPI) enable(c *gin.Context) error {
	me := agentOf(c)
	ctx := c.Request.Context()
	ag, err := a.store(me.WorkspaceID).EnableAgent(ctx, c.Param("id"))
	if err != nil {
		return agentErr(err, "enable the agent")
	}
	if err := a.agentChanged(ctx, me.WorkspaceID, ag.ID); err != nil {
		a.log.Warn("enabled agent not routable", "agent", ag.ID, "err", err)
	}
	a.log.Info("agent enabled", "agent", ag.ID, "by", me.ID)
	a.audit(c, me.WorkspaceID, "agent_enabled", ag.Email, "")
	c.JSON(http.StatusOK, gin.H{"agent": profileJSON(ag, a.routingAgents(c, me.WorkspaceID))})
	return nil
}

// endSessions signs an agent out everywhere (DELETE
// /api/agents/:id/sessions): every session ends and the agent's live
// sockets close, on every node. Anyone may do it for themselves ("me");
// admins also for another agent of the workspace.
func (a *agentsAPI) endSessions(c *gin.Context) error {
	me := agentOf(c)
	id := c.Param("id")
	if id == "me" {
		id = me.ID
	}
	if id != me.ID && me.Role != "admin" {
		return apierr.Forbidden("only admin may sign out another agent")
	}
	ctx := c.Request.Context()
	sc := a.store(me.WorkspaceID)
	target, err := sc.Agent(ctx, id)
	if err != nil {
		return agentErr(err, "sign out")
	}
	n, err := sc.DeleteAgentSessions(ctx, target.ID)
	if err != nil {
		return apierr.Unavailable("cannot sign out right now", err)
	}
	a.revoke(ctx, agentControl{Workspace: me.WorkspaceID, Agent: target.ID, Reason: revokeSignedOut}) // revoke.go
	a.audit(c, me.WorkspaceID, "sessions_revoked", target.Email, "")
	if target.ID == me.ID {
		a.signOut(c)
	}
	c.JSON(http.StatusOK, gin.H{"sessions_ended": n})
	return nil
}
