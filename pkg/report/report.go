// Package report computes a workspace's chat reports: volume by day and
// by hour of day, response times, resolution time, queue wait, missed
// chats, ratings, the assistant's deflection and conversions, for the
// whole period and per day, site, team and agent, in the time zone the
// reader chose.
//
// A report adds the store's buckets (pkg/report/tally: what ended
// conversations add, per UTC hour of creation, site, team and agent),
// then corrects them with the conversations the buckets may not hold as
// they are now (open ones, those changed since they were counted), so it
// reads a row per hour and group plus the few live conversations. The
// definitions are tally's.
//
// Days and hours are those of each bucket's UTC hour in the reader's time
// zone: exact for zones a whole number of hours from UTC; in a zone with
// a half-hour (or 45-minute) offset, a conversation counts in the local
// hour in which its UTC hour began, so up to 30 (45) minutes early, and a
// period's bounds move likewise.
//
// Median and p90 are nearest-rank over the histogram: the value of the
// bin holding the smallest duration with at least half (nine tenths) of
// the durations at or below it. Bins are a tenth of a second below a
// minute and a second below a day (so under a day the figure is exact to
// the second), 0.55% wide above.
package report

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/parleychat/parley/pkg/report/tally"
	"github.com/parleychat/parley/pkg/store"
)

// MaxDays bounds a report's period.
const MaxDays = 366

// Query is what a report covers: the days From to To (both included, as
// dates in Location), and optionally one site, agent or team.
type Query struct {
	From, To              time.Time // dates: only year, month, day are read
	Location              *time.Location
	SiteID, AgentID, Team string
}

// Source is what a report reads (store.Scoped).
type Source interface {
	ReportBuckets(ctx context.Context, f store.ReportFilter, fn func(tally.Entry) error) error
	ReportConversations(ctx context.Context, f store.ReportFilter, fn func(store.ReportConversation) error) error
	ReportConversions(ctx context.Context, f store.ReportFilter, fn func(store.ReportConversion) error) error
}

// Durations summarises durations in seconds.
type Durations struct {
	Count  int     `json:"count"`
	Median float64 `json:"median"` // seconds; 0 when Count is 0
	P90    float64 `json:"p90"`
}

// Metrics are the figures of a set of conversations.
type Metrics struct {
	Conversations int       `json:"conversations"`
	FirstResponse Durations `json:"first_response"`
	Response      Durations `json:"response"`
	Resolution    Durations `json:"resolution"`
	QueueWait     Durations `json:"queue_wait"`
	Missed        int       `json:"missed"`
	// CSAT: how many rated, their mean (1 to 5) and the share that gave
	// 4 or 5 (0 to 1).
	Rated        int     `json:"rated"`
	CsatAverage  float64 `json:"csat_average"`
	CsatPositive float64 `json:"csat_positive"`
	// Assisted: the assistant answered; Deflected: and no person had to.
	// DeflectionRate is Deflected / Assisted.
	Assisted       int     `json:"assisted"`
	Deflected      int     `json:"deflected"`
	DeflectionRate float64 `json:"deflection_rate"`
	// Conversions: purchases attributed to these conversations
	// (store.AttributeConversion), their summed value (in Report.Currencies;
	// mixed when there are several), the share of conversations with at
	// least one (0 to 1), and how many came from conversations the
	// assistant answered in.
	Conversions         int     `json:"conversions"`
	ConversionValue     float64 `json:"conversion_value"`
	ConversionRate      float64 `json:"conversion_rate"`
	AssistedConversions int     `json:"assisted_conversions"`
}

// Row is one group's metrics: a day ("2026-03-01"), a site, a team or an
// agent (Key is its id; Name is filled by the caller).
type Row struct {
	Key  string `json:"key"`
	Name string `json:"name"`
	Metrics
}

