package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/turn"
	"github.com/parleychat/parley/pkg/turn/turntest"
)

const chromiumPath = "/usr/bin/chromium"

// chromiumPage answers the relay's offer the way the widget will: it takes
// the offer, trickles its candidates, and on the chat channel greets, then
// echoes every frame back. Signaling goes over HTTP to the test server
// (standing in for the WebSocket).
const chromiumPage = `<!doctype html>
<meta charset="utf-8"><title>relay test</title>
<script>
window.log = [];
const note = (s) => window.log.push(Math.round(performance.now()) + 'ms ' + s);
const post = (path, body) => fetch(path, {method: 'POST', body: JSON.stringify(body)});
(async () => {
  try {
    const offer = await (await fetch('/offer')).json();
    const policy = new URLSearchParams(location.search).get('policy') || 'all';
    const pc = new RTCPeerConnection({iceServers: offer.ice_servers, iceTransportPolicy: policy});
    window.pc = pc;
    pc.onicecandidate = (e) => { note('candidate ' + (e.candidate ? e.candidate.candidate : 'end')); post('/candidate', e.candidate ? e.candidate.toJSON() : {candidate: ''}); };
    pc.onconnectionstatechange = () => note('pc ' + pc.connectionState);
    pc.ondatachannel = (e) => {
      const dc = e.channel;
      note('channel ' + dc.label + ' ordered=' + dc.ordered + ' maxRetransmits=' + dc.maxRetransmits);
      if (dc.label !== 'chat') return;
      dc.onopen = async () => {
        note('chat open');
        dc.send(JSON.stringify({type: 'ping', ref: 'hello from chromium'}));
        for (let tries = 0; tries < 50; tries++) { // stats lag a little behind
          const stats = await pc.getStats();
          let found = '';
          stats.forEach((s) => {
            if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
              found = stats.get(s.localCandidateId).candidateType;
            }
          });
          if (found) { note('selected local candidate ' + found); break; }
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      dc.onmessage = (m) => {
        if (typeof m.data !== 'string') { note('binary frame!'); return; }
        const f = JSON.parse(m.data);
        dc.send(JSON.stringify({type: 'ping', ref: 'echo ' + f.ref}));
      };
    };
    note('offer fetched');
    pc.oniceconnectionstatechange = () => note('ice ' + pc.iceConnectionState);
    await pc.setRemoteDescription({type: 'offer', sdp: offer.sdp});
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await post('/answer', {type: 'rtc_answer', sdp: answer.sdp});
    // The relay's later candidates, if any (its offer carries the first ones).
    for (let seen = 0; pc.connectionState !== 'closed'; ) {
      const cands = await (await fetch('/relay-candidates?since=' + seen)).json();
      for (const c of cands) { await pc.addIceCandidate(c.candidate ? c : null); seen++; }
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    note('error ' + err);
  }
})();
</script>`

func TestChromiumDataChannel(t *testing.T) {
	log := chromiumSession(t, nil, "all")
	if !strings.Contains(log, "selected local candidate host") && !strings.Contains(log, "selected local candidate prflx") {
		t.Errorf("Chromium did not connect directly:\n%s", log)
	}
}

// The TURN recipe: Chromium limited to relay candidates
// (iceTransportPolicy "relay") reaches the relay through a real coturn with
// credentials minted by package turn, as signaling will hand them out.
func TestChromiumRelayOnlyThroughCoturn(t *testing.T) {
	srv := turntest.Start(t, "chromium-turn-secret")
	servers := turn.ICEServers(turn.Config{TURNURLs: []string{"turn:" + srv.Addr + "?transport=udp"}, Secret: srv.Secret}, "visitor-chromium", time.Now())
	log := chromiumSession(t, servers, "relay")
	if !strings.Contains(log, "selected local candidate relay") {
		t.Errorf("Chromium did not go through TURN:\n%s", log)
	}
}

