// The client's delivery rules, driven frame by frame through the Transport
// seam: the test plays the server's side of the protocol (docs/API.md) and
// checks what the client sends back. End-to-end behaviour against the real
// Go server is covered by the browser tests in e2e/.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { LiveClient } from "../src/shared/client";
import type { CloseInfo, Transport } from "../src/shared/transport";
import type { ConversationInfo, Frame } from "../../pkg/protocol/protocol";

// Browser storage for the outbox, kept in memory.
const store = new Map<string, string>();
(globalThis as unknown as { localStorage: Storage }).localStorage = {
  getItem: (k: string) => store.get(k) ?? null,
  setItem: (k: string, v: string) => void store.set(k, v),
  removeItem: (k: string) => void store.delete(k),
  clear: () => store.clear(),
  key: () => null,
  length: 0,
};

/** ScriptedPeer is the server end of one connection, driven by the test. */
class ScriptedPeer implements Transport {
  constructor(readonly kind: "websocket" | "datachannel" = "websocket") {}
  onopen: () => void = () => {};
  onframe: (frame: Frame) => void = () => {};
  onclose: (info: CloseInfo) => void = () => {};
  sent: Frame[] = [];
  private state: "new" | "open" | "closed" = "new";

  open(): void {
    this.state = "open";
    this.onopen();
  }
  deliver(f: Frame): void {
    this.onframe(f);
  }
  send(f: Frame): boolean {
    if (this.state !== "open") return false;
    this.sent.push(f);
    return true;
  }
  close(code = 1006, reason = ""): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.onclose({ code, reason });
  }
  /** The server ends the connection (code 1001: going away). */
  serverClose(code: number): void {
    this.close(code);
  }
  of<T extends Frame["type"]>(type: T): Extract<Frame, { type: T }>[] {
    return this.sent.filter((f) => f.type === type) as Extract<Frame, { type: T }>[];
  }
}

/** The resume frames p got, without their refs (each must have one, so a
 * refusal can be matched to it). */
function resumesOf(p: ScriptedPeer): Frame[] {
  return p.of("resume").map(({ ref, ...f }) => {
    assert.ok(ref, "a resume carries a ref");
    return f;
  });
}

const visitor = { kind: "visitor", id: "v1", name: "Visitor 1" };
const agent = { kind: "agent", id: "a1", name: "Ada" };

function conv(id: string, status = "open", last_seq = 0): ConversationInfo {
  return {
    id,
    status,
    visitor_id: "v1",
    visitor_name: "Visitor 1",
    agent_id: "a1",
    agent_name: "Ada",
    last_seq,
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
  };
}

function harness(opts: { role?: "visitor" | "agent"; outboxKey?: string; owner?: string } = {}) {
  const peers: ScriptedPeer[] = [];
  const client = new LiveClient({
    role: opts.role ?? "visitor",
    outboxKey: opts.outboxKey,
    owner: opts.owner,
    url: () => "ws://test/ws",
    transport: () => {
      const p = new ScriptedPeer();
      peers.push(p);
      return p;
    },
  });
  return { client, peers };
}

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function welcome(p: ScriptedPeer, conversations: ConversationInfo[], self = visitor): void {
  p.deliver({ type: "welcome", v: 1, session: "s", self, conversations });
}

function message(conversation: string, seq: number, client_id = "x" + seq, author = agent, body = "m" + seq): Frame {
  return { type: "message", conversation, seq, client_id, author, body, sent_at: "2026-01-01T00:00:00Z" };
}

test("hello first, then history of every conversation in welcome is loaded from 0", async () => {
  const { client, peers } = harness();
  client.start();
  await until("connect", () => peers.length === 1);
  const p = peers[0];
  p.open();
  assert.deepEqual(p.sent[0], { type: "hello", v: 1, resume: undefined });
  assert.equal(client.state, "connecting");
  welcome(p, [conv("c1", "open", 2)]);
  assert.equal(client.state, "online");
  assert.deepEqual(resumesOf(p), [{ type: "resume", conversations: { c1: 0 } }]);
  client.stop();
});

