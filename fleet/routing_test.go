package fleet

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver, to read the test's own database

	"github.com/parleychat/parley/pkg/protocol"
)

// The routing race across three signaling processes: visitors arrive on
// every node at once while agents, each with a dashboard connected to
// every node (so every node's router sees them), switch between online and
// away at random and close conversations, freeing seats that every node
// then races to fill. Each node routes with its own engine and a stale view of
// the others' assignments; the store's compare-and-set must keep every
// agent within capacity at every moment (sampled from the database) and
// give each conversation one owner, once. At the end, with every agent
// online, every seat is taken and every visitor is assigned or waiting.
func TestRoutingRaceAcrossNodes(t *testing.T) {
	// 60 visitor sessions from one address would hit its rate limit.
	f := startFleet(t, 0, "PARLEY_RATE_LIMITS=off")
	const agents, capacity, visitors, closes = 8, 2, 60, 20

	db, err := sql.Open("pgx", f.postgres.url())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	type dashboard struct {
		mu    sync.Mutex
		conns []*websocket.Conn
	}
	boards := make([]*dashboard, agents)
	byID := map[string]*dashboard{}
	var readers sync.WaitGroup
	for i := range agents {
		email := fmt.Sprintf("racer%d@fleet.test", i)
		s := f.createAgent(email, fmt.Sprintf("Racer %d", i), "agent", capacity)
		d := &dashboard{}
		var id string
		if err := db.QueryRow(`SELECT id FROM agents WHERE email = $1`, email).Scan(&id); err != nil {
			t.Fatal(err)
		}
		byID[id] = d
		for _, n := range f.nodes {
			ws, _, err := websocket.DefaultDialer.Dial("ws://"+n.addr+"/ws/agent", http.Header{"Origin": {f.public}, "Cookie": {s.cookie}})
			if err != nil {
				t.Fatalf("racer %d on %s: %v", i, n.name, err)
			}
			ws.WriteJSON(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello}, V: protocol.Version})
			if err := waitWelcome(ws); err != nil {
				t.Fatalf("racer %d on %s: %v", i, n.name, err)
			}
			d.conns = append(d.conns, ws)
			// Drain what the node broadcasts, or it drops the slow reader.
			readers.Add(1)
			go func() {
				defer readers.Done()
				for {
					if _, _, err := ws.ReadMessage(); err != nil {
						return
					}
				}
			}()
		}
		boards[i] = d
	}
	defer func() {
		for _, d := range boards {
			for _, ws := range d.conns {
				ws.Close()
			}
		}
		readers.Wait()
	}()
	write := func(d *dashboard, ws *websocket.Conn, v any) {
		d.mu.Lock()
		defer d.mu.Unlock()
		ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := ws.WriteJSON(v); err != nil {
			t.Errorf("dashboard write: %v", err)
		}
	}
	setStatus := func(d *dashboard, ws *websocket.Conn, status string) {
		write(d, ws, protocol.Status{Envelope: protocol.Envelope{Type: protocol.TypeStatus}, Status: status})
	}

	// The load of every agent, sampled from the store while the race runs.
	loads := func() (map[string]int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rows, err := db.QueryContext(ctx, `SELECT agent_id, count(*) FROM conversations WHERE status = 'open' AND agent_id IS NOT NULL GROUP BY agent_id`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := map[string]int{}
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				return nil, err
			}
			out[id] = n
		}
		return out, rows.Err()
	}
	worst, samples := 0, 0
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-sampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
			l, err := loads()
			if err != nil {
				continue
			}
			samples++
			for agent, n := range l {
				worst = max(worst, n)
				if n > capacity {
					t.Errorf("agent %s holds %d conversations, capacity %d", agent, n, capacity)
				}
			}
		}
	}()

	// Agents flip between online and away on random nodes while the
	// visitors arrive, three nodes at once.
	racing := make(chan struct{})
	var flippers sync.WaitGroup
	for _, d := range boards {
		flippers.Add(1)
		go func() {
			defer flippers.Done()
			for {
				select {
				case <-racing:
					return
				case <-time.After(time.Duration(20+rand.IntN(200)) * time.Millisecond):
				}
				status := protocol.StatusOnline
				if rand.IntN(3) == 0 {
					status = protocol.StatusAway
				}
				setStatus(d, d.conns[rand.IntN(len(d.conns))], status)
			}
		}()
	}
	// Agents end conversations on random nodes: seats free up while
	// visitors still arrive.
	closed := 0
	flippers.Add(1)
	go func() {
		defer flippers.Done()
		for closed < closes {
			select {
			case <-racing:
				return
			case <-time.After(100 * time.Millisecond):
			}
			var conv, agent string
			if db.QueryRow(`SELECT id, agent_id FROM conversations WHERE status = 'open' ORDER BY random() LIMIT 1`).Scan(&conv, &agent) != nil {
				continue
			}
			if d := byID[agent]; d != nil {
				write(d, d.conns[rand.IntN(len(d.conns))], protocol.Close{Envelope: protocol.Envelope{Type: protocol.TypeClose}, Conversation: conv})
				closed++
			}
		}
	}()
	var arrivals sync.WaitGroup
	var tokMu sync.Mutex
	tokens := map[string]string{} // conversation → its visitor's token
	for i := range visitors {
		arrivals.Add(1)
		go func() {
			defer arrivals.Done()
			time.Sleep(time.Duration(rand.IntN(4000)) * time.Millisecond) // arrivals over four seconds
			n := f.nodes[i%len(f.nodes)]
			token, err := visitorToken(n, f.public, f.siteID)
			var conv string
			if err == nil {
				conv, err = startConversation(n, "/ws/visitor?token="+token, http.Header{"Origin": {f.public}})
			}
			if err != nil {
				t.Error(err)
				return
			}
			tokMu.Lock()
			tokens[conv] = token
			tokMu.Unlock()
		}()
	}
	arrivals.Wait()
	close(racing)
	flippers.Wait()

	// Everyone online on every node: the nodes fill every seat.
	for _, d := range boards {
		for _, ws := range d.conns {
			setStatus(d, ws, protocol.StatusOnline)
		}
	}
	seats := agents * capacity
	var final map[string]int
	waitFor(t, "every seat taken", 60*time.Second, func() bool {
		l, err := loads()
		if err != nil {
			return false
		}
		final = l
		total := 0
		for _, n := range l {
			total += n
		}
		return total == seats
	})
	close(sampling)
	<-sampled

	// One owner, once: a conversation joined by two agents (or twice) was
	// assigned twice. The join notice's client id names the agent.
	rows, err := db.Query(`SELECT conversation_id, count(*) FROM messages WHERE client_id LIKE 'sys:join:%' GROUP BY conversation_id HAVING count(*) > 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var conv string
		var n int
		rows.Scan(&conv, &n)
		t.Errorf("conversation %s was assigned %d times", conv, n)
	}
	rows.Close()
	var total, open, waiting, ended int
	if err := db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE status = 'open'), count(*) FILTER (WHERE status IN ('queued', 'offline')),
		count(*) FILTER (WHERE status = 'closed') FROM conversations`).Scan(&total, &open, &waiting, &ended); err != nil {
		t.Fatal(err)
	}
	if total != visitors || open+waiting+ended != visitors || open != seats {
		t.Errorf("%d conversations: %d open, %d waiting, %d closed; want %d, %d open", total, open, waiting, ended, visitors, seats)
	}
	for agent, n := range final {
		if n > capacity {
			t.Errorf("agent %s ends with %d conversations, capacity %d", agent, n, capacity)
		}
	}
	queued := checkPositions(t, f, db, tokens)
	t.Logf("routing race across 3 nodes: %d visitors, %d agents × capacity %d on every node, %d closed during the race; %d load samples, highest load %d; %d assigned at the end, %d waiting, none twice; %d queued visitors, reconnecting to other nodes, see positions 1..%d in arrival order",
		visitors, agents, capacity, ended, samples, worst, open, waiting, queued, queued)
}

