package report

import (
	"encoding/csv"
	"io"
	"strconv"
)

// csvHeader names WriteCSV's columns; durations are in seconds.
var csvHeader = []string{"group", "key", "name", "conversations",
	"first_response_median_s", "first_response_p90_s", "response_median_s", "response_p90_s",
	"resolution_median_s", "resolution_p90_s", "queue_wait_median_s", "queue_wait_p90_s",
	"missed", "rated", "csat_average", "csat_positive", "assisted", "deflected", "deflection_rate",
	"conversions", "conversion_value", "conversion_rate", "assisted_conversions"}

// WriteCSV writes the report as one table: a "total" row, then a row per
// day, site, team and agent, each with every metric.
func WriteCSV(w io.Writer, r Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	write := func(group string, row Row) error {
		m := row.Metrics
		f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
		d := func(x Durations) []string {
			if x.Count == 0 {
				return []string{"", ""}
			}
			return []string{f(x.Median), f(x.P90)}
		}
		rec := []string{group, row.Key, csvSafe(row.Name), strconv.Itoa(m.Conversations)}
		for _, x := range []Durations{m.FirstResponse, m.Response, m.Resolution, m.QueueWait} {
			rec = append(rec, d(x)...)
		}
		rec = append(rec, strconv.Itoa(m.Missed), strconv.Itoa(m.Rated), f(m.CsatAverage), f(m.CsatPositive),
			strconv.Itoa(m.Assisted), strconv.Itoa(m.Deflected), f(m.DeflectionRate),
			strconv.Itoa(m.Conversions), f(m.ConversionValue), f(m.ConversionRate), strconv.Itoa(m.AssistedConversions))
		return cw.Write(rec)
	}
	if err := write("total", Row{Key: r.From + ".." + r.To, Name: r.TimeZone, Metrics: r.Totals}); err != nil {
		return err
	}
	for _, set := range []struct {
		group string
		rows  []Row
	}{{"day", r.Days}, {"site", r.Sites}, {"team", r.Teams}, {"agent", r.Agents}} {
		for _, row := range set.rows {
			if err := write(set.group, row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a name a spreadsheet would run as a formula (=, +, -, @)
// as text.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}
