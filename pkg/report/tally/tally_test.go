package tally_test

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/report/tally"
)

// The histogram's nearest-rank percentiles are within the stated
// precision of the exact ones: 0.05 s below a minute, 0.5 s below a day,
// 0.55% above; and a bin's value falls in its own bin.
func TestPercentilePrecision(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		n := 1 + rnd.IntN(500)
		scale := []float64{30, 3000, 300000, 3e7}[round%4]
		var h tally.Hist
		v := make([]float64, n)
		for i := range v {
			v[i] = rnd.ExpFloat64() * scale
			h = h.With(v[i])
		}
		sort.Float64s(v)
		for _, p := range []float64{0.5, 0.9} {
			exact := v[max(int(math.Ceil(p*float64(n)))-1, 0)]
			got := h.Percentile(p)
			var allowed float64
			switch {
			case exact < 59.95:
				allowed = 0.05 + 1e-9
			case exact < 86399.5:
				allowed = 0.5 + 1e-9
			default:
				allowed = exact*0.0055 + 0.5
			}
			if math.Abs(got-exact) > allowed {
				t.Fatalf("n=%d p=%v: %v, exact %v (allowed %v)", n, p, got, exact, allowed)
			}
		}
	}
	for _, s := range []float64{0, 0.04, 0.05, 59.94, 59.96, 60, 3599.4, 86399.4, 86399.6, 86400, 1e6, 3.2e7} {
		if b := tally.Bin(s); tally.Bin(tally.Value(b)) != b {
			t.Errorf("%v: bin %d, its value %v is in bin %d", s, b, tally.Value(b), tally.Bin(tally.Value(b)))
		}
	}
}

// A histogram reads back as written; adding and taking away the same
// conversation leaves nothing.
func TestCountsAddUp(t *testing.T) {
	h := tally.Hist{}.With(1.5).With(90).With(90).With(2e6)
	back, err := tally.ParseHist(h.String())
	if err != nil || back.String() != h.String() || back.Count() != 4 {
		t.Fatalf("%q read back as %q (%v)", h.String(), back.String(), err)
	}
	if _, err := tally.ParseHist("1:2 x"); err == nil {
		t.Error("a bad histogram read without error")
	}
	at := time.Date(2026, 3, 1, 10, 20, 0, 0, time.UTC)
	c := tally.Conversation{
		Facts: tally.Facts{SiteID: "s", Team: "sales", AgentID: "a", Closed: true, Ended: true, CsatRating: 5, CreatedAt: at,
			AssignedAt: ptr(at.Add(time.Minute)), ClosedAt: ptr(at.Add(time.Hour))},
		Figures: tally.Figures{VisitorMessages: 2, AgentMessages: 2,
			Responses: []tally.Response{{AgentID: "a", Wait: 30 * time.Second}, {AgentID: "b", Wait: 5 * time.Second}}},
	}
	entries := tally.Of(c)
	if len(entries) != 3 || entries[0].AuthorID != "" || entries[1].AuthorID != "a" || entries[2].AuthorID != "b" ||
		entries[0].Hour != at.Truncate(time.Hour).Unix() || entries[1].FirstResponse.Count() != 1 || entries[2].FirstResponse.Count() != 0 {
		t.Fatalf("entries %+v", entries)
	}
	var sum tally.Counts
	for _, e := range entries {
		sum.Add(e.Counts, 1)
	}
	for _, e := range entries {
		sum.Add(e.Counts, -1)
	}
	if sum.Conversations != 0 || sum.Rated != 0 || len(sum.Response) != 0 || len(sum.QueueWait) != 0 || len(sum.Resolution) != 0 {
		t.Errorf("left %+v", sum)
	}
}

func ptr[T any](v T) *T { return &v }
