// Command reportseed writes a generated month of past chats into a Parley
// SQLite database, for the reports page's browser test (e2e/reports.test.mjs):
// live chats cannot be backdated, and a report page with one day of data
// shows little; and the archive of the dashboard's first-view benchmark
// (e2e/firstview.bench.mjs). It spreads the chats over the workspace's sites
// and agents.
//
//	go run ./e2e/reportseed -db DATA_DIR/parley.db -days 30 -n 900
//	go run ./e2e/reportseed -db DATA_DIR/parley.db -days 365 -n 10000 -messages 100 -open 200
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/report/reporttest"
	"github.com/parleychat/parley/pkg/store"
)

func main() {
	db := flag.String("db", "", "the SQLite database file")
	days := flag.Int("days", 30, "days of history, ending yesterday (UTC)")
	n := flag.Int("n", 900, "conversations")
	each := flag.Int("messages", 0, "messages in each conversation, instead of a realistic mix (the dashboard's first-view benchmark)")
	open := flag.Int("open", 0, "with -messages: how many of the conversations are still open (with their agent)")
	flag.Parse()
	if err := run(*db, *days, *n, *each, *open); err != nil {
		fmt.Fprintln(os.Stderr, "reportseed:", err)
		os.Exit(1)
	}
}

func run(db string, days, n, each, open int) error {
	ctx := context.Background()
	s, err := store.Open(ctx, db)
	if err != nil {
		return err
	}
	defer s.Close()
	site, err := s.FirstSite(ctx)
	if err != nil {
		return err
	}
	ws := s.Workspace(site.WorkspaceID)
	sites, err := ws.Sites(ctx)
	if err != nil {
		return err
	}
	agents, err := ws.Agents(ctx)
	if err != nil {
		return err
	}
	h := reporttest.History{Workspace: site.WorkspaceID, Visitor: uuid.NewString(), Teams: []string{"sales", "support", "support", ""},
		Start: time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -days), Days: days, Conversations: n, Realistic: each == 0, MessagesEach: each, Open: open, Seed: 42}
	for _, x := range sites {
		h.Sites = append(h.Sites, x.ID)
	}
	for _, a := range agents {
		h.Agents = append(h.Agents, a.ID)
	}
	convs, msgs, err := reporttest.Seed(ctx, s, h)
	fmt.Printf("reportseed: %d conversations, %d messages\n", convs, msgs)
	return err
}