// Report is a computed report.
type Report struct {
	From     string  `json:"from"` // dates in TimeZone
	To       string  `json:"to"`
	TimeZone string  `json:"time_zone"`
	Totals   Metrics `json:"totals"`
	// Days has one row per day of the period, empty days included.
	Days []Row `json:"days"`
	// Hours counts conversations by their hour of day (0 to 23) in
	// TimeZone.
	Hours  [24]int `json:"hours"`
	Sites  []Row   `json:"sites"`
	Teams  []Row   `json:"teams"`
	Agents []Row   `json:"agents"`
	// Currencies the conversion values are in.
	Currencies []string `json:"currencies"`
}

// Bounds is the period's start and end (exclusive) as instants.
func (q Query) Bounds() (time.Time, time.Time) {
	from := time.Date(q.From.Year(), q.From.Month(), q.From.Day(), 0, 0, 0, 0, q.Location)
	to := time.Date(q.To.Year(), q.To.Month(), q.To.Day()+1, 0, 0, 0, 0, q.Location)
	return from, to
}

// Validate checks the period.
func (q Query) Validate() error {
	if q.Location == nil {
		return fmt.Errorf("no time zone")
	}
	from, to := q.Bounds()
	if !to.After(from) {
		return fmt.Errorf("the period ends before it starts")
	}
	if days := dayCount(q); days > MaxDays {
		return fmt.Errorf("the period is at most %d days", MaxDays)
	}
	return nil
}

func dayCount(q Query) int {
	a := time.Date(q.From.Year(), q.From.Month(), q.From.Day(), 0, 0, 0, 0, time.UTC)
	b := time.Date(q.To.Year(), q.To.Month(), q.To.Day(), 0, 0, 0, 0, time.UTC)
	return int(b.Sub(a).Hours()/24) + 1
}

// acc gathers one group's values.
type acc struct {
	tally.Counts
	conversions, converted, assistedConversions int
	value                                       float64
}

