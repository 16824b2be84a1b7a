// The widget header's line says whether the team can answer now: "Online"
// only when someone can (or already chats with the visitor), away or
// closed with when it opens again otherwise, and nothing about the team
// while the connection is not up.
import { test } from "node:test";
import assert from "node:assert/strict";
import { headline } from "../src/headline";

const now = new Date(2026, 11, 7, 11, 0);

test("online only when someone can answer", () => {
  assert.deepEqual(headline("online", { online: true }, undefined, false, now), { text: "Online", tone: "online" });
  assert.deepEqual(headline("online", { online: false, reason: "no_agent" }, "open", false, now), { text: "Online", tone: "online" }, "an agent already has the chat");
});

test("nobody available: away, and the offline form is named", () => {
  assert.deepEqual(headline("online", { online: false, reason: "no_agent" }, undefined, true, now), { text: "Away — leave a message", tone: "away" });
  assert.deepEqual(headline("online", { online: false, reason: "no_agent" }, "queued", false, now), { text: "Away", tone: "away" }, "queued: no form to point at");
});

test("outside business hours: when it opens again", () => {
  const today = new Date(2026, 11, 7, 14, 30);
  const time = today.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  assert.deepEqual(headline("online", { online: false, reason: "outside_hours", reopens_at: today.toISOString() }, undefined, true, now), { text: `Back at ${time}`, tone: "away" });
  const monday = new Date(2026, 11, 14, 9, 0);
  const day = monday.toLocaleDateString(undefined, { weekday: "short" });
  const t9 = monday.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  assert.deepEqual(headline("online", { online: false, reason: "outside_hours", reopens_at: monday.toISOString() }, undefined, true, now), { text: `Back ${day} ${t9}`, tone: "away" });
  assert.deepEqual(headline("online", { online: false, reason: "outside_hours" }, undefined, true, now), { text: "Closed — leave a message", tone: "away" });
});

test("no word about the team before the connection and the answer", () => {
  assert.equal(headline("connecting", { online: true }, "queued", false, now).text, "Connecting…");
  assert.equal(headline("reconnecting", { online: true }, "open", false, now).text, "Reconnecting…");
  assert.deepEqual(headline("online", null, undefined, false, now), { text: "Connected", tone: "connecting" });
});

test("the assistant answers: the header says so, not away", () => {
  const away = { online: false, reason: "outside_hours", assistant: true };
  assert.deepEqual(headline("online", away, "assistant", false, now), { text: "Our assistant is answering", tone: "online" });
  assert.deepEqual(headline("online", away, undefined, false, now), { text: "Our assistant is answering", tone: "online" }, "before the first question");
  assert.equal(headline("online", away, "queued", false, now).tone, "away", "handed to a person who is away");
  assert.equal(headline("online", { online: true, assistant: true }, "assistant", false, now).text, "Our assistant is answering", "agents online, but the assistant has the chat");
});
