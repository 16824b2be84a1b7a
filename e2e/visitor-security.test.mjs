// Visitor credentials in a real browser: identity verification passed by the
// host page through the loader (two devices, one history; a wrong hash is
// refused), and a widget back after its short-lived token expired.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { setUp, signInAgent, send, bodies, eventually, call, demoSiteId, online } from "./harness.mjs";

const e2e = setUp();

/** Opens a host page of the site's own origin that sets parleySettings,
 * as a customer's page does, and the widget on it. */
async function hostPage(url, site, settings) {
  const ctx = await e2e.browser.newContext();
  await ctx.route(`${url}/customer-page`, (route) =>
    route.fulfill({
      contentType: "text/html",
      body: `<!doctype html><title>Customer</title><h1>My account</h1>
<script>window.parleySettings = ${JSON.stringify(settings)};</script>
<script src="${url}/widget.js" data-site="${site}" async></script>`,
    }),
  );
  const page = await ctx.newPage();
  await page.goto(`${url}/customer-page`);
  await page.click("#parley-launcher");
  return { ctx, page, frame: page.frameLocator("#parley-frame") };
}

test("a verified visitor has one history on two devices; a wrong hash is refused", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin); // someone to chat with, or the widget offers the offline form
  const site = (await call(admin, "GET", "/api/sites")).json.sites[0];
  const hash = createHmac("sha256", site.identity_secret).update("customer-42").digest("hex");

  const laptop = await hostPage(s.url, site.id, { user_id: "customer-42", user_hash: hash });
  await laptop.frame.locator("[data-testid=composer]").waitFor();
  await send(laptop.frame, "Written on my laptop");
  await laptop.frame.locator("[data-pending=false]", { hasText: "Written on my laptop" }).waitFor(); // acked: stored
  // The hash never reaches the address of the frame.
  const frameURL = laptop.page.frames().find((f) => f.url().includes("/widget/frame"))?.url() ?? "";
  assert.ok(frameURL && !frameURL.includes(hash), `frame URL ${frameURL}`);

  const phone = await hostPage(s.url, site.id, { user_id: "customer-42", user_hash: hash });
  await eventually(async () => (await bodies(phone.frame)).includes("Written on my laptop"), { what: "history on the second device" });

  const impostor = await hostPage(s.url, site.id, { user_id: "customer-42", user_hash: "0".repeat(64) });
  await eventually(async () => /Sign in on this site/.test(await impostor.frame.locator(".pw-fatal").innerText()), { what: "wrong hash refused" });
  assert.equal(await impostor.frame.locator("[data-testid=message-body]").count(), 0);
  for (const d of [laptop, phone, impostor]) await d.ctx.close();
});

test("a widget back after its token expired keeps its visitor through the refresh secret", async () => {
  const s = await e2e.server({ env: { PARLEY_VISITOR_TOKEN_TTL: "10s" } });
  const site = await demoSiteId(s.url);
  await online(await signInAgent(e2e.browser, s.url));
  const ctx = await e2e.browser.newContext();
  let page = await ctx.newPage();
  await page.goto(`${s.url}/demo`);
  await page.click("#parley-launcher");
  let frame = page.frameLocator("#parley-frame");
  await frame.locator("[data-testid=composer]").waitFor();
  await send(frame, "Before the break");
  await frame.locator("[data-pending=false]", { hasText: "Before the break" }).waitFor(); // acked: stored
  const stored = () => page.frames().find((f) => f.url().includes("/widget/frame")).evaluate((k) => localStorage.getItem(k), `parley:${site}:token`);
  // The live connection renews the token (every quarter of 10 s).
  const first = await stored();
  await eventually(async () => (await stored()) !== first, { timeout: 10_000, what: "token renewed over the socket" });
  await page.close();
  // Away longer than the token lives.
  await new Promise((r) => setTimeout(r, 11_000));
  page = await ctx.newPage();
  await page.goto(`${s.url}/demo`);
  await page.click("#parley-launcher");
  frame = page.frameLocator("#parley-frame");
  await eventually(async () => (await bodies(frame)).includes("Before the break"), { what: "history after the token expired" });
  await ctx.close();
});
