// Contacts and leads (issue 19 item 2, issue 17 item 3): a visitor fills
// the pre-chat form in the widget and becomes a contact; the agent finds
// them in the Contacts screen by name, opens the contact, moves the lead
// to "Contacted", and sees that status, and the visitor's purchase, in the
// visitor panel beside the conversation; then the admin deletes the
// contact, and the conversation stays.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setUp, signInAgent, send, eventually, online, widget, call } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

test("a pre-chat visitor is a contact: found, moved to Contacted, shown in the visitor panel with their purchase, deleted", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  const site = (await call(admin, "GET", "/api/sites")).json.sites[0];
  const res = await call(admin, "PATCH", `/api/sites/${site.id}`, {
    prechat_fields: [
      { kind: "name", required: true },
      { kind: "email", required: true },
    ],
  });
  assert.equal(res.status, 200, JSON.stringify(res.json));

  // The visitor fills the pre-chat form, writes, then buys.
  const v = await widget(e2e.browser, s.url);
  await v.frame.locator("[data-testid=prechat-form]").waitFor();
  await v.frame.locator("[data-testid=prechat-name]").fill("Zoé Quill");
  await v.frame.locator("[data-testid=prechat-email]").fill("zoe.quill@example.com");
  await v.frame.locator("[data-testid=prechat-submit]").click();
  await v.frame.locator("[data-testid=composer]").waitFor();
  await send(v.frame, "Do you ship to Lisbon?");
  await admin.locator("[data-testid=inbox-item]", { hasText: "Do you ship to Lisbon?" }).first().waitFor({ timeout: 20_000 });
  await v.page.evaluate(() => window.Parley("track", "purchase", { value: 49.5, currency: "EUR" }));

  // A second visitor with another email, so the search has to choose.
  const other = await widget(e2e.browser, s.url);
  await other.frame.locator("[data-testid=prechat-name]").fill("Max Rowe");
  await other.frame.locator("[data-testid=prechat-email]").fill("max@example.com");
  await other.frame.locator("[data-testid=prechat-submit]").click();
  await other.frame.locator("[data-testid=composer]").waitFor();

  // The Contacts screen: both, then the search finds Zoé alone.
  await admin.locator("[data-testid=open-contacts]").click();
  const rows = admin.locator("[data-testid=contact-row]");
  await eventually(async () => (await rows.count()) === 2, { what: "two contacts listed" });
  await admin.screenshot({ path: `${shots}/contacts-list.png` });
  await admin.locator("[data-testid=contacts-search]").fill("quill");
  await admin.locator("[data-testid=contacts-search]").press("Enter");
  await eventually(async () => (await rows.count()) === 1 && (await rows.first().innerText()).includes("Zoé Quill"), { what: "the search" });
  assert.match(await rows.first().innerText(), /zoe\.quill@example\.com/);
  assert.equal(await rows.first().locator("[data-testid=contact-status]").innerText(), "New");

  // Her page: the conversation, then the lead moved to Contacted.
  await rows.first().locator("[data-testid=contact-open]").click();
  const contact = admin.locator("[data-testid=contact-page]");
  await contact.waitFor();
  assert.equal(await contact.locator("[data-testid=contact-name]").innerText(), "Zoé Quill");
  await contact.locator("[data-testid=contact-conversations]").getByText("Do you ship to Lisbon?").waitFor();
  await contact.locator("[data-testid=lead-status]").selectOption("contacted");
  await contact.locator("[data-testid=contact-saved]").waitFor();
  const me = (await call(admin, "GET", "/api/me")).json.agent;
  await contact.locator("[data-testid=contact-owner]").selectOption(me.id);
  await eventually(async () => (await contact.locator("[data-testid=contact-saved]").innerText()) === "Owner saved.", { what: "owner saved" });
  await admin.screenshot({ path: `${shots}/contacts-contact-page.png` });
  await contact.locator("[data-testid=contact-back]").click();
  await eventually(async () => (await rows.first().locator("[data-testid=contact-status]").innerText()) === "Contacted", { what: "the list shows Contacted" });
  // Filtered by status: Contacted shows her, New shows Max.
  await admin.locator("[data-testid=contacts-search]").fill("");
  await admin.locator("[data-testid=contacts-search]").press("Enter");
  await admin.locator("[data-testid=contacts-status]").selectOption("new");
  await eventually(async () => (await rows.count()) === 1 && (await rows.first().innerText()).includes("Max Rowe"), { what: "the New filter" });
  await admin.locator("[data-testid=contacts-status]").selectOption("contacted");
  await eventually(async () => (await rows.count()) === 1 && (await rows.first().innerText()).includes("Zoé Quill"), { what: "the Contacted filter" });

  // From the contact to the conversation: the visitor panel shows the
  // lead status and the purchase.
  await rows.first().locator("[data-testid=contact-open]").click();
  await admin.locator("[data-testid=contact-open-conversation]").first().click();
  const panel = admin.locator("[data-testid=visitor-panel]");
  await panel.waitFor();
  await eventually(async () => (await panel.locator("[data-testid=lead-status]").inputValue()) === "contacted", { what: "the panel's lead status" });
  await eventually(async () => /1 conversion · €49\.50/.test(await panel.locator("[data-testid=visitor-conversions]").innerText()), {
    what: "the panel's conversions",
  });
  await panel.locator("[data-testid=visitor-lead]").scrollIntoViewIfNeeded();
  await admin.screenshot({ path: `${shots}/contacts-visitor-panel.png` });

  // The panel changes it too, and the Contacts screen agrees.
  await panel.locator("[data-testid=lead-status]").selectOption("won");
  await eventually(async () => {
    const r = await call(admin, "GET", "/api/contacts?status=won");
    return r.json.data.length === 1 && r.json.data[0].name === "Zoé Quill";
  }, { what: "won from the panel" });

  // The admin deletes her contact: the dialog says what is kept and
  // opens Data & privacy; after the delete she is gone from the list and
  // her conversation, with its message, is still in the inbox.
  await admin.locator("[data-testid=open-contacts]").click();
  await admin.locator("[data-testid=contacts-search]").fill("quill");
  await admin.locator("[data-testid=contacts-search]").press("Enter");
  await eventually(async () => (await rows.count()) === 1 && (await rows.first().innerText()).includes("Zoé Quill"), { what: "Zoé found again" });
  await rows.first().locator("[data-testid=contact-open]").click();
  await contact.locator("[data-testid=contact-delete]").click();
  const ask = admin.locator("[data-testid=contact-delete-dialog]");
  await ask.waitFor();
  assert.match(await ask.innerText(), /conversations are kept, with every message/);
  await ask.locator("[data-testid=open-privacy]").click();
  await admin.locator("[data-testid=privacy-admin]").waitFor();
  await admin.screenshot({ path: `${shots}/contacts-delete-privacy.png` });
  await admin.keyboard.press("Escape");
  await admin.locator("[data-testid=privacy-admin]").waitFor({ state: "detached" });
  await admin.screenshot({ path: `${shots}/contacts-delete-dialog.png` });
  await ask.locator("[data-testid=contact-delete-confirm]").click();
  await admin.locator("[data-testid=contact-deleted]").waitFor();
  await eventually(async () => (await rows.count()) === 0, { what: "Zoé gone from the list" });
  assert.equal((await call(admin, "GET", "/api/contacts?q=quill")).json.data.length, 0);
  await admin.locator("[data-testid=close-contacts]").click();
  await admin.locator("[data-testid=inbox-item]", { hasText: "Do you ship to Lisbon?" }).first().waitFor();
  await v.ctx.close();
  await other.ctx.close();
});
