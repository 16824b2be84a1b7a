package hist

import (
	"testing"
	"time"
)

func TestQuantilesWithinOnePercent(t *testing.T) {
	h := New()
	for i := 1; i <= 100000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want float64
	}{{0.5, 50000}, {0.9, 90000}, {0.99, 99000}, {0.999, 99900}, {1, 100000}} {
		got := float64(h.Quantile(c.q).Microseconds())
		if got < c.want*0.99 || got > c.want*1.01 {
			t.Errorf("q%.3f = %.0fµs, want %.0f ±1%%", c.q, got, c.want)
		}
	}
	if h.Max() != 100*time.Millisecond {
		t.Errorf("max = %v", h.Max())
	}
}

func TestSmallAndEmpty(t *testing.T) {
	h := New()
	if h.Quantile(0.99) != 0 {
		t.Fatal("empty histogram must report 0")
	}
	h.Record(-time.Second)
	h.Record(3 * time.Microsecond)
	if got := h.Quantile(1); got != 3*time.Microsecond {
		t.Fatalf("max quantile = %v", got)
	}
	o := New()
	o.Record(time.Hour)
	h.Merge(o)
	if h.Count() != 3 || h.Max() != time.Hour {
		t.Fatalf("merge: count %d max %v", h.Count(), h.Max())
	}
}
