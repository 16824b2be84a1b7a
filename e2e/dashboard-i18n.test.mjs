// The dashboard in the agent's language: a browser set to French gets the
// sign-in page and the dashboard in French (plural forms included); the
// agent switches to Arabic in the sidebar and the page turns right to
// left, mirrored (sidebar on the right, own messages on the left); the
// choice is the agent's, kept on the server: it survives a reload and
// follows the agent into an English browser.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setUp, signInAgent, openWidget, send, bodies, eventually, online, openChat } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

const box = async (page, sel) => {
  const b = await page.locator(sel).first().boundingBox();
  assert.ok(b, `${sel} is not shown`);
  return b;
};

test("French from the browser, Arabic by choice, right to left, kept after a reload and in another browser", async () => {
  const s = await e2e.server();

  // The sign-in page already speaks the browser's language.
  const ctx = await e2e.browser.newContext({ locale: "fr-FR" });
  const pre = await ctx.newPage();
  await pre.goto(`${s.url}/app/`);
  await eventually(async () => (await pre.locator("[data-testid=login]").innerText()).trim() === "Se connecter", { what: "a French sign-in button" });
  await ctx.close();

  const agent = await signInAgent(e2e.browser, s.url, undefined, undefined, "fr-FR");
  await online(agent);
  assert.equal(await agent.locator("html").getAttribute("lang"), "fr-FR");
  assert.equal(await agent.locator("html").getAttribute("dir"), "ltr");
  assert.equal((await agent.locator(".pa-inbox-head h1").innerText()).trim(), "Boîte de réception");
  assert.equal((await agent.locator("[data-testid=logout]").innerText()).trim(), "Se déconnecter");

  // A visitor writes: the unread count is said with French plural rules.
  const { frame } = await openWidget(e2e.browser, s.url);
  await send(frame, "Bonjour, ma commande 1042 n'est pas arrivée");
  const item = agent.locator("[data-testid=inbox-item]", { hasText: "1042" });
  await item.locator("[data-testid=unread]").waitFor({ timeout: 20_000 });
  assert.equal(await item.locator("[data-testid=unread]").getAttribute("aria-label"), "1 message non lu");
  await agent.screenshot({ path: `${shots}/i18n-fr-inbox.png` });

  await openChat(agent, "1042");
  await eventually(async () => (await bodies(agent)).some((b) => b.includes("1042")), { what: "the visitor's message" });
  await send(agent, "Je regarde tout de suite.");
  await eventually(async () => (await bodies(frame)).includes("Je regarde tout de suite."), { what: "the reply reaches the visitor" });
  assert.equal((await agent.locator("[data-testid=close-conversation]").innerText()).trim(), "Fermer");
  assert.equal((await agent.locator("[data-testid=conversation-status]").innerText()).trim(), "Ouverte");
  await agent.screenshot({ path: `${shots}/i18n-fr-conversation.png` });

  // Arabic, chosen in the sidebar: right to left and mirrored.
  await agent.locator("[data-testid=language]").selectOption("ar");
  await eventually(async () => (await agent.locator("html").getAttribute("dir")) === "rtl", { what: "dir=rtl" });
  assert.equal(await agent.locator("html").getAttribute("lang"), "ar");
  assert.equal((await agent.locator(".pa-inbox-head h1").innerText()).trim(), "صندوق الوارد");
  assert.equal((await agent.locator("[data-testid=close-conversation]").innerText()).trim(), "إغلاق");
  const checkMirrored = async (page) => {
    const side = await box(page, ".pa-side");
    const inbox = await box(page, ".pa-inbox");
    const main = await box(page, ".pa-main");
    assert.ok(side.x > inbox.x && inbox.x > main.x, `sidebar, inbox and conversation from the right: ${side.x} ${inbox.x} ${main.x}`);
    // The agent's own message sits on the left, the visitor's on the right.
    const own = await box(page, ".pa-msg-own .pa-bubble");
    const other = await box(page, ".pa-msg-other .pa-bubble");
    assert.ok(own.x < other.x, `own message left of the visitor's: ${own.x} ${other.x}`);
  };
  await checkMirrored(agent);
  await agent.screenshot({ path: `${shots}/i18n-ar-conversation.png` });

  // Kept on the server: a reload, then another browser in English.
  await agent.reload();
  await online(agent);
  assert.equal(await agent.locator("html").getAttribute("dir"), "rtl");
  assert.equal((await agent.locator(".pa-inbox-head h1").innerText()).trim(), "صندوق الوارد");
  assert.equal(await agent.locator("[data-testid=language]").inputValue(), "ar");
  await agent.locator("[data-testid=message]").first().waitFor();
  await checkMirrored(agent);
  const english = await signInAgent(e2e.browser, s.url);
  await online(english);
  assert.equal(await english.locator("html").getAttribute("dir"), "rtl");
  assert.equal((await english.locator("[data-testid=logout]").innerText()).trim(), "تسجيل الخروج");
  await english.screenshot({ path: `${shots}/i18n-ar-inbox.png` });

  // Back to the browser's language: English in this browser.
  await english.locator("[data-testid=language]").selectOption("");
  await eventually(async () => (await english.locator("html").getAttribute("dir")) === "ltr", { what: "dir=ltr" });
  assert.equal((await english.locator(".pa-inbox-head h1").innerText()).trim(), "Inbox");
});
