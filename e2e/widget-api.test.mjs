// The host-page JavaScript API (issue 16 items 1, 5, 6), as a customer's
// page uses it: calls made through the queue stub before the loader
// arrives run once, in order; every method and event; a page with a strict
// CSP (nonces, strict-dynamic, Trusted Types) and one that makes everything
// position: fixed still get a working chat; the page trail reaches the
// server and the agents' endpoint; proactive triggers fire once and within
// the site's limit.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createHmac } from "node:crypto";
import { setUp, signInAgent, send, bodies, eventually, freePort, call, online, openChat } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

/** hostSite serves a customer's pages on another origin than the chat
 * server's: route(path) returns {html, headers} for each path. On
 * 127.0.0.1 (another port) the frame is same-site and keeps its storage;
 * on 127.0.0.2 it is a third-party frame, whose storage Chromium's test
 * contexts block (the visitor is then new on every page). */
async function hostSite(route, host = "127.0.0.1") {
  const port = await freePort();
  const srv = http.createServer((req, res) => {
    const page = route(new URL(req.url, "http://x").pathname);
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", ...(page.headers ?? {}) });
    res.end(page.html);
  });
  await new Promise((r) => srv.listen(port, host, r));
  return { origin: `http://${host}:${port}`, close: () => new Promise((r) => srv.close(r)) };
}

const stub = `window.Parley=window.Parley||function(){(Parley.q=Parley.q||[]).push(arguments)};`;

/** Starts a server, signs in its admin, allows origin on the demo site. */
async function setup(origin, proactive) {
  const server = await e2e.server();
  const admin = await signInAgent(e2e.browser, server.url);
  const sites = await call(admin, "GET", "/api/sites");
  const site = sites.json.sites[0];
  const res = await call(admin, "PATCH", `/api/sites/${site.id}`, { allowed_origins: [origin] });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  if (proactive) {
    const p = await call(admin, "PUT", `/api/sites/${site.id}/proactive`, proactive);
    assert.equal(p.status, 200, JSON.stringify(p.json));
  }
  return { server, admin, site };
}

const frameOf = (page) => page.frames().find((f) => f.url().includes("/widget/frame"));
const visitorID = async (page, site) => frameOf(page).evaluate((k) => localStorage.getItem(k), `parley:${site}:visitor`);

