package knowledge

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/de" // registers the analyzers named below
	_ "github.com/blevesearch/bleve/v2/analysis/lang/en"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/es"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/fr"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/it"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/nl"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/pt"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/parleychat/parley/pkg/store"
)

// Languages are the languages whose articles are analysed with their own
// stemmer and stop words; an article in any other language is analysed
// with the standard (Unicode word) analyzer.
var Languages = []string{"en", "es", "fr", "de", "pt", "it", "nl"}

const otherLanguage = "std"

// analyzerOf is the analyzer (and field suffix) for a language tag.
func analyzerOf(tag string) string {
	base, _, _ := strings.Cut(strings.ToLower(tag), "-")
	for _, l := range Languages {
		if base == l {
			return l
		}
	}
	return otherLanguage
}

func analyzerName(lang string) string {
	if lang == otherLanguage {
		return standard.Name
	}
	return lang
}

// Index is one node's full-text index of every workspace's published
// passages. Each passage carries its workspace and site, and every search
// is limited to one site of one workspace. It is safe for concurrent use.
//
// Each node keeps its own index, under its data directory, and derives it
// from the store: Reconcile brings it up to date at start (a missing index
// is built whole), and Update follows every edit (the editing node's own,
// and other nodes' through the bus).
type Index struct {
	bi bleve.Index
	im *mapping.IndexMappingImpl
}

func newMapping() *mapping.IndexMappingImpl {
	im := bleve.NewIndexMapping()
	im.DefaultAnalyzer = standard.Name
	im.ScoringModel = "bm25"
	dm := bleve.NewDocumentMapping()
	dm.Dynamic = false
	keyword := func() *mapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Store, f.IncludeInAll, f.DocValues = true, false, false
		return f
	}
	for _, f := range []string{"ws", "site", "article", "lang", "first", "updated"} {
		dm.AddFieldMappingsAt(f, keyword())
	}
	stored := func() *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Index, f.Store, f.IncludeInAll, f.IncludeTermVectors = false, true, false, false
		return f
	}
	for _, f := range []string{"title", "heading", "body"} {
		dm.AddFieldMappingsAt(f, stored())
	}
	for _, l := range append(append([]string(nil), Languages...), otherLanguage) {
		for _, f := range []string{"text_", "title_"} {
			tf := bleve.NewTextFieldMapping()
			tf.Analyzer = analyzerName(l)
			tf.Store, tf.IncludeInAll, tf.IncludeTermVectors, tf.DocValues = false, false, false, false
			dm.AddFieldMappingsAt(f+l, tf)
		}
	}
	im.DefaultMapping = dm
	return im
}

// Open opens the index at dir, creating it when missing. An empty dir
// keeps the index in memory (tests, a node without a data directory).
func Open(dir string) (*Index, error) {
	im := newMapping()
	if dir == "" {
		bi, err := bleve.NewMemOnly(im)
		return &Index{bi: bi, im: im}, err
	}
	bi, err := bleve.Open(dir)
	if errors.Is(err, bleve.ErrorIndexPathDoesNotExist) {
		bi, err = bleve.New(dir, im)
	} else if err == nil {
		if m, ok := bi.Mapping().(*mapping.IndexMappingImpl); ok {
			im = m
		}
	}
	if err != nil {
		return nil, fmt.Errorf("knowledge index %s: %w (delete the folder to rebuild it from the store)", dir, err)
	}
	return &Index{bi: bi, im: im}, nil
}

// Close closes the index.
func (ix *Index) Close() error { return ix.bi.Close() }

func passageID(articleID string, n int) string { return fmt.Sprintf("%s#%d", articleID, n) }

// Put indexes a published article's passages in place of its old ones;
// an unpublished article is removed.
func (ix *Index) Put(a store.Article) error {
	b := ix.bi.NewBatch()
	if err := ix.deleteInto(b, a.ID); err != nil {
		return err
	}
	if a.Published {
		lang := analyzerOf(a.Language)
		updated := a.UpdatedAt.UTC().Format(time.RFC3339Nano)
		ps := Split(a.Body)
		if len(ps) == 0 {
			ps = []Passage{{Text: a.Title}}
		}
		for _, p := range ps {
			doc := map[string]any{
				"ws": a.WorkspaceID, "site": a.SiteID, "article": a.ID, "lang": a.Language, "updated": updated,
				"title": a.Title, "heading": p.Heading, "body": p.Text,
				"title_" + lang: a.Title + " " + strings.ReplaceAll(a.Tags, ",", " "),
				"text_" + lang:  p.Heading + "\n" + p.Text,
			}
			if p.N == 0 {
				doc["first"] = "y"
			}
			if err := b.Index(passageID(a.ID, p.N), doc); err != nil {
				return err
			}
		}
	}
	return ix.bi.Batch(b)
}

// Remove drops an article's passages.
func (ix *Index) Remove(articleID string) error {
	b := ix.bi.NewBatch()
	if err := ix.deleteInto(b, articleID); err != nil {
		return err
	}
	return ix.bi.Batch(b)
}

