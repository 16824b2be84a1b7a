// Package protocol defines Parley's wire protocol: the JSON frames that
// widget, agent app, signaling server and relay exchange, whatever transport
// carries them (WebSocket or WebRTC data channel).
//
// Every frame is one JSON object with a "type" field. The Go types here are
// the single definition; the TypeScript types used by the widget and the
// agent app are generated from them (see ts.go and protocol.ts), and a test
// fails when the generated file is stale.
package protocol

import "time"

// Version is the protocol version a client announces in Hello. A server
// answers a Hello with a higher version with ErrCodeVersion.
const Version = 1

// Limits. A frame larger than MaxFrameBytes closes the WebSocket with 1009
// (message too big); a body larger than MaxBodyBytes is refused with an error
// frame and the connection stays open.
const (
	MaxFrameBytes   = 32 << 10
	MaxBodyBytes    = 8 << 10
	MaxClientIDLen  = 64
	MaxResumeTopics = 200
)

// SystemClientIDPrefix begins the client ids of system notices (a join, a
// close, a call's steps): "sys:close", "sys:join:<agent>", …. A message's
// client id makes its store idempotent, so a client's message that took
// such an id first would silence the notice; clients' ids are refused in
// this namespace.
const SystemClientIDPrefix = "sys:"

// Frame types.
const (
	TypeHello        = "hello"        // client → server: first frame
	TypeWelcome      = "welcome"      // server → client: answer to hello
	TypeResume       = "resume"       // client → server: send me what I missed
	TypeSynced       = "synced"       // server → client: resume of one conversation done
	TypeStart        = "start"        // visitor → server: open (or return) my conversation
	TypeSend         = "send"         // client → server: a chat message
	TypeAck          = "ack"          // server → client: message committed
	TypeMessage      = "message"      // server → client: a stored chat message
	TypeTyping       = "typing"       // both ways: typing indicator (not stored)
	TypeConversation = "conversation" // server → client: a conversation's state changed
	TypeQueue        = "queue"        // server → visitor: position in queue
	TypeStatus       = "status"       // client → server: an agent's online / away; a visitor's page shown (online) / hidden (away)
	TypeClose        = "close"        // client → server: close a conversation
	TypeError        = "error"        // server → client: something failed
	TypePing         = "ping"         // client → server: keepalive
	TypePong         = "pong"         // server → client: answer to ping
	TypeOffer        = "offer"        // server → agents: a conversation offered to one agent (offer mode)
	TypeOffline      = "offline"      // server → visitor: nobody can take the chat now; leave a message
	TypeResync       = "resync"       // server → client: publications may have been missed; resume everything
	TypeToken        = "token"        // server → visitor: a fresh visitor token, before the current one expires
	TypeSite         = "site"         // server → visitor: the site's widget settings changed
	TypeNote         = "note"         // server → agents: a private note was written (never to a visitor)
	TypeRead         = "read"         // both ways: read up to a seq (a read receipt)
	// TypeAssistantDraft: server → visitor: the assistant's answer so far,
	// while it is written (not stored; the answer itself comes as a message).
	TypeAssistantDraft = "assistant_draft"
	// TypeTranslation: server → visitor and agents: a stored message in
	// the reader's language (auto-translation; the message keeps its
	// original, which stays one click away).
	TypeTranslation = "translation"

	// WebRTC negotiation between a client and its relay, carried over the
	// client's WebSocket. The relay always offers (also on renegotiation),
	// browsers always answer, so offers never collide.
	TypeRTCStart     = "rtc_start"     // client → server: I want a data channel
	TypeRTCOffer     = "rtc_offer"     // server → client: the relay's offer
	TypeRTCAnswer    = "rtc_answer"    // client → server: the browser's answer
	TypeRTCCandidate = "rtc_candidate" // both ways: a trickled ICE candidate
	TypeRTCStop      = "rtc_stop"      // both ways: give up WebRTC, use the WebSocket

	// Calls (voice, screen share) in a conversation, through the relay.
	// Media travels on the peers negotiated above: the relay renegotiates
	// them (a new rtc_offer) when a call starts and ends.
	TypeCall      = "call"       // client → server: start, accept, decline, mute, unmute, hang up
	TypeCallState = "call_state" // server → client: a call rings, starts, changes or ends
)