test("the queue stub and every method and event of the JS API", async () => {
  let server, siteID;
  const shop = await hostSite(() => ({
    html: `<!doctype html><html><head><title>Shop</title></head><body><h1>The shop</h1>
<script>${stub}
window.log = [];
Parley("boot", { site: "${siteID}" });
for (const e of ["ready", "open", "close", "unread", "conversation_started", "conversation_ended"]) Parley("on", e, (d) => log.push(d === undefined ? e : e + ":" + (typeof d === "object" ? JSON.stringify(d.conversation ? "c" : d) : d)));
Parley("on", "message", (d) => log.push("message:" + d.author.kind + ":" + d.body));
Parley("setAttributes", { plan: "pro", seats: 3, trial: true, renew_at: new Date("2027-01-31T00:00:00Z") });
Parley("track", "viewed_pricing", { plan: "pro" });
Parley("prefill", "Hello from the page");
Parley("open"); Parley("close"); Parley("open");
</script>
<script src="${server.url}/widget.js" async></script></body></html>`,
  }));
  let admin;
  try {
    ({ server, admin, site: { id: siteID } } = await setup(shop.origin));
    const ctx = await e2e.browser.newContext();
    const page = await ctx.newPage();
    await page.goto(shop.origin + "/");
    const frame = page.frameLocator("#parley-frame");
    const composer = frame.locator("[data-testid=composer]");
    await composer.waitFor();

    // The queued calls ran once, in order, after the API was ready.
    await eventually(async () => (await page.evaluate(() => log)).includes("ready"), { what: "ready" });
    const log0 = await page.evaluate(() => log);
    assert.deepEqual(log0.slice(0, 4), ["open", "close", "open", "ready"], JSON.stringify(log0));
    assert.equal(await composer.inputValue(), "Hello from the page", "prefill");
    assert.equal(typeof (await page.evaluate(() => window.Parley.q)), "undefined", "the stub's queue is gone once the API runs");

    // setAttributes and track reached the visitor's record.
    const vid = await visitorID(page, siteID);
    await eventually(async () => {
      const a = (await call(admin, "GET", `/api/visitors/${vid}/attributes`)).json.attributes;
      return a.plan?.value === "pro" && a.seats?.value === 3 && a.trial?.value === true && a.renew_at?.value === "2027-01-31T00:00:00Z" && a.renew_at.type === "date";
    }, { what: "attributes stored" });
    const ev = (await call(admin, "GET", `/api/visitors/${vid}/events`)).json.events;
    assert.equal(ev[0].name, "viewed_pricing");
    assert.deepEqual(ev[0].props, { plan: "pro" });

    // A message starts a conversation; the agent's reply is a message event.
    await frame.locator("[data-testid=send]").click();
    await eventually(async () => (await page.evaluate(() => log)).includes('conversation_started:"c"'), { what: "conversation_started" });
    const item = admin.locator("[data-testid=inbox-item]").first();
    await item.click();
    await eventually(async () => (await bodies(admin)).includes("Hello from the page"), { what: "agent sees it" });
    await send(admin, "Hi! How can I help?");
    await eventually(async () => (await page.evaluate(() => log)).includes("message:agent:Hi! How can I help?"), { what: "message event" });

    // close, then a reply while closed: unread event and badge.
    await page.evaluate(() => Parley("close"));
    await frame.locator("[data-testid=composer]").waitFor({ state: "hidden" });
    await send(admin, "Still there?");
    await eventually(async () => (await page.evaluate(() => log)).includes("unread:1"), { what: "unread event" });
    assert.equal(await page.locator("#parley-launcher span").innerText(), "1");

    // toggle, hide (open is refused while hidden), show.
    await page.evaluate(() => Parley("toggle"));
    await composer.waitFor();
    await page.evaluate(() => Parley("hide"));
    await page.locator("#parley-launcher").waitFor({ state: "hidden" });
    await page.locator("#parley-frame").waitFor({ state: "hidden" });
    await page.evaluate(() => Parley("open"));
    assert.equal(await page.locator("#parley-frame").isVisible(), false, "open while hidden does nothing");
    await page.evaluate(() => Parley("show"));
    await page.locator("#parley-launcher").waitFor();

    // The agent ends the chat: conversation_ended.
    await admin.locator("[data-testid=close-conversation]").click();
    await eventually(async () => (await page.evaluate(() => log)).includes('conversation_ended:"c"'), { what: "conversation_ended" });
    const log1 = await page.evaluate(() => log);
    assert.equal(log1.filter((x) => x === "ready").length, 1, "ready once");

    // identify: a verified user is another visitor, the same on every device.
    const secret = (await call(admin, "GET", `/api/sites/${siteID}`)).json.site.identity_secret;
    const hash = createHmac("sha256", secret).update("user-42").digest("hex");
    await page.evaluate((h) => {
      Parley("identify", { user_id: "user-42", user_hash: h });
      Parley("open");
    }, hash);
    await eventually(async () => {
      const v = frameOf(page) && (await visitorID(page, siteID).catch(() => null));
      return v && v !== vid ? v : null;
    }, { what: "identified visitor" });
    const verified = await visitorID(page, siteID);
    const other = await ctx.browser().newContext();
    const p2 = await other.newPage();
    await p2.goto(shop.origin + "/");
    await p2.evaluate((h) => Parley("identify", { user_id: "user-42", user_hash: h }), hash);
    await p2.evaluate(() => Parley("open"));
    await eventually(async () => frameOf(p2) && (await visitorID(p2, siteID).catch(() => null)) === verified, { what: "same user, other device" });
    await other.close();

    // shutdown forgets the visitor: the next chat is a new visitor.
    await page.evaluate(() => Parley("shutdown"));
    await page.locator("#parley-frame").waitFor({ state: "detached" });
    await page.evaluate(() => Parley("open"));
    await frame.locator("[data-testid=composer]").waitFor();
    const fresh = await eventually(async () => {
      const v = await visitorID(page, siteID).catch(() => null);
      return v && v !== verified ? v : null;
    }, { what: "a new visitor after shutdown" });
    assert.notEqual(fresh, vid);
    await page.screenshot({ path: `${shots}/widget-api.png` });
    await ctx.close();
  } finally {
    await shop.close();
  }
});

