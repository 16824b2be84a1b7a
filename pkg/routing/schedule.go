package routing

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones must load on hosts without /usr/share/zoneinfo
)

// Interval is a stretch of a day, as offsets from local midnight: Start is
// inclusive, End exclusive, 0 ≤ Start < End ≤ 24h.
type Interval struct{ Start, End time.Duration }

// ParseInterval reads "09:00-17:30" (24-hour local wall clock; "24:00" ends
// at midnight).
func ParseInterval(s string) (Interval, error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return Interval{}, fmt.Errorf("%w: interval %q, want HH:MM-HH:MM", ErrInvalidRules, s)
	}
	start, err1 := parseClock(from)
	end, err2 := parseClock(to)
	if err1 != nil || err2 != nil {
		return Interval{}, fmt.Errorf("%w: interval %q, want HH:MM-HH:MM", ErrInvalidRules, s)
	}
	iv := Interval{start, end}
	return iv, iv.validate()
}

func parseClock(s string) (time.Duration, error) {
	hh, mm, ok := strings.Cut(strings.TrimSpace(s), ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("bad clock %q", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

func (iv Interval) validate() error {
	if iv.Start < 0 || iv.End > 24*time.Hour || iv.Start >= iv.End {
		return fmt.Errorf("%w: interval %v-%v must have 0 ≤ start < end ≤ 24h", ErrInvalidRules, iv.Start, iv.End)
	}
	return nil
}

// Schedule is a site's weekly business hours in its own time zone. It is
// immutable once built and safe for concurrent use.
type Schedule struct {
	zone string
	loc  *time.Location
	week [7][]Interval
}

// NewSchedule builds a schedule. zone is an IANA name ("Europe/Paris"; ""
// means UTC). week is indexed by time.Weekday; a day without intervals is
// closed. Hours are local wall-clock time, so a 09:00 opening stays 09:00
// across daylight-saving changes.
func NewSchedule(zone string, week [7][]Interval) (*Schedule, error) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("%w: time zone %q: %v", ErrInvalidRules, zone, err)
	}
	s := &Schedule{zone: zone, loc: loc}
	for d, ivs := range week {
		for _, iv := range ivs {
			if err := iv.validate(); err != nil {
				return nil, fmt.Errorf("%s: %w", time.Weekday(d), err)
			}
		}
		s.week[d] = append([]Interval(nil), ivs...)
	}
	return s, nil
}

// Zone returns the schedule's IANA time zone name.
func (s *Schedule) Zone() string { return s.zone }

// Open reports whether t falls inside business hours. A nil schedule is
// always open.
func (s *Schedule) Open(t time.Time) bool {
	if s == nil {
		return true
	}
	local := t.In(s.loc)
	// Business hours are wall-clock hours: on a daylight-saving day the real
	// time since midnight differs from what the clock on the wall shows.
	wall := time.Duration(local.Hour())*time.Hour + time.Duration(local.Minute())*time.Minute +
		time.Duration(local.Second())*time.Second + time.Duration(local.Nanosecond())
	for _, iv := range s.week[local.Weekday()] {
		if wall >= iv.Start && wall < iv.End {
			return true
		}
	}
	return false
}

// NextOpen returns the first time at or after t when the site is open, or
// the zero time if the schedule has no open hours at all. The widget's
// offline form can say "we are back at ...".
func (s *Schedule) NextOpen(t time.Time) time.Time {
	if s == nil || s.Open(t) {
		return t
	}
	local := t.In(s.loc)
	for day := 0; day <= 7; day++ {
		y, m, d := local.Date()
		date := time.Date(y, m, d+day, 0, 0, 0, 0, s.loc)
		for _, iv := range s.week[date.Weekday()] {
			h, mi := int(iv.Start/time.Hour), int(iv.Start%time.Hour/time.Minute)
			at := time.Date(date.Year(), date.Month(), date.Day(), h, mi, 0, 0, s.loc)
			if !at.Before(t) && s.Open(at) {
				return at
			}
		}
	}
	return time.Time{}
}
