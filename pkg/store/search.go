package store

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Search without plaintext at rest. Message bodies, notes and visitors'
// names and emails are sealed, so the index cannot hold their words.
// Each workspace has a random search key (sealed with the key ring, like
// any other secret, and resealed by Reencrypt); a document is indexed as
// the set of HMAC-SHA256(search key, word) of its normalised words, cut to
// 64 bits. A query is normalised and keyed the same way, the postings are
// intersected in SQL, and the hits are opened and checked against the
// query's words, so a 64-bit collision never shows. The key never leaves
// the process; what the database file still tells is in docs/DESIGN.md
// ("Search").
//
// Messages are indexed after their commit, from a cursor (IndexMessages),
// so the send path writes nothing more; notes and visitors, written over
// HTTP, are indexed in the statement that writes them, and a backfill
// walks those stored before the index existed.

// SearchKey is a workspace's search key, sealed.
type SearchKey struct {
	WorkspaceID string `gorm:"primaryKey;size:36"`
	Secret      string `gorm:"type:text;not null"`
	CreatedAt   time.Time
}

// SearchTerm says that a message has a word (Token, keyed). The
// message's row gives its workspace: a search joins it.
type SearchTerm struct {
	Token     int64 `gorm:"primaryKey;autoIncrement:false"`
	MessageID int64 `gorm:"primaryKey;autoIncrement:false;index"`
}

// SearchDocTerm says that a note (Kind "n") or a visitor ("v") has a
// word. The columns do not name a conversation or a visitor so that the
// data-rights walk (KeyedTables) does not take them for personal data to
// export; deletions remove them explicitly (deleteKeyed, DeleteVisitor).
type SearchDocTerm struct {
	WorkspaceID string `gorm:"primaryKey;size:36"`
	Token       int64  `gorm:"primaryKey;autoIncrement:false"`
	Kind        string `gorm:"primaryKey;size:1"`
	DocID       string `gorm:"primaryKey;size:36;index"`
}

// SearchCursor is how far an indexer has gone through a table: LastID for
// messages, LastKey for the backfill of notes and visitors.
type SearchCursor struct {
	Name    string `gorm:"primaryKey;size:20"`
	LastID  int64  `gorm:"not null;default:0"`
	LastKey string `gorm:"size:36;not null;default:''"`
}

const (
	docNote    = "n"
	docVisitor = "v"
)

func migrateSearch(tx *gorm.DB) error {
	if err := tx.Migrator().CreateTable(&SearchKey{}, &SearchTerm{}, &SearchDocTerm{}, &SearchCursor{}); err != nil {
		return err
	}
	// The cursors start at the beginning: the first runs backfill what
	// was stored before.
	return tx.Create(&[]SearchCursor{{Name: "messages"}, {Name: "notes"}, {Name: "visitors"}}).Error
}

func searchKeyAAD(ws string) []byte { return []byte("search:" + ws + ":key") }

// maxTokens bounds the words indexed per document: a pasted log must not
// write thousands of postings.
const maxTokens = 200

// SearchWords splits text into its normalised words, once each, in order:
// lower case, accents removed (NFD, marks dropped), letters and digits
// only, at most 64 runes a word. The query and the index use it alike.
func SearchWords(text string) []string {
	var out []string
	var b strings.Builder
	n := 0
	flush := func() {
		if b.Len() > 0 {
			w := b.String()
			if !slices.Contains(out, w) {
				out = append(out, w)
			}
			b.Reset()
			n = 0
		}
	}
	for _, r := range norm.NFD.String(text) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if n < 64 {
				b.WriteRune(unicode.ToLower(r))
				n++
			}
		default:
			flush()
		}
		if len(out) >= maxTokens {
			return out
		}
	}
	flush()
	return out
}

func keyedTokens(key []byte, words []string) []int64 {
	out := make([]int64, len(words))
	for i, w := range words {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(w))
		out[i] = int64(binary.BigEndian.Uint64(m.Sum(nil)))
	}
	return out
}