func (a *acc) metrics() Metrics {
	m := Metrics{Conversations: a.Conversations, Missed: a.Missed, Rated: a.Rated, Assisted: a.Assisted, Deflected: a.Deflected,
		FirstResponse: summarise(a.FirstResponse), Response: summarise(a.Response), Resolution: summarise(a.Resolution), QueueWait: summarise(a.QueueWait)}
	if a.Rated > 0 {
		m.CsatAverage = round2(float64(a.RatingSum) / float64(a.Rated))
		m.CsatPositive = round2(float64(a.Positive) / float64(a.Rated))
	}
	if a.Assisted > 0 {
		m.DeflectionRate = round2(float64(a.Deflected) / float64(a.Assisted))
	}
	m.Conversions, m.AssistedConversions, m.ConversionValue = a.conversions, a.assistedConversions, round2(a.value)
	if a.Conversations > 0 {
		m.ConversionRate = round2(float64(a.converted) / float64(a.Conversations))
	}
	return m
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

func summarise(h tally.Hist) Durations {
	n := h.Count()
	if n == 0 {
		return Durations{}
	}
	return Durations{Count: n, Median: h.Percentile(0.5), P90: h.Percentile(0.9)}
}

// ceilHour is the first bucket hour at or after t.
func ceilHour(t time.Time) time.Time {
	h := t.UTC().Truncate(time.Hour)
	if h.Before(t) {
		h = h.Add(time.Hour)
	}
	return h
}

// Build computes the report q asks for from src.
func Build(ctx context.Context, src Source, q Query) (Report, error) {
	if err := q.Validate(); err != nil {
		return Report{}, err
	}
	from, to := q.Bounds()
	rep := Report{From: from.Format(time.DateOnly), To: to.AddDate(0, 0, -1).Format(time.DateOnly), TimeZone: q.Location.String()}
	// The buckets whose hour begins in the period (see the package comment).
	f := store.ReportFilter{From: ceilHour(from), To: ceilHour(to), SiteID: q.SiteID, AgentID: q.AgentID, Team: q.Team}
	chosen := func(k tally.Key) bool {
		return (f.SiteID == "" || k.SiteID == f.SiteID) && (f.AgentID == "" || k.AgentID == f.AgentID) && (f.Team == "" || k.Team == f.Team)
	}

	sums := map[tally.Key]*tally.Counts{}
	add := func(e tally.Entry, sign int) {
		if !chosen(e.Key) {
			return
		}
		if sums[e.Key] == nil {
			sums[e.Key] = &tally.Counts{}
		}
		sums[e.Key].Add(e.Counts, sign)
	}
	if err := src.ReportBuckets(ctx, f, func(e tally.Entry) error { add(e, 1); return nil }); err != nil {
		return Report{}, err
	}
	unsettled := f
	unsettled.Unsettled = true
	err := src.ReportConversations(ctx, unsettled, func(c store.ReportConversation) error {
		if c.Counted != nil {
			for _, e := range tally.Of(*c.Counted) {
				add(e, -1)
			}
		}
		for _, e := range tally.Of(c.Conversation) {
			add(e, 1)
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}

	total := &acc{}
	days := map[string]*acc{}
	var dayKeys []string
	for d := from; d.Before(to); d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, q.Location) {
		k := d.Format(time.DateOnly)
		days[k] = &acc{}
		dayKeys = append(dayKeys, k)
	}
	sites, teams, agents := map[string]*acc{}, map[string]*acc{}, map[string]*acc{}
	group := func(m map[string]*acc, k string) *acc {
		if m[k] == nil {
			m[k] = &acc{}
		}
		return m[k]
	}
	// The groups a bucket counts in: a conversation's own figures count
	// for its agent, answers for the agent who wrote them.
	groupsOf := func(k tally.Key) ([]*acc, error) {
		local := time.Unix(k.Hour, 0).In(q.Location)
		day := days[local.Format(time.DateOnly)]
		if day == nil { // cannot happen: the store bounds the hours
			return nil, fmt.Errorf("report: bucket %v outside the period", local)
		}
		gs := []*acc{total, day, group(sites, k.SiteID)}
		if k.Team != "" {
			gs = append(gs, group(teams, k.Team))
		}
		if agent := cmp.Or(k.AuthorID, k.AgentID); agent != "" {
			gs = append(gs, group(agents, agent))
		}
		return gs, nil
	}
	for k, c := range sums {
		gs, err := groupsOf(k)
		if err != nil {
			return Report{}, err
		}
		for _, g := range gs {
			g.Add(*c, 1)
		}
		rep.Hours[time.Unix(k.Hour, 0).In(q.Location).Hour()] += c.Conversations
	}

	currencies := map[string]bool{}
	converted := map[string]bool{}
	err = src.ReportConversions(ctx, f, func(v store.ReportConversion) error {
		if !chosen(v.Bucket) {
			return nil
		}
		gs, err := groupsOf(v.Bucket)
		if err != nil {
			return err
		}
		if v.Currency != "" {
			currencies[v.Currency] = true
		}
		for _, g := range gs {
			g.conversions++
			g.value += v.Value
			if v.Assisted {
				g.assistedConversions++
			}
			if !converted[v.ConversationID] {
				g.converted++
			}
		}
		converted[v.ConversationID] = true
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	rep.Currencies = []string{}
	for cur := range currencies {
		rep.Currencies = append(rep.Currencies, cur)
	}
	sort.Strings(rep.Currencies)

	rep.Totals = total.metrics()
	for _, k := range dayKeys {
		rep.Days = append(rep.Days, Row{Key: k, Metrics: days[k].metrics()})
	}
	rep.Sites, rep.Teams, rep.Agents = rows(sites), rows(teams), rows(agents)
	return rep, nil
}

// rows lists groups, the busiest first.
func rows(m map[string]*acc) []Row {
	out := make([]Row, 0, len(m))
	for k, a := range m {
		out = append(out, Row{Key: k, Metrics: a.metrics()})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Conversations != out[j].Conversations {
			return out[i].Conversations > out[j].Conversations
		}
		return out[i].Key < out[j].Key
	})
	return out
}
