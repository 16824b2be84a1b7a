// Package tally is what one conversation adds to a report, in a form that
// adds up and subtracts: counts and histograms of durations per UTC hour,
// site, team and agent (a Key). The store keeps the sums (report_buckets,
// written with a conversation's figures when it ends) and pkg/report adds
// them over a period, so a year's report reads a row per hour and group,
// not a row per conversation.
//
// Definitions (also in pkg/report and the README's "Reports"):
//   - first response: from a conversation's first visitor message to the
//     first agent message after it;
//   - response: for every agent message that answers visitor messages,
//     from the earliest of them it answers;
//   - resolution: from creation to closing, for closed conversations;
//   - queue wait: from creation to the first agent assignment;
//   - missed: ended (closed or offline) with a visitor message, no agent
//     message, and not deflected;
//   - deflected: closed with an answer of the assistant, no agent message
//     and no hand-off to a person.
package tally

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Response is one agent answer: for every agent message that answers
// visitor messages, the wait from the earliest of them.
type Response struct {
	AgentID string
	Wait    time.Duration
}

// Figures is what a report needs of a conversation's messages.
type Figures struct {
	VisitorMessages, AgentMessages, AssistantMessages int
	// Responses in order: the first is the first response. The
	// assistant's answers are not responses (response times are people's).
	Responses []Response
}

// Facts is what a report reads of a conversation itself.
type Facts struct {
	SiteID  string `json:"s"`
	Team    string `json:"t,omitempty"`
	AgentID string `json:"a,omitempty"`
	// Closed: its status is closed; Ended: closed or offline.
	Closed     bool       `json:"c,omitempty"`
	Ended      bool       `json:"e,omitempty"`
	HandedOff  bool       `json:"h,omitempty"`
	CsatRating int        `json:"r,omitempty"`
	CreatedAt  time.Time  `json:"at"`
	AssignedAt *time.Time `json:"as,omitempty"`
	ClosedAt   *time.Time `json:"cl,omitempty"`
}

// Conversation is one conversation as a report counts it.
type Conversation struct {
	Facts
	Figures
}

// Key is a bucket: the UTC hour conversations were created in, their
// site, team and agent (the conversation's), and AuthorID: "" for the
// conversations' own figures, else the agent whose answers the bucket
// holds (answers count for who wrote them).
type Key struct {
	Hour                  int64 // Unix seconds of the hour's start
	SiteID, Team, AgentID string
	AuthorID              string
}

// HourOf is the bucket hour of an instant.
func HourOf(t time.Time) int64 { return t.UTC().Truncate(time.Hour).Unix() }

// Counts are a bucket's figures.
type Counts struct {
	Conversations, Missed, Rated, RatingSum, Positive, Assisted, Deflected int
	FirstResponse, Response, Resolution, QueueWait                         Hist
}

// Entry is a bucket and what a conversation adds to it.
type Entry struct {
	Key
	Counts
}

// Of lists what c adds to the buckets: its own figures, then one entry
// per agent who answered in it.
func Of(c Conversation) []Entry {
	key := Key{Hour: HourOf(c.CreatedAt), SiteID: c.SiteID, Team: c.Team, AgentID: c.AgentID}
	own := Entry{Key: key, Counts: Counts{Conversations: 1}}
	agentWrote, assistantWrote := c.AgentMessages > 0, c.AssistantMessages > 0
	deflected := assistantWrote && !agentWrote && !c.HandedOff && c.Closed
	if c.ClosedAt != nil && c.Closed {
		own.Resolution = own.Resolution.With(seconds(c.ClosedAt.Sub(c.CreatedAt)))
	}
	if c.AssignedAt != nil {
		own.QueueWait = own.QueueWait.With(seconds(c.AssignedAt.Sub(c.CreatedAt)))
	}
	if c.CsatRating > 0 {
		own.Rated, own.RatingSum = 1, c.CsatRating
		if c.CsatRating >= 4 {
			own.Positive = 1
		}
	}
	if assistantWrote {
		own.Assisted = 1
	}
	if deflected {
		own.Deflected = 1
	}
	if c.Ended && c.VisitorMessages > 0 && !agentWrote && !deflected {
		own.Missed = 1
	}
	out := []Entry{own}
	at := map[string]int{}
	for i, r := range c.Responses {
		j, ok := at[r.AgentID]
		if !ok {
			j = len(out)
			at[r.AgentID] = j
			k := key
			k.AuthorID = r.AgentID
			out = append(out, Entry{Key: k})
		}
		d := seconds(r.Wait)
		out[j].Response = out[j].Response.With(d)
		if i == 0 {
			out[j].FirstResponse = out[j].FirstResponse.With(d)
		}
	}
	return out
}

