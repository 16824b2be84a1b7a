package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/parleychat/parley/pkg/report/tally"
)

// Report buckets: the sums of what ended conversations add to reports
// (pkg/report/tally), per UTC hour of creation, site, team, agent and
// answering agent, so that a report over a year reads a row per hour and
// group instead of a row per conversation.
//
// A conversation is counted in the buckets with its figures, in the
// transaction that writes its conversation_stats row (the close path and
// the catch-up, ComputeConversationStats), and the row keeps what was
// counted (Counted, with the row's figures). Counting again first takes
// away what the row says was counted, so a conversation is counted once
// however often it is computed.
//
// conversations.report_dirty says the buckets may not hold a conversation
// as it is now: it is set when a conversation is created and, by a
// trigger, whenever a column a report reads changes (a message, status,
// agent, team, rating, hand-off, assignment, closing); counting clears it.
// A report adds the buckets, then for every dirty conversation of the
// period takes away what was counted for it and adds it as it is now
// (store.ReportConversations with Unsettled), so a report is exact at
// every moment: open conversations, reopened ones, ratings given after
// closing. Dirty conversations are few (the open ones, and ended ones for
// the minute until the catch-up counts them); a partial index lists them.
//
// Counting clears the flag first, in its transaction: that statement
// takes the conversations' row locks (the write lock on SQLite), so what
// the transaction reads next is what it counts, and a change committed
// after it sets the flag again.
//
// A SQLite migration that rebuilds the conversations table (gorm does for
// some column changes) drops the trigger and the index: it must create
// them again (createReportDirty).

// ReportBucket is a bucket's sums; the histograms are tally.Hist strings.
type ReportBucket struct {
	WorkspaceID string `gorm:"primaryKey;size:36"`
	Hour        int64  `gorm:"primaryKey;autoIncrement:false"` // Unix seconds, UTC hour
	SiteID      string `gorm:"primaryKey;size:36"`
	Team        string `gorm:"primaryKey;size:100"`
	AgentID     string `gorm:"primaryKey;size:36"`
	AuthorID    string `gorm:"primaryKey;size:36"`

	Conversations, Missed, Rated, RatingSum, Positive, Assisted, Deflected int `gorm:"not null"`

	FirstResponse, Response, Resolution, QueueWait string `gorm:"type:text;not null"`
}

// The schema change of 2026120893_reports_buckets.
type (
	v893ReportBucket struct {
		WorkspaceID   string `gorm:"primaryKey;size:36"`
		Hour          int64  `gorm:"primaryKey;autoIncrement:false"`
		SiteID        string `gorm:"primaryKey;size:36"`
		Team          string `gorm:"primaryKey;size:100"`
		AgentID       string `gorm:"primaryKey;size:36"`
		AuthorID      string `gorm:"primaryKey;size:36"`
		Conversations int    `gorm:"not null"`
		Missed        int    `gorm:"not null"`
		Rated         int    `gorm:"not null"`
		RatingSum     int    `gorm:"not null"`
		Positive      int    `gorm:"not null"`
		Assisted      int    `gorm:"not null"`
		Deflected     int    `gorm:"not null"`
		FirstResponse string `gorm:"type:text;not null"`
		Response      string `gorm:"type:text;not null"`
		Resolution    string `gorm:"type:text;not null"`
		QueueWait     string `gorm:"type:text;not null"`
	}
	v893ConversationStat struct {
		Counted string `gorm:"type:text;not null;default:''"`
	}
)

func (v893ReportBucket) TableName() string     { return "report_buckets" }
func (v893ConversationStat) TableName() string { return "conversation_stats" }

// migrateReportBuckets adds the buckets, what each stats row counted, and
// the dirty flag, set on every existing conversation: the catch-up then
// counts the archive (the backfill), and reports read it as before
// meanwhile.
func migrateReportBuckets(tx *gorm.DB) error {
	if err := tx.Migrator().CreateTable(&v893ReportBucket{}); err != nil {
		return err
	}
	if err := tx.Migrator().AddColumn(&v893ConversationStat{}, "Counted"); err != nil {
		return err
	}
	if err := tx.Exec(`ALTER TABLE conversations ADD COLUMN report_dirty BOOLEAN NOT NULL DEFAULT TRUE`).Error; err != nil {
		return err
	}
	return createReportDirty(tx)
}

