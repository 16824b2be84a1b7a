package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Error codes carried by Error frames (and by HTTP error bodies).
const (
	CodeBadJSON     = "bad_json"     // the frame is not a JSON object
	CodeUnknownType = "unknown_type" // the frame's type is not known
	CodeInvalid     = "invalid"      // a field is missing or malformed
	CodeTooBig      = "too_big"      // a body or frame exceeds its limit
	CodeNotFound    = "not_found"    // no such conversation (or not yours)
	CodeForbidden   = "forbidden"    // not allowed for this participant
	CodeClosed      = "closed"       // the conversation is closed
	CodeUnavailable = "unavailable"  // the store is down: retry later
	CodeRateLimited = "rate_limited" // too many requests: retry after
	CodeVersion     = "version"      // unsupported protocol version
	CodeNoHello     = "no_hello"     // a frame arrived before hello
	CodeInternal    = "internal"     // a bug; logged on the server
	// CodeCallUnavailable: a call cannot be made because a side has no
	// WebRTC connection to the relay (UDP blocked, no TURN).
	CodeCallUnavailable = "call_unavailable"
)

// Sentinel decode errors. DecodeError wraps them with the frame's ref.
var (
	ErrBadJSON     = errors.New("frame is not a JSON object")
	ErrUnknownType = errors.New("unknown frame type")
	ErrTooBig      = errors.New("frame too big")
	ErrInvalid     = errors.New("invalid frame")
)

// DecodeError is returned by Decode; Code is the error frame code to answer
// with and Ref the ref of the offending frame when it could be read.
type DecodeError struct {
	Err  error
	Code string
	Ref  string
	Msg  string
}

func (e *DecodeError) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	return e.Err.Error()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Frame returns the Error frame that answers this decode error.
func (e *DecodeError) Frame() Error {
	return Error{Envelope: Envelope{Type: TypeError, Ref: e.Ref}, Code: e.Code, Message: e.Error()}
}

// clientFrames are the frame types a client may send.
var clientFrames = map[string]func() any{
	TypeHello:  func() any { return &Hello{} },
	TypeResume: func() any { return &Resume{} },
	TypeStart:  func() any { return &Start{} },
	TypeSend:   func() any { return &Send{} },
	TypeTyping: func() any { return &Typing{} },
	TypeStatus: func() any { return &Status{} },
	TypeClose:  func() any { return &Close{} },
	TypeRead:   func() any { return &Read{} },
	TypePing:   func() any { return &Ping{} },

	TypeRTCStart:     func() any { return &RTCStart{} },
	TypeRTCAnswer:    func() any { return &RTCAnswer{} },
	TypeRTCCandidate: func() any { return &RTCCandidate{} },
	TypeRTCStop:      func() any { return &RTCStop{} },

	TypeCall: func() any { return &Call{} },
}

// ClientFrames returns an empty value of each frame type a client may send,
// by type. Tests walk it, so a new frame type cannot escape them (see the
// cross-workspace test in pkg/service).
func ClientFrames() map[string]any {
	out := make(map[string]any, len(clientFrames))
	for t, mk := range clientFrames {
		out[t] = mk()
	}
	return out
}

// Decode parses one client frame and validates it. It returns a pointer to
// the frame's struct (*Hello, *Send, …) or a *DecodeError. It never panics,
// whatever the input (see FuzzDecode).
func Decode(data []byte) (any, error) {
	if len(data) > MaxFrameBytes {
		return nil, &DecodeError{Err: ErrTooBig, Code: CodeTooBig,
			Msg: fmt.Sprintf("frame is %d bytes; the limit is %d", len(data), MaxFrameBytes)}
	}
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, &DecodeError{Err: ErrBadJSON, Code: CodeBadJSON, Msg: "frame is not a JSON object: " + err.Error()}
	}
	if err := CheckJSONText(data); err != nil {
		return nil, &DecodeError{Err: ErrInvalid, Code: CodeInvalid, Ref: env.Ref, Msg: "frame refused: " + err.Error()}
	}
	mk, ok := clientFrames[env.Type]
	if !ok {
		return nil, &DecodeError{Err: ErrUnknownType, Code: CodeUnknownType, Ref: env.Ref,
			Msg: fmt.Sprintf("unknown frame type %q", truncate(env.Type, 40))}
	}
	f := mk()
	if err := json.Unmarshal(data, f); err != nil {
		return nil, &DecodeError{Err: ErrInvalid, Code: CodeInvalid, Ref: env.Ref,
			Msg: fmt.Sprintf("%s frame: %v", env.Type, err)}
	}
	if err := validate(f); err != nil {
		code := CodeInvalid
		if errors.Is(err, ErrTooBig) {
			code = CodeTooBig
		}
		return nil, &DecodeError{Err: err, Code: code, Ref: env.Ref, Msg: fmt.Sprintf("%s frame: %v", env.Type, err)}
	}
	return f, nil
}