test("a send is pending until acked, and the ack shows its seq", async () => {
  const { client, peers } = harness();
  client.start();
  await until("connect", () => peers.length === 1);
  const p = peers[0];
  p.open();
  welcome(p, [conv("c1")]);
  const id = client.send("c1", "hello");
  const [send] = p.of("send");
  assert.equal(send.client_id, id);
  assert.equal(send.ref, id, "ref echoes client_id so errors can be matched");
  assert.deepEqual(
    client.items("c1").map((i) => [i.body, i.pending, i.seq]),
    [["hello", true, null]],
  );
  p.deliver({ type: "ack", client_id: id, conversation: "c1", seq: 1 });
  assert.deepEqual(
    client.items("c1").map((i) => [i.body, i.pending, i.seq]),
    [["hello", false, 1]],
  );
  // The server's own message frame for that seq does not duplicate it.
  p.deliver(message("c1", 1, id, visitor, "hello"));
  assert.equal(client.items("c1").length, 1);
  assert.equal(client.outbox.length, 0);
  client.stop();
});

test("duplicates are dropped and a gap asks to resume from the last contiguous seq after the reorder window", async () => {
  const { client, peers } = harness();
  client.start();
  await until("connect", () => peers.length === 1);
  const p = peers[0];
  p.open();
  welcome(p, [conv("c1")]);
  p.deliver({ type: "synced", conversation: "c1", seq: 0 });
  p.sent = [];
  p.deliver(message("c1", 1));
  p.deliver(message("c1", 1));
  assert.equal(client.items("c1").length, 1);
  p.deliver(message("c1", 3));
  await until("the reorder window ends in a resume", () => p.of("resume").length === 1);
  assert.deepEqual(resumesOf(p), [{ type: "resume", conversations: { c1: 1 } }]);
  p.deliver(message("c1", 4));
  assert.equal(p.of("resume").length, 1, "one resume in flight at a time");
  p.deliver(message("c1", 2));
  p.deliver({ type: "synced", conversation: "c1", seq: 4 });
  assert.deepEqual(
    client.items("c1").map((i) => i.seq),
    [1, 2, 3, 4],
  );
  client.stop();
});

test("after a dropped connection the client reconnects, resumes and resends unacked sends with the same client_id", async () => {
  const { client, peers } = harness();
  client.start();
  await until("connect", () => peers.length === 1);
  const p1 = peers[0];
  p1.open();
  welcome(p1, [conv("c1")]);
  p1.deliver(message("c1", 1));
  p1.deliver(message("c1", 2));
  const id = client.send("c1", "are you there?");
  client.drop();
  assert.equal(client.state, "reconnecting");
  // Sent while offline: waits in the outbox.
  const id2 = client.send("c1", "second");
  await until("reconnect", () => peers.length === 2);
  const p2 = peers[1];
  p2.open();
  assert.deepEqual(p2.sent[0], { type: "hello", v: 1, resume: { c1: 2 } });
  welcome(p2, [conv("c1", "open", 2)]);
  assert.equal(client.state, "online");
  assert.equal(client.reconnects, 1);
  assert.deepEqual(
    p2.of("send").map((s) => s.client_id),
    [id, id2],
  );
  client.stop();
});

