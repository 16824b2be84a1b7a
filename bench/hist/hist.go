// Package hist is a log-bucketed latency histogram (HDR-like: a relative
// error below 1% at any magnitude, fixed memory), safe for concurrent use.
// Values are durations recorded with microsecond resolution.
package hist

import (
	"math"
	"math/bits"
	"sync"
	"time"
)

// subBits sets the precision: 2^subBits buckets per power of two, so a
// recorded value is reported within 1/2^subBits (0.8%) of itself.
const subBits = 7

const (
	subCount = 1 << subBits
	// 40 powers of two of microseconds cover far more than any run.
	bucketCount = (40 + 1) * subCount
)

// Histogram counts durations. The zero value is not usable; call New.
type Histogram struct {
	mu     sync.Mutex
	counts []uint64
	total  uint64
	max    int64
	sum    float64
}

// New returns an empty histogram.
func New() *Histogram { return &Histogram{counts: make([]uint64, bucketCount)} }

func index(us int64) int {
	if us < subCount {
		return int(us)
	}
	// Position of the highest bit decides the power of two; the next subBits
	// bits the bucket inside it.
	hb := 63 - bits.LeadingZeros64(uint64(us))
	shift := hb - subBits
	i := (shift+1)*subCount + int((us>>shift)&(subCount-1))
	if i >= bucketCount {
		return bucketCount - 1
	}
	return i
}

// lowest returns the smallest value that falls into bucket i.
func lowest(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	shift := i/subCount - 1
	return (int64(subCount) + int64(i%subCount)) << shift
}

// Record adds one duration (negative durations count as zero).
func (h *Histogram) Record(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	h.mu.Lock()
	h.counts[index(us)]++
	h.total++
	h.sum += float64(us)
	if us > h.max {
		h.max = us
	}
	h.mu.Unlock()
}

// Merge adds every count of o to h.
func (h *Histogram) Merge(o *Histogram) {
	o.mu.Lock()
	counts := append([]uint64(nil), o.counts...)
	total, max, sum := o.total, o.max, o.sum
	o.mu.Unlock()
	h.mu.Lock()
	for i, c := range counts {
		h.counts[i] += c
	}
	h.total += total
	h.sum += sum
	if max > h.max {
		h.max = max
	}
	h.mu.Unlock()
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total
}

// Max is the largest recorded value.
func (h *Histogram) Max() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return time.Duration(h.max) * time.Microsecond
}

// Mean is the average recorded value (0 when empty).
func (h *Histogram) Mean() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum/float64(h.total)) * time.Microsecond
}

// Quantile returns the value at quantile q (0..1): the upper edge of the
// bucket holding it, capped at the maximum. 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := lowest(i+1) - 1
			if i+1 >= bucketCount || v > h.max {
				v = h.max
			}
			return time.Duration(v) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

// Summary is what reports print for a histogram, in microseconds.
type Summary struct {
	Count  uint64  `json:"count"`
	MeanUs float64 `json:"mean_us"`
	P50Us  int64   `json:"p50_us"`
	P90Us  int64   `json:"p90_us"`
	P99Us  int64   `json:"p99_us"`
	P999Us int64   `json:"p999_us"`
	MaxUs  int64   `json:"max_us"`
	// Curve is the latency at the median and at quantiles 1-10^(-k/4)
	// (k = 2..16), then the maximum, for plots.
	Curve []CurvePoint `json:"curve,omitempty"`
}

// CurvePoint is one point of a percentile curve.
type CurvePoint struct {
	Quantile float64 `json:"q"`
	Us       int64   `json:"us"`
}

// Summarize returns the summary of h.
func (h *Histogram) Summarize() Summary {
	us := func(q float64) int64 { return h.Quantile(q).Microseconds() }
	s := Summary{Count: h.Count(), MeanUs: float64(h.Mean().Microseconds()),
		P50Us: us(0.5), P90Us: us(0.9), P99Us: us(0.99), P999Us: us(0.999), MaxUs: h.Max().Microseconds()}
	if s.Count == 0 {
		return s
	}
	s.Curve = append(s.Curve, CurvePoint{Quantile: 0.5, Us: s.P50Us})
	for k := 2; k <= 16; k++ {
		q := 1 - math.Pow(10, -float64(k)/4)
		s.Curve = append(s.Curve, CurvePoint{Quantile: q, Us: us(q)})
	}
	s.Curve = append(s.Curve, CurvePoint{Quantile: 1, Us: s.MaxUs})
	return s
}
