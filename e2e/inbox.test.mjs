// The inbox as an agent uses it: views with live counts and filters, a
// conversation marked pending, snoozed for a few seconds and back on its
// own (the server's timer), tags added in the conversation view and used
// as a filter, a resolved conversation found again in the history.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setUp, signInAgent, send, bodies, eventually, online, widget, call, demoSiteId } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

function localInput(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

test("views, filters, pending, a snooze that comes back on time, tags, resolved history", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  const v = await widget(e2e.browser, s.url);
  await v.frame.locator("[data-testid=composer]").waitFor();
  await send(v.frame, "Where is my parcel?");

  // The live inbox has it as the admin's (auto-assigned); the Mine view counts it.
  const item = admin.locator("[data-testid=inbox-item][data-status=open]");
  await item.first().waitFor();
  await item.first().click();
  await eventually(async () => (await bodies(admin)).includes("Where is my parcel?"), { what: "message shown" });
  await eventually(async () => (await admin.locator("[data-testid=count-mine]").innerText()) === "1", { what: "mine counts 1" });
  assert.equal(await admin.locator("[data-testid=count-unassigned]").innerText(), "0");

  // Tag it from the conversation view (an admin makes the tag on the way).
  await admin.locator("[data-testid=tag-input]").fill("shipping");
  await admin.locator("[data-testid=tag-input]").press("Enter");
  await admin.locator("[data-testid=tag]", { hasText: "shipping" }).waitFor();

  // Pending: waiting on the visitor; the visitor's answer opens it again.
  await admin.locator("[data-testid=state-pending]").click();
  await admin.locator("[data-testid=state-pill]", { hasText: "Pending" }).waitFor();
  await admin.locator("[data-testid=view-mine]").click();
  await admin.selectOption("[data-testid=filter-status]", "pending");
  await admin.locator("[data-testid=view-item][data-state=pending]").waitFor();
  await admin.screenshot({ path: `${shots}/inbox-pending-view.png` });
  await send(v.frame, "It was due on Monday");
  await admin.locator("[data-testid=view-list] >> text=No conversations here.").waitFor();
  await admin.selectOption("[data-testid=filter-status]", "open");
  await admin.locator("[data-testid=view-item][data-state=open]").waitFor();

  // Snoozed for 4 s: out of the live inbox, in Snoozed, then back by itself.
  await admin.locator("[data-testid=snooze]").click();
  const until = new Date(Date.now() + 4000);
  await admin.locator("[data-testid=snooze-until]").fill(localInput(until));
  await admin.screenshot({ path: `${shots}/inbox-snooze-menu.png` });
  await admin.locator("[data-testid=snooze-confirm]").click();
  await admin.locator("[data-testid=state-pill]", { hasText: "Snoozed" }).waitFor();
  await admin.selectOption("[data-testid=filter-status]", "snoozed");
  await admin.locator("[data-testid=view-item][data-state=snoozed]").waitFor();
  await admin.getByRole("tab", { name: "Live" }).click();
  await eventually(async () => (await admin.locator("[data-testid=inbox-item][data-status=open]").count()) === 0, { what: "snoozed out of the live inbox" });
  await admin.screenshot({ path: `${shots}/inbox-snoozed.png` });
  await eventually(async () => (await admin.locator("[data-testid=inbox-item][data-status=open]").count()) === 1, {
    what: "the snoozed conversation back in the live inbox",
    timeout: 20_000,
  });
  assert.ok(Date.now() >= until.getTime() - 1000, "not back before its time");
  assert.equal(await admin.locator("[data-testid=state-pill]").count(), 0, "no longer snoozed");

  // The tag filter finds it; resolve it and find it in the history.
  await admin.locator("[data-testid=view-all]").click();
  await admin.selectOption("[data-testid=filter-status]", "open");
  const tagID = await admin.locator("[data-testid=filter-tag] option", { hasText: "shipping" }).getAttribute("value");
  await admin.selectOption("[data-testid=filter-tag]", tagID);
  await admin.locator("[data-testid=view-item]").first().waitFor();
  assert.equal(await admin.locator("[data-testid=view-item]").count(), 1);
  await admin.locator("[data-testid=view-item] .pa-tag", { hasText: "shipping" }).waitFor();
  await admin.screenshot({ path: `${shots}/inbox-all-tag-filter.png` });
  await admin.locator("[data-testid=close-conversation]").click();
  await admin.selectOption("[data-testid=filter-status]", "resolved");
  await admin.locator("[data-testid=view-item][data-state=resolved]").waitFor();
  await admin.locator("[data-testid=view-item]").first().click();
  await eventually(async () => (await bodies(admin)).includes("It was due on Monday"), { what: "the resolved conversation opens" });
  await admin.screenshot({ path: `${shots}/inbox-resolved-history.png` });
  await v.ctx.close();
});

test("the visitor panel shows who the visitor is and the page they are on", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  // The site records the page trail (off until its admin turns it on).
  await call(admin, "PUT", `/api/sites/${await demoSiteId(s.url)}/proactive`, { page_trail: true });
  const v = await widget(e2e.browser, s.url);
  await v.frame.locator("[data-testid=composer]").waitFor();
  await send(v.frame, "Hi, a question about pricing");
  await admin.locator("[data-testid=inbox-item][data-status=open]").first().click();
  const panel = admin.getByRole("complementary", { name: "Visitor" });
  await panel.waitFor();
  const title = await admin.locator("[data-testid=conversation-title]").innerText();
  assert.equal(await panel.locator("[data-testid=visitor-panel-name]").innerText(), title);
  assert.equal(await panel.locator("[data-testid=visitor-verified]").count(), 0, "an anonymous visitor is not marked verified");
  // The browser and system, read from the visitor's User-Agent (headless
  // Chromium says so, hence "Robot").
  assert.match(await panel.locator("[data-testid=visitor-device]").innerText(), /^Chrome \d+ on Linux · Robot$/);
  await panel.locator("[data-testid=visitor-current-page]").waitFor({ timeout: 20_000 });
  assert.match(await panel.locator("[data-testid=visitor-current-page] a").getAttribute("href"), /\/demo/);
  await admin.screenshot({ path: `${shots}/inbox-visitor-panel.png` });

  // The agent completes the visitor's contact details; a wrong email is
  // refused with a clear message, a right one kept across a reload.
  await panel.locator("[data-testid=visitor-edit-open]").click();
  const form = panel.locator("[data-testid=visitor-edit]");
  await form.getByLabel("Name").fill("Ana Lima");
  await form.getByLabel("Phone").fill("call me");
  await form.locator("[data-testid=visitor-save]").click();
  await form.getByRole("alert").waitFor();
  assert.match(await form.getByRole("alert").innerText(), /phone number/);
  await form.getByLabel("Phone").fill("+351 21 000 0000");
  await form.getByLabel("Email").fill("ana@example.com");
  await admin.screenshot({ path: `${shots}/inbox-visitor-edit.png` });
  await form.locator("[data-testid=visitor-save]").click();
  await form.waitFor({ state: "detached" });
  assert.equal(await panel.locator("[data-testid=visitor-panel-name]").innerText(), "Ana Lima");
  assert.equal(await panel.locator("[data-testid=visitor-panel-phone]").innerText(), "+351 21 000 0000");
  await admin.reload();
  await admin.locator("[data-testid=inbox-item][data-status=open]").first().click();
  await eventually(async () => (await admin.getByRole("complementary", { name: "Visitor" }).locator("[data-testid=visitor-panel-email]").innerText().catch(() => "")) === "ana@example.com", { what: "the email kept" });
  await v.ctx.close();
});