test("a resync frame resumes every conversation on the same connection, new ones from 0", async () => {
  const { client, peers } = harness({ role: "agent" });
  client.start();
  await until("connect", () => peers.length === 1);
  const p = peers[0];
  p.open();
  welcome(p, [conv("c1")], agent);
  p.deliver(message("c1", 1));
  p.deliver(message("c1", 2));
  p.deliver({ type: "synced", conversation: "c1", seq: 2 });
  p.sent = [];
  // c2 started while the server's node had lost the bus.
  p.deliver({ type: "resync", conversations: [conv("c1", "open", 3), conv("c2", "queued", 1)] });
  assert.deepEqual(resumesOf(p), [{ type: "resume", conversations: { c1: 2, c2: 0 } }]);
  assert.equal(p.of("hello").length, 0, "no new session");
  assert.equal(peers.length, 1, "no reconnect");
  p.deliver(message("c1", 3));
  p.deliver(message("c2", 1));
  assert.deepEqual(
    client.items("c1").map((i) => i.seq),
    [1, 2, 3],
  );
  assert.deepEqual(
    client.items("c2").map((i) => i.seq),
    [1],
  );
  client.stop();
});

test("going away (1001) reconnects within a quarter second", async () => {
  const { client, peers } = harness();
  client.start();
  await until("connect", () => peers.length === 1);
  peers[0].open();
  welcome(peers[0], []);
  const t0 = Date.now();
  peers[0].serverClose(1001);
  await until("reconnect", () => peers.length === 2, 1000);
  assert.ok(Date.now() - t0 <= 400, `reconnected after ${Date.now() - t0} ms`);
  client.stop();
});

test("a retryable error resends after retry_after_ms; a final one marks the message failed", async () => {
  const { client, peers } = harness();
  client.start();
  await until("connect", () => peers.length === 1);
  const p = peers[0];
  p.open();
  welcome(p, [conv("c1")]);
  const id = client.send("c1", "busy?");
  p.deliver({ type: "error", ref: id, code: "rate_limited", message: "slow down", retryable: true, retry_after_ms: 50 });
  await until("resend", () => p.of("send").length === 2);
  assert.equal(p.of("send")[1].client_id, id);
  const bad = client.send("c1", "nope");
  p.deliver({ type: "error", ref: bad, code: "forbidden", message: "not your conversation" });
  const failed = client.items("c1").find((i) => i.client_id === bad);
  assert.equal(failed?.failed, "not your conversation");
  client.stop();
});

test("a visitor's first message starts a conversation, then is sent to it", async () => {
  const { client, peers } = harness();
  client.start();
  await until("connect", () => peers.length === 1);
  const p = peers[0];
  p.open();
  welcome(p, []);
  const id = client.send(null, "hi");
  const [start] = p.of("start");
  assert.ok(start, "start sent");
  assert.equal(p.of("send").length, 0);
  p.deliver({ type: "conversation", ref: start.ref, conversation: conv("c9", "queued") });
  const [send] = p.of("send");
  assert.deepEqual([send.client_id, send.conversation, send.body], [id, "c9", "hi"]);
  assert.deepEqual(resumesOf(p), [{ type: "resume", conversations: { c9: 0 } }]);
  p.deliver({ type: "queue", conversation: "c9", position: 2, estimated_wait_seconds: 90 });
  assert.deepEqual(client.queue.get("c9"), { position: 2, estimated_wait_seconds: 90 });
  client.stop();
});

test("the outbox survives a reload for the same visitor, never for another", async () => {
  const key = "parley:site1:outbox";
  const first = harness({ outboxKey: key, owner: "v1" });
  const id = first.client.send("c1", "written before reload");
  first.client.stop();

  const other = harness({ outboxKey: key, owner: "v2" });
  assert.equal(other.client.outbox.length, 0);

  const again = harness({ outboxKey: key, owner: "v1" });
  again.client.start();
  await until("connect", () => again.peers.length === 1);
  const p = again.peers[0];
  p.open();
  welcome(p, [conv("c1")]);
  assert.deepEqual(
    p.of("send").map((s) => s.client_id),
    [id],
  );
  p.deliver({ type: "ack", client_id: id, conversation: "c1", seq: 1 });
  assert.equal(store.has(key), false, "acked: nothing left to persist");
  again.client.stop();
});

