package call

import (
	"fmt"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
)

var (
	ana = protocol.Author{Kind: protocol.AuthorAgent, ID: "a1", Name: "Ana"}
	zoe = protocol.Author{Kind: protocol.AuthorVisitor, ID: "v1", Name: "Zoé"}
	t0  = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
)

func ringing() *Call {
	return New("k1", "c1", "w1", protocol.CallVoice, ana, zoe, t0.Add(30*time.Second))
}

func active() *Call {
	c := ringing()
	if !c.Activate(t0.Add(5 * time.Second)) {
		panic("a ringing call did not activate")
	}
	return c
}

func ended() *Call {
	c := active()
	c.End()
	return c
}

// TestDecide checks every action by every role in every state against
// the table in Decide's comment.
func TestDecide(t *testing.T) {
	type key struct {
		state, action string
		role          Role
	}
	allowed := map[key]Outcome{
		{protocol.CallRinging, protocol.CallAccept, Rung}:    {Op: Connect},
		{protocol.CallRinging, protocol.CallDecline, Rung}:   finish(protocol.CallReasonDeclined),
		{protocol.CallRinging, protocol.CallHangUp, Caller}:  finish(protocol.CallReasonCancelled),
		{protocol.CallRinging, protocol.CallHangUp, Rung}:    finish(protocol.CallReasonDeclined),
		{protocol.CallActive, protocol.CallHangUp, Caller}:   finish(protocol.CallReasonHungUp),
		{protocol.CallActive, protocol.CallHangUp, Accepter}: finish(protocol.CallReasonHungUp),
		{protocol.CallActive, protocol.CallMute, Caller}:     {Op: SetMute, Muted: true},
		{protocol.CallActive, protocol.CallMute, Accepter}:   {Op: SetMute, Muted: true},
		{protocol.CallActive, protocol.CallUnmute, Caller}:   {Op: SetMute},
		{protocol.CallActive, protocol.CallUnmute, Accepter}: {Op: SetMute},
	}
	refusal := map[string]Outcome{
		protocol.CallAccept:  notRinging,
		protocol.CallDecline: notCallee,
		protocol.CallHangUp:  notInCall,
		protocol.CallMute:    notInActive,
		protocol.CallUnmute:  notInActive,
	}
	states := map[string]func() *Call{protocol.CallRinging: ringing, protocol.CallActive: active, protocol.CallEnded: ended}
	for state, mk := range states {
		for action, refused := range refusal {
			for _, role := range []Role{Outsider, Caller, Rung, Accepter} {
				want, ok := allowed[key{state, action, role}]
				if !ok {
					want = refused
				}
				c := mk()
				before := fmt.Sprintf("%+v", *c)
				if got := c.Decide(action, role); got != want {
					t.Errorf("%s call, %s by %s: %+v, want %+v", state, action, role, got, want)
				}
				if after := fmt.Sprintf("%+v", *c); after != before {
					t.Errorf("%s call, %s by %s: Decide changed the call", state, action, role)
				}
			}
		}
	}
	if got := ringing().Decide("dance", Caller); got.Op != Refuse || got.Code != protocol.CodeInvalid {
		t.Errorf("unknown action: %+v", got)
	}
}

