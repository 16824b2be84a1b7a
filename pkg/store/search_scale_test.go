package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleychat/parley/pkg/keyring"
)

// TestSearchScale measures search over a generated archive: set
// PARLEY_SEARCH_MESSAGES (make bench-search uses 1,000,000) and, for
// PostgreSQL too, PARLEY_TEST_POSTGRES. Bodies are 8 to 16 words drawn
// from a Zipf-distributed vocabulary of 20,000 (so a few words are in most
// messages and most words in few), sealed as the server seals them; one
// message holds a word no other has. It logs the time to index the whole
// archive from the cursor and the query times; it checks the results,
// not the times (speed is for benchmarks).
func TestSearchScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PARLEY_SEARCH_MESSAGES"))
	if n <= 0 {
		t.Skip("PARLEY_SEARCH_MESSAGES is not set")
	}
	stores := map[string]string{"sqlite": "sqlite://" + t.TempDir() + "/scale.db"}
	if pg := os.Getenv("PARLEY_TEST_POSTGRES"); pg != "" {
		stores["postgres"] = pg
	}
	for name, url := range stores {
		t.Run(name, func(t *testing.T) { searchScale(t, url, n) })
	}
}

func searchScale(t *testing.T, url string, n int) {
	ctx := context.Background()
	k, _ := keyring.GenerateKey("k1")
	kr, _ := keyring.New(k)
	if strings.HasPrefix(url, "postgres") {
		// A schema of its own, dropped after (storetest cannot be imported
		// from package store: it imports store).
		schema := "scale_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
		admin, err := Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		admin.Gorm().Exec("CREATE SCHEMA " + schema)
		defer func() { admin.Gorm().Exec("DROP SCHEMA " + schema + " CASCADE"); admin.Close() }()
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		url += sep + "search_path=" + schema
	}
	s, err := Open(ctx, url, WithSealer(kr))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ws := Workspace{ID: uuid.NewString(), Name: "Scale"}
	site := Site{ID: uuid.NewString(), Name: "scale.test", Secret: "s"}
	if err := s.CreateWorkspace(ctx, ws, site, Agent{ID: uuid.NewString(), Email: "a@scale.test", Name: "A", Role: "admin", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	sc := s.Workspace(ws.ID)
	v, err := sc.CreateVisitor(ctx, Visitor{ID: uuid.NewString(), SiteID: site.ID, Name: "Visitor"})
	if err != nil {
		t.Fatal(err)
	}

	rnd := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rnd, 1.1, 1, 19999)
	word := func() string { return "w" + strconv.FormatUint(zipf.Uint64(), 36) }
	const perConv = 10
	needleAt := n / 3
	start := time.Now()
	base := time.Now().Add(-time.Hour)
	for done := 0; done < n; done += 5000 {
		var cs []Conversation
		var ms []Message
		for i := done; i < min(done+5000, n); i++ {
			if i%perConv == 0 {
				cs = append(cs, Conversation{ID: uuid.NewString(), WorkspaceID: ws.ID, SiteID: site.ID, VisitorID: v.ID, Status: "closed", CreatedAt: base, UpdatedAt: base})
			}
			c := cs[len(cs)-1]
			words := make([]string, 8+rnd.IntN(9))
			for j := range words {
				words[j] = word()
			}
			if i == needleAt {
				words = append(words, "needleword")
			}
			clientID := fmt.Sprint("g", i)
			body, err := s.seal(strings.Join(words, " "), bodyAAD(c.ID, clientID))
			if err != nil {
				t.Fatal(err)
			}
			ms = append(ms, Message{WorkspaceID: ws.ID, ConversationID: c.ID, Seq: int64(i%perConv + 1), ClientID: clientID,
				AuthorKind: []string{"visitor", "agent"}[i%2], AuthorID: v.ID, Body: body, CreatedAt: base})
		}
		if err := s.plain.WithContext(ctx).CreateInBatches(cs, 500).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.plain.WithContext(ctx).CreateInBatches(ms, 1000).Error; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d messages in %d conversations generated and stored in %s", n, n/perConv, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	indexed := 0
	for {
		k, err := s.IndexMessages(ctx, 2000, time.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			break
		}
		indexed += k
	}
	// As autovacuum would after such a load: the planner needs the
	// tables' sizes.
	if err := s.Gorm().Exec("ANALYZE").Error; err != nil {
		t.Fatal(err)
	}
	var postings int64
	s.Gorm().Raw("SELECT COUNT(*) FROM search_terms").Scan(&postings)
	took := time.Since(start)
	t.Logf("indexed %d messages (%d postings) from the cursor in %s: %.0f messages/s", indexed, postings, took.Round(time.Millisecond), float64(indexed)/took.Seconds())

	// The most common word, a mid one, the needle, and pairs.
	for _, q := range []struct {
		text string
		want func(int) bool
	}{
		{"needleword", func(h int) bool { return h == 1 }},
		{"w1 needleword", func(h int) bool { return h <= 1 }},
		{"w1", func(h int) bool { return h == 20 }},
		{"w1 w2", func(h int) bool { return h == 20 }},
		{"w" + strconv.FormatInt(500, 36), func(h int) bool { return h == 20 }},
		{"w1 w" + strconv.FormatInt(3000, 36), func(h int) bool { return h > 0 }},
		{"nosuchword", func(h int) bool { return h == 0 }},
	} {
		var times []time.Duration
		hits := 0
		for range 15 {
			t0 := time.Now()
			r, err := sc.Search(ctx, SearchQuery{Text: q.text, Limit: 20})
			if err != nil {
				t.Fatal(err)
			}
			times = append(times, time.Since(t0))
			hits = len(r.Messages)
		}
		slices.Sort(times)
		if !q.want(hits) {
			t.Errorf("%q: %d hits", q.text, hits)
		}
		t.Logf("query %-14q %2d hits: median %s, max %s", q.text, hits, times[len(times)/2].Round(10*time.Microsecond), times[len(times)-1].Round(10*time.Microsecond))
	}
}