test("typing from others shows, own typing echo is ignored, and typing is throttled", async () => {
  const { client, peers } = harness();
  client.start();
  await until("connect", () => peers.length === 1);
  const p = peers[0];
  p.open();
  welcome(p, [conv("c1")]);
  p.deliver({ type: "typing", conversation: "c1", on: true, author: visitor });
  assert.equal(client.typingIn("c1"), null);
  p.deliver({ type: "typing", conversation: "c1", on: true, author: agent });
  assert.equal(client.typingIn("c1")?.name, "Ada");
  p.deliver(message("c1", 1));
  assert.equal(client.typingIn("c1"), null, "a message from the typist ends the indicator");
  client.noteTyping("c1", "H");
  client.noteTyping("c1", "He");
  client.noteTyping("c1", "Hel");
  assert.equal(p.of("typing").length, 1);
  client.stopTyping("c1");
  assert.deepEqual(p.of("typing")[1], { type: "typing", conversation: "c1", on: false });
  client.stop();
});

test("emptying the composer or sending tells the other side at once that typing stopped", async () => {
  const { client, peers } = harness();
  client.start();
  await until("connect", () => peers.length === 1);
  const p = peers[0];
  p.open();
  welcome(p, [conv("c1")]);
  client.noteTyping("c1", "I think");
  assert.deepEqual(p.of("typing").map((f) => f.on), [true]);
  client.noteTyping("c1", "");
  assert.deepEqual(p.of("typing").map((f) => f.on), [true, false], "cleared box: typing off without waiting for the pause");
  client.noteTyping("c1", "  ");
  assert.equal(p.of("typing").length, 2, "blanks are no typing, and off is sent once");
  client.noteTyping("c1", "Yes");
  client.send("c1", "Yes");
  assert.deepEqual(p.of("typing").map((f) => f.on), [true, false, true, false], "sent: typing off");
  client.stop();
});

test("messages waiting for a visitor whose token expired go to a new conversation of the new visitor", async () => {
  const key = "parley:site2:outbox";
  const first = harness({ outboxKey: key, owner: "v1" });
  first.client.send("c1", "still there?");
  first.client.stop();

  const again = harness({ outboxKey: key, owner: "v1" });
  again.client.setOwner("v7");
  again.client.start();
  await until("connect", () => again.peers.length === 1);
  const p = again.peers[0];
  p.open();
  welcome(p, [], { kind: "visitor", id: "v7", name: "Visitor 7" });
  assert.equal(p.of("send").length, 0);
  assert.equal(p.of("start").length, 1, "a new conversation is started for the waiting message");
  again.client.stop();
  assert.equal(JSON.parse(store.get(key) ?? "{}").owner, "v7");
});

test("frames that arrive before welcome are applied after it; an older snapshot never rolls state back", async () => {
  const { client, peers } = harness({ role: "agent" });
  client.start();
  await until("connect", () => peers.length === 1);
  const p = peers[0];
  p.open();
  const assigned = { ...conv("c1", "open", 1), updated_at: "2026-01-01T00:00:05Z" };
  p.deliver({ type: "conversation", conversation: assigned });
  const queuedEarlier = { ...conv("c1", "queued", 1), agent_id: undefined, updated_at: "2026-01-01T00:00:01Z" };
  welcome(p, [queuedEarlier], agent);
  assert.equal(client.conversations.get("c1")?.info.status, "open");
  p.deliver({ type: "conversation", conversation: queuedEarlier });
  assert.equal(client.conversations.get("c1")?.info.status, "open");
  client.stop();
});

