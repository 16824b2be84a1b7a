package relay

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Media is what a call carries between two peers of the same conversation.
type Media string

const (
	// MediaVoice: Opus both ways (each browser sends its microphone).
	MediaVoice Media = "voice"
	// MediaScreen: VP8 from the first peer (the one sharing its screen)
	// to the second.
	MediaScreen Media = "screen"
)

// Payload types the relay offers. Fixed, so a forwarded packet keeps the
// payload type the receiving browser was told about.
const (
	payloadOpus = 111
	payloadVP8  = 96
)

// newMediaAPI builds the API for peers that may carry calls: the lean
// API's settings plus Opus and VP8, with the feedback a forwarding relay
// passes on (NACK, PLI, FIR). There are still no interceptors: the relay
// does not terminate media, it forwards RTP as it comes and forwards the
// receiver's keyframe requests and NACKs to the sender, so per-packet work
// stays one read and one write, and a peer without a call costs what a
// data-only peer costs.
func newMediaAPI(se webrtc.SettingEngine) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	videoFeedback := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: opusCapability, PayloadType: payloadOpus,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("relay: register Opus: %w", err)
	}
	vp8 := vp8Capability
	vp8.RTCPFeedback = videoFeedback
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: vp8, PayloadType: payloadVP8,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("relay: register VP8: %w", err)
	}
	return webrtc.NewAPI(
		webrtc.WithSettingEngine(se),
		webrtc.WithMediaEngine(m),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}),
	), nil
}

var (
	opusCapability = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}
	vp8Capability  = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
)

// Call forwards media between two peers of one relay. Peer.Connect adds the
// call's transceivers to both peers; the caller then renegotiates each
// peer (Offer → rtc_offer, SetAnswer) and the browsers attach their
// microphone or screen to the transceivers named by SendMids. RTP is
// forwarded as it arrives; keyframe requests (PLI, FIR) and NACKs from the
// receiving browser go to the sending browser. Close stops the call's
// transceivers (renegotiate again so the browsers drop them); the peers,
// their data channels and the chat stay up throughout.
type Call struct {
	media Media
	a, b  *Peer

	mu     sync.Mutex
	closed bool
	legs   []*leg
	trans  []*webrtc.RTPTransceiver // every transceiver of the call, to stop
	mids   map[*Peer][]string
	wg     sync.WaitGroup // forward and feedback loops
}

// leg is one direction of one kind of media: from's browser sends on recv
// (a transceiver of from's connection); the relay writes it to local,
// sent to to's browser on send.
type leg struct {
	call     *Call
	from, to *Peer
	kind     webrtc.RTPCodecType
	recv     *webrtc.RTPTransceiver
	sender   *webrtc.RTPSender
	local    *webrtc.TrackLocalStaticRTP
	srcSSRC  atomic.Uint32 // the sending browser's SSRC, once its track arrived
	packets  atomic.Uint64
	bytes    atomic.Uint64
	keyframe atomic.Uint64 // keyframe requests sent to from
	nacks    atomic.Uint64 // NACKs passed on to from
}

// LegStats counts what one direction of a call carried.
type LegStats struct {
	From, To string // peer ids
	Kind     string // "audio" or "video"
	// Packets and Bytes forwarded (RTP, headers included).
	Packets, Bytes uint64
	// KeyframeRequests sent to the sender (the receiver's PLI/FIR, and
	// one when the sender's track arrives); NACKs passed on.
	KeyframeRequests, NACKs uint64
}

