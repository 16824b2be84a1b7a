// A long conversation opens on its newest messages and loads older ones as
// the agent scrolls up: the dashboard does not read a whole archive before
// it shows anything (the first-view benchmark, e2e/firstview.bench.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { setUp, signInAgent, eventually } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

test("a conversation of 120 messages opens on the newest 50; scrolling up and 'Load earlier' bring the rest, in place", async () => {
  const server = await e2e.server();
  execFileSync("go", ["run", "./e2e/reportseed", "-db", join(server.dataDir, "parley.db"), "-days", "1", "-n", "1", "-messages", "120", "-open", "1"], {
    cwd: root,
    stdio: "inherit",
  });
  const agent = await signInAgent(e2e.browser, server.url);
  await agent.locator("[data-testid=inbox-item]").first().click();
  const list = agent.locator(".pa-messages");
  const seqs = async () => (await agent.locator("[data-testid=message]").evaluateAll((els) => els.map((e) => Number(e.dataset.seq))));
  await eventually(async () => (await seqs()).length === 50, { what: "the newest 50 messages" });
  let s = await seqs();
  assert.deepEqual([s[0], s[s.length - 1]], [71, 120]);
  await agent.locator("[data-testid=load-earlier]").waitFor();
  await agent.screenshot({ path: `${shots}/history-tail.png` });

  // Scrolling to the top loads the page before, and what was at the top
  // stays in view.
  await list.evaluate((el) => (el.scrollTop = 0));
  await eventually(async () => (await seqs())[0] === 21, { what: "messages 21–70 after scrolling up" });
  const kept = await agent.locator('[data-seq="71"]').evaluate((m) => {
    const box = m.getBoundingClientRect();
    const view = m.closest(".pa-messages").getBoundingClientRect();
    return box.bottom > view.top && box.top < view.bottom;
  });
  assert.ok(kept, "message 71 stays in view when older ones are put above it");

  await agent.locator("[data-testid=load-earlier]").click();
  await eventually(async () => (await seqs())[0] === 1, { what: "the first message" });
  s = await seqs();
  assert.equal(s.length, 120);
  assert.deepEqual(s, Array.from({ length: 120 }, (_, i) => i + 1), "every message once, in order");
  assert.equal(await agent.locator("[data-testid=earlier]").count(), 0, "nothing earlier to load");
  await agent.screenshot({ path: `${shots}/history-all.png` });
});