test("an attached data channel carries chat; when it closes, chat falls back to the WebSocket without loss", async () => {
  const { client, peers } = harness();
  const seen: string[] = [];
  client.listen((f) => seen.push(f.type));
  client.start();
  await until("connect", () => peers.length === 1);
  const ws = peers[0];
  ws.open();
  welcome(ws, [conv("c1")]);
  ws.deliver(message("c1", 1));
  ws.sent = [];

  const dc = new ScriptedPeer("datachannel");
  dc.open();
  client.attachChatTransport(dc);
  assert.equal(client.transportKind, "datachannel");
  const id = client.send("c1", "over the data channel");
  assert.deepEqual(
    dc.of("send").map((f) => f.client_id),
    [id],
  );
  assert.equal(ws.of("send").length, 0, "chat does not also go over the WebSocket");
  assert.ok(client.sendControl({ type: "rtc_answer", sdp: "v=0" }));
  assert.equal(ws.of("rtc_answer").length, 1, "negotiation stays on the WebSocket");
  dc.deliver(message("c1", 2));
  assert.deepEqual(
    client.items("c1").map((i) => i.seq),
    [1, 2, null],
  );
  assert.ok(seen.includes("message"), "listeners see frames from the data channel");

  // The channel dies before the ack: the send goes again over the WebSocket
  // with the same client_id, and the conversation is resumed.
  dc.close(1006);
  assert.equal(client.transportKind, "websocket");
  assert.deepEqual(
    ws.of("send").map((f) => f.client_id),
    [id],
  );
  assert.deepEqual(resumesOf(ws), [{ type: "resume", conversations: { c1: 2 } }]);
  client.stop();
});

test("a resume the server refuses is sent again after the wait it asks for, and later gaps are repaired", async () => {
  const { client, peers } = harness({ role: "agent" });
  client.start();
  await until("connect", () => peers.length === 1);
  const p = peers[0];
  p.open();
  welcome(p, [conv("c1")], agent);
  p.deliver({ type: "synced", conversation: "c1", seq: 0 });
  p.sent = [];
  p.deliver(message("c1", 1));
  p.deliver(message("c1", 3));
  await until("the reorder window ends in a resume", () => p.of("resume").length === 1);
  const [first] = p.of("resume");
  assert.deepEqual(first.conversations, { c1: 1 });
  // The frame limit refuses it, with its ref.
  p.deliver({ type: "error", code: "rate_limited", message: "slow down", ref: first.ref, retryable: true, retry_after_ms: 30 });
  await until("the resume is sent again", () => p.of("resume").length === 2);
  const second = p.of("resume")[1];
  assert.notEqual(second.ref, first.ref);
  assert.deepEqual(second.conversations, { c1: 1 });
  p.deliver(message("c1", 2));
  p.deliver({ type: "synced", conversation: "c1", seq: 3 });
  // A later gap is not ignored: the conversation is no longer "resuming".
  p.deliver(message("c1", 5));
  await until("the later gap is resumed", () => p.of("resume").length === 3);
  assert.deepEqual(p.of("resume")[2].conversations, { c1: 3 });
  client.stop();
});

// Messages published on different signaling nodes can overtake each other
// on the way to this client; a short reorder window absorbs that without a
// resume. The window's timer is faked: the test moves time itself.

/** An online agent client, synced on c1 at seq 0, with fake timers from
 * here on (real ones were needed to connect). */
async function reorderHarness(t: TestContext) {
  const { client, peers } = harness({ role: "agent" });
  client.start();
  await until("connect", () => peers.length === 1);
  const p = peers[0];
  p.open();
  welcome(p, [conv("c1")], agent);
  p.deliver({ type: "synced", conversation: "c1", seq: 0 });
  p.sent = [];
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const seen: number[] = [];
  client.listen((f) => {
    if (f.type === "message") seen.push(f.seq);
  });
  return { client, p, seen };
}

const REORDER_WINDOW_MS = 150;

