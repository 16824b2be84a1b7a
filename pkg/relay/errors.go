package relay

import "errors"

// Sentinel errors. Functions wrap them with context (which field, which
// peer, what the library underneath said); test with errors.Is.
var (
	// ErrInvalidConfig: a Config field is out of range or malformed.
	ErrInvalidConfig = errors.New("relay: invalid configuration")

	// ErrClosed: the relay or the peer was closed.
	ErrClosed = errors.New("relay: closed")

	// ErrBadSDP: an answer could not be parsed or applied. The peer is
	// unchanged and still waits for a valid answer to its offer.
	ErrBadSDP = errors.New("relay: bad SDP")

	// ErrBadCandidate: a remote ICE candidate could not be parsed or
	// applied. The candidate is dropped; the peer is unaffected.
	ErrBadCandidate = errors.New("relay: bad ICE candidate")

	// ErrTooManyCandidates: too many remote candidates arrived before the
	// answer. Extra candidates are dropped.
	ErrTooManyCandidates = errors.New("relay: too many queued ICE candidates")

	// ErrNoOffer: SetAnswer was called while no offer awaits an answer.
	ErrNoOffer = errors.New("relay: no offer awaits an answer")

	// ErrNotOpen: the data channel is not open (not yet, or no longer);
	// the caller should use the WebSocket instead.
	ErrNotOpen = errors.New("relay: data channel not open")

	// ErrFrameTooBig: a frame is larger than its limit: protocol.MaxFrameBytes
	// for frames received, the browser's advertised max-message-size for
	// frames sent.
	ErrFrameTooBig = errors.New("relay: frame too big")

	// ErrSendBufferFull: the peer does not read fast enough and more than
	// Config.MaxBufferedBytes wait to be sent on the channel.
	ErrSendBufferFull = errors.New("relay: send buffer full")

	// ErrNoMedia: a call needs peers made with PeerOptions.Media.
	ErrNoMedia = errors.New("relay: peer cannot carry media")
)
