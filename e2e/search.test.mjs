// Search as an agent uses it: among a long conversation's messages, the
// one holding the words typed is found (a few seconds after it was sent:
// the index takes messages after their commit), shown with its visitor,
// date and a snippet with the words marked; clicking it opens the
// conversation scrolled to that message, highlighted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { setUp, signInAgent, openWidget, send, openChat, eventually, online, call, meId } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

test("search finds one message among many and opens the conversation at it", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  const { frame } = await openWidget(e2e.browser, s.url);
  await send(frame, "Hi, I need help with an order");
  await openChat(admin, "I need help with an order");
  const conv = new URLSearchParams((await admin.evaluate(() => location.hash)).slice(1)).get("c");
  assert.ok(conv, "the open conversation's id is in the address");

  // Many messages through the REST API, the one to find early on.
  const tok = await call(admin, "POST", "/api/tokens", { name: "e2e search", scope: "write" });
  assert.equal(tok.status, 201, JSON.stringify(tok.json));
  const me = await meId(admin);
  const needle = "Your refund for the blue kettle is reference QX-5521";
  for (let i = 0; i < 80; i++) {
    const body = i === 10 ? needle : `Update ${i}: your order is being prepared, refund policy attached`;
    const res = await fetch(`${s.url}/api/v1/conversations/${conv}/messages`, {
      method: "POST",
      headers: { Authorization: `Bearer ${tok.json.token.secret}`, "Content-Type": "application/json", "Idempotency-Key": randomUUID() },
      body: JSON.stringify({ body, agent_id: me }),
    });
    assert.equal(res.status, 201, await res.text());
  }

  // A fresh dashboard with nothing open.
  await admin.goto(`${s.url}/app/`);
  await online(admin);
  const input = admin.locator("[data-testid=search-input]");
  const results = admin.locator("[data-testid=search-result]");
  await eventually(
    async () => {
      await input.fill("kettle REFUND");
      const answered = admin.waitForResponse((r) => r.url().includes("/api/search"));
      await input.press("Enter");
      await answered;
      await admin.locator("[data-testid=search-results]").waitFor();
      return (await results.count()) === 1;
    },
    { timeout: 30_000, interval: 500, what: "the message indexed and found" },
  );
  const hit = results.first();
  assert.match(await hit.innerText(), /QX-5521/);
  assert.deepEqual(await hit.locator("mark").allInnerTexts(), ["refund", "kettle"]);
  assert.match(await hit.innerText(), /Message/);
  await admin.screenshot({ path: `${shots}/search-results.png` });

  // A word every message has finds many; the exact one, one.
  await hit.click();
  const focused = admin.locator("[data-testid=message][data-focused=true]");
  await focused.waitFor();
  assert.equal(await focused.locator("[data-testid=message-body]").innerText(), needle);
  assert.equal(await focused.count(), 1);
  // Scrolled to it: it is inside the list's visible box, and the list is
  // not at its bottom (where a conversation opens otherwise).
  await eventually(
    async () =>
      admin.evaluate(() => {
        const list = document.querySelector(".pa-messages");
        const el = document.querySelector("[data-focused=true]");
        const a = list.getBoundingClientRect();
        const b = el.getBoundingClientRect();
        return b.top >= a.top && b.bottom <= a.bottom && list.scrollTop + list.clientHeight < list.scrollHeight - 100;
      }),
    { what: "the message scrolled into view" },
  );
  assert.equal(await focused.evaluate((el) => getComputedStyle(el.querySelector(".pa-bubble")).backgroundColor), "rgb(253, 230, 138)");
  await admin.screenshot({ path: `${shots}/search-opened.png` });
});
