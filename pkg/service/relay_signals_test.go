package service

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/relay"
	"github.com/parleychat/parley/pkg/relaynode"
	"github.com/parleychat/parley/pkg/store"
	"github.com/parleychat/parley/pkg/store/storetest"
)

// relayChat is a committing relay's conversation service on the test
// server's store and bus (as a relay process has on the fleet's).
func relayChat(t *testing.T, st *store.Store, ts *testServer, limiter ratelimit.Limiter, rules ratelimit.Rules) *relaynode.Chat {
	conv := conversation.New(conversation.Options{Store: st, Bus: ts.srv.bus, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(conv.Stop)
	return &relaynode.Chat{Conv: conv, Bus: ts.srv.bus, Limiter: limiter, Rules: rules}
}

// Typing through a standalone relay takes the signals channel both ways,
// as through the in-process one: to the browser signaling asks the relay
// for it over the control link (forwarding), or the relay delivers its
// typing publications there itself (committing); from the browser the
// relay hands signals frames to signaling, which takes them as typing.
func TestTypingOnSignalsThroughStandaloneRelay(t *testing.T) {
	for _, commit := range []bool{false, true} {
		t.Run(map[bool]string{false: "forwarding", true: "committing"}[commit], func(t *testing.T) {
			st := storetest.SQLite(t)
			ts, pool, _ := newRemoteRTCServer(t, st)
			var chat *relaynode.Chat
			if commit {
				chat = relayChat(t, st, ts, nil, ratelimit.Rules{})
			}
			startRelay(t, "relay-signals", ts.URL, chat)
			waitRelays(t, pool, 1)

			ag, hc := ts.rtcAgent(t)
			ag.hello()
			ag.negotiate()
			v, conv, _ := chattingOnDC(t, ts)
			var sig *webrtc.DataChannel
			select {
			case sig = <-v.signals:
			case <-time.After(10 * time.Second):
				t.Fatal("the signals channel did not open in 10s")
			}
			waitFor(t, "the server has the visitor on the data channel", func() bool {
				return metric(t, ts.URL, `parley_connections{kind="visitor",transport="datachannel"}`) == 1
			})

			// The visitor types on signals: signaling takes it as typing
			// (a committing relay forwards signals frames too) and the
			// agent gets it.
			b, _ := json.Marshal(protocol.Typing{Envelope: protocol.Envelope{Type: protocol.TypeTyping}, Conversation: conv, On: true})
			if err := sig.SendText(string(b)); err != nil {
				t.Fatal(err)
			}
			if f := ag.next(protocol.TypeTyping); f.via != transportDataChannel {
				t.Fatalf("the visitor's typing reached the agent over the %s", f.via)
			}
			if n := metric(t, ts.URL, `parley_rtc_signal_frames_total{direction="in"}`); n != 1 {
				t.Fatalf("signaling took %v typing frames from signals, want 1", n)
			}

			// The agent types (on its chat channel): the visitor gets it on
			// signals, sent by signaling through the relay or by the relay.
			ag.sendDC(protocol.Typing{Envelope: protocol.Envelope{Type: protocol.TypeTyping}, Conversation: conv, On: true})
			if f := v.next(protocol.TypeTyping, ""); f.via != relay.ChannelSignals {
				t.Fatalf("typing came over the %s, want the signals channel", f.via)
			}

			// A message to the visitor stays on the chat channel.
			waitOpen(t, hc, ts.URL, conv)
			ag.sendDC(sendFrame(conv, "a1", "not lossy"))
			if f := v.next(protocol.TypeMessage, ""); f.via != transportDataChannel {
				t.Fatalf("message came over the %s, want the chat channel", f.via)
			}
			// A send on signals is refused and not stored.
			send, _ := json.Marshal(sendFrame(conv, "on-signals", "lossy"))
			if err := sig.SendText(string(send)); err != nil {
				t.Fatal(err)
			}
			if f := v.next(protocol.TypeError, "on-signals"); !strings.Contains(string(f.data), protocol.CodeInvalid) {
				t.Fatalf("error %s, want %s", f.data, protocol.CodeInvalid)
			}

			// Who sent the typing: a committing relay delivers it itself
			// (signaling sent none on signals); otherwise signaling asked
			// the relay for signals, for the agent and for the visitor.
			out := `parley_rtc_signal_frames_total{direction="out"}`
			if commit {
				if n := metric(t, ts.URL, out); n != 0 {
					t.Fatalf("signaling sent %v typing frames for a committing relay's clients, want 0", n)
				}
			} else {
				waitFor(t, "signaling counts its typing frames on signals", func() bool { return metric(t, ts.URL, out) >= 2 })
			}
		})
	}
}

// connBudget is TestConnectionLimitSharedAcrossTransports' per-connection
// limit in frames (negotiation, start and sends), with no refill within
// the test.
const connBudget = 16

// A connection's message limit is one budget for its WebSocket and its
// data channel, also when a standalone relay commits the data channel's
// sends (it counts them under the connection's id in the shared limiter,
// Redis in a fleet): a client alternating between the two is limited
// after as many frames as one that only uses the WebSocket. Over the
// limit, a send gets rate_limited on the transport it came on, and the
// connection and its data channel stay up.
func TestConnectionLimitSharedAcrossTransports(t *testing.T) {
	type limiters struct{ signaling, relay ratelimit.Limiter }
	modes := []struct {
		name   string
		commit bool
		lim    func(t *testing.T) limiters
	}{
		{"forwarding", false, func(*testing.T) limiters { return limiters{signaling: ratelimit.NewMemory()} }},
		{"committing", true, func(*testing.T) limiters {
			l := ratelimit.NewMemory() // one process playing the fleet's shared limiter
			return limiters{l, l}
		}},
	}
	if addr := os.Getenv("PARLEY_TEST_REDIS"); addr != "" {
		modes = append(modes, struct {
			name   string
			commit bool
			lim    func(t *testing.T) limiters
		}{"committing, redis", true, func(t *testing.T) limiters {
			// Two clients, as signaling and the relay each have their own.
			a, b := redis.NewClient(&redis.Options{Addr: addr}), redis.NewClient(&redis.Options{Addr: addr})
			t.Cleanup(func() { a.Close(); b.Close() })
			return limiters{ratelimit.NewRedis(a), ratelimit.NewRedis(b)}
		}})
	} else {
		t.Log("PARLEY_TEST_REDIS is not set: the Redis limiter is not tested here")
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			lim := m.lim(t)
			rules := ratelimit.DefaultRules()
			// No refill within the test; the visitor limit out of the way.
			rules.MessagePerConnection.Limit = ratelimit.Limit{Rate: connBudget, Burst: connBudget, Period: time.Hour}
			rules.MessagePerVisitor.Limit = ratelimit.Limit{Rate: 1000, Burst: 1000, Period: time.Hour}
			st := storetest.SQLite(t)
			ts, pool, _ := newRemoteRTCServerWith(t, st, Deps{Limiter: lim.signaling, Rules: rules})
			var chat *relaynode.Chat
			if m.commit {
				chat = relayChat(t, st, ts, lim.relay, rules)
			}
			startRelay(t, "relay-limits", ts.URL, chat)
			waitRelays(t, pool, 1)

			wsOnly := limitedAfter(t, ts, 1, func(int) string { return transportWebSocket })
			alternating := limitedAfter(t, ts, 2, func(i int) string {
				if i%2 == 1 {
					return transportDataChannel
				}
				return transportWebSocket
			})
			t.Logf("sends accepted: %d over the WebSocket only, %d alternating", wsOnly, alternating)
			if wsOnly != alternating {
				t.Fatalf("alternating WebSocket and data channel: %d sends accepted, WebSocket only: %d", alternating, wsOnly)
			}
			if wsOnly < connBudget/2 || wsOnly >= connBudget {
				t.Fatalf("%d sends accepted with a budget of %d frames", wsOnly, connBudget)
			}
		})
	}
}

