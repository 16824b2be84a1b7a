package service

import "github.com/prometheus/client_golang/prometheus"

// metrics are a server's Prometheus series, on a registry of its own so that
// several servers can live in one test process.
type metrics struct {
	reg         *prometheus.Registry
	connections *prometheus.GaugeVec
	frames      *prometheus.CounterVec
	errors      *prometheus.CounterVec
	ackSeconds  prometheus.Histogram
	slowClients prometheus.Counter
	resyncs     prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "parley_connections", Help: "Open client connections by participant kind and transport.",
		}, []string{"kind", "transport"}),
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_frames_total", Help: "Client frames handled, by type.",
		}, []string{"type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_error_frames_total", Help: "Error frames sent to clients, by code.",
		}, []string{"code"}),
		ackSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "parley_ack_seconds", Help: "Time from receiving a send to acking it (store commit included).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		slowClients: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_slow_client_disconnects_total", Help: "Connections closed because the client could not keep up.",
		}),
		resyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_bus_resyncs_total", Help: "Times this node told all its clients to resume from the store because the bus (Redis) may have lost publications.",
		}),
	}
	m.reg.MustRegister(m.connections, m.frames, m.errors, m.ackSeconds, m.slowClients, m.resyncs,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// watch registers the series read from the server's live state at scrape
// time (nothing to keep up to date on the hot path).
func (m *metrics) watch(s *Server) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "parley_send_queue_frames", Help: "Frames waiting in the connections' send queues (a client is dropped when its queue is full).",
	}, func() float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		n := 0
		for c := range s.conns {
			n += c.queued()
		}
		return float64(n)
	}))
}