func seconds(d time.Duration) float64 { return max(d.Seconds(), 0) }

// Add adds o times sign (1 or -1) to c.
func (c *Counts) Add(o Counts, sign int) {
	c.Conversations += sign * o.Conversations
	c.Missed += sign * o.Missed
	c.Rated += sign * o.Rated
	c.RatingSum += sign * o.RatingSum
	c.Positive += sign * o.Positive
	c.Assisted += sign * o.Assisted
	c.Deflected += sign * o.Deflected
	c.FirstResponse = c.FirstResponse.Add(o.FirstResponse, sign)
	c.Response = c.Response.Add(o.Response, sign)
	c.Resolution = c.Resolution.Add(o.Resolution, sign)
	c.QueueWait = c.QueueWait.Add(o.QueueWait, sign)
}

// Hist counts durations by bin (see Bin); nil is empty.
type Hist map[int32]int

// The bins: a tenth of a second below a minute, a second below a day, and
// 64 per doubling above (within 0.55%). Response times and queue waits
// are nearly always under a day, so their percentiles are exact to the
// tenth of a second under a minute and to the second under a day.
const (
	secondBins = 600                     // first bin of whole seconds (60 s)
	dayBins    = secondBins + 86400 - 60 // first bin above a day
	perOctave  = 64
)

// Bin is the bin of a duration in seconds.
func Bin(s float64) int32 {
	s = max(s, 0)
	if t := math.Round(s * 10); t < secondBins {
		return int32(t)
	}
	if r := math.Round(s); r < 86400 {
		return secondBins + int32(r) - 60
	}
	return dayBins + int32(math.Floor(perOctave*math.Log2(s/86400)))
}

// Value is the duration in seconds a bin stands for: itself below a day,
// the geometric middle of the bin above.
func Value(b int32) float64 {
	switch {
	case b < secondBins:
		return float64(b) / 10
	case b < dayBins:
		return float64(b - secondBins + 60)
	}
	return math.Round(86400 * math.Exp2((float64(b-dayBins)+0.5)/perOctave))
}

// With is h with one more duration of s seconds.
func (h Hist) With(s float64) Hist {
	if h == nil {
		h = Hist{}
	}
	h[Bin(s)]++
	return h
}

// Add adds o times sign to h and returns it; bins that fall to zero go.
func (h Hist) Add(o Hist, sign int) Hist {
	if len(o) == 0 {
		return h
	}
	if h == nil {
		h = make(Hist, len(o))
	}
	for b, n := range o {
		if h[b] += sign * n; h[b] == 0 {
			delete(h, b)
		}
	}
	return h
}

// Count is how many durations h holds.
func (h Hist) Count() int {
	n := 0
	for _, c := range h {
		n += c
	}
	return n
}

// Percentile is the nearest-rank p-th percentile (0 < p <= 1): the value
// of the bin holding the smallest duration with at least p of them at or
// below it; 0 when h is empty.
func (h Hist) Percentile(p float64) float64 {
	n := h.Count()
	if n == 0 {
		return 0
	}
	bins := make([]int32, 0, len(h))
	for b := range h {
		bins = append(bins, b)
	}
	sort.Slice(bins, func(i, j int) bool { return bins[i] < bins[j] })
	want, seen := max(int(math.Ceil(p*float64(n))), 1), 0
	for _, b := range bins {
		if seen += h[b]; seen >= want {
			return Value(b)
		}
	}
	return Value(bins[len(bins)-1])
}

// String writes h as "bin:count" pairs in bin order, space-separated.
func (h Hist) String() string {
	bins := make([]int32, 0, len(h))
	for b := range h {
		bins = append(bins, b)
	}
	sort.Slice(bins, func(i, j int) bool { return bins[i] < bins[j] })
	var sb strings.Builder
	for i, b := range bins {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(strconv.Itoa(int(b)))
		sb.WriteByte(':')
		sb.WriteString(strconv.Itoa(h[b]))
	}
	return sb.String()
}

// ParseHist reads what String wrote.
func ParseHist(s string) (Hist, error) {
	if s == "" {
		return nil, nil
	}
	h := Hist{}
	for _, pair := range strings.Split(s, " ") {
		b, n, ok := strings.Cut(pair, ":")
		bin, err1 := strconv.ParseInt(b, 10, 32)
		count, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("tally: bad histogram entry %q", pair)
		}
		h[int32(bin)] += count
	}
	return h, nil
}