func validate(f any) error {
	switch f := f.(type) {
	case *Hello:
		return validateResume(f.Resume)
	case *Resume:
		if len(f.Conversations) == 0 {
			return fmt.Errorf("%w: conversations is empty", ErrInvalid)
		}
		return validateResume(f.Conversations)
	case *Send:
		if f.ClientID == "" || len(f.ClientID) > MaxClientIDLen {
			return fmt.Errorf("%w: client_id must be 1..%d characters", ErrInvalid, MaxClientIDLen)
		}
		if f.Conversation == "" {
			return fmt.Errorf("%w: conversation is required", ErrInvalid)
		}
		if len(f.Body) > MaxBodyBytes {
			return fmt.Errorf("%w: body is %d bytes; the limit is %d", ErrTooBig, len(f.Body), MaxBodyBytes)
		}
		if isBlank(f.Body) {
			return fmt.Errorf("%w: body is empty", ErrInvalid)
		}
	case *Typing:
		if f.Conversation == "" {
			return fmt.Errorf("%w: conversation is required", ErrInvalid)
		}
	case *Status:
		if f.Status != StatusOnline && f.Status != StatusAway {
			return fmt.Errorf("%w: status must be %q or %q", ErrInvalid, StatusOnline, StatusAway)
		}
	case *RTCAnswer:
		if f.SDP == "" {
			return fmt.Errorf("%w: sdp is required", ErrInvalid)
		}
	case *Call:
		return validateCall(f)
	case *Read:
		if f.Conversation == "" || f.Seq < 1 {
			return fmt.Errorf("%w: read needs a conversation and a seq ≥ 1", ErrInvalid)
		}
	case *Close:
		if f.Conversation == "" {
			return fmt.Errorf("%w: conversation is required", ErrInvalid)
		}
	}
	return nil
}

func validateCall(f *Call) error {
	if f.Conversation == "" {
		return fmt.Errorf("%w: conversation is required", ErrInvalid)
	}
	switch f.Action {
	case CallStart:
		if f.Kind != CallVoice && f.Kind != CallScreen {
			return fmt.Errorf("%w: kind must be %q or %q", ErrInvalid, CallVoice, CallScreen)
		}
	case CallAccept, CallDecline, CallHangUp, CallMute, CallUnmute:
	default:
		return fmt.Errorf("%w: action must be one of start, accept, decline, hangup, mute, unmute", ErrInvalid)
	}
	if len(f.ID) > MaxClientIDLen {
		return fmt.Errorf("%w: id is longer than %d characters", ErrInvalid, MaxClientIDLen)
	}
	return nil
}

func validateResume(m map[string]int64) error {
	if len(m) > MaxResumeTopics {
		return fmt.Errorf("%w: at most %d conversations may be resumed at once", ErrTooBig, MaxResumeTopics)
	}
	for id, seq := range m {
		if id == "" || seq < 0 {
			return fmt.Errorf("%w: resume needs conversation ids and seqs ≥ 0", ErrInvalid)
		}
	}
	return nil
}

func isBlank(s string) bool {
	for _, r := range s {
		switch r {
		case ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n-- // cut before a character, not inside it
	}
	return s[:n] + "…"
}