// searchKey returns the workspace's search key, made on first use. Two
// nodes making it at once agree: the first insert wins and both read it.
func (s *Store) searchKey(ctx context.Context, db *gorm.DB, ws string) ([]byte, error) {
	if k, ok := s.searchKeys.Load(ws); ok {
		return k.([]byte), nil
	}
	var row SearchKey
	err := db.WithContext(ctx).Where("workspace_id = ?", ws).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		sealed, serr := s.seal(base64.StdEncoding.EncodeToString(k), searchKeyAAD(ws))
		if serr != nil {
			return nil, serr
		}
		if err := db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).
			Create(&SearchKey{WorkspaceID: ws, Secret: sealed, CreatedAt: time.Now().UTC()}).Error; err != nil {
			return nil, err
		}
		err = db.WithContext(ctx).Where("workspace_id = ?", ws).Take(&row).Error
	}
	if err != nil {
		return nil, err
	}
	enc, err := s.open(row.Secret, searchKeyAAD(ws))
	if err != nil {
		return nil, err
	}
	k, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("store: search key of %s: %w", ws, err)
	}
	s.searchKeys.Store(ws, k)
	return k, nil
}

// MessageIndexSettle is how old a message must be before IndexMessages
// takes it from the cursor. PostgreSQL hands out message ids before
// commit, so a message may become visible after one with a higher id;
// waiting behind the newest message makes that rare, and the ids the
// cursor passes over without a row are kept as gaps (SearchGap) and
// looked at again, so a later commit is still indexed.
const MessageIndexSettle = 2 * time.Second

// SearchGapKeep is how long the ids the cursor passed without a row are
// looked at again. Most gaps are ids that never get a row (a rolled-back
// insert, a message deleted before it was indexed); a commit later than
// this is left to `signaling search rebuild`.
const SearchGapKeep = time.Hour

// SearchGap is a run of message ids, FromID to ToID, that the cursor
// passed while no committed row had them, first seen at SeenAt.
type SearchGap struct {
	FromID int64     `gorm:"primaryKey;autoIncrement:false"`
	ToID   int64     `gorm:"not null"`
	SeenAt time.Time `gorm:"not null;index"`
}

// v833SearchGap is search_gaps as 2026120833_search_gaps made it.
type v833SearchGap struct {
	FromID int64     `gorm:"primaryKey;autoIncrement:false"`
	ToID   int64     `gorm:"not null"`
	SeenAt time.Time `gorm:"not null;index:idx_search_gaps_seen_at"`
}

func (v833SearchGap) TableName() string { return "search_gaps" }

func migrateSearchGaps(tx *gorm.DB) error {
	return tx.Migrator().CreateTable(&v833SearchGap{})
}

// gapsBetween lists the runs of ids after from, up to the last of ids
// (ascending), that are not in ids.
func gapsBetween(from int64, ids []int64, seen time.Time) []SearchGap {
	var out []SearchGap
	prev := from
	for _, id := range ids {
		if id > prev+1 {
			out = append(out, SearchGap{FromID: prev + 1, ToID: id - 1, SeenAt: seen})
		}
		prev = max(prev, id)
	}
	return out
}

// IndexMessages indexes up to batch messages after the cursor that are
// older than settle, and those that have since appeared in the gaps it
// passed, across workspaces (a node's maintenance, like Purge), and
// returns how many it took. The postings and the cursor (or the gaps)
// move in one transaction, only from what this call read: when several
// nodes index at once, one wins and the others write nothing.
func (s *Store) IndexMessages(ctx context.Context, batch int, now time.Time, settle time.Duration) (int, error) {
	n, err := s.indexFromCursor(ctx, batch, now, settle)
	if err != nil {
		return n, err
	}
	k, err := s.indexGaps(ctx, now)
	return n + k, err
}

const messageIndexColumns = "id, workspace_id, conversation_id, client_id, author_kind, body"