test("messages that overtake each other within the reorder window are delivered in order, with no resume", async (t) => {
  const { client, p, seen } = await reorderHarness(t);
  p.deliver(message("c1", 1));
  p.deliver(message("c1", 3));
  p.deliver(message("c1", 4));
  // Held, not shown: 3 and 4 must not appear before 2.
  assert.deepEqual(client.items("c1").map((i) => i.seq), [1]);
  t.mock.timers.tick(REORDER_WINDOW_MS - 1);
  p.deliver(message("c1", 2));
  assert.deepEqual(client.items("c1").map((i) => i.seq), [1, 2, 3, 4]);
  assert.deepEqual(seen, [1, 2, 3, 4], "listeners see each message once, in seq order");
  t.mock.timers.tick(10 * REORDER_WINDOW_MS);
  assert.equal(p.of("resume").length, 0, "no resume for a gap that filled within the window");
  client.stop();
});

test("a gap that outlasts the reorder window asks for exactly one resume, then fills in order", async (t) => {
  const { client, p, seen } = await reorderHarness(t);
  p.deliver(message("c1", 1));
  p.deliver(message("c1", 3));
  t.mock.timers.tick(REORDER_WINDOW_MS - 1);
  assert.equal(p.of("resume").length, 0, "not before the window ends");
  p.deliver(message("c1", 4));
  t.mock.timers.tick(1);
  assert.deepEqual(resumesOf(p), [{ type: "resume", conversations: { c1: 1 } }]);
  p.deliver(message("c1", 5));
  t.mock.timers.tick(10 * REORDER_WINDOW_MS);
  assert.equal(p.of("resume").length, 1, "one resume in flight at a time");
  assert.deepEqual(client.items("c1").map((i) => i.seq), [1]);
  // The resume replays 2.. from the store: 3 and 4 again, as duplicates.
  for (const seq of [2, 3, 4]) p.deliver(message("c1", seq));
  p.deliver({ type: "synced", conversation: "c1", seq: 4 });
  assert.deepEqual(client.items("c1").map((i) => i.seq), [1, 2, 3, 4, 5]);
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  t.mock.timers.tick(10 * REORDER_WINDOW_MS);
  assert.equal(p.of("resume").length, 1);
  client.stop();
});

test("duplicates are dropped, whether already delivered or still held", async (t) => {
  const { client, p, seen } = await reorderHarness(t);
  p.deliver(message("c1", 1));
  p.deliver(message("c1", 1));
  p.deliver(message("c1", 3));
  p.deliver(message("c1", 3, "x3", agent, "a second copy"));
  p.deliver(message("c1", 2));
  p.deliver(message("c1", 2));
  p.deliver(message("c1", 3));
  assert.deepEqual(client.items("c1").map((i) => [i.seq, i.body]), [
    [1, "m1"],
    [2, "m2"],
    [3, "m3"],
  ]);
  assert.deepEqual(seen, [1, 2, 3]);
  t.mock.timers.tick(10 * REORDER_WINDOW_MS);
  assert.equal(p.of("resume").length, 0);
  client.stop();
});

test("an ack that leaves a gap below the own message waits the window too, then resumes once", async (t) => {
  const { client, p } = await reorderHarness(t);
  p.deliver(message("c1", 1));
  const id = client.send("c1", "mine");
  // Stored as seq 3 on this node; seq 2 (the other side's, on another node) is not here yet.
  p.deliver({ type: "ack", ref: id, client_id: id, conversation: "c1", seq: 3 });
  t.mock.timers.tick(REORDER_WINDOW_MS);
  assert.deepEqual(resumesOf(p), [{ type: "resume", conversations: { c1: 1 } }]);
  p.deliver(message("c1", 2));
  p.deliver(message("c1", 3, id, agent, "mine"));
  p.deliver({ type: "synced", conversation: "c1", seq: 3 });
  assert.deepEqual(client.items("c1").map((i) => i.seq), [1, 2, 3]);
  client.stop();
});

