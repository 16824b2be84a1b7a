// Routing as people meet it, part two (part one: routing.test.mjs; split so
// each file stays within the runner's per-file timeout): with nobody online
// the widget takes an offline message; a transfer between two agents is seen
// by all three browsers.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  setUp, signInAgent, send, bodies, eventually, call, newAgent, online, widget, meId,
} from "./harness.mjs";

const e2e = setUp();

test("with nobody online the widget takes an offline message that agents read later", async () => {
  const s = await e2e.server();
  const v = await widget(e2e.browser, s.url);
  await v.frame.locator("[data-testid=offline-form]").waitFor();
  assert.match(await v.frame.locator("[data-testid=offline-notice]").innerText(), /Nobody is available/);
  assert.equal(await v.frame.locator("[data-testid=composer]").count(), 0);
  await v.frame.locator("[data-testid=offline-name]").fill("Zoé Martin");
  await v.frame.locator("[data-testid=offline-email]").fill("zoe@example.com");
  await v.frame.locator("[data-testid=offline-message]").fill("Please call me back about my order 1234.");
  await v.frame.locator("[data-testid=offline-submit]").click();
  await v.frame.locator("[data-testid=offline-thanks]").waitFor();

  const admin = await signInAgent(e2e.browser, s.url);
  const item = admin.locator("[data-testid=inbox-item][data-status=offline]");
  await item.waitFor();
  await item.click();
  await eventually(async () => (await admin.locator("[data-testid=offline-contact]").innerText()).includes("zoe@example.com"), { what: "contact shown" });
  await eventually(async () => (await bodies(admin)).includes("Please call me back about my order 1234."), { what: "offline message shown" });
  await v.ctx.close();
});

test("a transfer between two agents is seen by the visitor and both agents", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  const v = await widget(e2e.browser, s.url);
  await v.frame.locator("[data-testid=composer]").waitFor();
  await send(v.frame, "I need help with a refund");
  await eventually(async () => (await v.frame.locator("[data-testid=agent-name]").innerText()) === "Admin", { what: "admin serves first" });

  const bob = await newAgent(e2e.browser, admin, s.url, "Bob", { teams: ["billing"] });
  await admin.locator("[data-testid=inbox-item][data-status=open]").first().click();
  await admin.locator("[data-testid=transfer]").click();
  await admin.locator(`[data-testid=transfer-target] option[value="agent:${bob.id}"]:not([disabled])`).waitFor({ state: "attached" });
  await admin.selectOption("[data-testid=transfer-target]", `agent:${bob.id}`);
  await admin.fill("[data-testid=transfer-note-input]", "wants a refund for order 1234");
  await admin.click("[data-testid=transfer-submit]");

  // The visitor: a short notice, and now chatting with Bob.
  await eventually(async () => (await bodies(v.frame)).includes("You are now chatting with Bob."), { what: "visitor sees the transfer notice" });
  await eventually(async () => (await v.frame.locator("[data-testid=agent-name]").innerText()) === "Bob", { what: "visitor now with Bob" });
  // Bob: the conversation with its whole history and the note.
  const mine = bob.page.locator("[data-testid=inbox-item][data-status=open]");
  await mine.waitFor();
  await mine.click();
  await eventually(async () => (await bodies(bob.page)).includes("I need help with a refund"), { what: "Bob sees the history" });
  assert.match(await bob.page.locator("[data-testid=transfer-note]").innerText(), /wants a refund for order 1234/);
  await send(bob.page, "Hi, Bob from billing here.");
  await eventually(async () => (await bodies(v.frame)).includes("Hi, Bob from billing here."), { what: "visitor sees Bob's reply" });
  // The admin: no longer theirs.
  await eventually(async () => (await admin.locator("[data-testid=inbox-item][data-status=open]").count()) === 0, { what: "admin's Mine is empty" });
  await eventually(async () => (await bodies(admin)).includes("Hi, Bob from billing here."), { what: "admin still sees the conversation live" });
  await v.ctx.close();
});