// Call kinds: voice (both microphones) or screen (the caller shares its
// screen with the other side).
const (
	CallVoice  = "voice"
	CallScreen = "screen"
)

// Call actions (Call.Action).
const (
	CallStart   = "start"
	CallAccept  = "accept"
	CallDecline = "decline"
	CallHangUp  = "hangup"
	CallMute    = "mute"
	CallUnmute  = "unmute"
)

// Call states (CallState.State) and why a call ended (CallState.Reason).
const (
	CallRinging = "ringing"
	CallActive  = "active"
	CallEnded   = "ended"

	CallReasonDeclined  = "declined"  // the callee said no
	CallReasonMissed    = "missed"    // nobody answered in time
	CallReasonCancelled = "cancelled" // the caller hung up before an answer
	CallReasonHungUp    = "hung_up"   // either side ended an active call
	CallReasonDropped   = "dropped"   // a side's connection went away
	CallReasonElsewhere = "elsewhere" // answered or declined on another device
)

// Author kinds.
const (
	AuthorVisitor = "visitor"
	AuthorAgent   = "agent"
	AuthorSystem  = "system"
	// AuthorAssistant: the site's assistant, answering from its help
	// articles (pkg/assistant); its messages carry their Sources.
	AuthorAssistant = "assistant"
	// AuthorProactive: the site's proactive message (a trigger) that the
	// visitor answered by starting the conversation, stored first, in the
	// name of the agent or assistant the site's admin chose (ID is that
	// agent's, or empty). Nobody wrote it in this conversation: it is not
	// an agent's reply (reports, receipts).
	AuthorProactive = "proactive"
)

// Audiences of a system message (Message.Audience): a notice worded for
// one side only. Empty means both sides see it; each client shows only the
// notices for its own side (the other side's are still delivered, so every
// client's seq stays contiguous).
const (
	AudienceVisitor = "visitor"
	AudienceAgent   = "agent"
)

// Conversation states.
const (
	ConversationQueued = "queued" // waiting for an agent
	ConversationOpen   = "open"   // assigned to an agent
	ConversationClosed = "closed" // ended; history stays
	// ConversationOffline: nobody could take it (no agent online, or
	// outside business hours); agents read it later (an offline message).
	ConversationOffline = "offline"
	// ConversationAssistant: the site's assistant answers it; routing does
	// not see it until the visitor asks for a person.
	ConversationAssistant = "assistant"
)

// Agent statuses.
const (
	StatusOnline  = "online"
	StatusAway    = "away"
	StatusOffline = "offline"
)

// Visitor presence (ConversationInfo.VisitorPresence): connected with the
// page shown, connected with the page hidden, or not connected.
const (
	PresenceOnline = "online"
	PresenceAway   = "away"
	PresenceGone   = "gone"
)

// Envelope is what every frame has in common: its type and an optional
// client-chosen reference that the server copies into the answer (welcome,
// conversation, error) so the client can match answer to request.
type Envelope struct {
	Type string `json:"type"`
	Ref  string `json:"ref,omitempty"`
}

// GetRef returns the frame's ref (every frame embeds Envelope).
func (e Envelope) GetRef() string { return e.Ref }

// Hello opens a session. Resume lists, per conversation id, the highest seq
// the client already has; the server then sends everything after it.
type Hello struct {
	Envelope
	V      int              `json:"v"`
	Resume map[string]int64 `json:"resume,omitempty"`
}