test("a page with a strict CSP and Trusted Types, and one that makes everything position: fixed, both chat", async () => {
  let server, siteID;
  const nonce = "n0nce4parley";
  const shop = await hostSite((path) => {
    if (path === "/csp") {
      return {
        headers: {
          "Content-Security-Policy": `default-src 'none'; script-src 'nonce-${nonce}' 'strict-dynamic'; connect-src ${server.url}; frame-src ${server.url}; style-src 'self'; img-src 'self'; require-trusted-types-for 'script'; trusted-types parley`,
        },
        html: `<!doctype html><html><head><title>Strict</title></head><body><h1>Strict shop</h1>
<script nonce="${nonce}">window.violations=[];document.addEventListener("securitypolicyviolation",(e)=>violations.push(e.violatedDirective+" "+e.blockedURI));
${stub}Parley("boot",{site:"${siteID}"});</script>
<script nonce="${nonce}" src="${server.url}/widget.js" async></script></body></html>`,
      };
    }
    // Everything fixed, and stuck to the top left corner.
    return {
      html: `<!doctype html><html><head><title>Fixed</title><style>
* { position: fixed !important; top: 0 !important; left: 0 !important; z-index: 5 !important; }
html, body { inset: 0; margin: 0; overflow: hidden; background: #fde68a; }
</style></head><body><h1>Everything fixed</h1><p>Lorem ipsum</p>
<script>${stub}Parley("boot",{site:"${siteID}"});</script>
<script src="${server.url}/widget.js" async></script></body></html>`,
    };
  }, "127.0.0.2");
  try {
    ({ server, site: { id: siteID } } = await setup(shop.origin));
    for (const path of ["/csp", "/fixed"]) {
      const ctx = await e2e.browser.newContext({ viewport: { width: 1000, height: 700 } });
      const page = await ctx.newPage();
      await page.goto(shop.origin + path);
      const launcher = page.locator("#parley-launcher");
      await launcher.waitFor();
      const box = await launcher.boundingBox();
      assert.deepEqual([Math.round(box.x + box.width), Math.round(box.y + box.height), Math.round(box.width)], [980, 680, 56], `${path}: the launcher sits bottom right`);
      // The launcher is what a click there hits (not the page's elements).
      const hit = await page.evaluate(([x, y]) => document.elementFromPoint(x, y)?.closest("#parley-launcher") !== null, [box.x + 28, box.y + 28]);
      assert.ok(hit, `${path}: the launcher is on top`);
      await launcher.click();
      const frame = page.frameLocator("#parley-frame");
      await send(frame, `hello from ${path}`);
      const mine = frame.locator("[data-testid=message][data-author-kind=visitor]").last();
      await eventually(async () => (await mine.getAttribute("data-pending")) === "false", { what: `${path}: message acked` });
      const fbox = await page.locator("#parley-frame").boundingBox();
      assert.ok(fbox.width > 300 && fbox.height > 400 && fbox.x + fbox.width <= 981, `${path}: the frame is shown in place: ${JSON.stringify(fbox)}`);
      await page.screenshot({ path: `${shots}/widget-host${path.replace("/", "-")}.png` });
      if (path === "/csp") assert.deepEqual(await page.evaluate(() => violations), [], "no CSP violation");
      await ctx.close();
    }
  } finally {
    await shop.close();
  }
});