func (s *Store) indexFromCursor(ctx context.Context, batch int, now time.Time, settle time.Duration) (int, error) {
	var cur SearchCursor
	if err := s.db.WithContext(ctx).Where("name = ?", "messages").Take(&cur).Error; err != nil {
		return 0, err
	}
	var ms []Message
	if err := s.db.WithContext(ctx).Select(messageIndexColumns).
		Where("id > ? AND created_at <= ?", cur.LastID, now.Add(-settle)).Order("id").Limit(batch).Find(&ms).Error; err != nil {
		return 0, err
	}
	if len(ms) == 0 {
		return 0, nil
	}
	terms, err := s.messageTerms(ctx, ms)
	if err != nil {
		return 0, err
	}
	ids := make([]int64, len(ms))
	for i := range ms {
		ids[i] = ms[i].ID
	}
	gaps := gapsBetween(cur.LastID, ids, now)
	last := ms[len(ms)-1].ID
	err = s.transaction(ctx, func(tx *gorm.DB) error {
		if err := insertTerms(tx, terms); err != nil {
			return err
		}
		if len(gaps) > 0 {
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(gaps, 500).Error; err != nil {
				return err
			}
		}
		res := tx.Model(&SearchCursor{}).Where("name = ? AND last_id = ?", "messages", cur.LastID).Update("last_id", last)
		if res.Error == nil && res.RowsAffected == 0 {
			return errCursorMoved
		}
		return res.Error
	})
	if errors.Is(err, errCursorMoved) {
		return 0, nil
	}
	return len(ms), err
}

// indexGaps indexes the messages committed since in the gaps the cursor
// passed, and forgets gaps older than SearchGapKeep.
func (s *Store) indexGaps(ctx context.Context, now time.Time) (int, error) {
	if err := s.db.WithContext(ctx).Where("seen_at < ?", now.Add(-SearchGapKeep)).Delete(&SearchGap{}).Error; err != nil {
		return 0, err
	}
	var ms []Message
	if err := s.plain.WithContext(ctx).Raw(`SELECT m.id, m.workspace_id, m.conversation_id, m.client_id, m.author_kind, m.body
		FROM search_gaps g JOIN messages m ON m.id >= g.from_id AND m.id <= g.to_id ORDER BY m.id`).Scan(&ms).Error; err != nil {
		return 0, err
	}
	if len(ms) == 0 {
		return 0, nil
	}
	var gaps []SearchGap
	if err := s.db.WithContext(ctx).Order("from_id").Find(&gaps).Error; err != nil {
		return 0, err
	}
	terms, err := s.messageTerms(ctx, ms)
	if err != nil {
		return 0, err
	}
	err = s.transaction(ctx, func(tx *gorm.DB) error {
		if err := insertTerms(tx, terms); err != nil {
			return err
		}
		// Each gap that had messages is replaced by what is still missing
		// in it; a gap another node has handled meanwhile undoes this.
		for _, g := range gaps {
			var in []int64
			for i := range ms {
				if ms[i].ID >= g.FromID && ms[i].ID <= g.ToID {
					in = append(in, ms[i].ID)
				}
			}
			if len(in) == 0 {
				continue
			}
			res := tx.Where("from_id = ? AND to_id = ?", g.FromID, g.ToID).Delete(&SearchGap{})
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				return errCursorMoved
			}
			rest := gapsBetween(g.FromID-1, append(in, g.ToID+1), g.SeenAt)
			if len(rest) > 0 {
				if err := tx.Create(&rest).Error; err != nil {
					return err
				}
			}
		}
		return nil
	})
	if errors.Is(err, errCursorMoved) {
		return 0, nil
	}
	return len(ms), err
}

