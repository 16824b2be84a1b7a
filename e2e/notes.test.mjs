// Private notes, mentions, canned replies and drafts, as agents use them:
// a note written in the conversation view is shown to agents, styled
// apart, and never reaches the visitor (their page live, and after a
// reload, which resumes from the store); @Name notifies that agent at once
// though the conversation is not theirs; a canned reply inserted with
// /shortcut fills in the visitor's name; a half-written reply survives a
// reload of the dashboard.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setUp, signInAgent, openWidget, send, bodies, eventually, online, newAgent } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

test("a note with a mention reaches agents only; a canned reply fills in; a draft survives a reload", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  // Bob is busy elsewhere: away, so the chat is not routed to him.
  const bob = await newAgent(e2e.browser, admin, s.url, "Bob", { role: "agent" });
  await bob.page.locator("[data-testid=status]").selectOption("away");
  const { page: visitorPage, frame } = await openWidget(e2e.browser, s.url);
  await send(frame, "Where is my order 1042?");
  const item = admin.locator("[data-testid=inbox-item]").first();
  await item.waitFor();
  await item.click();
  await eventually(async () => (await bodies(admin)).includes("Where is my order 1042?"), { what: "the admin sees the visitor" });
  const visitorName = (await admin.locator("[data-testid=conversation-title]").innerText()).trim();

  // A private note mentioning Bob.
  const secret = "Refund approved off the record";
  await admin.locator("[data-testid=mode-note]").click();
  await admin.locator("[data-testid=composer]").fill(`${secret}, @Bob please check the warehouse`);
  await admin.locator("[data-testid=send]").click();
  const note = admin.locator("[data-testid=note]");
  await note.waitFor();
  assert.match(await note.innerText(), /Private note · You/);
  assert.match(await note.locator("[data-testid=note-body]").innerText(), /Refund approved/);
  // Yellow, not a chat bubble.
  assert.equal(await note.evaluate((el) => getComputedStyle(el).backgroundColor), "rgb(255, 250, 235)");
  await admin.screenshot({ path: `${shots}/notes-note.png` });

  // Bob is told at once, and finds it in his mentions.
  await bob.page.locator("[data-testid=mentions-unread]").waitFor();
  assert.equal(await bob.page.locator("[data-testid=mentions-unread]").innerText(), "1");
  await bob.page.locator("[data-testid=mentions]").click();
  const mention = bob.page.locator("[data-testid=mention]").first();
  assert.match(await mention.innerText(), /Refund approved/);
  await bob.page.screenshot({ path: `${shots}/notes-mentions.png` });
  await mention.click();
  await bob.page.locator("[data-testid=note]").waitFor();
  await eventually(async () => (await bob.page.locator("[data-testid=mentions-unread]").count()) === 0, { what: "mentions read" });

  // The visitor: the agent's next reply arrives, the note never does;
  // nor after a reload (history resumed from the store).
  await admin.locator("[data-testid=mode-reply]").click();
  await send(admin, "Checking it now.");
  await eventually(async () => (await bodies(frame)).includes("Checking it now."), { what: "the visitor gets the reply" });
  const visitorText = async () => (await frame.locator("body").innerText()) + (await visitorPage.content());
  assert.ok(!(await visitorText()).includes(secret), "the visitor's page shows the note");
  await visitorPage.reload();
  await visitorPage.click("#parley-launcher");
  await eventually(async () => (await bodies(frame)).includes("Checking it now."), { what: "the visitor's history after a reload" });
  assert.ok(!(await visitorText()).includes(secret), "the visitor's resumed history holds the note");
  assert.ok(!(await bodies(frame)).some((b) => b.includes("Refund")));

  // A team canned reply, added in the Canned replies screen.
  await admin.locator("[data-testid=canned-open]").click();
  const screen = admin.getByRole("dialog", { name: "Canned replies" });
  await screen.getByLabel("Shortcut", { exact: true }).fill("thanks");
  await screen.getByLabel("Reply", { exact: true }).fill("Thanks {{visitor.name}}, {{agent.first_name}} here. Anything else?");
  await screen.getByRole("button", { name: "Add reply" }).click();
  await screen.locator("[data-testid=canned-row]").first().waitFor();
  await admin.screenshot({ path: `${shots}/notes-canned-screen.png` });
  await admin.keyboard.press("Escape");

  // In the composer: "/th" opens the picker, Enter inserts it filled in.
  const composer = admin.locator("[data-testid=composer]");
  await composer.fill("/th");
  await admin.locator("[data-testid=canned-option]").first().waitFor();
  await admin.screenshot({ path: `${shots}/notes-canned-picker.png` });
  // A long reply in the picker must not widen the conversation and push
  // the visitor panel off the screen.
  const panel = await admin.locator(".pa-visitor").boundingBox();
  assert.ok(panel.x + panel.width <= (await admin.evaluate(() => window.innerWidth)) + 1, "the visitor panel stays on screen");
  await composer.press("Enter");
  const filled = `Thanks ${visitorName}, Admin here. Anything else?`;
  assert.equal(await composer.inputValue(), filled);
  await composer.press("Enter");
  await eventually(async () => (await bodies(frame)).includes(filled), { what: "the visitor gets the canned reply, filled in" });

  // A draft survives a reload of the dashboard.
  await composer.fill("Half a thought about the refund");
  await admin.reload();
  await online(admin);
  await eventually(async () => (await admin.locator("[data-testid=composer]").inputValue()) === "Half a thought about the refund", {
    what: "the draft after a reload",
  });
  // The note is still there after the reload too (read from the server).
  await admin.locator("[data-testid=note]").waitFor();
});
