// The walking skeleton, as a person uses it: a visitor on the demo page chats
// with an agent in the dashboard, in two real browsers, through the real
// binary; the visitor's connection drops while the agent writes; a reload
// keeps the whole history.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startServer, launchBrowser, signInAgent, openWidget, send, bodies, eventually,
} from "./harness.mjs";

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
  server?.cleanup();
});

test("visitor and agent chat live; dropped connection resumes; reload keeps history", async () => {
  const agent = await signInAgent(browser, server.url);
  const { ctx: visitorCtx, page: visitorPage, frame } = await openWidget(browser, server.url);

  // Visitor writes; the message is pending until acked, then has a seq.
  await send(frame, "Hello, do you ship to Norway?");
  const mine = frame.locator("[data-testid=message][data-author-kind=visitor]").last();
  await eventually(async () => (await mine.getAttribute("data-pending")) === "false", { what: "visitor message acked" });
  assert.match(await mine.getAttribute("data-seq"), /^\d+$/);

  // The conversation arrives live in the agent's inbox, assigned to them.
  const item = agent.locator("[data-testid=inbox-item]").first();
  await item.waitFor();
  await item.click();
  await eventually(async () => (await bodies(agent)).includes("Hello, do you ship to Norway?"), { what: "agent sees the visitor message" });

  await send(agent, "Yes — 3 days, free over €100.");
  await eventually(async () => (await bodies(frame)).includes("Yes — 3 days, free over €100."), { what: "visitor sees the reply" });
  await frame.locator("[data-testid=agent-name]").waitFor();

  // HTML in a message is shown as text on both sides, never rendered.
  let dialogs = 0;
  visitorPage.on("dialog", (d) => { dialogs++; d.dismiss(); });
  agent.on("dialog", (d) => { dialogs++; d.dismiss(); });
  const xss = "<img src=x onerror=alert(1)>";
  await send(frame, xss);
  await eventually(async () => (await bodies(agent)).includes(xss), { what: "agent sees the HTML as text" });
  assert.equal(await agent.locator("[data-testid=message-body] img").count(), 0);
  assert.equal(await frame.locator("[data-testid=message-body] img").count(), 0);

  // The visitor's network goes away while the agent sends three messages.
  await visitorCtx.setOffline(true);
  await visitorPage.frames().find((f) => f.url().includes("/widget/frame")).evaluate(() => window.parleyDebug.drop());
  const missed = ["First while you were away", "Second while you were away", "Third while you were away"];
  for (const m of missed) {
    await send(agent, m);
    await eventually(async () => (await agent.locator("[data-testid=message][data-pending=false] [data-testid=message-body]").allInnerTexts()).includes(m), { what: `agent's "${m}" acked` });
  }
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual((await bodies(frame)).filter((b) => missed.includes(b)), [], "offline visitor must not have received them yet");

  await visitorCtx.setOffline(false);
  await eventually(async () => {
    const shown = (await bodies(frame)).filter((b) => missed.includes(b));
    return shown.length === 3;
  }, { timeout: 30_000, what: "visitor resumes the three missed messages" });
  const shown = await bodies(frame);
  assert.deepEqual(shown.filter((b) => missed.includes(b)), missed, "all three, in order, once");
  const seqs = await frame.locator("[data-testid=message]").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-seq"))));
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "messages shown in seq order");
  assert.equal(new Set(seqs).size, seqs.length, "no message shown twice");

  // A reload continues the same conversation with its whole history.
  const before = await bodies(frame);
  await visitorPage.reload();
  await visitorPage.click("#parley-launcher");
  const frame2 = visitorPage.frameLocator("#parley-frame");
  await eventually(async () => (await bodies(frame2)).length === before.length, { what: "history after reload" });
  assert.deepEqual(await bodies(frame2), before);
  assert.equal(dialogs, 0, "no script from a message ran");
});