// limitedAfter connects the nth visitor over the WebSocket and a data
// channel and sends until the connection's limit answers, each send over
// the transport via(i) picks; it returns how many were acked. The refused
// send is answered on its own transport, and then a send over the other
// transport is refused too (one budget).
func limitedAfter(t *testing.T, ts *testServer, nth int, via func(i int) string) int {
	t.Helper()
	c, conv, dc := chattingOnDC(t, ts)
	// Every negotiation frame has gone (its candidates are frames too,
	// counted like any other) and signaling has the channel open.
	waitFor(t, "the visitor's candidates are all sent", func() bool {
		return c.pc.ICEGatheringState() == webrtc.ICEGatheringStateComplete
	})
	waitFor(t, "the server has the visitor on the data channel", func() bool {
		return metric(t, ts.URL, `parley_connections{kind="visitor",transport="datachannel"}`) == float64(nth)
	})

	send := func(id, over string) frameIn {
		t.Helper()
		b, _ := json.Marshal(sendFrame(conv, id, id))
		if over == transportDataChannel {
			if err := dc.SendText(string(b)); err != nil {
				t.Fatal(err)
			}
		} else {
			c.send(json.RawMessage(b))
		}
		timeout := time.After(frameWait)
		for {
			select {
			case f := <-c.in:
				var env protocol.Envelope
				json.Unmarshal(f.data, &env)
				switch {
				case f.typ == protocol.TypeRTCStop:
					t.Fatalf("the data channel was stopped: %s", f.data)
				case env.Ref == id && (f.typ == protocol.TypeAck || f.typ == protocol.TypeError):
					return f
				}
			case <-timeout:
				t.Fatalf("no answer to send %s in %v", id, frameWait)
			}
		}
	}
	refused := func(f frameIn, over string) {
		t.Helper()
		var e protocol.Error
		json.Unmarshal(f.data, &e)
		if f.typ != protocol.TypeError || e.Code != protocol.CodeRateLimited || !e.Retryable || e.RetryAfterMs <= 0 {
			t.Fatalf("want a retryable rate_limited error with a delay, got %s", f.data)
		}
		if f.via != over {
			t.Fatalf("rate_limited for a send over the %s came over the %s", over, f.via)
		}
	}
	for i := 0; i < 2*connBudget; i++ {
		over := via(i)
		f := send(fmt.Sprintf("m%d", i), over)
		if f.typ == protocol.TypeAck {
			if f.via != over {
				t.Fatalf("ack of a send over the %s came over the %s", over, f.via)
			}
			continue
		}
		refused(f, over)
		other := transportDataChannel
		if over == transportDataChannel {
			other = transportWebSocket
		}
		refused(send("other", other), other)
		return i
	}
	t.Fatalf("%d sends and no rate_limited", 2*connBudget)
	return 0
}
