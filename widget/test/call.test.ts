// CallManager's rules, driven by call_state frames as the server sends them
// (a stand-in client and link; no browser): which calls a conversation has,
// what the buttons act on, what an error says, and which media goes on
// which transceiver before the answer to the relay's renegotiation. The
// media itself is covered by e2e/call.test.mjs in Chromium.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CONNECTING, CallManager, NO_NETWORK } from "../src/shared/call";
import type { LiveClient } from "../src/shared/client";
import { WebRTCLink, type LinkStatus } from "../src/shared/rtc";
import type { CallStateFrame, Frame } from "../../pkg/protocol/protocol";

/** FakeTrack and FakeStream stand in for the browser's media objects. */
class FakeTrack {
  enabled = true;
  readyState = "live";
  muted = false;
  constructor(readonly kind: "audio" | "video") {}
  stop(): void {
    this.readyState = "ended";
  }
  addEventListener(): void {}
}
class FakeStream {
  private tracks: FakeTrack[];
  constructor(tracks: FakeTrack[] = []) {
    this.tracks = [...tracks];
  }
  getTracks() {
    return this.tracks;
  }
  getAudioTracks() {
    return this.tracks.filter((t) => t.kind === "audio");
  }
  getVideoTracks() {
    return this.tracks.filter((t) => t.kind === "video");
  }
  addTrack(t: FakeTrack) {
    this.tracks.push(t);
  }
  removeTrack(t: FakeTrack) {
    this.tracks = this.tracks.filter((x) => x !== t);
  }
}
const g = globalThis as unknown as Record<string, unknown>;
g.MediaStream = FakeStream;
const mic = new FakeTrack("audio");
const screen = new FakeTrack("video");
Object.defineProperty(globalThis, "navigator", {
  configurable: true,
  value: {
    mediaDevices: {
      getUserMedia: async () => new FakeStream([mic]),
      getDisplayMedia: async () => new FakeStream([screen]),
    },
  },
});

function setup(status: LinkStatus = "open") {
  const sent: Frame[] = [];
  let listener: (f: Frame) => void = () => {};
  const client = {
    self: { kind: "visitor", id: "me", name: "Me" },
    listen(fn: (f: Frame) => void) {
      listener = fn;
      return () => {};
    },
    sendControl(f: Frame) {
      sent.push(f);
      return true;
    },
  } as unknown as LiveClient;
  const link = { status, media: null } as unknown as WebRTCLink;
  const calls = new CallManager(client, link);
  return { calls, sent, deliver: (f: Frame) => listener(f) };
}

function state(p: Partial<CallStateFrame>): CallStateFrame {
  return {
    type: "call_state",
    conversation: "c1",
    id: "k1",
    kind: "voice",
    state: "ringing",
    caller: { kind: "agent", id: "ag", name: "Ann" },
    ...p,
  } as CallStateFrame;
}

test("a ringing call, then a screen share beside the active call: actions name their call", async () => {
  const { calls, sent, deliver } = setup();
  assert.equal(calls.state("c1"), "none");
  deliver(state({ incoming: true }));
  assert.equal(calls.state("c1"), "ringing");
  assert.ok(calls.busy("c1", "voice") && !calls.busy("c1", "screen"));

  await calls.accept("k1");
  assert.deepEqual(sent.at(-1), { type: "call", ref: "call:1", conversation: "c1", action: "accept", id: "k1", kind: undefined });
  deliver(state({ state: "active", send: ["m1"] }));
  await calls.start("c1", "screen");
  assert.equal((sent.at(-1) as { action: string; kind: string }).kind, "screen");
  deliver(state({ id: "k2", kind: "screen", caller: { kind: "visitor", id: "me", name: "Me" } }));
  assert.equal(calls.state("c1"), "active");
  assert.deepEqual(calls.of("c1").map((v) => v.frame.kind), ["voice", "screen"]);

  calls.hangUp("k2");
  assert.deepEqual([(sent.at(-1) as { id: string }).id, (sent.at(-1) as { action: string }).action], ["k2", "hangup"]);
  deliver(state({ id: "k2", kind: "screen", state: "ended", reason: "declined" }));
  assert.equal(screen.readyState, "ended", "the screen capture stops with its share");
  assert.equal(mic.readyState, "live", "the microphone stays for the voice call");
  assert.equal(calls.state("c1"), "active");

  deliver(state({ state: "ended", reason: "hung_up" }));
  assert.equal(calls.state("c1"), "ended");
  assert.equal(calls.ended.get("c1")?.reason, "hung_up");
  assert.equal(mic.readyState, "ended");
});