test("an ack that fills the gap below held messages releases them at once", async (t) => {
  const { client, p, seen } = await reorderHarness(t);
  p.deliver(message("c1", 1));
  const id = client.send("c1", "mine");
  // The other side's seq 3 overtakes the ack of our own seq 2.
  p.deliver(message("c1", 3));
  assert.deepEqual(client.items("c1").map((i) => i.seq), [1, null]);
  p.deliver({ type: "ack", ref: id, client_id: id, conversation: "c1", seq: 2 });
  assert.deepEqual(client.items("c1").map((i) => i.seq), [1, 2, 3]);
  assert.deepEqual(seen, [1, 3]);
  t.mock.timers.tick(10 * REORDER_WINDOW_MS);
  assert.equal(p.of("resume").length, 0);
  client.stop();
});

test("the assistant's answer shows as it streams, is replaced by the stored answer with its sources, and a hand-off drops a draft", async () => {
  const { client, peers } = harness();
  client.start();
  await until("connect", () => peers.length === 1);
  const p = peers[0];
  p.open();
  welcome(p, [conv("c1", "assistant")]);
  const bot = { kind: "assistant", id: "", name: "Assistant" };
  p.deliver({ type: "assistant_draft", conversation: "c1", client_id: "sys:assistant:1", text: "Refunds take" });
  p.deliver({ type: "assistant_draft", conversation: "c1", client_id: "sys:assistant:1", text: "Refunds take 5 days" });
  assert.deepEqual(
    client.items("c1").map((i) => [i.body, i.draft ?? false, i.seq]),
    [["Refunds take 5 days", true, null]],
  );
  const src = [{ article_id: "a1", title: "Refunds", url: "/help/s/a1" }];
  p.deliver({ ...message("c1", 1, "sys:assistant:1", bot, "Refunds take 5 days."), sources: src } as Frame);
  assert.deepEqual(
    client.items("c1").map((i) => [i.body, i.draft ?? false, i.seq, i.sources]),
    [["Refunds take 5 days.", false, 1, src]],
  );
  // A draft that comes after its answer is stale.
  p.deliver({ type: "assistant_draft", conversation: "c1", client_id: "sys:assistant:1", text: "Refunds take" });
  assert.equal(client.items("c1").length, 1);
  // A draft whose answer never comes: gone once a person takes over.
  p.deliver({ type: "assistant_draft", conversation: "c1", client_id: "sys:assistant:3", text: "Half an" });
  assert.equal(client.items("c1").length, 2);
  p.deliver({ type: "conversation", conversation: { ...conv("c1", "queued", 1), updated_at: "2026-01-01T00:00:01Z" } });
  assert.deepEqual(
    client.items("c1").map((i) => i.body),
    ["Refunds take 5 days."],
  );
  client.stop();
});

test("a translation for this side shows with its message, the other side's is ignored, and a resumed message brings its own", async () => {
  const { client, peers } = harness(); // a visitor
  client.start();
  await until("connect", () => peers.length === 1);
  const p = peers[0];
  p.open();
  welcome(p, [conv("c1", "open")]);
  p.deliver(message("c1", 1, "v-1", visitor, "Hola"));
  p.deliver(message("c1", 2, "a-1", agent, "Thank you"));
  // The agents' translation of the visitor's own message travels on the
  // conversation too: not for the visitor.
  p.deliver({ type: "translation", conversation: "c1", seq: 1, for: "agent", translation: { language: "en", from: "es", text: "Hello", provider: "apertium" } });
  const es = { language: "es", from: "en", text: "Gracias", provider: "apertium" };
  p.deliver({ type: "translation", conversation: "c1", seq: 2, for: "visitor", translation: es });
  assert.deepEqual(
    client.items("c1").map((i) => [i.body, i.translation]),
    [["Hola", undefined], ["Thank you", es]],
  );
  // After a reconnect the resumed message carries its cached translation.
  const again = { language: "es", from: "en", text: "Hasta mañana", provider: "openai" };
  p.deliver({ ...message("c1", 3, "a-2", agent, "See you tomorrow"), translation: again } as Frame);
  assert.deepEqual(client.items("c1")[2].translation, again);
  client.stop();
});
