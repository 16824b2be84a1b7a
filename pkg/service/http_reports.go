package service

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
	"github.com/parleychat/parley/pkg/report"
	"github.com/parleychat/parley/pkg/store"
)

// Reports (pkg/report): GET /api/reports for the dashboard (admins and
// supervisors) and GET /api/v1/reports for API tokens, as JSON or CSV.
// The query is the same for all: from and to (dates, both included;
// default the last 7 days), tz (an IANA zone; default UTC), and the
// optional site, agent and team filters.

// reportStore is what reports read of one workspace.
type reportStore interface {
	report.Source
	Sites(ctx context.Context) ([]store.Site, error)
	Agents(ctx context.Context) ([]store.Agent, error)
}

// reportsAPI serves the reports.
type reportsAPI struct {
	store func(workspaceID string) reportStore
	now   func() time.Time
}

func (s *Server) reportsAPI() *reportsAPI {
	return &reportsAPI{store: func(ws string) reportStore { return s.store.Workspace(ws) }, now: time.Now}
}

var reportQueries = []apiQuery{
	{Name: "from", Description: "first day, YYYY-MM-DD in tz (default: 6 days before to)"},
	{Name: "to", Description: "last day, YYYY-MM-DD in tz, included (default: today)"},
	{Name: "tz", Description: "IANA time zone the days and hours are in (default UTC)"},
	{Name: "site", Description: "only this site's conversations"},
	{Name: "agent", Description: "only the conversations this agent has"},
	{Name: "team", Description: "only this team's conversations"},
}

var (
	docReport = apiDoc{ID: "getReport", Summary: "Chat report: volume, response times, resolution, queue wait, missed chats, CSAT, assistant deflection, per day, site, team and agent",
		Query: reportQueries, Response: report.Report{}}
	docReportCSV = apiDoc{ID: "getReportCSV", Summary: "The same report as CSV: a total row, then a row per day, site, team and agent",
		Query: reportQueries, CSV: true}
)

// query reads the report's query.
func (a *reportsAPI) query(c *gin.Context) (report.Query, error) {
	q := report.Query{Location: time.UTC, SiteID: c.Query("site"), AgentID: c.Query("agent"), Team: c.Query("team")}
	if tz := c.Query("tz"); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			return q, apierr.Invalid("tz is an IANA time zone such as Europe/Paris")
		}
		q.Location = loc
	}
	day := func(name string, def time.Time) (time.Time, error) {
		raw := c.Query(name)
		if raw == "" {
			return def, nil
		}
		d, err := time.Parse(time.DateOnly, raw)
		if err != nil {
			return d, apierr.Invalid(name + " is a date, YYYY-MM-DD")
		}
		return d, nil
	}
	var err error
	if q.To, err = day("to", a.now().In(q.Location)); err != nil {
		return q, err
	}
	if q.From, err = day("from", q.To.AddDate(0, 0, -6)); err != nil {
		return q, err
	}
	if err := q.Validate(); err != nil {
		return q, apierr.Invalid(err.Error())
	}
	return q, nil
}

// build computes the report of ws and names its sites and agents.
func (a *reportsAPI) build(c *gin.Context, ws string) (report.Report, error) {
	q, err := a.query(c)
	if err != nil {
		return report.Report{}, err
	}
	ctx := c.Request.Context()
	st := a.store(ws)
	rep, err := report.Build(ctx, st, q)
	if err != nil {
		return rep, apierr.Unavailable("cannot compute the report right now; retry", err)
	}
	sites, err := st.Sites(ctx)
	if err != nil {
		return rep, apierr.Unavailable("cannot compute the report right now; retry", err)
	}
	agents, err := st.Agents(ctx)
	if err != nil {
		return rep, apierr.Unavailable("cannot compute the report right now; retry", err)
	}
	names := map[string]string{}
	for _, s := range sites {
		names[s.ID] = s.Name
	}
	for _, ag := range agents {
		names[ag.ID] = ag.Name
	}
	for _, rows := range [][]report.Row{rep.Sites, rep.Agents} {
		for i := range rows {
			rows[i].Name = names[rows[i].Key]
		}
	}
	for i := range rep.Teams {
		rep.Teams[i].Name = rep.Teams[i].Key
	}
	return rep, nil
}

// json answers with the report of the workspace ws names.
func (a *reportsAPI) json(ws func(*gin.Context) string) func(*gin.Context) error {
	return func(c *gin.Context) error {
		rep, err := a.build(c, ws(c))
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, rep)
		return nil
	}
}

// csv answers with the report as a CSV download.
func (a *reportsAPI) csv(ws func(*gin.Context) string) func(*gin.Context) error {
	return func(c *gin.Context) error {
		rep, err := a.build(c, ws(c))
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := report.WriteCSV(&buf, rep); err != nil {
			return apierr.Unavailable("cannot write the report", err)
		}
		c.Header("Content-Disposition", `attachment; filename="parley-report-`+rep.From+`-`+rep.To+`.csv"`)
		c.Data(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
		return nil
	}
}

func sessionWorkspace(c *gin.Context) string { return agentOf(c).WorkspaceID }
func tokenWorkspace(c *gin.Context) string   { return tokenOf(c).WorkspaceID }
