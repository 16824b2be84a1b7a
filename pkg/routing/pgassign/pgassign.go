// Package pgassign is the PostgreSQL routing.Assigner: the atomic
// compare-and-set that lets several signaling nodes route the same
// workspace without assigning a conversation twice or putting an agent above
// capacity.
//
// It works on the store's own tables, so the store stays the one source of
// truth about ownership:
//
//	agents(id, workspace_id, ...)
//	conversations(id, workspace_id, agent_id NULL, status, updated_at, ...)
//
// An agent's load is the number of its conversations with status 'open'.
// Claims for one agent are serialised by locking the agent's row (SELECT ...
// FOR UPDATE), then counting and updating in the same transaction; the
// conversation UPDATE re-checks "status = 'queued' AND agent_id IS NULL"
// under its row lock, so two claims of one conversation cannot both win.
// Works at READ COMMITTED, PostgreSQL's default.
//
// An offered conversation (routing.ModeOffer) is claimed like an assigned
// one: it is 'open' with its agent_id while the offer is out, and Release
// puts it back to 'queued' if the offer is declined or expires. The server
// tells the visitor it has an agent only on routing.Assigned.
package pgassign

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/parleychat/parley/pkg/routing"
)

// ErrUnknownAgent: the agent has no row in the workspace.
var ErrUnknownAgent = errors.New("pgassign: agent not found in workspace")

// Assigner implements routing.Assigner over a *sql.DB connected to
// PostgreSQL (with gorm: db.DB()). Safe for concurrent use.
type Assigner struct{ db *sql.DB }

// New returns an Assigner using db.
func New(db *sql.DB) *Assigner { return &Assigner{db: db} }

var _ routing.Assigner = (*Assigner)(nil)

// Claim implements routing.Assigner.
func (a *Assigner) Claim(ctx context.Context, ws, conv, agent string, capacity int) (res routing.ClaimResult, err error) {
	err = a.tx(ctx, func(tx *sql.Tx) error {
		if err := lockAgents(ctx, tx, ws, agent); err != nil {
			return err
		}
		full, err := atCapacity(ctx, tx, ws, agent, capacity)
		if err != nil || full {
			res = routing.AgentFull
			return errRollback(err)
		}
		r, err := tx.ExecContext(ctx, `UPDATE conversations SET agent_id = $1, status = 'open', updated_at = now()
			WHERE id = $2 AND workspace_id = $3 AND status = 'queued' AND agent_id IS NULL`, agent, conv, ws)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 0 {
			res = routing.ConversationTaken
			return errRollback(err)
		}
		res = routing.Claimed
		return nil
	})
	return res, err
}

// Move implements routing.Assigner.
func (a *Assigner) Move(ctx context.Context, ws, conv, from, to string, capacity int) (res routing.ClaimResult, err error) {
	err = a.tx(ctx, func(tx *sql.Tx) error {
		if err := lockAgents(ctx, tx, ws, from, to); err != nil {
			return err
		}
		if from != to {
			full, err := atCapacity(ctx, tx, ws, to, capacity)
			if err != nil || full {
				res = routing.AgentFull
				return errRollback(err)
			}
		}
		r, err := tx.ExecContext(ctx, `UPDATE conversations SET agent_id = $1, updated_at = now()
			WHERE id = $2 AND workspace_id = $3 AND status = 'open' AND agent_id = $4`, to, conv, ws, from)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 0 {
			res = routing.ConversationTaken
			return errRollback(err)
		}
		res = routing.Claimed
		return nil
	})
	return res, err
}

// Release implements routing.Assigner: an open conversation of the agent
// goes back to 'queued' without owner. A closed one is left alone, so the
// server must close the conversation in the store before it calls
// Engine.Release for it.
func (a *Assigner) Release(ctx context.Context, ws, conv, agent string) error {
	_, err := a.db.ExecContext(ctx, `UPDATE conversations SET agent_id = NULL, status = 'queued', updated_at = now()
		WHERE id = $1 AND workspace_id = $2 AND agent_id = $3 AND status = 'open'`, conv, ws, agent)
	if err != nil {
		return fmt.Errorf("pgassign: release %s: %w", conv, err)
	}
	return nil
}

// rollback is returned from a transaction body to roll back without error.
type rollback struct{}

func (rollback) Error() string { return "rollback" }

func errRollback(err error) error {
	if err != nil {
		return err
	}
	return rollback{}
}

func (a *Assigner) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("pgassign: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		if errors.As(err, new(rollback)) {
			return nil
		}
		return fmt.Errorf("pgassign: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("pgassign: commit: %w", err)
	}
	return nil
}

// lockAgents locks the agents' rows in id order (so two moves in opposite
// directions cannot deadlock) and checks they exist.
func lockAgents(ctx context.Context, tx *sql.Tx, ws string, ids ...string) error {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM agents WHERE workspace_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE`, ws, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	found := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		found[id] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if !found[id] {
			return fmt.Errorf("%w: %s", ErrUnknownAgent, id)
		}
	}
	return nil
}

func atCapacity(ctx context.Context, tx *sql.Tx, ws, agent string, capacity int) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM conversations
		WHERE workspace_id = $1 AND agent_id = $2 AND status = 'open'`, ws, agent).Scan(&n)
	return n >= capacity, err
}
