package report

import (
	"fmt"
	"os"
	"strings"

	"github.com/parleychat/parley/bench/loadgen"
)

// dcHeading starts the data-channel section; Merge replaces the section
// from it to the next "## " heading.
const dcHeading = "## Data channel (WebRTC relay)\n"

// dcSection writes the data-channel scenario: the same load over
// WebSockets and over data channels, on the bare forwarder (WebSocket and
// bare Pion modes) and on Parley. from, when set, says which run the
// figures came from (a section merged into a report of another run).
func dcSection(b *strings.Builder, rs []loadgen.Result, from string) {
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	w(dcHeading + "\n")
	ds := pick(rs, "dc")
	if len(ds) == 0 {
		w("Not measured in this run (`bash bench/run.sh dc` measures it alone and merges this section).\n\n")
		return
	}
	if from != "" {
		w("%s\n\n", from)
	}
	w("The same pairs and load as WS chat, four times in one run, each on a fresh server: over WebSockets, then over data channels, ")
	w("on the bare forwarder and on Parley (SQLite, every message stored). On the data-channel runs each visitor and agent asks for a ")
	w("peer connection with `rtc_start` on its WebSocket, answers the server's `rtc_offer` with a Pion peer (`pkg/relay/relaytest`: ")
	w("loopback UDP, what the widget does), trickles candidates, and once the `chat` channel is open sends its `send` frames on it; ")
	w("Parley's relay runs in the server process. The bare Pion baseline is the forwarder's data-channel mode: the same negotiation, ")
	w("one ordered channel per peer, frames copied to the paired peer's channel, no JSON, no storage (`bench/forwarder`). ")
	w("Latency is scheduled send → receipt at the peer, the same histogram as WS chat.\n\n")
	w("| target | transport | conversations × msgs/s | delivered msgs/s | p50 | p90 | p99 | p99.9 | max | p99 vs bare baseline (same transport) | lost | dup | message frames over DC / WS | error frames | server CPU s |\n")
	w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range ds {
		transport, bare := "WebSocket", "baseline"
		if strings.HasSuffix(r.Target, "-dc") {
			transport, bare = "data channel", "baseline-dc"
		}
		name := strings.TrimSuffix(r.Target, "-dc")
		if r.Error != "" {
			w("| %s | %s | — | failed: %s |||||||||||||\n", name, transport, r.Error)
			continue
		}
		rat := "1×"
		if base := find(ds, bare, r.RatePerConv); r.Target != bare && base != nil {
			rat = ratio(r.Latency.P99Us, base.Latency.P99Us)
		}
		frames := "—"
		if transport == "data channel" {
			frames = fmt.Sprintf("%d / %d", r.OverDC, r.OverWS)
		}
		w("| %s | %s | %d × %g | %.0f | %s | %s | %s | %s | %s | %s | %d | %d | %s | %s | %.1f |\n",
			name, transport, r.Conversations, r.RatePerConv, r.DeliveredPerSec,
			ms(r.Latency.P50Us), ms(r.Latency.P90Us), ms(r.Latency.P99Us), ms(r.Latency.P999Us), ms(r.Latency.MaxUs), rat,
			r.Lost, r.Duplicated, frames, errs(r), r.ServerCPUS)
	}
	w("\n*message frames over DC / WS* counts every `message` frame the clients received on each transport during the load ")
	w("(Parley also echoes each message to its sender, so its count is twice the baseline's); a WebSocket count above 0 means a ")
	w("channel was given up (`rtc_stop`) and chat fell back.\n\n")

	ws, dc := find(ds, "parley-sqlite", ds[0].RatePerConv), find(ds, "parley-sqlite-dc", ds[0].RatePerConv)
	if ws != nil && dc != nil && ws.Error == "" && dc.Error == "" {
		w("**Parley, data channel vs WebSocket, same load, same run** (issue 4): p50 %s vs %s (%s), p99 %s vs %s (%s).\n\n",
			ms(dc.Latency.P50Us), ms(ws.Latency.P50Us), ratio(dc.Latency.P50Us, ws.Latency.P50Us),
			ms(dc.Latency.P99Us), ms(ws.Latency.P99Us), ratio(dc.Latency.P99Us, ws.Latency.P99Us))
	}

	w("Sessions held and server memory: RSS read before the clients connect and 1 s after every pair is set up (for data channels: ")
	w("every channel open), divided by the sessions (a session is one client's WebSocket, plus its peer connection on the data-channel runs). ")
	w("All sessions stay open through the load.\n\n")
	w("| target | transport | sessions held | setup s | RSS before MB | RSS open MB | KB per session | peak RSS MB |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range ds {
		if r.Error != "" || r.BeforeRSSKB == 0 {
			continue
		}
		transport := "WebSocket"
		if strings.HasSuffix(r.Target, "-dc") {
			transport = "data channel"
		}
		w("| %s | %s | %d | %.1f | %.1f | %.1f | %.0f | %.1f |\n", strings.TrimSuffix(r.Target, "-dc"), transport, 2*r.Conversations, r.SetupS,
			float64(r.BeforeRSSKB)/1024, float64(r.OpenRSSKB)/1024, r.KBPerSession, float64(r.ServerPeakRSSKB)/1024)
	}
	w("\nRSS deltas this small are noisy (the Go heap grows in steps); the data-channel figure includes the WebSocket each client keeps for signaling.\n\n")

	ss := pick(rs, "dc-sessions")
	if len(ss) == 0 {
		return
	}
	w("Sessions per relay: more pairs over data channels, each size on fresh servers, all open at once, with one message per ")
	w("conversation every 2 s while they are held (so every session is shown live: delivered = sent).\n\n")
	w("| target | peer connections held | setup s | RSS before MB | RSS open MB | KB per session | sent | delivered | lost | dup | p99 | message frames over DC / WS | error frames |\n")
	w("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range ss {
		name := strings.TrimSuffix(r.Target, "-dc")
		if r.Error != "" {
			w("| %s | %d | failed: %s |||||||||||\n", name, 2*r.Conversations, r.Error)
			continue
		}
		w("| %s | %d | %.1f | %.1f | %.1f | %.0f | %d | %d | %d | %d | %s | %d / %d | %s |\n", name, 2*r.Conversations, r.SetupS,
			float64(r.BeforeRSSKB)/1024, float64(r.OpenRSSKB)/1024, r.KBPerSession, r.Sent, r.Delivered, r.Lost, r.Duplicated,
			ms(r.Latency.P99Us), r.OverDC, r.OverWS, errs(r))
	}
	w("\n")
}

