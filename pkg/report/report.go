// Package report computes a workspace's chat reports from stored
// conversations and their message figures (store.ReportConversations,
// computed once per ended conversation): volume by day and by hour of day, response times,
// resolution time, queue wait, missed chats, ratings and the assistant's
// deflection, for the whole period and per day, site, team and agent, in
// the time zone the reader chose.
//
// Definitions (also in the README's "Reports"):
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
//
// The assistant's answers do not count as responses (response times are
// people's). Median and p90 are nearest-rank: the smallest value with at
// least half (nine tenths) of the values at or below it, so every figure is
// one that happened.
package report

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

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
	conversations, missed, rated, ratingSum, positive, assisted, deflected int
	conversions, converted, assistedConversions                            int
	value                                                                  float64
	first, response, resolution, queue                                     []float64
}

func (a *acc) metrics() Metrics {
	m := Metrics{Conversations: a.conversations, Missed: a.missed, Rated: a.rated, Assisted: a.assisted, Deflected: a.deflected,
		FirstResponse: summarise(a.first), Response: summarise(a.response), Resolution: summarise(a.resolution), QueueWait: summarise(a.queue)}
	if a.rated > 0 {
		m.CsatAverage = round2(float64(a.ratingSum) / float64(a.rated))
		m.CsatPositive = round2(float64(a.positive) / float64(a.rated))
	}
	if a.assisted > 0 {
		m.DeflectionRate = round2(float64(a.deflected) / float64(a.assisted))
	}
	m.Conversions, m.AssistedConversions, m.ConversionValue = a.conversions, a.assistedConversions, round2(a.value)
	if a.conversations > 0 {
		m.ConversionRate = round2(float64(a.converted) / float64(a.conversations))
	}
	return m
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

func summarise(v []float64) Durations {
	if len(v) == 0 {
		return Durations{}
	}
	sort.Float64s(v)
	return Durations{Count: len(v), Median: rank(v, 0.5), P90: rank(v, 0.9)}
}

// rank is the nearest-rank percentile of sorted v.
func rank(v []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(v)))) - 1
	return math.Round(v[max(i, 0)]*10) / 10
}

// conv is one conversation of the report.
type conv struct {
	c         store.ReportConversation
	day       string
	converted bool
}

// Build computes the report q asks for from src.
func Build(ctx context.Context, src Source, q Query) (Report, error) {
	if err := q.Validate(); err != nil {
		return Report{}, err
	}
	from, to := q.Bounds()
	f := store.ReportFilter{From: from, To: to, SiteID: q.SiteID, AgentID: q.AgentID, Team: q.Team}
	rep := Report{From: from.Format(time.DateOnly), To: to.AddDate(0, 0, -1).Format(time.DateOnly), TimeZone: q.Location.String()}

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
	// The groups a conversation's own figures count in; replies count for
	// the agent who wrote them instead of the conversation's agent.
	groupsOf := func(c *conv) []*acc {
		gs := []*acc{total, days[c.day], group(sites, c.c.SiteID)}
		if c.c.Team != "" {
			gs = append(gs, group(teams, c.c.Team))
		}
		if c.c.AgentID != "" {
			gs = append(gs, group(agents, c.c.AgentID))
		}
		return gs
	}
	replyGroups := func(c *conv, author string) []*acc {
		gs := []*acc{total, days[c.day], group(sites, c.c.SiteID)}
		if c.c.Team != "" {
			gs = append(gs, group(teams, c.c.Team))
		}
		if author != "" {
			gs = append(gs, group(agents, author))
		}
		return gs
	}

	convs := map[string]*conv{}
	err := src.ReportConversations(ctx, f, func(c store.ReportConversation) error {
		local := c.CreatedAt.In(q.Location)
		cv := &conv{c: c, day: local.Format(time.DateOnly)}
		if days[cv.day] == nil { // cannot happen: the store bounds created_at
			return fmt.Errorf("report: conversation %s outside the period", c.ID)
		}
		convs[c.ID] = cv
		rep.Hours[local.Hour()]++
		fig := c.Figures
		agentWrote, assistantWrote := fig.AgentMessages > 0, fig.AssistantMessages > 0
		ended := c.Status == "closed" || c.Status == store.StatusOffline
		deflected := assistantWrote && !agentWrote && !c.HandedOff && c.Status == "closed"
		missed := ended && fig.VisitorMessages > 0 && !agentWrote && !deflected
		for _, g := range groupsOf(cv) {
			g.conversations++
			if c.ClosedAt != nil && c.Status == "closed" {
				g.resolution = append(g.resolution, secs(c.ClosedAt.Sub(c.CreatedAt)))
			}
			if c.AssignedAt != nil {
				g.queue = append(g.queue, secs(c.AssignedAt.Sub(c.CreatedAt)))
			}
			if c.CsatRating > 0 {
				g.rated++
				g.ratingSum += c.CsatRating
				if c.CsatRating >= 4 {
					g.positive++
				}
			}
			if assistantWrote {
				g.assisted++
			}
			if deflected {
				g.deflected++
			}
			if missed {
				g.missed++
			}
		}
		for i, r := range fig.Responses {
			d := secs(r.Wait)
			for _, g := range replyGroups(cv, r.AgentID) {
				g.response = append(g.response, d)
				if i == 0 {
					g.first = append(g.first, d)
				}
			}
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}

	currencies := map[string]bool{}
	err = src.ReportConversions(ctx, f, func(v store.ReportConversion) error {
		c := convs[v.ConversationID]
		if c == nil {
			return nil
		}
		if v.Currency != "" {
			currencies[v.Currency] = true
		}
		for _, g := range groupsOf(c) {
			g.conversions++
			g.value += v.Value
			if v.Assisted {
				g.assistedConversions++
			}
			if !c.converted {
				g.converted++
			}
		}
		c.converted = true
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

func secs(d time.Duration) float64 { return max(d.Seconds(), 0) }

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
