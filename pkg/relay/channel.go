package relay

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/pion/datachannel"
	"github.com/pion/sctp"
	"github.com/pion/webrtc/v4"
)

// channel is one data channel and, once open, its detached stream.
type channel struct {
	label string
	dc    *webrtc.DataChannel

	mu  sync.Mutex
	raw *datachannel.DataChannel // nil until open and after close
}

func (c *channel) stream() *datachannel.DataChannel {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raw
}

// Send sends one frame on the chat channel, as a text message (browsers
// receive a string, ready for JSON.parse; so data must be UTF-8, as JSON
// frames are). It returns ErrNotOpen before the channel opens and after it
// closes, ErrFrameTooBig when data exceeds the browser's max-message-size,
// and ErrSendBufferFull when the browser is not reading. Frames are
// delivered in order, reliably, also across an ICE restart.
func (p *Peer) Send(data []byte) error { return p.send(p.chat, data) }

// SendSignal sends one message on the signals channel (unordered, never
// retransmitted: it may be lost). Errors as for Send.
func (p *Peer) SendSignal(data []byte) error { return p.send(p.sig, data) }

func (p *Peer) send(ch *channel, data []byte) error {
	raw := ch.stream()
	if raw == nil {
		return fmt.Errorf("relay: peer %s: channel %s: %w", p.id, ch.label, ErrNotOpen)
	}
	if limit := p.relay.cfg.MaxBufferedBytes; raw.BufferedAmount() > uint64(limit) {
		return fmt.Errorf("relay: peer %s: channel %s: %w (%d bytes queued)", p.id, ch.label, ErrSendBufferFull, raw.BufferedAmount())
	}
	if _, err := raw.WriteDataChannel(data, true); err != nil {
		if errors.Is(err, sctp.ErrOutboundPacketTooLarge) {
			return fmt.Errorf("relay: peer %s: channel %s: %w: %d bytes: %v", p.id, ch.label, ErrFrameTooBig, len(data), err)
		}
		return fmt.Errorf("relay: peer %s: channel %s: %w: %v", p.id, ch.label, ErrNotOpen, err)
	}
	return nil
}

// onChannelOpen runs on a Pion goroutine when a channel opens: detach it
// and start our read loop.
func (p *Peer) onChannelOpen(ch *channel) {
	raw, err := ch.dc.Detach()
	if err != nil {
		p.relay.logs.NewLogger("relay").Errorf("peer %s: detach %s: %v", p.id, ch.label, err)
		return
	}
	stream, ok := raw.(*datachannel.DataChannel)
	if !ok {
		_ = raw.Close()
		return
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	ch.mu.Lock()
	ch.raw = stream
	ch.mu.Unlock()
	p.wg.Add(1)
	go p.readLoop(ch, stream)
	if ch == p.chat {
		p.setStateLocked(StateOpen)
	}
}

// readLoop delivers each message of one channel until it closes. The
// buffer is small; a bigger message stays at the head of the SCTP queue
// (Pion reports io.ErrShortBuffer with its size) and is read again into a
// buffer of exactly that size.
func (p *Peer) readLoop(ch *channel, stream *datachannel.DataChannel) {
	defer p.wg.Done()
	buf := make([]byte, p.relay.cfg.ReadBufferSize)
	for {
		n, _, err := stream.ReadDataChannel(buf)
		msg, fresh := buf, false
		// The message stays queued until read whole, and Pion does not
		// say its size: retry with bigger one-off buffers. A legal frame
		// fits the first; the others only to drain an oversize message.
		for _, size := range p.retrySizes {
			if !errors.Is(err, io.ErrShortBuffer) {
				break
			}
			msg, fresh = make([]byte, size), true
			n, _, err = stream.ReadDataChannel(msg)
		}
		if errors.Is(err, io.ErrShortBuffer) {
			// Larger than anything we announced or can hold: the
			// channel cannot move past it.
			p.relay.logs.NewLogger("relay").Warnf("peer %s: %s: message over %d bytes, closing", p.id, ch.label, maxSCTPMessageSize)
			if f := p.opts.OnOversize; f != nil && !p.isClosed() {
				f(ch.label, maxSCTPMessageSize+1)
			}
			p.channelClosed(ch)
			_ = p.Close()
			return
		}
		if err != nil {
			p.channelClosed(ch)
			return
		}
		if n > protocol.MaxFrameBytes {
			if f := p.opts.OnOversize; f != nil && !p.isClosed() {
				f(ch.label, n)
			}
			continue
		}
		if f := p.opts.OnFrame; f != nil && !p.isClosed() {
			data := msg[:n]
			if !fresh { // buf is reused: hand over a copy
				data = append([]byte(nil), data...)
			}
			f(ch.label, data)
		}
	}
}

func (p *Peer) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// channelClosed handles a channel's end: the chat channel is the reason
// the peer exists, so its end closes the peer.
func (p *Peer) channelClosed(ch *channel) {
	ch.mu.Lock()
	ch.raw = nil
	ch.mu.Unlock()
	if ch == p.chat {
		_ = p.Close()
	}
}