test("the page trail reaches the server and the agents' endpoint", async () => {
  let server, siteID;
  const shop = await hostSite((path) => ({
    html: `<!doctype html><html><head><title>Page ${path}</title></head><body><h1>${path}</h1><a id="next" href="/b">next</a>
<script>${stub}Parley("boot",{site:"${siteID}"});</script>
<script src="${server.url}/widget.js" async></script></body></html>`,
  }));
  try {
    let admin;
    ({ server, admin, site: { id: siteID } } = await setup(shop.origin, { page_trail: true }));
    const ctx = await e2e.browser.newContext();
    const page = await ctx.newPage();
    await page.goto(shop.origin + "/a?utm_source=newsletter&utm_medium=email&utm_campaign=winter&token=secret", { referer: "https://search.example/?q=boots" });
    // The frame loads in the background (the chat stays closed).
    await page.locator("#parley-frame").waitFor({ state: "attached" });
    assert.equal(await page.locator("#parley-frame").isVisible(), false);
    await eventually(() => frameOf(page) && visitorID(page, siteID).catch(() => null), { what: "background session" });
    const vid = await visitorID(page, siteID);
    const pages = async () => (await call(admin, "GET", `/api/visitors/${vid}/pages`)).json;
    await eventually(async () => (await pages()).current?.url === `${shop.origin}/a`, { what: "page /a is current" });
    // A single-page app's navigation is a page too.
    await page.evaluate(() => {
      history.pushState({}, "", "/spa");
      document.title = "Page /spa";
    });
    await eventually(async () => (await pages()).current?.url === `${shop.origin}/spa`, { what: "SPA page current" });
    await new Promise((r) => setTimeout(r, 1100)); // time on page to measure
    await page.click("#next");
    await eventually(async () => (await pages()).current?.url === `${shop.origin}/b`, { what: "page /b current" });
    const got = await pages();
    assert.deepEqual(got.pages.map((p) => p.url), [`${shop.origin}/b`, `${shop.origin}/spa`, `${shop.origin}/a`], "newest first");
    const a = got.pages[2];
    assert.equal(a.title, "Page /a");
    assert.deepEqual(a.utm, { source: "newsletter", medium: "email", campaign: "winter", term: "", content: "" });
    assert.equal(a.referrer, "https://search.example/");
    assert.ok(got.pages[1].seconds >= 1, `time on the SPA page: ${got.pages[1].seconds}`);
    await page.goto("about:blank"); // the visitor leaves the site
    await eventually(async () => !(await pages()).current, { what: "no current page once the visitor left" });
    await ctx.close();

    // A browser that asks not to be tracked, on a site that respects it.
    const dnt = await e2e.browser.newContext({ extraHTTPHeaders: { DNT: "1" } });
    await dnt.addInitScript(() => Object.defineProperty(Navigator.prototype, "doNotTrack", { get: () => "1" }));
    const p2 = await dnt.newPage();
    await p2.goto(shop.origin + "/a");
    await eventually(() => frameOf(p2) && visitorID(p2, siteID).catch(() => null), { what: "DNT visitor session" });
    const v2 = await visitorID(p2, siteID);
    await p2.click("#next");
    await p2.locator("#parley-frame").waitFor({ state: "attached" });
    await new Promise((r) => setTimeout(r, 3000)); // a report would have come by now
    assert.deepEqual((await call(admin, "GET", `/api/visitors/${v2}/pages`)).json.pages, []);
    await dnt.close();
  } finally {
    await shop.close();
  }
});

