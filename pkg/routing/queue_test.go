package routing

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func req(id string, prio int, at time.Time, lang string) Request {
	return Request{ConversationID: id, WorkspaceID: "w", Language: lang, Priority: prio, EnqueuedAt: at}
}

func positions(ps []Position) map[string]Position {
	m := map[string]Position{}
	for _, p := range ps {
		m[p.ConversationID] = p
	}
	return m
}

func TestQueueFairOrderAndPositions(t *testing.T) {
	q := NewQueue(0)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(q.Push(req("a", 0, t0, "en"), LevelExact))
	must(q.Push(req("b", 0, t0.Add(time.Second), "en"), LevelExact))
	must(q.Push(req("vip", 2, t0.Add(2*time.Second), "en"), LevelExact))
	must(q.Push(req("same-time", 0, t0, "en"), LevelExact)) // ties on time: arrival order
	must(q.Push(req("fr", 0, t0.Add(-time.Hour), "fr"), LevelExact))
	if err := q.Push(req("a", 0, t0, "en"), LevelExact); !errors.Is(err, ErrAlreadyRouted) {
		t.Fatalf("second push of a: %v", err)
	}
	if err := q.Push(Request{ConversationID: "x"}, LevelExact); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("push without workspace: %v", err)
	}

	var order []string
	for _, r := range q.Order() {
		order = append(order, r.ConversationID)
	}
	if want := []string{"vip", "fr", "a", "same-time", "b"}; !slices.Equal(order, want) {
		t.Fatalf("order = %v, want %v", order, want)
	}
	// Positions count only those waiting for the same kind of agent.
	got := positions(q.Changes())
	want := map[string]int{"vip": 1, "a": 2, "same-time": 3, "b": 4, "fr": 1}
	for id, p := range want {
		if got[id].Position != p || got[id].Wait != UnknownWait {
			t.Errorf("%s: %+v, want position %d, unknown wait", id, got[id], p)
		}
	}
	if ch := q.Changes(); len(ch) != 0 {
		t.Errorf("no change since, got %v", ch)
	}

	// Removing the second of the English line moves only those behind it.
	if _, ok := q.Remove("a"); !ok {
		t.Fatal("remove a")
	}
	got = positions(q.Changes())
	if len(got) != 2 || got["same-time"].Position != 2 || got["b"].Position != 3 {
		t.Errorf("after removing a: %v", got)
	}

	// Supply gives waits: 4 slots, 4 minutes each → one slot a minute.
	q.SetSupply(Need{Language: "en"}, Supply{Capacity: 4, AvgHandle: 4 * time.Minute})
	if ch := q.Changes(); len(ch) != 0 {
		t.Errorf("supply changes wait for RefreshWaits, got %v", ch)
	}
	q.RefreshWaits()
	got = positions(q.Changes())
	if got["vip"].Wait != time.Minute || got["same-time"].Wait != 2*time.Minute || got["b"].Wait != 3*time.Minute {
		t.Errorf("waits: %v", got)
	}
	if _, ok := got["fr"]; ok {
		t.Errorf("the French line did not change, yet was reported")
	}

	// Relaxing moves a conversation to a wider line, keeping its time.
	q.Relax("fr", LevelAnyLanguage)
	if p, _ := q.Position("fr"); p.Position != 1 {
		t.Errorf("relaxed fr should lead the any-language line: %+v", p)
	}
	if _, l, _ := q.Get("fr"); l != LevelAnyLanguage {
		t.Errorf("level = %v", l)
	}
	// Update keeps arrival time.
	q.Update(req("b", 0, t0.Add(time.Hour), "de"))
	if r, _, _ := q.Get("b"); r.Language != "de" || !r.EnqueuedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("updated b = %+v", r)
	}
}

func TestQueueWaitRoundsUpToStep(t *testing.T) {
	q := NewQueue(15 * time.Second)
	for i := range 3 {
		_ = q.Push(req(fmt.Sprint(i), 0, t0.Add(time.Duration(i)), ""), LevelExact)
	}
	q.SetSupply(Need{}, Supply{Capacity: 3, AvgHandle: 100 * time.Second})
	got := positions(q.Changes())
	// 33.3s → 45s, 66.7s → 75s, 100s → 105s
	for id, want := range map[string]time.Duration{"0": 45 * time.Second, "1": 75 * time.Second, "2": 105 * time.Second} {
		if got[id].Wait != want {
			t.Errorf("%s wait %v, want %v", id, got[id].Wait, want)
		}
	}
	// A supply change too small to move any rounded wait reports nothing.
	q.SetSupply(Need{}, Supply{Capacity: 3, AvgHandle: 101 * time.Second})
	q.RefreshWaits()
	if ch := q.Changes(); len(ch) != 0 {
		t.Errorf("sub-step change reported: %v", ch)
	}
}
