import { test } from "node:test";
import assert from "node:assert/strict";
import { ConversationLog } from "../src/shared/conversation";
import { backoffDelay } from "../src/shared/client";
import { initials, queueText } from "../src/shared/format";
import type { MessageFrame } from "../../pkg/protocol/protocol";

function msg(seq: number, body = "m" + seq): MessageFrame {
  return {
    type: "message",
    conversation: "c1",
    seq,
    client_id: "id" + seq,
    author: { kind: "visitor", id: "v1", name: "V" },
    body,
    sent_at: new Date(0).toISOString(),
  };
}

function log(): ConversationLog {
  return new ConversationLog({
    id: "c1",
    status: "open",
    visitor_id: "v1",
    visitor_name: "V",
    last_seq: 0,
    created_at: "",
    updated_at: "",
  });
}

test("messages in order advance the contiguous seq", () => {
  const l = log();
  assert.equal(l.add(msg(1)), "added");
  assert.equal(l.add(msg(2)), "added");
  assert.equal(l.lastContiguous, 2);
  assert.deepEqual(
    l.messages().map((m) => m.seq),
    [1, 2],
  );
});

test("a seq already held is a duplicate and is shown once", () => {
  const l = log();
  l.add(msg(1));
  assert.equal(l.add(msg(1, "again")), "duplicate");
  assert.equal(l.size, 1);
  assert.equal(l.messages()[0].body, "again", "the newer copy (server's) replaces a local one");
});

test("a gap is reported and filled later", () => {
  const l = log();
  l.add(msg(1));
  assert.equal(l.add(msg(3)), "gap");
  assert.equal(l.lastContiguous, 1);
  assert.equal(l.highestSeq, 3);
  assert.equal(l.add(msg(2)), "added");
  assert.equal(l.lastContiguous, 3);
  assert.deepEqual(
    l.messages().map((m) => m.seq),
    [1, 2, 3],
  );
});

test("seq below 1 is ignored", () => {
  const l = log();
  assert.equal(l.add(msg(0)), "duplicate");
  assert.equal(l.size, 0);
});

test("back-off grows, is capped at 10 s and jittered", () => {
  assert.equal(backoffDelay(0, () => 0), 125);
  assert.equal(backoffDelay(0, () => 1), 250);
  assert.equal(backoffDelay(3, () => 1), 2000);
  assert.equal(backoffDelay(40, () => 1), 10_000);
  assert.equal(backoffDelay(40, () => 0), 5_000);
});

test("queue text says the position and rounds a known wait up to minutes", () => {
  assert.equal(queueText(2, 61), "Waiting for an agent — you are number 2, about 2 min");
  assert.equal(queueText(1, 0), "Waiting for an agent — you are number 1, about 1 min");
  assert.equal(queueText(3, -1), "Waiting for the next available agent — you are number 3", "an unknown wait promises no time");
});

test("avatar initials skip number-only words", () => {
  assert.equal(initials("Ada Lovelace"), "AL");
  assert.equal(initials("Visitor 1234"), "V");
  assert.equal(initials("  "), "?");
  assert.equal(initials("42"), "4");
});