// Connect starts a call between p and peer b of the same relay: voice
// (audio both ways) or screen (video from p to b). Both peers must have
// been created with PeerOptions.Media. It only adds transceivers:
// renegotiate both peers afterwards. A peer may be in several calls (voice
// and a screen share at once).
func (p *Peer) Connect(b *Peer, m Media) (*Call, error) {
	a := p
	switch {
	case b == nil || a == b:
		return nil, errors.New("relay: a call needs two different peers")
	case a.relay != b.relay:
		return nil, errors.New("relay: both peers of a call must belong to the same relay")
	case !a.media || !b.media:
		return nil, ErrNoMedia
	case m != MediaVoice && m != MediaScreen:
		return nil, fmt.Errorf("relay: unknown media %q", m)
	}
	c := &Call{media: m, a: a, b: b, mids: make(map[*Peer][]string)}
	var err error
	if m == MediaVoice {
		err = c.addVoice()
	} else {
		err = c.addLeg(a, b, webrtc.RTPCodecTypeVideo, nil)
	}
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// addVoice gives each peer one sendrecv audio transceiver: it receives
// that browser's microphone and sends it the other's.
func (c *Call) addVoice() error {
	ta, err := c.a.addTransceiver(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverDirectionSendrecv, c.b.id)
	if err != nil {
		return err
	}
	c.track(ta)
	tb, err := c.b.addTransceiver(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverDirectionSendrecv, c.a.id)
	if err != nil {
		return err
	}
	c.track(tb)
	if err := c.addLeg(c.a, c.b, webrtc.RTPCodecTypeAudio, &[2]*webrtc.RTPTransceiver{ta, tb}); err != nil {
		return err
	}
	return c.addLeg(c.b, c.a, webrtc.RTPCodecTypeAudio, &[2]*webrtc.RTPTransceiver{tb, ta})
}

func (c *Call) track(t *webrtc.RTPTransceiver) {
	c.mu.Lock()
	c.trans = append(c.trans, t)
	c.mu.Unlock()
}

// addLeg wires from → to. With pair nil it makes the two one-way
// transceivers (recvonly on from, sendonly on to); otherwise it uses
// pair[0] (on from) and pair[1] (on to).
func (c *Call) addLeg(from, to *Peer, kind webrtc.RTPCodecType, pair *[2]*webrtc.RTPTransceiver) error {
	var recv, send *webrtc.RTPTransceiver
	if pair != nil {
		recv, send = pair[0], pair[1]
	} else {
		var err error
		if recv, err = from.addTransceiver(kind, webrtc.RTPTransceiverDirectionRecvonly, ""); err != nil {
			return err
		}
		c.track(recv)
		if send, err = to.addTransceiver(kind, webrtc.RTPTransceiverDirectionSendonly, from.id); err != nil {
			return err
		}
		c.track(send)
	}
	local, ok := send.Sender().Track().(*webrtc.TrackLocalStaticRTP)
	if !ok {
		return errors.New("relay: call transceiver without a local track")
	}
	l := &leg{call: c, from: from, to: to, kind: kind, recv: recv, sender: send.Sender(), local: local}

	c.mu.Lock()
	c.legs = append(c.legs, l)
	c.mids[from] = append(c.mids[from], recv.Mid())
	c.wg.Add(1)
	c.mu.Unlock()
	from.mu.Lock()
	from.incoming[recv.Receiver()] = l
	from.mu.Unlock()
	go l.feedback()
	return nil
}

// addTransceiver adds a transceiver with a mid of the relay's choosing, so
// SendMids can name it before the offer is made. With a send direction it
// carries a new local track for the media forwarded from peer `source`.
func (p *Peer) addTransceiver(kind webrtc.RTPCodecType, dir webrtc.RTPTransceiverDirection, source string) (*webrtc.RTPTransceiver, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, p.errClosed()
	}
	p.mids++
	mid := fmt.Sprintf("m%d", p.mids) // Pion numbers its own mids: no clash
	p.mu.Unlock()

	var (
		t   *webrtc.RTPTransceiver
		err error
	)
	if dir == webrtc.RTPTransceiverDirectionRecvonly {
		t, err = p.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: dir})
	} else {
		capability := opusCapability
		if kind == webrtc.RTPCodecTypeVideo {
			capability = vp8Capability
		}
		var local *webrtc.TrackLocalStaticRTP
		local, err = webrtc.NewTrackLocalStaticRTP(capability, kind.String()+"-"+mid, "call-"+source)
		if err == nil {
			// AddTransceiverFromTrack, not AddTrack: AddTrack may reuse an
			// ended call's transceiver, whose receiver is stopped.
			t, err = p.pc.AddTransceiverFromTrack(local, webrtc.RTPTransceiverInit{Direction: dir})
		}
	}
	if err == nil {
		err = t.SetMid(mid)
	}
	if err != nil {
		return nil, p.wrapClosed(fmt.Errorf("relay: peer %s: add %s transceiver: %w", p.id, kind, err))
	}
	return t, nil
}