// Author says who wrote a message.
type Author struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ConversationInfo is the state of one conversation as clients see it.
type ConversationInfo struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	VisitorID   string    `json:"visitor_id"`
	VisitorName string    `json:"visitor_name"`
	AgentID     string    `json:"agent_id,omitempty"`
	AgentName   string    `json:"agent_name,omitempty"`
	LastSeq     int64     `json:"last_seq"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	LastBody    string    `json:"last_body,omitempty"`
	// Routing: the visitor's language, what the conversation needs, its
	// priority, the note of its latest transfer, and the contact an
	// offline visitor left.
	Language     string `json:"language,omitempty"`
	Skill        string `json:"skill,omitempty"`
	Team         string `json:"team,omitempty"`
	Priority     int    `json:"priority,omitempty"`
	TransferNote string `json:"transfer_note,omitempty"`
	// RoutingSummary: why its agent has it, in a sentence for agents
	// ("speaks French, least busy of 2 available agents").
	RoutingSummary string `json:"routing_summary,omitempty"`
	ContactName    string `json:"contact_name,omitempty"`
	// VisitorPresence: online, away or gone (Presence*), live; empty when
	// not known. VisitorSeenAt is when it last changed.
	VisitorPresence string     `json:"visitor_presence,omitempty"`
	VisitorSeenAt   *time.Time `json:"visitor_seen_at,omitempty"`
	ContactEmail    string     `json:"contact_email,omitempty"`
	// State is the inbox state of a conversation that is not closed:
	// "" (open), pending (waiting on the visitor) or snoozed until
	// SnoozedUntil (State*). A visitor's message makes it open again.
	State        string     `json:"state,omitempty"`
	SnoozedUntil *time.Time `json:"snoozed_until,omitempty"`
	// CsatRating (1 to 5) and CsatComment: how the visitor rated the chat
	// once it ended; 0 and empty before.
	CsatRating  int    `json:"csat_rating,omitempty"`
	CsatComment string `json:"csat_comment,omitempty"`
	// What the visitor gave in the pre-chat form: email, phone and the
	// site's own fields by label.
	VisitorEmail  string            `json:"visitor_email,omitempty"`
	VisitorPhone  string            `json:"visitor_phone,omitempty"`
	VisitorFields map[string]string `json:"visitor_fields,omitempty"`
	// Read receipts: the highest seq the visitor has read, and the highest
	// any agent has read (0: none yet). Read frames move them live.
	VisitorReadSeq int64 `json:"visitor_read_seq,omitempty"`
	AgentReadSeq   int64 `json:"agent_read_seq,omitempty"`
}

// Inbox states of a conversation (ConversationInfo.State).
const (
	StatePending = "pending"
	StateSnoozed = "snoozed"
)

// Welcome answers Hello: who the client is and the conversations it may see
// (a visitor's own; an agent's assigned ones plus the workspace queue).
type Welcome struct {
	Envelope
	V             int                `json:"v"`
	Session       string             `json:"session"`
	Self          Author             `json:"self"`
	Status        string             `json:"status,omitempty"`
	Conversations []ConversationInfo `json:"conversations"`
}

// Resync tells a client that its node may have missed publications for it
// (the node lost the bus to the other nodes for a while): the client resumes
// every conversation it holds from its last contiguous seq, as after a
// reconnect, on the same connection. Conversations lists what the client
// may see now (as in Welcome), so one started meanwhile is not missed.
type Resync struct {
	Envelope
	Conversations []ConversationInfo `json:"conversations"`
}

// Token hands a visitor's connection a fresh visitor token before the one
// it connected with expires (tokens are short-lived): the widget keeps it
// for its next connection and widget API calls.
type Token struct {
	Envelope
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"` // RFC 3339
}

