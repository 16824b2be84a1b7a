package relay

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/pion/webrtc/v4"
)

// The footprint measurement puts the clients in a child process (this test
// binary again, running TestHelperClientProcess), so the relay's heap holds
// only relay peers.
const (
	measureEnv       = "PARLEY_RELAY_MEASURE"
	clientProcEnv    = "PARLEY_RELAY_CLIENT_PROCESS"
	measurePeers     = 200
	memBudgetPerPeer = 256 << 10 // fail beyond this: something regressed
)

// wireMsg is one line between the relay (parent) and the client process.
type wireMsg struct {
	ID   int                    `json:"id"`
	Kind string                 `json:"kind"` // offer, answer, cand, open
	SDP  string                 `json:"sdp,omitempty"`
	Cand *protocol.RTCCandidate `json:"cand,omitempty"`
}

// TestPeerFootprint measures the relay's live heap and goroutine stacks per
// open peer and the time from NewPeer to an open chat channel, with
// measurePeers clients in another process. Opt-in: PARLEY_RELAY_MEASURE=1.
func TestPeerFootprint(t *testing.T) {
	if os.Getenv(measureEnv) == "" {
		t.Skipf("measurement: set %s=1 to run (takes ~10s)", measureEnv)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestHelperClientProcess$")
	cmd.Env = append(os.Environ(), clientProcEnv+"=1")
	cmd.Stderr = os.Stderr
	toChild, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	fromChild, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = toChild.Close(); _ = cmd.Wait() }()

	var writeMu sync.Mutex
	enc := json.NewEncoder(toChild)
	send := func(m wireMsg) {
		writeMu.Lock()
		defer writeMu.Unlock()
		_ = enc.Encode(m)
	}

	r, _ := newTestRelayOnFreePorts(t, loopbackConfig(), true, false)

	// Answers and candidates from the clients, by peer id.
	var peers sync.Map // int → *Peer
	go func() {
		sc := bufio.NewScanner(fromChild)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m wireMsg
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue // the child's own test output
			}
			v, ok := peers.Load(m.ID)
			if !ok {
				continue
			}
			p := v.(*Peer)
			switch m.Kind {
			case "answer":
				if err := p.SetAnswer(m.SDP); err != nil {
					t.Errorf("SetAnswer %d: %v", m.ID, err)
				}
			case "cand":
				_ = p.AddCandidate(*m.Cand)
			}
		}
	}()

	// open creates n peers with ids from first, offers to the client
	// process, and returns them once all are open, with the time each took
	// from NewPeer to StateOpen.
	open := func(first, n int) ([]*Peer, []time.Duration) {
		out := make([]*Peer, n)
		took := make([]time.Duration, n)
		opened := make([]chan struct{}, n)
		for i := range n {
			id := first + i
			opened[i] = make(chan struct{})
			var once sync.Once
			start := time.Now()
			p, err := r.NewPeer(PeerOptions{
				ID:          strconv.Itoa(id),
				OnCandidate: func(c protocol.RTCCandidate) { send(wireMsg{ID: id, Kind: "cand", Cand: &c}) },
				OnState: func(s State) {
					if s == StateOpen {
						once.Do(func() { took[i] = time.Since(start); close(opened[i]) })
					}
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			out[i] = p
			peers.Store(id, p)
			sdp, err := p.Offer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			send(wireMsg{ID: id, Kind: "offer", SDP: sdp})
		}
		for i := range n {
			select {
			case <-opened[i]:
			case <-ctx.Done():
				t.Fatalf("peer %d did not open", first+i)
			}
		}
		return out, took
	}
	pct := func(d []time.Duration, p int) time.Duration {
		slices.Sort(d)
		return d[(len(d)-1)*p/100].Round(100 * time.Microsecond)
	}

	// Time to open, one peer at a time (a quiet relay).
	var single []time.Duration
	for i := range 20 {
		ps, took := open(1000+i, 1)
		single = append(single, took[0])
		_ = ps[0].Close()
	}
	t.Logf("one peer at a time: NewPeer→chat open p50 %v, max %v (Offer, answer and candidates through the client process)",
		pct(single, 50), pct(single, 100))

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutinesBefore := runtime.NumGoroutine()

	batch, took := open(0, measurePeers)

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if n := r.Peers(); n != measurePeers {
		t.Fatalf("%d of %d peers alive at measurement", n, measurePeers)
	}
	heap := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / measurePeers
	stack := (int64(after.StackInuse) - int64(before.StackInuse)) / measurePeers
	goroutines := float64(runtime.NumGoroutine()-goroutinesBefore) / measurePeers
	t.Logf("%d peers open at once on loopback (one UDP port): live heap %d KB/peer, goroutine stacks %d KB/peer (%.1f goroutines/peer); NewPeer→open p50 %v, p90 %v, max %v",
		measurePeers, heap>>10, stack>>10, goroutines, pct(took, 50), pct(took, 90), pct(took, 100))
	if heap+stack > memBudgetPerPeer {
		t.Errorf("relay memory per peer %d KB exceeds the %d KB budget", (heap+stack)>>10, memBudgetPerPeer>>10)
	}
	for _, p := range batch {
		_ = p.Close()
	}
}

// TestHelperClientProcess is the client side of TestPeerFootprint: Pion
// peers answering offers read from stdin. Not a test on its own.
func TestHelperClientProcess(t *testing.T) {
	if os.Getenv(clientProcEnv) == "" {
		t.Skip("helper process for TestPeerFootprint")
	}
	api := clientAPI(clientOptions{})
	var writeMu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	send := func(m wireMsg) {
		writeMu.Lock()
		defer writeMu.Unlock()
		_ = enc.Encode(m)
	}
	pcs := map[int]*webrtc.PeerConnection{}
	defer func() {
		for _, pc := range pcs {
			_ = pc.GracefulClose()
		}
	}()
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m wireMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			fmt.Fprintln(os.Stderr, "client process:", err)
			continue
		}
		switch m.Kind {
		case "offer":
			pc, err := api.NewPeerConnection(webrtc.Configuration{})
			if err != nil {
				t.Fatal(err)
			}
			pcs[m.ID] = pc
			id := m.ID
			pc.OnDataChannel(func(dc *webrtc.DataChannel) {
				dc.OnMessage(func(webrtc.DataChannelMessage) {}) // keep it: Pion closes unhandled channels
			})
			pc.OnICECandidate(func(c *webrtc.ICECandidate) {
				if c == nil {
					return
				}
				init := c.ToJSON()
				send(wireMsg{ID: id, Kind: "cand", Cand: &protocol.RTCCandidate{Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex}})
			})
			if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
				t.Fatal(err)
			}
			answer, err := pc.CreateAnswer(nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := pc.SetLocalDescription(answer); err != nil {
				t.Fatal(err)
			}
			send(wireMsg{ID: id, Kind: "answer", SDP: answer.SDP})
		case "cand":
			if pc := pcs[m.ID]; pc != nil && m.Cand != nil {
				_ = pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: m.Cand.Candidate, SDPMid: m.Cand.SDPMid, SDPMLineIndex: m.Cand.SDPMLineIndex})
			}
		}
	}
}