// reportColumns are the conversations' columns a report reads.
const reportColumns = "last_seq, status, agent_id, team, csat_rating, handed_off, assigned_at, closed_at, site_id, created_at"

// createReportDirty creates the trigger that sets report_dirty and the
// partial index of dirty conversations.
func createReportDirty(tx *gorm.DB) error {
	stmts := []string{`CREATE INDEX idx_conv_report_dirty ON conversations (workspace_id, created_at) WHERE report_dirty`}
	if tx.Dialector.Name() == "postgres" {
		stmts = append(stmts,
			`CREATE FUNCTION conversations_report_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN NEW.report_dirty := TRUE; RETURN NEW; END $$`,
			`CREATE TRIGGER conversations_report_dirty BEFORE UPDATE OF `+reportColumns+` ON conversations
			FOR EACH ROW WHEN (NOT OLD.report_dirty) EXECUTE FUNCTION conversations_report_dirty()`)
	} else {
		stmts = append(stmts, `CREATE TRIGGER conversations_report_dirty AFTER UPDATE OF `+reportColumns+` ON conversations
			FOR EACH ROW WHEN NOT OLD.report_dirty BEGIN UPDATE conversations SET report_dirty = TRUE WHERE id = NEW.id; END`)
	}
	for _, q := range stmts {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	return nil
}

// countedAs is what a stats row says was counted: the conversation's
// facts then (JSON in Counted) and the row's figures.
func (r ConversationStat) countedAs() (*tally.Conversation, error) {
	if r.Counted == "" {
		return nil, nil
	}
	var c tally.Conversation
	if err := json.Unmarshal([]byte(r.Counted), &c.Facts); err != nil {
		return nil, fmt.Errorf("store: conversation stats: counted: %w", err)
	}
	f, err := decodeFigures(r.VisitorMessages, r.AgentMessages, r.AssistantMessages, r.ResponseAgents, r.Responses)
	c.Figures = f
	return &c, err
}

// factsOf is what a report reads of c.
func factsOf(c Conversation) tally.Facts {
	f := tally.Facts{SiteID: c.SiteID, Team: c.Team, Closed: c.Status == "closed", Ended: c.Status == "closed" || c.Status == StatusOffline,
		HandedOff: c.HandedOff, CsatRating: c.CsatRating, CreatedAt: c.CreatedAt.UTC(), AssignedAt: c.AssignedAt, ClosedAt: c.ClosedAt}
	if c.AgentID != nil {
		f.AgentID = *c.AgentID
	}
	return f
}

// bucketDeltas gathers what conversations add to (or take from) buckets.
type bucketDeltas map[tally.Key]*tally.Counts

func (d bucketDeltas) add(c tally.Conversation, sign int) {
	for _, e := range tally.Of(c) {
		if d[e.Key] == nil {
			d[e.Key] = &tally.Counts{}
		}
		d[e.Key].Add(e.Counts, sign)
	}
}

// apply adds d to the workspace's buckets in tx. The buckets are created
// first and then locked (PostgreSQL), both in key order, so two
// transactions counting into the same buckets wait for each other
// instead of losing an update or deadlocking.
func (d bucketDeltas) apply(tx *gorm.DB, ws string) error {
	if len(d) == 0 {
		return nil
	}
	keys := make([]tally.Key, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
	rows := make([]ReportBucket, len(keys))
	hours := map[int64]bool{}
	for i, k := range keys {
		rows[i] = ReportBucket{WorkspaceID: ws, Hour: k.Hour, SiteID: k.SiteID, Team: k.Team, AgentID: k.AgentID, AuthorID: k.AuthorID}
		hours[k.Hour] = true
	}
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(rows, 200).Error; err != nil {
		return err
	}
	hourList := make([]int64, 0, len(hours))
	for h := range hours {
		hourList = append(hourList, h)
	}
	q := tx.Where("workspace_id = ? AND hour IN ?", ws, hourList).Order("hour, site_id, team, agent_id, author_id")
	if tx.Dialector.Name() == "postgres" {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var have []ReportBucket
	if err := q.Find(&have).Error; err != nil {
		return err
	}
	byKey := make(map[tally.Key]ReportBucket, len(have))
	for _, b := range have {
		byKey[tally.Key{Hour: b.Hour, SiteID: b.SiteID, Team: b.Team, AgentID: b.AgentID, AuthorID: b.AuthorID}] = b
	}
	for i, k := range keys {
		sum, err := byKey[k].counts()
		if err != nil {
			return err
		}
		sum.Add(*d[k], 1)
		rows[i].set(sum)
	}
	return tx.Clauses(clause.OnConflict{UpdateAll: true}).CreateInBatches(rows, 200).Error
}

func keyLess(a, b tally.Key) bool {
	if a.Hour != b.Hour {
		return a.Hour < b.Hour
	}
	for _, p := range [][2]string{{a.SiteID, b.SiteID}, {a.Team, b.Team}, {a.AgentID, b.AgentID}, {a.AuthorID, b.AuthorID}} {
		if p[0] != p[1] {
			return p[0] < p[1]
		}
	}
	return false
}

func (b ReportBucket) counts() (tally.Counts, error) {
	c := tally.Counts{Conversations: b.Conversations, Missed: b.Missed, Rated: b.Rated, RatingSum: b.RatingSum,
		Positive: b.Positive, Assisted: b.Assisted, Deflected: b.Deflected}
	for _, h := range []struct {
		to  *tally.Hist
		raw string
	}{{&c.FirstResponse, b.FirstResponse}, {&c.Response, b.Response}, {&c.Resolution, b.Resolution}, {&c.QueueWait, b.QueueWait}} {
		var err error
		if *h.to, err = tally.ParseHist(h.raw); err != nil {
			return c, err
		}
	}
	return c, nil
}

func (b *ReportBucket) set(c tally.Counts) {
	b.Conversations, b.Missed, b.Rated, b.RatingSum = c.Conversations, c.Missed, c.Rated, c.RatingSum
	b.Positive, b.Assisted, b.Deflected = c.Positive, c.Assisted, c.Deflected
	b.FirstResponse, b.Response, b.Resolution, b.QueueWait = c.FirstResponse.String(), c.Response.String(), c.Resolution.String(), c.QueueWait.String()
}

// uncount takes the workspace's conversations convs out of the buckets
// (they are being deleted).
func uncount(tx *gorm.DB, ws string, convs []string) error {
	var rows []ConversationStat
	if err := tx.Where("workspace_id = ? AND conversation_id IN ? AND counted <> ''", ws, convs).Find(&rows).Error; err != nil {
		return err
	}
	d := bucketDeltas{}
	for _, r := range rows {
		c, err := r.countedAs()
		if err != nil {
			return err
		}
		d.add(*c, -1)
	}
	return d.apply(tx, ws)
}

// ReportBuckets calls fn with the workspace's buckets of the hours in
// [f.From, f.To) and f's site, agent and team.
func (s *Scoped) ReportBuckets(ctx context.Context, f ReportFilter, fn func(tally.Entry) error) error {
	where, args := "workspace_id = ? AND hour >= ? AND hour < ?", []any{s.ws, f.From.Unix(), f.To.Unix()}
	for _, c := range []struct{ col, v string }{{"site_id", f.SiteID}, {"agent_id", f.AgentID}, {"team", f.Team}} {
		if c.v != "" {
			where += " AND " + c.col + " = ?"
			args = append(args, c.v)
		}
	}
	rows, err := s.s.plain.WithContext(ctx).Raw(`SELECT hour, site_id, team, agent_id, author_id, conversations, missed, rated, rating_sum,
		positive, assisted, deflected, first_response, response, resolution, queue_wait FROM report_buckets WHERE `+where, args...).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b ReportBucket
		if err := rows.Scan(&b.Hour, &b.SiteID, &b.Team, &b.AgentID, &b.AuthorID, &b.Conversations, &b.Missed, &b.Rated, &b.RatingSum,
			&b.Positive, &b.Assisted, &b.Deflected, &b.FirstResponse, &b.Response, &b.Resolution, &b.QueueWait); err != nil {
			return err
		}
		c, err := b.counts()
		if err != nil {
			return err
		}
		if err := fn(tally.Entry{Key: tally.Key{Hour: b.Hour, SiteID: b.SiteID, Team: b.Team, AgentID: b.AgentID, AuthorID: b.AuthorID}, Counts: c}); err != nil {
			return err
		}
	}
	return rows.Err()
}
