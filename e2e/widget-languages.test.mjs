// The widget speaks the visitor's language: a French browser gets French
// (words, dates), the boot option (?locale= passed to the frame) beats the
// browser, and the site's setting beats both; Arabic lays the chat out right
// to left. Screenshots: widget-fr.png, widget-ar.png, widget-ar-phone.png.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setUp, signInAgent, send, openChat, bodies, eventually, call, demoSiteId, widget } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

/** Chats until the agent's reply shows in the widget. */
async function chat(agent, frame, visitorText, reply) {
  await send(frame, visitorText);
  await openChat(agent, visitorText);
  await eventually(async () => (await bodies(agent)).includes(visitorText), { what: "the agent sees the visitor" });
  await send(agent, reply);
  await eventually(async () => (await bodies(frame)).includes(reply), { what: "the visitor sees the reply" });
}

// The launcher on the host page speaks the visitor's language before the
// frame (or the API script that loads it) has arrived: the loader reads it
// with the site's look.
test("the launcher's label is French for a French browser before the frame loads", async () => {
  const server = await e2e.server();
  const ctx = await e2e.browser.newContext({ locale: "fr-FR" });
  const page = await ctx.newPage();
  await page.route(/\/widget\/host\.js/, (r) => r.abort()); // no API, no frame
  await page.goto(`${server.url}/demo`);
  const launcher = page.locator("#parley-launcher");
  await eventually(async () => (await launcher.getAttribute("aria-label")) === "Discutez avec nous", { what: "the French label" });
  assert.equal(await launcher.getAttribute("title"), "Discutez avec nous");
  assert.equal(await page.locator("#parley-frame").count(), 0, "no frame yet");
  await ctx.close();
});

test("French from the browser, German from the boot option, Arabic (right to left) from the site", async () => {
  const server = await e2e.server();
  const site = await demoSiteId(server.url);
  const agent = await signInAgent(e2e.browser, server.url);
  await agent.locator("[data-testid=conn-state][data-state=online]").waitFor();

  // A French browser: every word French, the page's language fr.
  const fr = await widget(e2e.browser, server.url, "fr-FR");
  await fr.frame.getByRole("heading", { name: "Discutez avec nous" }).waitFor();
  await fr.frame.getByPlaceholder("Écrivez votre message…").waitFor();
  await fr.frame.getByText("Comment pouvons-nous vous aider ?").waitFor();
  assert.equal(await fr.frame.locator("html").getAttribute("lang"), "fr-FR");
  assert.equal(await fr.frame.locator("html").getAttribute("dir"), "ltr");
  await chat(agent, fr.frame, "Bonjour, livrez-vous en Belgique ?", "Oui, en 2 jours : https://example.com/livraison.");
  await fr.frame.getByText("Vous discutez avec").waitFor();
  // The link in the reply is a safe link.
  const link = fr.frame.locator("[data-testid=message-body] a");
  assert.equal(await link.getAttribute("href"), "https://example.com/livraison");
  assert.equal(await link.getAttribute("rel"), "noopener noreferrer");
  await fr.page.screenshot({ path: `${shots}/widget-fr.png` });
  await fr.ctx.close();

  // The boot option beats the browser: the frame opened with locale=de.
  const de = await e2e.browser.newContext({ locale: "fr-FR" });
  const dePage = await de.newPage();
  await dePage.goto(`${server.url}/widget/frame?site=${site}&locale=de`);
  await dePage.getByRole("heading", { name: "Chatten Sie mit uns" }).waitFor();
  await de.close();

  // The site says Arabic: it beats the browser (English here) and the boot
  // option; the layout is right to left, the visitor's own messages on the
  // left.
  const res = await call(agent, "PATCH", `/api/sites/${site}`, { look: { language: "ar" } });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const ar = await widget(e2e.browser, server.url, "en-US");
  await ar.frame.getByRole("heading", { name: "تحدّث معنا" }).waitFor();
  assert.equal(await ar.frame.locator("html").getAttribute("dir"), "rtl");
  assert.equal(await ar.frame.locator("html").getAttribute("lang"), "ar");
  await chat(agent, ar.frame, "مرحبًا، هل تشحنون إلى مصر؟", "نعم، خلال ثلاثة أيام.");
  const box = async (sel) => ar.frame.locator(sel).last().boundingBox();
  const mine = await box("[data-testid=message][data-author-kind=visitor]");
  const theirs = await box("[data-testid=message][data-author-kind=agent]");
  assert.ok(mine.x < theirs.x, `the visitor's message is on the left in RTL (${mine.x} vs ${theirs.x})`);
  await ar.page.screenshot({ path: `${shots}/widget-ar.png` });
  await ar.ctx.close();

  // On a phone the open chat fills the screen and the launcher comes back
  // when it is minimized.
  const phone = await e2e.browser.newContext({ viewport: { width: 375, height: 700 }, locale: "ar" });
  const pp = await phone.newPage();
  await pp.goto(`${server.url}/demo`);
  await pp.click("#parley-launcher");
  const pf = pp.frameLocator("#parley-frame");
  await pf.locator("[data-testid=composer]").waitFor();
  const fb = await pp.locator("#parley-frame").boundingBox();
  assert.deepEqual([fb.x, fb.y, fb.width, fb.height], [0, 0, 375, 700], "full screen on a phone");
  await pp.screenshot({ path: `${shots}/widget-ar-phone.png` });
  await pf.locator("[data-testid=minimize]").click();
  await pp.locator("#parley-launcher").waitFor({ state: "visible" });
  const lb = await pp.locator("#parley-launcher").boundingBox();
  assert.ok(lb.x >= 0 && lb.y >= 0 && lb.x + lb.width <= 375 && lb.y + lb.height <= 700, `launcher on screen: ${JSON.stringify(lb)}`);
  await phone.close();
  await agent.context().close();
});