test("muting flips the microphone track and tells the server", async () => {
  const { calls, sent, deliver } = setup();
  mic.readyState = "live";
  deliver(state({ incoming: true }));
  await calls.accept("k1");
  deliver(state({ state: "active", send: ["m1"], muted: ["ag"] }));
  assert.ok(calls.calls.get("k1")?.remoteMuted, "the other side's mute shows");
  calls.toggleMute("k1");
  assert.equal(mic.enabled, false);
  assert.equal((sent.at(-1) as { action: string }).action, "mute");
  calls.toggleMute("k1");
  assert.equal(mic.enabled, true);
  assert.equal((sent.at(-1) as { action: string }).action, "unmute");
});

test("before the answer: the microphone goes on the named mid, other call transceivers receive only", async () => {
  const { calls, deliver } = setup();
  mic.readyState = "live";
  deliver(state({ incoming: true }));
  await calls.accept("k1");
  deliver(state({ state: "active", send: ["m3"] }));
  const transceiver = (mid: string | null, kind: string, currentDirection: string | null = null) => ({
    mid,
    currentDirection,
    direction: "recvonly",
    receiver: { track: { kind } },
    sender: {
      track: null as unknown,
      async replaceTrack(t: unknown) {
        this.track = t;
      },
    },
  });
  const ts = [transceiver("m1", "audio", "inactive"), transceiver("m3", "audio"), transceiver("m4", "video")];
  await calls.beforeAnswer({ getTransceivers: () => ts } as unknown as RTCPeerConnection);
  assert.equal(ts[1].direction, "sendrecv");
  assert.equal(ts[1].sender.track, mic);
  for (const t of [ts[0], ts[2]]) {
    assert.equal(t.direction, "recvonly");
    assert.equal(t.sender.track, null);
  }
});

test("while the connection is set up or restored, no verdict on the network", async () => {
  const { calls, sent } = setup("connecting");
  assert.equal(calls.available, false);
  assert.equal(calls.network, "connecting");
  assert.equal(calls.unavailableText, CONNECTING);
  await calls.start("c1", "voice");
  assert.equal(calls.error, CONNECTING);
  assert.equal(sent.length, 0);

  // A real link whose WebSocket is reconnecting is connecting, not
  // unavailable (it had said "Calls aren't possible on this network").
  const g = globalThis as unknown as Record<string, unknown>;
  g.RTCPeerConnection ??= class {};
  const client = { state: "reconnecting" } as unknown as LiveClient;
  assert.equal(new WebRTCLink(client).status, "connecting");
  (client as { state: string }).state = "online";
  assert.equal(new WebRTCLink(client).status, "connecting", "no attempt failed yet");
});

test("without a WebRTC link the buttons say so, and the server's call_unavailable too", async () => {
  const { calls, sent } = setup("unavailable");
  assert.equal(calls.available, false);
  await calls.start("c1", "voice");
  assert.equal(calls.error, NO_NETWORK);
  assert.equal(sent.length, 0, "nothing is asked of the server");

  const online = setup();
  await online.calls.start("c1", "voice");
  online.deliver({ type: "error", ref: "call:1", code: "call_unavailable", message: "calls aren't possible on this network: this device has no WebRTC connection to the relay" } as Frame);
  assert.ok(online.calls.error.startsWith(NO_NETWORK), online.calls.error);

  // Not always this network: the server's reason is shown as it is.
  const relays = setup();
  await relays.calls.start("c1", "voice");
  relays.deliver({ type: "error", ref: "call:1", code: "call_unavailable", message: "calls aren't possible right now: the other side is connected to a different relay; try again after reconnecting" } as Frame);
  assert.equal(relays.calls.error, "Calls aren't possible right now: the other side is connected to a different relay; try again after reconnecting");
});