// WidgetLook is how a site's widget looks and what it offers, as an admin
// set it (GET /api/widget/look and the site frame). Empty Title and
// Greeting mean the widget's own words; LauncherPosition is "right" or
// "left"; AccentColor is #rrggbb.
type WidgetLook struct {
	Title            string `json:"title"`
	Greeting         string `json:"greeting"`
	AccentColor      string `json:"accent_color"`
	LauncherPosition string `json:"launcher_position"`
	ShowAvatars      bool   `json:"show_avatars"`
	VisitorCalls     bool   `json:"visitor_calls"`
	// Language is the site's choice of the widget's language (en, es, fr,
	// de, pt, ar); empty: the visitor's.
	Language string `json:"language"`
	// PrechatFields are what the pre-chat form (and the offline form)
	// asks, in order; none: the visitor writes at once.
	PrechatFields []PrechatField `json:"prechat_fields"`
	// Attachments: what the visitor may attach (the server checks again).
	Attachments AttachmentLimits `json:"attachments"`
}

// PrechatField is one field of a site's pre-chat form: Kind is name,
// email, phone or custom (then Label names it).
type PrechatField struct {
	Kind     string `json:"kind"`
	Label    string `json:"label,omitempty"`
	Required bool   `json:"required"`
}

// Site tells a site's open widgets that an admin changed its settings:
// they apply the new look at once, without a reload.
type Site struct {
	Envelope
	Look WidgetLook `json:"look"`
}

// Resume asks for every message after the given seq, per conversation.
type Resume struct {
	Envelope
	Conversations map[string]int64 `json:"conversations"`
}

// Synced says a resume of one conversation is complete up to Seq.
type Synced struct {
	Envelope
	Conversation string `json:"conversation"`
	Seq          int64  `json:"seq"`
}

// Start asks the server to open a conversation for the visitor, or to return
// the one already open. It is idempotent per visitor. Trigger is the
// proactive message the visitor is answering, if any (the id of a trigger
// the server showed them): a new conversation opens with it.
type Start struct {
	Envelope
	Trigger string `json:"trigger,omitempty"`
}

// Send carries a chat message from a client. ClientID (a UUID chosen by the
// client) makes resends idempotent: the server stores a ClientID once per
// conversation and answers a resend with the original Ack.
type Send struct {
	Envelope
	ClientID     string `json:"client_id"`
	Conversation string `json:"conversation"`
	Body         string `json:"body"`
}

// Ack confirms that a Send was committed with sequence number Seq.
type Ack struct {
	Envelope
	ClientID     string `json:"client_id"`
	Conversation string `json:"conversation"`
	Seq          int64  `json:"seq"`
}

// Message is a stored chat message, delivered to every participant.
type Message struct {
	Envelope
	Conversation string    `json:"conversation"`
	Seq          int64     `json:"seq"`
	ClientID     string    `json:"client_id"`
	Author       Author    `json:"author"`
	Body         string    `json:"body"`
	SentAt       time.Time `json:"sent_at"`
	Audience     string    `json:"audience,omitempty"`
	// Sources: the help articles an assistant's answer came from.
	Sources []Source `json:"sources,omitempty"`
	// Translation: the message in the reader's language, when the
	// conversation is auto-translated and it was translated (history and
	// resume; live messages get a Translation frame after them).
	Translation *TranslationInfo `json:"translation,omitempty"`
	// Attachment: the file this message carries (its Body is the file's
	// name). Uploaded over HTTP, not in a frame: POST
	// /api/widget/conversations/:id/attachments (visitors) or
	// /api/conversations/:id/attachments (agents).
	Attachment *Attachment `json:"attachment,omitempty"`
	// Notice: a system message's template ("{0} joined the chat") and
	// the values it was filled with, for a client to write it in its
	// reader's language; Body is the notice in English.
	Notice string   `json:"notice,omitempty"`
	Args   []string `json:"args,omitempty"`
}

// TranslationInfo is a message's text in another language.
type TranslationInfo struct {
	// Language is the translation's (ISO 639-1), From the original's.
	Language string `json:"language"`
	From     string `json:"from"`
	Text     string `json:"text"`
	// Provider made it: "apertium" or "openai".
	Provider string `json:"provider"`
}

// Translation is a stored message of Conversation translated for one side:
// For is "agent" (a visitor's message in the agent's language) or
// "visitor" (an agent's reply in the visitor's). Each side shows the ones
// for it; Body of the message stays the original.
type Translation struct {
	Envelope
	Conversation string          `json:"conversation"`
	Seq          int64           `json:"seq"`
	For          string          `json:"for"`
	Translation  TranslationInfo `json:"translation"`
}