// chromiumSession runs the page in headless Chromium against a relay peer,
// exchanges frames both ways, and returns the page's log.
func chromiumSession(t *testing.T, iceServers []protocol.ICEServer, policy string) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("Chromium is not installed (%s missing): apt-get install chromium to run this test", chromiumPath)
	}
	if iceServers == nil {
		iceServers = []protocol.ICEServer{}
	}
	r := newTestRelay(t, loopbackConfig())

	frames := make(chan protocol.Ping, 16)
	opened := make(chan struct{})
	var openOnce sync.Once
	var candMu sync.Mutex
	var relayCands []protocol.RTCCandidate
	peer, err := r.NewPeer(PeerOptions{
		ID: "chromium",
		OnCandidate: func(c protocol.RTCCandidate) {
			candMu.Lock()
			relayCands = append(relayCands, c)
			candMu.Unlock()
		},
		OnFrame: func(channel string, data []byte) {
			var f protocol.Ping
			if channel == ChannelChat && json.Unmarshal(data, &f) == nil {
				frames <- f
			}
		},
		OnState: func(s State) {
			if s == StateOpen {
				openOnce.Do(func() { close(opened) })
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = peer.Close(); <-peer.Done() }()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	offer, err := peer.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, chromiumPage)
	})
	mux.HandleFunc("GET /offer", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(protocol.RTCOffer{Envelope: protocol.Envelope{Type: protocol.TypeRTCOffer}, SDP: offer, ICEServers: iceServers})
	})
	mux.HandleFunc("POST /answer", func(w http.ResponseWriter, req *http.Request) {
		var a protocol.RTCAnswer
		if err := json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&a); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := peer.SetAnswer(a.SDP); err != nil {
			t.Errorf("SetAnswer from Chromium: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("POST /candidate", func(w http.ResponseWriter, req *http.Request) {
		var c protocol.RTCCandidate
		if err := json.NewDecoder(io.LimitReader(req.Body, 1<<16)).Decode(&c); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := peer.AddCandidate(c); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("AddCandidate(%q) from Chromium: %v", c.Candidate, err)
		}
	})
	mux.HandleFunc("GET /relay-candidates", func(w http.ResponseWriter, req *http.Request) {
		var since int
		_, _ = fmt.Sscan(req.URL.Query().Get("since"), &since)
		candMu.Lock()
		out := []protocol.RTCCandidate{}
		if since >= 0 && since < len(relayCands) {
			out = append(out, relayCands[since:]...)
		}
		candMu.Unlock()
		_ = json.NewEncoder(w).Encode(out)
	})
	srv := httptest.NewServer(mux) // listens on 127.0.0.1
	defer srv.Close()

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	pageLog := func() string {
		logCtx, cancel := context.WithTimeout(browserCtx, 5*time.Second)
		defer cancel()
		log, err := chromedp.Run(logCtx, chromedp.Evaluate[[]string](`window.log`))
		if err != nil {
			return "(page log unavailable: " + err.Error() + ")"
		}
		return strings.Join(log, "\n")
	}

	start := time.Now()
	if _, err := chromedp.Run(browserCtx, chromedp.Navigate(srv.URL+"/?policy="+policy)); err != nil {
		t.Fatalf("Chromium navigate: %v", err)
	}
	select {
	case <-opened:
		t.Logf("chat channel open %v after navigation", time.Since(start).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatalf("chat channel did not open within 20s; page log:\n%s", pageLog())
	}

	expect := func(ref string) {
		t.Helper()
		select {
		case f := <-frames:
			if f.Type != protocol.TypePing || f.Ref != ref {
				t.Fatalf("frame from Chromium = %+v, want ping %q", f, ref)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no frame %q from Chromium within 10s; page log:\n%s", ref, pageLog())
		}
	}
	expect("hello from chromium")
	for i := range 20 {
		frame, _ := json.Marshal(protocol.Ping{Envelope: protocol.Envelope{Type: protocol.TypePing, Ref: fmt.Sprintf("n%d", i)}})
		if err := peer.Send(frame); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		expect(fmt.Sprintf("echo n%d", i))
	}

	// Chromium saw the channels as the relay made them.
	log := pageLog()
	for deadline := time.Now().Add(6 * time.Second); !strings.Contains(log, "selected local candidate") && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		log = pageLog()
	}
	t.Logf("page log:\n%s", log)
	for _, want := range []string{"channel chat ordered=true maxRetransmits=null", "channel signals ordered=false maxRetransmits=0"} {
		if !strings.Contains(log, want) {
			t.Errorf("page log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "error") || strings.Contains(log, "binary") {
		t.Errorf("page reported a problem:\n%s", log)
	}
	return log
}
