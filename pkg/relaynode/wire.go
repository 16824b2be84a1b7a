// Package relaynode runs Parley's relay as its own process and connects
// signaling to it. Three parts:
//
//   - Node (node.go) is the standalone relay (go run ./relay): a
//     relay.Relay whose peers are driven over control links, an HTTP
//     server (/control, /healthz, /readyz, /metrics), and a heartbeat that
//     registers the relay and its load with signaling.
//   - Registry (registry.go) is signaling's list of live relays and of the
//     relay each conversation uses: in process (Memory) or shared by every
//     signaling node (Redis).
//   - Pool (pool.go) is signaling's side: it picks a relay, keeps one
//     control link (a WebSocket) per relay, and hands pkg/service a Peer
//     that behaves like an in-process relay.Peer.
//
// pkg/service talks to "a relay" only through Peers: Local (the in-process
// relay, the default) or a Pool.
//
// Chat on a standalone relay, two modes:
//
//   - committing (the relay has the fleet's PostgreSQL, Redis and keys):
//     the relay runs its own conversation service (chat.go): it commits a
//     data channel's sends, acks after the commit over the channel, and
//     delivers the bus's chat publications for that participant itself;
//     signaling leaves those out of the WebSocket while the channel is
//     open. Other frames (resume, ping, …) still go to signaling.
//   - forwarding (no shared store, e.g. signaling on SQLite): the relay
//     forwards every data channel frame to the signaling node that created
//     the peer over the control link, and the frames signaling sends back;
//     signaling handles them exactly as frames of an in-process peer.
//
// See docs/design/transports.md.
//
// Calls (calls.go): the relay serving both peers of a call forwards its
// media (relay.Call); signaling drives it over the control link.
package relaynode

import (
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/relay"
)

// Control link messages, one JSON object per WebSocket text message. Every
// message but reply names a peer; signaling makes peer ids unique per link.
// The ops are generic (offer / answer / candidate / state / close per peer)
// so relay-initiated renegotiation for calls travels the same way: after
// connect or hangup signaling asks each peer for a new offer.
const (
	// signaling → relay
	opCreate    = "create"     // make peer (req): reply empty or error
	opOffer     = "offer"      // relay offers (req): reply sdp; restart=true for an ICE restart
	opAnswer    = "answer"     // the browser's answer (req): reply empty or error
	opCandidate = "candidate"  // both ways: a trickled candidate (signaling → relay is a req)
	opSend      = "send"       // a frame for the browser: on chat, or on signals when Channel says so (typing)
	opClose     = "close"      // close the peer (no reply; the relay reports state closed)
	opConnect   = "connect"    // start a call between peer and other (req): reply mids
	opHangup    = "hangup"     // end a call (req): reply once its transceivers are stopped
	opCallStats = "call_stats" // what a call forwarded (req): reply legs

	// relay → signaling
	opReply    = "reply"    // answers req
	opFrame    = "frame"    // a frame from the browser
	opOversize = "oversize" // the browser sent a frame over the limit (dropped)
	opState    = "state"    // the peer's state changed (relay.State string)
)

// msg is one control link message.
type msg struct {
	Op        string                 `json:"op"`
	Peer      string                 `json:"peer,omitempty"`
	Req       uint64                 `json:"req,omitempty"`
	SDP       string                 `json:"sdp,omitempty"`
	Restart   bool                   `json:"restart,omitempty"`
	Candidate *protocol.RTCCandidate `json:"candidate,omitempty"`
	Channel   string                 `json:"channel,omitempty"`
	Data      string                 `json:"data,omitempty"`
	Size      int                    `json:"size,omitempty"`
	State     string                 `json:"state,omitempty"`
	// Participant (create) is the connection's owner; Chat (its reply)
	// says the relay commits and delivers that participant's chat itself.
	Participant *participant `json:"participant,omitempty"`
	Chat        bool         `json:"chat,omitempty"`
	// Conn (create) is signaling's id of the peer's connection: the
	// subject of the per-connection message limit, which a committing
	// relay shares with the connection's WebSocket. Empty: the peer id.
	Conn string `json:"conn,omitempty"`
	// Media (create) makes a peer that can carry calls.
	Media bool `json:"media,omitempty"`
	// Calls (calls.go): Call names one (signaling picks ids unique per
	// link); connect joins Peer and Other for Kind (relay.Media), its reply
	// has each peer's send mids; call_stats replies Legs.
	Call  string              `json:"call,omitempty"`
	Other string              `json:"other,omitempty"`
	Kind  string              `json:"kind,omitempty"`
	Mids  map[string][]string `json:"mids,omitempty"`
	Legs  []relay.LegStats    `json:"legs,omitempty"`
	// Error and Code describe a failed request; Code maps back to the
	// relay package's sentinel errors (errorCodes).
	Error string `json:"error,omitempty"`
	Code  string `json:"code,omitempty"`
}
