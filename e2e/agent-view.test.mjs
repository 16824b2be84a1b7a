// The agent's view of a conversation, as agents read it: notices worded for
// the agent (never the visitor's "You are now chatting with …"), shown as
// notices; why the chat is theirs in a sentence; a visitor titled by the
// name they gave.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setUp, signInAgent, send, bodies, eventually, newAgent, online, widget } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

test("after a transfer each side reads its own notice, and the agents' one is a notice", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  const v = await widget(e2e.browser, s.url);
  await v.frame.locator("[data-testid=composer]").waitFor();
  await send(v.frame, "I need help with a refund");
  const bob = await newAgent(e2e.browser, admin, s.url, "Bob", { teams: ["billing"] });
  await admin.locator("[data-testid=inbox-item][data-status=open]").first().click();
  await admin.getByRole("button", { name: "Transfer" }).click();
  await admin.locator(`[data-testid=transfer-target] option[value="agent:${bob.id}"]:not([disabled])`).waitFor({ state: "attached" });
  await admin.selectOption("[data-testid=transfer-target]", `agent:${bob.id}`);
  await admin.locator("[data-testid=transfer-submit]").click();

  await eventually(async () => (await bodies(v.frame)).includes("You are now chatting with Bob."), { what: "the visitor's notice" });
  assert.ok(!(await bodies(v.frame)).some((b) => b.includes("transferred the chat")), "the visitor sees no agents' notice");

  await bob.page.locator("[data-testid=inbox-item][data-status=open]").click();
  const notice = bob.page.locator("[data-testid=message]", { hasText: "Admin transferred the chat to Bob" });
  await notice.waitFor();
  assert.equal(await notice.getAttribute("data-author-kind"), "system");
  assert.equal(await notice.getAttribute("role"), "note");
  // A notice sits in the middle of the timeline, in muted text, not in a bubble on either side.
  const look = await notice.evaluate((el) => {
    const list = el.parentElement.getBoundingClientRect();
    const box = el.getBoundingClientRect();
    const body = el.querySelector("[data-testid=message-body]");
    return {
      offCentre: Math.abs(box.left + box.width / 2 - (list.left + list.width / 2)),
      color: getComputedStyle(body).color,
      text: getComputedStyle(document.body).color,
      background: getComputedStyle(body).backgroundColor,
    };
  });
  assert.ok(look.offCentre < 4, `notice centred (off by ${look.offCentre}px)`);
  assert.notEqual(look.color, look.text, "notice text is muted");
  assert.equal(look.background, "rgba(0, 0, 0, 0)", "no bubble behind a notice");
  for (const page of [bob.page, admin]) {
    await eventually(async () => (await bodies(page)).includes("Admin transferred the chat to Bob"), { what: "agents' notice" });
    assert.ok(!(await bodies(page)).includes("You are now chatting with Bob."), "an agent never reads the visitor's notice");
  }
  // Why it is Bob's, in words; no routing internals for an agent.
  assert.equal(await bob.page.locator("[data-testid=routing-summary]").innerText(), "Assigned to you: transferred by Admin");
  assert.equal(await bob.page.getByRole("button", { name: "Routing log" }).count(), 0);
  assert.equal(await bob.page.getByText(/eligible|load \d/).count(), 0);
  await bob.page.screenshot({ path: `${shots}/agentui-transfer-notice.png` });
  await v.ctx.close();
});

test("an offline message is titled with the name and email the visitor gave", async () => {
  const s = await e2e.server();
  const v = await widget(e2e.browser, s.url);
  await v.frame.locator("[data-testid=offline-form]").waitFor();
  await v.frame.locator("[data-testid=offline-name]").fill("Zoé Martin");
  await v.frame.locator("[data-testid=offline-email]").fill("zoe@example.com");
  await v.frame.locator("[data-testid=offline-message]").fill("Please call me back about my order 1234.");
  await v.frame.locator("[data-testid=offline-submit]").click();
  await v.frame.locator("[data-testid=offline-thanks]").waitFor();

  const admin = await signInAgent(e2e.browser, s.url);
  const inbox = admin.getByRole("navigation", { name: "Inbox" });
  await inbox.getByRole("button", { name: /Zoé Martin/ }).click();
  await eventually(async () => (await admin.getByRole("heading", { level: 2, name: "Zoé Martin" }).count()) === 1, { what: "titled Zoé Martin" });
  await admin.getByRole("link", { name: "zoe@example.com" }).waitFor();
  await eventually(async () => (await bodies(admin)).includes("Please call me back about my order 1234."), { what: "message shown" });
  const author = admin.locator("[data-testid=message][data-author-kind=visitor] .pa-msg-author");
  assert.equal(await author.first().innerText(), "Zoé Martin");
  assert.equal(await admin.getByText(/^Visitor \d+/).count(), 0, "no generated visitor name anywhere");
  await admin.screenshot({ path: `${shots}/agentui-offline-title.png` });
  await v.ctx.close();
});

test("the agent sees the visitor online, away while the page is hidden, and gone when it closes", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  const v = await widget(e2e.browser, s.url);
  await v.frame.locator("[data-testid=composer]").waitFor();
  await send(v.frame, "Hello, anyone there?");
  await admin.locator("[data-testid=inbox-item][data-status=open]").click();
  const presence = admin.locator("[data-testid=visitor-presence]");
  await eventually(async () => (await presence.innerText()) === "Visitor online", { what: "visitor online" });

  // The visitor switches to another tab: the widget's page is hidden.
  const frame = v.page.frames().find((f) => f.url().includes("/widget/"));
  const hide = (hidden) =>
    frame.evaluate((hidden) => {
      Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (hidden ? "hidden" : "visible") });
      document.dispatchEvent(new Event("visibilitychange"));
    }, hidden);
  await hide(true);
  await eventually(async () => /^Visitor away since \d/.test(await presence.innerText()), { what: "visitor away" });
  await admin.screenshot({ path: `${shots}/agentui-presence-away.png` });
  await hide(false);
  await eventually(async () => (await presence.innerText()) === "Visitor online", { what: "visitor back" });

  await v.ctx.close();
  await eventually(async () => /^Visitor left · last seen \d/.test(await presence.innerText()), { what: "visitor gone" });
  await admin.screenshot({ path: `${shots}/agentui-presence-gone.png` });
});