// Attachment is a file sent in a conversation, as its participants see
// it. Type is what the server sniffed from the bytes (never the sender's
// claim); Image says it is a raster image shown inline (PNG, JPEG, GIF,
// WebP), anything else is a link that downloads.
type Attachment struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Type  string `json:"type"`
	Size  int64  `json:"size"`
	Image bool   `json:"image,omitempty"`
}

// AttachmentLimits are what a site's visitors and agents may send: files
// up to MaxBytes, of the MIME Types listed.
type AttachmentLimits struct {
	MaxBytes int64    `json:"max_bytes"`
	Types    []string `json:"types"`
}

// Source is a help article an assistant's answer came from, with the
// address of its page on the site's public help.
type Source struct {
	ArticleID string `json:"article_id"`
	Title     string `json:"title"`
	URL       string `json:"url"`
}

// AssistantDraft is the assistant's answer to a visitor's message as far
// as it is written (Text is all of it so far), sent as the answer streams
// in. The stored answer, a Message with the same ClientID, replaces it;
// a draft whose message never comes is dropped when the conversation's
// state changes (the visitor was handed to a person).
type AssistantDraft struct {
	Envelope
	Conversation string `json:"conversation"`
	ClientID     string `json:"client_id"`
	Text         string `json:"text"`
}

// NoteInfo is a private note as agents see it: written by an agent in a
// conversation, placed after the message of seq AfterSeq, naming the
// agents in Mentions (ids). Notes never take a seq and are never sent to
// a visitor (pkg/store/notes.go).
type NoteInfo struct {
	ID           string    `json:"id"`
	Conversation string    `json:"conversation"`
	AfterSeq     int64     `json:"after_seq"`
	Author       Author    `json:"author"`
	Body         string    `json:"body"`
	Mentions     []string  `json:"mentions"`
	CreatedAt    time.Time `json:"created_at"`
}

// Note tells agents' dashboards of a new private note. It goes only on
// the workspace's agents topic.
type Note struct {
	Envelope
	Note NoteInfo `json:"note"`
}

// Read is a read receipt. From a client: it has shown the conversation's
// messages up to Seq to its user. From the server: Side ("visitor" or
// "agent", AuthorVisitor or AuthorAgent) has read up to Seq; each side's
// cursor only moves forward and is stored with the conversation.
type Read struct {
	Envelope
	Conversation string `json:"conversation"`
	Seq          int64  `json:"seq"`
	Side         string `json:"side,omitempty"`
}

// Typing tells the other side that someone is (or stopped) typing. Author is
// filled in by the server.
type Typing struct {
	Envelope
	Conversation string  `json:"conversation"`
	On           bool    `json:"on"`
	Author       *Author `json:"author,omitempty"`
}

// Conversation tells a client that a conversation it may see changed.
type Conversation struct {
	Envelope
	Conversation ConversationInfo `json:"conversation"`
}

// Queue tells a waiting visitor its place in the queue (1 = next).
// EstimatedWaitSeconds is -1 when no agent is available to estimate from.
type Queue struct {
	Envelope
	Conversation         string `json:"conversation"`
	Position             int    `json:"position"`
	EstimatedWaitSeconds int    `json:"estimated_wait_seconds"`
}

// Offer tells the workspace's agents that a conversation is offered to
// Agent until ExpiresAt (offer mode); the agent accepts or declines with
// POST /api/conversations/:id/accept or /decline. Ended is set when the
// offer is over without an accept (Why: declined, expired, ...).
type Offer struct {
	Envelope
	Conversation string    `json:"conversation"`
	Agent        string    `json:"agent"`
	ExpiresAt    time.Time `json:"expires_at"`
	Ended        bool      `json:"ended,omitempty"`
	Why          string    `json:"why,omitempty"`
}

