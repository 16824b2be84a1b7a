package pgassign

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/parleychat/parley/pkg/routing"
)

// testDB connects to PARLEY_TEST_POSTGRES and gives the test its own schema
// with the store's agents and conversations columns that routing uses.
func testDB(t *testing.T) *sql.DB {
	t.Helper()
	dsn := os.Getenv("PARLEY_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("PARLEY_TEST_POSTGRES is not set (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable); skipping the PostgreSQL assigner tests")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("routing_test_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	sep := "?"
	for _, c := range dsn {
		if c == '?' {
			sep = "&"
		}
	}
	db, err := sql.Open("pgx", dsn+sep+"search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(16)
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{
		`CREATE TABLE agents (id varchar(36) PRIMARY KEY, workspace_id varchar(36) NOT NULL, capacity int NOT NULL DEFAULT 5)`,
		`CREATE TABLE conversations (id varchar(36) PRIMARY KEY, workspace_id varchar(36) NOT NULL,
			agent_id varchar(36), status varchar(20) NOT NULL, updated_at timestamptz)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func seed(t *testing.T, db *sql.DB, agents, convs int) {
	t.Helper()
	for i := range agents {
		if _, err := db.Exec(`INSERT INTO agents (id, workspace_id) VALUES ($1, 'w')`, fmt.Sprintf("a%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range convs {
		if _, err := db.Exec(`INSERT INTO conversations (id, workspace_id, status) VALUES ($1, 'w', 'queued')`, fmt.Sprintf("c%04d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

func owner(t *testing.T, db *sql.DB, conv string) string {
	t.Helper()
	var o sql.NullString
	if err := db.QueryRow(`SELECT agent_id FROM conversations WHERE id = $1`, conv).Scan(&o); err != nil {
		t.Fatal(err)
	}
	return o.String
}

func TestClaimMoveRelease(t *testing.T) {
	db := testDB(t)
	seed(t, db, 2, 3)
	a, ctx := New(db), context.Background()
	step := func(name string, got routing.ClaimResult, err error, want routing.ClaimResult) {
		t.Helper()
		if err != nil || got != want {
			t.Fatalf("%s = %v, %v; want %v", name, got, err, want)
		}
	}
	r, err := a.Claim(ctx, "w", "c0000", "a00", 1)
	step("claim c0 by a00", r, err, routing.Claimed)
	r, err = a.Claim(ctx, "w", "c0000", "a01", 1)
	step("claim c0 again by a01", r, err, routing.ConversationTaken)
	r, err = a.Claim(ctx, "w", "c0001", "a00", 1)
	step("claim c1 by full a00", r, err, routing.AgentFull)
	r, err = a.Claim(ctx, "w", "c0001", "a01", 1)
	step("claim c1 by a01", r, err, routing.Claimed)
	r, err = a.Move(ctx, "w", "c0000", "a00", "a01", 1)
	step("move c0 to full a01", r, err, routing.AgentFull)
	r, err = a.Move(ctx, "w", "c0000", "a01", "a00", 5)
	step("move c0 from a non-owner", r, err, routing.ConversationTaken)
	r, err = a.Move(ctx, "w", "c0000", "a00", "a01", 2)
	step("move c0 to a01", r, err, routing.Claimed)
	if owner(t, db, "c0000") != "a01" {
		t.Fatal("c0 should belong to a01")
	}
	if _, err := a.Claim(ctx, "w", "c0002", "ghost", 1); !errors.Is(err, ErrUnknownAgent) {
		t.Fatalf("unknown agent: %v", err)
	}
	if _, err := a.Claim(ctx, "other-workspace", "c0002", "a00", 1); !errors.Is(err, ErrUnknownAgent) {
		t.Fatalf("agent of another workspace: %v", err)
	}
	if err := a.Release(ctx, "w", "c0000", "a00"); err != nil || owner(t, db, "c0000") != "a01" {
		t.Fatalf("release by a non-owner must change nothing: %v", err)
	}
	if err := a.Release(ctx, "w", "c0000", "a01"); err != nil || owner(t, db, "c0000") != "" {
		t.Fatalf("release: %v", err)
	}
	// A closed conversation stays closed.
	if _, err := db.Exec(`UPDATE conversations SET status = 'closed' WHERE id = 'c0001'`); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx, "w", "c0001", "a01"); err != nil {
		t.Fatal(err)
	}
	var status string
	_ = db.QueryRow(`SELECT status FROM conversations WHERE id = 'c0001'`).Scan(&status)
	if status != "closed" {
		t.Fatalf("release reopened a closed conversation: %s", status)
	}
}

// Two engines (two nodes) route the same workspace at the same time,
// through the same database. Nobody may end up above capacity and no
// conversation may be assigned twice, whatever each engine believes.
func TestTwoEnginesOverPostgres(t *testing.T) {
	db := testDB(t)
	const agents, convs, capacity = 10, 300, 3
	seed(t, db, agents, convs)
	ctx := context.Background()
	a := New(db)
	var mu sync.Mutex
	assigned := map[string][]string{} // conversation → agents it was assigned to, over both engines
	var failures []error
	engines := make([]*routing.Engine, 2)
	for n := range engines {
		e, err := routing.New(routing.Config{Assigner: a, OnEvent: func(ev routing.Event) {
			mu.Lock()
			defer mu.Unlock()
			switch ev := ev.(type) {
			case routing.Assigned:
				assigned[ev.ConversationID] = append(assigned[ev.ConversationID], ev.AgentID)
			case routing.AssignFailed:
				failures = append(failures, ev.Err)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range agents {
			if err := e.SetAgent(ctx, "w", routing.Agent{ID: fmt.Sprintf("a%02d", i), Status: routing.StatusOnline, Capacity: capacity}); err != nil {
				t.Fatal(err)
			}
		}
		engines[n] = e
	}
	var wg sync.WaitGroup
	for i := range convs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 5))
			req := routing.Request{ConversationID: fmt.Sprintf("c%04d", i), WorkspaceID: "w", EnqueuedAt: time.Now()}
			// A third of the visitors reach both nodes (a retried request).
			for n, e := range engines {
				if r.IntN(3) == 0 || n == i%2 {
					if err := e.Enqueue(ctx, req); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, e := range engines {
		e.Tick(ctx)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, err := range failures {
		t.Error(err)
	}
	rows, err := db.Query(`SELECT agent_id, count(*) FROM conversations WHERE status = 'open' GROUP BY agent_id`)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for rows.Next() {
		var ag string
		var n int
		if err := rows.Scan(&ag, &n); err != nil {
			t.Fatal(err)
		}
		total += n
		if n > capacity {
			t.Errorf("agent %s has %d open conversations, capacity %d", ag, n, capacity)
		}
	}
	rows.Close()
	if total != agents*capacity {
		t.Errorf("%d conversations open, want every slot (%d) filled with %d visitors waiting", total, agents*capacity, convs)
	}
	for c, ags := range assigned {
		if len(ags) != 1 {
			t.Errorf("%s assigned %d times: %v", c, len(ags), ags)
		}
		if owner(t, db, c) != ags[0] {
			t.Errorf("%s: assigned to %s, database says %q", c, ags[0], owner(t, db, c))
		}
	}
	if len(assigned) != total {
		t.Errorf("%d Assigned events, %d open conversations", len(assigned), total)
	}
}
