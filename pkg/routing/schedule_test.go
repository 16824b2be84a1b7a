package routing

import (
	"errors"
	"testing"
	"time"
)

func weekdays(t *testing.T, spec ...string) [7][]Interval {
	t.Helper()
	var week [7][]Interval
	for _, s := range spec {
		iv, err := ParseInterval(s)
		if err != nil {
			t.Fatal(err)
		}
		for d := time.Monday; d <= time.Friday; d++ {
			week[d] = append(week[d], iv)
		}
	}
	return week
}

func TestScheduleOpenInItsTimeZone(t *testing.T) {
	ny, err := NewSchedule("America/New_York", weekdays(t, "09:00-12:00", "13:00-17:30"))
	if err != nil {
		t.Fatal(err)
	}
	kolkata, err := NewSchedule("Asia/Kolkata", weekdays(t, "09:00-18:00"))
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		s    *Schedule
		at   string
		open bool
	}{
		// Wednesday 25 Nov 2026: New York is on EST (UTC-5).
		{ny, "2026-11-25T13:59:59Z", false}, // 08:59:59
		{ny, "2026-11-25T14:00:00Z", true},  // 09:00
		{ny, "2026-11-25T17:30:00Z", false}, // 12:30 lunch
		{ny, "2026-11-25T22:29:59Z", true},  // 17:29:59
		{ny, "2026-11-25T22:30:00Z", false}, // 17:30, end is exclusive
		{ny, "2026-11-28T15:00:00Z", false}, // Saturday
		{ny, "2026-11-26T03:00:00Z", false}, // Wednesday 22:00 local, Thursday in UTC
		// In July New York is on EDT (UTC-4): 09:00 local is 13:00 UTC.
		{ny, "2026-07-15T13:00:00Z", true},
		{ny, "2026-07-15T12:59:00Z", false},
		// Kolkata is UTC+5:30.
		{kolkata, "2026-11-25T03:30:00Z", true},  // 09:00
		{kolkata, "2026-11-25T03:29:00Z", false}, // 08:59
		{kolkata, "2026-11-25T12:29:00Z", true},  // 17:59
		{nil, "2026-11-28T03:00:00Z", true},      // no schedule: always open
	}
	for _, tc := range tests {
		if got := tc.s.Open(utc(tc.at)); got != tc.open {
			t.Errorf("%s Open(%s) = %v, want %v", tc.s.Zone(), tc.at, got, tc.open)
		}
	}

	// Friday 18:00 in New York → open again Monday 09:00 New York time.
	next := ny.NextOpen(utc("2026-11-27T23:00:00Z"))
	if want := utc("2026-11-30T14:00:00Z"); !next.Equal(want) {
		t.Errorf("NextOpen = %v, want %v", next, want)
	}
	if at := utc("2026-11-25T15:00:00Z"); !ny.NextOpen(at).Equal(at) {
		t.Errorf("NextOpen during open hours should be now")
	}
	closed, _ := NewSchedule("UTC", [7][]Interval{})
	if !closed.NextOpen(t0).IsZero() || closed.Open(t0) {
		t.Errorf("a schedule with no hours is always closed and never reopens")
	}
}

func TestScheduleRejectsBadInput(t *testing.T) {
	if _, err := NewSchedule("Mars/Olympus_Mons", [7][]Interval{}); !errors.Is(err, ErrInvalidRules) {
		t.Errorf("unknown zone: err = %v, want ErrInvalidRules", err)
	}
	var week [7][]Interval
	week[time.Monday] = []Interval{{Start: 10 * time.Hour, End: 9 * time.Hour}}
	if _, err := NewSchedule("UTC", week); !errors.Is(err, ErrInvalidRules) {
		t.Errorf("backwards interval: err = %v, want ErrInvalidRules", err)
	}
	for _, s := range []string{"9-17", "09:00", "25:00-26:00", "10:00-09:00", "24:30-24:40", "aa:bb-cc:dd", "09:60-10:00"} {
		if _, err := ParseInterval(s); !errors.Is(err, ErrInvalidRules) {
			t.Errorf("ParseInterval(%q) err = %v, want ErrInvalidRules", s, err)
		}
	}
	if iv, err := ParseInterval("00:00-24:00"); err != nil || iv.End != 24*time.Hour {
		t.Errorf("ParseInterval(00:00-24:00) = %v, %v", iv, err)
	}
}