// Offline tells a visitor that nobody can take the chat now (Reason:
// "no_agent" or "outside_hours"); the widget offers its offline message
// form. ReopensAt is when business hours start again, if known.
type Offline struct {
	Envelope
	Conversation string     `json:"conversation,omitempty"`
	Reason       string     `json:"reason"`
	ReopensAt    *time.Time `json:"reopens_at,omitempty"`
}

// Status sets an agent's availability (online, away), or says whether a
// visitor's page is shown (online) or hidden (away).
type Status struct {
	Envelope
	Status string `json:"status"`
}

// Close ends a conversation.
type Close struct {
	Envelope
	Conversation string `json:"conversation"`
}

// Error reports a failed request. Retryable errors (a store outage, a rate
// limit) may be retried with the same client_id after RetryAfterMs.
type Error struct {
	Envelope
	Code         string `json:"code"`
	Message      string `json:"message"`
	Retryable    bool   `json:"retryable,omitempty"`
	RetryAfterMs int    `json:"retry_after_ms,omitempty"`
}

// Ping and Pong keep a connection alive through proxies.
type Ping struct{ Envelope }

// Pong answers Ping.
type Pong struct{ Envelope }

// ICEServer is one STUN or TURN server for RTCPeerConnection's iceServers.
// TURN credentials are time-limited (TURN REST scheme).
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// RTCStart asks for a peer connection to a relay. With Restart the browser
// saw its connection go disconnected or failed while the WebSocket lives:
// the relay then makes an ICE-restart offer on the same peer (same data
// channels) instead of a new peer.
type RTCStart struct {
	Envelope
	Restart bool `json:"restart,omitempty"`
}

// RTCOffer carries the relay's SDP offer and the ICE servers to use.
type RTCOffer struct {
	Envelope
	SDP        string      `json:"sdp"`
	ICEServers []ICEServer `json:"ice_servers"`
	// ICETransportPolicy is the browser's RTCConfiguration.iceTransportPolicy:
	// "relay" (through TURN only) when the operator asks for it, else absent.
	ICETransportPolicy string `json:"ice_transport_policy,omitempty"`
}

// RTCAnswer carries the browser's SDP answer.
type RTCAnswer struct {
	Envelope
	SDP string `json:"sdp"`
}

// RTCCandidate carries one trickled ICE candidate (RTCIceCandidateInit).
// An empty Candidate means end of candidates.
type RTCCandidate struct {
	Envelope
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Call acts on a call of the conversation. Start needs Kind; the other
// actions apply to the conversation's current call, named by ID (or
// Kind) when it has two: a voice call and a screen share may run at once.
type Call struct {
	Envelope
	Conversation string `json:"conversation"`
	Action       string `json:"action"`
	Kind         string `json:"kind,omitempty"`
	ID           string `json:"id,omitempty"`
}

// CallState tells one client where a call of its conversation stands.
// Incoming: this client is the one being called (show accept / decline).
// Send lists the mids of this client's transceivers on which it sends its
// microphone or screen; the rtc_offer that adds them follows. Muted lists
// the ids of the participants who muted themselves.
type CallState struct {
	Envelope
	Conversation    string     `json:"conversation"`
	ID              string     `json:"id"`
	Kind            string     `json:"kind"`
	State           string     `json:"state"`
	Caller          Author     `json:"caller"`
	Incoming        bool       `json:"incoming,omitempty"`
	Send            []string   `json:"send,omitempty"`
	Muted           []string   `json:"muted,omitempty"`
	Reason          string     `json:"reason,omitempty"`
	By              *Author    `json:"by,omitempty"`
	ExpiresAt       *time.Time `json:"expires_at,omitempty"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	DurationSeconds int        `json:"duration_seconds,omitempty"`
}

// RTCStop says WebRTC is given up (failed, closed, or refused); chat goes on
// over the WebSocket. Reason is for diagnostics.
type RTCStop struct {
	Envelope
	Reason string `json:"reason,omitempty"`
}