func (ix *Index) deleteInto(b *bleve.Batch, articleID string) error {
	q := bleve.NewTermQuery(articleID)
	q.SetField("article")
	req := bleve.NewSearchRequestOptions(q, 10000, 0, false)
	res, err := ix.bi.Search(req)
	if err != nil {
		return err
	}
	for _, h := range res.Hits {
		b.Delete(h.ID)
	}
	return nil
}

// Update brings one article up to date from the store: indexed when it is
// published, removed when it is not or is gone.
func (ix *Index) Update(ctx context.Context, st *store.Store, workspaceID, articleID string) error {
	a, err := st.Workspace(workspaceID).Article(ctx, articleID)
	if errors.Is(err, store.ErrNotFound) {
		return ix.Remove(articleID)
	}
	if err != nil {
		return err
	}
	return ix.Put(a)
}

// Reconcile makes the index match the store: articles changed since they
// were indexed are indexed again, articles gone or unpublished are
// removed. On an empty index it builds everything. It returns how many
// articles it indexed or removed.
func (ix *Index) Reconcile(ctx context.Context, st *store.Store) (int, error) {
	indexed := map[string]string{} // article → its updated stamp in the index
	q := bleve.NewTermQuery("y")
	q.SetField("first")
	for from := 0; ; from += 1000 {
		req := bleve.NewSearchRequestOptions(q, 1000, from, false)
		req.Fields = []string{"article", "updated"}
		res, err := ix.bi.Search(req)
		if err != nil {
			return 0, err
		}
		for _, h := range res.Hits {
			a, _ := h.Fields["article"].(string)
			u, _ := h.Fields["updated"].(string)
			indexed[a] = u
		}
		if len(res.Hits) < 1000 {
			break
		}
	}
	n := 0
	err := st.EachArticle(ctx, func(a store.Article) error {
		stamp, had := indexed[a.ID]
		delete(indexed, a.ID)
		if !a.Published && !had {
			return nil
		}
		if a.Published && had && stamp == a.UpdatedAt.UTC().Format(time.RFC3339Nano) {
			return nil
		}
		n++
		return ix.Put(a)
	})
	if err != nil {
		return n, err
	}
	for id := range indexed {
		n++
		if err := ix.Remove(id); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Hit is one passage found for a question.
type Hit struct {
	ArticleID string
	Title     string
	Heading   string
	Text      string
	Language  string
	Passage   int
	// Score is the index's BM25 score (comparable within one search only).
	Score float64
	// Coverage is the share (0–1) of the question's words, as analysed in
	// the passage's language, that the passage or its title contains: the
	// measure the built-in assistant decides to answer on.
	Coverage float64
}

// Search returns up to n passages of one site's published articles that
// best answer question, best first, at most one per article.
func (ix *Index) Search(ctx context.Context, workspaceID, siteID, question string, n int) ([]Hit, error) {
	question = strings.TrimSpace(question)
	if question == "" || n <= 0 {
		return nil, nil
	}
	var any []query.Query
	for _, l := range append(append([]string(nil), Languages...), otherLanguage) {
		t := bleve.NewMatchQuery(question)
		t.SetField("text_" + l)
		ti := bleve.NewMatchQuery(question)
		ti.SetField("title_" + l)
		ti.SetBoost(1.5)
		any = append(any, t, ti)
	}
	ws := bleve.NewTermQuery(workspaceID)
	ws.SetField("ws")
	site := bleve.NewTermQuery(siteID)
	site.SetField("site")
	q := bleve.NewConjunctionQuery(ws, site, bleve.NewDisjunctionQuery(any...))
	req := bleve.NewSearchRequestOptions(q, n*4, 0, false)
	req.Fields = []string{"article", "title", "heading", "body", "lang"}
	res, err := ix.bi.SearchInContext(ctx, req)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []Hit
	for _, h := range res.Hits {
		str := func(f string) string { s, _ := h.Fields[f].(string); return s }
		a := str("article")
		if seen[a] {
			continue
		}
		seen[a] = true
		p := 0
		if _, after, ok := strings.Cut(h.ID, "#"); ok {
			fmt.Sscan(after, &p)
		}
		hit := Hit{ArticleID: a, Title: str("title"), Heading: str("heading"), Text: str("body"), Language: str("lang"), Passage: p, Score: h.Score}
		hit.Coverage = ix.coverage(question, hit)
		out = append(out, hit)
		if len(out) == n {
			break
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out, nil
}

// coverage is the share of the question's analysed terms found among the
// passage's (title, heading and text), in the passage's language.
func (ix *Index) coverage(question string, h Hit) float64 {
	an := ix.im.AnalyzerNamed(analyzerName(analyzerOf(h.Language)))
	if an == nil {
		return 0
	}
	terms := func(s string) map[string]bool {
		out := map[string]bool{}
		for _, t := range an.Analyze([]byte(s)) {
			if len([]rune(string(t.Term))) > 1 {
				out[string(t.Term)] = true
			}
		}
		return out
	}
	q := terms(question)
	if len(q) == 0 {
		return 0
	}
	have := terms(h.Title + " " + h.Heading + " " + h.Text)
	found := 0
	for t := range q {
		if have[t] {
			found++
		}
	}
	return float64(found) / float64(len(q))
}

// RemoveDir deletes an index folder (used when it cannot be opened: it is
// derived data, rebuilt from the store).
func RemoveDir(dir string) error { return os.RemoveAll(dir) }
