package protocol

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// frameTypes lists every frame struct with its type tag, and the plain
// structs frames contain. TypeScript() emits them in this order.
var tsFrames = []struct {
	tag string
	v   any
}{
	{TypeHello, Hello{}}, {TypeWelcome, Welcome{}}, {TypeResume, Resume{}},
	{TypeSynced, Synced{}}, {TypeStart, Start{}}, {TypeSend, Send{}},
	{TypeAck, Ack{}}, {TypeMessage, Message{}}, {TypeTyping, Typing{}},
	{TypeConversation, Conversation{}}, {TypeQueue, Queue{}},
	{TypeStatus, Status{}}, {TypeClose, Close{}}, {TypeError, Error{}},
	{TypePing, Ping{}}, {TypePong, Pong{}},
	{TypeRTCStart, RTCStart{}}, {TypeRTCOffer, RTCOffer{}}, {TypeRTCAnswer, RTCAnswer{}},
	{TypeRTCCandidate, RTCCandidate{}}, {TypeRTCStop, RTCStop{}},
	{TypeOffer, Offer{}}, {TypeOffline, Offline{}}, {TypeResync, Resync{}}, {TypeToken, Token{}}, {TypeSite, Site{}},
	{TypeCall, Call{}}, {TypeCallState, CallState{}}, {TypeNote, Note{}},
	{TypeAssistantDraft, AssistantDraft{}}, {TypeTranslation, Translation{}},
	{TypeRead, Read{}},
}

var tsStructs = []any{Author{}, ConversationInfo{}, ICEServer{}, PrechatField{}, AttachmentLimits{}, WidgetLook{}, NoteInfo{}, Source{}, TranslationInfo{}, Attachment{}}

// TypeScript renders the protocol as a TypeScript module. The committed file
// pkg/protocol/protocol.ts must equal it (TestTypeScriptIsFresh); run
// `go test ./pkg/protocol -run TestTypeScriptIsFresh -update` after a change.
func TypeScript() string {
	var b strings.Builder
	b.WriteString("// Code generated from pkg/protocol by TestTypeScriptIsFresh -update. DO NOT EDIT.\n\n")
	fmt.Fprintf(&b, "export const VERSION = %d;\n", Version)
	fmt.Fprintf(&b, "export const MAX_FRAME_BYTES = %d;\n", MaxFrameBytes)
	fmt.Fprintf(&b, "export const MAX_BODY_BYTES = %d;\n\n", MaxBodyBytes)
	for _, s := range tsStructs {
		writeInterface(&b, reflect.TypeOf(s), "")
	}
	var union []string
	for _, f := range tsFrames {
		t := reflect.TypeOf(f.v)
		writeInterface(&b, t, f.tag)
		union = append(union, t.Name()+"Frame")
	}
	b.WriteString("export type Frame =\n  | " + strings.Join(union, "\n  | ") + ";\n\n")
	codes := errorCodes()
	b.WriteString("export const ErrorCodes = {\n")
	for _, c := range codes {
		fmt.Fprintf(&b, "  %s: %q,\n", c[0], c[1])
	}
	b.WriteString("} as const;\n")
	return b.String()
}

func errorCodes() [][2]string {
	m := map[string]string{
		"BadJSON": CodeBadJSON, "UnknownType": CodeUnknownType, "Invalid": CodeInvalid,
		"TooBig": CodeTooBig, "NotFound": CodeNotFound, "Forbidden": CodeForbidden,
		"Closed": CodeClosed, "Unavailable": CodeUnavailable, "RateLimited": CodeRateLimited,
		"Version": CodeVersion, "NoHello": CodeNoHello, "Internal": CodeInternal,
		"CallUnavailable": CodeCallUnavailable,
	}
	var out [][2]string
	for k, v := range m {
		out = append(out, [2]string{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func writeInterface(b *strings.Builder, t reflect.Type, tag string) {
	name := t.Name()
	if tag != "" {
		name += "Frame"
	}
	fmt.Fprintf(b, "export interface %s {\n", name)
	writeFields(b, t, tag)
	b.WriteString("}\n\n")
}

func writeFields(b *strings.Builder, t reflect.Type, tag string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type == reflect.TypeOf(Envelope{}) {
			fmt.Fprintf(b, "  type: %q;\n  ref?: string;\n", tag)
			continue
		}
		jtag := f.Tag.Get("json")
		parts := strings.Split(jtag, ",")
		if parts[0] == "-" || parts[0] == "" {
			continue
		}
		opt := ""
		if len(parts) > 1 && parts[1] == "omitempty" || f.Type.Kind() == reflect.Pointer {
			opt = "?"
		}
		fmt.Fprintf(b, "  %s%s: %s;\n", parts[0], opt, tsType(f.Type))
	}
}

func tsType(t reflect.Type) string {
	if t == reflect.TypeOf(time.Time{}) {
		return "string"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return tsType(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float64:
		return "number"
	case reflect.Slice:
		return tsType(t.Elem()) + "[]"
	case reflect.Map:
		return "Record<string, " + tsType(t.Elem()) + ">"
	case reflect.Struct:
		return t.Name()
	}
	panic("protocol: no TypeScript type for " + t.String())
}
