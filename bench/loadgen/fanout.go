package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/pkg/protocol"
)

// FanoutOptions size the workspace fan-out scenario: the chat load of
// Conversations pairs at Rate, while W more agents of each pair's workspace
// are connected (away, so not routed to) for each W in Watchers.
type FanoutOptions struct {
	Conversations int
	Rate          float64
	Duration      time.Duration
	Watchers      []int // per workspace, ascending
}

// RunFanout measures what every extra online agent of a workspace costs:
// Parley publishes each message of a workspace to all its agents, so W
// watchers multiply the frames the node writes by 1+W. tg.Watchers[i] are
// the extra agents of pair i's workspace (from Seed.Pairs).
func RunFanout(ctx context.Context, tg Target, o FanoutOptions) []Result {
	watcherCookies := tg.Watchers
	s, err := open(ctx, tg, o.Conversations)
	if err != nil {
		return []Result{{Conversations: o.Conversations, Error: err.Error()}}
	}
	defer s.close()
	s.reconnect.Store(true)
	var (
		watchers []*websocket.Conn
		frames   atomic.Int64
		wg       sync.WaitGroup
	)
	defer func() {
		for _, c := range watchers {
			c.Close()
		}
		wg.Wait()
	}()
	var out []Result
	for _, w := range o.Watchers {
		// Connect watchers up to w per workspace.
		have := len(watchers) / max(o.Conversations, 1)
		for j := have; j < w; j++ {
			for i := 0; i < o.Conversations; i++ {
				if i >= len(watcherCookies) || j >= len(watcherCookies[i]) {
					return append(out, Result{Error: fmt.Sprintf("fewer than %d watchers seeded per workspace", w)})
				}
				c, err := watcherConnect(ctx, s.ct, watcherCookies[i][j])
				if err != nil {
					return append(out, Result{Error: "watcher: " + err.Error()})
				}
				watchers = append(watchers, c)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						if _, _, err := c.ReadMessage(); err != nil {
							return
						}
						frames.Add(1)
					}
				}()
			}
		}
		r := Result{Conversations: o.Conversations, RatePerConv: o.Rate, DurationS: o.Duration.Seconds(),
			Offered: int64(float64(o.Conversations) * o.Rate * o.Duration.Seconds()), Watchers: w}
		s.tp.Store(newTally())
		for _, p := range s.pairs {
			p.mu.Lock()
			p.base = len(p.ackSeq)
			p.mu.Unlock()
		}
		frames0 := frames.Load()
		sm := startSampler(tg.PID)
		t0 := time.Now().Add(100 * time.Millisecond)
		end := t0.Add(o.Duration)
		r.LateSends = s.drive(s.pairs, o.Rate, t0, end, nil)
		r.DrainS = s.drain(30 * time.Second).Seconds()
		r.DrainTimedOut = r.DrainS >= 30
		r.ServerPeakRSSKB, r.ServerCPUS = sm.finish()
		r.DeliveredPerSec = float64(s.tl().delivered.Load()) / o.Duration.Seconds()
		r.WatcherFrames = frames.Load() - frames0
		s.fill(&r)
		out = append(out, r)
	}
	return out
}

func watcherConnect(ctx context.Context, ct *chatTarget, cookie string) (*websocket.Conn, error) {
	hdr := http.Header{"Origin": {ct.url}, "Cookie": {"parley_session=" + cookie}}
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, _, err := ct.dialer.DialContext(dctx, "ws"+strings.TrimPrefix(ct.url, "http")+"/ws/agent", hdr)
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello}, V: protocol.Version})
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, b); err != nil {
		c.Close()
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			c.Close()
			return nil, err
		}
		var f frame
		if json.Unmarshal(data, &f) == nil && f.Type == protocol.TypeWelcome {
			break
		}
	}
	c.SetReadDeadline(time.Time{})
	return c, nil
}