// onTrack starts forwarding a browser's track to the leg that owns its
// receiver. Pion calls it on a goroutine of its own.
func (p *Peer) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	p.mu.Lock()
	l := p.incoming[recv]
	p.mu.Unlock()
	if l == nil {
		// Not a call's receiver (a browser sending unasked): read nothing,
		// Pion drops the packets when its buffer is full.
		return
	}
	c := l.call
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	defer c.wg.Done()
	l.forward(remote)
}

// forward copies RTP from the browser's track to the other browser as it
// comes (no jitter buffer, no decoding). Header extensions are dropped:
// their ids belong to the sending browser's negotiation.
func (l *leg) forward(remote *webrtc.TrackRemote) {
	l.srcSSRC.Store(uint32(remote.SSRC()))
	if l.kind == webrtc.RTPCodecTypeVideo {
		l.requestKeyframe() // the viewer starts with a picture
	}
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := remote.Read(buf)
		if err != nil {
			return // receiver stopped (hang-up) or connection closed
		}
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		pkt.Header.Extension = false
		pkt.Header.Extensions = nil
		if err := l.local.WriteRTP(&pkt); err != nil && !errors.Is(err, io.ErrClosedPipe) {
			l.from.relay.logs.NewLogger("relay").Debugf("call %s→%s: write RTP: %v", l.from.id, l.to.id, err)
		}
		l.packets.Add(1)
		l.bytes.Add(uint64(n))
	}
}

// feedback reads the RTCP the receiving browser sends about the forwarded
// track and passes keyframe requests and NACKs to the sending browser
// (with its SSRC), so a late or lossy receiver recovers.
func (l *leg) feedback() {
	defer l.call.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, _, err := l.sender.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, pkt := range pkts {
			switch pkt := pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				l.requestKeyframe()
			case *rtcp.TransportLayerNack:
				if src := l.srcSSRC.Load(); src != 0 {
					l.nacks.Add(1)
					_ = l.from.pc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: src, Nacks: pkt.Nacks}})
				}
			}
		}
	}
}

func (l *leg) requestKeyframe() {
	src := l.srcSSRC.Load()
	if src == 0 || l.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	l.keyframe.Add(1)
	_ = l.from.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: src}})
}

// Media returns what the call carries.
func (c *Call) Media() Media { return c.media }

// SendMids returns the mids of p's transceivers on which p's browser should
// send its media (its microphone for voice, its screen for a share it
// makes): nil when p sends nothing in this call.
func (c *Call) SendMids(p *Peer) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.mids[p]...)
}

// Stats returns what each direction forwarded so far.
func (c *Call) Stats() []LegStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]LegStats, len(c.legs))
	for i, l := range c.legs {
		out[i] = LegStats{From: l.from.id, To: l.to.id, Kind: l.kind.String(),
			Packets: l.packets.Load(), Bytes: l.bytes.Load(), KeyframeRequests: l.keyframe.Load(), NACKs: l.nacks.Load()}
	}
	return out
}

// Close ends the call: it stops the call's transceivers on both peers (the
// forwarding stops, the browsers' tracks end once the peers are
// renegotiated) and waits for the call's goroutines. The peers stay open.
// Calling it again returns nil.
func (c *Call) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	legs, trans := c.legs, c.trans
	c.mu.Unlock()

	for _, l := range legs {
		l.from.mu.Lock()
		delete(l.from.incoming, l.recv.Receiver())
		l.from.mu.Unlock()
	}
	for _, t := range trans {
		// Errors here mean the connection is already closed: its loops
		// end with it.
		_ = t.Stop()
	}
	c.wg.Wait()
	return nil
}
