package relay

import (
	"errors"
	"fmt"
	"strings"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// AddCandidate adds a candidate trickled by the browser. Before the answer
// to the current offer it is checked and queued, then applied by
// SetAnswer. A malformed candidate returns an error wrapping
// ErrBadCandidate; the peer is unaffected. An empty Candidate (end of
// candidates) is accepted. Candidates Pion cannot use (unknown type,
// unresolvable *.local names while mDNS is off) and candidates in networks
// the relay must not probe (Config.RemoteDeny) are ignored without error.
func (p *Peer) AddCandidate(c protocol.RTCCandidate) error {
	if len(c.Candidate) > maxCandidateLen {
		return fmt.Errorf("%w: peer %s: candidate is %d bytes, the limit is %d", ErrBadCandidate, p.id, len(c.Candidate), maxCandidateLen)
	}
	value := strings.TrimPrefix(c.Candidate, "candidate:")
	if value != "" {
		cand, err := ice.UnmarshalCandidate(value)
		if err != nil {
			if errors.Is(err, ice.ErrUnknownCandidateTyp) || errors.Is(err, ice.ErrDetermineNetworkType) {
				return nil
			}
			return fmt.Errorf("%w: peer %s: %q: %v", ErrBadCandidate, p.id, c.Candidate, err)
		}
		if !p.relay.remote.allowed(cand) {
			// Browsers send their private addresses as a matter of
			// course: dropped quietly, like a type Pion cannot use.
			return nil
		}
	}
	init := webrtc.ICECandidateInit{
		Candidate:        c.Candidate,
		SDPMid:           c.SDPMid,
		SDPMLineIndex:    c.SDPMLineIndex,
		UsernameFragment: c.UsernameFragment,
	}

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return p.errClosed()
	}
	if p.awaitingAnswer || !p.haveRemote {
		defer p.mu.Unlock()
		if len(p.queued) >= maxQueuedCandidates {
			return fmt.Errorf("relay: peer %s: %w (limit %d)", p.id, ErrTooManyCandidates, maxQueuedCandidates)
		}
		p.queued = append(p.queued, init)
		return nil
	}
	p.mu.Unlock()

	if err := p.pc.AddICECandidate(init); err != nil {
		if p.pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
			return p.errClosed()
		}
		return fmt.Errorf("%w: peer %s: %q: %v", ErrBadCandidate, p.id, c.Candidate, err)
	}
	return nil
}

// candidateLines returns the candidates an SDP carries ("candidate:..."
// form, as trickled) and its ICE username fragment.
func candidateLines(s string) (map[string]bool, string) {
	lines := map[string]bool{}
	ufrag := ""
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if c, ok := strings.CutPrefix(line, "a=candidate:"); ok {
			lines["candidate:"+c] = true
		} else if u, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok && ufrag == "" {
			ufrag = u
		}
	}
	return lines, ufrag
}

// onLocalCandidate runs on Pion's gatherer goroutine; c == nil means
// gathering is complete.
func (p *Peer) onLocalCandidate(c *webrtc.ICECandidate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	g := p.gen
	if c == nil {
		if !g.complete {
			g.complete = true
			close(g.done)
		}
		if g.released && !g.eocSent {
			g.eocSent = true
			p.postCandidateLocked(p.endOfCandidatesLocked(g))
		}
		return
	}
	init := c.ToJSON()
	rc := protocol.RTCCandidate{
		Envelope:      protocol.Envelope{Type: protocol.TypeRTCCandidate},
		Candidate:     init.Candidate,
		SDPMid:        init.SDPMid,
		SDPMLineIndex: init.SDPMLineIndex,
	}
	p.fillMidLocked(&rc, g)
	if !g.released {
		g.pending = append(g.pending, rc)
		return
	}
	if !g.inOffer[rc.Candidate] {
		p.postCandidateLocked(rc)
	}
}

func (p *Peer) endOfCandidatesLocked(g *gathering) protocol.RTCCandidate {
	rc := protocol.RTCCandidate{Envelope: protocol.Envelope{Type: protocol.TypeRTCCandidate}}
	p.fillMidLocked(&rc, g)
	return rc
}

// fillMidLocked names the m-line: with max-bundle there is one, the
// application section, mid "0".
func (p *Peer) fillMidLocked(rc *protocol.RTCCandidate, g *gathering) {
	if rc.SDPMid == nil || *rc.SDPMid == "" {
		mid := "0"
		rc.SDPMid = &mid
	}
	if rc.SDPMLineIndex == nil {
		var idx uint16
		rc.SDPMLineIndex = &idx
	}
	if g.ufrag != "" {
		u := g.ufrag
		rc.UsernameFragment = &u
	}
}

func (p *Peer) postCandidateLocked(rc protocol.RTCCandidate) {
	if f := p.opts.OnCandidate; f != nil {
		p.events.post(func() { f(rc) })
	}
}