// messageTerms opens messages and keys their words.
func (s *Store) messageTerms(ctx context.Context, ms []Message) ([]SearchTerm, error) {
	var terms []SearchTerm
	for i := range ms {
		m := &ms[i]
		if m.AuthorKind == "system" {
			continue // notices the server wrote: nothing anyone searches for
		}
		body, err := s.open(m.Body, bodyAAD(m.ConversationID, m.ClientID))
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", m.ID, err)
		}
		key, err := s.searchKey(ctx, s.plain, m.WorkspaceID)
		if err != nil {
			return nil, err
		}
		for _, t := range keyedTokens(key, SearchWords(body)) {
			terms = append(terms, SearchTerm{Token: t, MessageID: m.ID})
		}
	}
	return terms, nil
}

// insertTerms writes postings in multi-row statements: built by hand, as
// gorm's reflection per row was most of the indexer's time.
func insertTerms(tx *gorm.DB, terms []SearchTerm) error {
	const rows = 1000 // 2,000 parameters, within both databases' limits
	for len(terms) > 0 {
		batch := terms[:min(rows, len(terms))]
		terms = terms[len(batch):]
		var sb strings.Builder
		args := make([]any, 0, 2*len(batch))
		sb.WriteString("INSERT INTO search_terms (token, message_id) VALUES ")
		for i, t := range batch {
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("(?,?)")
			args = append(args, t.Token, t.MessageID)
		}
		sb.WriteString(" ON CONFLICT DO NOTHING")
		if err := tx.Exec(sb.String(), args...).Error; err != nil {
			return err
		}
	}
	return nil
}

var errCursorMoved = errors.New("store: another node moved the search cursor")

// docTerms is the rows that index a note or a visitor.
func (s *Store) docTerms(ctx context.Context, db *gorm.DB, ws, kind, id string, text ...string) ([]SearchDocTerm, error) {
	key, err := s.searchKey(ctx, db, ws)
	if err != nil {
		return nil, err
	}
	toks := keyedTokens(key, SearchWords(strings.Join(text, " ")))
	out := make([]SearchDocTerm, len(toks))
	for i, t := range toks {
		out[i] = SearchDocTerm{WorkspaceID: ws, Token: t, Kind: kind, DocID: id}
	}
	return out, nil
}

// indexDoc replaces the postings of a note or a visitor.
func (s *Store) indexDoc(ctx context.Context, db *gorm.DB, ws, kind, id string, text ...string) error {
	rows, err := s.docTerms(ctx, db, ws, kind, id, text...)
	if err != nil {
		return err
	}
	if err := db.WithContext(ctx).Where("workspace_id = ? AND kind = ? AND doc_id = ?", ws, kind, id).Delete(&SearchDocTerm{}).Error; err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	return db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error
}

// indexVisitor indexes a visitor's name and email as they are now.
func (s *Scoped) indexVisitor(ctx context.Context, id string) error {
	v, err := s.Visitor(ctx, id)
	if err != nil {
		return err
	}
	return s.s.indexDoc(ctx, s.s.plain, s.ws, docVisitor, id, v.Name, v.Email)
}