test("proactive triggers show a named agent's message, fire once and respect the site's limit", async () => {
  let server, siteID;
  const shop = await hostSite((path) => ({
    html: `<!doctype html><html><head><title>${path}</title></head><body style="margin:0"><h1>${path}</h1><div style="height:3000px"></div>
<script>${stub}Parley("boot",{site:"${siteID}"});</script>
<script src="${server.url}/widget.js" async></script></body></html>`,
  }));
  try {
    let admin;
    ({ server, admin, site: { id: siteID } } = await setup(shop.origin));
    const me = (await call(admin, "GET", "/api/me")).json.agent;
    const p = await call(admin, "PUT", `/api/sites/${siteID}/proactive`, {
      trigger_limit: 2,
      triggers: [
        { id: "trigger-pricing", kind: "time", seconds: 1, url_contains: "/pricing", message: "Questions about plans?", agent_id: me.id },
        { id: "trigger-scroll", kind: "scroll", scroll_percent: 60, message: "Finding what you need?" },
        { id: "trigger-exit", kind: "exit", message: "Wait! 10% off today." },
      ],
    });
    assert.equal(p.status, 200, JSON.stringify(p.json));
    const ctx = await e2e.browser.newContext();
    const page = await ctx.newPage();
    const frame = page.frameLocator("#parley-frame");

    // After a second on the pricing page, the chat opens with the message.
    await page.goto(shop.origin + "/pricing");
    await frame.locator("[data-testid=proactive-body]").waitFor();
    assert.equal(await frame.locator("[data-testid=proactive-body]").innerText(), "Questions about plans?");
    assert.equal(await frame.locator("[data-testid=proactive-from]").innerText(), me.name);
    assert.ok(await page.locator("#parley-frame").isVisible());
    await page.screenshot({ path: `${shots}/widget-trigger.png` });

    // Once: the same page again shows nothing.
    await page.goto(shop.origin + "/pricing");
    await page.locator("#parley-frame").waitFor({ state: "attached" });
    await new Promise((r) => setTimeout(r, 2500)); // past the trigger's second
    assert.equal(await page.locator("#parley-frame").isVisible(), false, "fired once");

    // Scrolling past 60% fires the second; exit intent would be the
    // third, over the limit of 2.
    await page.goto(shop.origin + "/blog");
    await page.locator("#parley-frame").waitFor({ state: "attached" });
    await eventually(() => frameOf(page)?.evaluate(() => document.readyState === "complete"), { what: "frame loaded" });
    await page.mouse.wheel(0, 2500);
    await frame.locator("[data-testid=proactive-body]").waitFor();
    assert.equal(await frame.locator("[data-testid=proactive-body]").innerText(), "Finding what you need?");
    await page.evaluate(() => Parley("close"));
    await page.evaluate(() => document.dispatchEvent(new MouseEvent("mouseout", { clientY: -1, relatedTarget: null })));
    await new Promise((r) => setTimeout(r, 1500)); // an answer would have come by now
    assert.equal(await page.locator("#parley-frame").isVisible(), false, "the limit holds");
    assert.equal(await frame.locator("[data-testid=proactive-body]").innerText(), "Finding what you need?");
    await ctx.close();
  } finally {
    await shop.close();
  }
});

