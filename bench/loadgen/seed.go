package loadgen

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// Pair is one seeded conversation-to-be: a visitor and an agent of their
// own workspace, with credentials the load generator can connect with.
//
// Each pair gets a workspace because Parley publishes every message of a
// workspace to all of its agents (bus.AgentsTopic): with one workspace, N
// agents would each receive all N conversations' traffic. The report states
// this, and the "fan-out" figure in it measures that cost separately.
type Pair struct {
	Workspace    string
	AgentCookie  string // value of the parley_session cookie
	VisitorToken string
}

// Seed writes workspaces, agents (online, with sessions) and visitors
// straight into the store before the server starts. Signing in through
// /api/auth/login costs a bcrypt check per agent (~0.1 s of CPU), which
// would make setting up 2,000 agents take minutes of the run; the sessions
// and tokens made here are the ones those endpoints would make.
type Seed struct {
	DatabaseURL string // SQLite path or postgres:// URL
	Secret      string // the server's PARLEY_SECRET
}

// NewSecret returns a random PARLEY_SECRET.
func NewSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Pairs seeds n pairs, agentsPerWorkspace agents each (the first is the
// pair's agent; the others only exist to receive the workspace fan-out).
func (s Seed) Pairs(ctx context.Context, n, agentsPerWorkspace int) ([]Pair, [][]string, error) {
	st, err := store.Open(ctx, s.DatabaseURL)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	hash, err := bcrypt.GenerateFromPassword([]byte("bench-password-123"), bcrypt.MinCost)
	if err != nil {
		return nil, nil, err
	}
	signer := auth.NewTokenSigner([]byte(s.Secret))
	now := time.Now().UTC()
	db := st.Gorm().WithContext(ctx)
	var (
		wss      []store.Workspace
		sites    []store.Site
		agents   []store.Agent
		sessions []store.Session
		visitors []store.Visitor
		pairs    []Pair
		extra    [][]string
	)
	for i := 0; i < n; i++ {
		ws := store.Workspace{ID: uuid.NewString(), Name: fmt.Sprintf("bench %d", i), CreatedAt: now}
		site := store.Site{ID: uuid.NewString(), WorkspaceID: ws.ID, Name: "bench", Secret: randomHex(16), CreatedAt: now}
		var cookies []string
		for j := 0; j < agentsPerWorkspace; j++ {
			a := store.Agent{ID: uuid.NewString(), WorkspaceID: ws.ID, Email: fmt.Sprintf("agent-%d-%d@bench.local", i, j),
				Name: fmt.Sprintf("Agent %d.%d", i, j), Role: "agent", PasswordHash: string(hash),
				Status: protocol.StatusOnline, Capacity: 5, CreatedAt: now}
			if j > 0 {
				a.Status = protocol.StatusAway // watchers: not routed to
			}
			cookie := randomHex(32)
			agents = append(agents, a)
			sessions = append(sessions, store.Session{TokenHash: sha256Hex(cookie), AgentID: a.ID, WorkspaceID: ws.ID,
				CSRFToken: randomHex(32), ExpiresAt: now.Add(24 * time.Hour), CreatedAt: now})
			cookies = append(cookies, cookie)
		}
		v := store.Visitor{ID: uuid.NewString(), WorkspaceID: ws.ID, SiteID: site.ID, Name: fmt.Sprintf("Visitor %d", i), CreatedAt: now, LastSeenAt: now}
		wss, sites, visitors = append(wss, ws), append(sites, site), append(visitors, v)
		pairs = append(pairs, Pair{Workspace: ws.ID, AgentCookie: cookies[0],
			VisitorToken: signer.Sign(auth.VisitorClaims{Workspace: ws.ID, Site: site.ID, Visitor: v.ID, Expires: now.Add(24 * time.Hour)})})
		extra = append(extra, cookies[1:])
	}
	for _, rows := range []any{&wss, &sites, &agents, &sessions, &visitors} {
		if err := db.CreateInBatches(rows, 200).Error; err != nil {
			return nil, nil, fmt.Errorf("seed: %w", err)
		}
	}
	return pairs, extra, nil
}

// Visitors seeds one workspace with n visitors and returns their tokens.
func (s Seed) Visitors(ctx context.Context, n int) ([]string, error) {
	st, err := store.Open(ctx, s.DatabaseURL)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	signer := auth.NewTokenSigner([]byte(s.Secret))
	now := time.Now().UTC()
	ws := store.Workspace{ID: uuid.NewString(), Name: "bench idle", CreatedAt: now}
	site := store.Site{ID: uuid.NewString(), WorkspaceID: ws.ID, Name: "bench", Secret: randomHex(16), CreatedAt: now}
	db := st.Gorm().WithContext(ctx)
	if err := db.Create(&ws).Error; err != nil {
		return nil, err
	}
	if err := db.Create(&site).Error; err != nil {
		return nil, err
	}
	tokens := make([]string, 0, n)
	vs := make([]store.Visitor, 0, n)
	for i := 0; i < n; i++ {
		v := store.Visitor{ID: uuid.NewString(), WorkspaceID: ws.ID, SiteID: site.ID, Name: fmt.Sprintf("Visitor %d", i), CreatedAt: now, LastSeenAt: now}
		vs = append(vs, v)
		tokens = append(tokens, signer.Sign(auth.VisitorClaims{Workspace: ws.ID, Site: site.ID, Visitor: v.ID, Expires: now.Add(24 * time.Hour)}))
	}
	if err := db.CreateInBatches(&vs, 500).Error; err != nil {
		return nil, fmt.Errorf("seed visitors: %w", err)
	}
	return tokens, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