// BackfillDocs indexes up to batch notes and batch visitors after their
// cursors (those stored before the index existed; a later one was indexed
// when written, and doing it again changes nothing). It returns how many
// it took.
func (s *Store) BackfillDocs(ctx context.Context, batch int) (int, error) {
	n := 0
	for _, t := range []struct{ cursor, table, kind string }{{"notes", "notes", docNote}, {"visitors", "visitors", docVisitor}} {
		var cur SearchCursor
		if err := s.db.WithContext(ctx).Where("name = ?", t.cursor).Take(&cur).Error; err != nil {
			return n, err
		}
		var rows []struct{ ID, WorkspaceID string }
		if err := s.db.WithContext(ctx).Table(t.table).Select("id, workspace_id").Where("id > ?", cur.LastKey).
			Order("id").Limit(batch).Find(&rows).Error; err != nil {
			return n, err
		}
		for _, r := range rows {
			if err := s.reindexDoc(ctx, r.WorkspaceID, t.kind, r.ID); err != nil {
				return n, err
			}
			n++
		}
		if len(rows) > 0 {
			if err := s.db.WithContext(ctx).Model(&SearchCursor{}).Where("name = ?", t.cursor).
				Update("last_key", rows[len(rows)-1].ID).Error; err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// reindexDoc indexes a stored note or visitor as it is now; one deleted
// meanwhile is passed.
func (s *Store) reindexDoc(ctx context.Context, ws, kind, id string) error {
	var err error
	if kind == docNote {
		var nt Note
		if err = s.db.WithContext(ctx).Where("workspace_id = ? AND id = ?", ws, id).Take(&nt).Error; err == nil {
			if err = s.openNote(&nt); err == nil {
				err = s.indexDoc(ctx, s.plain, ws, docNote, id, nt.Body)
			}
		}
	} else {
		err = s.Workspace(ws).indexVisitor(ctx, id)
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, gorm.ErrRecordNotFound) {
		return nil
	}
	return err
}

// rebuiltDocs are the kinds of document RebuildSearch indexes again;
// contacts' postings are written with the contact and left as they are.
var rebuiltDocs = []string{docNote, docVisitor}

// Rebuilt counts what RebuildSearch indexed.
type Rebuilt struct{ Messages, Notes, Visitors int }

// RebuildSearch throws away the index of workspace ws (every workspace
// when ws is "") and indexes its messages, notes and visitors again from
// what is stored: for a message committed later than SearchGapKeep after
// its id was passed, or an index lost or damaged. A running server may
// go on meanwhile: postings are written idempotently, and what it indexes
// during the rebuild stays. Searches of ws find only part of what they
// should until it ends. An unknown ws is ErrNotFound.
func (s *Store) RebuildSearch(ctx context.Context, ws string) (Rebuilt, error) {
	var out Rebuilt
	db := s.plain.WithContext(ctx)
	if ws != "" {
		var n int64
		if err := db.Model(&Workspace{}).Where("id = ?", ws).Count(&n).Error; err != nil || n == 0 {
			return out, notFound(cmp.Or(err, gorm.ErrRecordNotFound))
		}
		if err := db.Exec("DELETE FROM search_terms WHERE message_id IN (SELECT id FROM messages WHERE workspace_id = ?)", ws).Error; err != nil {
			return out, err
		}
		if err := db.Exec("DELETE FROM search_doc_terms WHERE workspace_id = ? AND kind IN ?", ws, rebuiltDocs).Error; err != nil {
			return out, err
		}
	} else {
		if err := db.Exec("DELETE FROM search_terms").Error; err != nil {
			return out, err
		}
		if err := db.Exec("DELETE FROM search_doc_terms WHERE kind IN ?", rebuiltDocs).Error; err != nil {
			return out, err
		}
	}
	scope := func(q *gorm.DB) *gorm.DB {
		if ws != "" {
			return q.Where("workspace_id = ?", ws)
		}
		return q
	}
	for after := int64(0); ; {
		var ms []Message
		if err := scope(db.Select(messageIndexColumns).Where("id > ?", after)).Order("id").Limit(1000).Find(&ms).Error; err != nil {
			return out, err
		}
		if len(ms) == 0 {
			break
		}
		terms, err := s.messageTerms(ctx, ms)
		if err != nil {
			return out, err
		}
		if err := s.transaction(ctx, func(tx *gorm.DB) error { return insertTerms(tx, terms) }); err != nil {
			return out, err
		}
		out.Messages += len(ms)
		after = ms[len(ms)-1].ID
	}
	for _, t := range []struct {
		table, kind string
		n           *int
	}{{"notes", docNote, &out.Notes}, {"visitors", docVisitor, &out.Visitors}} {
		for after := ""; ; {
			var rows []struct{ ID, WorkspaceID string }
			if err := scope(db.Table(t.table).Select("id, workspace_id").Where("id > ?", after)).Order("id").Limit(500).Find(&rows).Error; err != nil {
				return out, err
			}
			if len(rows) == 0 {
				break
			}
			for _, r := range rows {
				if err := s.reindexDoc(ctx, r.WorkspaceID, t.kind, r.ID); err != nil {
					return out, err
				}
			}
			*t.n += len(rows)
			after = rows[len(rows)-1].ID
		}
	}
	return out, nil
}

// deleteSearchTerms removes the postings of the workspace's conversations
// convs (their messages and notes) before those rows go.
func deleteSearchTerms(tx *gorm.DB, ws string, convs []string, out Deleted) error {
	res := tx.Exec("DELETE FROM search_terms WHERE message_id IN (SELECT id FROM messages WHERE workspace_id = ? AND conversation_id IN ?)", ws, convs)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected > 0 {
		out["search_terms"] += res.RowsAffected
	}
	return deleteIn(tx, ws, out, "search_doc_terms", "kind = ? AND doc_id IN (SELECT id FROM notes WHERE workspace_id = ? AND conversation_id IN ?)", docNote, ws, convs)
}

// Search hit kinds.
const (
	HitMessage = "message"
	HitNote    = "note"
	HitVisitor = "visitor"
	HitTag     = "tag"
)

// SearchHit is one thing a search found, opened: a message or a note (in
// a conversation, at a seq), a visitor, or a conversation with a tag of
// that name.
type SearchHit struct {
	Kind           string
	ConversationID string
	Seq            int64 // a message's; a note's AfterSeq
	MessageID      int64
	NoteID         string
	VisitorID      string
	VisitorName    string
	AuthorKind     string
	AuthorID       string
	Text           string // the message's or note's body, the visitor's name and email, the tag's name
	CreatedAt      time.Time
}

// SearchQuery is a search: its text, how many hits of each kind at most,
// and for messages, only those before a message id (the next page).
type SearchQuery struct {
	Text   string
	Limit  int
	Before int64
}

// SearchResult is a search's hits: messages newest first, then notes,
// visitors and tagged conversations.
type SearchResult struct {
	Messages, Notes, Visitors, Tagged []SearchHit
	// Words are the normalised words the hits contain, for highlighting.
	Words []string
	// Conversations are the hits' conversations, opened.
	Conversations []Conversation
}

// Search finds the workspace's messages, notes and visitors that contain
// every word of q.Text, and the conversations tagged with one of them.
func (s *Scoped) Search(ctx context.Context, q SearchQuery) (SearchResult, error) {
	words := SearchWords(q.Text)
	if len(words) > 8 {
		words = words[:8] // more words only narrow what eight found
	}
	res := SearchResult{Words: words}
	if len(words) == 0 {
		return res, nil
	}
	key, err := s.s.searchKey(ctx, s.s.plain, s.ws)
	if err != nil {
		return res, err
	}
	toks := keyedTokens(key, words)
	if res.Messages, err = s.searchMessages(ctx, toks, words, q); err != nil {
		return res, err
	}
	if res.Notes, res.Visitors, err = s.searchDocs(ctx, toks, words, q.Limit); err != nil {
		return res, err
	}
	if res.Tagged, err = s.searchTags(ctx, words, q.Limit); err != nil {
		return res, err
	}
	res.Conversations, err = s.hitConversations(ctx, res)
	return res, err
}

// hasAll says whether text has every word (the check after the keyed
// postings, which may collide).
func hasAll(text string, words []string) bool {
	have := SearchWords(text)
	for _, w := range words {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// rareCap bounds how far searchMessages counts a word's postings to find
// the rarest.
const rareCap = 5000

func (s *Scoped) searchMessages(ctx context.Context, toks []int64, words []string, q SearchQuery) ([]SearchHit, error) {
	// The rarest word's posting list is walked newest first (the primary
	// key is (token, message_id)), each other word a probe on that key:
	// walking a common word's list to find a rare one would read most of
	// it. Counts stop at rareCap, which is enough to order them.
	counts := make(map[int64]int64, len(toks))
	for _, t := range toks {
		var c int64
		if err := s.s.plain.WithContext(ctx).Raw("SELECT COUNT(*) FROM (SELECT 1 FROM search_terms WHERE token = ? LIMIT ?) x", t, rareCap).Scan(&c).Error; err != nil {
			return nil, err
		}
		if c == 0 {
			return nil, nil // a word no message has
		}
		counts[t] = c
	}
	toks = slices.Clone(toks)
	slices.SortStableFunc(toks, func(a, b int64) int { return int(counts[a] - counts[b]) })
	var sb strings.Builder
	args := []any{}
	sb.WriteString("SELECT t0.message_id FROM search_terms t0")
	for i, t := range toks[1:] {
		fmt.Fprintf(&sb, " JOIN search_terms t%d ON t%d.message_id = t0.message_id AND t%d.token = ?", i+1, i+1, i+1)
		args = append(args, t)
	}
	sb.WriteString(" JOIN messages m ON m.id = t0.message_id WHERE t0.token = ? AND m.workspace_id = ?")
	args = append(args, toks[0], s.ws)
	if q.Before > 0 {
		sb.WriteString(" AND t0.message_id < ?")
		args = append(args, q.Before)
	}
	sb.WriteString(" ORDER BY t0.message_id DESC LIMIT ?")
	args = append(args, q.Limit)
	var ids []int64
	if err := s.s.plain.WithContext(ctx).Raw(sb.String(), args...).Scan(&ids).Error; err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	var ms []Message
	if err := s.s.plain.WithContext(ctx).Where("workspace_id = ? AND id IN ?", s.ws, ids).Order("id DESC").Find(&ms).Error; err != nil {
		return nil, err
	}
	var out []SearchHit
	for i := range ms {
		if err := s.s.openMessage(&ms[i]); err != nil {
			return nil, err
		}
		m := ms[i]
		if !hasAll(m.Body, words) {
			continue
		}
		out = append(out, SearchHit{Kind: HitMessage, ConversationID: m.ConversationID, Seq: m.Seq, MessageID: m.ID,
			AuthorKind: m.AuthorKind, AuthorID: m.AuthorID, Text: m.Body, CreatedAt: m.CreatedAt})
	}
	return out, nil
}

func (s *Scoped) searchDocs(ctx context.Context, toks []int64, words []string, limit int) (notes, visitors []SearchHit, err error) {
	var rows []struct{ Kind, DocID string }
	if err := s.s.plain.WithContext(ctx).Model(&SearchDocTerm{}).Select("kind, doc_id").
		Where("workspace_id = ? AND kind IN ? AND token IN ?", s.ws, []string{docNote, docVisitor}, toks).Group("kind, doc_id").
		Having("COUNT(*) = ?", len(toks)).Order("doc_id").Limit(4 * limit).Scan(&rows).Error; err != nil {
		return nil, nil, err
	}
	var noteIDs, visitorIDs []string
	for _, r := range rows {
		if r.Kind == docNote {
			noteIDs = append(noteIDs, r.DocID)
		} else {
			visitorIDs = append(visitorIDs, r.DocID)
		}
	}
	if len(noteIDs) > 0 {
		var ns []Note
		if err := s.s.plain.WithContext(ctx).Where("workspace_id = ? AND id IN ?", s.ws, noteIDs).Order("created_at DESC").Find(&ns).Error; err != nil {
			return nil, nil, err
		}
		for i := range ns {
			if err := s.s.openNote(&ns[i]); err != nil {
				return nil, nil, err
			}
			if n := ns[i]; hasAll(n.Body, words) && len(notes) < limit {
				notes = append(notes, SearchHit{Kind: HitNote, ConversationID: n.ConversationID, Seq: n.AfterSeq, NoteID: n.ID,
					AuthorKind: "agent", AuthorID: n.AuthorID, Text: n.Body, CreatedAt: n.CreatedAt})
			}
		}
	}
	if len(visitorIDs) > 0 {
		var vs []Visitor
		if err := s.s.plain.WithContext(ctx).Where("workspace_id = ? AND id IN ?", s.ws, visitorIDs).Order("last_seen_at DESC").Find(&vs).Error; err != nil {
			return nil, nil, err
		}
		for i := range vs {
			if err := s.s.openVisitor(&vs[i]); err != nil {
				return nil, nil, err
			}
			v := vs[i]
			if text := strings.TrimSpace(v.Name + " " + v.Email); hasAll(text, words) && len(visitors) < limit {
				visitors = append(visitors, SearchHit{Kind: HitVisitor, VisitorID: v.ID, VisitorName: v.Name, Text: text, CreatedAt: v.LastSeenAt})
			}
		}
		// The visitor's latest conversation is where the hit opens.
		for i := range visitors {
			var c Conversation
			err := s.q(ctx).Select("id").Where("visitor_id = ?", visitors[i].VisitorID).Order("created_at DESC").Take(&c).Error
			if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
				return nil, nil, err
			}
			visitors[i].ConversationID = c.ID
		}
	}
	return notes, visitors, nil
}

// searchTags finds the latest conversations with a tag named like one of
// the words (tag names are not personal data and are stored plain).
func (s *Scoped) searchTags(ctx context.Context, words []string, limit int) ([]SearchHit, error) {
	var tags []Tag
	if err := s.q(ctx).Find(&tags).Error; err != nil {
		return nil, err
	}
	var out []SearchHit
	for _, t := range tags {
		if !hasAll(t.Name, words) {
			continue
		}
		var cs []Conversation
		if err := s.q(ctx).Select("id, visitor_id, updated_at").
			Where("id IN (SELECT conversation_id FROM conversation_tags WHERE workspace_id = ? AND tag_id = ?)", s.ws, t.ID).
			Order("updated_at DESC").Limit(limit).Find(&cs).Error; err != nil {
			return nil, err
		}
		for _, c := range cs {
			out = append(out, SearchHit{Kind: HitTag, ConversationID: c.ID, VisitorID: c.VisitorID, Text: t.Name, CreatedAt: c.UpdatedAt})
		}
	}
	return out, nil
}

// hitConversations returns the hits' conversations and fills in the
// visitor of each hit.
func (s *Scoped) hitConversations(ctx context.Context, res SearchResult) ([]Conversation, error) {
	all := [][]SearchHit{res.Messages, res.Notes, res.Visitors, res.Tagged}
	convs := map[string]bool{}
	for _, hs := range all {
		for _, h := range hs {
			if h.ConversationID != "" {
				convs[h.ConversationID] = true
			}
		}
	}
	if len(convs) == 0 {
		return nil, nil
	}
	var cs []Conversation
	if err := s.s.plain.WithContext(ctx).Where("workspace_id = ? AND id IN ?", s.ws, keysOf(convs)).Find(&cs).Error; err != nil {
		return nil, err
	}
	visitorOf := map[string]string{}
	vids := map[string]bool{}
	for i := range cs {
		if err := s.s.openConversation(&cs[i]); err != nil {
			return nil, err
		}
		visitorOf[cs[i].ID] = cs[i].VisitorID
		vids[cs[i].VisitorID] = true
	}
	var vs []Visitor
	if err := s.s.plain.WithContext(ctx).Where("workspace_id = ? AND id IN ?", s.ws, keysOf(vids)).Find(&vs).Error; err != nil {
		return nil, err
	}
	names := map[string]string{}
	for i := range vs {
		if err := s.s.openVisitor(&vs[i]); err != nil {
			return nil, err
		}
		names[vs[i].ID] = vs[i].Name
	}
	for _, hs := range [][]SearchHit{res.Messages, res.Notes, res.Tagged} {
		for i := range hs {
			hs[i].VisitorID = visitorOf[hs[i].ConversationID]
			hs[i].VisitorName = names[hs[i].VisitorID]
		}
	}
	return cs, nil
}

func keysOf(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