func TestDropped(t *testing.T) {
	for _, tc := range []struct {
		name       string
		call       *Call
		role       Role
		othersRing bool
		want       Outcome
	}{
		{"caller leaves while ringing", ringing(), Caller, true, finish(protocol.CallReasonCancelled)},
		{"caller leaves an active call", active(), Caller, false, finish(protocol.CallReasonDropped)},
		{"accepter leaves an active call", active(), Accepter, false, finish(protocol.CallReasonDropped)},
		{"last rung connection leaves", ringing(), Rung, false, finish(protocol.CallReasonMissed)},
		{"one of several rung connections leaves", ringing(), Rung, true, Outcome{Op: Stay}},
		{"a rung tab leaves after another answered", active(), Rung, false, Outcome{Op: Stay}},
		{"an outsider leaves", active(), Outsider, false, Outcome{Op: Stay}},
		{"anyone leaves an ended call", ended(), Caller, false, Outcome{Op: Stay}},
	} {
		if got := tc.call.Dropped(tc.role, tc.othersRing); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestTransitions(t *testing.T) {
	c := ringing()
	if wasActive, ok := c.End(); wasActive || !ok || c.State != protocol.CallEnded {
		t.Fatalf("ending a ringing call: wasActive=%v ok=%v state=%s", wasActive, ok, c.State)
	}
	if _, ok := c.End(); ok {
		t.Fatal("a call ended twice")
	}
	if c.Activate(t0) {
		t.Fatal("an ended call became active (an accept that raced a timeout)")
	}
	c = active()
	if c.Activate(t0.Add(time.Minute)) {
		t.Fatal("an active call was activated again")
	}
	if !c.Started.Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("started moved: %v", c.Started)
	}
	if wasActive, ok := c.End(); !wasActive || !ok {
		t.Fatalf("ending an active call: wasActive=%v ok=%v", wasActive, ok)
	}
}

func TestMuted(t *testing.T) {
	c := active()
	c.SetMuted("v1", true)
	c.SetMuted("a1", true)
	c.SetMuted("a1", false)
	c.SetMuted("a0", true)
	if got := fmt.Sprint(c.MutedIDs()); got != "[a0 v1]" {
		t.Fatalf("muted: %s", got)
	}
}

func TestRecords(t *testing.T) {
	now := t0.Add(5*time.Second + 83*time.Second)
	screen := New("k2", "c1", "w1", protocol.CallScreen, zoe, ana, t0)
	screen.Activate(t0)
	for _, tc := range []struct {
		got, want string
	}{
		{active().StartedRecord(), "Voice call started: Ana called Zoé"},
		{ringing().EndRecord(protocol.CallReasonDeclined, false, &zoe, now), "Voice call from Ana declined"},
		{ringing().EndRecord(protocol.CallReasonMissed, false, nil, now), "Voice call from Ana not answered"},
		{ringing().EndRecord(protocol.CallReasonCancelled, false, &ana, now), "Voice call from Ana cancelled before an answer"},
		{ringing().EndRecord(protocol.CallReasonDropped, false, nil, now), "Voice call from Ana could not connect"},
		{active().EndRecord(protocol.CallReasonDropped, true, nil, now), "Voice call dropped (connection lost) after 1:23"},
		{active().EndRecord(protocol.CallReasonHungUp, true, &zoe, now), "Voice call ended by Zoé after 1:23"},
		{active().EndRecord(protocol.CallReasonHungUp, true, nil, now), "Voice call ended by a participant after 1:23"},
		{screen.EndRecord(protocol.CallReasonHungUp, true, &ana, t0.Add(2*time.Hour+3*time.Minute+4*time.Second)), "Screen share ended by Ana after 2:03:04"},
		{Duration(499 * time.Millisecond), "0:00"},
		{Duration(59*time.Second + 500*time.Millisecond), "1:00"},
	} {
		if tc.got != tc.want {
			t.Errorf("%q, want %q", tc.got, tc.want)
		}
	}
}

func TestFrame(t *testing.T) {
	now := t0.Add(65 * time.Second)
	r := ringing().Frame(protocol.CallRinging, true, []string{"0"}, "", nil, now)
	if !r.Incoming || r.ExpiresAt == nil || !r.ExpiresAt.Equal(t0.Add(30*time.Second)) || r.Send != nil || r.StartedAt != nil {
		t.Errorf("ringing frame: %+v", r)
	}
	c := active()
	c.SetMuted("v1", true)
	a := c.Frame(protocol.CallActive, true, []string{"1"}, "", nil, now)
	if a.Incoming || a.ExpiresAt != nil || fmt.Sprint(a.Send) != "[1]" || a.StartedAt == nil || fmt.Sprint(a.Muted) != "[v1]" {
		t.Errorf("active frame: %+v", a)
	}
	e := c.Frame(protocol.CallEnded, false, nil, protocol.CallReasonHungUp, &ana, now)
	if e.DurationSeconds != 60 || e.Reason != protocol.CallReasonHungUp || e.By == nil || e.Muted != nil {
		t.Errorf("ended frame: %+v", e)
	}
	if e := ringing().Frame(protocol.CallEnded, false, nil, protocol.CallReasonMissed, nil, now); e.DurationSeconds != 0 {
		t.Errorf("an unanswered call has a duration: %+v", e)
	}
	if r.Type != protocol.TypeCallState || r.ID != "k1" || r.Conversation != "c1" || r.Kind != protocol.CallVoice || r.Caller != ana {
		t.Errorf("frame identity: %+v", r)
	}
}