test("a visitor answers a proactive message: the conversation opens with it, for the agent and after a reload", async () => {
  let server, siteID;
  const shop = await hostSite((path) => ({
    html: `<!doctype html><html><head><title>${path}</title></head><body><h1>${path}</h1>
<script>${stub}Parley("boot",{site:"${siteID}"});</script>
<script src="${server.url}/widget.js" async></script></body></html>`,
  }));
  try {
    let admin;
    ({ server, admin, site: { id: siteID } } = await setup(shop.origin));
    const me = (await call(admin, "GET", "/api/me")).json.agent;
    const p = await call(admin, "PUT", `/api/sites/${siteID}/proactive`, {
      trigger_limit: 1,
      triggers: [{ id: "trigger-plans", kind: "time", seconds: 1, message: "Questions about plans?", agent_id: me.id }],
    });
    assert.equal(p.status, 200, JSON.stringify(p.json));
    await online(admin);
    const ctx = await e2e.browser.newContext();
    const page = await ctx.newPage();
    const frame = page.frameLocator("#parley-frame");
    await page.goto(shop.origin + "/pricing");
    await frame.locator("[data-testid=proactive-body]").waitFor();
    await send(frame, "Yes, is the Pro plan monthly?");

    // The visitor reads it once, now stored as the conversation's first
    // message, before their answer (routing's join notice may come between).
    const want = JSON.stringify([["1", "proactive", "Questions about plans?"], ["visitor", "Yes, is the Pro plan monthly?"]]);
    const talk = async (scope) => {
      const ms = await scope.locator("[data-testid=message]").evaluateAll((ms) =>
        ms.map((m) => [m.dataset.seq, m.dataset.authorKind, m.querySelector("[data-testid=message-body]")?.innerText]),
      );
      return JSON.stringify(ms.filter(([, kind]) => kind !== "system").map(([seq, kind, body], i) => (i === 0 ? [seq, kind, body] : [kind, body])));
    };
    await eventually(async () => (await talk(frame)) === want, { what: "the widget's messages in order" });
    assert.equal(await frame.locator("[data-testid=proactive]").count(), 0, "the note gave way to the stored message");
    await page.screenshot({ path: `${shots}/widget-proactive-answered.png` });

    // The agent reads what the visitor answered, first, as its own kind.
    await openChat(admin, "Pro plan monthly");
    await eventually(async () => (await talk(admin)) === want, { what: "the agent's messages in order" });
    assert.match(await admin.locator("[data-testid=message]").first().innerText(), new RegExp(`${me.name} · proactive message`));
    await admin.screenshot({ path: `${shots}/agent-proactive-answered.png` });

    // After a reload the history is the same.
    await page.reload();
    await page.locator("#parley-frame").waitFor({ state: "attached" });
    await eventually(() => frameOf(page)?.evaluate(() => document.readyState === "complete"), { what: "frame loaded" });
    await page.evaluate(() => Parley("open"));
    await eventually(async () => (await talk(frame)) === want, { what: "the history after a reload" });
    await ctx.close();
  } finally {
    await shop.close();
  }
});

test("an admin sets the page trail and a trigger in the Sites screen; the demo page shows it", async () => {
  const server = await e2e.server();
  const admin = await signInAgent(e2e.browser, server.url);
  await admin.getByRole("button", { name: "Sites", exact: true }).click();
  const dialog = admin.getByRole("dialog", { name: "Sites" });
  await dialog.getByRole("listitem", { name: "Demo site" }).getByRole("button", { name: "Pages and triggers" }).click();
  const form = dialog.getByRole("form", { name: /Page trail and proactive messages/ });
  await form.getByLabel(/Show agents the pages visitors browse/).check();
  await form.getByRole("button", { name: "Add a trigger" }).click();
  const trigger = form.getByRole("group", { name: "Trigger 1" });
  await trigger.getByLabel("Seconds on the page").fill("1");
  await trigger.getByLabel("From").selectOption({ label: "Admin" });
  await trigger.getByLabel("Message").fill("Hello! Looking for trail shoes?");
  await form.getByRole("button", { name: "Save" }).click();
  await form.getByRole("status").filter({ hasText: "Saved." }).waitFor();
  await admin.screenshot({ path: `${shots}/sites-proactive.png` });
  const site = (await call(admin, "GET", "/api/sites")).json.sites[0];
  const saved = (await call(admin, "GET", `/api/sites/${site.id}/proactive`)).json.proactive;
  assert.equal(saved.page_trail, true);
  assert.equal(saved.triggers[0].from, "Admin");

  const ctx = await e2e.browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${server.url}/demo`);
  const frame = page.frameLocator("#parley-frame");
  await frame.locator("[data-testid=proactive-body]").waitFor();
  assert.equal(await frame.locator("[data-testid=proactive-body]").innerText(), "Hello! Looking for trail shoes?");
  const vid = await visitorID(page, site.id);
  await eventually(async () => (await call(admin, "GET", `/api/visitors/${vid}/pages`)).json.current?.title === "Acme Outdoor — demo shop", { what: "demo page in the trail" });
  await ctx.close();
});
