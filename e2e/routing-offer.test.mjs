// Routing as people meet it, part three (see routing.test.mjs; split so each
// file stays within the runner's per-file timeout): offer-and-accept from the
// inbox, and the widget's pre-chat team choice.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, signInAgent, send, bodies, eventually } from "./harness.mjs";

let browser;
const servers = [];
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  for (const s of servers) {
    await s.stop();
    s.cleanup();
  }
});

async function server() {
  const s = await startServer();
  servers.push(s);
  return s;
}

/** Calls the JSON API from a signed-in dashboard page (cookie + CSRF). */
async function call(page, method, path, body) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const csrf = decodeURIComponent(document.cookie.match(/(?:^|; )parley_csrf=([^;]*)/)?.[1] ?? "");
      const res = await fetch(path, {
        method,
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, json: await res.json().catch(() => null) };
    },
    { method, path, body },
  );
}

/** Creates an agent through the admin API and signs it in. */
async function newAgent(admin, url, name, profile) {
  const email = `${name.toLowerCase()}@e2e.test`;
  const password = "a long enough password";
  const res = await call(admin, "POST", "/api/agents", { email, name, password, ...profile });
  assert.equal(res.status, 201, JSON.stringify(res.json));
  const page = await signInAgent(browser, url, email, password);
  await online(page);
  return { page, id: res.json.agent.id };
}

async function online(page) {
  await page.locator("[data-testid=conn-state][data-state=online]").waitFor();
}

/** Opens the demo page's widget in a browser with the given locale. */
async function widget(url, locale = "en-US") {
  const ctx = await browser.newContext({ locale });
  const page = await ctx.newPage();
  await page.goto(`${url}/demo`);
  await page.click("#parley-launcher");
  return { ctx, page, frame: page.frameLocator("#parley-frame") };
}

async function meId(page) {
  return (await call(page, "GET", "/api/me")).json.agent.id;
}

test("in offer mode the agent accepts the offer from the inbox", async () => {
  const s = await server();
  const admin = await signInAgent(browser, s.url);
  await online(admin);
  const sites = (await call(admin, "GET", "/api/sites")).json.sites;
  const set = await call(admin, "PATCH", `/api/sites/${sites[0].id}/routing`, { mode: "offer", offer_timeout_seconds: 60, max_misses: 3 });
  assert.equal(set.status, 200, JSON.stringify(set.json));
  const v = await widget(s.url);
  await v.frame.locator("[data-testid=composer]").waitFor();
  await send(v.frame, "Anyone there?");
  const offer = admin.locator("[data-testid=offer]");
  await offer.waitFor();
  assert.equal(await v.frame.locator("[data-testid=agent-name]").count(), 0, "not assigned before the accept");
  await admin.locator("[data-testid=offer-accept]").click();
  await eventually(async () => (await v.frame.locator("[data-testid=agent-name]").innerText()) === "Admin", { what: "visitor assigned after the accept" });
  await offer.waitFor({ state: "detached" });
  await eventually(async () => (await bodies(admin)).includes("Anyone there?"), { what: "accepted conversation opened" });
  await v.ctx.close();
});

test("a visitor who picks a team before writing reaches that team's agent", async () => {
  const s = await server();
  const admin = await signInAgent(browser, s.url);
  await online(admin);
  await newAgent(admin, s.url, "Bea", { teams: ["billing"] });
  const v = await widget(s.url);
  const pick = v.frame.locator("[data-testid=prechat-team]");
  await pick.waitFor();
  await pick.selectOption("billing");
  await eventually(async () => (await pick.inputValue()) === "billing", { what: "team chosen" });
  // The choice is posted on change; give it a moment before writing.
  await new Promise((r) => setTimeout(r, 500));
  await send(v.frame, "A question about my invoice");
  await eventually(async () => (await v.frame.locator("[data-testid=agent-name]").innerText()) === "Bea", { what: "visitor served by the billing team" });
  await v.ctx.close();
});