// Merge renders the data-channel section from the results in dir and puts
// it in place of that section of the report md (measured by another run);
// the rest of md is kept as it was.
func Merge(dir, md string) error {
	rs, meta, err := load(dir)
	if err != nil {
		return err
	}
	if len(pick(rs, "dc")) == 0 {
		return fmt.Errorf("no data-channel results in %s", dir)
	}
	old, err := os.ReadFile(md)
	if err != nil {
		return err
	}
	settle(rs)
	from := "Measured by `bash bench/run.sh dc` (this scenario alone, merged into this report)"
	if meta != nil {
		from += fmt.Sprintf(" on %s UTC, commit `%s`, load average %s → %s; the other sections come from the run named at the top",
			meta.Started.Format("2006-01-02 15:04"), orDash(meta.Commit), orDash(meta.LoadStart), orDash(meta.LoadFinish))
	}
	var b strings.Builder
	dcSection(&b, rs, from+".")
	s := string(old)
	i := strings.Index(s, dcHeading)
	if i < 0 {
		return fmt.Errorf("%s has no %q section to replace", md, strings.TrimSpace(dcHeading))
	}
	end := len(s)
	if j := strings.Index(s[i+len(dcHeading):], "\n## "); j >= 0 {
		end = i + len(dcHeading) + j + 1
	}
	return os.WriteFile(md, []byte(s[:i]+b.String()+s[end:]), 0o644)
}