// checkPositions reconnects every queued visitor, each to a node after the
// one it arrived on, and checks that the positions they are told are the
// whole queue's, 1..N in arrival order, whichever node they ask (one node
// routes the workspace; the others ask it). It returns N.
func checkPositions(t *testing.T, f *fleet, db *sql.DB, tokens map[string]string) int {
	t.Helper()
	rows, err := db.Query(`SELECT id FROM conversations WHERE status = 'queued' ORDER BY priority DESC, created_at, id`)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		order = append(order, id)
	}
	rows.Close()
	for k, conv := range order {
		n := f.nodes[(k+1)%len(f.nodes)]
		pos, err := askPosition(n, f.public, tokens[conv], conv)
		if err != nil {
			t.Errorf("queued visitor %d of %d on %s: %v", k+1, len(order), n.name, err)
			continue
		}
		if pos != k+1 {
			t.Errorf("queued visitor %d of %d (by arrival) is told position %d on %s", k+1, len(order), pos, n.name)
		}
	}
	return len(order)
}

// askPosition connects a visitor (hello) and returns the queue position the
// node tells it for conv.
func askPosition(n *node, origin, token, conv string) (int, error) {
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+n.addr+"/ws/visitor?token="+token, http.Header{"Origin": {origin}})
	if err != nil {
		return 0, err
	}
	defer ws.Close()
	ws.WriteJSON(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello}, V: protocol.Version})
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return 0, fmt.Errorf("no queue frame: %w", err)
		}
		var q protocol.Queue
		if json.Unmarshal(data, &q) == nil && q.Type == protocol.TypeQueue && q.Conversation == conv {
			return q.Position, nil
		}
	}
}
